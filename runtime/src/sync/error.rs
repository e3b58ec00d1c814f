//! The errors of `sync`: each says in one sentence what happened, and each
//! that refuses an item gives it back.

use std::error::Error;
use std::fmt;

/// A semaphore was closed, so no permit was acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError(pub(super) ());

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the semaphore is closed, so no permit can be acquired")
    }
}

impl Error for AcquireError {}

/// A bounded semaphore was released more times than it was acquired
/// (asyncio's `ValueError` from `BoundedSemaphore.release()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseError(pub(super) ());

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "BoundedSemaphore released more times than it was acquired; \
             the release was refused to keep it within its initial count",
        )
    }
}

impl Error for ReleaseError {}

/// The queue was shut down (asyncio 3.13's `QueueShutDown`).
///
/// From [`put`](super::Queue::put) it holds the item that was not put
/// (take it back with [`into_inner`](QueueShutDown::into_inner)); from
/// [`get`](super::Queue::get) it holds `()`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct QueueShutDown<T = ()>(pub T);

impl<T> QueueShutDown<T> {
    /// The item that could not be put.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for QueueShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueShutDown(..)")
    }
}

impl<T> fmt::Display for QueueShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is shut down (and, for a get, has no items left)")
    }
}

impl<T> Error for QueueShutDown<T> {}

/// Why [`put_nowait`](super::Queue::put_nowait) failed (asyncio's
/// `QueueFull`, or `QueueShutDown`); either way the item comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum QueueFull<T> {
    /// The queue is at its `maxsize`.
    Full(T),
    /// The queue was shut down.
    ShutDown(T),
}

impl<T> QueueFull<T> {
    /// The item that could not be put.
    pub fn into_inner(self) -> T {
        match self {
            QueueFull::Full(item) | QueueFull::ShutDown(item) => item,
        }
    }

    /// Whether the queue was full (rather than shut down).
    pub fn is_full(&self) -> bool {
        matches!(self, QueueFull::Full(_))
    }

    /// Whether the queue was shut down.
    pub fn is_shut_down(&self) -> bool {
        matches!(self, QueueFull::ShutDown(_))
    }
}

impl<T> fmt::Debug for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueFull::Full(_) => f.write_str("Full(..)"),
            QueueFull::ShutDown(_) => f.write_str("ShutDown(..)"),
        }
    }
}

impl<T> fmt::Display for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueueFull::Full(_) => "the queue is full; the item was not put",
            QueueFull::ShutDown(_) => "the queue is shut down; the item was not put",
        })
    }
}

impl<T> Error for QueueFull<T> {}

/// Why [`get_nowait`](super::Queue::get_nowait) failed (asyncio's
/// `QueueEmpty`, or `QueueShutDown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEmpty {
    /// No item is ready (it may come later).
    Empty,
    /// The queue was shut down and has no items left: none will come.
    ShutDown,
}

impl QueueEmpty {
    /// Whether the queue was merely empty.
    pub fn is_empty(&self) -> bool {
        *self == QueueEmpty::Empty
    }

    /// Whether the queue was shut down and drained.
    pub fn is_shut_down(&self) -> bool {
        *self == QueueEmpty::ShutDown
    }
}

impl fmt::Display for QueueEmpty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueueEmpty::Empty => "the queue is empty",
            QueueEmpty::ShutDown => "the queue is shut down and has no items left",
        })
    }
}

impl Error for QueueEmpty {}
