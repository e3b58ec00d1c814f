//! Chained coroutines: `print_sum` awaits `compute`, which sleeps, and gets
//! its result back, as a plain function call would.
//!
//! The seed (`seeds/001_*.txt` #12, "如何在协程中插入子协程", from the
//! asyncio documentation's "chain coroutines"):
//!
//! ```python
//! import asyncio
//!
//! async def compute(x, y):
//!     print("Compute %s + %s ..." % (x, y))
//!     await asyncio.sleep(1.0)
//!     return x + y
//!
//! async def print_sum(x, y):
//!     result = await compute(x, y)
//!     print("%s + %s = %s" % (x, y, result))
//!
//! loop = asyncio.get_event_loop()
//! loop.run_until_complete(print_sum(1, 2))
//! loop.close()
//! ```
//!
//! It prints `Compute 1 + 2 ...`, then, after the sleep, `1 + 2 = 3`.
//!
//! As in the seed's sequence diagram, one task drives `print_sum`, and
//! `print_sum` drives `compute` directly: awaiting an `async fn` creates no
//! task of its own, the callee's future lives inside the caller's. asyncio's
//! `run_until_complete` wraps the coroutine in a task itself; here we spawn
//! that task explicitly and `block_on` it. The sleep is 100 ms instead of one
//! second.
//!
//! Run it with `cargo run --example chain`.

use std::io;
use std::time::Duration;

use aiolos::time::sleep;
use aiolos::Runtime;

/// The seed's `asyncio.sleep(1.0)`, shortened.
const ONE_SECOND: Duration = Duration::from_millis(100);

/// Announces the sum, sleeps, and returns it.
async fn compute(x: i32, y: i32) -> i32 {
    println!("Compute {x} + {y} ...");
    sleep(ONE_SECOND).await;
    x + y
}

/// Awaits `compute` as a sub-coroutine and prints what it returned.
async fn print_sum(x: i32, y: i32) {
    let result = compute(x, y).await;
    println!("{x} + {y} = {result}");
}

fn main() -> io::Result<()> {
    // loop = asyncio.get_event_loop()
    let rt = Runtime::new()?;
    // loop.run_until_complete(print_sum(1, 2)): the task, then waiting for it.
    let task = rt.spawn(print_sum(1, 2));
    rt.block_on(task).expect("print_sum does not panic");
    // loop.close(): dropping the runtime stops its threads.
    drop(rt);
    Ok(())
}
