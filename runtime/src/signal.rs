//! Unix signals (asyncio's `loop.add_signal_handler`): [`ctrl_c`] waits for
//! the next Ctrl-C, and [`signal`] gives a stream of any catchable signal's
//! deliveries.
//!
//! ```
//! use aiolos::signal::{signal, SignalKind};
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let mut usr1 = signal(SignalKind::user_defined1()).unwrap();
//!     // Deliver SIGUSR1 to this process.
//!     // SAFETY: kill(2) on our own pid only sends a signal.
//!     unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
//!     usr1.recv().await.unwrap();
//!     println!("got SIGUSR1");
//! });
//! ```
//!
//! Every listener of a signal sees each delivery that comes after it was
//! created, whichever runtime it belongs to; deliveries a listener did not
//! take in time are coalesced into one. The first listener of a signal
//! installs the process's handler for it (through `signal-hook-registry`)
//! until the process exits: from then on `SIGINT` and `SIGTERM` no longer
//! terminate the program, so a server that listens for them must stop by
//! itself (see [`Runtime::shutdown_timeout`](crate::Runtime::shutdown_timeout)
//! for the shutdown pattern). Delivery goes through a self-pipe watched by
//! the reactor: no thread is started and the handler only sets a flag and
//! writes a byte.

pub use aiolos_io::signal::*;
