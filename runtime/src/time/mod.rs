//! Time: asyncio's `sleep`, `wait_for`/`timeout`, `loop.time()`, and
//! periodic ticks.
//!
//! Timers live in the reactor thread's hierarchical wheel (1 ms resolution).
//! A timer is registered on its first poll, never earlier, and a timer never
//! fires before its deadline (deadlines are rounded up to the next
//! millisecond). Creating or polling a timer outside an aiolos runtime panics.
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
