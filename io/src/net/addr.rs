//! Resolving addresses and trying each in turn, with errors that name the
//! address.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `addr`, keeping the error kind and naming the input.
pub(crate) fn resolve<A: ToSocketAddrs + ?Sized>(
    addr: &A,
    what: &str,
) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{what}: could not resolve the address: {e}"),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what}: the address resolved to nothing"),
        ));
    }
    Ok(addrs)
}

/// Adds the address to an OS error's message, keeping its kind, and the
/// OS error itself as the new error's [`source`](std::error::Error::source)
/// (so `raw_os_error()` is still there, one step down: an `io::Error` with
/// a message of its own cannot carry an OS code too).
pub(crate) fn with_addr(e: io::Error, what: &str, addr: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        e.kind(),
        AddrError {
            message: format!("{what} {addr}: {e}"),
            os: e,
        },
    )
}

/// An OS error about an address: the message names the address, the
/// source is the OS error.
#[derive(Debug)]
struct AddrError {
    message: String,
    os: io::Error,
}

impl std::fmt::Display for AddrError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AddrError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.os)
    }
}

/// Tries `f` on each address; the last error if all fail.
pub(crate) async fn each_addr<T, F, Fut>(addrs: Vec<SocketAddr>, mut f: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in addrs {
        match f(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.expect("resolve returns at least one address"))
}
