//! Task introspection: [`current`] and [`all_tasks`] (asyncio's
//! `current_task()` and `all_tasks()`), read from the task state word and the
//! runtime's owned-task list.

use super::id::TaskId;
use super::raw::Header;
use super::state;

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
    pub(crate) fn from_word(word: usize) -> TaskState {
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
}

impl TaskInfo {
    /// A snapshot of the task with this header.
    pub(crate) fn of(header: &Header) -> TaskInfo {
        TaskInfo {
            id: header.id,
            name: header.name.as_deref().map(|n| n.0.to_string()),
            state: TaskState::from_word(header.state.load()),
        }
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
    crate::context::with_current_task(|header| header.map(TaskInfo::of))
}

/// Every live task of the current runtime (asyncio's `all_tasks()`): spawned
/// tasks and `spawn_blocking` jobs that have not finished, in no particular
/// order. Each entry is a snapshot taken under the lock of its part of the
/// task list, so the list is consistent per task but not one instant.
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
    match crate::context::with_current(|shared| shared.owned.snapshot(TaskInfo::of)) {
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
