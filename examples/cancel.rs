//! Cancelling: every running task when the user presses Ctrl-C, and a whole
//! `gather` group at once.
//!
//! Each part prints a `=== seed #n ===` line, then what the Python prints.
//!
//! **`001 #11`** (`seeds/001_*.txt`, "如何取消協程中的task(future)"): three
//! coroutines wait; Ctrl-C interrupts `run_until_complete`; every task is
//! cancelled (each prints `cancel task` and `True`, what `cancel()`
//! returned), and the loop runs once more so the cancellations land:
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
//! **`001 #9`**, third form (same seed; the first two are in the
//! `gather_and_wait` example): a gathered group can be cancelled as one.
//! The seed stops at the `cancel()`; this port then runs `group1`, which
//! goes on unharmed: two `start get url`, two `end get url`, nothing from
//! `group2`.
//!
//! ```python
//! group1 = asyncio.gather(*group1)
//! group2 = asyncio.gather(*group2)
//! group2.cancel()
//! ```
//!
//! Differences from the Python:
//! - aiolos has no signal handling yet, so the "user" is a job on the
//!   blocking pool that presses Ctrl-C as soon as all three coroutines say
//!   `waiting` (they tell it over a channel): that is the moment the seed
//!   means, and it makes the output the same on every run. `try`/`except
//!   KeyboardInterrupt` becomes a race between waiting for the tasks and
//!   that key press (`futures_lite::future::or`).
//! - `all_tasks()` lists [`TaskInfo`](aiolos::TaskInfo) snapshots, which
//!   cannot cancel anything: we keep the `Task` handles we spawned and
//!   cancel the one whose id each snapshot names. asyncio's list also holds
//!   the task `run_until_complete` made for `wait(tasks)` (a fourth `cancel
//!   task`); here that wait runs inside `block_on`, not as a task, so three
//!   tasks are cancelled.
//! - The sleeps keep the seed's seconds: the tasks are cancelled right after
//!   they start, so the sleeps never run out and cost nothing, and the
//!   seconds of margin keep the output the same on a loaded machine.
//!   `group1`'s sleeps are 200 ms instead of 2 s.
//! - `cancel()` returns a Rust `bool`; it prints the Python way (`True`).
//!
//! Run it with `cargo run --example cancel`.

use std::io;
use std::sync::mpsc;
use std::time::Duration;

use aiolos::time::sleep;
use aiolos::{gather, Runtime, Task};
use futures_lite::future;

/// Python's spelling of a boolean, as `print(True)` shows it.
fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// `001 #11`'s `get_html`; it also tells the "user" (on `started`) that it
/// is waiting, so that Ctrl-C comes at the seed's moment.
async fn get_html(sleep_times: u64, started: mpsc::Sender<()>) {
    println!("waiting");
    // The user may have stopped watching; that is fine.
    let _ = started.send(());
    sleep(Duration::from_secs(sleep_times)).await;
    println!("done after {sleep_times}s");
}

/// `001 #9`'s `get_html`, with the seed's two seconds as 200 ms.
async fn get_url(_url: &str) {
    println!("start get url");
    sleep(Duration::from_millis(200)).await;
    println!("end get url");
}

/// The exception `run_until_complete` raised.
#[derive(Debug)]
struct KeyboardInterrupt;

fn main() -> io::Result<()> {
    let rt = Runtime::new()?;

    println!("=== 001 #11 ===");
    let (started_tx, started_rx) = mpsc::channel();
    let mut tasks: Vec<Task<()>> = [2, 3, 3]
        .into_iter()
        .map(|secs| rt.spawn(get_html(secs, started_tx.clone())))
        .collect();
    drop(started_tx);
    // The user watches the three `waiting` lines appear, then presses Ctrl-C.
    let ctrl_c = rt.spawn_blocking(move || {
        for _ in 0..3 {
            started_rx
                .recv()
                .expect("each coroutine says it is waiting");
        }
        KeyboardInterrupt
    });

    // try: loop.run_until_complete(asyncio.wait(tasks))
    let outcome = rt.block_on(future::or(
        async {
            // Await through `&mut` to keep the handles for cancelling.
            for task in tasks.iter_mut() {
                let _ = task.await;
            }
            Ok(())
        },
        async { Err(ctrl_c.await.expect("the user does not panic")) },
    ));
    // except KeyboardInterrupt:
    if let Err(KeyboardInterrupt) = outcome {
        // all_tasks = asyncio.Task.all_tasks(): snapshots of every live task.
        let all_tasks = rt.handle().all_tasks();
        for info in &all_tasks {
            // A snapshot cannot cancel: find our handle to the same task.
            let Some(task) = tasks.iter().find(|t| t.id() == info.id) else {
                continue;
            };
            println!("cancel task");
            println!("{}", py_bool(task.cancel()));
        }
        // loop.stop(); loop.run_forever(): asyncio needs one more turn of the
        // loop for the cancellations to land; aiolos's workers are running
        // anyway, so this returns at once.
        rt.handle().stop();
        rt.run_forever();
        // Each task ends cancelled (asyncio's CancelledError), in silence.
        for task in tasks {
            let err = rt.block_on(task).expect_err("the task was cancelled");
            assert!(err.is_cancelled());
        }
    }

    println!("=== 001 #9 (c) ===");
    let group1 = gather((0..2).map(|_| get_url("http://projectsedu.com")));
    let group2 = gather((0..2).map(|_| get_url("http://www.imooc.com")));
    // group2.cancel(): drops its unfinished coroutines (and would cancel
    // any unfinished spawned tasks among them).
    group2.cancel();
    rt.block_on(group1);

    // finally: loop.close()
    drop(rt);
    Ok(())
}
