//! Worker timer wheels in the driver: cancelling from another thread, and the
//! reactor's rescue of a worker that does not fire its own due timers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use aiolos_io::{Config, Driver, Fired, Reactor, TimerEntry, Woken, RESCUE_AFTER};

/// Counts wake-ups.
#[derive(Default)]
struct Count {
    n: Mutex<usize>,
    cv: Condvar,
}

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        *self.n.lock().unwrap() += 1;
        self.cv.notify_all();
    }
}

impl Count {
    fn get(&self) -> usize {
        *self.n.lock().unwrap()
    }

    /// Waits (up to a minute) for `n` wake-ups.
    fn wait_for(&self, n: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut got = self.n.lock().unwrap();
        while *got < n && Instant::now() < deadline {
            got = self
                .cv
                .wait_timeout(got, Duration::from_millis(50))
                .unwrap()
                .0;
        }
        *got
    }
}

/// A reactor with `workers` worker wheels; its batches of timer wake-ups
/// are counted in the returned counter.
fn reactor(workers: usize) -> (Reactor, Arc<AtomicUsize>) {
    let timer_batches = Arc::new(AtomicUsize::new(0));
    let batches = timer_batches.clone();
    let reactor = Reactor::start(Config {
        thread_name: "timer-test-reactor".into(),
        on_thread_start: None,
        on_thread_stop: None,
        wake_batch: Box::new(move |w, woken| {
            if woken == Woken::Timers {
                batches.fetch_add(1, Ordering::SeqCst);
            }
            w.drain(..).for_each(Waker::wake);
        }),
        workers,
        all_parked: Box::new(|| true),
        busy_tick: None,
    })
    .unwrap();
    (reactor, timer_batches)
}

fn entry_in(driver: &Driver, d: Duration, waker: &Waker) -> Arc<TimerEntry> {
    let entry = Arc::new(TimerEntry::new(driver.deadline(Instant::now() + d)));
    assert_eq!(entry.poll_fired(waker), Fired::No);
    entry
}

#[test]
fn a_worker_fires_its_own_timers_once_and_not_early() {
    let (reactor, _) = reactor(1);
    let driver = reactor.driver().clone();
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let entry = entry_in(&driver, Duration::from_millis(50), &waker);
    driver.add_worker_timer(0, &entry);

    // Before the deadline nothing fires, and the deadline is reported.
    let mut fired = Vec::new();
    let next = driver.fire_worker_timers(0, entry.deadline() - 1, &mut fired);
    assert_eq!(
        next,
        Some(entry.deadline()),
        "not looking at its exact deadline"
    );
    assert!(fired.is_empty());
    assert!(!entry.is_fired());

    // Fire as a worker would once the deadline passed. (On a loaded machine
    // this thread may wake too late and find the reactor rescued it: either
    // way it fires exactly once.)
    while driver.now() < entry.deadline() {
        thread::sleep(Duration::from_millis(1));
    }
    let next = driver.fire_worker_timers(0, driver.now(), &mut fired);
    assert_eq!(next, None);
    fired.drain(..).for_each(Waker::wake);
    assert!(entry.is_fired());
    assert_eq!(count.wait_for(1), 1);
    thread::sleep(10 * RESCUE_AFTER);
    assert_eq!(count.get(), 1, "fired twice");
}

#[test]
fn a_worker_timer_cancelled_on_another_thread_frees_its_slot_and_never_fires() {
    let (reactor, _) = reactor(2);
    let driver = reactor.driver().clone();
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    // Far enough that the reactor's rescue cannot fire it first, however
    // slowly this thread runs.
    let entry = entry_in(&driver, Duration::from_secs(3600), &waker);
    driver.add_worker_timer(1, &entry);
    // The waker is held by the entry until the cancel.
    assert_eq!(Arc::strong_count(&count), 3);

    let (d, e) = (driver.clone(), entry.clone());
    thread::spawn(move || d.cancel_timer(&e)).join().unwrap();
    assert!(entry.is_cancelled());
    assert_eq!(Arc::strong_count(&count), 2, "the cancel kept the waker");

    // The slot is gone: worker 1's wheel is empty, and nothing fires even
    // when its deadline has passed.
    let mut fired = Vec::new();
    let next = driver.fire_worker_timers(1, entry.deadline() + 1, &mut fired);
    assert_eq!(next, None);
    assert!(fired.is_empty());
    assert_eq!(count.get(), 0);
}

#[test]
fn the_reactor_rescues_the_due_timers_of_a_worker_that_does_not_fire_them() {
    let (reactor, batches) = reactor(2);
    let driver = reactor.driver().clone();
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let start = Instant::now();
    let entries: Vec<_> = (1..=3)
        .map(|ms| entry_in(&driver, Duration::from_millis(ms * 10), &waker))
        .collect();
    // Worker 1 files them and then never looks at its wheel again (a poll
    // that blocks).
    for e in &entries {
        driver.add_worker_timer(1, e);
    }
    assert_eq!(
        count.wait_for(3),
        3,
        "the stuck worker's timers never fired"
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
    for e in &entries {
        assert!(e.is_fired());
        assert!(driver.now() >= e.deadline() + RESCUE_AFTER.as_nanos() as u64);
    }
    assert!(batches.load(Ordering::SeqCst) >= 1);
}

#[test]
fn a_parked_worker_is_left_to_fire_its_own_timers() {
    let (reactor, batches) = reactor(1);
    let driver = reactor.driver().clone();
    let count = Arc::new(Count::default());
    let waker = Waker::from(count.clone());
    let filed = Instant::now();
    let entry = entry_in(&driver, Duration::from_millis(100), &waker);
    driver.add_worker_timer(0, &entry);
    // The worker parks until the deadline: the reactor must not race it.
    driver.worker_parked(0);
    // (Between filing and parking the worker is running and watched; only
    // if this thread stalled past the deadline could a rescue have come.)
    let stalled = filed.elapsed() >= Duration::from_millis(100);
    thread::sleep(Duration::from_millis(100) + 10 * RESCUE_AFTER);
    if !stalled {
        assert!(
            !entry.is_fired(),
            "the reactor fired a parked worker's timer"
        );
        assert_eq!(batches.load(Ordering::SeqCst), 0);
    }

    // Once it runs again, it is watched again.
    driver.worker_unparked(0, entry.deadline());
    assert_eq!(
        count.wait_for(1),
        1,
        "the unparked worker's timer never fired"
    );
    assert!(entry.is_fired());
}
