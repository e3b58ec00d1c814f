//! `time::timeout` / `timeout_at` (asyncio's `wait_for`): a pending future
//! gives `Elapsed` no earlier than the deadline and is dropped; a ready
//! future (or one that becomes ready in time) gives its value, even with a
//! zero or `Duration::MAX` limit; `Elapsed` displays and converts to a
//! `TimedOut` `io::Error`; cancelling a task inside a timeout drops the inner
//! future; creating a timeout outside a runtime panics naming the runtime.

mod common;

use aiolos::time::{sleep, timeout, timeout_at, Elapsed, Instant};
use common::*;
use std::sync::mpsc;
use std::time::Duration;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn timeout_on_a_pending_future_gives_elapsed_and_drops_the_future() {
    let _wd = watchdog("timeout_pending_elapsed", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let d = drops.clone();
    let (early, dropped_after) = rt.block_on(async move {
        let start = Instant::now();
        let fut = timeout(ms(30), pending_guarded(&d));
        assert_eq!(d.get(), 0);
        let r = fut.await;
        assert!(r.is_err(), "a pending future did not time out: {r:?}");
        (ms(30).saturating_sub(start.elapsed()), d.get())
    });
    assert!(early.is_zero(), "timeout fired {early:?} early");
    assert_eq!(
        dropped_after, 1,
        "inner future not dropped once the timeout elapsed"
    );

    // The same from a task on a worker.
    let d = drops.clone();
    let t = rt.spawn(async move {
        let start = Instant::now();
        let r = timeout(ms(30), pending_guarded(&d)).await;
        (r.is_err(), start.elapsed(), d.get())
    });
    let (elapsed, took, dropped) = join_timeout(t, "timeout in a task").unwrap();
    assert!(elapsed, "a pending future did not time out");
    assert!(took >= ms(30), "timeout fired after only {took:?}");
    assert_eq!(
        dropped, 2,
        "inner future not dropped once the timeout elapsed"
    );
}

#[test]
fn timeout_on_a_ready_future_returns_its_value_even_with_a_zero_limit() {
    let _wd = watchdog("timeout_ready_value", 120);
    let rt = runtime(2);
    rt.block_on(async {
        assert_eq!(timeout(Duration::from_secs(5), async { 7 }).await, Ok(7));
        // The inner future is polled first, so a zero limit cannot beat it.
        assert_eq!(timeout(Duration::ZERO, async { 8 }).await, Ok(8));
        assert_eq!(
            timeout(Duration::ZERO, std::future::ready("x")).await,
            Ok("x")
        );
    });
}

#[test]
fn timeout_returns_the_value_of_a_future_that_becomes_ready_before_the_deadline() {
    let _wd = watchdog("timeout_ready_later", 120);
    let rt = runtime(2);
    let t = rt.spawn(async {
        let start = Instant::now();
        let gate = Gate::new();
        let opener = gate.clone();
        aiolos::spawn(async move {
            sleep(ms(20)).await;
            opener.open();
        })
        .detach();
        let r = timeout(Duration::from_secs(30), async move {
            gate.wait().await;
            5
        })
        .await;
        (r, start.elapsed())
    });
    let (r, took) = join_timeout(t, "timeout on a future ready after 20 ms").unwrap();
    assert_eq!(r, Ok(5));
    assert!(
        took >= ms(20),
        "the inner future cannot be ready before 20 ms: {took:?}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");

    // Inner future that sleeps: the shorter timer wins.
    rt.block_on(async {
        let r = timeout(Duration::from_secs(30), async {
            sleep(ms(15)).await;
            "done"
        })
        .await;
        assert_eq!(r, Ok("done"));
    });
}

#[test]
fn timeout_with_duration_max_works_and_can_be_dropped() {
    let _wd = watchdog("timeout_duration_max", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let before = Instant::now();
        let fut = timeout(Duration::MAX, async {
            sleep(ms(10)).await;
            3
        });
        assert!(fut.deadline() > before + Duration::from_secs(365 * 86_400));
        assert_eq!(fut.await, Ok(3));

        // Pending inner future under a MAX limit: registered, then dropped.
        let drops = Counter::new();
        let mut fut = Box::pin(timeout(Duration::MAX, pending_guarded(&drops)));
        assert!(poll_once(&mut fut).await.is_pending());
        drop(fut);
        assert_eq!(drops.get(), 1);

        // And nested inside a shorter one.
        let r = timeout(ms(20), timeout(Duration::MAX, std::future::pending::<()>())).await;
        assert!(r.is_err(), "the outer 20 ms timeout should elapse");
    });
}

#[test]
fn elapsed_displays_a_message_and_converts_to_a_timed_out_io_error() {
    let _wd = watchdog("elapsed_display", 120);
    let rt = runtime(1);
    let e: Elapsed = rt
        .block_on(async { timeout(ms(1), std::future::pending::<()>()).await })
        .unwrap_err();
    let text = e.to_string();
    assert!(!text.is_empty(), "Elapsed displays as an empty string");
    assert!(!format!("{e:?}").is_empty());
    let copy = e; // Copy
    assert_eq!(copy, e.clone());
    let as_error: &dyn std::error::Error = &e;
    assert_eq!(as_error.to_string(), text);
    let io: std::io::Error = e.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    eprintln!("Elapsed displays as {text:?}");
}

#[test]
fn timeout_at_elapses_no_earlier_than_its_instant() {
    let _wd = watchdog("timeout_at", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let deadline = Instant::now() + ms(40);
        let fut = timeout_at(deadline, std::future::pending::<()>());
        assert_eq!(fut.deadline(), deadline);
        assert!(fut.await.is_err());
        let now = Instant::now();
        assert!(
            now >= deadline,
            "timeout_at fired {:?} early",
            deadline - now
        );

        // A past deadline: a ready future still wins, a pending one elapses at once.
        let past = Instant::now() - ms(10);
        assert_eq!(timeout_at(past, async { 1 }).await, Ok(1));
        let start = Instant::now();
        assert!(timeout_at(past, std::future::pending::<()>())
            .await
            .is_err());
        assert!(start.elapsed() < Duration::from_secs(10));

        // Ready before the deadline.
        let r = timeout_at(Instant::now() + Duration::from_secs(30), async {
            sleep(ms(5)).await;
            2
        })
        .await;
        assert_eq!(r, Ok(2));
    });
}

#[test]
fn a_thousand_concurrent_timeouts_never_fire_early() {
    let _wd = watchdog("many_timeouts_not_early", 120);
    const N: u64 = 1_000;
    let rt = runtime(2);
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let d = ms(1 + splitmix64(i) % 100);
                aiolos::spawn(async move {
                    let start = Instant::now();
                    let r = timeout(d, std::future::pending::<()>()).await;
                    (i, r.is_err(), d.saturating_sub(start.elapsed()))
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let bad: Vec<_> = results
        .iter()
        .filter(|(_, elapsed, early)| !elapsed || !early.is_zero())
        .collect();
    assert!(
        bad.is_empty(),
        "{} timeouts fired early or not at all (task, elapsed?, how early): {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
}

#[test]
fn cancelling_a_task_waiting_in_a_timeout_drops_the_inner_future() {
    let _wd = watchdog("cancel_task_in_timeout", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let (tx, rx) = mpsc::channel();
    let inner = pending_guarded_signalling(&drops, tx);
    let t = rt.spawn(async move { timeout(Duration::from_secs(3600), inner).await });
    rx.recv_timeout(LONG).expect("inner future never polled");
    assert_eq!(drops.get(), 0);
    assert!(t.cancel());
    let r = join_timeout(t, "cancelled task in timeout");
    assert!(matches!(r, Err(aiolos::TaskError::Cancelled)), "got {r:?}");
    assert_eq!(
        drops.get(),
        1,
        "the inner future of a cancelled timeout was not dropped"
    );
}

#[test]
fn timeout_outside_a_runtime_panics_mentioning_runtime() {
    let msg = catch_panic_message(|| timeout(ms(1), async {}))
        .expect("timeout() outside a runtime did not panic");
    assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
    let msg = catch_panic_message(|| timeout_at(Instant::now(), async {}))
        .expect("timeout_at() outside a runtime did not panic");
    assert!(msg.contains("runtime"), "unhelpful panic message: {msg:?}");
}
