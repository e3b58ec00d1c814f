//! `time::interval` / `interval_at` / `Interval`: the first tick is
//! immediate, ticks follow the schedule `start + k * period` and are never
//! taken early, each `MissedTickBehavior` does what it says after the task
//! stalls (stall made with `std::thread::sleep` inside the task), `reset`
//! restarts the schedule, a zero period panics, and an interval made outside
//! a runtime panics naming the runtime.

mod common;

use aiolos::time::{interval, interval_at, Instant, Interval, MissedTickBehavior};
use common::*;
use std::task::Poll;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One `poll_tick` with the task's context: `Ready` means the tick was
/// available without waiting.
async fn tick_now(iv: &mut Interval) -> Poll<Instant> {
    std::future::poll_fn(|cx| Poll::Ready(iv.poll_tick(cx))).await
}

#[test]
fn the_first_tick_is_immediate_and_is_the_start_instant() {
    let _wd = watchdog("interval_first_tick", 120);
    let rt = runtime(2);
    let t = rt.spawn(async {
        let before = Instant::now();
        let mut iv = interval(Duration::from_secs(3600));
        let after = Instant::now();
        let first = tick_now(&mut iv).await;
        (before, after, first)
    });
    let (before, after, first) = join_ok(t, "first tick");
    match first {
        Poll::Ready(t0) => assert!(
            t0 >= before && t0 <= after,
            "first tick {t0:?} is not the interval's creation time ({before:?}..={after:?})"
        ),
        Poll::Pending => panic!("the first tick of interval(1 h) was not ready at once"),
    }
}

#[test]
fn ticks_follow_the_schedule_and_are_never_taken_early() {
    let _wd = watchdog("interval_schedule", 120);
    let rt = runtime(2);
    let period = ms(20);
    let t = rt.spawn(async move {
        let mut iv = interval(period);
        let mut ticks = Vec::new();
        for _ in 0..8 {
            let due = iv.tick().await;
            ticks.push((due, Instant::now()));
        }
        ticks
    });
    let ticks = join_ok(t, "8 interval ticks");
    let t0 = ticks[0].0;
    for (k, &(due, taken)) in ticks.iter().enumerate() {
        assert_eq!(
            due,
            t0 + period * k as u32,
            "tick {k} is off the schedule start + k * period"
        );
        assert!(
            taken >= due,
            "tick {k} was returned {:?} early",
            due - taken
        );
    }
}

#[test]
fn burst_returns_the_missed_ticks_at_once_with_their_original_instants() {
    let _wd = watchdog("interval_burst", 120);
    let rt = runtime(2);
    let period = ms(50);
    let t = rt.spawn(async move {
        let mut iv = interval(period);
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
        let t0 = iv.tick().await;
        // Stall the task (and its worker) for 5.5 periods.
        std::thread::sleep(period * 5 + period / 2);
        let stall_end = Instant::now();
        let mut missed = Vec::new();
        for _ in 0..5 {
            missed.push(tick_now(&mut iv).await);
        }
        let next = iv.tick().await;
        (t0, stall_end, missed, next, Instant::now())
    });
    let (t0, stall_end, missed, next, taken) = join_ok(t, "burst after a stall");
    assert!(stall_end >= t0 + period * 5);
    for (i, tick) in missed.iter().enumerate() {
        let k = i as u32 + 1;
        assert_eq!(
            *tick,
            Poll::Ready(t0 + period * k),
            "missed tick {k} was not returned at once with its original instant"
        );
    }
    assert_eq!(
        next,
        t0 + period * 6,
        "after the burst the schedule goes on"
    );
    assert!(
        taken >= next,
        "tick 6 was returned {:?} early",
        next - taken
    );
}

#[test]
fn delay_after_a_stall_puts_the_next_tick_one_period_after_the_late_tick() {
    let _wd = watchdog("interval_delay", 120);
    let rt = runtime(2);
    let period = ms(50);
    let t = rt.spawn(async move {
        let mut iv = interval(period);
        iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Delay);
        let t0 = iv.tick().await;
        std::thread::sleep(period * 3 + period / 2);
        let stall_end = Instant::now();
        let late = tick_now(&mut iv).await;
        let next = iv.tick().await;
        (t0, stall_end, late, next, Instant::now())
    });
    let (t0, stall_end, late, next, taken) = join_ok(t, "delay after a stall");
    assert_eq!(
        late,
        Poll::Ready(t0 + period),
        "the overdue tick should be returned at once"
    );
    assert!(
        next >= stall_end + period,
        "Delay: next tick {:?} after the stall end, expected >= one period ({period:?})",
        next - stall_end
    );
    assert!(taken >= next, "tick returned {:?} early", next - taken);
}

#[test]
fn skip_after_a_stall_puts_the_next_tick_on_the_original_grid_after_the_stall() {
    let _wd = watchdog("interval_skip", 120);
    let rt = runtime(2);
    let period = ms(50);
    let t = rt.spawn(async move {
        let mut iv = interval(period);
        iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let t0 = iv.tick().await;
        std::thread::sleep(period * 3 + period / 2);
        let stall_end = Instant::now();
        let late = tick_now(&mut iv).await;
        let next = iv.tick().await;
        (t0, stall_end, late, next, Instant::now())
    });
    let (t0, stall_end, late, next, taken) = join_ok(t, "skip after a stall");
    assert_eq!(late, Poll::Ready(t0 + period));
    let offset = next - t0;
    assert_eq!(
        offset.as_nanos() % period.as_nanos(),
        0,
        "Skip: next tick is {offset:?} after the start, not a multiple of {period:?}"
    );
    assert!(
        next > stall_end,
        "Skip: next tick {next:?} is not after the stall end {stall_end:?}"
    );
    assert!(
        offset >= period * 4,
        "Skip: ticks 2 and 3 fell in the stall and must be skipped; next is at {offset:?}"
    );
    assert!(taken >= next, "tick returned {:?} early", next - taken);
}

#[test]
fn interval_at_first_ticks_at_its_start_and_not_before() {
    let _wd = watchdog("interval_at", 120);
    let rt = runtime(2);
    let t = rt.spawn(async {
        let start = Instant::now() + ms(40);
        let mut iv = interval_at(start, ms(20));
        let first = iv.tick().await;
        let first_taken = Instant::now();
        let second = iv.tick().await;
        (start, first, first_taken, second)
    });
    let (start, first, first_taken, second) = join_ok(t, "interval_at");
    assert_eq!(first, start);
    assert!(
        first_taken >= start,
        "first tick {:?} early",
        start - first_taken
    );
    assert_eq!(second, start + ms(20));
}

#[test]
fn reset_makes_the_next_tick_one_period_from_now() {
    let _wd = watchdog("interval_reset", 120);
    let rt = runtime(2);
    let period = ms(40);
    let t = rt.spawn(async move {
        let mut iv = interval(period);
        iv.tick().await;
        iv.tick().await;
        let before = Instant::now();
        iv.reset();
        let next = iv.tick().await;
        (before, next, Instant::now())
    });
    let (before, next, taken) = join_ok(t, "interval reset");
    assert!(
        next >= before + period,
        "after reset the next tick came too soon"
    );
    assert!(taken >= next);
}

#[test]
fn interval_reports_its_period_and_defaults_to_burst() {
    let _wd = watchdog("interval_accessors", 120);
    let rt = runtime(1);
    rt.block_on(async {
        let mut iv = interval(ms(123));
        assert_eq!(iv.period(), ms(123));
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
        assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Burst);
        iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Skip);
    });
}

#[test]
fn a_zero_period_panics() {
    let _wd = watchdog("interval_zero_period", 120);
    let rt = runtime(1);
    rt.block_on(async {
        let msg = catch_panic_message(|| interval(Duration::ZERO))
            .expect("interval(Duration::ZERO) did not panic");
        eprintln!("interval(ZERO) panics with {msg:?}");
        assert!(
            catch_panic_message(|| interval_at(Instant::now(), Duration::ZERO)).is_some(),
            "interval_at(_, Duration::ZERO) did not panic"
        );
    });
}

#[test]
fn interval_outside_a_runtime_panics_mentioning_runtime() {
    let msg = catch_panic_message(|| interval(ms(10)))
        .expect("interval() outside a runtime did not panic");
    assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
    let msg = catch_panic_message(|| interval_at(Instant::now(), ms(10)))
        .expect("interval_at() outside a runtime did not panic");
    assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
}
