//! [`as_completed`]: task results in the order the tasks finish (asyncio's
//! `as_completed`).

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};

use super::ready::ReadyQueue;
use crate::task::{Task, TaskError};

/// A stream of the tasks' results in the order the tasks finish (asyncio's
/// `as_completed(fs)`); it ends after the last one.
///
/// Only the tasks that were woken are looked at again, so draining n tasks
/// is O(n) work. Dropping the stream early detaches the tasks it still
/// holds: like asyncio's, it never cancels them.
///
/// ```
/// use futures::StreamExt; // for `next()`
///
/// let rt = aiolos::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let tasks = (1..=3u32).map(|i| aiolos::spawn(async move { i * 10 }));
///     let mut results = aiolos::as_completed(tasks);
///     let mut sum = 0;
///     while let Some(res) = results.next().await {
///         sum += res.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 60);
/// ```
pub fn as_completed<I, T>(tasks: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = Task<T>>,
{
    let tasks: Vec<Option<Task<T>>> = tasks.into_iter().map(Some).collect();
    let n = tasks.len();
    AsCompleted {
        tasks,
        queue: ReadyQueue::new(n),
        remaining: n,
    }
}

/// The stream of [`as_completed`].
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<T> {
    /// The tasks in input order; `None` once its result was yielded.
    tasks: Vec<Option<Task<T>>>,
    /// Which tasks were woken.
    queue: ReadyQueue,
    /// Results not yielded yet.
    remaining: usize,
}

impl<T> Stream for AsCompleted<T> {
    type Item = Result<T, TaskError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let AsCompleted {
            tasks,
            queue,
            remaining,
        } = this;
        let flow = queue.poll_queued(cx, |i, cx| {
            let Some(task) = &mut tasks[i] else {
                return ControlFlow::Continue(());
            };
            match Pin::new(task).poll(cx) {
                Poll::Ready(res) => {
                    tasks[i] = None;
                    *remaining -= 1;
                    ControlFlow::Break(res)
                }
                Poll::Pending => ControlFlow::Continue(()),
            }
        });
        match flow {
            ControlFlow::Break(res) => Poll::Ready(Some(res)),
            ControlFlow::Continue(()) => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> FusedStream for AsCompleted<T> {
    fn is_terminated(&self) -> bool {
        self.remaining == 0
    }
}

impl<T> Drop for AsCompleted<T> {
    fn drop(&mut self) {
        // `as_completed` never cancels, even when dropped inside a cancel
        // scope.
        for task in self.tasks.drain(..).flatten() {
            task.detach_uncancelled();
        }
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("tasks", &self.tasks.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}
