//! `loop.call_soon`, `loop.call_later`, `loop.call_at` and `loop.stop()` in
//! aiolos: plain functions (not coroutines) scheduled on the loop.
//!
//! The seed (`seeds/001_*.txt`, "asyncio中的其他函数") shows that `call_soon`
//! runs a callback on the loop's next turn, before any `call_later` one, and
//! that `call_later`/`call_at` callbacks run in the order of their deadlines,
//! not in the order they were added:
//!
//! ```python
//! import asyncio
//!
//! def callback(sleep_times):
//!     print(f"success time {sleep_times}")
//!
//! if __name__ == '__main__':
//!     loop = asyncio.get_event_loop()
//!     # call_later 是延迟调用
//!     loop.call_later(2, callback, 2)
//!     loop.call_later(1, callback, 1)
//!     loop.call_later(3, callback, 3)
//!     loop.call_soon(callback, 4)
//!     loop.run_forever()
//! # 输出
//! # success time 4
//! # success time 1
//! # success time 2
//! # success time 3
//!
//!     # call_at: the time is the loop's own clock, loop.time()
//!     loop_time = loop.time()
//!     loop.call_at(loop_time + 2, callback, 2)
//!     loop.call_at(loop_time + 1, callback, 1)
//!     loop.call_at(loop_time + 3, callback, 3)
//!     loop.call_soon(callback, 4)
//!     loop.run_forever()
//! # 输出: the same four lines
//! ```
//!
//! Differences from the Python: the delays are tenths of a second instead of
//! seconds, and the last callback also calls `stop()` (the seed's loop runs
//! forever, and the seed's separate `stoploop(loop)` callback does the
//! stopping in its `call_soon` example), so that `run_forever()` returns and
//! the second part can run on the same loop. Callbacks run one at a time on a
//! worker thread; `Instant::now()` is `loop.time()`.
//!
//! Run it with `cargo run --example callbacks`.

use std::time::Duration;

use aiolos::time::Instant;
use aiolos::Handle;

fn callback(sleep_times: u32) {
    println!("success time {sleep_times}");
}

/// `callback(3)`, then `loop.stop()`.
fn callback_then_stop(handle: &Handle) -> impl FnOnce() + Send + 'static {
    let handle = handle.clone();
    move || {
        callback(3);
        handle.stop();
    }
}

fn main() -> std::io::Result<()> {
    let rt = aiolos::Runtime::new()?;
    let handle = rt.handle();

    println!("call_later:");
    handle.call_later(Duration::from_millis(200), || callback(2));
    handle.call_later(Duration::from_millis(100), || callback(1));
    handle.call_later(Duration::from_millis(300), callback_then_stop(&handle));
    handle.call_soon(|| callback(4));
    rt.run_forever();

    println!("call_at:");
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
