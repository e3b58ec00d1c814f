//! The errors of the mpsc channels. Those carrying an unsent message give it
//! back (`into_inner`) and print without needing `T: Debug`.

use std::fmt;

/// The error of `send`: the receiver was dropped or closed the channel;
/// the message is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> SendError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the channel is closed: the receiver was dropped or called close()")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// The error of `try_send`; the message is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel is at capacity (or earlier senders are waiting for room);
    /// try again later, or use `send(..).await` to wait.
    Full(T),
    /// The receiver was dropped or closed the channel.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The message that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }

    /// Whether the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// Whether the channel was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Closed(e.0)
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => {
                "the channel is full: wait with send(..).await or receive some messages first"
            }
            TrySendError::Closed(_) => {
                "the channel is closed: the receiver was dropped or called close()"
            }
        })
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// The error of `try_recv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No message is ready now, but senders remain; await `recv()` instead.
    Empty,
    /// No message will ever come: every sender is gone (or the channel was
    /// closed) and the buffer is empty.
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryRecvError::Empty => "the channel is empty: no message is ready yet",
            TryRecvError::Disconnected => {
                "the channel is empty and disconnected: every sender is gone or it was closed"
            }
        })
    }
}

impl std::error::Error for TryRecvError {}
