//! The runtime: `Runtime`, `Builder`, `Handle`, `block_on`, and the
//! runtime's introspection (`metrics`, `dump`).

mod block_on;
mod builder;
mod callbacks;
mod dump;
mod handle;
mod metrics;

use std::future::Future;
use std::io;
use std::sync::{Arc as StdArc, OnceLock};
use std::thread;
use std::time::Duration;

pub use builder::Builder;
pub(crate) use builder::Config;
pub(crate) use callbacks::Callbacks;
pub use callbacks::TimerHandle;
pub use handle::Handle;
pub(crate) use metrics::{bump, WorkerCounters, INTROSPECTION};
pub use metrics::{RuntimeMetrics, WorkerMetrics};

use crate::loom::Arc;
use crate::scheduler::{
    clock::tick_for,
    worker::{Local, Queues},
    Shared,
};
use crate::task::Task;

/// A multi-threaded, work-stealing runtime: asyncio's event loop, on N
/// threads.
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let out = rt.block_on(async {
///     let a = aiolos::spawn(async { 1 });
///     let b = aiolos::spawn_blocking(|| 2);
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(out, 3);
/// ```
///
/// Dropping the runtime shuts it down: workers stop, every task's future is
/// dropped before `drop` returns, and running `spawn_blocking` jobs are waited
/// for (use [`shutdown_timeout`](Runtime::shutdown_timeout) to bound that).
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    /// Worker join handles; empty once shut down.
    workers: Vec<thread::JoinHandle<()>>,
    /// The reactor thread (timers, and I/O later).
    reactor: aiolos_io::Reactor,
}

impl Runtime {
    /// A runtime with one worker per CPU and default settings.
    ///
    /// # Errors
    ///
    /// When a thread cannot be started.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Starts the threads of a runtime with `config`.
    fn start(config: Config) -> io::Result<Runtime> {
        // How sockets find the current runtime's reactor and the budget.
        aiolos_io::context::install(aiolos_io::context::Hooks {
            current: || crate::context::with_current(|shared| shared.driver.clone()),
            coop: crate::task::poll_proceed,
        });
        let n = config.worker_threads;
        let queues: Vec<_> = (0..n).map(|_| Queues::new()).collect();
        let stealers = queues.iter().map(Queues::stealers).collect();

        // The reactor starts first; it learns about the scheduler (to hand it
        // fired wakers) once the scheduler exists.
        let scheduler: StdArc<OnceLock<Arc<Shared>>> = StdArc::new(OnceLock::new());
        let for_reactor = scheduler.clone();
        let for_watch = scheduler.clone();
        let for_tick = scheduler.clone();
        // Debug mode's coarse poll timing: the reactor keeps the coarse
        // clock moving while a worker is awake (`scheduler/clock.rs`).
        let busy_tick = tick_for(config.slow_poll_threshold).map(|period| aiolos_io::BusyTick {
            period,
            on_turn: Box::new(move |now| match for_tick.get() {
                Some(shared) => {
                    shared.clock.set_if_live(now);
                    !shared.idle.all_parked()
                }
                // The workers are starting (they start awake).
                None => true,
            }),
        });
        let reactor = aiolos_io::Reactor::start(aiolos_io::Config {
            thread_name: format!("{}-reactor", config.thread_name),
            on_thread_start: config.on_thread_start.clone(),
            on_thread_stop: config.on_thread_stop.clone(),
            wake_batch: Box::new(move |wakers, woken| match for_reactor.get() {
                Some(shared) => shared.wake_batch(wakers, woken),
                None => wakers.drain(..).for_each(|w| w.wake()),
            }),
            workers: n,
            all_parked: Box::new(move || match for_watch.get() {
                Some(shared) => shared.idle.all_parked(),
                None => true,
            }),
            busy_tick,
        })?;
        let shared = Arc::new(Shared::new(stealers, config, reactor.driver().clone()));
        let _ = scheduler.set(shared.clone());
        let mut rt = Runtime {
            handle: Handle {
                shared: shared.clone(),
            },
            workers: Vec::with_capacity(n),
            reactor,
        };
        for (index, queues) in queues.into_iter().enumerate() {
            let shared = shared.clone();
            let spawned = thread::Builder::new()
                .name(format!("{}-worker-{index}", shared.config.thread_name))
                .spawn(move || {
                    if let Some(f) = &shared.config.on_thread_start {
                        f();
                    }
                    let stop = shared.config.on_thread_stop.clone();
                    Local::new(index, shared, queues).run();
                    if let Some(f) = stop {
                        f();
                    }
                });
            match spawned {
                Ok(h) => rt.workers.push(h),
                // Dropping `rt` stops the workers started so far.
                Err(e) => return Err(e),
            }
        }
        Ok(rt)
    }

    /// Runs `future` to completion on the calling thread, with this runtime
    /// entered so that `aiolos::spawn` works inside it (asyncio's
    /// `run_until_complete`). Spawned tasks run on the workers meanwhile.
    ///
    /// # Panics
    ///
    /// When called on a worker thread or inside another `block_on`, with
    /// "cannot call block_on from inside an aiolos runtime; use .await or
    /// spawn": blocking a worker on a future could deadlock the runtime.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Spawns a task (see [`crate::spawn`]).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking function on the blocking pool (see
    /// [`crate::spawn_blocking`]).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> Task<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// A handle for spawning from other threads.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Blocks the calling thread until [`Handle::stop`] is called (asyncio's
    /// `loop.run_forever()`); tasks and callbacks run on the workers
    /// meanwhile. A `stop()` that came while no `run_forever` was running
    /// makes this return at once. It can be called again afterwards.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = aiolos::Runtime::new().unwrap();
    /// let handle = rt.handle();
    /// let h = handle.clone();
    /// handle.call_later(Duration::from_millis(10), move || h.stop());
    /// rt.run_forever(); // returns once the callback stops the loop
    /// ```
    ///
    /// # Panics
    ///
    /// On a worker thread or inside `block_on` (like `block_on`), or while
    /// another thread is in `run_forever` of the same runtime.
    #[track_caller]
    pub fn run_forever(&self) {
        if crate::context::block_on_forbidden() {
            panic!(
                "cannot call run_forever from inside an aiolos runtime (a task or block_on); \
                 call it from the thread that owns the Runtime"
            );
        }
        let callbacks = &self.handle.shared.callbacks;
        self.block_on(callbacks::wait_for_stop(callbacks));
    }

    /// Shuts down: cancels every task (dropping its future), then waits up to
    /// `timeout` for running `spawn_blocking` jobs, which cannot be
    /// interrupted; those still running after that are left to finish on
    /// their own threads, and their results are discarded.
    ///
    /// Tasks get no chance to finish: for a server that should let its
    /// clients finish first, see [the shutdown
    /// pattern](crate#graceful-shutdown).
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.shutdown(Some(timeout));
    }

    /// The shutdown sequence (steps in `scheduler/worker.rs`).
    fn shutdown(&mut self, timeout: Option<Duration>) {
        if self.workers.is_empty() && self.handle.shared.is_shutdown() {
            return;
        }
        let shared = &self.handle.shared;
        // Enter the runtime so that destructors of futures can still find it
        // (spawns from them are refused as cancelled).
        let _enter = crate::context::enter(shared, false);

        // 1. Refuse new tasks and wake every worker.
        shared.begin_shutdown();
        // 2. Wait for the workers to stop (not for ourselves, if a task is
        //    dropping its own runtime).
        let me = thread::current().id();
        for w in self.workers.drain(..) {
            if w.thread().id() != me {
                let _ = w.join();
            }
        }
        // 3. Drop queued references, then cancel every task.
        shared.drain_injector();
        shared.cancel_all_tasks();
        shared.callbacks.clear();
        // 4. Stop the reactor: pending timers and their wakers go with it.
        self.reactor.shutdown();
        // 5. Stop the blocking pool.
        shared.blocking.shutdown(timeout);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown(None);
    }
}
