//! Tasks: spawning, the [`Task`] handle, names, yielding, the cooperative
//! budget and introspection (asyncio's `create_task`, `Task`, `sleep(0)`,
//! `current_task()`, `all_tasks()`).
//!
//! A task is one heap allocation (`raw.rs`): a [`HEADER_SIZE`]-byte header
//! (state word with reference count, vtable, id, owned-list slot, poll
//! count and time of the last poll, name, runtime pointer, join waker)
//! followed by the future, whose output later takes its place in the same
//! slot. Where and when a task was spawned is kept in its owned-list slot.

mod builder;
pub(crate) mod cascade;
mod coop;
pub(crate) mod debug;
mod error;
mod handle;
mod id;
mod info;
#[cfg(all(test, loom))]
mod loom_tests;
pub(crate) mod owned;
pub(crate) mod raw;
pub(crate) mod state;
mod waker;

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use builder::Builder;
pub use coop::consume_budget;
pub(crate) use coop::{poll_proceed, BUDGET as BUDGET_PER_TURN};
pub(crate) use debug::set_timing as set_poll_timing;
pub use debug::TaskPanic;
pub use error::{PanicPayload, TaskError};
pub(crate) use handle::CancelRef;
pub use handle::Task;
pub use id::TaskId;
pub use info::{all_tasks, cancel, current, TaskInfo, TaskState};
pub use raw::HEADER_SIZE;

use crate::runtime::Handle;
use crate::scheduler::Shared;

/// Spawns a task on the current runtime (asyncio's `create_task`): it starts
/// running at once on a worker thread, whether or not the returned [`Task`] is
/// awaited.
///
/// # Panics
///
/// Outside a runtime (not in a task, `block_on` or `spawn_blocking` job):
/// use `Runtime::spawn` or `Handle::spawn` there.
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let tasks: Vec<_> = (0..10u64).map(|i| aiolos::spawn(async move { i * i })).collect();
///     let mut sum = 0;
///     for t in tasks {
///         sum += t.await.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 285);
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let location = Location::caller();
    match crate::context::with_current(|shared| Shared::spawn(shared, future, None, location)) {
        Some(task) => task,
        None => panic!("{}", crate::context::no_runtime("aiolos::spawn")),
    }
}

/// Runs a blocking function on the runtime's blocking pool and returns a
/// [`Task`] for its result (asyncio's `loop.run_in_executor(None, f)`).
///
/// Threads are started on demand up to `Builder::max_blocking_threads` and
/// reused while idle; jobs beyond that wait in FIFO order.
///
/// # Panics
///
/// Outside a runtime: use `Runtime::spawn_blocking` or `Handle::spawn_blocking`.
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> Task<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let location = Location::caller();
    match crate::context::with_current(|shared| Shared::spawn_blocking(shared, f, None, location)) {
        Some(task) => task,
        None => panic!("{}", crate::context::no_runtime("aiolos::spawn_blocking")),
    }
}

/// Gives other tasks a turn: the current task goes to the back of its
/// worker's queue (asyncio's `await asyncio.sleep(0)`). It works under any
/// executor, since it only wakes itself once.
pub async fn yield_now() {
    YieldNow(false).await
}

/// The future behind [`yield_now`].
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A `spawn_blocking` job as a future: runs the function on its first poll.
pub(crate) struct BlockingTask<F>(Option<F>);

impl<F> BlockingTask<F> {
    pub(crate) fn new(f: F) -> BlockingTask<F> {
        BlockingTask(Some(f))
    }
}

impl<F> Unpin for BlockingTask<F> {}

impl<F: FnOnce() -> R, R> Future for BlockingTask<F> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self.0.take().expect("a blocking job ran twice");
        // Blocking code is not cooperative: lift the budget.
        crate::context::budget_unconstrained();
        Poll::Ready(f())
    }
}

/// Spawns on `handle`, used by [`Builder::spawn_on`].
pub(crate) fn spawn_on<F>(
    handle: &Handle,
    future: F,
    name: Option<String>,
    location: &'static Location<'static>,
) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Shared::spawn(&handle.shared, future, name, location)
}
