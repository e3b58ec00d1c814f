//! hyper 1.x on aiolos (the `hyper` feature): the runtime pieces hyper asks
//! for, an executor, a timer and I/O.
//!
//! - **I/O.** [`net::TcpStream`](crate::net::TcpStream) and
//!   [`net::UnixStream`](crate::net::UnixStream) (and `&` of either)
//!   implement `hyper::rt::Read` and `Write` themselves: hand them to hyper
//!   as they are. They read into hyper's uninitialised buffer directly. Any
//!   other futures-io stream goes through [`HyperIo`], which has to zero
//!   the buffer first.
//! - **[`Executor`]**: spawns the tasks hyper starts (HTTP/2 streams,
//!   `hyper::rt::Executor` users such as hyper-util) on an aiolos runtime.
//! - **[`Timer`]**: hyper's timeouts (`header_read_timeout`, keep-alive) as
//!   [`aiolos::time::Sleep`](crate::time::Sleep)s; a reset moves the
//!   existing timer instead of making a new one.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use aiolos::hyper::Timer;
//! use aiolos::net::{TcpListener, TcpStream};
//! use http_body_util::{BodyExt, Empty, Full};
//! use hyper::body::Bytes;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     // A server: one task per connection.
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     aiolos::spawn(async move {
//!         loop {
//!             let (stream, _) = listener.accept().await.unwrap();
//!             aiolos::spawn(async move {
//!                 let hello = service_fn(|_req| async {
//!                     Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!                 });
//!                 let _ = hyper::server::conn::http1::Builder::new()
//!                     .timer(Timer::new())
//!                     .serve_connection(stream, hello)
//!                     .await;
//!             });
//!         }
//!     });
//!
//!     // A client on the same runtime.
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await.unwrap();
//!     aiolos::spawn(conn);
//!     let request = Request::get("/").body(Empty::<Bytes>::new()).unwrap();
//!     let response = sender.send_request(request).await.unwrap();
//!     let body = response.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(body, "hello");
//! });
//! ```

use std::fmt;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use ::hyper::rt::{self, ReadBufCursor};
use futures_io::{AsyncRead, AsyncWrite};

use crate::time::{self, Instant};
use crate::Handle;

/// Runs hyper over any futures-io stream (`AsyncRead + AsyncWrite`): TLS
/// streams, `futures::io` adapters, test doubles.
///
/// **It zero-fills.** futures-io's `poll_read` takes an initialised
/// `&mut [u8]`, but hyper lends out uninitialised memory (a fresh region
/// for each read), so every read first writes zeros over the part of
/// hyper's buffer not yet initialised. aiolos's own
/// [`TcpStream`](crate::net::TcpStream) and
/// [`UnixStream`](crate::net::UnixStream) implement hyper's traits
/// directly and skip that: do not wrap them.
///
/// `is_write_vectored` is false (futures-io cannot say whether a stream
/// really writes vectors), so hyper copies a response's head and body
/// into one buffer before writing it.
///
/// ```
/// use aiolos::hyper::HyperIo;
/// use aiolos::net::UnixStream;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let (a, _b) = UnixStream::pair().unwrap();
///     // Any futures-io stream works; aiolos's own would not need wrapping.
///     let io = HyperIo::new(a);
///     let _a: UnixStream = io.into_inner();
/// });
/// ```
#[derive(Debug, Default)]
pub struct HyperIo<T> {
    /// The futures-io stream (structurally pinned).
    inner: T,
}

impl<T> HyperIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> HyperIo<T> {
        HyperIo { inner }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The wrapped stream, pinned.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut T> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of a
        // pinned `HyperIo` (`into_inner` and `get_mut` need it unpinned or
        // `Unpin`), `HyperIo` has no `Drop` impl, and it is `Unpin` exactly
        // when `T` is (the auto trait).
        unsafe { self.map_unchecked_mut(|io| &mut io.inner) }
    }
}

impl<T> From<T> for HyperIo<T> {
    fn from(inner: T) -> HyperIo<T> {
        HyperIo::new(inner)
    }
}

impl<T: AsyncRead> rt::Read for HyperIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // The zero-fill: `initialize_unfilled` zeroes only the bytes hyper
        // has not initialised yet.
        let unfilled = buf.initialize_unfilled();
        let len = unfilled.len();
        let n = ready!(self.get_pin_mut().poll_read(cx, unfilled))?;
        if n > len {
            return Poll::Ready(Err(io::Error::other(format!(
                "the stream under HyperIo reported reading {n} bytes into a {len}-byte buffer"
            ))));
        }
        // SAFETY: the whole unfilled part was initialised above and
        // `n <= len` of it were read into.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> rt::Write for HyperIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_pin_mut().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_pin_mut().poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_pin_mut().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_pin_mut().poll_close(cx)
    }
}

/// Spawns hyper's background futures as detached aiolos tasks (hyper's
/// `rt::Executor`, needed by HTTP/2 and by hyper-util's servers).
///
/// It holds a [`Handle`], so it spawns onto its runtime from any thread,
/// inside the runtime or not.
///
/// ```
/// use aiolos::hyper::Executor;
/// use hyper::rt::Executor as _;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// let exec = Executor::new(rt.handle());
/// let (tx, rx) = std::sync::mpsc::channel();
/// exec.execute(async move { tx.send(42).unwrap() });
/// assert_eq!(rx.recv().unwrap(), 42);
/// ```
#[derive(Clone, Debug)]
pub struct Executor {
    /// The runtime the futures are spawned on.
    handle: Handle,
}

impl Executor {
    /// An executor spawning onto `handle`'s runtime.
    pub fn new(handle: Handle) -> Executor {
        Executor { handle }
    }

    /// An executor spawning onto the current runtime.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime (use [`Executor::new`] with a [`Handle`]
    /// there).
    #[track_caller]
    pub fn current() -> Executor {
        Executor::new(Handle::current())
    }

    /// The runtime this executor spawns onto.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl From<Handle> for Executor {
    fn from(handle: Handle) -> Executor {
        Executor::new(handle)
    }
}

impl<F> rt::Executor<F> for Executor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        self.handle.spawn(future).detach();
    }
}

/// hyper's timer (`rt::Timer`) on aiolos's timer wheels; give it to
/// hyper's connection builders with `.timer(Timer::new())`.
///
/// Its sleeps are [`Sleep`]s. [`reset`](rt::Timer::reset) moves the
/// deadline of the existing `Sleep` (it keeps the allocation hyper boxed);
/// only a sleep from another timer is replaced.
///
/// Like [`aiolos::time::sleep`](crate::time::sleep), its methods must be
/// called, and its sleeps polled, inside an aiolos runtime; hyper does both
/// from the connection future, so serve connections in aiolos tasks.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timer {
    /// Private: leaves room for configuration.
    _private: (),
}

impl Timer {
    /// The timer.
    pub fn new() -> Timer {
        Timer { _private: () }
    }
}

impl rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(Sleep::from(time::sleep(duration)))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn rt::Sleep>> {
        Box::pin(Sleep::from(time::sleep_until(Instant::from(deadline))))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn rt::Sleep>>, new_deadline: std::time::Instant) {
        // Ours: move its deadline in place.
        if let Some(ours) = sleep.as_mut().downcast_mut_pin::<Sleep>() {
            ours.get_mut().inner.reset(Instant::from(new_deadline));
            return;
        }
        // Another timer's: replace it.
        *sleep = self.sleep_until(new_deadline);
    }
}

/// The sleeps of [`Timer`]: an [`aiolos::time::Sleep`](crate::time::Sleep)
/// that implements `hyper::rt::Sleep`.
///
/// To reach it from hyper's `Pin<Box<dyn hyper::rt::Sleep>>`, downcast:
/// `sleep.as_mut().downcast_mut_pin::<aiolos::hyper::Sleep>()`.
pub struct Sleep {
    /// The timer.
    inner: time::Sleep,
}

impl Sleep {
    /// When it completes.
    pub fn deadline(&self) -> Instant {
        self.inner.deadline()
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.inner.is_elapsed()
    }

    /// The aiolos sleep.
    pub fn get_ref(&self) -> &time::Sleep {
        &self.inner
    }

    /// The aiolos sleep, mutably (to [`reset`](time::Sleep::reset) it).
    pub fn get_mut(&mut self) -> &mut time::Sleep {
        &mut self.inner
    }

    /// Unwraps the aiolos sleep.
    pub fn into_inner(self) -> time::Sleep {
        self.inner
    }
}

impl From<time::Sleep> for Sleep {
    fn from(inner: time::Sleep) -> Sleep {
        Sleep { inner }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().inner).poll(cx)
    }
}

impl rt::Sleep for Sleep {}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Sleep").field(&self.inner).finish()
    }
}
