//! `loop.call_soon`, `loop.call_later`, `loop.call_at` and `loop.stop()` in
//! aiolos: plain functions (not coroutines) scheduled on the loop, which
//! `run_forever` runs until one of them stops it.
//!
//! Each part prints a `=== seed #n ===` line, then what the Python prints.
//! The seed is `seeds/001_*.txt`, "asyncio中的其他函數"; its callbacks:
//!
//! ```python
//! import asyncio
//!
//! def callback(sleep_times):
//!     print(f"success time {sleep_times}")
//!
//! def stoploop(loop):
//!     loop.stop()
//! ```
//!
//! **`001 #13`**: `call_soon` runs a callback on the loop's next turn;
//! a second one stops the loop. Prints `success time 2`.
//!
//! ```python
//! loop = asyncio.get_event_loop()
//! loop.call_soon(callback, 2)
//! loop.call_soon(stoploop, loop)
//! loop.run_forever()
//! ```
//!
//! **`001 #14`**: `call_later` callbacks run in the order of their delays,
//! not the order they were added: `success time 1`, `2`, `3`.
//!
//! ```python
//! loop.call_later(2, callback, 2)
//! loop.call_later(1, callback, 1)
//! loop.call_later(3, callback, 3)
//! loop.run_forever()
//! ```
//!
//! **`001 #15`**: a `call_soon` callback runs before every `call_later`
//! one: `success time 4`, `1`, `2`, `3`.
//!
//! ```python
//! loop.call_later(2, callback, 2)
//! loop.call_later(1, callback, 1)
//! loop.call_later(3, callback, 3)
//! loop.call_soon(callback, 4)
//! loop.run_forever()
//! ```
//!
//! **`001 #16`**: `call_at` takes a time on the loop's own clock,
//! `loop.time()`; the same four lines.
//!
//! ```python
//! loop_time = loop.time()
//! loop.call_at(loop_time + 2, callback, 2)
//! loop.call_at(loop_time + 1, callback, 1)
//! loop.call_at(loop_time + 3, callback, 3)
//! loop.call_soon(callback, 4)
//! loop.run_forever()
//! ```
//!
//! Differences from the Python: the delays are tenths of a second instead
//! of seconds. In `001 #14`, `#15` and `#16` the seed's loop runs forever;
//! here the last callback also calls `stop()`, so that `run_forever()`
//! returns and the next part can run on the same loop. Callbacks run one at
//! a time on a worker thread; `Instant::now()` is `loop.time()`.
//!
//! Run it with `cargo run --example callbacks`.

use std::time::Duration;

use aiolos::time::Instant;
use aiolos::Handle;

/// `def callback(sleep_times)`.
fn callback(sleep_times: u32) {
    println!("success time {sleep_times}");
}

/// `def stoploop(loop): loop.stop()`.
fn stoploop(handle: &Handle) {
    handle.stop();
}

/// `callback(3)`, then `stoploop(loop)`: the last callback of a part ends
/// the part's `run_forever`.
fn callback_then_stop(handle: &Handle) -> impl FnOnce() + Send + 'static {
    let handle = handle.clone();
    move || {
        callback(3);
        stoploop(&handle);
    }
}

fn main() -> std::io::Result<()> {
    // loop = asyncio.get_event_loop()
    let rt = aiolos::Runtime::new()?;
    let handle = rt.handle();

    println!("=== 001 #13 ===");
    handle.call_soon(|| callback(2));
    let h = handle.clone();
    handle.call_soon(move || stoploop(&h));
    rt.run_forever();

    println!("=== 001 #14 ===");
    handle.call_later(Duration::from_millis(200), || callback(2));
    handle.call_later(Duration::from_millis(100), || callback(1));
    handle.call_later(Duration::from_millis(300), callback_then_stop(&handle));
    rt.run_forever();

    println!("=== 001 #15 ===");
    handle.call_later(Duration::from_millis(200), || callback(2));
    handle.call_later(Duration::from_millis(100), || callback(1));
    handle.call_later(Duration::from_millis(300), callback_then_stop(&handle));
    handle.call_soon(|| callback(4));
    rt.run_forever();

    println!("=== 001 #16 ===");
    let loop_time = Instant::now();
    handle.call_at(loop_time + Duration::from_millis(200), || callback(2));
    handle.call_at(loop_time + Duration::from_millis(100), || callback(1));
    handle.call_at(
        loop_time + Duration::from_millis(300),
        callback_then_stop(&handle),
    );
    handle.call_soon(|| callback(4));
    rt.run_forever();
    Ok(())
}
