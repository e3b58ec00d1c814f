//! TEMPORARY stub until `aiolos_io::signal` lands.

use std::io;
use std::process::ExitStatus;
use std::task::{Context, Poll};

#[derive(Debug)]
pub(crate) struct SigchldWatch {}

impl SigchldWatch {
    pub(crate) fn new() -> SigchldWatch {
        SigchldWatch {}
    }

    pub(crate) fn poll_reap(
        &mut self,
        _cx: &mut Context<'_>,
        mut reap: impl FnMut() -> io::Result<Option<ExitStatus>>,
    ) -> Poll<io::Result<ExitStatus>> {
        match reap() {
            Ok(Some(s)) => Poll::Ready(Ok(s)),
            Ok(None) => Poll::Ready(Err(io::Error::other("sigchld fallback: not yet"))),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
