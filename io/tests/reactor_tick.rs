//! The reactor's busy tick (`Config::busy_tick`, the scheduler's debug
//! mode): it turns regularly while a worker is awake and not while every
//! worker is parked, and a worker that wakes gets its turns back with
//! `Driver::turn_by`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::thread;
use std::time::{Duration, Instant};

use aiolos_io::{BusyTick, Config, Reactor};

/// The tick the tests ask for.
const PERIOD: Duration = Duration::from_millis(2);

/// A reactor ticking every [`PERIOD`] while `parked` is false; returns its
/// turn count and the last reading it was given.
fn ticking_reactor(parked: Arc<AtomicBool>) -> (Reactor, Arc<AtomicUsize>, Arc<AtomicU64>) {
    let turns = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let (t, l) = (turns.clone(), last.clone());
    let reactor = Reactor::start(Config {
        thread_name: "tick-test-reactor".into(),
        on_thread_start: None,
        on_thread_stop: None,
        wake_batch: Box::new(|w, _| w.drain(..).for_each(Waker::wake)),
        workers: 0,
        all_parked: Box::new(|| true),
        busy_tick: Some(BusyTick {
            period: PERIOD,
            on_turn: Box::new(move |now| {
                t.fetch_add(1, Ordering::SeqCst);
                l.store(now, Ordering::SeqCst);
                !parked.load(Ordering::SeqCst)
            }),
        }),
    })
    .unwrap();
    (reactor, turns, last)
}

/// Waits up to a minute for `turns` to reach `n`.
fn wait_for_turns(turns: &AtomicUsize, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    while turns.load(Ordering::SeqCst) < n && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    turns.load(Ordering::SeqCst)
}

#[test]
fn a_busy_runtime_gets_turns_with_fresh_readings() {
    let parked = Arc::new(AtomicBool::new(false));
    let (reactor, turns, last) = ticking_reactor(parked);
    let driver = reactor.driver().clone();
    // With no timer, no I/O and nobody notifying, only the tick turns it.
    let from = turns.load(Ordering::SeqCst);
    assert!(wait_for_turns(&turns, from + 20) >= from + 20);
    // Each turn hands over the clock reading of that turn.
    let before = driver.now();
    let seen = turns.load(Ordering::SeqCst);
    wait_for_turns(&turns, seen + 2);
    assert!(last.load(Ordering::SeqCst) >= before);
}

#[test]
fn a_parked_runtime_gets_no_turns_until_a_worker_asks() {
    let parked = Arc::new(AtomicBool::new(true));
    let (reactor, turns, _) = ticking_reactor(parked.clone());
    let driver = reactor.driver().clone();
    // Let it settle into its untimed sleep.
    thread::sleep(Duration::from_millis(50));
    let settled = turns.load(Ordering::SeqCst);
    thread::sleep(Duration::from_millis(300));
    // 150 ticks' worth of time: at most a stray turn or two.
    assert!(
        turns.load(Ordering::SeqCst) <= settled + 2,
        "{} turns while parked",
        turns.load(Ordering::SeqCst) - settled
    );

    // A worker wakes (the scheduler's order: awake first, then ask).
    parked.store(false, Ordering::SeqCst);
    driver.turn_by(driver.now() + PERIOD.as_nanos() as u64);
    let from = turns.load(Ordering::SeqCst);
    assert!(wait_for_turns(&turns, from + 20) >= from + 20);
}
