//! aiolos: a multi-threaded, work-stealing async runtime with the shape of
//! Python's asyncio.
//!
//! ```
//! use std::time::Duration;
//!
//! #[aiolos::main(worker_threads = 2)]
//! async fn main() {
//!     // asyncio.create_task
//!     let hello = aiolos::task::Builder::new()
//!         .name("hello")
//!         .spawn(async { "hello" });
//!     // loop.run_in_executor(None, f)
//!     let world = aiolos::spawn_blocking(|| {
//!         std::thread::sleep(Duration::from_millis(10));
//!         "world"
//!     });
//!     println!("{} {}", hello.await.unwrap(), world.await.unwrap());
//! }
//! ```
//!
//! | asyncio | aiolos |
//! |---|---|
//! | `asyncio.run(main())`, `loop.run_until_complete(f)` | `#[aiolos::main]`, [`Runtime::block_on`] |
//! | `create_task(coro, name=)` | [`spawn`], [`task::Builder`] |
//! | `task.cancel()`, `CancelledError`, `done()` | [`Task::cancel`], [`TaskError::Cancelled`], [`Task::is_finished`] |
//! | `task.add_done_callback(cb)` | [`Task::add_done_callback`] |
//! | `gather(a, b)`, `gather(*aws, return_exceptions=True)`, `gather(*aws)` | [`gather!`]`(a, b)`, [`gather(iter)`](gather()), [`try_gather`] |
//! | `wait(fs, timeout=, return_when=)` | [`wait`]`(tasks, `[`ReturnWhen`]`::FirstCompleted, timeout)` |
//! | `as_completed(fs)`, `shield(aw)` | [`as_completed`], [`shield`] |
//! | `async with TaskGroup() as tg: tg.create_task(c)` | [`TaskGroup::spawn`], [`TaskGroup::join`] |
//! | `current_task()`, `all_tasks()` | [`task::current`], [`task::all_tasks`] |
//! | `await asyncio.sleep(0)` | [`yield_now`] |
//! | `run_in_executor(None, f)` | [`spawn_blocking`] |
//! | `call_soon_threadsafe`, `run_coroutine_threadsafe` | [`Handle::spawn`] from any thread |
//! | `Lock`, `Event`, `Condition`, `Semaphore`, `Queue` | [`sync`] |
//! | `loop.add_signal_handler(SIGINT, cb)`, `KeyboardInterrupt` | [`signal::signal`], [`signal::ctrl_c`] |
//! | `asyncio.create_subprocess_exec(prog, *args, stdout=PIPE)` | [`process::Command`]`::new(prog).args(args).stdout(Stdio::piped()).spawn()` |
//!
//! # Graceful shutdown
//!
//! Dropping a [`Runtime`] (or leaving `#[aiolos::main]`) cancels every task
//! at its next await. A server that should let its clients finish stops in
//! four steps instead (`examples/http_server.rs` does them with hyper):
//!
//! 1. **Stop accepting**: leave the accept loop when the shutdown signal
//!    comes ([`signal::ctrl_c`], or a [`signal::signal`] stream of
//!    `SIGINT`/`SIGTERM` created before the loop so no delivery is missed),
//!    and drop the listener: new clients are refused at once.
//! 2. **Ask the open connections to finish**, e.g. through a
//!    [`sync::Event`] each connection task watches.
//! 3. **Wait up to a deadline, then cancel the rest**: spawn the
//!    connections into a [`TaskGroup`] and await
//!    `time::timeout(grace, group.join())`; if the time runs out, dropping
//!    the join cancels every connection still running.
//! 4. **Shut the runtime down**: return from `main`, or call
//!    [`Runtime::shutdown_timeout`] to also bound the wait for
//!    `spawn_blocking` jobs, which cannot be cancelled.
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use aiolos::net::{TcpListener, TcpStream};
//! use aiolos::signal::{signal, SignalKind};
//! use aiolos::sync::Event;
//! use aiolos::{time, TaskGroup};
//! use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     // Listen for Ctrl-C before accepting anybody.
//!     let mut ctrl_c = signal(SignalKind::interrupt()).unwrap();
//!
//!     // A client that, once greeted, presses Ctrl-C and reads to the end.
//!     let client = aiolos::spawn(async move {
//!         let mut stream = TcpStream::connect(addr).await.unwrap();
//!         let mut hello = [0; 5];
//!         stream.read_exact(&mut hello).await.unwrap();
//!         // SAFETY: kill(2) on our own pid only sends a signal.
//!         unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
//!         let mut rest = Vec::new();
//!         stream.read_to_end(&mut rest).await.unwrap();
//!         rest
//!     });
//!
//!     let connections = TaskGroup::<Infallible>::new();
//!     let closing = Arc::new(Event::new());
//!     loop {
//!         let accepted = future::or(async { Some(listener.accept().await) }, async {
//!             ctrl_c.recv().await;
//!             None
//!         })
//!         .await;
//!         let mut stream = match accepted {
//!             Some(Ok((stream, _peer))) => stream,
//!             Some(Err(e)) => {
//!                 eprintln!("accept failed: {e}");
//!                 continue;
//!             }
//!             None => break,
//!         };
//!         let closing = closing.clone();
//!         connections.spawn(async move {
//!             let _ = stream.write_all(b"hello").await;
//!             // ... serve until asked to finish, then say goodbye.
//!             closing.wait().await;
//!             let _ = stream.write_all(b"bye").await;
//!             Ok(())
//!         });
//!     }
//!     drop(listener); // 1.
//!     closing.set(); // 2.
//!     let grace = Duration::from_secs(5);
//!     if time::timeout(grace, connections.join()).await.is_err() {
//!         eprintln!("cancelled the connections still open"); // 3.
//!     }
//!     assert_eq!(client.await.unwrap(), b"bye");
//! });
//! drop(rt); // 4.
//! ```
//!
//! # Implementation
//!
//! A [`Runtime`] starts these threads:
//! - **workers** (`Builder::worker_threads`, default one per CPU), named
//!   `aiolos-worker-N`. Each has a local FIFO queue (crossbeam-deque) and a
//!   one-task LIFO slot; tasks from other threads arrive through a shared
//!   injector. An idle worker steals half of a random sibling's queue; at
//!   most half the workers search at once, and a sleeping worker is woken
//!   only when nobody is searching. Each worker also owns a timer wheel:
//!   it fires the timers its tasks created between tasks and runs the tasks
//!   they wake first, and it parks until its earliest deadline.
//! - **the reactor** (`aiolos-reactor`): waits on the OS poller, fires
//!   timers created outside the workers, and fires a worker's due timers if
//!   that worker is stuck in a long poll. It watches I/O readiness only
//!   while no worker does: a running worker takes pending readiness itself
//!   (every 61 tasks and before it parks) and runs the tasks it wakes from
//!   its own queue; the last worker to park hands the watch to the reactor.
//! - **blocking threads** (`aiolos-blocking-N`), started on demand for
//!   [`spawn_blocking`] up to `Builder::max_blocking_threads` (512), reused
//!   while idle and stopped after `Builder::blocking_keep_alive` (10 s).
//!
//! [`Runtime::block_on`] polls its future on the calling thread.
//! A task is one allocation: a header of [`task::HEADER_SIZE`] bytes, then
//! the future, whose output later takes its place.
//! Every task sits in the runtime's owned-task list, so shutdown drops every
//! future and [`Handle::dump`] can list every task with its state, polls,
//! age and spawn location.
//! Each worker counts its polls, steals, parks and LIFO-slot hits in
//! counters of its own, summed by [`Handle::metrics`];
//! [`Builder::debug`] turns on asyncio's debug mode (a warning naming every
//! task whose poll blocks its worker for over 100 ms, through `log`).

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]
#![deny(unsafe_op_in_unsafe_fn)]

mod blocking;
pub mod combinators;
mod context;
#[cfg(feature = "hyper")]
pub mod hyper;
pub mod io;
mod loom;
pub mod net;
mod park;
pub mod process;
mod runtime;
mod scheduler;
pub mod signal;
pub mod sync;
pub mod task;
pub mod time;

pub use aiolos_macros::{main, test};
pub use combinators::{
    as_completed, gather, shield, try_gather, wait, GroupError, ReturnWhen, Shield, TaskGroup,
};
pub use runtime::{Builder, Handle, Runtime, RuntimeMetrics, TimerHandle, WorkerMetrics};
pub use task::{spawn, spawn_blocking, yield_now, Task, TaskError, TaskId, TaskInfo, TaskState};
