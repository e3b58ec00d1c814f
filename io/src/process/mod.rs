//! Child processes (asyncio's `create_subprocess_exec`): [`Command`]
//! mirrors `std::process::Command`, [`Child`] is waited for without
//! blocking a thread, and its pipes ([`ChildStdin`], [`ChildStdout`],
//! [`ChildStderr`]) implement futures-io's `AsyncWrite` / `AsyncRead` on
//! the reactor.
//!
//! (`aiolos::process` re-exports this module; its docs have an example.)
//!
//! # Spawning
//!
//! [`Command::spawn`] calls the standard library's `spawn` on the calling
//! thread (a `fork`/`exec` that returns once the program runs; short
//! enough for a worker), takes the pipe ends it created (close-on-exec) and wraps each in
//! an [`Async`](crate::Async) of a `File`, non-blocking. Then the pid goes
//! to a reaper.
//!
//! # Reaping
//!
//! A child that has exited stays a zombie, holding its pid, until its
//! parent collects its status with `waitpid`. Only the child's own
//! `Child` (or, after it is dropped, the orphan list) calls `waitpid`, for
//! that pid alone, with `WNOHANG`: no thread ever blocks in it, and no
//! `waitpid(-1)` takes the status of a child spawned by other code.
//!
//! **pidfd** (Linux 5.3 and later). Right after the spawn, the reaper
//! opens a pidfd with `pidfd_open(pid, 0)` (the pid cannot be reused
//! before we reap it, so it names our child) and registers it with the
//! reactor like a socket. A pidfd polls readable once its process has
//! exited. [`Child::wait`]:
//! 1. notes the pidfd's read tick and calls `waitpid(pid, WNOHANG)`; a
//!    status ends the wait;
//! 2. otherwise forgets the pidfd's readiness unless an event came since
//!    the tick (an exit between 1 and 2 keeps it ready: go to 1);
//! 3. polls readiness, which stores the task's waker; the exit's event
//!    (taken by a worker or the reactor) wakes it; go to 1.
//!
//! Signals ([`Child::kill`] and friends) go through the pidfd too.
//!
//! **SIGCHLD fallback**, when `pidfd_open` fails (`ENOSYS` before 5.3,
//! `EPERM` under some seccomp filters) or the pidfd cannot be registered.
//! [`Child::wait`] creates a SIGCHLD listener *before* its first
//! `waitpid`, then loops: `waitpid(pid, WNOHANG)`, done on a status;
//! otherwise wait for the next delivery. Every listener sees every
//! delivery made after it was created (deliveries coalesce), so an exit
//! after the `waitpid` is a delivery still to come: none is lost.
//! Signals go to the pid with `kill`, which is safe because the pid is
//! still ours (unreaped).
//!
//! Once reaped, the status is kept: [`Child::wait`] and
//! [`Child::try_wait`] return it again, [`Child::id`] returns `None`, and
//! signalling fails rather than hit a process that reuses the pid.
//!
//! # Orphans
//!
//! A [`Child`] dropped before its child was reaped leaves no zombie
//! behind for good. Its drop sends SIGKILL first when
//! [`Command::kill_on_drop`] was set, tries one `waitpid(WNOHANG)`, and
//! hands a child that still runs to a process-wide orphan list (the
//! protocol is in `orphan.rs`). An orphan is reaped:
//! - with a pidfd: when the runtime that spawned it takes its exit event
//!   (the pidfd stays registered, armed with a waker that scans the list);
//! - without one (SIGCHLD fallback): on the next SIGCHLD, through the
//!   list's own listener, which the first fallback spawn creates in its
//!   runtime;
//! - in any case: on the next [`Command::spawn`] (in any runtime), and
//!   whenever a `Child` learns that its own child exited or (fallback) a
//!   waiting `Child` receives a SIGCHLD.
//!
//! So while the runtime that spawned it (or, in the fallback, created the
//! list's listener) runs, an orphan is a zombie no longer than a waited
//! child would be. Once that runtime has shut down, an orphan that exits
//! stays a zombie until the process spawns another child (or another
//! child's exit is noticed). A child still running when the process
//! exits is not waited for (nor killed, unless `kill_on_drop` dropped it
//! earlier), as with the standard library.

mod child;
mod command;
mod orphan;
mod pidfd;
mod pipe;
mod reaper;
mod sigchld;

pub use child::Child;
pub use command::Command;
pub use pipe::{ChildStderr, ChildStdin, ChildStdout};
pub use std::process::{ExitStatus, Output, Stdio};
