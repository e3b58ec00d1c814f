//! The work-stealing scheduler: state shared by a runtime's threads, and how a
//! task gets queued.
//!
//! Where a woken or spawned task goes:
//! - on a worker of the same runtime: its LIFO slot (the task that displaced
//!   it moves to the local queue), or the back of the local queue when the
//!   task woke itself (a yield);
//! - woken by the worker's own timers: its due queue (see `worker.rs`);
//! - woken by timers the reactor fired: the shared due injector, which
//!   workers look at before the injector;
//! - anywhere else (foreign threads, `block_on`, blocking threads, I/O
//!   readiness from the reactor): the shared injector.
//!
//! After making work stealable the producer asks `Idle` whether to wake a
//! sleeping worker (see `idle.rs`).

pub(crate) mod clock;
pub(crate) mod idle;
pub(crate) mod worker;

use std::future::Future;
use std::panic::Location;
use std::ptr;

use crossbeam_deque::{Injector, Stealer};
use crossbeam_utils::CachePadded;

use crate::blocking::BlockingPool;
use crate::loom::{Arc, AtomicBool, AtomicUsize, Ordering};
use crate::park::Parker;
use crate::runtime::{Callbacks, Config, WorkerCounters, INTROSPECTION};
use crate::task::owned::{OwnedTasks, SpawnSite};
use crate::task::raw::{self, Notified, Schedule};
use crate::task::{BlockingTask, Task, TaskId};
use clock::Clock;
use idle::Idle;

/// What a runtime's threads share.
pub(crate) struct Shared {
    /// Tasks from outside the workers; a worker takes batches from here.
    pub(crate) injector: Injector<Notified>,
    /// Tasks woken by timers the reactor fired (its own wheel's, or a
    /// rescued worker's): workers look here before the injector.
    pub(crate) due_injector: Injector<Notified>,
    /// One per worker, to steal from its local queue.
    pub(crate) stealers: Box<[Stealer<Notified>]>,
    /// One per worker, to steal from its due queue (timer-woken tasks).
    pub(crate) due_stealers: Box<[Stealer<Notified>]>,
    /// How many workers hold more timer-woken tasks than they run next
    /// (a hint: siblings take some before their own work).
    pub(crate) due_backlog: CachePadded<AtomicUsize>,
    /// One per worker, to wake it.
    pub(crate) parkers: Box<[CachePadded<Parker>]>,
    /// Sleeping and searching workers.
    pub(crate) idle: Idle,
    /// Every live task.
    pub(crate) owned: OwnedTasks,
    /// The `spawn_blocking` threads.
    pub(crate) blocking: BlockingPool,
    /// Set once shutdown starts.
    shutdown: AtomicBool,
    /// The reactor's shared half (timers).
    pub(crate) driver: std::sync::Arc<aiolos_io::Driver>,
    /// Loop callbacks (`call_soon`, `call_later`) and `run_forever`'s stop.
    pub(crate) callbacks: Callbacks,
    /// The builder's settings.
    pub(crate) config: Config,
    /// One per worker: its metrics counters (see `runtime/metrics.rs`).
    pub(crate) counters: Box<[CachePadded<WorkerCounters>]>,
    /// The coarse clock that stamps spawns and polls (see `clock.rs`).
    pub(crate) clock: Clock,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.stealers.len())
            .field("shutdown", &self.is_shutdown())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        stealers: Vec<(Stealer<Notified>, Stealer<Notified>)>,
        config: Config,
        driver: std::sync::Arc<aiolos_io::Driver>,
    ) -> Shared {
        let n = stealers.len();
        let (stealers, due_stealers): (Vec<_>, Vec<_>) = stealers.into_iter().unzip();
        Shared {
            counters: (0..n).map(|_| CachePadded::default()).collect(),
            clock: Clock::new(driver.origin(), config.slow_poll_threshold),
            injector: Injector::new(),
            due_injector: Injector::new(),
            stealers: stealers.into_boxed_slice(),
            due_stealers: due_stealers.into_boxed_slice(),
            due_backlog: CachePadded::new(AtomicUsize::new(0)),
            parkers: (0..n).map(|_| CachePadded::new(Parker::new())).collect(),
            idle: Idle::new(n),
            owned: OwnedTasks::new(n),
            blocking: BlockingPool::new(&config),
            shutdown: AtomicBool::new(false),
            driver,
            callbacks: Callbacks::default(),
            config,
        }
    }

    /// Whether shutdown has started.
    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// Starts shutdown: no task is accepted from now on, and every worker is
    /// woken so it can see the flag and exit.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for p in self.parkers.iter() {
            p.unpark();
        }
    }

    /// Spawns a future as a task; `location` is where the user called
    /// `spawn`.
    pub(crate) fn spawn<F>(
        this: &Arc<Self>,
        future: F,
        name: Option<String>,
        location: &'static Location<'static>,
    ) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let ptr = raw::allocate::<F, WorkerKind>(future, TaskId::next(), name, this.clone());
        // SAFETY: `allocate` gave the handle's reference, which we pass on.
        let task = unsafe { Task::from_raw(ptr) };
        let site = this.spawn_site(location);
        if this.owned.bind(ptr, site) {
            // SAFETY: the first `Notified`'s reference and SCHEDULED flag.
            this.schedule(unsafe { Notified::from_raw(ptr) }, false);
        } else {
            // SAFETY: the task was never shared; it has the type just allocated.
            unsafe { raw::cancel_unshared::<F, WorkerKind>(ptr, site) };
        }
        task
    }

    /// Queues a blocking function on the blocking pool; `location` is where
    /// the user called `spawn_blocking`.
    pub(crate) fn spawn_blocking<F, R>(
        this: &Arc<Self>,
        f: F,
        name: Option<String>,
        location: &'static Location<'static>,
    ) -> Task<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let ptr = raw::allocate::<BlockingTask<F>, BlockingKind>(
            BlockingTask::new(f),
            TaskId::next(),
            name,
            this.clone(),
        );
        // SAFETY: as in `spawn`.
        let task = unsafe { Task::from_raw(ptr) };
        let site = this.spawn_site(location);
        if this.owned.bind(ptr, site) {
            // SAFETY: as in `spawn`.
            this.blocking.push(unsafe { Notified::from_raw(ptr) }, this);
        } else {
            // SAFETY: as in `spawn`.
            unsafe { raw::cancel_unshared::<BlockingTask<F>, BlockingKind>(ptr, site) };
        }
        task
    }

    /// A task spawned now at `location` (stamped with the coarse clock).
    fn spawn_site(&self, location: &'static Location<'static>) -> SpawnSite {
        SpawnSite {
            location,
            spawned_at: if INTROSPECTION {
                self.clock.for_stamp()
            } else {
                0
            },
        }
    }

    /// Queues a task of this runtime: locally on one of its workers,
    /// otherwise through the injector.
    pub(crate) fn schedule(&self, task: Notified, is_yield: bool) {
        if let Some(task) = try_schedule_local(self, task, is_yield) {
            self.schedule_remote(task);
        }
    }

    /// Queues a task through the injector and wakes a worker if needed.
    pub(crate) fn schedule_remote(&self, task: Notified) {
        if self.is_shutdown() {
            // Shutdown cancels every task through the owned list; the
            // reference is all there is to release.
            drop(task);
            return;
        }
        let batching = crate::context::batching(self);
        if batching == Some(true) {
            self.due_injector.push(task);
        } else {
            self.injector.push(task);
        }
        if self.is_shutdown() {
            // Shutdown may have drained the injector before our push: drain
            // again so no task (and no reference cycle through `Shared`) is
            // left behind.
            self.drain_injector();
            return;
        }
        if batching.is_none() {
            self.notify_parked();
        }
    }

    /// A worker came back from a park: it keeps the coarse clock fresh
    /// again, and in debug mode asks the reactor to turn within a tick if
    /// it sleeps longer (`clock.rs`, step 4: the clock must move while this
    /// worker polls). Returns the clock reading it took (0 without
    /// introspection).
    pub(crate) fn worker_woke(&self) -> u64 {
        if !INTROSPECTION {
            return 0;
        }
        let now = self.clock.refresh();
        if let Some(tick) = self.clock.tick() {
            self.driver
                .turn_by(now.saturating_add(tick.as_nanos() as u64));
        }
        now
    }

    /// Wakes one sleeping worker if nobody is searching.
    pub(crate) fn notify_parked(&self) {
        if let Some(index) = self.idle.worker_to_notify() {
            self.parkers[index].unpark();
        }
    }

    /// Wakes a worker if any queue holds work (the last searcher's final look
    /// before parking).
    pub(crate) fn notify_if_work_pending(&self) {
        let pending = !self.injector.is_empty()
            || !self.due_injector.is_empty()
            || self.stealers.iter().any(|s| !s.is_empty())
            || self.due_stealers.iter().any(|s| !s.is_empty());
        if pending {
            self.notify_parked();
        }
    }

    /// Queues a batch of wakers fired by the reactor, then wakes one worker
    /// (which wakes more as it finds work).
    pub(crate) fn wake_batch(&self, wakers: &mut Vec<std::task::Waker>, woken: aiolos_io::Woken) {
        let timers = woken == aiolos_io::Woken::Timers;
        crate::context::batch_wakeups(self, timers, || {
            for w in wakers.drain(..) {
                w.wake();
            }
        });
        self.notify_parked();
    }

    /// Files a timer: in this thread's wheel on a worker of this runtime,
    /// in the reactor's wheel anywhere else.
    pub(crate) fn add_timer(&self, entry: &std::sync::Arc<aiolos_io::TimerEntry>) {
        let filed = crate::context::with_worker(|local| match local {
            Some(local) if ptr::eq(local.shared(), self) => {
                local.add_timer(entry);
                true
            }
            _ => false,
        });
        if !filed {
            self.driver.add_timer(entry);
        }
    }

    /// Drops every task reference left in the injectors.
    pub(crate) fn drain_injector(&self) {
        for injector in [&self.injector, &self.due_injector] {
            loop {
                match injector.steal() {
                    crossbeam_deque::Steal::Success(task) => drop(task),
                    crossbeam_deque::Steal::Empty => break,
                    crossbeam_deque::Steal::Retry => {}
                }
            }
        }
    }

    /// Cancels every task still linked in the owned list (shutdown's last
    /// step for tasks): each one not running has its future dropped here, a
    /// running one (a blocking job) is marked and finishes as cancelled.
    pub(crate) fn cancel_all_tasks(&self) {
        for ptr in self.owned.close() {
            // SAFETY: `close` gave us a reference to each task.
            unsafe {
                let header = ptr.as_ref();
                if header.state.transition_to_shutdown() {
                    // We own RUNNING; `shutdown` consumes our reference.
                    (header.vtable.shutdown)(ptr);
                } else {
                    raw::drop_reference(ptr);
                }
            }
        }
    }
}

/// Queues `task` on this thread's worker if it belongs to runtime `shared`;
/// gives the task back otherwise.
fn try_schedule_local(shared: *const Shared, task: Notified, is_yield: bool) -> Option<Notified> {
    crate::context::with_worker(|local| match local {
        Some(local) if ptr::eq(local.shared(), shared) => {
            local.schedule_local(task, is_yield);
            None
        }
        _ => Some(task),
    })
}

/// Tasks that run on the workers.
pub(crate) struct WorkerKind;

impl Schedule for WorkerKind {
    const ON_WORKERS: bool = true;

    fn schedule(task: Notified, is_yield: bool) {
        let shared = Arc::as_ptr(&task.header().shared);
        if let Some(task) = try_schedule_local(shared, task, is_yield) {
            // Keep the runtime alive past the push: once queued, the task
            // (and with it the header's `Arc`) may be freed by another thread.
            let shared = task.header().shared.clone();
            shared.schedule_remote(task);
        }
    }
}

/// `spawn_blocking` jobs.
pub(crate) struct BlockingKind;

impl Schedule for BlockingKind {
    const ON_WORKERS: bool = false;

    fn schedule(task: Notified, _is_yield: bool) {
        let shared = task.header().shared.clone();
        shared.blocking.push(task, &shared);
    }
}
