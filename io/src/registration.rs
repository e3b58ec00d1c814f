//! `Registration`: a file descriptor registered with the reactor for as
//! long as the value lives, and the readiness protocol around an operation.
//!
//! # An operation (`poll_io`)
//!
//! 1. Spend one unit of the task's cooperative budget (yield if it is spent).
//! 2. Note the direction's event tick, then try the operation. Anything but
//!    `WouldBlock` is the answer.
//! 3. On `WouldBlock`, forget the direction's readiness unless an event came
//!    since the tick was noted (see `source.rs`), and poll it: `Pending`
//!    stores the waker; the next edge wakes it. When it is ready, go to 2.
//!
//! Dropping the registration removes the fd from the poller first; the
//! owner closes the fd afterwards (declare the registration before the I/O
//! object so it drops first). A later socket that reuses the fd number gets
//! a new generation-keyed source: no stale wake-up reaches it.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::context;
use crate::source::{Direction, Source};
use crate::Driver;

/// A file descriptor registered with a runtime's reactor.
pub struct Registration {
    driver: Arc<Driver>,
    source: Arc<Source>,
}

impl Registration {
    /// Registers `fd` with the current runtime's reactor.
    ///
    /// # Safety
    ///
    /// `fd` must stay open until the registration is dropped.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    #[track_caller]
    pub unsafe fn new(fd: RawFd) -> io::Result<Registration> {
        let driver = context::current_driver("registering an aiolos I/O object");
        // SAFETY: the caller keeps `fd` open while we are registered.
        let source = unsafe { driver.register(fd) }?;
        Ok(Registration { driver, source })
    }

    /// Polls readiness in `dir`, spending budget first.
    ///
    /// `Ready` means the fd is ready now: a readiness flag left over from an
    /// earlier edge is checked with the kernel (`poll(2)`, no wait) and
    /// cleared if stale, so a loop of `readable().await` and a
    /// non-`read_with` read that hits `WouldBlock` waits instead of spinning.
    pub fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.driver.is_shutdown() {
            return Poll::Ready(Err(context::shut_down()));
        }
        if context::poll_coop(cx).is_pending() {
            return Poll::Pending;
        }
        // Events may keep coming while the kernel says "not ready" (data
        // arriving and being read elsewhere); after a few rounds, report
        // ready and let the caller's operation decide.
        for _ in 0..4 {
            let tick = self.source.tick(dir);
            match self.driver.poll_ready(&self.source, dir, cx) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            match self.source.is_ready_now(dir) {
                Ok(true) => return Poll::Ready(Ok(())),
                Ok(false) => self.clear_ready(dir, tick),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The event tick of `dir`, to note before an operation.
    pub fn tick(&self, dir: Direction) -> u32 {
        self.source.tick(dir)
    }

    /// Forgets readiness in `dir` after an operation begun at `tick` hit
    /// `WouldBlock`, unless an event arrived since.
    pub fn clear_ready(&self, dir: Direction, tick: u32) {
        self.source.clear_ready(dir, tick);
    }

    /// Waits until the fd is ready in `dir` (or was since the last
    /// `WouldBlock`).
    pub async fn ready(&self, dir: Direction) -> io::Result<()> {
        poll_fn(|cx| self.poll_ready(dir, cx)).await
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting for `dir`
    /// readiness in between (the steps in the module docs).
    pub fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_op(dir, cx, false, op, |_, _| {})
    }

    /// `poll_io` for a read of at most `len` bytes from a stream socket.
    /// With `drains` (TCP: a short read means the receive queue was
    /// drained), readiness is forgotten after a short read
    /// (`Source::clear_ready_drained`), and a read that finds readiness
    /// forgotten waits for the next edge without trying: the `WouldBlock`
    /// system call a request-response server makes after each request is
    /// saved.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        drains: bool,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_op(Direction::Read, cx, drains, op, |&n, tick| {
            if drains && n > 0 && n < len {
                self.source.clear_ready_drained(tick);
            }
        })
    }

    /// The loop behind both: `skip_unready` waits without trying while
    /// readiness is forgotten; `done` sees a successful result and the tick
    /// noted before the operation.
    fn poll_op<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        skip_unready: bool,
        mut op: impl FnMut() -> io::Result<R>,
        done: impl FnOnce(&R, u32),
    ) -> Poll<io::Result<R>> {
        if context::poll_coop(cx).is_pending() {
            return Poll::Pending;
        }
        loop {
            let tick = self.source.tick(dir);
            if !skip_unready || self.source.is_ready(dir) {
                match op() {
                    Ok(r) => {
                        done(&r, tick);
                        return Poll::Ready(Ok(r));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.clear_ready(dir, tick);
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if self.driver.is_shutdown() {
                return Poll::Ready(Err(context::shut_down()));
            }
            match self.driver.poll_ready(&self.source, dir, cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.driver.deregister(&self.source);
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}
