//! Cascading cancellation: how a cancellation made by a combinator reaches
//! the tasks that the abandoned work was awaiting.
//!
//! asyncio cancels the task an awaiting task waits on; a Rust future has no
//! such link, so aiolos follows ownership instead: the `Task` handles that an
//! abandoned future owns.
//!
//! 1. A combinator that gives up on children (a `gather` that is dropped,
//!    `try_gather` after the first error) drops them inside
//!    [`cancelling`]. While it runs, a `Task` handle dropped on this
//!    thread cancels its task, cascading, instead of detaching it.
//! 2. A cascading cancel (from step 1, or a `TaskGroup` cancelling its
//!    children) marks the task `CASCADE` as well as `CANCELLED`. The thread
//!    that then drops the task's future does so inside a cancel scope too
//!    (`raw::finish`), so the cascade goes on down the tree of handles.
//! 3. [`Shield`](crate::Shield) detaches its task in any scope: the cascade
//!    stops there. `wait` and `as_completed` never cancel either (as in
//!    asyncio): they detach the tasks they drop.
//!
//! A plain [`Task::cancel`](crate::Task::cancel), a handle dropped anywhere
//! else, and runtime shutdown do not cascade.

/// Runs `f`, which drops things, inside a cancel scope: a `Task` handle
/// dropped meanwhile on this thread cancels its task (cascading) instead of
/// detaching it.
pub(crate) fn cancelling<R>(f: impl FnOnce() -> R) -> R {
    crate::context::cancelling_drops(f)
}
