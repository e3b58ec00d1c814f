//! Timer entries: what a `Sleep` shares with the reactor.
//!
//! # Protocol
//!
//! An entry's `state` moves `NEW` → `QUEUED` (the owner pushed an insert
//! operation) → `IN_WHEEL` (the reactor filed it) → `FIRED`, or to
//! `CANCELLED` from any state but `FIRED`:
//! - the owner cancels with a swap: if the entry was `IN_WHEEL` it pushes a
//!   cancel operation so the reactor frees the wheel slot; if it was `QUEUED`
//!   the reactor will see `CANCELLED` when it takes the insert and skip it;
//! - the reactor files an entry with a CAS `QUEUED` → `IN_WHEEL` and fires it
//!   with a CAS `IN_WHEEL` → `FIRED`; a failed CAS means it was cancelled.
//!
//! The waker sits under a small lock, together with the wheel key (which only
//! the reactor uses). The owner checks `FIRED` under that lock before storing
//! a waker, and the reactor sets `FIRED` before taking the waker under it, so
//! a firing never misses a waker registered concurrently.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::Waker;

use aiolos_timer::Key;
use parking_lot::Mutex;

const NEW: u8 = 0;
const QUEUED: u8 = 1;
const IN_WHEEL: u8 = 2;
const FIRED: u8 = 3;
const CANCELLED: u8 = 4;

/// One timer registration: a deadline and the waker to call at it.
pub struct TimerEntry {
    /// Milliseconds since the reactor's origin (never changes).
    deadline: u64,
    /// `NEW`, `QUEUED`, `IN_WHEEL`, `FIRED` or `CANCELLED`.
    state: AtomicU8,
    /// The waker to call, and the wheel key once filed.
    inner: Mutex<Inner>,
}

struct Inner {
    waker: Option<Waker>,
    key: Option<Key>,
}

/// What `poll_fired` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// The deadline passed and the reactor fired the entry.
    Yes,
    /// Not yet; the waker is stored.
    No,
}

impl TimerEntry {
    /// An entry due at `deadline` (milliseconds since the reactor's origin,
    /// see [`Driver::deadline_ms`](crate::Driver::deadline_ms)).
    pub fn new(deadline: u64) -> TimerEntry {
        TimerEntry {
            deadline,
            state: AtomicU8::new(NEW),
            inner: Mutex::new(Inner {
                waker: None,
                key: None,
            }),
        }
    }

    /// The deadline in milliseconds since the reactor's origin.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    /// Whether the reactor has fired the entry.
    pub fn is_fired(&self) -> bool {
        self.state.load(Ordering::Acquire) == FIRED
    }

    /// Reports whether the entry fired; if not, stores `waker` (replacing an
    /// older one unless it would wake the same task) for the firing.
    pub fn poll_fired(&self, waker: &Waker) -> Fired {
        if self.is_fired() {
            return Fired::Yes;
        }
        let mut inner = self.inner.lock();
        // Check again under the lock: the reactor sets FIRED before it takes
        // the waker under this lock.
        if self.is_fired() {
            return Fired::Yes;
        }
        match &inner.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => inner.waker = Some(waker.clone()),
        }
        Fired::No
    }

    /// Whether the entry was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::Acquire) == CANCELLED
    }

    /// Whether the entry has not been handed to the reactor yet.
    pub fn is_new(&self) -> bool {
        self.state.load(Ordering::Acquire) == NEW
    }

    /// `NEW` → `QUEUED`; false if the entry was already registered.
    pub(crate) fn mark_queued(&self) -> bool {
        self.state
            .compare_exchange(NEW, QUEUED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Cancels; returns true when the reactor holds the entry in its wheel
    /// (then a cancel operation must be sent so it frees the slot).
    pub(crate) fn mark_cancelled(&self) -> bool {
        let mut prev = self.state.load(Ordering::Acquire);
        loop {
            if prev == FIRED || prev == CANCELLED {
                return false;
            }
            match self.state.compare_exchange_weak(
                prev,
                CANCELLED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => prev = actual,
            }
        }
        // Release the waker (and the task it keeps alive) right away.
        self.inner.lock().waker = None;
        prev == IN_WHEEL
    }

    /// The reactor files the entry under `key`; false if it was cancelled.
    pub(crate) fn file(&self, key: Key) -> bool {
        let mut inner = self.inner.lock();
        if self
            .state
            .compare_exchange(QUEUED, IN_WHEEL, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        inner.key = Some(key);
        true
    }

    /// The wheel key, for a cancel operation.
    pub(crate) fn key(&self) -> Option<Key> {
        self.inner.lock().key
    }

    /// The reactor fires the entry: returns its waker, if any and if it was
    /// not cancelled meanwhile.
    pub(crate) fn fire(&self) -> Option<Waker> {
        if self
            .state
            .compare_exchange(IN_WHEEL, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        let mut inner = self.inner.lock();
        inner.key = None;
        inner.waker.take()
    }
}

impl fmt::Debug for TimerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state.load(Ordering::Relaxed) {
            NEW => "new",
            QUEUED => "queued",
            IN_WHEEL => "in wheel",
            FIRED => "fired",
            _ => "cancelled",
        };
        f.debug_struct("TimerEntry")
            .field("deadline", &self.deadline)
            .field("state", &state)
            .finish()
    }
}
