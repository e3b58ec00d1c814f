//! Unix-domain sockets: `UnixListener`, `UnixStream`, `UnixDatagram`.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use socket2::{Domain, SockAddr, Socket, Type};

use super::addr::with_addr;
use crate::Async;

/// A Unix-domain socket listening for connections.
pub struct UnixListener {
    inner: Async<net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file `path` and listens.
    ///
    /// # Errors
    ///
    /// The OS error (`AddrInUse` when the file exists), kind kept, with the
    /// path in the message; the OS error itself is the error's `source()`.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    pub async fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let path = path.as_ref();
        let l = net::UnixListener::bind(path)
            .map_err(|e| with_addr(e, "could not bind to", path.display()))?;
        UnixListener::from_std(l)
    }

    /// Wraps a listener from the standard library (made non-blocking here).
    pub fn from_std(listener: net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: Async::new(listener)?,
        })
    }

    /// Waits for a connection.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.inner.read_with(|l| l.accept()).await?;
        Ok((UnixStream::from_std(stream)?, addr))
    }

    /// The stream of incoming connections (errors are items; it never ends).
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

/// The connections a [`UnixListener`] accepts, as a `Stream`.
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Stream for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.listener.inner.poll_read_with(cx, |l| l.accept()) {
            Poll::Ready(Ok((s, _))) => Poll::Ready(Some(UnixStream::from_std(s))),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// A Unix-domain stream connection, with the futures-io traits (also
/// through `&`, so a reader and a writer can share it).
pub struct UnixStream {
    pub(crate) inner: Async<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket file `path`.
    ///
    /// # Errors
    ///
    /// The OS error (`NotFound`, `ConnectionRefused`; `WouldBlock` when the
    /// listener's backlog of pending connections is full), kind kept, with
    /// the path in the message.
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let wrap = |e| with_addr(e, "could not connect to", path.display());
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(wrap)?;
        socket.set_nonblocking(true).map_err(wrap)?;
        let addr = SockAddr::unix(path).map_err(wrap)?;
        match socket.connect(&addr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            // `EAGAIN` is not "in progress" for Unix sockets: the listener's
            // backlog is full and the socket stays unconnected (it would
            // even poll as writable). No event tells when there is room.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "could not connect to {}: its backlog of pending connections is full \
                         (the listener does not accept fast enough); try again later: {e}",
                        path.display()
                    ),
                ));
            }
            Err(e) => return Err(wrap(e)),
        }
        let stream =
            UnixStream::from_std(net::UnixStream::from(std::os::fd::OwnedFd::from(socket)))?;
        stream.inner.writable().await.map_err(wrap)?;
        if let Some(e) = stream.inner.get_ref().take_error().map_err(wrap)? {
            return Err(wrap(e));
        }
        // Writable is not proof of a connection (an unconnected Unix socket
        // polls writable too): insist on a peer.
        stream.peer_addr().map_err(wrap)?;
        Ok(stream)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Wraps a stream from the standard library (made non-blocking here).
    pub fn from_std(stream: net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Async::new(stream)?,
        })
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Splits into halves that two tasks can own: reading from one while
    /// writing to the other. Dropping the write half shuts down writing.
    pub fn into_split(self) -> (UnixReadHalf, UnixWriteHalf) {
        let stream = Arc::new(self);
        (
            UnixReadHalf {
                stream: stream.clone(),
            },
            UnixWriteHalf { stream },
        )
    }
}

/// The reading half of a [`UnixStream`] (see
/// [`into_split`](UnixStream::into_split)).
#[derive(Debug)]
pub struct UnixReadHalf {
    stream: Arc<UnixStream>,
}

/// The writing half of a [`UnixStream`]; dropping it shuts down writing.
#[derive(Debug)]
pub struct UnixWriteHalf {
    stream: Arc<UnixStream>,
}

impl AsyncRead for UnixReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_read_vectored(cx, bufs)
    }
}

impl AsyncWrite for UnixWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.stream).poll_close(cx)
    }
}

impl Drop for UnixWriteHalf {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

stream_io!(UnixStream, read, false);
stream_io!(UnixStream, write);
stream_io!(&UnixStream, read, false);
stream_io!(&UnixStream, write);

/// A Unix-domain datagram socket.
pub struct UnixDatagram {
    inner: Async<net::UnixDatagram>,
}

impl UnixDatagram {
    /// Binds to the socket file `path`.
    pub async fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let path = path.as_ref();
        let s = net::UnixDatagram::bind(path)
            .map_err(|e| with_addr(e, "could not bind to", path.display()))?;
        UnixDatagram::from_std(s)
    }

    /// A socket bound to no address.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(net::UnixDatagram::unbound()?)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a socket from the standard library (made non-blocking here).
    pub fn from_std(socket: net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Async::new(socket)?,
        })
    }

    /// Sets the default peer for `send`.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let path = path.as_ref();
        self.inner
            .get_ref()
            .connect(path)
            .map_err(|e| with_addr(e, "could not connect to", path.display()))
    }

    /// Sends a datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|s| s.send(buf)).await
    }

    /// Receives a datagram.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.recv(buf)).await
    }

    /// Sends a datagram to the socket file `path`.
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.inner.write_with(|s| s.send_to(buf, path)).await
    }

    /// Receives a datagram and its sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.recv_from(buf)).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }
}

macro_rules! fd_traits {
    ($($ty:ty),*) => {$(
        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.inner.as_raw_fd()
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($ty)).field(self.inner.get_ref()).finish()
            }
        }
    )*};
}

fd_traits!(UnixListener, UnixStream, UnixDatagram);
