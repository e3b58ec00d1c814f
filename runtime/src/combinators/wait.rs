//! [`wait`]: wait for tasks until some condition or a timeout, without
//! cancelling or consuming any of them (asyncio's `wait`).

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::ready::ReadyQueue;
use crate::task::Task;
use crate::time::{Instant, Sleep};

/// When [`wait`] returns (asyncio's `return_when`; the default is
/// `AllCompleted`, as in asyncio).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReturnWhen {
    /// As soon as any task has finished (`FIRST_COMPLETED`).
    FirstCompleted,
    /// As soon as any task has finished with an error (it was cancelled or
    /// panicked), or when all have finished (`FIRST_EXCEPTION`).
    FirstException,
    /// When all tasks have finished (`ALL_COMPLETED`).
    #[default]
    AllCompleted,
}

/// Waits for `tasks` until `return_when` holds or `timeout` passes, and
/// gives them back as `(done, pending)`, each in input order (asyncio's
/// `wait(fs, timeout=, return_when=)`).
///
/// Every task in `done` has finished, so awaiting it is immediate; the
/// tasks in `pending` keep running. A timeout is not an error: it returns
/// the same pair. `wait` never cancels anything, not even when the `Wait`
/// is dropped early (the tasks it holds are then detached). An empty input
/// gives two empty `Vec`s at once, whatever `return_when` says.
///
/// # Panics
///
/// When a `Wait` with a timeout is polled outside an aiolos runtime.
///
/// ```
/// use std::time::Duration;
/// use aiolos::ReturnWhen;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let quick = aiolos::spawn(async { 1 });
///     let stuck = aiolos::spawn(std::future::pending::<i32>());
///     let (done, pending) =
///         aiolos::wait([quick, stuck], ReturnWhen::FirstCompleted, None).await;
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     assert_eq!(done.into_iter().next().unwrap().await.unwrap(), 1);
///     // Still running: time out after 10 ms instead.
///     let (done, pending) =
///         aiolos::wait(pending, ReturnWhen::AllCompleted, Some(Duration::from_millis(10))).await;
///     assert!(done.is_empty());
///     pending[0].cancel();
/// });
/// ```
pub fn wait<I, T>(tasks: I, return_when: ReturnWhen, timeout: Option<Duration>) -> Wait<T>
where
    I: IntoIterator<Item = Task<T>>,
{
    let tasks: Vec<Task<T>> = tasks.into_iter().collect();
    let n = tasks.len();
    Wait {
        finished: vec![false; n],
        tasks,
        queue: ReadyQueue::new(n),
        return_when,
        count: 0,
        failed: false,
        deadline: timeout.map(|t| Instant::now() + t),
        sleep: None,
    }
}

/// The future of [`wait`]: `(done, pending)`.
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<T> {
    /// The tasks, in input order.
    tasks: Vec<Task<T>>,
    /// Which tasks were seen to finish.
    finished: Vec<bool>,
    /// Which tasks were woken.
    queue: ReadyQueue,
    /// The condition to return on.
    return_when: ReturnWhen,
    /// How many tasks were seen to finish.
    count: usize,
    /// Whether one of them finished with an error.
    failed: bool,
    /// When to give up waiting, if ever.
    deadline: Option<Instant>,
    /// The timer for `deadline`, made on the first poll.
    sleep: Option<Sleep>,
}

impl<T> Wait<T> {
    /// Whether `return_when` holds.
    fn satisfied(&self) -> bool {
        match self.return_when {
            ReturnWhen::FirstCompleted => self.count > 0,
            ReturnWhen::FirstException => self.failed || self.count == self.tasks.len(),
            ReturnWhen::AllCompleted => self.count == self.tasks.len(),
        }
    }

    /// Splits the tasks into finished and unfinished ones.
    fn split(&mut self) -> (Vec<Task<T>>, Vec<Task<T>>) {
        self.tasks.drain(..).partition(Task::is_finished)
    }
}

impl<T> Future for Wait<T> {
    type Output = (Vec<Task<T>>, Vec<Task<T>>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.tasks.is_empty() {
            return Poll::Ready((Vec::new(), Vec::new()));
        }
        // Look at the tasks that were woken.
        let Wait {
            tasks,
            finished,
            queue,
            count,
            failed,
            ..
        } = this;
        let flow = queue.poll_queued(cx, |i, cx| {
            if finished[i] || tasks[i].poll_finished(cx).is_pending() {
                return ControlFlow::Continue(());
            }
            finished[i] = true;
            *count += 1;
            *failed |= tasks[i].failed() == Some(true);
            ControlFlow::<()>::Continue(())
        });
        debug_assert!(flow.is_continue());
        if this.satisfied() {
            return Poll::Ready(this.split());
        }
        // Then at the clock.
        if let Some(deadline) = this.deadline {
            let sleep = this
                .sleep
                .get_or_insert_with(|| Sleep::new(deadline, "aiolos::wait with a timeout"));
            if sleep.poll_deadline(cx).is_ready() {
                return Poll::Ready(this.split());
            }
        }
        Poll::Pending
    }
}

impl<T> Drop for Wait<T> {
    fn drop(&mut self) {
        // `wait` never cancels, even when dropped inside a cancel scope.
        for task in self.tasks.drain(..) {
            task.detach_uncancelled();
        }
    }
}

impl<T> fmt::Debug for Wait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("tasks", &self.tasks.len())
            .field("finished", &self.count)
            .field("return_when", &self.return_when)
            .field("deadline", &self.deadline)
            .finish()
    }
}
