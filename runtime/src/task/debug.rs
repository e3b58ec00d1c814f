//! asyncio's debug mode: slow-poll warnings and the task panic hook.
//!
//! - **Slow polls.** With `Builder::slow_poll_threshold(d)` (or
//!   `Builder::debug(true)`, which sets asyncio's 100 ms), every poll of a
//!   task on a worker is timed, by the worker (see "Timing a poll"
//!   below): by the runtime's coarse clock, which the
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
use std::ptr;
use std::time::{Duration, Instant};

use super::error::PanicPayload;
use super::id::TaskId;
use super::owned::SpawnSite;
use super::raw::Header;
use crate::scheduler::clock::{Clock, Timing};
use crate::scheduler::Shared;

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

// # Timing a poll
//
// The worker times the polls it runs, around `Notified::run`
// ([`poll_begins`], [`poll_ended`]): the poll itself does nothing for it,
// so a runtime without a threshold pays nothing per poll (asking a flag
// before and after each poll, inside it, cost 6 to 15 instructions per
// poll of `yield_many`: the future's own code kept more in registers).
// After `run` the task may be gone (it completed, or it went idle and
// another worker has run it to completion since), so the worker cannot
// read its name from the header; it knows the task by its id and looks
// it up in the owned list, which keeps every task not yet completed. A
// task that completes in a timed poll is judged before it leaves that
// list, by the poll's thread in `finish` ([`poll_finishing`]: the
// `TIMING` flag marks the workers' threads, and the timed poll's task
// pointer tells it from any other task finishing there), so its warning
// names it too. Only a task that went idle in a slow poll and was run to
// completion elsewhere before the worker looked is reported by id alone.

thread_local! {
    /// Set on the workers of a runtime with a slow-poll threshold: their
    /// polls are timed.
    static TIMING: Cell<bool> = const { Cell::new(false) };
    /// The timed poll running on this worker, until it is judged.
    static POLL: Cell<Option<TimedPoll>> = const { Cell::new(None) };
}

/// A poll being timed: of which task, since when.
#[derive(Clone, Copy)]
struct TimedPoll {
    /// The task's header: compared, never read through (the task may be
    /// gone by the time anyone looks).
    task: *const Header,
    started: Started,
}

/// When a timed poll started.
#[derive(Clone, Copy)]
enum Started {
    /// A coarse clock reading (nanoseconds since the clock's origin).
    Coarse(u64),
    /// A real clock reading, for thresholds timed precisely.
    Precise(Instant),
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

/// A worker in debug mode is about to run `task`: notes the start of its
/// poll (by the coarse clock, and by the real clock for thresholds timed
/// precisely). Returns the coarse reading, which stamps the poll.
pub(crate) fn poll_begins(clock: &Clock, task: &Header) -> u64 {
    let coarse = clock.coarse();
    let started = match clock.timing() {
        Timing::Precise => Started::Precise(Instant::now()),
        Timing::Coarse | Timing::Off => Started::Coarse(coarse),
    };
    POLL.with(|p| p.set(Some(TimedPoll { task, started })));
    coarse
}

/// The poll [`poll_begins`] noted returned: if it took longer than the
/// slow-poll threshold (and [`poll_finishing`] has not judged it), logs it,
/// naming task `id` as the owned list knows it, and counts it on this
/// worker.
pub(crate) fn poll_ended(shared: &Shared, id: TaskId) {
    let Some(poll) = POLL.with(Cell::take) else {
        return;
    };
    let Some(took) = slow(&shared.clock, poll.started) else {
        return;
    };
    // The task may be gone: ask the owned list for its name and site
    // (copies: the warning is logged after the list's lock is released).
    match shared.owned.name_and_site(id) {
        Some((name, site)) => report_slow_poll(
            &Label {
                id,
                name: name.as_deref(),
                location: site.location,
            },
            took,
        ),
        None => report_slow_poll(&Finished(id), took),
    }
}

/// A task finishes (completes or is cancelled) on this worker, still
/// linked: if it is the task of the timed poll running here, judges that
/// poll now, while the task can be named.
#[cold]
#[inline(never)]
pub(crate) fn poll_finishing(header: &Header) {
    let Some(poll) = POLL.with(Cell::get) else {
        return;
    };
    if !ptr::eq(poll.task, header) {
        return;
    }
    POLL.with(|p| p.set(None));
    if let Some(took) = slow(&header.shared.clock, poll.started) {
        report_slow_poll(&Label::of(header), took);
    }
}

/// How long a poll that started at `started` and just ended took, if that
/// is longer than the slow-poll threshold. By the real clock when timed
/// precisely; otherwise by the coarse clock (to about a millisecond), and
/// a poll the coarse clock finds long ([`Clock::suspect`]) ends at a real
/// clock reading, which also refreshes the coarse clock (`clock.rs`,
/// "Timing polls").
fn slow(clock: &Clock, started: Started) -> Option<Duration> {
    let threshold = clock.slow_poll_threshold()?;
    let took = match started {
        Started::Precise(t) => t.elapsed(),
        Started::Coarse(start) => {
            if !clock.suspect(start) {
                return None;
            }
            let now = clock.precise();
            // The poll held this worker: the coarse reading may lag.
            clock.set(now);
            Duration::from_nanos(now.saturating_sub(start))
        }
    };
    (took > threshold).then_some(took)
}

/// A task that completed on another worker before its slow poll was
/// judged: only its id is left to name it.
struct Finished(TaskId);

impl fmt::Display for Finished {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Task id={} (finished since)>", self.0)
    }
}

/// Logs a poll of `task` that took `took`, longer than the threshold, and
/// counts it on this worker.
#[cold]
#[inline(never)]
fn report_slow_poll(task: &dyn fmt::Display, took: Duration) {
    log::warn!(
        target: "aiolos",
        "Executing {} took {:.3} seconds",
        task,
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
