//! Synchronisation between tasks: asyncio's `Lock`, `Event`, `Condition`,
//! `Semaphore`, `BoundedSemaphore`, `Queue`, `LifoQueue` and
//! `PriorityQueue`, usable from many worker threads at once, and the
//! [`oneshot`] and [`mpsc`] channels.
//!
//! ```
//! use std::sync::Arc;
//! use aiolos::sync::{Event, Mutex, Queue, Semaphore};
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let jobs = Arc::new(Queue::new(0));
//!     let results = Arc::new(Mutex::new(Vec::new()));
//!     let limit = Arc::new(Semaphore::new(2)); // two workers busy at once
//!     let go = Arc::new(Event::new());
//!
//!     let workers: Vec<_> = (0..4)
//!         .map(|_| {
//!             let (jobs, results, limit, go) =
//!                 (jobs.clone(), results.clone(), limit.clone(), go.clone());
//!             aiolos::spawn(async move {
//!                 go.wait().await;
//!                 while let Ok(n) = jobs.get().await {
//!                     let _permit = limit.acquire().await.unwrap();
//!                     results.lock().await.push(n * n);
//!                     jobs.task_done();
//!                 }
//!             })
//!         })
//!         .collect();
//!
//!     for n in 1..=5u32 {
//!         jobs.put(n).await.unwrap();
//!     }
//!     go.set();
//!     jobs.join().await; // every job done
//!     jobs.shutdown(); // the workers' next get fails, so they return
//!     for w in workers {
//!         w.await.unwrap();
//!     }
//!     let mut squares = results.lock().await.clone();
//!     squares.sort();
//!     assert_eq!(squares, [1, 4, 9, 16, 25]);
//! });
//! ```
//!
//! | asyncio | aiolos |
//! |---|---|
//! | `Lock`, `async with lock` | [`Mutex<T>`], `let guard = m.lock().await` |
//! | `Event` | [`Event`] |
//! | `Condition(lock)` | [`Condition<T>`] (owns its mutex) |
//! | `Semaphore`, `BoundedSemaphore` | [`Semaphore`], [`BoundedSemaphore`] |
//! | `Queue`, `LifoQueue`, `PriorityQueue` | [`Queue`], [`LifoQueue`], [`PriorityQueue`] |
//! | `QueueFull`, `QueueEmpty`, `QueueShutDown` | [`QueueFull`], [`QueueEmpty`], [`QueueShutDown`] |
//!
//! # Fairness and cancellation
//!
//! Every primitive queues its waiters first in, first out: an unlock hands
//! the lock to the oldest waiter, released permits go to the oldest
//! acquirer, a new item to the oldest getter, and a newcomer never takes
//! what a waiter has been promised. Every waiting future is cancel-safe:
//! dropping it (by [`Task::cancel`](crate::Task::cancel), a
//! [`timeout`](crate::time::timeout) or a race) at any point loses nothing;
//! a lock, permits, an item or a notification that had already been handed
//! to it goes on to the next waiter or back to the primitive.
//!
//! Waiting and ready operations spend the task's cooperative budget, so a
//! task whose locks are always free still lets its neighbours run.
//!
//! # Implementation
//!
//! All primitives park waiters in one FIFO list type (`waiters.rs`): a slab
//! of nodes under a small lock, so waiting allocates nothing once the slab
//! has grown. An uncontended [`Mutex`] lock and unlock are one
//! compare-and-swap each; [`Semaphore`] likewise while nobody waits. Wakers
//! are always woken after the internal lock is released. No threads are
//! started.

mod bounded;
mod condition;
mod error;
mod event;
#[cfg(all(test, loom))]
mod loom_model;
pub mod mpsc;
mod mutex;
pub mod oneshot;
mod queue;
mod semaphore;
pub(crate) mod waiters;

pub use bounded::{BoundedSemaphore, BoundedSemaphorePermit};
pub use condition::Condition;
pub use error::{AcquireError, QueueEmpty, QueueFull, QueueShutDown, ReleaseError};
pub use event::Event;
pub use mutex::{Mutex, MutexGuard};
pub use queue::{LifoQueue, PriorityQueue, Queue};
pub use semaphore::{Semaphore, SemaphorePermit};
