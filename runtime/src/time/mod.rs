//! Time: asyncio's `sleep`, `wait_for`/`timeout`, `loop.time()`, and
//! periodic ticks.
//!
//! Timers live in hierarchical timer wheels (1 ms slots): a timer first
//! polled by a task goes to the wheel of the worker running it, which fires
//! it itself; one first polled elsewhere goes to the reactor thread's wheel.
//! A timer is registered on its first poll, never earlier; it never fires
//! before its deadline, and fires at the exact deadline (not the next whole
//! millisecond) when its thread is free to look. Creating or polling a timer
//! outside an aiolos runtime panics.
//!
//! | asyncio | aiolos |
//! |---|---|
//! | `await asyncio.sleep(d)` | [`sleep(d)`](sleep)`.await` |
//! | `await asyncio.wait_for(aw, t)`, `async with asyncio.timeout(t)` | [`timeout(t, fut)`](timeout)`.await` |
//! | `loop.time()` | [`Instant::now()`](Instant::now) |
//! | `loop.call_later`, `call_at` | `Handle::call_later`, `Handle::call_at` |

mod instant;
mod interval;
mod sleep;
mod timeout;

pub use instant::Instant;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use sleep::{sleep, sleep_until, Sleep};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
