//! `#[aiolos::main]` and `#[aiolos::test]` run their body on an aiolos
//! runtime, honour `worker_threads`, and keep the function's attributes and
//! return type (so `return` and `?` work).
//!
//! `#[aiolos::main]` also works on a function not named `main`; the tests use
//! that to call an expanded function and check what it returns, which a test
//! whose body was silently dropped could not fake.

use std::collections::HashSet;
use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The name of the thread running the caller.
fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Spawns `n` tasks that each hold their worker until all `n` have started
/// (or 10 s have passed), and returns the threads they ran on and whether
/// they all met. They can only all meet if the runtime has `n` workers.
async fn rendezvous(n: usize) -> (HashSet<String>, bool) {
    let arrived = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let arrived = Arc::clone(&arrived);
            aiolos::spawn(async move {
                arrived.fetch_add(1, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(10);
                while arrived.load(Ordering::SeqCst) < n && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(1));
                }
                (thread_name(), arrived.load(Ordering::SeqCst) == n)
            })
        })
        .collect();
    let mut names = HashSet::new();
    let mut all_met = true;
    for task in tasks {
        let (name, met) = task.await.expect("rendezvous task failed");
        names.insert(name);
        all_met &= met;
    }
    (names, all_met)
}

/// Runs `count` tiny tasks and returns the names of the threads they ran on.
async fn threads_used(count: usize) -> HashSet<String> {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            aiolos::spawn(async {
                aiolos::yield_now().await;
                thread_name()
            })
        })
        .collect();
    let mut names = HashSet::new();
    for task in tasks {
        names.insert(task.await.expect("task failed"));
    }
    names
}

#[aiolos::test]
async fn test_attribute_awaits_a_spawned_task_on_an_aiolos_worker() {
    let task = aiolos::spawn(async { (6 * 7, thread_name()) });
    let (answer, thread) = task.await.expect("task failed");
    assert_eq!(answer, 42);
    assert!(
        thread.starts_with("aiolos-worker-"),
        "spawned task ran on {thread:?}, not an aiolos worker"
    );
}

#[aiolos::test(worker_threads = 2)]
async fn test_attribute_worker_threads_gives_exactly_that_many_workers() {
    let (met_on, all_met) = rendezvous(2).await;
    assert!(
        all_met,
        "two tasks could not run at once with worker_threads = 2"
    );
    assert_eq!(met_on.len(), 2, "{met_on:?}");
    let used = threads_used(64).await;
    assert!(
        used.len() <= 2,
        "64 tasks ran on more than two threads: {used:?}"
    );
    for name in met_on.iter().chain(&used) {
        assert!(name.starts_with("aiolos-worker-"), "task ran on {name:?}");
    }
}

#[aiolos::test]
async fn test_attribute_keeps_the_result_return_type() -> Result<(), String> {
    let doubled = aiolos::spawn(async { 21 * 2 })
        .await
        .map_err(|e| e.to_string())?;
    if doubled != 42 {
        return Err(format!("expected 42, got {doubled}"));
    }
    Ok(())
}

#[aiolos::test]
#[should_panic(expected = "the body ran")]
async fn test_attribute_keeps_should_panic() {
    aiolos::yield_now().await;
    panic!("the body ran");
}

/// An entry point with three workers: returns where a three-way rendezvous
/// met and every thread used by a batch of tasks.
#[aiolos::main(worker_threads = 3)]
async fn three_worker_main() -> (HashSet<String>, bool, HashSet<String>) {
    let (met_on, all_met) = rendezvous(3).await;
    (met_on, all_met, threads_used(96).await)
}

#[test]
fn main_attribute_worker_threads_runs_body_on_that_many_workers() {
    let (met_on, all_met, used) = three_worker_main();
    assert!(
        all_met,
        "three tasks could not run at once with worker_threads = 3"
    );
    assert_eq!(met_on.len(), 3, "{met_on:?}");
    assert!(
        used.len() <= 3,
        "96 tasks ran on more than three threads: {used:?}"
    );
    for name in met_on.iter().chain(&used) {
        assert!(name.starts_with("aiolos-worker-"), "task ran on {name:?}");
    }
}

/// Parses `input` inside the runtime; `?` and an early `return` leave the
/// body with the function's own return type.
#[aiolos::main]
async fn parse_on_runtime(input: &'static str) -> Result<u32, Box<dyn Error>> {
    if input.is_empty() {
        return Ok(0);
    }
    let n: u32 = aiolos::spawn(async move { input.parse::<u32>() }).await??;
    Ok(n + 1)
}

#[test]
fn main_attribute_question_mark_and_return_reach_the_caller() {
    assert_eq!(parse_on_runtime("41").unwrap(), 42);
    assert_eq!(parse_on_runtime("").unwrap(), 0);
    let err = parse_on_runtime("forty-one").unwrap_err();
    assert!(
        err.is::<std::num::ParseIntError>(),
        "unexpected error: {err}"
    );
}

/// `#[aiolos::main]` keeps visibility, doc comments and other attributes.
mod entry {
    /// Returns its body's value.
    #[aiolos::main]
    #[must_use]
    pub(crate) async fn answer() -> u8 {
        aiolos::spawn(async { 42 }).await.expect("task failed")
    }
}

#[test]
fn main_attribute_keeps_visibility_and_returns_body_value() {
    assert_eq!(entry::answer(), 42);
}
