//! `Async<T>`: any non-blocking file descriptor driven by the reactor
//! (in the spirit of async-io's type of the same name).

use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::registration::Registration;
use crate::source::Direction;

/// An I/O object registered with the reactor: operations that would block
/// wait for readiness instead.
///
/// `Async::new` puts the fd in non-blocking mode and registers it with the
/// current runtime; dropping the `Async` deregisters it and then closes the
/// object. It is `Send + Sync` when `T` is.
///
/// (`aiolos::io::Async` re-exports it; its docs have an example.)
pub struct Async<T: AsRawFd> {
    /// Dropped first: deregisters while the fd is still open.
    registration: Registration,
    /// `None` only after `into_inner`.
    io: Option<T>,
}

impl<T: AsRawFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it with the current
    /// runtime's reactor.
    ///
    /// # Errors
    ///
    /// When the fd's flags cannot be changed or the reactor refuses it.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    #[track_caller]
    pub fn new(io: T) -> io::Result<Async<T>> {
        set_nonblocking(io.as_raw_fd())?;
        // SAFETY: `io` owns the fd and is dropped after the registration
        // (field order), or handed back by `into_inner` after deregistering.
        let registration = unsafe { Registration::new(io.as_raw_fd()) }?;
        Ok(Async {
            registration,
            io: Some(io),
        })
    }

    /// The inner I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.as_ref().expect("Async used after into_inner")
    }

    /// The inner I/O object, mutably.
    ///
    /// # Safety
    ///
    /// The fd must not be replaced or closed through it: the reactor keeps
    /// the registration under the original fd number.
    pub unsafe fn get_mut(&mut self) -> &mut T {
        self.io.as_mut().expect("Async used after into_inner")
    }

    /// Deregisters and gives the I/O object back (still non-blocking).
    pub fn into_inner(mut self) -> io::Result<T> {
        let io = self.io.take().expect("Async used after into_inner");
        // Dropping `self` now deregisters; `io` is no longer in it.
        drop(self);
        Ok(io)
    }

    /// Waits until the fd is readable (or was since the last `WouldBlock`).
    pub async fn readable(&self) -> io::Result<()> {
        self.registration.ready(Direction::Read).await
    }

    /// Waits until the fd is writable (or was since the last `WouldBlock`).
    pub async fn writable(&self) -> io::Result<()> {
        self.registration.ready(Direction::Write).await
    }

    /// Polls readability.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.registration.poll_ready(Direction::Read, cx)
    }

    /// Polls writability.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.registration.poll_ready(Direction::Write, cx)
    }

    /// Runs a read-side operation until it does not fail with `WouldBlock`,
    /// waiting for readability in between.
    pub async fn read_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_read_with(cx, &mut op)).await
    }

    /// Runs a write-side operation until it does not fail with `WouldBlock`,
    /// waiting for writability in between.
    pub async fn write_with<R>(&self, mut op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        poll_fn(|cx| self.poll_write_with(cx, &mut op)).await
    }

    /// [`read_with`](Async::read_with) as a poll function.
    pub fn poll_read_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.registration.poll_io(Direction::Read, cx, || op(io))
    }

    /// A read of at most `len` bytes from a stream socket; with `drains`,
    /// its short reads drain the receive queue (TCP), see
    /// `Registration::poll_read_stream`.
    pub(crate) fn poll_read_stream(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        drains: bool,
        mut op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let io = self.get_ref();
        self.registration
            .poll_read_stream(cx, len, drains, || op(io))
    }

    /// [`write_with`](Async::write_with) as a poll function.
    pub fn poll_write_with<R>(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self.get_ref();
        self.registration.poll_io(Direction::Write, cx, || op(io))
    }
}

impl<T: AsRawFd> AsRawFd for Async<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd + AsFd> AsFd for Async<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.get_ref().as_fd()
    }
}

impl<T: AsRawFd + fmt::Debug> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Async").field("io", &self.io).finish()
    }
}

/// The futures-io traits for `Async<T>` and `&Async<T>`, reading and
/// writing through `&T`, so one reader and one writer can share the object.
macro_rules! async_io {
    ($ty:ty) => {
        impl<T: AsRawFd> AsyncRead for $ty
        where
            for<'a> &'a T: Read,
        {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_with(cx, |mut io| io.read(buf))
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_with(cx, |mut io| io.read_vectored(bufs))
            }
        }

        impl<T: AsRawFd> AsyncWrite for $ty
        where
            for<'a> &'a T: Write,
        {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_with(cx, |mut io| io.write(buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_with(cx, |mut io| io.write_vectored(bufs))
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_write_with(cx, |mut io| io.flush())
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_flush(cx)
            }
        }
    };
}

async_io!(Async<T>);
async_io!(&Async<T>);

/// Sets `O_NONBLOCK` on `fd`.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: `fcntl` with F_GETFL/F_SETFL only reads and sets the status
    // flags of an fd the caller owns; a bad fd gives an error, not UB.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags == -1 {
            return Err(io::Error::last_os_error());
        }
        if flags & libc::O_NONBLOCK == 0
            && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == -1
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
