//! The hierarchical timer wheel of the aiolos runtime.
//!
//! [`Wheel<T>`] holds values of type `T` with deadlines in milliseconds and
//! hands them back, in deadline order, as the caller advances time. It is a
//! plain, deterministic data structure: it reads no clock, so the reactor
//! passes "now" as milliseconds since an origin of its choosing, and tests
//! can drive it through years of simulated time in microseconds.
//!
//! ```
//! use aiolos_timer::Wheel;
//!
//! let mut wheel = Wheel::new();
//! let cancelled = wheel.insert(30, "cancelled");
//! wheel.insert(10, "b");
//! wheel.insert(5, "a");
//! wheel.insert(10, "c");
//! assert_eq!(wheel.cancel(cancelled), Some("cancelled"));
//!
//! // The reactor's loop: sleep until the next deadline, advance, repeat.
//! let mut fired = Vec::new();
//! while let Some(t) = wheel.next_deadline() {
//!     // poller.wait(t - now) would go here.
//!     wheel.advance(t, |_key, deadline, value| fired.push((deadline, value)));
//! }
//! // Deadline order; equal deadlines in insertion order.
//! assert_eq!(fired, [(5, "a"), (10, "b"), (10, "c")]);
//! ```
//!
//! # Implementation
//!
//! This crate starts no threads, performs no I/O, reads no clock and has no
//! dependencies; the reactor thread of `aiolos-io` owns a wheel and drives it.
//!
//! - **Levels.** Eleven levels of 64 slots; a slot on level `k` spans `64^k`
//!   ms, so level 0 has 1 ms resolution and the levels together cover every
//!   `u64` deadline. An entry goes to the level of the highest 6-bit group in
//!   which its deadline differs from the wheel's time
//!   (`(63 - (deadline ^ now).leading_zeros()) / 6`), in the slot given by
//!   the deadline's bits of that group. The top level is the overflow list:
//!   deadlines more than 2^60 ms (36 million years) away, such as `u64::MAX`,
//!   wait there, split by their top four bits, and are re-filed as time
//!   reaches them.
//! - **Occupancy bitmaps.** One `u64` per level marks its non-empty slots, so
//!   the earliest slot is the lowest set bit of the lowest non-zero level:
//!   [`Wheel::next_deadline`] costs O(levels) and [`Wheel::advance`] jumps
//!   straight from one occupied slot to the next, however far apart.
//! - **Slab and intrusive lists.** Entries live in one `Vec` with a free list;
//!   each slot is a doubly linked list threaded through the entries by `u32`
//!   indexes, so insert and cancel are O(1) and allocate nothing once the
//!   slab has grown to its peak. A [`Key`] is an index plus a generation
//!   bumped on every free, so stale keys never reach a reused entry.
//! - **Cascading.** When time reaches a slot on level `k > 0`, its entries
//!   move, front to back, to the tail of lower-level slots; those due at that
//!   instant join the pending list, which is fired first. Moving lists in
//!   order is what keeps equal deadlines in insertion order.
//! - **Late inserts.** An entry inserted with a deadline that is not after
//!   the wheel's time goes to the pending list and fires on the next
//!   advance, sorted by deadline first if late inserts came out of order.
//!
//! | operation | cost |
//! |---|---|
//! | [`insert`](Wheel::insert), [`cancel`](Wheel::cancel), [`deadline`](Wheel::deadline) | O(1) |
//! | [`next_deadline`](Wheel::next_deadline) | O(levels), no scan of entries |
//! | [`advance`](Wheel::advance) | O(levels) per occupied slot reached, plus O(1) per entry moved (at most once per level) or fired |

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub,
    clippy::undocumented_unsafe_blocks
)]
#![deny(unsafe_op_in_unsafe_fn)]
#![forbid(unsafe_code)]

mod level;
mod slab;
mod wheel;

pub use slab::Key;
pub use wheel::Wheel;
