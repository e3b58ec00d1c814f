//! `task::Builder`: spawn with options (asyncio's `create_task(coro, name=)`).

use std::future::Future;
use std::panic::Location;

use super::Task;
use crate::runtime::Handle;
use crate::scheduler::Shared;

/// Spawns a task with options, such as a name.
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let task = aiolos::task::Builder::new().name("fetch").spawn(async { 1 });
///     assert_eq!(task.name(), Some("fetch"));
///     assert_eq!(task.await.unwrap(), 1);
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    /// The name the task will carry.
    name: Option<String>,
}

impl Builder {
    /// A builder with no options set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task; the name shows in [`Task::name`] and in task listings.
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns on the current runtime, like [`crate::spawn`].
    ///
    /// # Panics
    ///
    /// Outside a runtime; use [`spawn_on`](Builder::spawn_on) there.
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (name, location) = (self.name, Location::caller());
        match crate::context::with_current(move |shared| {
            Shared::spawn(shared, future, name, location)
        }) {
            Some(task) => task,
            None => panic!("{}", crate::context::no_runtime("task::Builder::spawn")),
        }
    }

    /// Spawns on the runtime of `handle`, from any thread.
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        super::spawn_on(handle, future, self.name, Location::caller())
    }

    /// Runs a blocking function on the current runtime's blocking pool, like
    /// [`crate::spawn_blocking`].
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<F, R>(self, f: F) -> Task<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (name, location) = (self.name, Location::caller());
        match crate::context::with_current(move |shared| {
            Shared::spawn_blocking(shared, f, name, location)
        }) {
            Some(task) => task,
            None => panic!(
                "{}",
                crate::context::no_runtime("task::Builder::spawn_blocking")
            ),
        }
    }
}
