//! `call_soon_threadsafe`, `run_coroutine_threadsafe` and `run_in_executor`
//! together: the event loop runs forever in a thread of its own, and the
//! main thread, which is not part of it, hands it a function, a coroutine,
//! and a coroutine that gathers another coroutine with a blocking function
//! on the executor.
//!
//! The seeds: `seeds/001_*.txt` #17 is asyncio's source of
//! `call_soon_threadsafe` ("Like call_soon(), but thread-safe": it queues the
//! callback, then wakes the loop's thread with `_write_to_self()`);
//! `seeds/002_*.txt` P5 ("异步与多线程的结合", "异步函数的动态添加")
//! describes in prose running the loop in a child thread, adding functions
//! with `loop.call_soon_threadsafe()`, binding coroutines to it with
//! `asyncio.run_coroutine_threadsafe()` without blocking the main thread,
//! and combining `run_coroutine_threadsafe()` and `run_in_executor()` with
//! `gather()`. Written out in Python:
//!
//! ```python
//! import asyncio
//! import threading
//! import time
//!
//! def start_loop(loop):
//!     asyncio.set_event_loop(loop)
//!     loop.run_forever()
//!
//! def callback(name):
//!     print('callback', name)
//!
//! def thread_example(name):
//!     print('正在执行name:', name)
//!     time.sleep(2)
//!     return '返回结果:' + name
//!
//! async def func(name):
//!     print('正在执行name:', name)
//!     await asyncio.sleep(2)
//!     return '返回结果:' + name
//!
//! async def gathered():
//!     loop = asyncio.get_running_loop()
//!     return await asyncio.gather(func('C'), loop.run_in_executor(None, thread_example, 'D'))
//!
//! new_loop = asyncio.new_event_loop()
//! t = threading.Thread(target=start_loop, args=(new_loop,))
//! t.start()
//! start = time.time()
//!
//! # A plain function, run on the loop's thread.
//! new_loop.call_soon_threadsafe(callback, 'A')
//! # A coroutine, bound to the loop; future.result() blocks this thread only.
//! future = asyncio.run_coroutine_threadsafe(func('B'), new_loop)
//! print(future.result())
//! # A coroutine and a blocking function at once, gathered on the loop.
//! print(asyncio.run_coroutine_threadsafe(gathered(), new_loop).result())
//! print('TIME:', time.time() - start)          # about 4 s: B, then C and D together
//!
//! new_loop.call_soon_threadsafe(new_loop.stop)
//! t.join()
//! ```
//!
//! It prints `callback A`, `正在执行name: B`, `返回结果:B`, `正在执行name: C`
//! and `正在执行name: D` (these two in any order: D runs on a thread of the
//! executor), `['返回结果:C', '返回结果:D']` and the time.
//!
//! In aiolos the runtime's workers already are threads: the "loop thread"
//! only sits in `run_forever` until `stop()`, and the callback and the tasks
//! run on the workers. A `Handle` is `Send + Sync + Clone`, so every method
//! on it is thread-safe: `call_soon` is `call_soon_threadsafe`, `spawn` is
//! `run_coroutine_threadsafe`, and `Handle::block_on(task)` is
//! `future.result()`; `spawn_blocking` is `run_in_executor(None, ...)`. As
//! the workers run in parallel, `callback A` and `正在执行name: B` may come
//! in either order too. Each sleep is 200 ms instead of 2 s; the list prints
//! the Python way.
//!
//! Run it with `cargo run --release --example threadsafe`.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use aiolos::Runtime;

/// The seed's two-second sleeps, shortened.
const TWO_SECONDS: Duration = Duration::from_millis(200);

/// A plain function for the loop to call.
fn callback(name: &str) {
    println!("callback {name}");
}

/// A blocking function: it holds its thread for "two seconds".
fn thread_example(name: &str) -> String {
    println!("正在执行name: {name}");
    thread::sleep(TWO_SECONDS);
    format!("返回结果:{name}")
}

/// A coroutine: it sleeps without holding its thread.
async fn func(name: &str) -> String {
    println!("正在执行name: {name}");
    aiolos::time::sleep(TWO_SECONDS).await;
    format!("返回结果:{name}")
}

/// `func('C')` and `thread_example('D')` on the blocking pool, gathered.
async fn gathered() -> Vec<String> {
    let (c, d) = aiolos::gather!(func("C"), aiolos::spawn_blocking(|| thread_example("D"))).await;
    vec![c, d.expect("thread_example does not panic")]
}

/// A list of strings as Python prints it: `['a', 'b']`.
fn py_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn main() -> io::Result<()> {
    // new_loop = asyncio.new_event_loop(), run forever by a thread of its
    // own (start_loop); the thread drops it, i.e. closes it, at the end.
    let rt = Runtime::new()?;
    let new_loop = rt.handle();
    let t = thread::Builder::new()
        .name("loop".into())
        .spawn(move || rt.run_forever())?;
    let start = Instant::now();

    // call_soon_threadsafe(callback, 'A'): queued; this thread moves on.
    new_loop.call_soon(|| callback("A"));

    // run_coroutine_threadsafe(func('B'), new_loop), then future.result():
    // only this thread waits; the runtime's workers keep running.
    let future = new_loop.spawn(func("B"));
    println!(
        "{}",
        new_loop.block_on(future).expect("func does not panic")
    );

    // run_coroutine_threadsafe(gathered(), new_loop).result()
    let future = new_loop.spawn(gathered());
    let results = new_loop.block_on(future).expect("gathered does not panic");
    println!("{}", py_list(&results));
    println!("TIME: {}", start.elapsed().as_secs_f64());

    // call_soon_threadsafe(new_loop.stop): run_forever returns.
    let stopper = new_loop.clone();
    new_loop.call_soon(move || stopper.stop());
    t.join().expect("the loop thread does not panic");
    Ok(())
}
