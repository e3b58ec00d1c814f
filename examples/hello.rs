//! Hello, aiolos: a few named tasks run at once, and we look at where they ran.
//!
//! Three tasks sleep with `aiolos::time::sleep` (asyncio's `await
//! asyncio.sleep(d)`), one task hands a blocking `std::thread::sleep` to the
//! blocking pool (`run_in_executor`), and one task just yields. `main`
//! gathers them by awaiting their `Task` handles and prints which thread did
//! what and how long it took: the total is about the longest sleep, not
//! their sum, because the sleeps overlapped.
//!
//! Run it with `cargo run --release --example hello`.

use std::collections::BTreeSet;
use std::future::Future;
use std::thread;
use std::time::{Duration, Instant};

use aiolos::task::{self, Task};

/// How long the blocking job holds its pool thread.
const BLOCKING_MS: u64 = 150;

/// The name of the thread we are running on, e.g. `aiolos-worker-0`.
fn current_thread() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Sleeps `ms` milliseconds without holding up a worker, like
/// `await asyncio.sleep(ms / 1000)`.
async fn nap(ms: u64) -> String {
    let started_on = current_thread();
    aiolos::time::sleep(Duration::from_millis(ms)).await;
    // Any worker may pick the task up again once the sleep is over.
    let resumed_on = current_thread();
    format!("{started_on} -> slept {ms} ms -> {resumed_on}")
}

/// Blocks a thread for `ms` milliseconds, but a thread of the blocking pool,
/// not a worker: `await loop.run_in_executor(None, time.sleep, ms / 1000)`.
async fn blocking_nap(ms: u64) -> String {
    let slept_on = aiolos::spawn_blocking(move || {
        thread::sleep(Duration::from_millis(ms));
        current_thread()
    })
    .await
    .expect("a sleep does not panic");
    format!("blocked {ms} ms on {slept_on}")
}

/// Gives its worker back `n` times, like `await asyncio.sleep(0)` in a loop.
async fn spin(n: usize) -> String {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        seen.insert(current_thread());
        aiolos::yield_now().await;
    }
    let threads: Vec<_> = seen.into_iter().collect();
    format!("yielded {n} times on {}", threads.join(", "))
}

/// Spawns `fut` as a task called `name` that also reports how long it took
/// (asyncio's `create_task(coro, name=name)`).
fn spawn_named<F>(name: &'static str, fut: F) -> Task<(String, Duration)>
where
    F: Future<Output = String> + Send + 'static,
{
    task::Builder::new().name(name).spawn(async move {
        let start = Instant::now();
        let what = fut.await;
        (what, start.elapsed())
    })
}

#[aiolos::main]
async fn main() {
    let start = Instant::now();
    println!("main() is polled on {}", current_thread());

    // Start everything first; nothing waits for anything yet.
    let sleeps = [("fetch", 300), ("parse", 200), ("store", 100)];
    let mut tasks: Vec<_> = sleeps
        .iter()
        .map(|&(name, ms)| spawn_named(name, nap(ms)))
        .collect();
    tasks.push(spawn_named("block", blocking_nap(BLOCKING_MS)));
    tasks.push(spawn_named("spin", spin(100)));

    // Gather: await each handle in turn (asyncio.gather(*tasks)).
    for task in tasks {
        let name = task.name().unwrap_or("?").to_owned();
        let (what, took) = task.await.expect("no task panics or is cancelled");
        println!("{name:<6} took {took:>9.1?}: {what}");
    }

    let slept: u64 = sleeps.iter().map(|&(_, ms)| ms).sum::<u64>() + BLOCKING_MS;
    println!(
        "total  took {:>9.1?} for {slept} ms of sleeping: the sleeps overlapped",
        start.elapsed()
    );
}
