//! A one-shot channel: one value, sent once, from one [`Sender`] to one
//! [`Receiver`] (asyncio's `Future` used as a promise: `set_result` on one
//! side, `await` on the other).
//!
//! ```
//! use aiolos::sync::oneshot;
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (tx, rx) = oneshot::channel();
//!     aiolos::spawn(async move {
//!         let _ = tx.send(6 * 7);
//!     });
//!     assert_eq!(rx.await, Ok(42));
//!
//!     // A sender dropped without sending is an error on the receiving side.
//!     let (tx, rx) = oneshot::channel::<u32>();
//!     drop(tx);
//!     assert!(rx.await.is_err());
//! });
//! ```
//!
//! # Protocol
//!
//! A channel is one allocation (`Inner`) shared by both halves through an
//! `Arc`: a state word, the value cell, and one waker slot per side. The state
//! word is a set of bits, each set at most once per owner (except the two
//! waker bits, which their owners clear to swap wakers):
//!
//! - `COMPLETE`: the sender is done: it stored a value, or it was
//!   dropped without one (the cell is then empty). Set once, by the sender.
//! - `CLOSED`: the receiver is done: it called `close()` or was
//!   dropped. Set by the receiver.
//! - `RX_WAKER`: the receiver's waker is in the receiver slot.
//! - `TX_WAKER`: the sender's waker (from `closed()`) is in the
//!   sender slot.
//!
//! Rules that make every access to the cells race-free:
//!
//! 1. **The value cell** belongs to the sender until `COMPLETE` is set and to
//!    the receiver from then on. `COMPLETE` is never set once `CLOSED` is: the
//!    sender sets it with a compare-and-swap that gives up on seeing `CLOSED`,
//!    and then takes its value back (`send` returns `Err(value)`). So a value
//!    can be read by the receiver or returned to the sender, never both.
//! 2. **The receiver slot** belongs to the receiver while `RX_WAKER` is clear.
//!    While it is set, both sides may only read it (`will_wake`,
//!    `wake_by_ref`). To swap wakers the receiver clears the bit first; if
//!    the previous state shows `COMPLETE`, the sender may be reading the slot
//!    right now, so the receiver leaves it alone and takes the value instead.
//!    After writing the slot it sets the bit again; if that shows `COMPLETE`,
//!    the sender finished without seeing the bit and will never read the
//!    slot, so the receiver takes the value. The sender wakes the receiver
//!    only if the state it replaced had `RX_WAKER` set.
//! 3. **The sender slot** follows rule 2 with the roles swapped and `CLOSED`
//!    in the place of `COMPLETE` (it backs `Sender::closed()`).
//! 4. Whatever is left in the cells (a value nobody took, stale wakers) is
//!    dropped with the allocation when the last half goes. A receiver dropped
//!    after `COMPLETE` drops the value at once, since it owns it.
//!
//! Every read-modify-write on the state word is `AcqRel`, so whoever sees a
//! bit set also sees the cell writes made before it was set.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use crate::loom::{Arc, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, UnsafeCell};
use crate::task::poll_proceed;

/// The bits of the state word (see the module docs for who may set what).
mod state {
    /// The receiver's waker is stored in the receiver slot, which both sides
    /// may read while this is set.
    pub(super) const RX_WAKER: usize = 1 << 0;
    /// The sender is done: a value is in the cell, or the sender was dropped
    /// without sending (the cell is empty). Never set after `CLOSED`.
    pub(super) const COMPLETE: usize = 1 << 1;
    /// The receiver is done: closed or dropped. A value sent after this is
    /// handed back to the sender.
    pub(super) const CLOSED: usize = 1 << 2;
    /// The sender's `closed()` waker is stored in the sender slot, which both
    /// sides may read while this is set.
    pub(super) const TX_WAKER: usize = 1 << 3;
}

use state::{CLOSED, COMPLETE, RX_WAKER, TX_WAKER};

/// Creates a one-shot channel: one value can be sent through the [`Sender`]
/// and awaited on the [`Receiver`]. Both halves live in one allocation.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        rx_waker: UnsafeCell::new(None),
        tx_waker: UnsafeCell::new(None),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner: Some(inner) },
    )
}

/// The sending half of a [`oneshot::channel`](channel).
///
/// [`send`](Sender::send) consumes it; dropping it without sending makes the
/// receiver's `await` return [`RecvError`].
pub struct Sender<T> {
    /// The shared channel; `None` only while `send` is consuming `self`.
    inner: Option<Arc<Inner<T>>>,
}

/// The receiving half of a [`oneshot::channel`](channel): a future that
/// resolves to the sent value, or to [`RecvError`] if the sender was dropped
/// without sending.
///
/// Awaiting it again after it has resolved panics.
pub struct Receiver<T> {
    /// The shared channel; `None` once the value (or the error) was taken.
    inner: Option<Arc<Inner<T>>>,
}

/// The channel both halves share.
struct Inner<T> {
    /// The state word: [`state`] bits.
    state: AtomicUsize,
    /// The value: the sender's until `COMPLETE` is set, the receiver's after.
    value: UnsafeCell<Option<T>>,
    /// The receiver's waker, guarded by `RX_WAKER` (module docs, rule 2).
    rx_waker: UnsafeCell<Option<Waker>>,
    /// The sender's `closed()` waker, guarded by `TX_WAKER` (rule 3).
    tx_waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cells are only accessed as the state protocol allows (module
// docs): the value moves from one thread to another at most once (so `T: Send`
// is required, `T: Sync` is not: it is never shared), and wakers are
// `Send + Sync`.
unsafe impl<T: Send> Send for Inner<T> {}
// SAFETY: as above; shared access never gives two threads `&T` or `&mut T`
// at once.
unsafe impl<T: Send> Sync for Inner<T> {}

impl<T> Inner<T> {
    /// Sets `COMPLETE` unless the receiver has closed; returns the state it
    /// found (with `CLOSED` set if it gave up).
    fn complete(&self) -> usize {
        let mut s = self.state.load(Acquire);
        loop {
            if s & CLOSED != 0 {
                return s;
            }
            match self
                .state
                .compare_exchange_weak(s, s | COMPLETE, AcqRel, Acquire)
            {
                Ok(_) => return s,
                Err(actual) => s = actual,
            }
        }
    }

    /// Takes the value after `COMPLETE` was seen.
    ///
    /// # Safety
    ///
    /// The caller is the receiver and has observed `COMPLETE`.
    unsafe fn take_value(&self) -> Result<T, RecvError> {
        // SAFETY: `COMPLETE` is set, so the cell belongs to the receiver
        // (rule 1), and the receiver is the caller.
        self.value
            .with_mut(|p| unsafe { (*p).take() })
            .ok_or(RecvError(()))
    }

    /// Wakes the receiver through a shared read of its slot.
    ///
    /// # Safety
    ///
    /// The caller replaced a state with `RX_WAKER` set by one with `COMPLETE`
    /// set, so the receiver no longer writes the slot (rule 2).
    unsafe fn wake_rx(&self) {
        // SAFETY: per the caller's contract the slot is read-only now.
        self.rx_waker.with(|p| unsafe {
            if let Some(w) = &*p {
                w.wake_by_ref();
            }
        });
    }

    /// Wakes the sender's `closed()` waiter through a shared read of its slot.
    ///
    /// # Safety
    ///
    /// The caller replaced a state with `TX_WAKER` set by one with `CLOSED`
    /// set, so the sender no longer writes the slot (rule 3).
    unsafe fn wake_tx(&self) {
        // SAFETY: per the caller's contract the slot is read-only now.
        self.tx_waker.with(|p| unsafe {
            if let Some(w) = &*p {
                w.wake_by_ref();
            }
        });
    }

    /// The receiver's poll.
    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let mut s = self.state.load(Acquire);
        if s & COMPLETE != 0 {
            // SAFETY: we are the receiver and saw `COMPLETE`.
            return Poll::Ready(unsafe { self.take_value() });
        }
        if s & CLOSED != 0 {
            // Closed by `close()` before anything was sent: nothing will come.
            return Poll::Ready(Err(RecvError(())));
        }
        if s & RX_WAKER != 0 {
            // SAFETY: `RX_WAKER` is set, so shared reads are allowed (rule 2).
            let same = self
                .rx_waker
                .with(|p| unsafe { (*p).as_ref().is_some_and(|w| w.will_wake(cx.waker())) });
            if same {
                return Poll::Pending;
            }
            // Take the slot back to swap the waker.
            s = self.state.fetch_and(!RX_WAKER, AcqRel);
            if s & COMPLETE != 0 {
                // The sender may be reading the slot: leave it.
                // SAFETY: we are the receiver and saw `COMPLETE`.
                return Poll::Ready(unsafe { self.take_value() });
            }
        }
        // Store the new waker, then publish it.
        // SAFETY: `RX_WAKER` is clear and `COMPLETE` was not set when we last
        // looked, so the sender will not read the slot until it sees the bit
        // we set below: the slot is ours (rule 2).
        self.rx_waker
            .with_mut(|p| unsafe { *p = Some(cx.waker().clone()) });
        s = self.state.fetch_or(RX_WAKER, AcqRel);
        if s & COMPLETE != 0 {
            // The sender finished without seeing our waker.
            // SAFETY: we are the receiver and saw `COMPLETE`.
            return Poll::Ready(unsafe { self.take_value() });
        }
        Poll::Pending
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waking the receiver. Never waits.
    ///
    /// Returns `Err(value)` if the receiver was dropped or closed first.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("a live Sender has a channel");
        // SAFETY: `COMPLETE` is not set (only this sender sets it, and it
        // has not), so the cell is ours (rule 1).
        inner.value.with_mut(|p| unsafe { *p = Some(value) });
        let prev = inner.complete();
        if prev & CLOSED != 0 {
            // `COMPLETE` was not set, so the cell is still ours: take it back.
            // SAFETY: as above (rule 1).
            let value = inner.value.with_mut(|p| unsafe { (*p).take() });
            return Err(value.expect("the value just stored"));
        }
        if prev & RX_WAKER != 0 {
            // SAFETY: we replaced a state with `RX_WAKER` by one with
            // `COMPLETE`.
            unsafe { inner.wake_rx() };
        }
        Ok(())
    }

    /// Whether the receiver has been dropped or closed (a `send` would fail).
    pub fn is_closed(&self) -> bool {
        self.inner().state.load(Acquire) & CLOSED != 0
    }

    /// Waits until the receiver is dropped or closed (asyncio: the awaiting
    /// side cancelled), so a producer can stop computing a value nobody
    /// wants.
    ///
    /// ```
    /// use aiolos::sync::oneshot;
    ///
    /// let rt = aiolos::Runtime::new().unwrap();
    /// rt.block_on(async {
    ///     let (mut tx, rx) = oneshot::channel::<u32>();
    ///     let watcher = aiolos::spawn(async move {
    ///         tx.closed().await;
    ///         tx.is_closed()
    ///     });
    ///     drop(rx);
    ///     assert!(watcher.await.unwrap());
    /// });
    /// ```
    pub async fn closed(&mut self) {
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Polls for the receiver's going away: `Ready` once it is dropped or
    /// closed, else `Pending` with `cx`'s waker registered (only the waker of
    /// the latest poll is woken).
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = self.inner();
        let mut s = inner.state.load(Acquire);
        if s & CLOSED != 0 {
            return Poll::Ready(());
        }
        if s & TX_WAKER != 0 {
            // SAFETY: `TX_WAKER` is set, so shared reads are allowed (rule 3).
            let same = inner
                .tx_waker
                .with(|p| unsafe { (*p).as_ref().is_some_and(|w| w.will_wake(cx.waker())) });
            if same {
                return Poll::Pending;
            }
            s = inner.state.fetch_and(!TX_WAKER, AcqRel);
            if s & CLOSED != 0 {
                // The receiver may be reading the slot: leave it.
                return Poll::Ready(());
            }
        }
        // SAFETY: `TX_WAKER` is clear and `CLOSED` was not set when we last
        // looked, so the receiver will not read the slot until it sees the
        // bit we set below: the slot is ours (rule 3).
        inner
            .tx_waker
            .with_mut(|p| unsafe { *p = Some(cx.waker().clone()) });
        s = inner.state.fetch_or(TX_WAKER, AcqRel);
        if s & CLOSED != 0 {
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// The shared channel.
    fn inner(&self) -> &Inner<T> {
        self.inner.as_ref().expect("a live Sender has a channel")
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return; // consumed by `send`
        };
        // Complete with an empty cell: the receiver gets `RecvError`.
        let prev = inner.complete();
        if prev & CLOSED == 0 && prev & RX_WAKER != 0 {
            // SAFETY: we replaced a state with `RX_WAKER` by one with
            // `COMPLETE`.
            unsafe { inner.wake_rx() };
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it has been sent, without waiting.
    ///
    /// [`TryRecvError::Empty`] means nothing was sent yet;
    /// [`TryRecvError::Closed`] means nothing ever will be (the sender was
    /// dropped, this receiver was closed, or the value was already taken).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let Some(inner) = &self.inner else {
            return Err(TryRecvError::Closed);
        };
        let s = inner.state.load(Acquire);
        if s & COMPLETE != 0 {
            // SAFETY: we are the receiver and saw `COMPLETE`.
            let res = unsafe { inner.take_value() };
            self.inner = None;
            res.map_err(|_| TryRecvError::Closed)
        } else if s & CLOSED != 0 {
            Err(TryRecvError::Closed)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Closes the channel without dropping the receiver: a later `send`
    /// fails and gives its value back, while a value sent before this call
    /// can still be received. Wakes the sender's `closed()`.
    pub fn close(&mut self) {
        if let Some(inner) = &self.inner {
            let prev = inner.state.fetch_or(CLOSED, AcqRel);
            if prev & (CLOSED | COMPLETE) == 0 && prev & TX_WAKER != 0 {
                // SAFETY: we replaced a state with `TX_WAKER` by one with
                // `CLOSED`.
                unsafe { inner.wake_tx() };
            }
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self
            .inner
            .as_ref()
            .expect("oneshot::Receiver polled after it completed");
        // Spend budget before taking anything.
        ready!(poll_proceed(cx));
        let res = ready!(inner.poll_recv(cx));
        self.inner = None;
        Poll::Ready(res)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let prev = inner.state.fetch_or(CLOSED, AcqRel);
        if prev & COMPLETE != 0 {
            // The value is ours: drop it now rather than with the last half.
            // SAFETY: we are the receiver and saw `COMPLETE`.
            drop(unsafe { inner.take_value() });
        } else if prev & CLOSED == 0 && prev & TX_WAKER != 0 {
            // SAFETY: we replaced a state with `TX_WAKER` by one with `CLOSED`.
            unsafe { inner.wake_tx() };
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.as_ref().map(|i| i.state.load(Acquire));
        f.debug_struct("Receiver")
            .field("sent", &state.is_some_and(|s| s & COMPLETE != 0))
            .field("closed", &state.is_none_or(|s| s & CLOSED != 0))
            .finish()
    }
}

/// The error of awaiting a [`Receiver`] whose [`Sender`] was dropped without
/// sending (or which was closed before anything was sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError(());

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the oneshot sender was dropped without sending a value")
    }
}

impl std::error::Error for RecvError {}

/// The error of [`Receiver::try_recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing has been sent yet; try again later or await the receiver.
    Empty,
    /// Nothing will ever be received: the sender was dropped without
    /// sending, the receiver was closed, or the value was already taken.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "the oneshot channel is empty: no value has been sent yet",
            TryRecvError::Closed => "the oneshot channel is closed: no value will be received",
        })
    }
}

impl std::error::Error for TryRecvError {}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Model checks of the state protocol: every interleaving of the two
    //! halves on two threads.

    use super::*;
    use crate::loom::model::block_on;
    use loom::thread;

    #[test]
    fn value_sent_on_another_thread_is_received() {
        loom::model(|| {
            let (tx, rx) = channel::<Box<u32>>();
            let t = thread::spawn(move || tx.send(Box::new(7)).is_ok());
            assert_eq!(block_on(rx).map(|b| *b), Ok(7));
            assert!(t.join().unwrap());
        });
    }

    #[test]
    fn sender_dropped_on_another_thread_gives_recv_error() {
        loom::model(|| {
            let (tx, rx) = channel::<u32>();
            let t = thread::spawn(move || drop(tx));
            assert_eq!(block_on(rx), Err(RecvError(())));
            t.join().unwrap();
        });
    }

    #[test]
    fn waker_swapped_between_polls_still_gets_the_wake_up() {
        loom::model(|| {
            let (tx, mut rx) = channel::<u32>();
            let t = thread::spawn(move || tx.send(1).is_ok());
            // First poll with a waker that does nothing, then wait with
            // block_on's: only the second may be relied on.
            let mut cx = Context::from_waker(Waker::noop());
            let first = Pin::new(&mut rx).poll(&mut cx);
            let got = match first {
                Poll::Ready(v) => v,
                Poll::Pending => block_on(rx),
            };
            assert_eq!(got, Ok(1));
            assert!(t.join().unwrap());
        });
    }

    #[test]
    fn receiver_drop_racing_send_either_delivers_or_returns_the_value() {
        loom::model(|| {
            let (tx, rx) = channel::<Arc<()>>();
            let value = Arc::new(());
            let sent = value.clone();
            let t = thread::spawn(move || tx.send(sent).map_err(drop).is_ok());
            drop(rx);
            t.join().unwrap();
            // Sent or returned, the copy was dropped exactly once.
            assert_eq!(Arc::strong_count(&value), 1);
        });
    }

    #[test]
    fn closed_wakes_the_sender_when_the_receiver_drops() {
        loom::model(|| {
            let (mut tx, rx) = channel::<u32>();
            let t = thread::spawn(move || {
                block_on(tx.closed());
                tx.send(3).is_err()
            });
            drop(rx);
            assert!(t.join().unwrap());
        });
    }
}
