//! [`gather`] and [`try_gather`]: many futures of one type, polled
//! concurrently inside the calling task (asyncio's `gather(*aws)`).
//!
//! The children sit in one boxed slice, in input order; a [`ReadyQueue`]
//! tells the gather which of them were woken, so each wake-up polls one child
//! and gathering n children costs O(n) however they finish. A child's output
//! takes its future's place in the slice, and the finished gather turns the
//! slice into the output `Vec`.
//!
//! Children the gather gives up on (it is dropped early, or `try_gather` saw
//! an error) are dropped inside a cancel scope, so a [`Task`](crate::Task)
//! among them is cancelled rather than detached (see `task/cascade.rs`).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::ready::ReadyQueue;
use crate::task::cascade;

/// Runs every future of `futures` concurrently in the calling task and gives
/// their outputs in input order, whatever order they finish in (asyncio's
/// `gather(*aws, return_exceptions=True)`, for futures of one type; use
/// [`gather!`](crate::gather!) for a few of different types).
///
/// With [`Task`](crate::Task)s each output is the task's
/// `Result<T, TaskError>`, so a failing task does not hide the others'
/// results. Only woken children are polled again, so gathering n futures is
/// O(n) work in total.
///
/// Dropping the returned [`Gather`] before it finishes, or calling
/// [`cancel`](Gather::cancel) on it (or cancelling the task awaiting it),
/// drops the unfinished futures and **cancels** the unfinished `Task`s among
/// them (asyncio: cancelling a gather cancels its children). Wrap a task in [`shield`](crate::shield) to
/// keep it out of that.
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let squares = rt.block_on(async {
///     let tasks: Vec<_> = (0..5u64).map(|i| aiolos::spawn(async move { i * i })).collect();
///     aiolos::gather(tasks).await
/// });
/// let squares: Vec<u64> = squares.into_iter().map(Result::unwrap).collect();
/// assert_eq!(squares, [0, 1, 4, 9, 16]);
/// ```
pub fn gather<I>(futures: I) -> Gather<<I::Item as IntoFuture>::IntoFuture>
where
    I: IntoIterator,
    I::Item: IntoFuture,
{
    Gather {
        children: Children::new(futures),
    }
}

/// Runs futures that give `Result`s concurrently in the calling task and
/// gives all their values in input order, or the first error (asyncio's
/// `gather(*aws)` without `return_exceptions`).
///
/// At the first `Err` it stops: the unfinished futures are dropped, and the
/// unfinished [`Task`](crate::Task)s among them (or inside them) are
/// **cancelled** before the error is returned; values already gathered are
/// dropped. Over `Task<T>`s themselves it gives `Result<Vec<T>, TaskError>`,
/// stopping at the first task that panicked or was cancelled. Dropping the
/// returned [`TryGather`] early cancels the same way as [`gather`].
///
/// ```
/// let rt = aiolos::Runtime::new().unwrap();
/// let res = rt.block_on(async {
///     let jobs = (0..4u32).map(|i| async move {
///         if i == 2 { Err(format!("job {i} failed")) } else { Ok(i) }
///     });
///     aiolos::try_gather(jobs).await
/// });
/// assert_eq!(res, Err("job 2 failed".to_string()));
/// ```
pub fn try_gather<I, T, E>(futures: I) -> TryGather<<I::Item as IntoFuture>::IntoFuture, T, E>
where
    I: IntoIterator,
    I::Item: IntoFuture<Output = Result<T, E>>,
{
    TryGather {
        children: Children::new(futures),
        _error: PhantomData,
    }
}

/// The future of [`gather`]: the outputs of all its futures, in input order.
#[must_use = "futures do nothing unless awaited"]
pub struct Gather<F: Future> {
    /// The futures, then their outputs.
    children: Children<F, F::Output>,
}

impl<F: Future> Gather<F> {
    /// Gives up on the gather (asyncio's `gather(...).cancel()`): drops the
    /// unfinished futures and cancels the unfinished tasks among them. The
    /// same as dropping it.
    pub fn cancel(self) {}
}

impl<F: Future> Future for Gather<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        match self.children.poll(cx, Ok::<_, std::convert::Infallible>) {
            Poll::Ready(Ok(all)) => Poll::Ready(all),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> fmt::Debug for Gather<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.children.fmt_fields(f.debug_struct("Gather"))
    }
}

/// The future of [`try_gather`]: every value in input order, or the first
/// error.
#[must_use = "futures do nothing unless awaited"]
pub struct TryGather<F, T, E> {
    /// The futures, then their values.
    children: Children<F, T>,
    /// The error type (the futures' outputs are `Result<T, E>`).
    _error: PhantomData<fn() -> E>,
}

impl<F, T, E> TryGather<F, T, E> {
    /// Gives up on the gather, as [`Gather::cancel`] does; the same as
    /// dropping it.
    pub fn cancel(self) {}
}

impl<F, T, E> Future for TryGather<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Vec<T>, E>> {
        self.children.poll(cx, |out| out)
    }
}

impl<F, T, E> fmt::Debug for TryGather<F, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.children.fmt_fields(f.debug_struct("TryGather"))
    }
}

/// One child: its future, then what it produced.
enum Slot<F, T> {
    /// Not finished.
    Pending(F),
    /// Finished with this value.
    Done(T),
    /// Dropped, or moved into the output.
    Gone,
}

/// The state `Gather` and `TryGather` share: the children and the queue
/// telling which of them to poll. It is `Unpin` whatever the futures are:
/// they are pinned inside the boxed slice, which stays put when this moves.
struct Children<F, T> {
    /// The children in input order. A boxed slice that is never resized, so
    /// a future in it stays where it is until it is dropped in place.
    slots: Box<[Slot<F, T>]>,
    /// Which children were woken.
    queue: ReadyQueue,
    /// Children not finished yet.
    remaining: usize,
    /// The output was returned (or the gather gave up).
    done: bool,
}

impl<F: Future, T> Children<F, T> {
    fn new<I>(futures: I) -> Children<F, T>
    where
        I: IntoIterator,
        I::Item: IntoFuture<IntoFuture = F>,
    {
        let slots: Box<[Slot<F, T>]> = futures
            .into_iter()
            .map(|f| Slot::Pending(f.into_future()))
            .collect();
        let n = slots.len();
        Children {
            slots,
            queue: ReadyQueue::new(n),
            remaining: n,
            done: false,
        }
    }

    /// Polls the woken children. `keep` turns a child's output into the
    /// value to keep, or into the error that ends the gather.
    fn poll<B>(
        &mut self,
        cx: &mut Context<'_>,
        mut keep: impl FnMut(F::Output) -> Result<T, B>,
    ) -> Poll<Result<Vec<T>, B>> {
        assert!(!self.done, "a gather was polled after it completed");
        if self.remaining > 0 {
            let Children {
                slots,
                queue,
                remaining,
                ..
            } = self;
            let flow = queue.poll_queued(cx, |i, cx| {
                // A finished child may still be woken: ignore it.
                let Slot::Pending(fut) = &mut slots[i] else {
                    return ControlFlow::Continue(());
                };
                // SAFETY: the future lives in the boxed slice, which is never
                // moved or resized; it leaves its slot only by being dropped
                // in place (the assignments below and in `abandon`).
                let fut = unsafe { Pin::new_unchecked(fut) };
                let Poll::Ready(out) = fut.poll(cx) else {
                    return ControlFlow::Continue(());
                };
                match keep(out) {
                    Ok(value) => {
                        slots[i] = Slot::Done(value);
                        *remaining -= 1;
                        if *remaining == 0 {
                            return ControlFlow::Break(None);
                        }
                        ControlFlow::Continue(())
                    }
                    Err(stop) => {
                        slots[i] = Slot::Gone;
                        ControlFlow::Break(Some(stop))
                    }
                }
            });
            match flow {
                ControlFlow::Continue(()) => return Poll::Pending,
                ControlFlow::Break(Some(stop)) => {
                    self.done = true;
                    self.abandon();
                    // The values gathered so far go too.
                    self.slots = Box::default();
                    return Poll::Ready(Err(stop));
                }
                ControlFlow::Break(None) => {}
            }
        }
        self.done = true;
        let all = std::mem::take(&mut self.slots)
            .into_vec()
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(value) => value,
                _ => unreachable!("a gather finished with an unfinished child"),
            })
            .collect();
        Poll::Ready(Ok(all))
    }
}

impl<F, T> Children<F, T> {
    /// Drops the unfinished children inside a cancel scope, so the `Task`s
    /// among them (or owned by them) are cancelled.
    fn abandon(&mut self) {
        if self.remaining == 0 {
            return;
        }
        self.remaining = 0;
        let slots = &mut self.slots;
        cascade::cancelling(|| {
            for slot in slots.iter_mut() {
                if let Slot::Pending(_) = slot {
                    // Dropped in place, as pinning requires.
                    *slot = Slot::Gone;
                }
            }
        });
    }

    fn fmt_fields(&self, mut d: fmt::DebugStruct<'_, '_>) -> fmt::Result {
        d.field("len", &self.queue.len())
            .field("remaining", &self.remaining)
            .finish()
    }
}

impl<F, T> Drop for Children<F, T> {
    fn drop(&mut self) {
        self.abandon();
    }
}
