//! The channel state both halves share, generic over the capacity policy
//! ([`Bounded`](super::semaphore::Bounded) or
//! [`Unbounded`](super::semaphore::Unbounded)).
//!
//! # Protocol
//!
//! 1. **Send** = take room from the semaphore (the only step that can
//!    wait or fail), push onto the lock-free queue (`list.rs`), then
//!    `RxWaker::notify` (a load, plus one wake-up if the receiver parked).
//! 2. **Receive** = pop; on a message, give its room back to the semaphore.
//!    On nothing: park (register the waker, raise `parked`), pop once more,
//!    then decide whether the channel is finished:
//!    - all senders dropped (`tx_count == 0`): a sender pushes before it
//!      drops, so one last pop settles it; or
//!    - the receiver closed and the semaphore is idle: nothing buffered and
//!      no sender between "took room" and "pushed" (a sender that got room
//!      before `close` still delivers, and the receiver waits for it).
//! 3. **Wake-ups of the receiver** come from every event that can end its
//!    wait: a push, the last sender's drop, and room given back unused after
//!    `close` that makes the semaphore idle. Each event is followed by
//!    `RxWaker::notify` (fence, load `parked`), and the receiver raises
//!    `parked` (then fences) before its last checks: see `rx_waker.rs`.
//! 4. **Close** (receiver's `close()` or drop) closes the semaphore, which
//!    wakes the waiting senders with an error, then wakes `Sender::closed()`
//!    waiters. Dropping the receiver also drops every buffered message; one
//!    pushed later by a sender that already had room is dropped with the
//!    channel.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use crossbeam_utils::CachePadded;

use super::error::TryRecvError;
use super::list;
use super::rx_waker::RxWaker;
use super::semaphore::Semaphore;
use super::wait_list::{WaitList, WaitNode, WaiterState};
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::loom::{Arc, AtomicBool, AtomicUsize, Mutex, UnsafeCell};
use crate::task::poll_proceed;

/// The shared channel.
struct Chan<T, S> {
    /// What every send touches, on one cache line: the senders' end of the
    /// queue and the room accounting.
    tx: CachePadded<TxSide<T, S>>,
    /// The receiver's waker and `parked` flag.
    rx_waker: CachePadded<RxWaker>,
    /// Live senders.
    tx_count: AtomicUsize,
    /// `Sender::closed()` waiters.
    close_notify: CloseNotify,
    /// The receiver's end: touched only by the one receiver, and by `Drop`.
    rx: CachePadded<UnsafeCell<RxFields<T>>>,
}

/// The senders' side of the channel.
struct TxSide<T, S> {
    /// The senders' end of the queue.
    list: list::Tx<T>,
    /// Room accounting (capacity, or in-flight count when unbounded).
    semaphore: S,
}

/// What only the receiver touches.
struct RxFields<T> {
    /// The receiver's end of the queue.
    list: list::Rx<T>,
    /// The receiver called `close()` (or is being dropped).
    closed: bool,
}

// SAFETY: messages move from senders' threads to the receiver's (`T: Send`)
// and are never shared; the receiver fields are used by one handle at a time
// (`&mut` on the receiver); the rest is atomics and locks.
unsafe impl<T: Send, S: Send + Sync> Send for Chan<T, S> {}
// SAFETY: as above.
unsafe impl<T: Send, S: Send + Sync> Sync for Chan<T, S> {}

impl<T, S> Drop for Chan<T, S> {
    fn drop(&mut self) {
        let tx = &self.tx.list;
        // SAFETY: the last handle is gone: nobody pushes or pops any more.
        self.rx.with_mut(|p| unsafe { (*p).list.free_all(tx) });
    }
}

/// Creates a channel with the given capacity policy.
pub(super) fn channel<T, S: Semaphore>(semaphore: S) -> (Tx<T, S>, Rx<T, S>) {
    let (tx, rx) = list::queue();
    let chan = Arc::new(Chan {
        tx: CachePadded::new(TxSide {
            list: tx,
            semaphore,
        }),
        rx_waker: CachePadded::new(RxWaker::new()),
        tx_count: AtomicUsize::new(1),
        close_notify: CloseNotify::new(),
        rx: CachePadded::new(UnsafeCell::new(RxFields {
            list: rx,
            closed: false,
        })),
    });
    (Tx { chan: chan.clone() }, Rx { chan })
}

/// A sender's handle.
pub(super) struct Tx<T, S> {
    /// The channel.
    chan: Arc<Chan<T, S>>,
}

/// The receiver's handle.
pub(super) struct Rx<T, S: Semaphore> {
    /// The channel.
    chan: Arc<Chan<T, S>>,
}

impl<T, S: Semaphore> Tx<T, S> {
    /// The channel's room accounting.
    pub(super) fn semaphore(&self) -> &S {
        &self.chan.tx.semaphore
    }

    /// Pushes `value`, for which room was taken, and wakes the receiver if
    /// it is parked.
    #[inline]
    pub(super) fn push(&self, value: T) {
        self.chan.tx.list.push(value);
        self.chan.rx_waker.notify();
    }

    /// Gives back room taken for a message that will not be pushed.
    pub(super) fn give_back(&self) {
        if self.chan.tx.semaphore.release() {
            self.notify_rx();
        }
    }

    /// Wakes the receiver if it is parked (it re-checks why).
    pub(super) fn notify_rx(&self) {
        self.chan.rx_waker.notify();
    }

    /// Whether the receiver closed the channel or was dropped.
    pub(super) fn is_closed(&self) -> bool {
        self.chan.close_notify.is_closed()
    }

    /// Waits until the receiver closes the channel or is dropped.
    pub(super) async fn closed(&self) {
        Closed {
            notify: &self.chan.close_notify,
            node: WaitNode::new(),
        }
        .await
    }

    /// Whether both handles belong to the same channel.
    pub(super) fn same_channel(&self, other: &Tx<T, S>) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T, S> Clone for Tx<T, S> {
    fn clone(&self) -> Self {
        self.chan.tx_count.fetch_add(1, Relaxed);
        Tx {
            chan: self.chan.clone(),
        }
    }
}

impl<T, S> Drop for Tx<T, S> {
    fn drop(&mut self) {
        if self.chan.tx_count.fetch_sub(1, AcqRel) == 1 {
            // The last sender: the receiver may be waiting for this.
            self.chan.rx_waker.notify();
        }
    }
}

impl<T, S: Semaphore> Rx<T, S> {
    /// Runs `f` on the receiver fields.
    fn with_rx<R>(&mut self, f: impl FnOnce(&Chan<T, S>, &mut RxFields<T>) -> R) -> R {
        let chan = &*self.chan;
        // SAFETY: only the one `Rx` handle (borrowed mutably here) and the
        // channel's `Drop` use the receiver fields.
        chan.rx.with_mut(|p| f(chan, unsafe { &mut *p }))
    }

    /// Receives the next message (protocol step 2): `None` once all senders
    /// are gone (or the channel is closed) and nothing is left.
    pub(super) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // Spend budget before taking anything.
        ready!(poll_proceed(cx));
        self.with_rx(|chan, rx| {
            if let Some(value) = rx.list.pop(&chan.tx.list) {
                chan.tx.semaphore.release();
                return Poll::Ready(Some(value));
            }
            chan.rx_waker.park(cx.waker());
            let value = match rx.list.pop(&chan.tx.list) {
                Some(value) => Some(value),
                None if chan.finished(rx) => rx.list.pop(&chan.tx.list),
                None => return Poll::Pending,
            };
            chan.rx_waker.unpark();
            if value.is_some() {
                chan.tx.semaphore.release();
            }
            Poll::Ready(value)
        })
    }

    /// Receives a message if one is ready.
    pub(super) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.with_rx(|chan, rx| {
            let value = match rx.list.pop(&chan.tx.list) {
                Some(value) => value,
                None if chan.finished(rx) => match rx.list.pop(&chan.tx.list) {
                    Some(value) => value,
                    None => return Err(TryRecvError::Disconnected),
                },
                None => return Err(TryRecvError::Empty),
            };
            chan.tx.semaphore.release();
            Ok(value)
        })
    }

    /// Closes the channel (protocol step 4); buffered messages stay.
    pub(super) fn close(&mut self) {
        self.with_rx(|chan, rx| {
            rx.closed = true;
            chan.tx.semaphore.close();
            chan.close_notify.close();
        });
    }

    /// Whether no message can arrive any more (closed, or no senders).
    pub(super) fn is_closed(&self) -> bool {
        self.chan.close_notify.is_closed() || self.chan.tx_count.load(Acquire) == 0
    }
}

impl<T, S: Semaphore> Chan<T, S> {
    /// No message can come any more: the senders are gone, or the receiver
    /// closed and nothing is in flight. The caller pops once more after a
    /// `true` (a push may have landed just before).
    fn finished(&self, rx: &RxFields<T>) -> bool {
        self.tx_count.load(Acquire) == 0 || (rx.closed && self.tx.semaphore.is_idle())
    }
}

impl<T, S: Semaphore> Drop for Rx<T, S> {
    fn drop(&mut self) {
        self.close();
        // Drop what is buffered now (room given back keeps `is_idle` exact).
        self.with_rx(|chan, rx| {
            while let Some(value) = rx.list.pop(&chan.tx.list) {
                chan.tx.semaphore.release();
                drop(value);
            }
        });
    }
}

impl<T, S> fmt::Debug for Tx<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("senders", &self.chan.tx_count.load(Relaxed))
            .field("closed", &self.chan.close_notify.is_closed())
            .finish()
    }
}

impl<T, S: Semaphore> fmt::Debug for Rx<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rx")
            .field("senders", &self.chan.tx_count.load(Relaxed))
            .field("closed", &self.chan.close_notify.is_closed())
            .finish()
    }
}

/// The receiver's closing, as `Sender::closed()` waits for it.
struct CloseNotify {
    /// Set once, under the lock, when the receiver closes.
    closed: AtomicBool,
    /// Waiting `closed()` futures.
    waiters: Mutex<WaitList>,
}

impl CloseNotify {
    /// Open, nobody waiting.
    fn new() -> CloseNotify {
        CloseNotify {
            closed: AtomicBool::new(false),
            waiters: Mutex::new(WaitList::new()),
        }
    }

    /// Whether the receiver closed.
    fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// Marks the channel closed and wakes every waiter (after unlocking).
    fn close(&self) {
        let mut wakers = Vec::new();
        {
            let mut list = self.waiters.lock();
            self.closed.store(true, Release);
            while let Some(node) = list.pop_front() {
                // SAFETY: we hold the lock guarding the node; its future
                // unlinks it under this lock before it is freed.
                unsafe {
                    let w = &mut *node.as_ptr();
                    w.state = WaiterState::Closed;
                    wakers.extend(w.waker.take());
                }
            }
        }
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// The future of `Sender::closed()`.
struct Closed<'a> {
    /// The notifier it waits on.
    notify: &'a CloseNotify,
    /// Its wait-list node (pinned with the future).
    node: WaitNode,
}

// SAFETY: the node's raw pointers are only followed under the notifier's
// lock, from whichever thread holds it; nothing else in the future is
// thread-bound.
unsafe impl Send for Closed<'_> {}
// SAFETY: `&Closed` gives access to nothing.
unsafe impl Sync for Closed<'_> {}

impl Future for Closed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: we never move the node out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        let notify = this.notify;
        if this.node.linked {
            let _list = notify.waiters.lock();
            // SAFETY: the node's fields are guarded by the lock we hold.
            let w = unsafe { &mut *this.node.ptr().as_ptr() };
            if w.state == WaiterState::Queued {
                if !w.waker.as_ref().is_some_and(|o| o.will_wake(cx.waker())) {
                    w.waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
            this.node.linked = false;
            return Poll::Ready(());
        }
        if notify.is_closed() {
            return Poll::Ready(());
        }
        let mut list = notify.waiters.lock();
        if notify.is_closed() {
            return Poll::Ready(());
        }
        let ptr = this.node.ptr();
        // SAFETY: we hold the lock; the node is in no list and pinned in
        // this future, whose `Drop` unlinks it under the lock.
        unsafe {
            let w = &mut *ptr.as_ptr();
            w.state = WaiterState::Queued;
            w.waker = Some(cx.waker().clone());
            list.push_back(ptr);
        }
        this.node.linked = true;
        Poll::Pending
    }
}

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        if self.node.linked {
            let mut list = self.notify.waiters.lock();
            let ptr = self.node.ptr();
            // SAFETY: we hold the lock guarding the node; if it is still
            // queued it is linked in this list.
            unsafe {
                if (*ptr.as_ptr()).state == WaiterState::Queued {
                    list.remove(ptr);
                }
            }
        }
    }
}
