//! asyncio's debug mode: slow-poll warnings and the task panic hook.
//!
//! - **Slow polls.** With `Builder::slow_poll_threshold(d)` (or
//!   `Builder::debug(true)`, which sets asyncio's 100 ms), every poll of a
//!   task on a worker is timed: by the runtime's coarse clock, which the
//!   reactor keeps moving while a worker is stuck, and a real clock read
//!   only for a poll the coarse clock finds long (thresholds under 16 ms:
//!   two real clock reads per poll; see `scheduler/clock.rs`, "Timing
//!   polls"); a poll that took longer than `d` is logged
//!   through the `log` facade at `warn` level, target `aiolos`, worded as
//!   asyncio words it (`Executing <Task id=7 name="blocker" spawned at
//!   src/main.rs:20:5> took 0.150 seconds`), and counted in the polling
//!   worker's [`WorkerMetrics::slow_polls`](crate::WorkerMetrics::slow_polls).
//!   `spawn_blocking` jobs are not timed: blocking is what they are for.
//! - **Panics.** Every task that panics (in a poll, or while its future is
//!   dropped; `spawn_blocking` jobs included) is reported once to
//!   `Builder::on_task_panic`'s hook, asyncio's exception handler, on the
//!   thread that caught the panic and before the task's output is
//!   published, so the hook has run by the time anyone can see
//!   `TaskError::Panicked`. Without a hook, one line goes to stderr naming
//!   the task (the standard panic hook has already printed the message and
//!   where the panic happened, but not which task it was). A hook that
//!   panics is ignored.

use std::cell::Cell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe, Location};
use std::time::{Duration, Instant};

use super::error::PanicPayload;
use super::id::TaskId;
use super::owned::SpawnSite;
use super::raw::Header;
use crate::scheduler::clock::Timing;

/// A task that panicked, as [`Builder::on_task_panic`]'s hook sees it.
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let rt = aiolos::Runtime::builder()
///     .on_task_panic(move |p| {
///         let line = format!("{:?} {:?}", p.name(), p.message());
///         log.lock().unwrap().push(line);
///     })
///     .build()
///     .unwrap();
/// let task = aiolos::task::Builder::new()
///     .name("doomed")
///     .spawn_on(async { panic!("boom") }, &rt.handle());
/// assert!(rt.block_on(task).unwrap_err().is_panic());
/// assert_eq!(*seen.lock().unwrap(), ["Some(\"doomed\") Some(\"boom\")"]);
/// ```
///
/// [`Builder::on_task_panic`]: crate::Builder::on_task_panic
#[derive(Debug)]
pub struct TaskPanic<'a> {
    /// The task's id.
    id: TaskId,
    /// The task's name, if it had one.
    name: Option<&'a str>,
    /// Where it was spawned.
    spawned_at: &'static Location<'static>,
    /// What it panicked with.
    payload: &'a PanicPayload,
}

impl<'a> TaskPanic<'a> {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's name, if it was given one.
    pub fn name(&self) -> Option<&'a str> {
        self.name
    }

    /// Where the task was spawned.
    pub fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// The panic's payload (its message, if it carried a string).
    pub fn payload(&self) -> &'a PanicPayload {
        self.payload
    }

    /// The panic message, when the panic carried a string.
    pub fn message(&self) -> Option<&'a str> {
        self.payload.message()
    }
}

impl fmt::Display for TaskPanic<'_> {
    /// `<Task id=7 name="worker" spawned at src/main.rs:12:5> panicked: boom`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = Label {
            id: self.id,
            name: self.name,
            location: self.spawned_at,
        };
        match self.message() {
            Some(m) => write!(f, "{label} panicked: {m}"),
            None => write!(f, "{label} panicked"),
        }
    }
}

/// `<Task id=7 name="blocker" spawned at src/main.rs:20:5>`: how warnings
/// and the dump name a task.
pub(crate) struct Label<'a> {
    pub(crate) id: TaskId,
    pub(crate) name: Option<&'a str>,
    pub(crate) location: &'static Location<'static>,
}

impl<'a> Label<'a> {
    /// The label of a linked task (its spawn location comes from the
    /// owned list, under a shard lock: this is for rare reports only).
    pub(crate) fn of(header: &'a Header) -> Label<'a> {
        Label {
            id: header.id,
            name: header.name(),
            location: header.shared.owned.site(header).location,
        }
    }
}

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Task id={}", self.id)?;
        if let Some(name) = self.name {
            write!(f, " name={name:?}")?;
        }
        write!(f, " spawned at {}>", self.location)
    }
}

thread_local! {
    /// Set on the workers of a runtime with a slow-poll threshold: their
    /// polls are timed.
    static TIMING: Cell<bool> = const { Cell::new(false) };
    /// When the poll running on this worker started, by the real clock
    /// (thresholds timed precisely only).
    static POLL_START: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Whether polls on this thread are timed (a worker in debug mode).
#[inline]
pub(crate) fn timing() -> bool {
    TIMING.with(Cell::get)
}

/// Makes the polls on this thread timed, or not (a worker, as it starts).
pub(crate) fn set_timing(on: bool) {
    TIMING.with(|t| t.set(on));
}

/// A poll starts on this worker with precise timing: note the time.
#[cold]
#[inline(never)]
pub(crate) fn poll_starts() {
    POLL_START.with(|s| s.set(Some(Instant::now())));
}

/// A poll on this worker ended in debug mode: decides whether it took
/// longer than the slow-poll threshold, and if so logs it and counts it on
/// this worker. With precise timing it began at the time [`poll_starts`]
/// noted. With coarse timing it began at the task's poll stamp (to about a
/// millisecond); a poll the coarse clock finds long ([`Clock::suspect`])
/// ends at a real clock reading, which also refreshes the coarse clock
/// (`clock.rs`, "Timing polls").
///
/// [`Clock::suspect`]: crate::scheduler::clock::Clock::suspect
#[cold]
#[inline(never)]
pub(crate) fn poll_ended(header: &Header) {
    let clock = &header.shared.clock;
    let Some(threshold) = clock.slow_poll_threshold() else {
        return;
    };
    let took = match clock.timing() {
        Timing::Off => return,
        Timing::Precise => match POLL_START.with(Cell::take) {
            Some(t) => t.elapsed(),
            None => return,
        },
        Timing::Coarse => {
            let start = header.poll_started();
            if !clock.suspect(start) {
                return;
            }
            let now = clock.precise();
            // The poll held this worker: the coarse reading may lag.
            clock.set(now);
            Duration::from_nanos(now.saturating_sub(start))
        }
    };
    if took > threshold {
        report_slow_poll(header, took);
    }
}

/// Logs a poll that took `took`, longer than the threshold, and counts it
/// on this worker.
fn report_slow_poll(header: &Header, took: Duration) {
    log::warn!(
        target: "aiolos",
        "Executing {} took {:.3} seconds",
        Label::of(header),
        took.as_secs_f64()
    );
    crate::context::with_worker(|local| {
        if let Some(local) = local {
            local.count_slow_poll();
        }
    });
}

/// Hands a task's panic to the runtime's hook (or prints one line).
/// `site` is given for a task that never reached the owned list; a linked
/// one (`None`) is looked up there.
#[cold]
#[inline(never)]
pub(crate) fn report_panic(header: &Header, payload: &PanicPayload, site: Option<SpawnSite>) {
    let site = site.unwrap_or_else(|| header.shared.owned.site(header));
    let report = TaskPanic {
        id: header.id,
        name: header.name(),
        spawned_at: site.location,
        payload,
    };
    match &header.shared.config.on_task_panic {
        Some(hook) => {
            // A panicking hook must not take the worker down with it.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(&report)));
        }
        None => eprintln!("aiolos: {report}"),
    }
}
