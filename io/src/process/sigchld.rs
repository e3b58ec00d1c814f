//! The SIGCHLD fallback: noticing a child's exit without a pidfd (kernels
//! before 5.3, seccomp filters that refuse `pidfd_open`).

use std::fmt;
use std::io;
use std::process::ExitStatus;
use std::task::{Context, Poll};

use super::orphan;
use crate::signal::{Signal, SignalKind};

/// One child's SIGCHLD listener.
pub(crate) struct SigchldWatch {
    /// Created at spawn, so before the first `waitpid` of any wait: every
    /// exit after that `waitpid` is a delivery this listener sees.
    signal: Signal,
}

impl SigchldWatch {
    /// Starts listening to SIGCHLD (inside a runtime), and makes sure the
    /// orphan list listens too.
    pub(crate) fn new() -> io::Result<SigchldWatch> {
        orphan::watch_sigchld()?;
        Ok(SigchldWatch {
            signal: Signal::new(SignalKind::child())?,
        })
    }

    /// Runs `reap` until it gives a status, waiting for a SIGCHLD in
    /// between (any child's: deliveries do not say whose, and they
    /// coalesce). Each delivery also lets the orphan list look for exits.
    pub(crate) fn poll_reap(
        &mut self,
        cx: &mut Context<'_>,
        mut reap: impl FnMut() -> io::Result<Option<ExitStatus>>,
    ) -> Poll<io::Result<ExitStatus>> {
        loop {
            if let Some(status) = reap()? {
                return Poll::Ready(Ok(status));
            }
            match self.signal.poll_recv(cx) {
                Poll::Ready(Some(())) => orphan::reap(),
                Poll::Ready(None) => return Poll::Ready(Err(super::reaper::shut_down())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl fmt::Debug for SigchldWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigchldWatch").finish_non_exhaustive()
    }
}
