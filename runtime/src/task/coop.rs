//! The cooperative budget: how many times a task may find an aiolos resource
//! ready in one turn before it is made to yield.
//!
//! Each poll of a task starts with [`BUDGET`] units (see
//! `context::enter_task`). aiolos's own resources call [`poll_proceed`] before
//! reporting `Ready`; once the budget is spent they return `Pending` after
//! waking the task, which sends it to the back of its worker's queue, so a task
//! whose sockets or channels are always ready cannot starve its neighbours.
//! Outside a task (no runtime) the budget is unlimited.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::context;

/// Units of budget per task turn.
pub(crate) const BUDGET: u16 = 128;

/// Spends one unit of budget, or, when none is left, wakes the task and
/// returns `Pending` so that it yields.
pub(crate) fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    if context::budget_spend() {
        Poll::Ready(())
    } else {
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Spends one unit of the current task's cooperative budget, yielding to the
/// scheduler first if the budget for this turn is used up.
///
/// Resource types (sockets, channels, locks) call this before doing work that
/// could otherwise be ready forever; a loop that does nothing but ready work
/// can call it too. Outside an aiolos task it never yields.
///
/// ```
/// # let rt = aiolos::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let mut sum = 0u64;
/// for i in 0..10_000u64 {
///     aiolos::task::consume_budget().await; // lets neighbours run every ~128 rounds
///     sum += i;
/// }
/// assert_eq!(sum, 49_995_000);
/// # });
/// ```
pub async fn consume_budget() {
    ConsumeBudget.await
}

/// The future behind [`consume_budget`].
struct ConsumeBudget;

impl Future for ConsumeBudget {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        poll_proceed(cx)
    }
}
