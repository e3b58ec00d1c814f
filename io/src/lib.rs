//! The reactor of the aiolos runtime: one thread that waits on a
//! [`polling::Poller`] and drives a hierarchical timer wheel, and the I/O
//! sources and `net` types whose readiness it (or a busy worker) delivers.
//!
//! This crate is an implementation detail of `aiolos`; its users see
//! `aiolos::time`, `aiolos::net` and `aiolos::process` (child processes,
//! reaped through pidfds on the reactor, see [`process`]).
//!
//! ```
//! use std::sync::Arc;
//! use std::task::{Wake, Waker};
//! use std::time::{Duration, Instant};
//! use aiolos_io::{Config, Fired, Reactor, TimerEntry};
//!
//! struct Flag(std::sync::Mutex<bool>, std::sync::Condvar);
//! impl Wake for Flag {
//!     fn wake(self: Arc<Self>) {
//!         *self.0.lock().unwrap() = true;
//!         self.1.notify_all();
//!     }
//! }
//!
//! let mut reactor = Reactor::start(Config {
//!     thread_name: "reactor".into(),
//!     on_thread_start: None,
//!     on_thread_stop: None,
//!     wake_batch: Box::new(|wakers, _| wakers.drain(..).for_each(Waker::wake)),
//!     workers: 0,
//!     all_parked: Box::new(|| true),
//!     busy_tick: None,
//! })
//! .unwrap();
//! let driver = reactor.driver().clone();
//! let flag = Arc::new(Flag(Default::default(), Default::default()));
//! let waker = Waker::from(flag.clone());
//!
//! let deadline = Instant::now() + Duration::from_millis(20);
//! let entry = Arc::new(TimerEntry::new(driver.deadline(deadline)));
//! assert_eq!(entry.poll_fired(&waker), Fired::No);
//! driver.add_timer(&entry);
//!
//! let mut fired = flag.0.lock().unwrap();
//! while !*fired {
//!     fired = flag.1.wait(fired).unwrap();
//! }
//! assert!(Instant::now() >= deadline);
//! assert!(entry.is_fired());
//! drop(fired);
//! reactor.shutdown();
//! ```
//!
//! # Implementation
//!
//! [`Reactor::start`] starts one thread. It loops: take timer operations
//! from a lock-free queue, fire expired timers and hand their wakers to the
//! scheduler in one batch, then wait in the poller until the next deadline.
//! Registering a timer never takes a lock the reactor holds; it notifies the
//! poller only when its deadline is earlier than the reactor's current
//! target.
//!
//! The [`Driver`] also keeps one [`Timers`] wheel per worker of the runtime:
//! a worker files the timers its tasks create there and fires them itself
//! (`aiolos`'s scheduler does), and the reactor fires them only for a worker
//! stuck in a long poll (see `driver.rs`).
//!
//! I/O sources are registered, edge-triggered, in an epoll instance of
//! their own. Running workers take its events without waiting
//! ([`Driver::poll_io`]) between tasks and before they park; the reactor
//! watches it only when the last worker parks or the workers stop polling
//! (see "I/O duty" in `driver.rs`), so under load no thread sleeps in
//! `epoll_wait` and readiness needs no thread to be woken.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]
#![deny(unsafe_op_in_unsafe_fn)]

mod async_fd;
pub mod context;
mod driver;
mod epoll;
mod loom;
#[cfg(all(test, loom))]
mod loom_tests;
pub mod net;
pub mod process;
mod reactor;
mod registration;
pub mod signal;
mod source;
mod timer;

pub use async_fd::Async;
pub use driver::{Driver, IO_CHECK, RESCUE_AFTER};
pub use reactor::{BusyTick, Config, Hook, Reactor, WakeBatch, Woken};
pub use registration::Registration;
pub use source::{Direction, Source};
pub use timer::{Fired, TimerEntry, Timers, REACTOR};

/// Held by every unit test that opens fds: one test closes an fd and
/// `dup2`s onto its number, which must not be another test's fd by then
/// (unit tests run on parallel threads of one process).
#[cfg(all(test, not(loom)))]
pub(crate) static TEST_FDS: std::sync::Mutex<()> = std::sync::Mutex::new(());
