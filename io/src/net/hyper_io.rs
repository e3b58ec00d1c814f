//! hyper 1.x's I/O traits (`hyper::rt::Read` and `Write`) on the stream
//! types, behind the `hyper` feature.
//!
//! hyper hands its transports a buffer of uninitialised memory
//! (`ReadBufCursor`). Going through futures-io's `AsyncRead` would mean
//! zero-filling that buffer before every read, since `poll_read` takes
//! `&mut [u8]`; these impls pass the uninitialised bytes straight to
//! `read(2)` instead and advance the cursor by what it wrote.
//!
//! Writes go to `write(2)` / `writev(2)` (`is_write_vectored` is true, so
//! hyper sends head and body in one call instead of copying them together);
//! `poll_flush` has nothing to do; `poll_shutdown` shuts down writing.

use std::io::{self, IoSlice, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::rt::{Read, ReadBufCursor, Write as HyperWrite};

use super::tcp::read_uninit;
use super::{TcpStream, UnixStream};

/// Implements hyper's `Read` and `Write` for a stream type whose `inner`
/// derefs to an `Async` of a standard library socket (`$ty` may be a
/// reference type: `&TcpStream` shares one socket between a reader and a
/// writer). `$drains`: whether a short read means the receive queue was
/// drained (TCP, see `Registration::poll_read_stream`).
macro_rules! hyper_io {
    ($ty:ty, $drains:expr) => {
        impl Read for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                mut buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: `read_uninit` only writes into the slice (it never
                // reads it and never de-initialises a byte), so every byte
                // that was initialised before stays initialised.
                let unfilled = unsafe { buf.as_mut() };
                let len = unfilled.len();
                let n = ready!(self.inner.poll_read_stream(cx, len, $drains, |s| {
                    read_uninit(s.as_raw_fd(), unfilled)
                }))?;
                // SAFETY: `read(2)` returned `n`, so it wrote the first `n`
                // bytes of the unfilled part (and `n` is at most its length).
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
        }

        impl HyperWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.poll_write_with(cx, |mut s| s.write(buf))
            }

            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.inner
                    .poll_write_with(cx, |mut s| s.write_vectored(bufs))
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // Writes go straight to the socket: nothing is buffered here.
                Poll::Ready(Ok(()))
            }

            fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(super::shut_down_ok(
                    self.inner.get_ref().shutdown(Shutdown::Write),
                ))
            }
        }
    };
}

hyper_io!(TcpStream, true);
hyper_io!(&TcpStream, true);
hyper_io!(UnixStream, false);
hyper_io!(&UnixStream, false);
