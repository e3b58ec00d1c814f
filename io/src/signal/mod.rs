//! Unix signals as streams (asyncio's `loop.add_signal_handler`, and the
//! `KeyboardInterrupt` a server wants to turn into a clean shutdown).
//!
//! [`Signal`] is a stream of the deliveries of one signal to the process;
//! [`ctrl_c`] waits for the next `SIGINT`. Any number of listeners, on any
//! number of runtimes, may watch the same signal: each one sees every
//! delivery that happens after it was created. Deliveries that come faster
//! than a listener takes them are coalesced into one.
//!
//! The first listener of a signal installs a handler for it, once per
//! process, through `signal-hook-registry`; it stays installed until the
//! process exits, so from then on the signal's default action (for
//! `SIGINT` and `SIGTERM`: terminating the process) no longer happens.
//! Handlers others installed through `signal-hook-registry` keep running.
//! The handler writes to a self-pipe that every listener watches on its
//! runtime's reactor (the protocol is in `registry.rs`), so no thread is
//! started and nothing runs in signal context but a flag and a `write`.

mod registry;

use std::fmt;
use std::io;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::Async;
use registry::Globals;

/// Which signal to listen to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// A signal by its number, e.g. `libc::SIGRTMIN() + 1`; [`Signal::new`]
    /// refuses numbers that are not signals or cannot be caught.
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(self) -> i32 {
        self.0
    }

    /// `SIGINT`: Ctrl-C at a terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM`: the polite request to stop (what `kill` and service
    /// managers send).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP`: the terminal went away, or (by convention) reload the
    /// configuration.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT`: Ctrl-\ at a terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGPIPE`: a write to a pipe or socket nobody reads any more.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGALRM`: a timer set with `alarm(2)` expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGWINCH`: the terminal's window size changed.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

/// A stream of the deliveries of one signal (see the [module
/// docs](self)): it yields `()` once per delivery (or per burst of
/// deliveries it did not take in time), and ends only when its runtime
/// shuts down.
///
/// ```
/// use aiolos_io::signal::{Signal, SignalKind};
/// # fn main() -> std::io::Result<()> { Ok(()) }
/// # async fn f() -> std::io::Result<()> {
/// let mut hangups = Signal::new(SignalKind::hangup())?;
/// while hangups.recv().await.is_some() {
///     println!("reloading the configuration");
/// }
/// # Ok(())
/// # }
/// ```
pub struct Signal {
    /// The signal's number (checked).
    signum: i32,
    /// This listener's id among the signal's waiters.
    id: u64,
    /// The signal's delivery count when this listener last reported one.
    seen: u64,
    /// The process-wide state.
    globals: &'static Globals,
    /// A `dup` of the self-pipe's read end, on this runtime's reactor.
    pipe: Async<UnixStream>,
}

impl Signal {
    /// Starts listening to `kind`, installing its handler if this is the
    /// first listener in the process.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a number that is not a signal, and for `SIGKILL`,
    /// `SIGSTOP`, `SIGILL`, `SIGFPE` and `SIGSEGV`; an OS error if the
    /// handler or the pipe cannot be set up.
    ///
    /// # Panics
    ///
    /// Outside an aiolos runtime.
    #[track_caller]
    pub fn new(kind: SignalKind) -> io::Result<Signal> {
        let signum = kind.0;
        registry::check(signum)?;
        let globals = registry::globals()?;
        globals.install(signum)?;
        let pipe = Async::new(globals.receiver()?)?;
        Ok(Signal {
            signum,
            id: globals.next_id(),
            seen: globals.deliveries(signum),
            globals,
            pipe,
        })
    }

    /// Which signal this listens to.
    pub fn kind(&self) -> SignalKind {
        SignalKind(self.signum)
    }

    /// Waits for the next delivery; `None` once the runtime has shut down.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Signal::recv) as a poll function: `Ready(Some(()))` for a
    /// delivery since the last one reported, `Ready(None)` once the
    /// runtime has shut down.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let g = self.globals;
        let signum = self.signum;
        loop {
            // A delivery since the last one reported?
            let now = g.deliveries(signum);
            if now != self.seen {
                self.seen = now;
                return Poll::Ready(Some(()));
            }
            // Park first, then look again: a dispatch in between wakes us.
            g.park(signum, self.id, cx.waker());
            if g.deliveries(signum) != self.seen {
                continue;
            }
            // Dispatch whatever the pipe holds; wait for its next edge if
            // nothing was for us.
            let seen = self.seen;
            let dispatched = self.pipe.poll_read_with(cx, |_| {
                g.dispatch();
                if g.deliveries(signum) != seen {
                    Ok(())
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            });
            match dispatched {
                Poll::Ready(Ok(())) => {}
                // The only error left is the runtime's shutdown.
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        self.globals.unpark(self.signum, self.id);
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("signum", &self.signum)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

/// Starts listening to `kind`: [`Signal::new`], by the name tokio users
/// know.
///
/// # Errors
///
/// As [`Signal::new`].
///
/// # Panics
///
/// Outside an aiolos runtime.
#[track_caller]
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    Signal::new(kind)
}

/// Waits for the next Ctrl-C (`SIGINT`) delivered after the first poll.
///
/// The first call installs the process's `SIGINT` handler for good: from
/// then on Ctrl-C no longer terminates the program, it only completes
/// these futures. A program that wants a second Ctrl-C to stop it hard can
/// call `std::process::exit` on it.
///
/// # Errors
///
/// If the handler or the pipe cannot be set up, or when the runtime shuts
/// down before a Ctrl-C comes.
///
/// # Panics
///
/// When polled outside an aiolos runtime.
pub async fn ctrl_c() -> io::Result<()> {
    let mut sigint = Signal::new(SignalKind::interrupt())?;
    match sigint.recv().await {
        Some(()) => Ok(()),
        None => Err(crate::context::shut_down()),
    }
}
