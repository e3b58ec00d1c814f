//! Task introspection: [`current`] and [`all_tasks`] (asyncio's
//! `current_task()` and `all_tasks()`), read from the task state word, the
//! header's poll count and stamps, and the runtime's owned-task list.
//!
//! # Times
//!
//! A task's spawn and the start of each poll are stamped with the
//! runtime's coarse clock (`scheduler/clock.rs`), which costs a load, not a
//! clock read: a stamp may be late by about a millisecond plus the time its
//! worker went without reading the clock (244 short polls, or one long
//! poll). The last poll is kept in units of `2^20` ns (1.05 ms), in 32 bits
//! that wrap: "time since the last poll" is right to about a millisecond
//! for a task idle less than 26 days (half the range, so that a stamp a
//! moment newer than the reading reads as zero), and never reported as more
//! than the task's age.

use std::panic::Location;
use std::time::Duration;

use super::id::TaskId;
use super::owned::SpawnSite;
use super::raw::{Header, POLL_STAMP_SHIFT};
use super::state;
use crate::loom::Ordering;

/// What a task was doing when it was looked at (a snapshot: it may have moved
/// on by the time you read it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskState {
    /// Waiting for a wake-up: no thread holds it and it is in no queue.
    Idle,
    /// Woken or newly spawned, waiting in a queue for a worker.
    Scheduled,
    /// A thread is polling its future (or running its blocking job).
    Running,
    /// Its future is done (returned, panicked or cancelled); it is leaving
    /// the task list.
    Finished,
}

impl TaskState {
    /// Decodes a state word.
    pub(crate) fn from_word(word: u64) -> TaskState {
        if word & (state::FINISHING | state::COMPLETE) != 0 {
            TaskState::Finished
        } else if word & state::RUNNING != 0 {
            TaskState::Running
        } else if word & state::SCHEDULED != 0 {
            TaskState::Scheduled
        } else {
            TaskState::Idle
        }
    }
}

/// A snapshot of one task: what [`current`] and [`all_tasks`] return.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id (as [`Task::id`](crate::Task::id) gives it).
    pub id: TaskId,
    /// The name given with [`Builder::name`](crate::task::Builder::name).
    pub name: Option<String>,
    /// What the task was doing when it was looked at.
    pub state: TaskState,
    /// How many times its future has been polled (a `spawn_blocking` job:
    /// 1 once it has started).
    pub polls: u64,
    /// How long ago it was spawned (coarse: see the module docs).
    pub since_spawn: Duration,
    /// How long ago its last poll started (coarse), or `None` if it has
    /// never been polled.
    pub since_last_poll: Option<Duration>,
    /// Where it was spawned: the caller of `spawn`, `Builder::spawn`,
    /// `Handle::spawn`, `TaskGroup::spawn`, `spawn_blocking`, ...
    pub spawned_at: &'static Location<'static>,
}

impl TaskInfo {
    /// A snapshot of the task with this header, spawned at `site`; `now`
    /// is a clock reading (nanoseconds since the runtime clock's origin).
    pub(crate) fn of(header: &Header, site: SpawnSite, now: u64) -> TaskInfo {
        let since_spawn = now.saturating_sub(site.spawned_at);
        let polls = header.polls();
        let since_last_poll = (polls > 0).then(|| {
            let last = header.last_poll.load(Ordering::Relaxed);
            let now_units = (now >> POLL_STAMP_SHIFT) as u32;
            let units = u64::from(now_units.wrapping_sub(last));
            // A stamp from a clock read after `now` (another thread's) wraps
            // to a huge value: take it as "just now", and never exceed the age.
            // Otherwise the stamp rounded down to its unit, so the time since
            // it is never less than the truth.
            let ns = if units > u64::from(u32::MAX / 2) {
                0
            } else {
                let mask = (1 << POLL_STAMP_SHIFT) - 1;
                (units << POLL_STAMP_SHIFT) + (now & mask)
            };
            Duration::from_nanos(ns.min(since_spawn))
        });
        TaskInfo {
            id: header.id,
            name: header.name().map(str::to_owned),
            state: TaskState::from_word(header.state.load()),
            polls,
            since_spawn: Duration::from_nanos(since_spawn),
            since_last_poll,
            spawned_at: site.location,
        }
    }

    /// Snapshots of every live task of `shared`, with one clock reading.
    pub(crate) fn all(shared: &crate::scheduler::Shared) -> Vec<TaskInfo> {
        let now = shared.clock.precise();
        shared.owned.snapshot(|h, site| TaskInfo::of(h, site, now))
    }
}

/// The task whose future (or blocking job) is running on this thread
/// (asyncio's `current_task()`), with state [`TaskState::Running`]; `None`
/// outside a task, e.g. in `block_on`'s own future or on a plain thread.
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let task = rt.spawn(async { aiolos::task::current().unwrap().name });
/// assert_eq!(rt.block_on(task).unwrap(), None);
/// assert!(aiolos::task::current().is_none());
/// ```
pub fn current() -> Option<TaskInfo> {
    crate::context::with_current_task(|header| {
        // A task is linked from spawn until it completes, so during its
        // poll (or its future's drop) its site is there.
        header.map(|h| TaskInfo::of(h, h.shared.owned.site(h), h.shared.clock.precise()))
    })
}

/// Every live task of the current runtime (asyncio's `all_tasks()`): spawned
/// tasks and `spawn_blocking` jobs that have not finished, in no particular
/// order, each with its name, state, polls so far, time since spawn and
/// since its last poll, and where it was spawned. Each entry is a snapshot
/// taken under the lock of its part of the task list, so the list is
/// consistent per task but not one instant.
/// [`Handle::dump`](crate::Handle::dump) prints it as a table.
///
/// # Panics
///
/// Outside a runtime (like asyncio's `all_tasks()` without a running loop):
/// use [`Handle::all_tasks`](crate::Handle::all_tasks) there.
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let t = aiolos::task::Builder::new()
///         .name("sleeper")
///         .spawn(std::future::pending::<()>());
///     let all = aiolos::task::all_tasks();
///     assert!(all.iter().any(|i| i.id == t.id() && i.name.as_deref() == Some("sleeper")));
///     t.cancel();
/// });
/// ```
#[track_caller]
pub fn all_tasks() -> Vec<TaskInfo> {
    match crate::context::with_current(|shared| TaskInfo::all(shared)) {
        Some(all) => all,
        None => panic!("{}", crate::context::no_runtime("aiolos::task::all_tasks")),
    }
}

/// Cancels the live task with this id on the current runtime, as
/// [`Task::cancel`](crate::Task::cancel) would (asyncio's `task.cancel()` on
/// an entry of `all_tasks()`): true if a cancellation was requested, false
/// if no task with this id is alive or it is already finishing.
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let t = aiolos::spawn(std::future::pending::<()>());
///     for info in aiolos::task::all_tasks() {
///         assert!(aiolos::task::cancel(info.id));
///     }
///     assert!(t.await.unwrap_err().is_cancelled());
/// });
/// ```
///
/// # Panics
///
/// Outside a runtime: use [`Handle::cancel_task`](crate::Handle::cancel_task)
/// there.
#[track_caller]
pub fn cancel(id: TaskId) -> bool {
    match crate::context::with_current(|shared| shared.owned.cancel_ref(id)) {
        Some(task) => task.is_some_and(|t| t.cancel(false)),
        None => panic!("{}", crate::context::no_runtime("aiolos::task::cancel")),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn state_words_decode_to_the_listed_states() {
        assert_eq!(TaskState::from_word(state::INITIAL), TaskState::Scheduled);
        assert_eq!(TaskState::from_word(state::JOIN_INTEREST), TaskState::Idle);
        let running = state::RUNNING | state::SCHEDULED | state::JOIN_INTEREST;
        assert_eq!(TaskState::from_word(running), TaskState::Running);
        let finishing = state::RUNNING | state::FINISHING;
        assert_eq!(TaskState::from_word(finishing), TaskState::Finished);
        assert_eq!(TaskState::from_word(state::COMPLETE), TaskState::Finished);
    }
}
