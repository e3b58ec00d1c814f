//! [`gather!`](crate::gather!): a few futures of different types, polled
//! concurrently in the calling task; the tuple of their outputs.
//!
//! The macro wraps each future in a [`MaybeDone`] and the tuple of those in a
//! [`GatherTuple`], which polls only the children its [`ReadyQueue`] says
//! were woken. The tuple impls (up to 12 futures) come from one
//! `macro_rules!` below.

use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::ready::ReadyQueue;
use crate::task::cascade;

/// Runs futures of different types concurrently in the calling task and
/// gives the tuple of their outputs (asyncio's `gather(a, b, c)`).
///
/// Each argument is anything `IntoFuture`; up to 12 of them. Only the
/// futures that were woken are polled again, and a finished one never is.
/// Spawned [`Task`](crate::Task)s give `Result<T, TaskError>` like anywhere
/// else. Dropping the gather before it finishes drops the unfinished futures
/// and cancels the unfinished `Task`s among them (see
/// [`gather`](crate::gather()) for the rules and
/// [`shield`](crate::shield) for the way out).
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let (a, b, c) = rt.block_on(async {
///     let name = aiolos::spawn(async { String::from("aiolos") });
///     aiolos::gather!(async { 1 + 1 }, name, async { 'x' }).await
/// });
/// assert_eq!((a, b.unwrap(), c), (2, "aiolos".to_string(), 'x'));
/// ```
#[macro_export]
macro_rules! gather {
    ($($fut:expr),+ $(,)?) => {
        $crate::combinators::GatherTuple::new((
            $($crate::combinators::MaybeDone::new(
                ::core::future::IntoFuture::into_future($fut)
            ),)+
        ))
    };
}

/// One child of a [`gather!`](crate::gather!): its future, then its output.
pub struct MaybeDone<F: Future>(Stage<F>);

/// What a [`MaybeDone`] holds.
enum Stage<F: Future> {
    /// Not finished.
    Future(F),
    /// Finished with this output.
    Done(F::Output),
    /// Dropped, or its output taken.
    Gone,
}

impl<F: Future> MaybeDone<F> {
    /// Wraps a future (used by [`gather!`](crate::gather!)).
    pub fn new(future: F) -> MaybeDone<F> {
        MaybeDone(Stage::Future(future))
    }

    /// Polls the future if it is unfinished; true when it finished in this
    /// call.
    fn poll_step(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        // SAFETY: the future is polled where it is and leaves only by being
        // dropped in place (the assignment below and in `drop_future`).
        let this = unsafe { self.get_unchecked_mut() };
        let Stage::Future(fut) = &mut this.0 else {
            return false;
        };
        // SAFETY: as above.
        match unsafe { Pin::new_unchecked(fut) }.poll(cx) {
            Poll::Ready(out) => {
                this.0 = Stage::Done(out);
                true
            }
            Poll::Pending => false,
        }
    }

    /// Takes the output of a finished child.
    fn take(self: Pin<&mut Self>) -> F::Output {
        // SAFETY: only an output moves out, never the (pinned) future.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(
            matches!(this.0, Stage::Done(_)),
            "gather! took the output of an unfinished future"
        );
        match std::mem::replace(&mut this.0, Stage::Gone) {
            Stage::Done(out) => out,
            _ => unreachable!(),
        }
    }

    /// Drops the future if it is unfinished.
    fn drop_future(self: Pin<&mut Self>) {
        // SAFETY: the future is dropped in place by the assignment.
        let this = unsafe { self.get_unchecked_mut() };
        if let Stage::Future(_) = this.0 {
            this.0 = Stage::Gone;
        }
    }
}

impl<F: Future> fmt::Debug for MaybeDone<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Stage::Future(_) => "MaybeDone::Future",
            Stage::Done(_) => "MaybeDone::Done",
            Stage::Gone => "MaybeDone::Gone",
        })
    }
}

mod sealed {
    /// Only the tuples of `MaybeDone` below are children of a `gather!`.
    pub trait Sealed {}
}

/// A tuple of [`MaybeDone`]s that [`GatherTuple`] can drive; implemented for
/// tuples of 1 to 12 elements, and for nothing else.
pub trait TupleChildren: sealed::Sealed {
    /// The tuple of the outputs.
    type Output;
    /// How many children.
    const LEN: usize;
    /// Polls child `i`; true when it finished in this call.
    #[doc(hidden)]
    fn poll_child(self: Pin<&mut Self>, i: usize, cx: &mut Context<'_>) -> bool;
    /// Drops every unfinished child.
    #[doc(hidden)]
    fn drop_pending(self: Pin<&mut Self>);
    /// Takes every output; all children have finished.
    #[doc(hidden)]
    fn take_outputs(self: Pin<&mut Self>) -> Self::Output;
}

macro_rules! tuple_children {
    ($len:expr; $($T:ident $idx:tt),+) => {
        impl<$($T: Future),+> sealed::Sealed for ($(MaybeDone<$T>,)+) {}

        impl<$($T: Future),+> TupleChildren for ($(MaybeDone<$T>,)+) {
            type Output = ($($T::Output,)+);
            const LEN: usize = $len;

            fn poll_child(self: Pin<&mut Self>, i: usize, cx: &mut Context<'_>) -> bool {
                // SAFETY: the fields are pinned with the tuple (structural
                // pinning); none is moved out.
                let this = unsafe { self.get_unchecked_mut() };
                match i {
                    $($idx => {
                        // SAFETY: as above.
                        let child = unsafe { Pin::new_unchecked(&mut this.$idx) };
                        child.poll_step(cx)
                    })+
                    _ => false,
                }
            }

            fn drop_pending(self: Pin<&mut Self>) {
                // SAFETY: as in `poll_child`.
                let this = unsafe { self.get_unchecked_mut() };
                $({
                    // SAFETY: as above.
                    let child = unsafe { Pin::new_unchecked(&mut this.$idx) };
                    child.drop_future();
                })+
            }

            fn take_outputs(self: Pin<&mut Self>) -> Self::Output {
                // SAFETY: as in `poll_child`.
                let this = unsafe { self.get_unchecked_mut() };
                ($({
                    // SAFETY: as above.
                    let child = unsafe { Pin::new_unchecked(&mut this.$idx) };
                    child.take()
                },)+)
            }
        }
    };
}

tuple_children!(1; A 0);
tuple_children!(2; A 0, B 1);
tuple_children!(3; A 0, B 1, C 2);
tuple_children!(4; A 0, B 1, C 2, D 3);
tuple_children!(5; A 0, B 1, C 2, D 3, E 4);
tuple_children!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_children!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_children!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_children!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_children!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
tuple_children!(11; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
tuple_children!(12; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);

/// The future of [`gather!`](crate::gather!): the tuple of its futures'
/// outputs.
#[must_use = "futures do nothing unless awaited"]
pub struct GatherTuple<T: TupleChildren> {
    /// The children (pinned with the gather).
    children: T,
    /// Which children were woken.
    queue: ReadyQueue,
    /// Children not finished yet.
    remaining: usize,
    /// The output was returned.
    done: bool,
}

impl<T: TupleChildren> GatherTuple<T> {
    /// Gathers a tuple of children (used by [`gather!`](crate::gather!)).
    pub fn new(children: T) -> GatherTuple<T> {
        GatherTuple {
            children,
            queue: ReadyQueue::new(T::LEN),
            remaining: T::LEN,
            done: false,
        }
    }

    /// Gives up on the gather, as [`Gather::cancel`](super::Gather::cancel)
    /// does; the same as dropping it.
    pub fn cancel(self) {}
}

impl<T: TupleChildren> Future for GatherTuple<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        // SAFETY: `children` is structurally pinned (never moved, dropped in
        // place); the other fields are not pinned and may be used freely.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "gather! was polled after it completed");
        // SAFETY: as above.
        let mut children = unsafe { Pin::new_unchecked(&mut this.children) };
        let remaining = &mut this.remaining;
        let flow = this.queue.poll_queued(cx, |i, cx| {
            if children.as_mut().poll_child(i, cx) {
                *remaining -= 1;
                if *remaining == 0 {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if flow.is_continue() {
            return Poll::Pending;
        }
        this.done = true;
        Poll::Ready(children.take_outputs())
    }
}

impl<T: TupleChildren> Drop for GatherTuple<T> {
    fn drop(&mut self) {
        if self.done || self.remaining == 0 {
            return;
        }
        // SAFETY: this is the last use of the pinned children, which are
        // dropped in place.
        let children = unsafe { Pin::new_unchecked(&mut self.children) };
        cascade::cancelling(|| children.drop_pending());
    }
}

impl<T: TupleChildren> fmt::Debug for GatherTuple<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatherTuple")
            .field("len", &T::LEN)
            .field("remaining", &self.remaining)
            .finish()
    }
}
