//! `Handle`: a cheap, thread-safe reference to a runtime (asyncio's
//! `call_soon_threadsafe` / `run_coroutine_threadsafe` entry point).

use std::future::Future;
use std::panic::Location;

use crate::loom::Arc;
use crate::scheduler::Shared;
use crate::task::Task;

/// A reference to a runtime that can spawn onto it from any thread.
///
/// `Handle` is `Clone + Send + Sync`; give one to plain threads and they can
/// [`spawn`](Handle::spawn) tasks (asyncio's `run_coroutine_threadsafe`) and
/// wait for them with [`block_on`](Handle::block_on).
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let handle = rt.handle();
/// let answer = std::thread::spawn(move || {
///     let task = handle.spawn(async { 40 + 2 });
///     handle.block_on(task).unwrap()
/// })
/// .join()
/// .unwrap();
/// assert_eq!(answer, 42);
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("shared", &self.shared)
            .finish()
    }
}

impl Handle {
    /// The runtime of the current task, `block_on` or `spawn_blocking` job.
    ///
    /// # Panics
    ///
    /// Outside a runtime, with a message saying how to get a handle there.
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Some(h) => h,
            None => panic!("{}", crate::context::no_runtime("Handle::current")),
        }
    }

    /// The current runtime, or `None` outside one.
    pub fn try_current() -> Option<Handle> {
        crate::context::with_current(|shared| Handle {
            shared: shared.clone(),
        })
    }

    /// Spawns a task on this runtime, from any thread.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Shared::spawn(&self.shared, future, None, Location::caller())
    }

    /// Runs a blocking function on this runtime's blocking pool.
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> Task<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        Shared::spawn_blocking(&self.shared, f, None, Location::caller())
    }

    /// Every live task of this runtime, from any thread (see
    /// [`task::all_tasks`](crate::task::all_tasks)).
    pub fn all_tasks(&self) -> Vec<crate::task::TaskInfo> {
        crate::task::TaskInfo::all(&self.shared)
    }

    /// A snapshot of this runtime's counters: per-worker polls, steals,
    /// parks, LIFO-slot hits and queue depths, the injector, tasks alive and
    /// spawned, the blocking pool, timers and I/O registrations (see
    /// [`RuntimeMetrics`](super::RuntimeMetrics) for where each comes from).
    /// Cheap enough to call every second; the counters behind it cost the
    /// scheduler a relaxed load and store each.
    pub fn metrics(&self) -> super::RuntimeMetrics {
        super::metrics::collect(&self.shared)
    }

    /// Every live task as a table, one row per task in id order: id, state,
    /// polls, time since spawn and since the last poll, name, and where it
    /// was spawned (a formatted [`all_tasks`](Handle::all_tasks)).
    ///
    /// ```
    /// let rt = aiolos::Runtime::new().unwrap();
    /// let handle = rt.handle();
    /// let t = aiolos::task::Builder::new()
    ///     .name("waiter")
    ///     .spawn_on(std::future::pending::<()>(), &handle);
    /// let dump = handle.dump();
    /// assert!(dump.lines().any(|l| l.contains("waiter")));
    /// t.cancel();
    /// ```
    pub fn dump(&self) -> String {
        super::dump::format(self.all_tasks())
    }

    /// Cancels this runtime's live task with this id, from any thread (see
    /// [`task::cancel`](crate::task::cancel)).
    pub fn cancel_task(&self, id: crate::TaskId) -> bool {
        self.shared
            .owned
            .cancel_ref(id)
            .is_some_and(|t| t.cancel(false))
    }

    /// Polls `future` on this thread until it completes, with this runtime
    /// entered (so `aiolos::spawn` works inside). See [`Runtime::block_on`].
    ///
    /// # Panics
    ///
    /// On a worker thread or inside another `block_on`.
    ///
    /// [`Runtime::block_on`]: crate::Runtime::block_on
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        super::block_on::block_on(&self.shared, future)
    }
}

impl Handle {
    /// Runs `f` on the loop as soon as possible (asyncio's `call_soon` and
    /// `call_soon_threadsafe`: callable from any thread). Callbacks run one
    /// at a time, in the order they were made ready, on a worker thread.
    pub fn call_soon<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        super::Callbacks::push(&self.shared, Box::new(f));
    }

    /// Runs `f` on the loop after `delay` (asyncio's `call_later`); the
    /// returned handle can cancel it. Never earlier than the delay.
    pub fn call_later<F>(&self, delay: std::time::Duration, f: F) -> super::TimerHandle
    where
        F: FnOnce() + Send + 'static,
    {
        self.call_at(crate::time::Instant::now() + delay, f)
    }

    /// Runs `f` on the loop at `when` (asyncio's `call_at`, with
    /// `Instant::now()` as `loop.time()`).
    pub fn call_at<F>(&self, when: crate::time::Instant, f: F) -> super::TimerHandle
    where
        F: FnOnce() + Send + 'static,
    {
        super::TimerHandle::schedule(&self.shared, when, Box::new(f))
    }

    /// Makes [`Runtime::run_forever`](crate::Runtime::run_forever) return
    /// (asyncio's `loop.stop()`), from any thread, a task or a callback. If
    /// no `run_forever` is running, the next one returns at once.
    pub fn stop(&self) {
        self.shared.callbacks.stop();
    }
}
