//! Putting a thread to sleep until another wakes it.
//!
//! # Protocol
//!
//! The state word is `EMPTY`, `PARKED` or `NOTIFIED`.
//! 1. `unpark` swaps in `NOTIFIED`. If the old state was `PARKED`, it takes
//!    and releases the lock (so the sleeper is inside `wait`, not between its
//!    state change and `wait`) and signals the condition variable.
//! 2. `park` first tries to consume a `NOTIFIED` without locking. Otherwise it
//!    takes the lock and moves `EMPTY` to `PARKED`; if that fails, a
//!    notification arrived meanwhile: consume it and return.
//! 3. It waits until it can move `NOTIFIED` back to `EMPTY`; any other wake-up
//!    is spurious and it waits again.
//!
//! A notification is never lost: it stays in the word until a `park` consumes
//! it, so an `unpark` that comes before the `park` makes that `park` return at
//! once.

use std::sync::Arc as StdArc;
use std::task::Wake;

use crate::loom::{AtomicUsize, Condvar, Mutex, Ordering};

const EMPTY: usize = 0;
const PARKED: usize = 1;
const NOTIFIED: usize = 2;

/// A one-thread sleeper with a sticky notification.
#[derive(Debug)]
pub(crate) struct Parker {
    /// `EMPTY`, `PARKED` or `NOTIFIED`.
    state: AtomicUsize,
    /// Guards the `PARKED` → waiting step.
    lock: Mutex<()>,
    /// Where the sleeper waits.
    cvar: Condvar,
}

impl Parker {
    pub(crate) fn new() -> Parker {
        Parker {
            state: AtomicUsize::new(EMPTY),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
        }
    }

    /// Sleeps until `unpark` (returns at once if one is pending).
    pub(crate) fn park(&self) {
        self.park_inner(None);
    }

    /// Sleeps until `unpark` or until `deadline`, whichever comes first
    /// (returns at once if a notification is pending). A notification that
    /// races with the timeout is consumed: the caller looks for work anyway.
    pub(crate) fn park_until(&self, deadline: std::time::Instant) {
        self.park_inner(Some(deadline));
    }

    fn park_inner(&self, deadline: Option<std::time::Instant>) {
        // Fast path: a notification is already here.
        if self
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
        let mut guard = self.lock.lock();
        match self
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => {}
            Err(NOTIFIED) => {
                // Arrived between the fast path and the lock.
                self.state.store(EMPTY, Ordering::SeqCst);
                return;
            }
            Err(other) => unreachable!("inconsistent park state {other}"),
        }
        loop {
            let timed_out = match deadline {
                None => {
                    self.cvar.wait(&mut guard);
                    false
                }
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    left.is_zero() || self.cvar.wait_for(&mut guard, left).timed_out()
                }
            };
            if timed_out {
                // PARKED or NOTIFIED: either way we are awake now.
                self.state.swap(EMPTY, Ordering::SeqCst);
                return;
            }
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
            // Spurious wake-up: still PARKED.
        }
    }

    /// Wakes the sleeper, or makes its next `park` return at once.
    pub(crate) fn unpark(&self) {
        match self.state.swap(NOTIFIED, Ordering::SeqCst) {
            EMPTY | NOTIFIED => return,
            PARKED => {}
            other => unreachable!("inconsistent park state {other}"),
        }
        // Wait for the sleeper to be inside `wait` before signalling.
        drop(self.lock.lock());
        self.cvar.notify_one();
    }
}

/// A `Parker` usable as a `Waker` for `block_on`.
#[derive(Debug)]
pub(crate) struct ThreadWaker(pub(crate) Parker);

impl Wake for ThreadWaker {
    fn wake(self: StdArc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.0.unpark();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn unpark_before_park_is_not_lost() {
        let p = Parker::new();
        p.unpark();
        p.park(); // returns at once
    }

    #[test]
    fn unpark_from_another_thread_wakes_sleeper_many_times() {
        let p = StdArc::new(Parker::new());
        let q = p.clone();
        let t = std::thread::spawn(move || {
            for _ in 0..10_000 {
                q.park();
            }
        });
        // Every park needs its own notification; keep notifying until the
        // sleeper has consumed 10,000 of them.
        while !t.is_finished() {
            p.unpark();
            std::thread::yield_now();
        }
        t.join().unwrap();
    }

    #[test]
    fn park_until_returns_at_the_deadline_and_leaves_no_stale_state() {
        let p = Parker::new();
        let start = std::time::Instant::now();
        p.park_until(start + std::time::Duration::from_millis(20));
        assert!(start.elapsed() >= std::time::Duration::from_millis(20));
        // Not left PARKED: a later unpark is kept for the next park.
        p.unpark();
        p.park();
        // A deadline already past returns at once.
        p.park_until(start);
    }

    #[test]
    fn unpark_ends_a_timed_park_early_and_is_not_lost() {
        let p = StdArc::new(Parker::new());
        let q = p.clone();
        let far = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        let t = std::thread::spawn(move || {
            for _ in 0..1_000 {
                q.park_until(far);
            }
        });
        while !t.is_finished() {
            p.unpark();
            std::thread::yield_now();
        }
        t.join().unwrap();
        // An unpark before the timed park makes it return at once.
        p.unpark();
        p.park_until(far);
    }
}
