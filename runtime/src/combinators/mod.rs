//! asyncio's ways of running several awaitables at once: [`gather`] and
//! [`gather!`](crate::gather!), [`try_gather`], [`wait`], [`as_completed`],
//! [`shield`] and [`TaskGroup`]; this module holds their future types.
//!
//! | asyncio | aiolos |
//! |---|---|
//! | `gather(a, b, c)` | [`gather!`](crate::gather!)`(a, b, c)` (a tuple) |
//! | `gather(*aws, return_exceptions=True)` | [`gather(iter)`](gather) (a `Vec`, in input order) |
//! | `gather(*aws)` | [`try_gather(iter)`](try_gather) (stops at the first `Err`) |
//! | `wait(fs, timeout=, return_when=)` | [`wait(tasks, ReturnWhen::.., timeout)`](wait) |
//! | `as_completed(fs)` | [`as_completed(tasks)`](as_completed) (a `Stream`) |
//! | `shield(aw)` | [`shield(task)`](shield) |
//! | `async with TaskGroup() as tg` | [`TaskGroup::new()`](TaskGroup::new), [`join`](TaskGroup::join) |
//!
//! # Cancellation
//!
//! The gathers cancel what they give up on: a gather that is dropped before
//! it finishes (for example because the task awaiting it was cancelled), or
//! a `try_gather` that saw an error, drops its unfinished futures and
//! cancels the unfinished [`Task`](crate::Task)s among them, instead of
//! detaching them as a dropped `Task` otherwise is. A [`TaskGroup`] cancels
//! its children on the first failure. Either cancellation cascades: the
//! cancelled task's future is dropped with the `Task`s it owns cancelled as
//! well, as asyncio's cancellation reaches the task being awaited.
//! [`shield`] stops the cascade, and [`wait`] and [`as_completed`] never
//! cancel anything.
//!
//! # Implementation
//!
//! `gather`, `try_gather`, `gather!`, `wait` and `as_completed` run their
//! children inside the calling task and give each child its own waker,
//! which records in a lock-free ready queue which child was woken
//! (`ready.rs`), so a wake-up polls one child, never all of them. They poll
//! at most one round of children per turn and respect the cooperative
//! budget.

mod as_completed;
mod gather;
mod group;
mod ready;
mod shield;
mod tuple;
mod wait;

pub use as_completed::{as_completed, AsCompleted};
pub use gather::{gather, try_gather, Gather, TryGather};
pub use group::{GroupError, GroupJoin, TaskGroup};
pub use shield::{shield, Shield};
pub use tuple::{GatherTuple, MaybeDone, TupleChildren};
pub use wait::{wait, ReturnWhen, Wait};
