//! Shutdown: dropping the `Runtime` and `shutdown_timeout` drop every task's
//! future before returning, handles kept past shutdown resolve to
//! `Err(Cancelled)`, spawning after shutdown never runs the future, and the
//! thread start/stop hooks run for every worker.

mod common;

use aiolos::{Runtime, TaskError};
use common::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Spawns `polled` pending tasks and waits until each has been polled once,
/// then spawns `fresh` more that may never be polled. Returns the handles.
fn spawn_pending(
    rt: &Runtime,
    drops: &Counter,
    polled: usize,
    fresh: usize,
) -> Vec<aiolos::Task<()>> {
    let (tx, rx) = mpsc::channel();
    let mut tasks: Vec<_> = (0..polled)
        .map(|_| rt.spawn(pending_guarded_signalling(drops, tx.clone())))
        .collect();
    for i in 0..polled {
        rx.recv_timeout(LONG)
            .unwrap_or_else(|_| panic!("only {i} of {polled} pending tasks were ever polled"));
    }
    tasks.extend((0..fresh).map(|_| rt.spawn(pending_guarded(drops))));
    // Also some spawned from inside a task (onto a worker's local queue).
    let d = drops.clone();
    let inner = rt.spawn(async move {
        (0..fresh)
            .map(|_| aiolos::spawn(pending_guarded(&d)))
            .collect::<Vec<_>>()
    });
    tasks.extend(join_timeout(inner, "inner spawner").expect("inner spawner failed"));
    tasks
}

#[test]
fn dropping_the_runtime_drops_every_pending_future_before_drop_returns() {
    let _wd = watchdog("drop_runtime_drops_every_future", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let tasks = spawn_pending(&rt, &drops, 500, 500);
    let spawned = tasks.len();
    assert_eq!(spawned, 1500);
    assert_eq!(
        drops.get(),
        0,
        "a pending future was dropped before shutdown"
    );
    drop(rt);
    assert_eq!(
        drops.get(),
        spawned,
        "futures still alive after Runtime::drop returned"
    );
    // Handles kept across shutdown resolve to Err(Cancelled).
    for t in tasks {
        let res = simple_block_on(t);
        assert!(matches!(res, Err(TaskError::Cancelled)), "got {res:?}");
    }
}

#[test]
fn dropping_the_runtime_drops_detached_pending_futures() {
    let _wd = watchdog("drop_runtime_drops_detached_futures", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let tasks = spawn_pending(&rt, &drops, 200, 200);
    let spawned = tasks.len();
    drop(tasks); // detach them all
    drop(rt);
    assert_eq!(drops.get(), spawned);
}

#[test]
fn shutdown_timeout_drops_every_pending_future_before_returning() {
    let _wd = watchdog("shutdown_timeout_drops_every_future", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let tasks = spawn_pending(&rt, &drops, 500, 500);
    let spawned = tasks.len();
    rt.shutdown_timeout(Duration::from_secs(10));
    assert_eq!(
        drops.get(),
        spawned,
        "futures still alive after shutdown_timeout returned"
    );
    for t in tasks {
        assert!(matches!(simple_block_on(t), Err(TaskError::Cancelled)));
    }
}

#[test]
fn dropping_the_runtime_cancels_tasks_that_keep_yielding() {
    let _wd = watchdog("drop_cancels_yielding_tasks", 120);
    const N: usize = 16;
    let rt = runtime(2);
    let drops = Counter::new();
    let (tx, rx) = mpsc::channel();
    for _ in 0..N {
        let guard = DropGuard::new(&drops);
        let tx = tx.clone();
        rt.spawn(async move {
            let _guard = guard;
            tx.send(()).unwrap();
            loop {
                aiolos::yield_now().await;
            }
        })
        .detach();
    }
    for _ in 0..N {
        rx.recv_timeout(LONG).expect("a busy task never started");
    }
    drop(rt);
    assert_eq!(drops.get(), N);
}

#[test]
fn shutdown_timeout_returns_while_a_blocking_job_is_still_running() {
    let _wd = watchdog("shutdown_timeout_with_stuck_blocking_job", 120);
    let rt = runtime(1);
    let drops = Counter::new();
    let pending = rt.spawn(pending_guarded(&drops));
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let job = rt.spawn_blocking(move || {
        entered_tx.send(()).unwrap();
        let _ = release_rx.recv();
        f.store(true, SeqCst);
    });
    entered_rx
        .recv_timeout(LONG)
        .expect("blocking job never started");
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_millis(100));
    let took = start.elapsed();
    assert!(
        !finished.load(SeqCst),
        "shutdown_timeout waited for a job that could never finish by itself"
    );
    assert!(
        took < Duration::from_secs(30),
        "shutdown_timeout took {took:?}"
    );
    assert_eq!(
        drops.get(),
        1,
        "pending task future not dropped by shutdown_timeout"
    );
    assert!(matches!(
        simple_block_on(pending),
        Err(TaskError::Cancelled)
    ));
    release_tx.send(()).unwrap();
    drop(job);
}

#[test]
fn shutdown_timeout_waits_for_a_running_blocking_job_that_finishes_in_time() {
    let _wd = watchdog("shutdown_timeout_waits_for_blocking_job", 120);
    let rt = runtime(1);
    let (entered_tx, entered_rx) = mpsc::channel();
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let _job = rt.spawn_blocking(move || {
        entered_tx.send(()).unwrap();
        // Busy for a moment (no synchronisation depends on how long).
        let until = Instant::now() + Duration::from_millis(300);
        while Instant::now() < until {
            std::thread::yield_now();
        }
        f.store(true, SeqCst);
    });
    entered_rx
        .recv_timeout(LONG)
        .expect("blocking job never started");
    rt.shutdown_timeout(Duration::from_secs(60));
    assert!(
        finished.load(SeqCst),
        "shutdown_timeout(60s) returned before a running blocking job finished"
    );
}

#[test]
fn spawn_through_a_handle_after_shutdown_resolves_to_cancelled_and_drops_the_future() {
    let _wd = watchdog("spawn_after_shutdown", 120);
    let rt = runtime(2);
    let handle = rt.handle();
    drop(rt);
    let ran = Arc::new(AtomicBool::new(false));
    let drops = Counter::new();
    let guard = DropGuard::new(&drops);
    let r = ran.clone();
    let task = handle.spawn(async move {
        let _guard = guard;
        r.store(true, SeqCst);
        1u32
    });
    // Await with an executor that has nothing to do with aiolos...
    let res = simple_block_on(task);
    assert!(matches!(res, Err(TaskError::Cancelled)), "got {res:?}");
    assert!(!ran.load(SeqCst), "future ran after shutdown");
    assert_eq!(
        drops.get(),
        1,
        "future spawned after shutdown was never dropped"
    );
    // ...and with a fresh runtime's block_on.
    let fresh = runtime(1);
    let task = handle.spawn(async { 2u32 });
    let res = fresh.block_on(task);
    assert!(matches!(res, Err(TaskError::Cancelled)), "got {res:?}");
}

#[test]
fn spawn_blocking_through_a_handle_after_shutdown_resolves_to_cancelled() {
    let _wd = watchdog("spawn_blocking_after_shutdown", 120);
    let rt = runtime(1);
    let handle = rt.handle();
    drop(rt);
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    let res = simple_block_on(handle.spawn_blocking(move || r.store(true, SeqCst)));
    assert!(matches!(res, Err(TaskError::Cancelled)), "got {res:?}");
    assert!(!ran.load(SeqCst), "blocking job ran after shutdown");
}

#[test]
fn drop_returns_when_a_dropped_future_spawns_from_its_drop() {
    let _wd = watchdog("drop_with_spawn_in_drop", 120);
    struct SpawnOnDrop {
        handle: aiolos::Handle,
        drops: Counter,
    }
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let guard = DropGuard::new(&self.drops);
            // Spawning while the runtime shuts down must not deadlock or panic.
            self.handle.spawn(async move {
                let _guard = guard;
            });
        }
    }
    let rt = runtime(2);
    let outer_drops = Counter::new();
    let inner_drops = Counter::new();
    for _ in 0..10 {
        let sod = SpawnOnDrop {
            handle: rt.handle(),
            drops: inner_drops.clone(),
        };
        let guard = DropGuard::new(&outer_drops);
        rt.spawn(async move {
            let _sod = sod;
            let _guard = guard;
            std::future::pending::<()>().await
        })
        .detach();
    }
    drop(rt);
    assert_eq!(outer_drops.get(), 10);
    assert_eq!(
        inner_drops.get(),
        10,
        "futures spawned during shutdown were not dropped"
    );
}

#[test]
fn thread_start_and_stop_hooks_run_for_every_worker_thread() {
    let _wd = watchdog("thread_hooks", 120);
    const W: usize = 3;
    let started = Arc::new(Mutex::new(Vec::<String>::new()));
    let stopped = Arc::new(Mutex::new(Vec::<String>::new()));
    let (s1, s2) = (started.clone(), stopped.clone());
    let rt = Runtime::builder()
        .worker_threads(W)
        .thread_name("hooked")
        .on_thread_start(move || s1.lock().unwrap().push(thread_name()))
        .on_thread_stop(move || s2.lock().unwrap().push(thread_name()))
        .build()
        .expect("building a runtime failed");
    assert_eq!(rt.block_on(rt.spawn(async { 1 })).unwrap(), 1);
    drop(rt);
    let started = started.lock().unwrap().clone();
    let stopped = stopped.lock().unwrap().clone();
    let workers = |v: &[String]| -> HashSet<String> {
        v.iter()
            .filter(|n| n.starts_with("hooked-worker-"))
            .cloned()
            .collect()
    };
    assert!(
        started.len() >= W,
        "start hook ran {} times: {started:?}",
        started.len()
    );
    assert!(
        stopped.len() >= W,
        "stop hook ran {} times: {stopped:?}",
        stopped.len()
    );
    assert_eq!(
        workers(&started).len(),
        W,
        "start hook not run on every worker: {started:?}"
    );
    assert_eq!(
        workers(&stopped).len(),
        W,
        "stop hook not run on every worker: {stopped:?}"
    );
}

#[test]
fn shutdown_runs_done_callbacks_of_pending_tasks_with_cancelled() {
    let _wd = watchdog("shutdown_runs_done_callbacks", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let (tx, rx) = mpsc::channel();
    for _ in 0..10 {
        let task = rt.spawn(pending_guarded(&drops));
        let tx = tx.clone();
        task.add_done_callback(move |res: &Result<(), TaskError>| {
            tx.send(matches!(res, Err(TaskError::Cancelled))).unwrap();
        });
        task.detach();
    }
    drop(tx);
    drop(rt);
    let mut seen = Vec::new();
    while seen.len() < 10 {
        match rx.recv_timeout(LONG) {
            Ok(cancelled) => seen.push(cancelled),
            // Every callback was dropped: the ones that did not run never will.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("done callbacks neither ran nor were dropped")
            }
        }
    }
    assert_eq!(seen.len(), 10, "some done callbacks never ran at shutdown");
    assert!(
        seen.iter().all(|&c| c),
        "a callback saw something other than Cancelled"
    );
}
