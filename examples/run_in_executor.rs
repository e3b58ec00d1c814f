//! `loop.run_in_executor(None, f)` in aiolos: run ordinary blocking functions
//! on the blocking pool from async code, concurrently, and gather their results.
//!
//! The seed (`seeds/002_*.txt`, "异步与多线程的结合") describes this example in
//! prose: to run synchronous functions concurrently from an event loop, use
//! `run_in_executor()`, then `gather()` the results. Written out in Python:
//!
//! ```python
//! import asyncio
//! import time
//!
//! def thread_example(name):
//!     print('正在执行name:', name)
//!     time.sleep(2)
//!     return '返回结果:' + name
//!
//! async def main():
//!     loop = asyncio.get_running_loop()
//!     start = time.time()
//!     futs = [loop.run_in_executor(None, thread_example, name)
//!             for name in ('A', 'B', 'C')]
//!     results = await asyncio.gather(*futs)
//!     print(results)
//!     print('TIME:', time.time() - start)   # about 2 s, not 6 s
//!
//! asyncio.run(main())
//! ```
//!
//! Run it with `cargo run --release --example run_in_executor`.

use std::thread;
use std::time::{Duration, Instant};

/// An ordinary blocking function: it holds its thread for two seconds.
fn thread_example(name: &str) -> String {
    let thread = thread::current();
    let on = thread.name().unwrap_or("<unnamed>");
    println!("正在执行name: {name} (on {on})");
    thread::sleep(Duration::from_secs(2));
    format!("返回结果:{name}")
}

#[aiolos::main]
async fn main() {
    let start = Instant::now();

    // run_in_executor(None, thread_example, name): each call gets a thread
    // from the blocking pool, so the workers stay free for async tasks.
    let futs: Vec<_> = ["A", "B", "C"]
        .into_iter()
        .map(|name| aiolos::spawn_blocking(move || thread_example(name)))
        .collect();

    // gather(*futs): await every handle; results come back in order.
    let mut results = Vec::with_capacity(futs.len());
    for fut in futs {
        results.push(fut.await.expect("thread_example does not panic"));
    }

    println!("{results:?}");
    println!(
        "TIME: {:.2} s (three 2 s calls, run concurrently)",
        start.elapsed().as_secs_f64()
    );
}
