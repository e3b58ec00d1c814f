//! Child processes (asyncio's `create_subprocess_exec` and `Process`):
//! [`Command`] mirrors `std::process::Command`; [`Child::wait`] waits
//! without blocking a thread, and the pipes of a child implement
//! `futures_io::AsyncWrite` (stdin) and `AsyncRead` (stdout, stderr), so
//! `futures::io` helpers work on them.
//!
//! ```
//! use aiolos::process::{Command, Stdio};
//! use futures_lite::{AsyncReadExt, AsyncWriteExt};
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     // proc = await asyncio.create_subprocess_exec("tr", "a-z", "A-Z",
//!     //                                            stdin=PIPE, stdout=PIPE)
//!     let mut child = Command::new("tr")
//!         .args(["a-z", "A-Z"])
//!         .stdin(Stdio::piped())
//!         .stdout(Stdio::piped())
//!         .spawn()
//!         .unwrap();
//!     let mut stdin = child.stdin.take().unwrap();
//!     stdin.write_all(b"hello").await.unwrap();
//!     drop(stdin); // the child sees the end of its input
//!     let mut out = String::new();
//!     child.stdout.take().unwrap().read_to_string(&mut out).await.unwrap();
//!     assert_eq!(out, "HELLO");
//!     assert!(child.wait().await.unwrap().success());
//!
//!     // stdout, stderr = await proc.communicate()
//!     let output = Command::new("sh")
//!         .args(["-c", "echo out; echo err >&2; exit 3"])
//!         .output()
//!         .await
//!         .unwrap();
//!     assert_eq!(output.stdout, b"out\n");
//!     assert_eq!(output.stderr, b"err\n");
//!     assert_eq!(output.status.code(), Some(3));
//! });
//! ```
//!
//! # Reaping
//!
//! No thread ever blocks in `waitpid`. Each child gets a pidfd (Linux 5.3
//! and later) registered with the reactor, readable once the child has
//! exited; where `pidfd_open` is missing or forbidden, exits are noticed
//! through SIGCHLD ([`signal`](crate::signal)) instead. Only a child's own
//! [`Child`] calls `waitpid`, for that pid alone, so statuses of children
//! spawned by other code are never taken.
//!
//! A [`Child`] dropped before its child exited does not kill it (unless
//! [`Command::kill_on_drop`] was set), and does not leave a zombie for
//! good: the child goes to a process-wide orphan list and is reaped when
//! it exits, as long as the runtime that spawned it runs, and otherwise
//! on the next spawn. (`aiolos_io::process` documents the protocol.)

pub use aiolos_io::process::*;
