//! The blocking pool (`spawn_blocking`, asyncio's `run_in_executor`): jobs run
//! concurrently up to `max_blocking_threads`, jobs beyond the cap queue and all
//! run (FIFO with one thread), results and panics come back through the `Task`.

mod common;

use aiolos::{Runtime, TaskError};
use common::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;

fn blocking_runtime(max_blocking: usize) -> Runtime {
    Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(max_blocking)
        .thread_name("blk")
        .build()
        .expect("building a runtime failed")
}

#[test]
fn four_blocking_jobs_run_concurrently_and_meet_at_a_barrier() {
    let _wd = watchdog("four_blocking_jobs_meet_at_a_barrier", 120);
    let rt = blocking_runtime(4);
    let barrier = Arc::new(Barrier::new(4));
    let jobs: Vec<_> = (0..4)
        .map(|_| {
            let b = barrier.clone();
            // Each job can only return once all four are running at the same time.
            rt.spawn_blocking(move || b.wait().is_leader())
        })
        .collect();
    let leaders = jobs
        .into_iter()
        .map(|j| join_timeout(j, "blocking job at barrier").expect("blocking job failed"))
        .filter(|&leader| leader)
        .count();
    assert_eq!(leaders, 1);
}

#[test]
fn eight_blocking_jobs_meet_at_a_barrier_with_the_default_cap() {
    let _wd = watchdog("eight_blocking_jobs_default_cap", 120);
    let rt = runtime(1);
    let barrier = Arc::new(Barrier::new(8));
    let jobs: Vec<_> = (0..8)
        .map(|i| {
            let b = barrier.clone();
            rt.spawn_blocking(move || {
                b.wait();
                i
            })
        })
        .collect();
    let got: Vec<usize> = jobs
        .into_iter()
        .map(|j| join_timeout(j, "blocking job at barrier").expect("blocking job failed"))
        .collect();
    assert_eq!(got, (0..8).collect::<Vec<_>>());
}

#[test]
fn jobs_queued_beyond_max_blocking_threads_all_run_in_fifo_order() {
    let _wd = watchdog("queued_blocking_jobs_fifo", 120);
    const N: usize = 100;
    let rt = blocking_runtime(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    // Job 0 holds the only blocking thread until every other job is queued.
    let o = order.clone();
    let mut jobs = vec![rt.spawn_blocking(move || {
        entered_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        o.lock().unwrap().push(0);
        0
    })];
    entered_rx
        .recv_timeout(LONG)
        .expect("first blocking job never started");
    for i in 1..N {
        let o = order.clone();
        jobs.push(rt.spawn_blocking(move || {
            o.lock().unwrap().push(i);
            i
        }));
    }
    release_tx.send(()).unwrap();
    for (i, j) in jobs.into_iter().enumerate() {
        assert_eq!(
            join_timeout(j, "queued blocking job").expect("job failed"),
            i
        );
    }
    assert_eq!(
        *order.lock().unwrap(),
        (0..N).collect::<Vec<_>>(),
        "queued jobs must run in submission order on a single blocking thread"
    );
}

#[test]
fn blocking_pool_never_runs_more_jobs_at_once_than_max_blocking_threads() {
    let _wd = watchdog("blocking_pool_respects_cap", 120);
    const CAP: usize = 2;
    const N: usize = 64;
    let rt = blocking_runtime(CAP);
    let active = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    // The first CAP jobs must overlap (barrier), proving the cap is reachable.
    let barrier = Arc::new(Barrier::new(CAP));
    let jobs: Vec<_> = (0..N)
        .map(|i| {
            let (active, peak, barrier) = (active.clone(), peak.clone(), barrier.clone());
            rt.spawn_blocking(move || {
                let now = active.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                if i < CAP {
                    barrier.wait();
                }
                // Give other would-be threads a chance to overlap with us.
                for _ in 0..20 {
                    thread::yield_now();
                }
                active.fetch_sub(1, SeqCst);
                thread_name()
            })
        })
        .collect();
    let mut names = HashSet::new();
    for j in jobs {
        names.insert(join_timeout(j, "blocking job").expect("blocking job failed"));
    }
    assert_eq!(
        peak.load(SeqCst),
        CAP,
        "peak concurrency must equal the cap"
    );
    assert!(
        names.len() <= CAP,
        "more blocking threads than max_blocking_threads ran jobs: {names:?}"
    );
}

#[test]
fn spawn_blocking_returns_the_closure_result_from_outside_and_inside_tasks() {
    let _wd = watchdog("spawn_blocking_returns_result", 120);
    let rt = runtime(2);
    let outside = rt.spawn_blocking(|| 6 * 7);
    assert_eq!(join_timeout(outside, "blocking job").unwrap(), 42);
    let via_handle = rt.handle().spawn_blocking(|| "handle");
    assert_eq!(join_timeout(via_handle, "blocking job").unwrap(), "handle");
    let inside = rt.spawn(async {
        let a = aiolos::spawn_blocking(|| String::from("free fn"))
            .await
            .unwrap();
        let b = aiolos::task::spawn_blocking(|| 1u8).await.unwrap();
        (a, b)
    });
    assert_eq!(
        join_timeout(inside, "task awaiting blocking jobs").unwrap(),
        ("free fn".to_string(), 1u8)
    );
}

#[test]
fn blocking_jobs_run_on_threads_named_prefix_blocking_i_not_on_workers() {
    let _wd = watchdog("blocking_thread_names", 120);
    let rt = blocking_runtime(2);
    let name = join_timeout(rt.spawn_blocking(thread_name), "blocking job").unwrap();
    let suffix = name
        .strip_prefix("blk-blocking-")
        .unwrap_or_else(|| panic!("blocking thread is named {name:?}, want blk-blocking-{{i}}"));
    assert!(suffix.parse::<usize>().is_ok(), "{name:?}");
}

#[test]
fn panic_in_a_blocking_job_gives_panicked_and_the_pool_keeps_working() {
    let _wd = watchdog("panic_in_blocking_job", 120);
    let rt = blocking_runtime(1);
    let bad = rt.spawn_blocking(|| -> u32 { panic!("blocking boom") });
    let err = join_timeout(bad, "panicking blocking job").expect_err("expected a panic");
    assert!(err.is_panic());
    assert_eq!(panic_message(&*err.into_panic()), "blocking boom");
    // With a single blocking thread, later jobs still run.
    for i in 0..10u32 {
        assert_eq!(
            join_timeout(rt.spawn_blocking(move || i), "later job").unwrap(),
            i
        );
    }
}

#[test]
// The block_on only provides the runtime context; the Task is awaited later.
#[allow(clippy::async_yields_async)]
fn named_blocking_job_reports_its_name() {
    let _wd = watchdog("named_blocking_job", 120);
    let rt = runtime(1);
    let t = rt.block_on(async {
        aiolos::task::Builder::new()
            .name("crunch")
            .spawn_blocking(|| 5u8)
    });
    assert_eq!(t.name(), Some("crunch"));
    assert_eq!(join_timeout(t, "named blocking job").unwrap(), 5);
}

#[test]
fn handle_block_on_inside_a_blocking_job_runs_the_future() {
    let _wd = watchdog("block_on_inside_spawn_blocking", 120);
    let rt = runtime(2);
    let h = rt.handle();
    // Blocking-pool threads are not workers: run_in_executor code may call
    // back into async code with Handle::block_on.
    let job = rt.spawn_blocking(move || {
        h.block_on(async {
            let t = aiolos::spawn(async { 40u32 });
            t.await.unwrap() + 2
        })
    });
    let res = join_timeout(job, "blocking job calling block_on");
    assert!(
        matches!(res, Ok(42)),
        "Handle::block_on on a blocking thread should work, got {:?}",
        res.map_err(|e: TaskError| if e.is_panic() {
            panic_message(&*e.into_panic())
        } else {
            e.to_string()
        })
    );
}
