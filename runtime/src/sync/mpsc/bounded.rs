//! The bounded channel's handles and its `send` future.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::chan::{self, Rx, Tx};
use super::error::{SendError, TryRecvError, TrySendError};
use super::semaphore::{Bounded, Semaphore, TryAcquireError, MAX_PERMITS};
use super::wait_list::WaitNode;
use crate::task::poll_proceed;

/// Creates a bounded channel that buffers up to `capacity` messages; a
/// sender that finds it full waits (in arrival order) until the receiver
/// makes room.
///
/// # Panics
///
/// If `capacity` is 0 (a zero-capacity rendezvous channel is not supported:
/// use `channel(1)`, or a [`oneshot`](crate::sync::oneshot) per hand-off), or
/// larger than `usize::MAX / 4`.
///
/// ```
/// use aiolos::sync::mpsc;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, mut rx) = mpsc::channel(16);
///     for id in 0..4u32 {
///         let tx = tx.clone();
///         aiolos::spawn(async move {
///             for i in 0..100 {
///                 tx.send(id * 1000 + i).await.unwrap();
///             }
///         });
///     }
///     drop(tx); // `recv` ends once every sender is gone
///     let mut count = 0;
///     while let Some(_msg) = rx.recv().await {
///         count += 1;
///     }
///     assert_eq!(count, 400);
/// });
/// ```
#[track_caller]
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "mpsc::channel capacity must be at least 1; use oneshot::channel for a single hand-off"
    );
    assert!(
        capacity <= MAX_PERMITS,
        "mpsc::channel capacity {capacity} is too large (the maximum is usize::MAX / 4)"
    );
    let (tx, rx) = chan::channel(Bounded::new(capacity));
    (Sender { tx }, Receiver { rx })
}

/// The sending half of a bounded [`channel`]. Clone it for more producers;
/// the receiver sees the end of the stream when every clone is dropped.
pub struct Sender<T> {
    /// The shared channel.
    tx: Tx<T, Bounded>,
}

/// The receiving half of a bounded [`channel`]. Also a
/// [`Stream`](futures_core::Stream) of the messages.
pub struct Receiver<T> {
    /// The shared channel.
    rx: Rx<T, Bounded>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room if the channel is full. Waiting
    /// senders are served first come, first served.
    ///
    /// Fails, giving the value back, if the receiver is dropped or closes
    /// the channel before there is room. Cancel-safe: dropping the future
    /// before it completes sends nothing and takes no room (room granted to
    /// it just before is passed on to the next waiting sender).
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        SendFuture {
            tx: &self.tx,
            value: Some(value),
            node: WaitNode::new(),
        }
        .await
    }

    /// Sends `value` if there is room now; `Full(value)` if not (also when
    /// earlier senders are waiting for room), `Closed(value)` if the
    /// receiver is gone.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.tx.semaphore().try_acquire() {
            Ok(()) => {
                self.tx.push(value);
                Ok(())
            }
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(value)),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(value)),
        }
    }

    /// Whether the receiver was dropped or closed the channel.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until the receiver is dropped or closes the channel.
    pub async fn closed(&self) {
        self.tx.closed().await
    }

    /// How many more messages fit right now.
    pub fn capacity(&self) -> usize {
        self.tx.semaphore().available()
    }

    /// The capacity the channel was created with.
    pub fn max_capacity(&self) -> usize {
        self.tx.semaphore().bound()
    }

    /// Whether `self` and `other` send into the same channel.
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("chan", &self.tx)
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// The future behind [`Sender::send`].
struct SendFuture<'a, T> {
    /// The channel.
    tx: &'a Tx<T, Bounded>,
    /// The message, until it is pushed or handed back.
    value: Option<T>,
    /// The node that queues this future for room (structurally pinned).
    node: WaitNode,
}

// SAFETY: the node's raw pointers are only followed under the semaphore's
// lock, from whichever thread holds it; the message is `Send`, and the
// channel handle is `Sync` for `T: Send`.
unsafe impl<T: Send> Send for SendFuture<'_, T> {}
// SAFETY: `&SendFuture` gives access to nothing.
unsafe impl<T: Send> Sync for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: the node is never moved out of the pinned future; the
        // other fields are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(
            this.value.is_some(),
            "Sender::send polled after it completed"
        );
        // Spend budget before taking anything.
        ready!(poll_proceed(cx));
        let acquired = ready!(this.tx.semaphore().poll_acquire(&mut this.node, cx));
        let value = this.value.take().expect("checked above");
        if acquired.is_err() {
            return Poll::Ready(Err(SendError(value)));
        }
        if this.tx.semaphore().is_closed() {
            // Granted room, but the receiver closed since: hand back both.
            this.tx.give_back();
            return Poll::Ready(Err(SendError(value)));
        }
        this.tx.push(value);
        Poll::Ready(Ok(()))
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if self.tx.semaphore().cancel(&mut self.node) {
            self.tx.notify_rx();
        }
    }
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting for one; `None` once every sender
    /// is gone (or the channel was closed) and the buffer is empty.
    ///
    /// Cancel-safe: a dropped `recv()` future never takes a message.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.rx.poll_recv(cx)).await
    }

    /// Polls for the next message (what `recv` does): `Ready(None)` at the
    /// end of the stream; `Pending` registers `cx`'s waker.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.rx.poll_recv(cx)
    }

    /// Receives a message if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }

    /// Closes the channel: senders fail from now on (waiting ones are woken
    /// with an error), while buffered messages, and those of senders that
    /// already had room, can still be received.
    pub fn close(&mut self) {
        self.rx.close()
    }

    /// Whether no message can arrive any more: the channel was closed or
    /// every sender is gone (buffered messages may remain).
    pub fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("chan", &self.rx).finish()
    }
}
