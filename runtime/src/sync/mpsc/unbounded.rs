//! The unbounded channel's handles.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::chan::{self, Rx, Tx};
use super::error::{SendError, TryRecvError};
use super::semaphore::{Semaphore, Unbounded};

/// Creates a channel without a bound: `send` never waits, and messages pile
/// up in memory (in blocks of slots) if the receiver falls behind.
///
/// ```
/// use aiolos::sync::mpsc;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (tx, mut rx) = mpsc::unbounded();
///     for i in 0..1000u32 {
///         tx.send(i).unwrap(); // not async
///     }
///     drop(tx);
///     let mut sum = 0;
///     while let Some(i) = rx.recv().await {
///         sum += i;
///     }
///     assert_eq!(sum, 499_500);
/// });
/// ```
pub fn unbounded<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let (tx, rx) = chan::channel(Unbounded::new());
    (UnboundedSender { tx }, UnboundedReceiver { rx })
}

/// The sending half of an [`unbounded`] channel. Clone it for more
/// producers.
pub struct UnboundedSender<T> {
    /// The shared channel.
    tx: Tx<T, Unbounded>,
}

/// The receiving half of an [`unbounded`] channel. Also a
/// [`Stream`](futures_core::Stream) of the messages.
pub struct UnboundedReceiver<T> {
    /// The shared channel.
    rx: Rx<T, Unbounded>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` without waiting; fails, giving it back, if the receiver
    /// was dropped or closed the channel.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.tx.semaphore().try_acquire() {
            Ok(()) => {
                self.tx.push(value);
                Ok(())
            }
            Err(_) => Err(SendError(value)),
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

    /// Whether `self` and `other` send into the same channel.
    pub fn same_channel(&self, other: &UnboundedSender<T>) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        UnboundedSender {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("chan", &self.tx)
            .finish()
    }
}

impl<T> UnboundedReceiver<T> {
    /// Receives the next message, waiting for one; `None` once every sender
    /// is gone (or the channel was closed) and the buffer is empty.
    ///
    /// Cancel-safe: a dropped `recv()` future never takes a message.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.rx.poll_recv(cx)).await
    }

    /// Polls for the next message (what `recv` does).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.rx.poll_recv(cx)
    }

    /// Receives a message if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.rx.try_recv()
    }

    /// Closes the channel: senders fail from now on, while buffered
    /// messages can still be received.
    pub fn close(&mut self) {
        self.rx.close()
    }

    /// Whether no message can arrive any more: the channel was closed or
    /// every sender is gone (buffered messages may remain).
    pub fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }
}

impl<T> futures_core::Stream for UnboundedReceiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("chan", &self.rx)
            .finish()
    }
}
