//! `timeout` and `timeout_at` (asyncio's `wait_for` and `asyncio.timeout`).

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, Sleep};

/// Runs `future` for at most `duration`: its output, or [`Elapsed`] if the
/// time ran out first, in which case `future` is dropped (asyncio's
/// `wait_for`). The future is polled before the timer, so one that is
/// already ready never touches the timer wheel.
///
/// # Panics
///
/// Outside an aiolos runtime.
///
/// ```
/// use std::time::Duration;
/// use aiolos::time::timeout;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     assert_eq!(timeout(Duration::from_secs(1), async { 7 }).await, Ok(7));
///     let never = std::future::pending::<()>();
///     assert!(timeout(Duration::from_millis(5), never).await.is_err());
/// });
/// ```
#[track_caller]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        delay: Sleep::new(Instant::now() + duration, "aiolos::time::timeout"),
    }
}

/// Like [`timeout`], with a deadline.
///
/// # Panics
///
/// Outside an aiolos runtime.
#[track_caller]
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        delay: Sleep::new(deadline, "aiolos::time::timeout_at"),
    }
}

/// The future returned by [`timeout`] and [`timeout_at`].
pub struct Timeout<F> {
    /// The future being limited (structurally pinned).
    future: F,
    /// The deadline (`Sleep` is `Unpin`).
    delay: Sleep,
}

impl<F> Timeout<F> {
    /// The inner future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }

    /// The inner future, giving up the time limit.
    pub fn into_inner(self) -> F {
        self.future
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.delay.deadline()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out of
        // a pinned `Timeout` (no method moves it except `into_inner`, which
        // takes `self` by value and so needs an unpinned `Timeout`), and
        // `Timeout` has no `Drop` impl. `delay` is not pinned (`Sleep: Unpin`).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        // The future first: a ready future never registers a timer.
        if let Poll::Ready(out) = future.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match this.delay.poll_deadline(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("future", &self.future)
            .field("delay", &self.delay)
            .finish()
    }
}

/// The error of [`timeout`]: the time ran out (asyncio's `TimeoutError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}
