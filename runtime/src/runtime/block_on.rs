//! `block_on`: poll one future on the calling thread (asyncio's
//! `run_until_complete`), sleeping between wake-ups.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

use crate::loom::Arc;
use crate::park::{Parker, ThreadWaker};
use crate::scheduler::Shared;

thread_local! {
    /// This thread's `block_on` waker, made once.
    static WAKER: (StdArc<ThreadWaker>, Waker) = {
        let parker = StdArc::new(ThreadWaker(Parker::new()));
        let waker = Waker::from(parker.clone());
        (parker, waker)
    };
}

/// Runs `future` to completion on this thread with `shared` entered.
#[track_caller]
pub(crate) fn block_on<F: Future>(shared: &Arc<Shared>, future: F) -> F::Output {
    let _enter = crate::context::enter_block_on(shared);
    // Leave no budget behind for code this thread polls later.
    let _budget = crate::context::UnconstrainOnDrop;
    let mut future = pin!(future);
    WAKER.with(|(parker, waker)| {
        let mut cx = Context::from_waker(waker);
        loop {
            crate::context::budget_reset();
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            parker.0.park();
        }
    })
}
