//! Multi-producer, single-consumer channels: [`channel`] (bounded: senders
//! wait for room) and [`unbounded`] (senders never wait). asyncio's `Queue`
//! for the common case of many producers feeding one consumer task.
//!
//! ```
//! use aiolos::sync::mpsc;
//!
//! let rt = aiolos::Runtime::new().unwrap();
//! rt.block_on(async {
//!     let (tx, mut rx) = mpsc::channel::<String>(8);
//!     aiolos::spawn(async move {
//!         tx.send("hello".to_string()).await.unwrap();
//!     });
//!     assert_eq!(rx.recv().await.as_deref(), Some("hello"));
//!     assert_eq!(rx.recv().await, None); // the only sender is gone
//! });
//! ```
//!
//! # Semantics
//!
//! - Messages from one sender arrive in the order it sent them.
//! - A bounded channel of capacity `k` holds at most `k` messages; senders
//!   waiting for room are served in arrival order, and `try_send` does not
//!   overtake them.
//! - `recv()` returns `None` once every sender is gone and the buffer is
//!   empty. `Receiver::close()` makes senders fail while what was already
//!   sent can still be received. Dropping the receiver drops the buffered
//!   messages and wakes waiting senders with [`SendError`].
//! - Cancelling is safe on both sides: a dropped `send` future takes no room
//!   and passes on room it was just granted; a dropped `recv` future takes
//!   no message.
//! - Channel operations spend the task's cooperative budget, so a task
//!   whose channel is always ready still yields every ~128 operations.
//!
//! # Implementation
//!
//! Four parts, each with its protocol in its own file:
//!
//! - `list.rs`: the queue, a lock-free linked list of blocks of slots. A
//!   send claims a slot with one `fetch_add`, writes it, and sets the slot's
//!   ready bit; the receiver reads in index order. Blocks read to the end
//!   are recycled, so the send path does not allocate per message.
//! - `semaphore.rs`: room accounting. Bounded: a permit counter with a
//!   one-CAS fast path on both sides, and an intrusive FIFO list of waiting
//!   senders under a mutex that is taken only when someone waits. Unbounded:
//!   a message counter. Both also tell the receiver, after `close`, whether
//!   a sender that already had room is still about to push.
//! - `rx_waker.rs`: the receiver's waker with a `parked` flag, so a send
//!   costs one load, not a read-modify-write, while the receiver is busy,
//!   and a burst of sends wakes it once.
//! - `chan.rs`: the state the halves share and the send / receive / close
//!   steps that tie the parts together.

mod bounded;
mod chan;
pub mod error;
mod list;
mod rx_waker;
mod semaphore;
mod unbounded;
mod wait_list;

pub use bounded::{channel, Receiver, Sender};
pub use error::{SendError, TryRecvError, TrySendError};
pub use unbounded::{unbounded, UnboundedReceiver, UnboundedSender};

#[cfg(all(test, loom))]
mod loom_tests;
