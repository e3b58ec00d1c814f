//! `ChildStdin`, `ChildStdout`, `ChildStderr`: our ends of a child's
//! standard pipes, non-blocking and driven by the reactor
//! (each an [`Async`] of a `File`).

use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::Async;

/// Wraps a standard library pipe end in an `Async<File>`.
fn wrap(fd: impl Into<OwnedFd>) -> io::Result<Async<File>> {
    Async::new(File::from(fd.into()))
}

/// Gives the fd back in blocking mode, so it can be handed to another
/// process (`Stdio::from(fd)`) whose reads must not fail with `EAGAIN`.
fn into_blocking_fd(inner: Async<File>) -> io::Result<OwnedFd> {
    let fd = OwnedFd::from(inner.into_inner()?);
    // SAFETY: `fcntl` with F_GETFL/F_SETFL on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags == -1
            || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) == -1
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(fd)
}

/// The writing end of a child's stdin pipe ([`Stdio::piped`]), with
/// futures-io's `AsyncWrite`.
///
/// The child sees the end of its input when this is dropped or closed
/// (`AsyncWriteExt::close`). Writing after the child has exited fails with
/// `BrokenPipe`.
///
/// [`Stdio::piped`]: std::process::Stdio::piped
pub struct ChildStdin {
    /// `None` once closed.
    inner: Option<Async<File>>,
}

/// The reading end of a child's stdout pipe, with futures-io's
/// `AsyncRead`; a read of 0 bytes means the child closed its stdout (it
/// exited, usually).
pub struct ChildStdout {
    /// The pipe end.
    inner: Async<File>,
}

/// The reading end of a child's stderr pipe, like [`ChildStdout`].
pub struct ChildStderr {
    /// The pipe end.
    inner: Async<File>,
}

impl ChildStdin {
    /// Wraps the standard library's pipe end (made non-blocking and
    /// registered with the current runtime).
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    pub fn from_std(stdin: std::process::ChildStdin) -> io::Result<ChildStdin> {
        Ok(ChildStdin {
            inner: Some(wrap(stdin)?),
        })
    }

    /// Deregisters the pipe end and gives it back in blocking mode, e.g.
    /// for `Stdio::from(fd)` of another command.
    ///
    /// # Errors
    ///
    /// When it was closed already, or its flags cannot be changed.
    pub fn into_owned_fd(mut self) -> io::Result<OwnedFd> {
        into_blocking_fd(self.inner.take().ok_or_else(closed)?)
    }

    /// The open pipe end, or the error of using a closed one.
    fn open(&self) -> io::Result<&Async<File>> {
        self.inner.as_ref().ok_or_else(closed)
    }
}

/// The error of writing to a `ChildStdin` after `close`.
fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "this ChildStdin was closed already; the child has seen the end of its input",
    )
}

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.open() {
            Ok(inner) => inner.poll_write_with(cx, |mut f| f.write(buf)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.open() {
            Ok(inner) => inner.poll_write_with(cx, |mut f| f.write_vectored(bufs)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A pipe has no buffer of ours to flush.
        Poll::Ready(Ok(()))
    }

    /// Closes the pipe: the child reads the end of its input. Closing
    /// twice is fine; writing afterwards fails with `NotConnected`.
    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner = None;
        Poll::Ready(Ok(()))
    }
}

/// `from_std`, `into_owned_fd`, `AsFd` and `AsyncRead` for a read end.
macro_rules! read_end {
    ($ty:ident, $std:ty) => {
        impl $ty {
            /// Wraps the standard library's pipe end (made non-blocking and
            /// registered with the current runtime).
            ///
            /// # Panics
            ///
            /// Outside an aiolos runtime.
            pub fn from_std(pipe: $std) -> io::Result<$ty> {
                Ok($ty { inner: wrap(pipe)? })
            }

            /// Deregisters the pipe end and gives it back in blocking mode,
            /// e.g. for `Stdio::from(fd)` of another command (a pipeline).
            ///
            /// # Errors
            ///
            /// When its flags cannot be changed.
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                into_blocking_fd(self.inner)
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_read_with(cx, |mut f| f.read(buf))
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_read_with(cx, |mut f| f.read_vectored(bufs))
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("fd", &self.inner.as_raw_fd())
                    .finish()
            }
        }
    };
}

read_end!(ChildStdout, std::process::ChildStdout);
read_end!(ChildStderr, std::process::ChildStderr);

impl fmt::Debug for ChildStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildStdin")
            .field("fd", &self.inner.as_ref().map(|i| i.as_raw_fd()))
            .finish()
    }
}
