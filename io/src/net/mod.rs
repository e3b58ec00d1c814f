//! Sockets on the reactor: TCP, UDP and Unix-domain, with the futures-io
//! traits on the stream types.
//!
//! Every type wraps the standard library's socket in an
//! [`Async`](crate::Async), so operations that would block wait for
//! readiness instead. Addresses are resolved with the standard library's
//! `ToSocketAddrs` on the calling thread (instant for literal addresses).

mod addr;
#[cfg(feature = "hyper")]
mod hyper_io;
mod tcp;
mod udp;
mod unix;

pub use tcp::{Incoming, OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixReadHalf, UnixStream, UnixWriteHalf};
