//! [`shield`]: await a task without ever cancelling it (asyncio's `shield`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::task::{Task, TaskError};

/// Wraps `task` so that nothing cancels it through the wrapper (asyncio's
/// `shield(aw)`): dropping the [`Shield`] detaches the task, even where a
/// dropped [`Task`] would be cancelled, that is when a
/// [`gather`](crate::gather()), [`gather!`](crate::gather!) or
/// [`try_gather`](crate::try_gather) gives up on it, or when the task that
/// owns it is cancelled by a gather or a [`TaskGroup`](crate::TaskGroup).
/// Awaiting it gives the task's result. [`Task::cancel`] on the task itself
/// still works (get it back with [`into_task`](Shield::into_task)).
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel();
/// rt.block_on(async {
///     let important = aiolos::spawn(async { 6 * 7 });
///     important.add_done_callback(move |res| tx.send(res.is_ok()).unwrap());
///     let gathered = aiolos::gather!(aiolos::shield(important), std::future::pending::<()>());
///     // Giving up on the gather detaches the shielded task instead of
///     // cancelling it.
///     drop(gathered);
/// });
/// assert!(rx.recv().unwrap(), "the shielded task ran to its end");
/// ```
pub fn shield<T>(task: Task<T>) -> Shield<T> {
    Shield { task: Some(task) }
}

/// A task that is never cancelled through this handle; see [`shield`].
#[must_use = "futures do nothing unless awaited"]
pub struct Shield<T> {
    /// The task; `None` only after `into_task`.
    task: Option<Task<T>>,
}

impl<T> Shield<T> {
    /// The shielded task.
    pub fn task(&self) -> &Task<T> {
        self.task.as_ref().expect("a Shield always holds its task")
    }

    /// Takes the task back out (it is no longer shielded).
    pub fn into_task(mut self) -> Task<T> {
        self.task.take().expect("a Shield always holds its task")
    }
}

impl<T> Future for Shield<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, TaskError>> {
        let task = self.task.as_mut().expect("a Shield always holds its task");
        Pin::new(task).poll(cx)
    }
}

impl<T> Drop for Shield<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach_uncancelled();
        }
    }
}

impl<T> fmt::Debug for Shield<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shield").field(&self.task).finish()
    }
}
