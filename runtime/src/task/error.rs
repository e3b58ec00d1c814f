//! Why a task produced no value.

use std::any::Any;
use std::fmt;

/// Why awaiting a [`Task`](crate::Task) gave no value: asyncio's
/// `CancelledError`, or the exception that escaped the coroutine.
pub enum TaskError {
    /// The task was cancelled (by [`Task::cancel`](crate::Task::cancel), by
    /// runtime shutdown, or because it was spawned after shutdown) before it
    /// finished.
    Cancelled,
    /// The task panicked; the payload is inside.
    Panicked(PanicPayload),
}

/// The payload of a panic caught in a task.
///
/// It is `Send + Sync` so that `TaskError` can travel in `anyhow`-style error
/// types: the payload itself is only reachable by value
/// ([`into_inner`](PanicPayload::into_inner)), and the message was copied out
/// when the panic was caught.
pub struct PanicPayload {
    /// The payload `panic!` produced.
    payload: Box<dyn Any + Send + 'static>,
    /// The message, when the payload is a `&str` or a `String`.
    message: Option<String>,
}

// SAFETY: the only `&self` access is to `message`, a `String`; the
// `dyn Any + Send` payload is reachable only by value through `into_inner`, so
// no two threads can ever touch it at once.
unsafe impl Sync for PanicPayload {}

impl PanicPayload {
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> PanicPayload {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            Some((*s).to_owned())
        } else {
            payload.downcast_ref::<String>().cloned()
        };
        PanicPayload { payload, message }
    }

    /// The panic message, when the panic carried a string.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The payload, e.g. to `std::panic::resume_unwind` it.
    pub fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.payload
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.debug_tuple("PanicPayload").field(m).finish(),
            None => f.write_str("PanicPayload(..)"),
        }
    }
}

impl TaskError {
    pub(crate) fn panicked(payload: Box<dyn Any + Send + 'static>) -> TaskError {
        TaskError::Panicked(PanicPayload::new(payload))
    }

    /// True for [`TaskError::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// True for [`TaskError::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// The panic payload.
    ///
    /// # Panics
    ///
    /// When the error is [`TaskError::Cancelled`]; use
    /// [`try_into_panic`](TaskError::try_into_panic) to find out first.
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        match self {
            TaskError::Panicked(p) => p.into_inner(),
            TaskError::Cancelled => {
                panic!("TaskError::into_panic called on a cancellation, not a panic; check is_panic() first")
            }
        }
    }

    /// The panic payload, or the error back when it was a cancellation.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, TaskError> {
        match self {
            TaskError::Panicked(p) => Ok(p.into_inner()),
            other => Err(other),
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("Cancelled"),
            TaskError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
        }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("task was cancelled"),
            TaskError::Panicked(p) => match p.message() {
                Some(m) => write!(f, "task panicked: {m}"),
                None => f.write_str("task panicked"),
            },
        }
    }
}

impl std::error::Error for TaskError {}
