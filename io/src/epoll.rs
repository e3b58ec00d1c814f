//! `Interest`: the epoll instance that holds every registered I/O source.
//!
//! It is separate from the reactor's [`polling::Poller`] (which keeps the
//! timer and the notifier) so that it can be polled from any thread without
//! a lock: a worker that runs out of tasks, or every so many tasks, collects
//! whatever readiness is pending with a non-blocking `epoll_wait`, and the
//! kernel hands each edge-triggered event to exactly one caller. The
//! reactor watches it through the poller only while no worker does (see
//! "I/O duty" in `driver.rs`): the interest fd is itself registered in the
//! poller, one-shot, and re-armed when the duty passes back to the reactor.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Events kept per `epoll_wait` call: a bigger backlog is left for the
/// next call (edge-triggered events stay queued in the kernel until taken).
pub(crate) const EVENTS_PER_POLL: usize = 256;

/// What a source is registered for: both directions, edge-triggered, with
/// the peer's half-close reported as read readiness.
const SOURCE_EVENTS: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLPRI | libc::EPOLLET) as u32;

/// An epoll instance of registered sources.
#[derive(Debug)]
pub(crate) struct Interest {
    fd: OwnedFd,
}

/// The readiness one event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready {
    /// The source's key.
    pub(crate) key: usize,
    /// Readable, closed for reading, or failed.
    pub(crate) readable: bool,
    /// Writable, closed, or failed.
    pub(crate) writable: bool,
    /// The peer closed its writing side (or the socket failed): reads will
    /// not block from now on.
    pub(crate) read_closed: bool,
}

impl Interest {
    pub(crate) fn new() -> io::Result<Interest> {
        // SAFETY: plain system call; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Interest { fd })
    }

    /// Adds `fd` under `key` for both directions, edge-triggered.
    pub(crate) fn add(&self, fd: RawFd, key: usize) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: SOURCE_EVENTS,
            u64: key as u64,
        };
        // SAFETY: `ev` is a valid event; the kernel checks both fds.
        let r = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Removes `fd` (which must still be open).
    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: DEL ignores the event argument (null is allowed since 2.6.9).
        let r = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Takes the pending events without waiting, up to
    /// [`EVENTS_PER_POLL`], and passes each to `f`; returns how many.
    pub(crate) fn poll_now(&self, mut f: impl FnMut(Ready)) -> usize {
        let mut buf = [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_POLL];
        // SAFETY: `buf` has room for `EVENTS_PER_POLL` events; a zero
        // timeout never blocks.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr(),
                EVENTS_PER_POLL as libc::c_int,
                0,
            )
        };
        // EINTR cannot happen without waiting; any other error would mean
        // a bad fd or buffer, neither of which we hand over: take it as
        // "nothing pending".
        let n = usize::try_from(n).unwrap_or(0);
        for ev in &buf[..n] {
            let flags = ev.events as libc::c_int;
            let failed = flags & (libc::EPOLLHUP | libc::EPOLLERR) != 0;
            let read_closed = failed || flags & libc::EPOLLRDHUP != 0;
            f(Ready {
                key: ev.u64 as usize,
                readable: failed
                    || flags & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLPRI) != 0,
                writable: failed || flags & libc::EPOLLOUT != 0,
                read_closed,
            });
        }
        n
    }
}

impl AsRawFd for Interest {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for Interest {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
