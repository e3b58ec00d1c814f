//! `Builder`: runtime settings (asyncio has one loop; aiolos lets you size it).

use std::fmt;
use std::io;
use std::sync::Arc as StdArc;
use std::time::Duration;

use super::Runtime;
use crate::task::TaskPanic;

/// A thread start or stop hook.
pub(crate) type Hook = StdArc<dyn Fn() + Send + Sync + 'static>;

/// The hook that hears of every task panic.
pub(crate) type PanicHook = StdArc<dyn Fn(&TaskPanic<'_>) + Send + Sync + 'static>;

/// asyncio's `slow_callback_duration` default, used by `debug(true)`.
const DEBUG_SLOW_POLL: Duration = Duration::from_millis(100);

/// The settings a runtime's threads read.
#[derive(Clone)]
pub(crate) struct Config {
    /// Worker thread count.
    pub(crate) worker_threads: usize,
    /// Cap on blocking-pool threads.
    pub(crate) max_blocking_threads: usize,
    /// How long an idle blocking thread lives.
    pub(crate) blocking_keep_alive: Duration,
    /// Prefix of thread names.
    pub(crate) thread_name: String,
    /// Runs first on every thread the runtime starts.
    pub(crate) on_thread_start: Option<Hook>,
    /// Runs last on every thread the runtime starts.
    pub(crate) on_thread_stop: Option<Hook>,
    /// Polls longer than this are logged and counted (`None`: not timed).
    pub(crate) slow_poll_threshold: Option<Duration>,
    /// Hears of every task that panics (`None`: one line to stderr).
    pub(crate) on_task_panic: Option<PanicHook>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("worker_threads", &self.worker_threads)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .field("blocking_keep_alive", &self.blocking_keep_alive)
            .field("thread_name", &self.thread_name)
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("on_thread_stop", &self.on_thread_stop.is_some())
            .field("slow_poll_threshold", &self.slow_poll_threshold)
            .field("on_task_panic", &self.on_task_panic.is_some())
            .finish()
    }
}

/// Configures and builds a [`Runtime`].
///
/// ```
/// use std::time::Duration;
///
/// let rt = aiolos::Runtime::builder()
///     .worker_threads(2)
///     .max_blocking_threads(64)
///     .blocking_keep_alive(Duration::from_secs(30))
///     .thread_name("server")
///     .build()
///     .unwrap();
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// ```
#[derive(Debug)]
pub struct Builder {
    /// `None`: one per CPU.
    worker_threads: Option<usize>,
    /// Debug mode: a slow-poll threshold of 100 ms unless one is set.
    debug: bool,
    config: Config,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// Defaults: one worker per CPU, up to 512 blocking threads kept for 10 s
    /// when idle, threads named `aiolos-worker-N` / `aiolos-blocking-N`.
    pub fn new() -> Builder {
        Builder {
            worker_threads: None,
            debug: false,
            config: Config {
                worker_threads: 0,
                max_blocking_threads: 512,
                blocking_keep_alive: Duration::from_secs(10),
                thread_name: "aiolos".to_owned(),
                on_thread_start: None,
                on_thread_stop: None,
                slow_poll_threshold: None,
                on_task_panic: None,
            },
        }
    }

    /// How many worker threads run tasks (default: the number of CPUs).
    /// Zero makes [`build`](Builder::build) fail.
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// The most threads the blocking pool may run at once (default 512);
    /// further `spawn_blocking` jobs wait in FIFO order. Zero makes
    /// [`build`](Builder::build) fail.
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.config.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for a job before it exits
    /// (default 10 s).
    pub fn blocking_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.config.blocking_keep_alive = d;
        self
    }

    /// The prefix of thread names: workers are `{prefix}-worker-{i}`, blocking
    /// threads `{prefix}-blocking-{i}` (default prefix `aiolos`).
    pub fn thread_name(&mut self, prefix: impl Into<String>) -> &mut Self {
        self.config.thread_name = prefix.into();
        self
    }

    /// Runs `f` first on every thread the runtime starts (workers and
    /// blocking threads).
    pub fn on_thread_start<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.config.on_thread_start = Some(StdArc::new(f));
        self
    }

    /// Runs `f` last on every thread the runtime starts.
    pub fn on_thread_stop<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn() + Send + Sync + 'static,
    {
        self.config.on_thread_stop = Some(StdArc::new(f));
        self
    }

    /// asyncio's debug mode: with `true`, polls that take longer than
    /// 100 ms (asyncio's `slow_callback_duration`) are logged, unless
    /// [`slow_poll_threshold`](Builder::slow_poll_threshold) sets another
    /// threshold. Off by default.
    pub fn debug(&mut self, on: bool) -> &mut Self {
        self.debug = on;
        self
    }

    /// Logs every poll of a task that takes longer than `threshold`
    /// (asyncio's debug-mode warning about a slow callback), and counts it
    /// in [`WorkerMetrics::slow_polls`](crate::WorkerMetrics::slow_polls).
    /// Off by default; [`debug(true)`](Builder::debug) sets 100 ms.
    ///
    /// The warning goes through the [`log`](https://docs.rs/log) facade at
    /// `warn` level with target `aiolos`, naming the task the way asyncio
    /// does:
    ///
    /// ```text
    /// Executing <Task id=7 name="sleepy" spawned at src/main.rs:20:5> took 0.150 seconds
    /// ```
    ///
    /// A task that blocks its worker (`std::thread::sleep`, a long
    /// computation, a blocking call) shows up here; move that work to
    /// [`spawn_blocking`](crate::spawn_blocking). `spawn_blocking` jobs
    /// themselves are not timed.
    ///
    /// From 16 ms up, polls are timed by the runtime's coarse clock (a load
    /// before and after each poll), which the reactor keeps moving while a
    /// worker is awake, turning at least every `threshold / 16` (10 ms at
    /// most); only a poll the coarse clock finds half the threshold long
    /// gets a real clock read, which decides. A reported duration may
    /// exceed the truth by that tick, and a poll that much shorter than the
    /// threshold may be reported. Shorter thresholds are timed exactly,
    /// with two clock reads around every poll.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rt = aiolos::Runtime::builder()
    ///     .slow_poll_threshold(Duration::from_millis(50))
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(rt.spawn(async {
    ///     std::thread::sleep(Duration::from_millis(100)); // logged
    /// }))
    /// .unwrap();
    /// assert_eq!(rt.handle().metrics().total_slow_polls(), 1);
    /// ```
    pub fn slow_poll_threshold(&mut self, threshold: Duration) -> &mut Self {
        self.config.slow_poll_threshold = Some(threshold);
        self
    }

    /// Calls `f` for every task that panics (asyncio's exception handler),
    /// with the task's id, name, spawn location and panic payload: once per
    /// task, on the thread that caught the panic, before anyone awaiting the
    /// task sees [`TaskError::Panicked`](crate::TaskError::Panicked).
    /// `spawn_blocking` jobs are included. Without a hook, one line naming
    /// the task goes to stderr (after the standard panic hook's message).
    /// A panic inside `f` is caught and ignored.
    pub fn on_task_panic<F>(&mut self, f: F) -> &mut Self
    where
        F: Fn(&TaskPanic<'_>) + Send + Sync + 'static,
    {
        self.config.on_task_panic = Some(StdArc::new(f));
        self
    }

    /// Starts the runtime's threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero worker or blocking threads; the OS error when a
    /// thread cannot be started.
    pub fn build(&mut self) -> io::Result<Runtime> {
        let workers = self.worker_threads.unwrap_or_else(num_cpus::get);
        if workers == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "worker_threads must be at least 1; pass a positive count to Builder::worker_threads",
            ));
        }
        if workers >= 1 << 15 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "worker_threads must be below 32768",
            ));
        }
        if self.config.max_blocking_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_blocking_threads must be at least 1; spawn_blocking needs a thread to run on",
            ));
        }
        let mut config = self.config.clone();
        config.worker_threads = workers;
        if self.debug && config.slow_poll_threshold.is_none() {
            config.slow_poll_threshold = Some(DEBUG_SLOW_POLL);
        }
        Runtime::start(config)
    }
}
