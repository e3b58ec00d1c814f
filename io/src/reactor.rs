//! The reactor thread.
//!
//! # The loop
//!
//! 1. Take every queued timer operation: file inserts in the reactor's
//!    wheel, remove cancelled entries.
//! 2. Advance the wheel to the present and collect the wakers of the entries
//!    that fired; rescue the due timers of running workers that left them
//!    waiting (see "Rescue" in `driver.rs`).
//! 3. Hand those wakers to the scheduler in one batch, marked
//!    [`Woken::Timers`] (it queues them all where workers look first, then
//!    wakes one worker), and go to 1.
//! 4. With nothing fired: publish the sleep target (the wheel's next
//!    deadline, or earlier a running worker's deadline plus the rescue
//!    delay), look at the operation queue and the workers' deadlines once
//!    more (see `driver.rs`), and wait in the poller until that target, an
//!    I/O event, or a `notify`.
//!    While the I/O watch is not armed, wake every [`IO_CHECK`] to check
//!    that running workers still poll for I/O, and arm it if they do not
//!    (see "I/O duty" in `driver.rs`). With a [`BusyTick`] (the scheduler's
//!    debug mode), wake at least every tick while a worker is awake, and
//!    after publishing the target ask once more whether one is: one that
//!    woke since may have read the old target and not asked for a turn
//!    ([`Driver::turn_by`]).
//! 5. When the watch fired: take the I/O events, dispatch them to their
//!    sources (see `source.rs`), hand the woken readers and writers to the
//!    scheduler in one batch, and yield the CPU once so they can run before
//!    the next look. If every worker is parked, arm the watch again.
//!
//! # Shutdown
//!
//! 1. `Reactor::shutdown` sets the flag and notifies the poller.
//! 2. The thread leaves the loop and drops the wheel, releasing every pending
//!    entry and its waker.
//! 3. `shutdown` joins the thread, then drops operations queued meanwhile.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::task::Waker;
use std::thread;
use std::time::Duration;

use polling::Events;

use crate::driver::{Driver, Op, IO_CHECK_NS, WATCH_KEY};
use crate::loom::Ordering;
use crate::timer::{Timers, REACTOR};

/// A function run on the reactor thread at its start or end.
pub type Hook = Arc<dyn Fn() + Send + Sync + 'static>;

/// What woke a batch of wakers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// Timers that fired (from the reactor's wheel or a rescued worker's):
    /// their tasks are already late, so the scheduler runs them first.
    Timers,
    /// I/O readiness.
    Io,
}

/// How the scheduler receives a batch of wakers.
pub type WakeBatch = Box<dyn Fn(&mut Vec<Waker>, Woken) + Send + 'static>;

/// Settings for [`Reactor::start`].
pub struct Config {
    /// The thread's name.
    pub thread_name: String,
    /// Runs first on the reactor thread.
    pub on_thread_start: Option<Hook>,
    /// Runs last on the reactor thread.
    pub on_thread_stop: Option<Hook>,
    /// Wakes a batch of fired wakers (draining the vector).
    pub wake_batch: WakeBatch,
    /// How many workers have a timer wheel in the driver.
    pub workers: usize,
    /// Whether every worker is parked (then the reactor keeps the I/O
    /// watch armed; see "I/O duty" in `driver.rs`).
    pub all_parked: Box<dyn Fn() -> bool + Send + 'static>,
    /// Turn regularly while a worker is awake, and say so at each turn
    /// (`None`: turn only for timers, I/O and notifications).
    pub busy_tick: Option<BusyTick>,
}

/// A reactor that turns at least every `period` while a worker is awake:
/// the scheduler's debug mode keeps a coarse clock moving this way while a
/// worker is stuck in a long poll. A worker that wakes asks for a turn
/// within the period with [`Driver::turn_by`].
pub struct BusyTick {
    /// The longest time between turns while a worker is awake.
    pub period: Duration,
    /// Runs at every turn (twice on a turn that ends in a sleep) with the
    /// clock reading of the turn (nanoseconds since the driver's origin),
    /// and says whether a worker is awake. It must read what a waking
    /// worker writes before its `turn_by` with `SeqCst` (the two sides of
    /// the lost-turn check in the loop's step 4).
    pub on_turn: Box<dyn Fn(u64) -> bool + Send + 'static>,
}

impl fmt::Debug for BusyTick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusyTick")
            .field("period", &self.period)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}

/// The reactor thread and its [`Driver`].
#[derive(Debug)]
pub struct Reactor {
    driver: Arc<Driver>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Reactor {
    /// Starts the reactor thread.
    ///
    /// # Errors
    ///
    /// When the poller or the thread cannot be created.
    pub fn start(config: Config) -> io::Result<Reactor> {
        let driver = Arc::new(Driver::new(config.workers)?);
        let d = driver.clone();
        let thread = thread::Builder::new()
            .name(config.thread_name.clone())
            .spawn(move || {
                if let Some(f) = &config.on_thread_start {
                    f();
                }
                run(&d, &config);
                if let Some(f) = &config.on_thread_stop {
                    f();
                }
            })?;
        Ok(Reactor {
            driver,
            thread: Some(thread),
        })
    }

    /// The shared half, for registering timers from any thread.
    pub fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    /// Stops the reactor thread and waits for it to exit (shutdown steps 1 to
    /// 3). Does nothing the second time.
    pub fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.driver.shutdown.store(true, Ordering::SeqCst);
        let _ = self.driver.poller.notify();
        if thread.thread().id() != thread::current().id() {
            let _ = thread.join();
        }
        self.driver.drain_and_drop();
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The loop (steps in the module docs).
fn run(driver: &Driver, config: &Config) {
    let wake_batch = &config.wake_batch;
    let mut timers = Timers::new(REACTOR);
    let mut events = Events::new();
    let mut fired: Vec<Waker> = Vec::new();
    // Check 3 of "I/O duty": the workers' poll count at the last check, and
    // when to check next.
    let mut seen_polls = driver.io_polls.load(Ordering::Relaxed);
    let mut check_at = 0;
    let busy_tick = config.busy_tick.as_ref();
    let tick_ns = busy_tick.map(|t| crate::driver::duration_ns(t.period).max(1));
    while !driver.shutdown.load(Ordering::Acquire) {
        // 1 and 2. Timer operations, then expired timers.
        let now = driver.now();
        let ticking = busy_tick.is_some_and(|t| (t.on_turn)(now));
        let mut next = turn_timers(driver, &mut timers, now, &mut fired);

        // For metrics: our wheel's size (a store only when it changed).
        let filed = timers.len();
        if driver.reactor_timers.load(Ordering::Relaxed) != filed {
            driver.reactor_timers.store(filed, Ordering::Relaxed);
        }

        // 3. Hand them over in one batch.
        if !fired.is_empty() {
            wake_batch(&mut fired, Woken::Timers);
            fired.clear();
            continue;
        }

        // 4. Sleep until the next deadline; while the workers have the I/O
        // duty, no longer than the next check that they still poll.
        if !driver.watch_armed.load(Ordering::SeqCst) {
            if now >= check_at {
                let polls = driver.io_polls.load(Ordering::Relaxed);
                if polls == seen_polls {
                    // Nobody polled since the last check: take the duty.
                    driver.watch_io();
                } else {
                    seen_polls = polls;
                    check_at = now.saturating_add(IO_CHECK_NS);
                }
            }
            if !driver.watch_armed.load(Ordering::SeqCst) {
                next = next.min(check_at);
            }
        }
        // While a worker is awake, no longer than the busy tick.
        if let (true, Some(tick)) = (ticking, tick_ns) {
            next = next.min(now.saturating_add(tick));
        }
        if !driver.prepare_sleep(next, now) {
            continue;
        }
        if !ticking && busy_tick.is_some_and(|t| (t.on_turn)(now)) {
            // A worker woke after our look; it read the sleep target
            // either after we published it (and asked for a turn) or
            // before, in which case we see it awake here (both sides are
            // SeqCst): take another turn, ticking this time.
            continue;
        }
        let deadline = driver.instant_of(next);
        events.clear();
        let res = match deadline {
            Some(d) => driver.poller.wait_deadline(&mut events, d),
            None => driver.poller.wait(&mut events, None),
        };
        if let Err(e) = res {
            if e.kind() != io::ErrorKind::Interrupted {
                // The poller is broken: nothing can be waited on any more.
                panic!("aiolos reactor: polling failed: {e}");
            }
        }

        // 5. The watch fired (which disarmed it): take the I/O events.
        if events.iter().any(|ev| ev.key == WATCH_KEY) {
            driver.watch_armed.store(false, Ordering::SeqCst);
            driver.take_io(&mut fired);
            if !fired.is_empty() {
                wake_batch(&mut fired, Woken::Io);
                fired.clear();
                // Let the woken tasks run before we look again: on a loaded
                // machine the worker we just unparked gets the CPU now, and
                // the readiness its work produces is waiting when we next
                // look, in one batch, instead of waking us once per event.
                std::thread::yield_now();
            }
            if (config.all_parked)() {
                // Nobody runs to poll (a worker that parked last may have
                // armed the watch just before we consumed it).
                driver.watch_io();
            }
        }
    }
    // Shutdown step 2: pending entries and their wakers go with the wheel.
    drop(timers);
}

/// Steps 1 and 2 of the loop: files the queued timer operations in the
/// reactor's wheel, fires what is due at `now` there and in the wheels of
/// workers that let their timers wait (see "Rescue" in `driver.rs`), pushing
/// the wakers to `fired`, and returns when timers next need a look.
pub(crate) fn turn_timers(
    driver: &Driver,
    timers: &mut Timers,
    now: u64,
    fired: &mut Vec<Waker>,
) -> u64 {
    driver.take_ops(|op| match op {
        Op::Insert(entry) => timers.file(entry),
        Op::Cancel(entry) => timers.remove(&entry),
    });
    driver.set_wheel_now(now);
    timers.fire(now, fired);
    let rescue = driver.rescue(now, fired);
    timers.next_deadline().unwrap_or(u64::MAX).min(rescue)
}
