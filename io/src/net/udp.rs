//! UDP: `UdpSocket`.

use std::fmt;
use std::io;
use std::net::{self, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::addr::{each_addr, resolve, with_addr};
use crate::Async;

/// A UDP socket (asyncio's `create_datagram_endpoint`).
///
/// All methods take `&self`, so one socket can be shared (in an `Arc`) by a
/// sending and a receiving task.
pub struct UdpSocket {
    inner: Async<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first resolved address that works).
    ///
    /// # Errors
    ///
    /// The OS error, kind kept, with the address in the message; the OS
    /// error itself is the error's `source()`.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let addrs = resolve(&addr, "UdpSocket::bind")?;
        each_addr(addrs, |a| async move {
            let s = net::UdpSocket::bind(a).map_err(|e| with_addr(e, "could not bind to", a))?;
            UdpSocket::from_std(s)
        })
        .await
    }

    /// Wraps a socket from the standard library (made non-blocking here).
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    pub fn from_std(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Async::new(socket)?,
        })
    }

    /// Sets the default peer for `send` and the only source `recv` accepts.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let addrs = resolve(&addr, "UdpSocket::connect")?;
        each_addr(addrs, |a| async move {
            self.inner
                .get_ref()
                .connect(a)
                .map_err(|e| with_addr(e, "could not connect to", a))
        })
        .await
    }

    /// Sends a datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_with(|s| s.send(buf)).await
    }

    /// Receives a datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read_with(|s| s.recv(buf)).await
    }

    /// Sends a datagram to `target` (resolved first).
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let addrs = resolve(&target, "UdpSocket::send_to")?;
        let addr = addrs[0];
        self.inner.write_with(|s| s.send_to(buf, addr)).await
    }

    /// Receives a datagram and the address it came from.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.recv_from(buf)).await
    }

    /// Like `recv_from`, but leaves the datagram queued.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.read_with(|s| s.peek_from(buf)).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    /// The standard library's socket (for socket options).
    pub fn get_ref(&self) -> &net::UdpSocket {
        self.inner.get_ref()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UdpSocket")
            .field(self.inner.get_ref())
            .finish()
    }
}
