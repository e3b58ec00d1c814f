//! 100 coroutines, each sleeping a random time, gathered: the sleeps overlap,
//! so the whole run takes about the longest sleep, not their sum.
//!
//! The seed (`seeds/000_*.txt`, "阻塞和await"):
//!
//! ```python
//! import asyncio
//! import random
//!
//! async def MyCoroutine(id):
//!     process_time = random.randint(1, 5)
//!     await asyncio.sleep(process_time)
//!     print('协程:{}, 执行完毕。用时:{}秒'.format(id, process_time))
//!
//! async def main():
//!     tasks = [asyncio.ensure_future(MyCoroutine(i)) for i in range(100)]
//!     await asyncio.gather(*tasks)
//!
//! loop = asyncio.get_event_loop()
//! try:
//!     loop.run_until_complete(main())
//! finally:
//!     loop.close()
//! ```
//!
//! It prints one line per coroutine, as each finishes, so the lines come in
//! order of sleep time; the whole run takes about the longest sleep (5 s in
//! the seed), not the sum of all of them.
//!
//! Differences from the Python: each sleep is 100–500 ms instead of 1–5 s,
//! and the line gives it in milliseconds (`用时:300毫秒`); the "random"
//! times come from a fixed-seed xorshift generator, so every run sleeps the
//! same times. `ensure_future` is `aiolos::spawn`, and `gather` awaits the
//! tasks' handles; `run_until_complete(main())` and `loop.close()` are
//! `#[aiolos::main]`.
//!
//! Run it with `cargo run --example sleep_many`.

use std::time::Duration;

use aiolos::time::sleep;

/// Coroutines to start.
const COROUTINES: u32 = 100;
/// One "second" of the seed's `randint(1, 5)` seconds.
const UNIT: Duration = Duration::from_millis(100);

/// Marsaglia's xorshift32: a tiny deterministic stand-in for `random`.
struct XorShift32(u32);

impl XorShift32 {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// Like Python's `random.randint(lo, hi)`: `lo..=hi` (modulo bias is
    /// fine for an example).
    fn randint(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// `async def MyCoroutine(id)`, with its random time chosen by the caller.
async fn my_coroutine(id: u32, process_time: u32) {
    let slept = UNIT * process_time;
    sleep(slept).await;
    println!("协程:{id}, 执行完毕。用时:{}毫秒", slept.as_millis());
}

#[aiolos::main]
async fn main() {
    let mut random = XorShift32(0x2545_f491);
    // tasks = [asyncio.ensure_future(MyCoroutine(i)) for i in range(100)]:
    // all start now.
    let tasks: Vec<_> = (0..COROUTINES)
        .map(|id| aiolos::spawn(my_coroutine(id, random.randint(1, 5))))
        .collect();
    // await asyncio.gather(*tasks)
    for result in aiolos::gather(tasks).await {
        result.expect("a sleeping coroutine does not fail");
    }
}
