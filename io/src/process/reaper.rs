//! `Reaper`: one child's pid, its exit status once known, and how its
//! exit is noticed (a pidfd on the reactor, or SIGCHLD).

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::orphan;
use super::pidfd::{self, ExitWatch};
use super::sigchld::SigchldWatch;
use crate::{context, Driver};

/// How a child's exit is noticed.
#[derive(Debug)]
enum Watch {
    /// Its pidfd, registered with the reactor.
    Pidfd(ExitWatch),
    /// SIGCHLD deliveries (no pidfd on this kernel, or forced).
    Sigchld(SigchldWatch),
}

/// A child process until it is reaped, and its status afterwards.
///
/// The pid stays ours (the kernel cannot reuse it) until `waitpid`
/// returns it, and only this value (or the orphan list it hands the pid
/// to on drop) calls `waitpid` for it, so signals sent by pid before that
/// reach the right process.
#[derive(Debug)]
pub(crate) struct Reaper {
    /// The child's pid.
    pid: libc::pid_t,
    /// The exit status, once reaped.
    status: Option<ExitStatus>,
    /// How its exit is noticed; dropped when it is reaped (`None` also
    /// before `watch`).
    watch: Option<Watch>,
    /// Send SIGKILL when dropped before the child was reaped.
    kill_on_drop: bool,
}

impl Reaper {
    /// Takes charge of the child `pid`, just spawned. Until
    /// [`watch`](Reaper::watch) succeeds nothing notices its exit, but
    /// dropping the reaper still hands it to the orphan list.
    pub(crate) fn new(pid: libc::pid_t, kill_on_drop: bool) -> Reaper {
        Reaper {
            pid,
            status: None,
            watch: None,
            kill_on_drop,
        }
    }

    /// Opens and registers the child's pidfd with `driver`, or, when that
    /// fails (or `force_sigchld`), starts listening to SIGCHLD.
    ///
    /// # Errors
    ///
    /// When the SIGCHLD listener cannot be set up either.
    pub(crate) fn watch(&mut self, driver: Arc<Driver>, force_sigchld: bool) -> io::Result<()> {
        let pidfd = if force_sigchld {
            None
        } else {
            // `ENOSYS` (kernel before 5.3), `EPERM` (seccomp), or the
            // registration failing: all leave SIGCHLD.
            pidfd::open(self.pid)
                .and_then(|fd| ExitWatch::new(fd, driver))
                .ok()
        };
        self.watch = Some(match pidfd {
            Some(w) => Watch::Pidfd(w),
            None => Watch::Sigchld(SigchldWatch::new()?),
        });
        Ok(())
    }

    /// The pid, until the child is reaped.
    pub(crate) fn id(&self) -> Option<u32> {
        match self.status {
            None => Some(self.pid as u32),
            Some(_) => None,
        }
    }

    /// Sets `kill_on_drop`.
    pub(crate) fn set_kill_on_drop(&mut self, kill: bool) {
        self.kill_on_drop = kill;
    }

    /// Which watch notices the exit (for tests): `"pidfd"`, `"sigchld"`,
    /// or `"reaped"`.
    pub(crate) fn watch_kind(&self) -> &'static str {
        match self.watch {
            Some(Watch::Pidfd(_)) => "pidfd",
            Some(Watch::Sigchld(_)) => "sigchld",
            None => "reaped",
        }
    }

    /// The exit status if the child has exited (reaping it), without
    /// waiting.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        Ok(waitpid_nohang(self.pid)?.map(|status| self.finish(status)))
    }

    /// Polls for the exit status (see the module docs of `process` for
    /// the protocol). Spends one unit of the task's cooperative budget.
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ExitStatus>> {
        if let Some(status) = self.status {
            return Poll::Ready(Ok(status));
        }
        if context::poll_coop(cx).is_pending() {
            return Poll::Pending;
        }
        let pid = self.pid;
        let reap = || waitpid_nohang(pid);
        let polled = match &mut self.watch {
            Some(Watch::Pidfd(w)) if w.is_shut_down() => Poll::Ready(match reap() {
                Ok(Some(status)) => Ok(status),
                Ok(None) => Err(shut_down()),
                Err(e) => Err(e),
            }),
            Some(Watch::Pidfd(w)) => w.poll_reap(cx, reap),
            Some(Watch::Sigchld(w)) => w.poll_reap(cx, reap),
            // Only a spawn that failed leaves no watch, and it hands out
            // no `Child`.
            None => Poll::Ready(Err(io::Error::other(
                "this child process has no exit watch",
            ))),
        };
        match polled {
            Poll::Ready(Ok(status)) => Poll::Ready(Ok(self.finish(status))),
            other => other,
        }
    }

    /// Sends `signal` to the child.
    ///
    /// `Ok` while the child is not reaped, even if it has exited (a zombie
    /// takes signals and ignores them); an error once it is reaped, since
    /// its pid may name another process by now.
    pub(crate) fn send_signal(&mut self, signal: libc::c_int) -> io::Result<()> {
        if self.status.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot signal a child process that was already waited for (its pid may \
                 belong to another process by now); check try_wait() first",
            ));
        }
        let sent = match &self.watch {
            Some(Watch::Pidfd(w)) => w.send_signal(signal),
            // SAFETY: `kill` takes two integers; the pid is still our
            // unreaped child, so it names no other process.
            _ => match unsafe { libc::kill(self.pid, signal) } {
                0 => Ok(()),
                _ => Err(io::Error::last_os_error()),
            },
        };
        match sent {
            // Exited and not reaped yet: nothing to signal, not an error.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            r => r,
        }
    }

    /// Records the status of a child just reaped: frees its watch and
    /// lets the orphan list look for other exits.
    fn finish(&mut self, status: ExitStatus) -> ExitStatus {
        self.status = Some(status);
        self.watch = None;
        orphan::reap();
        status
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        if self.kill_on_drop {
            let _ = self.send_signal(libc::SIGKILL);
        }
        if let Ok(None) = waitpid_nohang(self.pid) {
            let watch = match self.watch.take() {
                Some(Watch::Pidfd(w)) => Some(w),
                _ => None,
            };
            orphan::adopt(self.pid, watch);
        }
    }
}

/// `waitpid(pid, WNOHANG)`: the status if `pid` has exited (and is now
/// reaped), `None` while it runs.
pub(crate) fn waitpid_nohang(pid: libc::pid_t) -> io::Result<Option<ExitStatus>> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer for the call's duration.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(Some(ExitStatus::from_raw(status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "the exit status of child process {pid} was taken by someone else \
                         (is SIGCHLD ignored, or does other code call wait()?): {e}"
                    ),
                ))
            }
            _ => return Err(e),
        }
    }
}

/// The error of waiting on a child whose runtime has shut down.
pub(crate) fn shut_down() -> io::Error {
    io::Error::other(
        "the aiolos runtime that spawned this child process has shut down, so nothing \
         watches for its exit; use try_wait()",
    )
}
