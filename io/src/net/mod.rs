//! Sockets on the reactor: TCP, UDP and Unix-domain, with the futures-io
//! traits on the stream types.
//!
//! Every type wraps the standard library's socket in an
//! [`Async`](crate::Async), so operations that would block wait for
//! readiness instead. Addresses are resolved with the standard library's
//! `ToSocketAddrs` on the calling thread (instant for literal addresses).

/// Implements futures-io's `AsyncRead` (`read`) or `AsyncWrite` (`write`)
/// for a stream type whose `inner` derefs to an `Async` of a standard
/// library stream socket; `poll_close` shuts down writing.
macro_rules! stream_io {
    // `$drains`: whether a short read means the receive queue was drained
    // (TCP), see `Registration::poll_read_stream`.
    ($ty:ty, read, $drains:expr) => {
        impl ::futures_io::AsyncRead for $ty {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let len = buf.len();
                self.inner
                    .poll_read_stream(cx, len, $drains, |mut s| ::std::io::Read::read(&mut s, buf))
            }

            fn poll_read_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.inner.poll_read_stream(cx, len, $drains, |mut s| {
                    ::std::io::Read::read_vectored(&mut s, bufs)
                })
            }
        }
    };
    ($ty:ty, write) => {
        impl ::futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                self.inner
                    .poll_write_with(cx, |mut s| ::std::io::Write::write(&mut s, buf))
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                self.inner
                    .poll_write_with(cx, |mut s| ::std::io::Write::write_vectored(&mut s, bufs))
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                _cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                ::std::task::Poll::Ready($crate::net::shut_down_ok(
                    self.inner.get_ref().shutdown(::std::net::Shutdown::Write),
                ))
            }
        }
    };
}

/// A shutdown's result, where a socket already disconnected counts as done.
pub(crate) fn shut_down_ok(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(()),
        r => r,
    }
}

mod addr;
#[cfg(feature = "hyper")]
mod hyper_io;
mod tcp;
mod udp;
mod unix;

pub use tcp::{Incoming, OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixReadHalf, UnixStream, UnixWriteHalf};
