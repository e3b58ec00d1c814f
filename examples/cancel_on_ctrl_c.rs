//! Ctrl-C cancels every task: the seed's `KeyboardInterrupt` example, with a
//! real Ctrl-C.
//!
//! **`001 #11`** (`seeds/001_*.txt`, "如何取消協程中的task(future)"): three
//! coroutines wait; Ctrl-C interrupts `run_until_complete`; every task is
//! cancelled (each prints `cancel task` and `True`, what `cancel()`
//! returned), the loop runs once more so the cancellations land, and the
//! program ends cleanly:
//!
//! ```python
//! import asyncio
//!
//! async def get_html(sleep_times):
//!     print("waiting")
//!     await asyncio.sleep(sleep_times)
//!     print("done after {}s".format(sleep_times))
//!
//! if __name__ == "__main__":
//!     task1 = get_html(2)
//!     task2 = get_html(3)
//!     task3 = get_html(3)
//!     tasks = [task1, task2, task3]
//!     loop = asyncio.get_event_loop()
//!     try:
//!         loop.run_until_complete(asyncio.wait(tasks))
//!     except KeyboardInterrupt as e:
//!         all_tasks = asyncio.Task.all_tasks()
//!         for task in all_tasks:
//!             print("cancel task")
//!             print(task.cancel())
//!         loop.stop()
//!         loop.run_forever()
//!     finally:
//!         loop.close()
//! ```
//!
//! Run it with `cargo run --example cancel_on_ctrl_c` and press Ctrl-C
//! within two seconds:
//!
//! ```text
//! waiting
//! waiting
//! waiting
//! ^Ccancel task
//! True
//! cancel task
//! True
//! cancel task
//! True
//! ```
//!
//! Without Ctrl-C the three coroutines finish (`done after 2s`, then
//! `done after 3s` twice) and the program ends the same way.
//!
//! Differences from the Python:
//! - Python turns SIGINT into a `KeyboardInterrupt` raised wherever the
//!   program happens to be. aiolos delivers it as a value:
//!   [`signal`](aiolos::signal::signal) is a stream of SIGINT deliveries,
//!   and `try`/`except KeyboardInterrupt` becomes a race between waiting
//!   for the tasks and the next delivery (`futures_lite::future::or`).
//!   The listener is created before the tasks start, so a Ctrl-C that comes
//!   at any moment after the first `waiting` is caught, never the default
//!   "terminate the process".
//! - asyncio's list also holds the task `run_until_complete` made for
//!   `wait(tasks)` (a fourth `cancel task`); here that wait runs inside
//!   `block_on`, not as a task, so three tasks are cancelled.
//! - The sleeps keep the seed's seconds (not the 100 ms per second of the
//!   other examples), so a person has time to press Ctrl-C.
//! - `cancel()` returns a Rust `bool`; it prints the Python way (`True`).

use std::io;
use std::time::Duration;

use aiolos::signal::{signal, SignalKind};
use aiolos::time::sleep;
use aiolos::{wait, ReturnWhen, Runtime};
use futures_lite::future;

/// Python's spelling of a boolean, as `print(True)` shows it.
fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// The seed's coroutine.
async fn get_html(sleep_times: u64) {
    println!("waiting");
    sleep(Duration::from_secs(sleep_times)).await;
    println!("done after {sleep_times}s");
}

/// The exception `run_until_complete` raised.
#[derive(Debug)]
struct KeyboardInterrupt;

fn main() -> io::Result<()> {
    // loop = asyncio.get_event_loop()
    let rt = Runtime::new()?;
    let handle = rt.handle();
    // Python's own SIGINT handler: from here on Ctrl-C reaches this stream
    // instead of ending the process.
    let mut interrupts = rt.block_on(async { signal(SignalKind::interrupt()) })?;

    let tasks: Vec<_> = [2, 3, 3]
        .into_iter()
        .map(|secs| rt.spawn(get_html(secs)))
        .collect();

    // try: loop.run_until_complete(asyncio.wait(tasks))
    let outcome = rt.block_on(future::or(
        async {
            wait(tasks, ReturnWhen::AllCompleted, None).await;
            Ok(())
        },
        async {
            interrupts.recv().await;
            Err(KeyboardInterrupt)
        },
    ));
    // except KeyboardInterrupt:
    if let Err(KeyboardInterrupt) = outcome {
        // all_tasks = asyncio.Task.all_tasks()
        for task in handle.all_tasks() {
            println!("cancel task");
            println!("{}", py_bool(handle.cancel_task(task.id)));
        }
        // loop.stop(); loop.run_forever(): asyncio needs one more turn of the
        // loop for the cancellations to land; aiolos's workers run them on
        // their own, so this returns at once.
        handle.stop();
        rt.run_forever();
    }
    // finally: loop.close(), which drops whatever is left.
    drop(rt);
    Ok(())
}
