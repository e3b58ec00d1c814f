//! Capacity accounting: the FIFO semaphore of a bounded channel and the
//! message counter of an unbounded one.
//!
//! Both count the messages that are *buffered or in flight* (a sender has
//! its permit but has not pushed yet), so that after `close()` the receiver
//! can tell "empty for good" ([`Semaphore::is_idle`]) from "a push is on its
//! way".
//!
//! # The bounded state word
//!
//! `permits << SHIFT | WAITERS | CLOSED`, where `permits` is the free
//! capacity in the counter. The rules (the wait list and `WAITERS` change
//! only under the wait-list lock):
//!
//! - `WAITERS` is set exactly when the wait list is not empty. It is set
//!   (by CAS, under the lock) only when `permits` is zero, so while it is set
//!   every permit in the counter was put there by a `release` that saw
//!   `WAITERS` and is on its way to the lock to hand that permit to the
//!   oldest waiter (FIFO): capacity freed while senders wait never goes to
//!   a newcomer.
//! - Fast paths are one atomic operation: `try_acquire` takes a permit by
//!   CAS if `permits > 0` and `WAITERS` is clear; `release` adds one with
//!   `fetch_add` and is done if `WAITERS` was clear. A sender that finds no
//!   permit takes the lock, sets `WAITERS` (a racing `release` either is
//!   seen by that CAS or sees the bit) and links itself.
//! - A `release` that saw `WAITERS` takes the lock and, if `WAITERS` is
//!   still set and a permit is in the counter, moves one permit to the
//!   front waiter, clearing `WAITERS` when the list empties. If the bit was
//!   cleared meanwhile (the waiters left), its permit simply stays in the
//!   counter; if the counter is empty, its permit was taken in such a
//!   window. Every permit added while `WAITERS` is set is followed by one
//!   such visit, and each visit moves a permit if there is one, so none is
//!   stranded while senders wait.
//! - `CLOSED` is set once, under the lock, which then empties the list,
//!   waking each waiter with "closed". Returns keep counting after that, so
//!   `is_idle` (all permits home) stays exact.
//!
//! The receiver checks `is_idle` after announcing that it parks, and a sender
//! returning the last permit after `close` then checks for a parked receiver:
//! the fences of that handshake live in `rx_waker.rs`; here plain
//! acquire/release suffices.

use std::task::{Context, Poll, Waker};

use super::wait_list::{WaitList, WaitNode, WaiterState};
use crate::loom::Ordering::{AcqRel, Acquire};
use crate::loom::{AtomicUsize, Mutex};

/// The channel is closed.
const CLOSED: usize = 1 << 0;
/// The wait list is not empty (and no permits are free).
const WAITERS: usize = 1 << 1;
/// Permits start at this bit.
const SHIFT: u32 = 2;
/// One permit.
const ONE: usize = 1 << SHIFT;

/// The largest capacity a bounded channel can have.
pub(super) const MAX_PERMITS: usize = usize::MAX >> SHIFT;

/// Why a permit could not be taken at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TryAcquireError {
    /// All capacity is in use (or earlier senders are waiting for it).
    NoPermits,
    /// The receiver closed the channel.
    Closed,
}

/// What a channel's capacity policy offers the shared channel code.
pub(super) trait Semaphore {
    /// Takes room for one message without waiting.
    fn try_acquire(&self) -> Result<(), TryAcquireError>;
    /// Returns room for one message (a message was received, or a permit
    /// was given up). True if the channel is now closed and idle: the
    /// receiver may be waiting for exactly that.
    fn release(&self) -> bool;
    /// Refuses all further acquisitions and wakes the waiting senders.
    fn close(&self);
    /// Whether `close` was called.
    fn is_closed(&self) -> bool;
    /// Nothing is buffered or in flight.
    fn is_idle(&self) -> bool;
}

/// The semaphore of a bounded channel: `bound` permits, waiters served in
/// arrival order.
#[derive(Debug)]
pub(super) struct Bounded {
    /// `permits << SHIFT | WAITERS | CLOSED` (module docs).
    state: AtomicUsize,
    /// Senders waiting for a permit, oldest first.
    waiters: Mutex<WaitList>,
    /// The channel's capacity.
    bound: usize,
}

impl Bounded {
    /// A semaphore with `bound` free permits (`1..=MAX_PERMITS`).
    pub(super) fn new(bound: usize) -> Bounded {
        debug_assert!((1..=MAX_PERMITS).contains(&bound));
        Bounded {
            state: AtomicUsize::new(bound << SHIFT),
            waiters: Mutex::new(WaitList::new()),
            bound,
        }
    }

    /// The capacity.
    pub(super) fn bound(&self) -> usize {
        self.bound
    }

    /// The free permits right now (none while senders wait: permits in the
    /// counter then are on their way to them).
    pub(super) fn available(&self) -> usize {
        let s = self.state.load(Acquire);
        if s & WAITERS != 0 {
            0
        } else {
            s >> SHIFT
        }
    }

    /// Takes a permit, waiting in line for one if none is free.
    ///
    /// `node` must stay pinned in the caller's future, which must call
    /// [`cancel`](Bounded::cancel) from its `Drop` whatever this returned.
    pub(super) fn poll_acquire(
        &self,
        node: &mut WaitNode,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), TryAcquireError>> {
        if node.linked {
            return self.poll_linked(node, cx.waker());
        }
        match self.try_acquire() {
            Err(TryAcquireError::NoPermits) => {}
            done => return Poll::Ready(done),
        }
        let mut list = self.waiters.lock();
        // Under the lock the list is stable; permits can still come back
        // (or be taken) lock-free until `WAITERS` is set.
        let mut s = self.state.load(Acquire);
        loop {
            if s & CLOSED != 0 {
                return Poll::Ready(Err(TryAcquireError::Closed));
            }
            let next = if s & WAITERS == 0 && s >= ONE {
                s - ONE
            } else {
                s | WAITERS
            };
            match self.state.compare_exchange(s, next, AcqRel, Acquire) {
                Ok(_) if next < s => return Poll::Ready(Ok(())),
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        let ptr = node.ptr();
        // SAFETY: we hold the lock, which guards the node's fields; the node
        // is in no list (`linked` is false) and is pinned in the caller's
        // future, whose `Drop` unlinks it (through `cancel`) under the lock.
        unsafe {
            let w = &mut *ptr.as_ptr();
            w.state = WaiterState::Queued;
            w.waker = Some(cx.waker().clone());
            list.push_back(ptr);
        }
        node.linked = true;
        Poll::Pending
    }

    /// `poll_acquire` for a node that was linked: see what it was handed.
    fn poll_linked(&self, node: &mut WaitNode, waker: &Waker) -> Poll<Result<(), TryAcquireError>> {
        let _list = self.waiters.lock();
        // SAFETY: the node's fields are guarded by the lock we hold; the
        // node is valid (it is in the caller's pinned future).
        let w = unsafe { &mut *node.ptr().as_ptr() };
        match w.state {
            WaiterState::Queued => {
                if !w.waker.as_ref().is_some_and(|old| old.will_wake(waker)) {
                    w.waker = Some(waker.clone());
                }
                Poll::Pending
            }
            WaiterState::Granted => {
                node.linked = false;
                Poll::Ready(Ok(()))
            }
            WaiterState::Closed => {
                node.linked = false;
                Poll::Ready(Err(TryAcquireError::Closed))
            }
        }
    }

    /// Settles a node whose future is going away: unlinks it if it still
    /// waits; if it was granted a permit it never used, gives the permit
    /// back (to the next waiter). Returns what that `release` returned
    /// (closed and idle: the receiver may need a wake-up), else false.
    pub(super) fn cancel(&self, node: &mut WaitNode) -> bool {
        if !node.linked {
            return false;
        }
        node.linked = false;
        let mut list = self.waiters.lock();
        let ptr = node.ptr();
        // SAFETY: the node's fields are guarded by the lock we hold.
        let state = unsafe { (*ptr.as_ptr()).state };
        match state {
            WaiterState::Queued => {
                // SAFETY: we hold the lock and the node is linked (Queued).
                unsafe { list.remove(ptr) };
                if list.is_empty() {
                    // Permits on their way to waiters become free ones.
                    self.state.fetch_and(!WAITERS, AcqRel);
                }
                false
            }
            WaiterState::Granted => {
                drop(list);
                // Pass the unused hand-off on.
                self.release()
            }
            WaiterState::Closed => false,
        }
    }

    /// `release` after its permit went into the counter while `WAITERS` was
    /// set: move a permit to the oldest waiter under the lock.
    #[cold]
    fn release_slow(&self) -> bool {
        let mut list = self.waiters.lock();
        let mut s = self.state.load(Acquire);
        loop {
            if s & WAITERS == 0 {
                // The waiters left meanwhile: the permit stays in the counter.
                return self.closed_and_idle(s);
            }
            if s < ONE {
                // Taken while `WAITERS` was briefly clear (module docs).
                return false;
            }
            match self.state.compare_exchange(s, s - ONE, AcqRel, Acquire) {
                Ok(_) => break,
                Err(actual) => s = actual,
            }
        }
        let node = list
            .pop_front()
            .expect("WAITERS is set only while the wait list is not empty");
        // SAFETY: we hold the lock that guards the node, and its future
        // cannot free it before unlinking it under that same lock.
        let waker = unsafe {
            let w = &mut *node.as_ptr();
            w.state = WaiterState::Granted;
            w.waker.take()
        };
        if list.is_empty() {
            self.state.fetch_and(!WAITERS, AcqRel);
        }
        // Wake after unlocking.
        drop(list);
        if let Some(waker) = waker {
            waker.wake();
        }
        false
    }

    /// True if `s` says closed with every permit home.
    fn closed_and_idle(&self, s: usize) -> bool {
        s & CLOSED != 0 && s >> SHIFT == self.bound
    }
}

impl Semaphore for Bounded {
    fn try_acquire(&self) -> Result<(), TryAcquireError> {
        let mut s = self.state.load(Acquire);
        loop {
            if s & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            if s & WAITERS != 0 || s < ONE {
                return Err(TryAcquireError::NoPermits);
            }
            match self
                .state
                .compare_exchange_weak(s, s - ONE, AcqRel, Acquire)
            {
                Ok(_) => return Ok(()),
                Err(actual) => s = actual,
            }
        }
    }

    fn release(&self) -> bool {
        let prev = self.state.fetch_add(ONE, AcqRel);
        if prev & WAITERS == 0 {
            return self.closed_and_idle(prev + ONE);
        }
        self.release_slow()
    }

    fn close(&self) {
        let mut wakers = Vec::new();
        {
            let mut list = self.waiters.lock();
            if self.state.fetch_or(CLOSED, AcqRel) & CLOSED != 0 {
                return;
            }
            while let Some(node) = list.pop_front() {
                // SAFETY: we hold the lock that guards the node (as in
                // `release_slow`).
                unsafe {
                    let w = &mut *node.as_ptr();
                    w.state = WaiterState::Closed;
                    wakers.extend(w.waker.take());
                }
            }
            self.state.fetch_and(!WAITERS, AcqRel);
        }
        for waker in wakers {
            waker.wake();
        }
    }

    fn is_closed(&self) -> bool {
        self.state.load(Acquire) & CLOSED != 0
    }

    fn is_idle(&self) -> bool {
        self.state.load(Acquire) >> SHIFT == self.bound
    }
}

/// The counter of an unbounded channel: `messages << 1 | CLOSED`, where
/// `messages` is how many were sent (or are being pushed) and not received.
#[derive(Debug)]
pub(super) struct Unbounded {
    /// `messages << 1 | CLOSED`.
    state: AtomicUsize,
}

impl Unbounded {
    /// An open, empty counter.
    pub(super) fn new() -> Unbounded {
        Unbounded {
            state: AtomicUsize::new(0),
        }
    }
}

impl Semaphore for Unbounded {
    fn try_acquire(&self) -> Result<(), TryAcquireError> {
        let mut s = self.state.load(Acquire);
        loop {
            if s & CLOSED != 0 {
                return Err(TryAcquireError::Closed);
            }
            // More than usize::MAX / 2 unreceived messages cannot fit in
            // memory; treat the overflow as the bug it would be.
            let next = s.checked_add(2).expect("unbounded channel overflow");
            match self.state.compare_exchange_weak(s, next, AcqRel, Acquire) {
                Ok(_) => return Ok(()),
                Err(actual) => s = actual,
            }
        }
    }

    fn release(&self) -> bool {
        let s = self.state.fetch_sub(2, AcqRel) - 2;
        s == CLOSED
    }

    fn close(&self) {
        self.state.fetch_or(CLOSED, AcqRel);
    }

    fn is_closed(&self) -> bool {
        self.state.load(Acquire) & CLOSED != 0
    }

    fn is_idle(&self) -> bool {
        self.state.load(Acquire) >> 1 == 0
    }
}
