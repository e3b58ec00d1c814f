//! Runtime metrics: [`Handle::metrics`](crate::Handle::metrics) returns a
//! [`RuntimeMetrics`] snapshot, summed on read from counters that cost the
//! hot path next to nothing.
//!
//! # Where each number comes from
//!
//! - **Per-worker counters** ([`WorkerCounters`]): one cache-padded block of
//!   `AtomicU64`s per worker, written only by that worker with a relaxed
//!   load and a relaxed store (no read-modify-write, no shared cache line:
//!   on x86 the same `mov`s as a plain integer) and read by `metrics()`
//!   from any thread: steals, parks and slow polls. Polls (read off the
//!   worker's tick, which every task advances anyway, see `worker.rs`) and
//!   LIFO-slot hits the worker counts in its own `Local` and stores here
//!   every 244 ticks of its scheduler, before it parks and as it exits. A
//!   tick is one task from its LIFO slot, queues or the injector, and up
//!   to 16 timer-woken tasks may run between two ticks, so a busy worker's
//!   counts lag by a few hundred tasks, a few thousand at most.
//! - **Queue depths**: the lengths crossbeam-deque keeps anyway (each
//!   worker's local and due queues through their stealers, the two
//!   injectors), read at snapshot time.
//! - **Tasks alive and spawned**: counts the owned-task list keeps per
//!   shard, under the shard lock that spawning and completing take anyway.
//! - **Blocking pool**: its own counters, read under its lock.
//! - **Timers and I/O**: the reactor's driver (`aiolos_io::Driver`): the
//!   worker wheels' sizes read under their locks, the reactor wheel's size
//!   as the reactor last published it, and the count of registered sources.
//!
//! A snapshot is not one instant: each number is read on its own while the
//! runtime runs, so e.g. `tasks_spawned - tasks_alive` may be off by the
//! tasks that completed while it was taken.

use crate::loom::{AtomicU64, Ordering};
use crate::scheduler::Shared;

/// One worker's counters. Each is written only by its worker, with
/// [`bump`]; anyone may read them.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    /// Tasks this worker ran (each one poll, or one cancellation).
    pub(crate) polls: AtomicU64,
    /// Batches of tasks taken from siblings' queues.
    pub(crate) steals: AtomicU64,
    /// Times the worker went to sleep for lack of work.
    pub(crate) parks: AtomicU64,
    /// Tasks taken from the LIFO slot.
    pub(crate) lifo_hits: AtomicU64,
    /// Polls that took longer than `Builder::slow_poll_threshold`.
    pub(crate) slow_polls: AtomicU64,
}

/// Whether the runtime keeps its introspection counters and stamps (the
/// workers' counters, the tasks' poll counts and stamps, spawn sites, the
/// coarse clock's refreshes, debug mode's timing). Always, except in a
/// build with `--cfg aiolos_no_introspection`, which exists only to
/// measure what they cost against the same commit (`benches/README.md`):
/// there metrics, task dumps and debug mode read zeros.
pub(crate) const INTROSPECTION: bool = !cfg!(aiolos_no_introspection);

/// Adds one to a counter that only the calling thread writes: a relaxed
/// load and a relaxed store, so no atomic read-modify-write.
#[inline]
pub(crate) fn bump(counter: &AtomicU64) {
    if INTROSPECTION {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// A snapshot of one worker's counters and queues.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// Tasks this worker ran since the runtime started (each run is one
    /// poll of the future, or dropping a cancelled one). A running worker
    /// publishes this every 244 scheduler ticks (244 tasks, or up to 17
    /// times as many while timers wake tasks in bursts) and whenever it
    /// goes to sleep, so it may lag by that many until then.
    pub polls: u64,
    /// How many times it took a batch of tasks from a sibling's queue.
    pub steals: u64,
    /// How many times it went to sleep for lack of work.
    pub parks: u64,
    /// Tasks it took from its LIFO slot (the task most recently woken or
    /// spawned by the task it had just run). Published with `polls`.
    pub lifo_hits: u64,
    /// Polls on this worker that took longer than
    /// [`Builder::slow_poll_threshold`](crate::Builder::slow_poll_threshold)
    /// (always 0 when it is off).
    pub slow_polls: u64,
    /// Tasks waiting in its local queue and in its queue of timer-woken
    /// tasks (not counting the one in its LIFO slot).
    pub local_queue_depth: usize,
}

/// A snapshot of a runtime's counters (see
/// [`Handle::metrics`](crate::Handle::metrics)).
///
/// Counters (`polls`, `steals`, `parks`, `tasks_spawned`, ...) only grow;
/// depths and counts of live things are what they were when read.
///
/// ```
/// let rt = aiolos::Runtime::builder().worker_threads(2).build().unwrap();
/// rt.block_on(async {
///     let tasks: Vec<_> = (0..10).map(|i| aiolos::spawn(async move { i })).collect();
///     aiolos::gather(tasks).await;
/// });
/// let m = rt.handle().metrics();
/// assert_eq!(m.workers.len(), 2);
/// assert!(m.tasks_spawned >= 10);
/// // Poll counts are published every 244 ticks and when a worker sleeps.
/// while rt.handle().metrics().total_polls() < 10 {
///     std::thread::yield_now();
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// One entry per worker thread, in worker order (`aiolos-worker-0`
    /// first).
    pub workers: Vec<WorkerMetrics>,
    /// Tasks waiting in the shared injectors (spawned or woken from outside
    /// the workers, or woken by timers the reactor fired).
    pub injector_depth: usize,
    /// Tasks alive: spawned (including `spawn_blocking` jobs) and not yet
    /// finished, as [`task::all_tasks`](crate::task::all_tasks) lists them.
    pub tasks_alive: usize,
    /// Tasks ever spawned on this runtime, `spawn_blocking` jobs included.
    pub tasks_spawned: u64,
    /// Blocking-pool threads alive (running a job or idle).
    pub blocking_threads: usize,
    /// Blocking-pool threads idle, waiting for a job.
    pub blocking_idle_threads: usize,
    /// `spawn_blocking` jobs waiting for a thread.
    pub blocking_queue_depth: usize,
    /// Timers registered and not yet fired or freed (`sleep`s, `timeout`s,
    /// `call_later`s being waited on). The reactor's own wheel is counted
    /// as of its last pass; a timer cancelled in the current millisecond may
    /// still be counted.
    pub timers_pending: usize,
    /// I/O sources (sockets, pipes, signal listeners) registered with the
    /// reactor.
    pub io_registrations: usize,
}

impl RuntimeMetrics {
    /// The number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.workers.len()
    }

    /// Polls summed over the workers.
    pub fn total_polls(&self) -> u64 {
        self.workers.iter().map(|w| w.polls).sum()
    }

    /// Steals summed over the workers.
    pub fn total_steals(&self) -> u64 {
        self.workers.iter().map(|w| w.steals).sum()
    }

    /// Parks summed over the workers.
    pub fn total_parks(&self) -> u64 {
        self.workers.iter().map(|w| w.parks).sum()
    }

    /// Slow polls summed over the workers.
    pub fn total_slow_polls(&self) -> u64 {
        self.workers.iter().map(|w| w.slow_polls).sum()
    }

    /// Tasks waiting in any queue: the injectors and every worker's local
    /// queues.
    pub fn queued_tasks(&self) -> usize {
        self.injector_depth
            + self
                .workers
                .iter()
                .map(|w| w.local_queue_depth)
                .sum::<usize>()
    }
}

/// Takes a snapshot of `shared`'s counters.
pub(crate) fn collect(shared: &Shared) -> RuntimeMetrics {
    let workers = shared
        .counters
        .iter()
        .enumerate()
        .map(|(i, c)| WorkerMetrics {
            polls: c.polls.load(Ordering::Relaxed),
            steals: c.steals.load(Ordering::Relaxed),
            parks: c.parks.load(Ordering::Relaxed),
            lifo_hits: c.lifo_hits.load(Ordering::Relaxed),
            slow_polls: c.slow_polls.load(Ordering::Relaxed),
            local_queue_depth: shared.stealers[i].len() + shared.due_stealers[i].len(),
        })
        .collect();
    let (tasks_alive, tasks_spawned) = shared.owned.counts();
    let blocking = shared.blocking.counts();
    RuntimeMetrics {
        workers,
        injector_depth: shared.injector.len() + shared.due_injector.len(),
        tasks_alive,
        tasks_spawned,
        blocking_threads: blocking.threads,
        blocking_idle_threads: blocking.idle,
        blocking_queue_depth: blocking.queued,
        timers_pending: shared.driver.timers_pending(),
        io_registrations: shared.driver.io_registrations(),
    }
}
