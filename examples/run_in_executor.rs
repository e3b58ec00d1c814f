//! `loop.run_in_executor(executor, f)` in aiolos: run ordinary blocking
//! functions on the blocking pool from async code, concurrently, and gather
//! their results.
//!
//! The seed (`seeds/002_*.txt` P5, "异步与多线程的结合" and "执行器的选择")
//! describes this example in prose: to run synchronous functions
//! concurrently from an event loop, use `run_in_executor()`, with a
//! `concurrent.futures.ThreadPoolExecutor` whose `max_workers` caps its
//! threads (or `None` for the loop's default executor), then `gather()` the
//! results. Written out in Python:
//!
//! ```python
//! import asyncio
//! import time
//! from concurrent.futures import ThreadPoolExecutor
//!
//! def thread_example(name):
//!     print('正在执行name:', name)
//!     time.sleep(2)
//!     return '返回结果:' + name
//!
//! async def main():
//!     loop = asyncio.get_running_loop()
//!     executor = ThreadPoolExecutor(max_workers=3)
//!     start = time.time()
//!     futs = [loop.run_in_executor(executor, thread_example, name)
//!             for name in ('A', 'B', 'C')]
//!     results = await asyncio.gather(*futs)
//!     print(results)
//!     print('TIME:', time.time() - start)   # about 2 s, not 6 s
//!
//! asyncio.run(main())
//! ```
//!
//! It prints `正在执行name: A`, `B` and `C` (in any order: they run on three
//! threads at once), then `['返回结果:A', '返回结果:B', '返回结果:C']` (in
//! the order of the calls) and the time, about one call's, not three.
//!
//! Differences from the Python: each call blocks for 200 ms instead of 2 s.
//! aiolos has one executor per runtime, the blocking pool, so
//! `ThreadPoolExecutor(max_workers=3)` is the runtime's
//! `Builder::max_blocking_threads(3)` and `run_in_executor` is
//! `spawn_blocking`; there is no process pool (`ProcessPoolExecutor`). The
//! list prints the Python way.
//!
//! Run it with `cargo run --release --example run_in_executor`.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

/// How long each call blocks its thread (the seed's `time.sleep(2)`).
const BLOCK_FOR: Duration = Duration::from_millis(200);

/// An ordinary blocking function: it holds its thread for a while.
fn thread_example(name: &str) -> String {
    println!("正在执行name: {name}");
    thread::sleep(BLOCK_FOR);
    format!("返回结果:{name}")
}

/// A list of strings as Python prints it: `['a', 'b']`.
fn py_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn main() -> io::Result<()> {
    // The executor: at most three blocking threads.
    let rt = aiolos::Runtime::builder().max_blocking_threads(3).build()?;
    // asyncio.run(main())
    rt.block_on(async {
        let start = Instant::now();

        // run_in_executor(executor, thread_example, name): each call gets a
        // thread from the blocking pool, so the workers stay free for async
        // tasks.
        let futs = ["A", "B", "C"]
            .into_iter()
            .map(|name| aiolos::spawn_blocking(move || thread_example(name)));

        // gather(*futs): results come back in the order of the calls.
        let results = aiolos::try_gather(futs)
            .await
            .expect("thread_example does not panic");

        println!("{}", py_list(&results));
        println!("TIME: {}", start.elapsed().as_secs_f64());
    });
    Ok(())
}
