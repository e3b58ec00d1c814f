//! `call_soon_threadsafe` and `run_coroutine_threadsafe` in aiolos: plain
//! `std::thread`s hand work to a runtime they do not run on.
//!
//! The seeds (`seeds/001_*.txt` on `call_soon_threadsafe`, `seeds/002_*.txt`,
//! "异步与多线程的结合") describe this in prose: run the event loop in a
//! child thread, add functions to it with `loop.call_soon_threadsafe()`, bind
//! coroutines to it with `asyncio.run_coroutine_threadsafe()` and read their
//! results without blocking the loop. Written out in Python:
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
//! def callback(x):
//!     print('callback', x, 'on', threading.current_thread().name)
//!
//! async def do_some_work(x):
//!     print('Waiting', x)
//!     await asyncio.sleep(x)
//!     return 'Done after {}s'.format(x)
//!
//! new_loop = asyncio.new_event_loop()
//! threading.Thread(target=start_loop, args=(new_loop,), daemon=True).start()
//!
//! def client(x):
//!     new_loop.call_soon_threadsafe(callback, x)                       # fire and forget
//!     future = asyncio.run_coroutine_threadsafe(do_some_work(x), new_loop)
//!     print(future.result())                                           # wait for it here
//!
//! start = time.time()
//! clients = [threading.Thread(target=client, args=(x,)) for x in (1, 2, 3)]
//! for t in clients: t.start()
//! for t in clients: t.join()
//! print('TIME:', time.time() - start)                                  # about 3 s, not 6 s
//! ```
//!
//! In aiolos the runtime's workers are already threads, so there is no
//! `start_loop` thread to write: build a `Runtime` and give clones of its
//! `Handle` (which is `Send + Sync + Clone`) to the threads.
//!
//! Run it with `cargo run --release --example threadsafe`.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How many client threads submit work.
const CLIENTS: u64 = 3;

/// The name of the thread we are running on.
fn current_thread() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// The coroutine the clients submit: "sleeps" `x` tenths of a second (the
/// Python sleeps `x` seconds) on the blocking pool, as aiolos has no async
/// timers yet, and says where it started.
async fn do_some_work(x: u64) -> String {
    let polled_on = current_thread();
    println!("Waiting {x} (polled on {polled_on})");
    let nap = Duration::from_millis(100 * x);
    aiolos::spawn_blocking(move || thread::sleep(nap))
        .await
        .expect("a sleep does not panic");
    format!("Done after {nap:?} (started on {polled_on})")
}

fn main() -> std::io::Result<()> {
    let rt = aiolos::Runtime::new()?;
    let start = Instant::now();

    // Callbacks tell the main thread they ran over a std channel.
    let (done_tx, done_rx) = mpsc::channel();

    let clients: Vec<_> = (1..=CLIENTS)
        .map(|x| {
            let handle = rt.handle();
            let done_tx = done_tx.clone();
            thread::Builder::new()
                .name(format!("client-{x}"))
                .spawn(move || {
                    // call_soon_threadsafe(callback, x): schedule it and move
                    // on. A detached task still runs; nobody awaits it.
                    handle
                        .spawn(async move {
                            println!("callback {x} on {}", current_thread());
                            done_tx.send(()).expect("main is listening");
                        })
                        .detach();

                    // run_coroutine_threadsafe(do_some_work(x), loop) returns a
                    // future; future.result() blocks this thread (not the
                    // runtime) until the task is done: handle.block_on(task).
                    let task = handle.spawn(do_some_work(x));
                    let result = handle.block_on(task).expect("do_some_work does not panic");
                    println!("[{}] {result}", current_thread());
                })
                .expect("spawning a thread works")
        })
        .collect();

    let n = clients.len();
    for client in clients {
        client.join().expect("a client thread panicked");
    }
    // Wait for every callback too: nobody awaits a detached task.
    assert_eq!(done_rx.iter().take(n).count(), n);
    println!(
        "TIME: {:.2} s (0.1 + 0.2 + 0.3 s of work, run concurrently)",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
