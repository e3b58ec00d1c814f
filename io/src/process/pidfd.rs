//! pidfds (Linux 5.3+): a file descriptor naming one child process, which
//! polls readable once the child has exited, and through which signals
//! reach exactly that process even if its pid were reused.
//!
//! [`ExitWatch`] registers a pidfd with a runtime's reactor directly
//! (through the [`Driver`], not an `Async`): the same registration serves a
//! `Child::wait` inside a task, which spends the task's cooperative budget
//! first, and the orphan list (`orphan.rs`), which polls it from a waker
//! outside any task and must not spend a budget that is not its own.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::source::{Direction, Source};
use crate::Driver;

/// `pidfd_open(pid, 0)`: a pidfd for our (not yet reaped) child `pid`,
/// close-on-exec.
///
/// Fails with `ENOSYS` on kernels older than 5.3 and with `EPERM` (or
/// `ENOSYS`) under some seccomp filters; the caller then falls back to
/// SIGCHLD.
pub(crate) fn open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: `pidfd_open` takes a pid and a flags word and returns a new
    // fd or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// `pidfd_send_signal(fd, signal, NULL, 0)`.
fn send_signal(fd: &OwnedFd, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: a live pidfd, a signal number the kernel checks, and a null
    // `siginfo` (the kernel fills in a plain `kill`-like one).
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A child's pidfd, registered with the reactor of the runtime that
/// spawned the child.
pub(crate) struct ExitWatch {
    /// The reactor the pidfd is registered with.
    driver: Arc<Driver>,
    /// The registration; removed (in `drop`) before `fd` closes.
    source: Arc<Source>,
    /// The pidfd.
    fd: OwnedFd,
}

impl ExitWatch {
    /// Registers `fd` with `driver`.
    pub(crate) fn new(fd: OwnedFd, driver: Arc<Driver>) -> io::Result<ExitWatch> {
        // SAFETY: `fd` is stored in the returned value and closed only
        // after `drop` has deregistered it (fields drop after `Drop::drop`);
        // on error nothing was registered.
        let source = unsafe { driver.register(fd.as_raw_fd()) }?;
        Ok(ExitWatch { driver, source, fd })
    }

    /// Sends `signal` to the child through its pidfd.
    pub(crate) fn send_signal(&self, signal: libc::c_int) -> io::Result<()> {
        send_signal(&self.fd, signal)
    }

    /// Whether the runtime this watch belongs to has shut down (no event
    /// will wake a waiter any more).
    pub(crate) fn is_shut_down(&self) -> bool {
        self.driver.is_shutdown()
    }

    /// Runs `reap` until it gives a value, waiting for the pidfd to become
    /// readable (the child exited) in between:
    ///
    /// 1. note the read tick, then call `reap` (a `waitpid(WNOHANG)`);
    /// 2. if the child still runs, forget readiness unless an event came
    ///    since the tick (so an exit between 1 and 2 is never lost);
    /// 3. poll readiness: `Pending` stores the waker, which the exit's
    ///    event wakes; `Ready` goes back to 1.
    ///
    /// Spends no cooperative budget: callers inside a task do that first.
    pub(crate) fn poll_reap<T>(
        &self,
        cx: &mut Context<'_>,
        mut reap: impl FnMut() -> io::Result<Option<T>>,
    ) -> Poll<io::Result<T>> {
        loop {
            let tick = self.source.tick(Direction::Read);
            if let Some(v) = reap()? {
                return Poll::Ready(Ok(v));
            }
            self.source.clear_ready(Direction::Read, tick);
            match self.driver.poll_ready(&self.source, Direction::Read, cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        // Deregister while the fd is still open; `fd` closes after this.
        let _ = self.driver.deregister(&self.source);
    }
}

impl fmt::Debug for ExitWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExitWatch")
            .field("pidfd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}
