//! What a thread knows about the runtime it is in: one `thread_local!` of
//! plain `Cell`s (no destructor, so it is usable at any point of a thread's
//! life and costs one TLS offset to reach).
//!
//! - `shared`: the runtime entered on this thread (by a worker, a blocking
//!   thread or `block_on`), for `aiolos::spawn` and `Handle::current`.
//! - `worker`: this thread's worker state, when it is a worker, so that a
//!   wake-up here goes to the local queue or LIFO slot.
//! - `forbid_block_on`: set on workers and inside `block_on`.
//! - `budget`: the cooperative budget of the task being polled.
//! - `task`: the header of the task being polled, for `task::current()`.
//! - `cancel_drops`: set while a combinator drops children it gives up on
//!   (see `task::cascade`): a `Task` handle dropped meanwhile cancels its task
//!   instead of detaching it.

use std::cell::Cell;
use std::ptr;

use crate::loom::Arc;
use crate::scheduler::{worker::Local, Shared};
use crate::task::raw::Header;

/// Budget value meaning "no limit" (outside tasks and in blocking jobs).
const UNCONSTRAINED: u16 = u16::MAX;

struct Context {
    shared: Cell<*const Shared>,
    worker: Cell<*const Local>,
    forbid_block_on: Cell<bool>,
    budget: Cell<u16>,
    batching: Cell<*const Shared>,
    batching_timers: Cell<bool>,
    task: Cell<*const Header>,
    cancel_drops: Cell<bool>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            shared: Cell::new(ptr::null()),
            worker: Cell::new(ptr::null()),
            forbid_block_on: Cell::new(false),
            budget: Cell::new(UNCONSTRAINED),
            batching: Cell::new(ptr::null()),
            batching_timers: Cell::new(false),
            task: Cell::new(ptr::null()),
            cancel_drops: Cell::new(false),
        }
    };
}

/// The panic message for runtime-context functions called outside a runtime.
pub(crate) fn no_runtime(what: &str) -> String {
    format!(
        "{what} was called outside an aiolos runtime; call it from a task, from inside \
         Runtime::block_on, or use a Handle (Runtime::handle()) to spawn from other threads"
    )
}

/// The message for `block_on` inside a runtime.
pub(crate) const NESTED_BLOCK_ON: &str =
    "cannot call block_on from inside an aiolos runtime; use .await or spawn";

/// Calls `f` with the current runtime, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(&Arc<Shared>) -> R) -> Option<R> {
    let p = CONTEXT.with(|c| c.shared.get());
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` was set by an `Enter` guard from a live `Arc<Shared>` that
    // the guard's owner keeps alive until the guard resets the cell; the
    // `ManuallyDrop` makes this a borrow, leaving the count unchanged.
    let arc = std::mem::ManuallyDrop::new(unsafe { Arc::from_raw(p) });
    Some(f(&arc))
}

/// Whether this thread is inside a runtime.
pub(crate) fn in_runtime() -> bool {
    !CONTEXT.with(|c| c.shared.get()).is_null()
}

/// Restores the previous context when dropped.
#[derive(Debug)]
pub(crate) struct Enter {
    shared: *const Shared,
    forbid_block_on: bool,
}

/// Enters `shared` on this thread. The caller keeps `shared` alive until the
/// guard is dropped.
pub(crate) fn enter(shared: &Arc<Shared>, forbid_block_on: bool) -> Enter {
    CONTEXT.with(|c| Enter {
        shared: c.shared.replace(Arc::as_ptr(shared)),
        forbid_block_on: c.forbid_block_on.replace(forbid_block_on),
    })
}

/// Whether `block_on` (and `run_forever`) are refused on this thread.
pub(crate) fn block_on_forbidden() -> bool {
    CONTEXT.with(|c| c.forbid_block_on.get())
}

/// Enters `shared` for `block_on`, panicking if that is not allowed here.
pub(crate) fn enter_block_on(shared: &Arc<Shared>) -> Enter {
    if CONTEXT.with(|c| c.forbid_block_on.get()) {
        panic!("{NESTED_BLOCK_ON}");
    }
    enter(shared, true)
}

impl Drop for Enter {
    fn drop(&mut self) {
        CONTEXT.with(|c| {
            c.shared.set(self.shared);
            c.forbid_block_on.set(self.forbid_block_on);
        });
    }
}

/// Marks this thread as the worker `local` until the returned guard drops.
pub(crate) fn set_worker(local: &Local) -> WorkerGuard {
    CONTEXT.with(|c| c.worker.set(local));
    WorkerGuard(())
}

/// Clears the worker pointer when dropped.
#[derive(Debug)]
pub(crate) struct WorkerGuard(());

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        CONTEXT.with(|c| c.worker.set(ptr::null()));
    }
}

/// Calls `f` with this thread's worker, if it is one.
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&Local>) -> R) -> R {
    let local = CONTEXT.with(|c| c.worker.get());
    // SAFETY: a non-null pointer was set by `set_worker` from the `Local` that
    // runs this thread's worker loop; that guard clears it before the `Local`
    // is dropped, and `f` cannot outlive this call.
    f(unsafe { local.as_ref() })
}

/// Gives the task about to be polled a fresh budget and makes it the current
/// task until the guard drops. The caller keeps the task alive meanwhile.
pub(crate) fn enter_task(task: *const Header) -> TaskGuard {
    CONTEXT.with(|c| TaskGuard {
        budget: c.budget.replace(crate::task::BUDGET_PER_TURN),
        task: c.task.replace(task),
    })
}

/// Restores the previous budget and current task (polls can nest: `block_on`
/// in a blocking job inside ...).
#[derive(Debug)]
pub(crate) struct TaskGuard {
    budget: u16,
    task: *const Header,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        CONTEXT.with(|c| {
            c.budget.set(self.budget);
            c.task.set(self.task);
        });
    }
}

/// Calls `f` with the header of the task being polled on this thread, if any.
pub(crate) fn with_current_task<R>(f: impl FnOnce(Option<&Header>) -> R) -> R {
    let task = CONTEXT.with(|c| c.task.get());
    // SAFETY: a non-null pointer was set by `enter_task` from the task that is
    // being polled, whose poller holds a reference until the guard resets the
    // cell; `f` cannot outlive this call, which runs inside that poll.
    f(unsafe { task.as_ref() })
}

/// Whether a `Task` handle dropped now should cancel its task (inside
/// [`cancelling_drops`]).
pub(crate) fn drops_cancel() -> bool {
    CONTEXT.with(|c| c.cancel_drops.get())
}

/// Runs `f` (which drops things) with `Task` handles dropped meanwhile
/// cancelling their tasks, restoring the previous setting afterwards, even
/// if `f` panics.
pub(crate) fn cancelling_drops<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            CONTEXT.with(|c| c.cancel_drops.set(self.0));
        }
    }
    let _reset = Reset(CONTEXT.with(|c| c.cancel_drops.replace(true)));
    f()
}

/// A fresh budget for one poll of a `block_on` future.
pub(crate) fn budget_reset() {
    CONTEXT.with(|c| c.budget.set(crate::task::BUDGET_PER_TURN));
}

/// Lifts the budget for the rest of this poll (blocking jobs).
pub(crate) fn budget_unconstrained() {
    CONTEXT.with(|c| c.budget.set(UNCONSTRAINED));
}

/// Lifts the budget when dropped (end of a `block_on`).
#[derive(Debug)]
pub(crate) struct UnconstrainOnDrop;

impl Drop for UnconstrainOnDrop {
    fn drop(&mut self) {
        budget_unconstrained();
    }
}

/// Whether any budget is left for this turn (without spending it).
pub(crate) fn budget_left() -> bool {
    CONTEXT.with(|c| c.budget.get() != 0)
}

/// Spends one unit; false when none was left.
pub(crate) fn budget_spend() -> bool {
    CONTEXT.with(|c| match c.budget.get() {
        UNCONSTRAINED => true,
        0 => false,
        n => {
            c.budget.set(n - 1);
            true
        }
    })
}

/// Runs `f` (which wakes tasks) with wake-ups of `shared`'s tasks queued
/// without waking workers; the caller wakes one afterwards. With `timers`,
/// they are timer wake-ups, queued where workers look first.
pub(crate) fn batch_wakeups<R>(shared: &Shared, timers: bool, f: impl FnOnce() -> R) -> R {
    struct Reset(*const Shared, bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            CONTEXT.with(|c| {
                c.batching.set(self.0);
                c.batching_timers.set(self.1);
            });
        }
    }
    let _reset = CONTEXT.with(|c| {
        Reset(
            c.batching.replace(shared),
            c.batching_timers.replace(timers),
        )
    });
    f()
}

/// How wake-ups of `shared`'s tasks are batched on this thread: `None` when
/// they are not, `Some(true)` for timer wake-ups.
pub(crate) fn batching(shared: &Shared) -> Option<bool> {
    CONTEXT.with(|c| ptr::eq(c.batching.get(), shared).then(|| c.batching_timers.get()))
}
