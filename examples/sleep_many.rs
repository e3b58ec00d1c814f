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
//! Differences from the Python: each sleep is 100–500 ms instead of 1–5 s;
//! the "random" times come from a fixed-seed xorshift generator, so every run
//! sleeps the same times; and aiolos has no `gather` yet, so `main` awaits
//! the `Task` handles one after another, which also returns the results in
//! spawn order. Each coroutine prints when it finishes, as in the seed, so
//! those lines come in order of sleep time.
//!
//! Run it with `cargo run --example sleep_many`.

use std::time::Duration;

use aiolos::time::{sleep, Instant};

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

async fn my_coroutine(id: u32, process_time: u32) -> Duration {
    let planned = UNIT * process_time;
    let start = Instant::now();
    sleep(planned).await;
    let took = start.elapsed();
    println!(
        "协程:{id}, 执行完毕。用时:{:.1}秒 (slept {took:.1?})",
        planned.as_secs_f64()
    );
    took
}

#[aiolos::main]
async fn main() {
    let mut random = XorShift32(0x2545_f491);
    let start = Instant::now();

    // ensure_future(MyCoroutine(i)) for i in range(100): all start now.
    let planned: Vec<u32> = (0..COROUTINES).map(|_| random.randint(1, 5)).collect();
    let tasks: Vec<_> = planned
        .iter()
        .enumerate()
        .map(|(id, &t)| aiolos::spawn(my_coroutine(id as u32, t)))
        .collect();

    // await gather(*tasks): await every handle, results in spawn order.
    let mut slept = Vec::with_capacity(tasks.len());
    for task in tasks {
        slept.push(task.await.expect("a sleeping coroutine does not panic"));
    }
    let total = start.elapsed();

    let sum: Duration = slept.iter().sum();
    let longest = slept.iter().max().copied().unwrap_or_default();
    let ms: Vec<u128> = slept.iter().map(Duration::as_millis).collect();
    println!(
        "gathered {} results (ms slept, in spawn order): {ms:?}",
        ms.len()
    );
    println!(
        "TIME: {:.3} s for {:.3} s of sleeping (longest {:.3} s): the sleeps overlapped",
        total.as_secs_f64(),
        sum.as_secs_f64(),
        longest.as_secs_f64()
    );
}
