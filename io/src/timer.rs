//! Timer entries (what a `Sleep` shares with the wheel that holds it) and
//! [`Timers`], a wheel of them.
//!
//! # Who holds an entry
//!
//! A timer lives in exactly one wheel: the wheel of the worker that
//! registered it (most timers), or the reactor's, for timers registered
//! anywhere else (see `driver.rs`). The entry records which wheel holds it
//! ([`TimerEntry::cancel`] reports it), so that a cancel frees the right slot.
//!
//! # Protocol
//!
//! An entry's `state` moves `NEW` → `QUEUED` (handed to a wheel's owner) →
//! `IN_WHEEL` (filed) → `FIRED`, or to `CANCELLED` from any state but
//! `FIRED`:
//! - the owner of the `Sleep` cancels with a swap: if the entry was
//!   `IN_WHEEL` the wheel's owner must free the slot; if it was `QUEUED` the
//!   wheel's owner sees `CANCELLED` when it files the entry and skips it;
//! - a wheel's owner files an entry with a CAS `QUEUED` → `IN_WHEEL` and
//!   fires it with a CAS `IN_WHEEL` → `FIRED`; a failed CAS means it was
//!   cancelled.
//!
//! The waker sits under a small lock, together with the wheel key and owner.
//! The `Sleep` checks `FIRED` under that lock before storing a waker, and the
//! firing sets `FIRED` before taking the waker under it, so a firing never
//! misses a waker registered concurrently.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::task::Waker;

use aiolos_timer::{Key, Wheel};

use crate::loom::{AtomicU8, Mutex, Ordering};

const NEW: u8 = 0;
const QUEUED: u8 = 1;
const IN_WHEEL: u8 = 2;
const FIRED: u8 = 3;
const CANCELLED: u8 = 4;

/// Nanoseconds in a millisecond, the wheel's resolution.
pub(crate) const NS_PER_MS: u64 = 1_000_000;

/// One timer registration: a deadline and the waker to call at it.
pub struct TimerEntry {
    /// Nanoseconds since the driver's origin (never changes).
    deadline: u64,
    /// `NEW`, `QUEUED`, `IN_WHEEL`, `FIRED` or `CANCELLED`.
    state: AtomicU8,
    /// The waker to call, and the wheel key once filed.
    inner: Mutex<Inner>,
}

struct Inner {
    waker: Option<Waker>,
    /// Where the entry is filed: the key and the wheel's owner.
    filed: Option<(Key, usize)>,
}

/// The owner number of the reactor's wheel (workers are numbered from 0).
pub const REACTOR: usize = usize::MAX;

/// What `poll_fired` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// The deadline passed and the reactor fired the entry.
    Yes,
    /// Not yet; the waker is stored.
    No,
}

impl TimerEntry {
    /// An entry due at `deadline` (nanoseconds since the driver's origin,
    /// see [`Driver::deadline`](crate::Driver::deadline)).
    pub fn new(deadline: u64) -> TimerEntry {
        TimerEntry {
            deadline,
            state: AtomicU8::new(NEW),
            inner: Mutex::new(Inner {
                waker: None,
                filed: None,
            }),
        }
    }

    /// The deadline in nanoseconds since the driver's origin.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    /// The wheel slot: the deadline in milliseconds, rounded up.
    fn slot(&self) -> u64 {
        self.deadline.div_ceil(NS_PER_MS)
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

    /// `NEW` → `QUEUED`; false if the entry was already registered.
    pub(crate) fn mark_queued(&self) -> bool {
        self.state
            .compare_exchange(NEW, QUEUED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Cancels: the entry will not fire, and its waker is released now.
    /// Returns the owner of the wheel holding the entry, which must free its
    /// slot ([`REACTOR`] or a worker's number), or `None` when no wheel holds
    /// it (not filed yet, already fired, or already cancelled).
    pub fn cancel(&self) -> Option<usize> {
        let mut prev = self.state.load(Ordering::Acquire);
        loop {
            if prev == FIRED || prev == CANCELLED {
                return None;
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
        // Release the waker (and the task it keeps alive) right away. A
        // filed entry has its place recorded: `file` set it under this lock
        // before the state said `IN_WHEEL`.
        let mut inner = self.inner.lock();
        inner.waker = None;
        if prev == IN_WHEEL {
            inner.filed.map(|(_, owner)| owner)
        } else {
            None
        }
    }

    /// Files the entry under `key` in `owner`'s wheel; false if it was
    /// cancelled.
    fn file(&self, key: Key, owner: usize) -> bool {
        let mut inner = self.inner.lock();
        if self
            .state
            .compare_exchange(QUEUED, IN_WHEEL, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        inner.filed = Some((key, owner));
        true
    }

    /// The wheel key, for freeing the slot of a cancelled entry.
    fn key(&self) -> Option<Key> {
        self.inner.lock().filed.map(|(key, _)| key)
    }

    /// Fires the entry: returns its waker, if any and if it was not
    /// cancelled meanwhile.
    fn fire(&self) -> Option<Waker> {
        if self
            .state
            .compare_exchange(IN_WHEEL, FIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        let mut inner = self.inner.lock();
        inner.filed = None;
        inner.waker.take()
    }
}

/// A timer wheel of entries: the reactor's own, or one worker's (which the
/// driver keeps behind a lock, see `driver.rs`).
///
/// Times are nanoseconds since the driver's origin. The wheel itself counts
/// whole milliseconds (an entry sits in the slot of its deadline rounded
/// up); entries whose slot is the current or the next millisecond move to a
/// short *imminent* list sorted by exact deadline, from which they fire as
/// soon as their deadline has passed. So a timer fires within microseconds
/// of its deadline when its owner looks often enough, never early, and never
/// a millisecond late merely for the rounding.
///
/// ```
/// use std::sync::Arc;
/// use std::task::Waker;
/// use aiolos_io::{Fired, TimerEntry, Timers};
///
/// const MS: u64 = 1_000_000;
/// let mut timers = Timers::new(0);
/// let entry = Arc::new(TimerEntry::new(5 * MS + 300_000)); // 5.3 ms
/// assert_eq!(entry.poll_fired(Waker::noop()), Fired::No);
/// timers.insert(&entry);
/// // Its slot is 6 ms: it needs looking at from 5 ms on.
/// assert_eq!(timers.next_deadline(), Some(5 * MS));
///
/// let mut fired = Vec::new();
/// timers.fire(5 * MS, &mut fired);
/// assert!(fired.is_empty());
/// assert_eq!(timers.next_deadline(), Some(5 * MS + 300_000));
/// timers.fire(5 * MS + 300_000, &mut fired);
/// assert_eq!(fired.len(), 1);
/// assert!(entry.is_fired());
/// assert_eq!(timers.next_deadline(), None);
/// ```
pub struct Timers {
    wheel: Wheel<Arc<TimerEntry>>,
    /// Entries taken out of the wheel because their slot is near, sorted by
    /// deadline (then by insertion). A cancelled one stays until its
    /// deadline passes (at most about 2 ms) and is then dropped unfired.
    imminent: VecDeque<Arc<TimerEntry>>,
    /// The owner number recorded in filed entries.
    owner: usize,
}

impl Timers {
    /// An empty wheel owned by `owner` (a worker's number, or [`REACTOR`]).
    pub fn new(owner: usize) -> Timers {
        Timers {
            wheel: Wheel::new(),
            imminent: VecDeque::new(),
            owner,
        }
    }

    /// Files `entry`, unless it was registered before (each entry is
    /// registered once, in one wheel).
    pub fn insert(&mut self, entry: &Arc<TimerEntry>) {
        if entry.mark_queued() {
            self.file(entry.clone());
        }
    }

    /// Files an entry already marked `QUEUED` (the reactor's side of
    /// `Driver::add_timer`).
    pub(crate) fn file(&mut self, entry: Arc<TimerEntry>) {
        if entry.is_cancelled() {
            // Created and dropped before it got here: never file it.
            return;
        }
        let key = self.wheel.insert(entry.slot(), entry.clone());
        if !entry.file(key, self.owner) {
            // Cancelled meanwhile.
            self.wheel.cancel(key);
        }
    }

    /// Frees the slot of a cancelled entry filed here (an imminent one goes
    /// when its deadline passes).
    pub fn remove(&mut self, entry: &TimerEntry) {
        if let Some(key) = entry.key() {
            self.wheel.cancel(key);
        }
    }

    /// Fires every entry whose deadline is at or before `now` (nanoseconds
    /// since the driver's origin), pushing their wakers in deadline order.
    pub fn fire(&mut self, now: u64, fired: &mut Vec<Waker>) {
        // Take out of the wheel every entry whose slot is this millisecond
        // or the next: those may be due before the next whole millisecond.
        let horizon = (now / NS_PER_MS).saturating_add(1);
        let before = self.imminent.len();
        let imminent = &mut self.imminent;
        self.wheel
            .advance(horizon, |_, _, entry| imminent.push_back(entry));
        if self.imminent.len() != before {
            // A stable sort: equal deadlines keep their insertion order.
            self.imminent
                .make_contiguous()
                .sort_by_key(|entry| entry.deadline);
        }
        while let Some(entry) = self.imminent.front() {
            if entry.deadline > now {
                break;
            }
            if let Some(w) = entry.fire() {
                fired.push(w);
            }
            self.imminent.pop_front();
        }
    }

    /// When [`fire`](Timers::fire) next has something to do: the earliest
    /// imminent deadline, or the start of the millisecond before the
    /// earliest slot of the wheel.
    pub fn next_deadline(&self) -> Option<u64> {
        let imminent = self.imminent.front().map(|entry| entry.deadline);
        let wheel = self
            .wheel
            .next_deadline()
            .map(|slot| slot.saturating_sub(1).saturating_mul(NS_PER_MS));
        match (imminent, wheel) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How many entries are held (cancelled ones until their slot is freed).
    pub fn len(&self) -> usize {
        self.wheel.len() + self.imminent.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.wheel.is_empty() && self.imminent.is_empty()
    }
}

impl fmt::Debug for Timers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timers")
            .field("owner", &self.owner)
            .field("len", &self.len())
            .finish()
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
