//! TCP: `TcpListener`, `TcpStream` and its owned halves.

use std::fmt;
use std::io;
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use socket2::{Domain, Protocol, Socket, Type};

use super::addr::{each_addr, resolve, with_addr};
use crate::Async;

/// A TCP socket listening for connections (asyncio's `start_server`
/// socket).
///
/// Accepted streams are registered with the runtime the listener was made
/// in.
pub struct TcpListener {
    inner: Async<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first of its resolved addresses that works) and
    /// listens.
    ///
    /// # Errors
    ///
    /// The OS error of the last address tried, with its `io::ErrorKind`
    /// kept (`AddrInUse`, `PermissionDenied`, ...) and the address added to
    /// the message; the OS error itself, with its `raw_os_error()`, is the
    /// error's `source()`.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let addrs = resolve(&addr, "TcpListener::bind")?;
        each_addr(addrs, |a| async move {
            let l = net::TcpListener::bind(a).map_err(|e| with_addr(e, "could not bind to", a))?;
            TcpListener::from_std(l)
        })
        .await
    }

    /// Wraps a listener from the standard library (made non-blocking here).
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    pub fn from_std(listener: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::new(listener)?,
        })
    }

    /// Waits for a connection; returns the stream and the peer's address.
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports (for example `EMFILE` when the process is out
    /// of file descriptors); the listener keeps working afterwards.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.inner.read_with(|l| l.accept()).await?;
        Ok((TcpStream::from_std(stream)?, addr))
    }

    /// Polls for a connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match self.inner.poll_read_with(cx, |l| l.accept()) {
            Poll::Ready(Ok((stream, addr))) => {
                Poll::Ready(TcpStream::from_std(stream).map(|s| (s, addr)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The stream of incoming connections (errors are items; it never ends).
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The standard library's listener (for socket options).
    pub fn get_ref(&self) -> &net::TcpListener {
        self.inner.get_ref()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpListener")
            .field(self.inner.get_ref())
            .finish()
    }
}

/// The connections a [`TcpListener`] accepts, as a `Stream`.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(stream, _)| stream)))
    }
}

/// A TCP connection (asyncio's `open_connection` reader and writer in one).
///
/// Implements `futures_io::AsyncRead` and `AsyncWrite` (also through `&`),
/// so a reader and a writer can share one stream, or
/// [`into_split`](TcpStream::into_split) hands each half to its own task.
pub struct TcpStream {
    pub(crate) inner: Arc<Async<net::TcpStream>>,
}

impl TcpStream {
    /// Connects to `addr` (each resolved address in turn, until one works).
    ///
    /// # Errors
    ///
    /// The last address's error, kind kept (`ConnectionRefused` for a closed
    /// port), with the address in the message; the OS error itself is the
    /// error's `source()`.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let addrs = resolve(&addr, "TcpStream::connect")?;
        each_addr(addrs, |a| async move {
            connect_addr(a)
                .await
                .map_err(|e| with_addr(e, "could not connect to", a))
        })
        .await
    }

    /// Wraps a connected stream from the standard library (made
    /// non-blocking here).
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    pub fn from_std(stream: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Arc::new(Async::new(stream)?),
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

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.get_ref().nodelay()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.get_ref().shutdown(how)
    }

    /// Reads without consuming: waits for data, then copies it into `buf`.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.peek(buf)).await
    }

    /// Splits into halves that two tasks can own: reading from one while
    /// writing to the other. Dropping the write half shuts down writing.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                inner: self.inner.clone(),
            },
            OwnedWriteHalf { inner: self.inner },
        )
    }

    /// The standard library's stream (for socket options).
    pub fn get_ref(&self) -> &net::TcpStream {
        self.inner.get_ref()
    }

    /// Polls for readability (for adapters such as hyper's).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.poll_readable(cx)
    }

    /// Reads into uninitialised memory: `buf` need not be zeroed first.
    /// Returns how many bytes were written at its start.
    pub fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.inner
            .poll_read_stream(cx, len, true, |s| read_uninit(s.as_raw_fd(), buf))
    }
}

/// `read(2)` into possibly uninitialised bytes.
pub(crate) fn read_uninit(fd: RawFd, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `read` writes at most `buf.len()` bytes into the buffer and
    // never reads it; `MaybeUninit<u8>` has the layout of `u8`.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    let stream = TcpStream::from_std(socket.into())?;
    // The connection is made (or failed) once the socket is writable.
    stream.inner.writable().await?;
    if let Some(e) = stream.inner.get_ref().take_error()? {
        return Err(e);
    }
    stream.peer_addr()?;
    Ok(stream)
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TcpStream")
            .field(self.inner.get_ref())
            .finish()
    }
}

stream_io!(TcpStream, read, true);
stream_io!(TcpStream, write);
stream_io!(&TcpStream, read, true);
stream_io!(&TcpStream, write);
stream_io!(OwnedReadHalf, read, true);
stream_io!(OwnedWriteHalf, write);

/// The reading half of a [`TcpStream`] (see
/// [`into_split`](TcpStream::into_split)).
pub struct OwnedReadHalf {
    inner: Arc<Async<net::TcpStream>>,
}

/// The writing half of a [`TcpStream`]; dropping it shuts down writing.
pub struct OwnedWriteHalf {
    inner: Arc<Async<net::TcpStream>>,
}

impl OwnedReadHalf {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// Reads without consuming.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.peek(buf)).await
    }
}

impl OwnedWriteHalf {
    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        let _ = super::shut_down_ok(self.inner.get_ref().shutdown(Shutdown::Write));
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedReadHalf")
            .field(self.inner.get_ref())
            .finish()
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OwnedWriteHalf")
            .field(self.inner.get_ref())
            .finish()
    }
}
