//! `Builder`: runtime settings (asyncio has one loop; aiolos lets you size it).

use std::fmt;
use std::io;
use std::sync::Arc as StdArc;
use std::time::Duration;

use super::Runtime;

/// A thread start or stop hook.
pub(crate) type Hook = StdArc<dyn Fn() + Send + Sync + 'static>;

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
            config: Config {
                worker_threads: 0,
                max_blocking_threads: 512,
                blocking_keep_alive: Duration::from_secs(10),
                thread_name: "aiolos".to_owned(),
                on_thread_start: None,
                on_thread_stop: None,
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
        Runtime::start(config)
    }
}
