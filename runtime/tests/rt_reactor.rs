//! The reactor thread: each runtime runs exactly one thread named
//! "{prefix}-reactor" that runs the thread start/stop hooks, fires timers
//! even while every worker is busy, and is gone (with the worker and
//! blocking threads) once the runtime has been dropped.
//!
//! Linux only for the thread listings: threads are found by name in
//! `/proc/self/task/*/comm`. Every test uses its own short prefix (comm is
//! cut at 15 bytes) because the tests of this file run in one process.

mod common;

use aiolos::time::{sleep, Instant};
use common::*;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

/// A runtime whose start/stop hooks record the name of the thread they run on.
struct Hooked {
    rt: aiolos::Runtime,
    started: Arc<Mutex<Vec<String>>>,
    stopped: Arc<Mutex<Vec<String>>>,
}

fn hooked_runtime(workers: usize, prefix: &str) -> Hooked {
    let started = Arc::new(Mutex::new(Vec::new()));
    let stopped = Arc::new(Mutex::new(Vec::new()));
    let (s1, s2) = (started.clone(), stopped.clone());
    let rt = aiolos::Runtime::builder()
        .worker_threads(workers)
        .thread_name(prefix)
        .on_thread_start(move || s1.lock().unwrap().push(thread_name()))
        .on_thread_stop(move || s2.lock().unwrap().push(thread_name()))
        .build()
        .expect("building a runtime failed");
    Hooked {
        rt,
        started,
        stopped,
    }
}

/// Threads whose name starts with `prefix`, allowing up to 2 s for threads
/// that were already joined to leave `/proc`: `pthread_join` returns when
/// the kernel clears the thread id, a moment before the exiting thread is
/// unlisted from `/proc/self/task`.
fn lingering_threads(prefix: &str) -> Vec<String> {
    let start = std::time::Instant::now();
    loop {
        let left = thread_names_with_prefix(prefix);
        if left.is_empty() || start.elapsed() > Duration::from_secs(2) {
            if !left.is_empty() || start.elapsed() > Duration::from_millis(50) {
                eprintln!(
                    "threads {prefix}* after drop: {left:?} (after {:?})",
                    start.elapsed()
                );
            }
            return left;
        }
        std::thread::yield_now();
    }
}

/// Waits until a thread named `name` is listed. A new thread names itself
/// (`pthread_setname_np` runs on the thread), so right after `build()`
/// returns its comm may still be its parent's.
fn wait_for_thread(name: &str) {
    wait_until(&format!("a thread named {name:?}"), || {
        process_threads().iter().any(|(_, n)| n == name)
    });
}

#[test]
fn a_reactor_thread_named_prefix_reactor_runs_while_the_runtime_lives() {
    let _wd = watchdog("reactor_thread_named", 120);
    let rt = runtime_named(2, "rxa");
    // Make the reactor do some work first.
    rt.block_on(async { sleep(Duration::from_millis(5)).await });
    for name in ["rxa-reactor", "rxa-worker-0", "rxa-worker-1"] {
        wait_for_thread(name);
    }
    let names = thread_names_with_prefix("rxa-");
    assert_eq!(
        names.iter().filter(|n| *n == "rxa-reactor").count(),
        1,
        "expected exactly one rxa-reactor thread, threads are {names:?}"
    );
    assert!(names.contains(&"rxa-worker-0".to_string()), "{names:?}");
    assert!(names.contains(&"rxa-worker-1".to_string()), "{names:?}");
    drop(rt);
}

#[test]
fn no_reactor_worker_or_blocking_thread_survives_the_runtime() {
    let _wd = watchdog("no_thread_survives", 120);
    let Hooked {
        rt,
        started,
        stopped,
    } = hooked_runtime(2, "rxb");
    // A timer, so the reactor has fired something.
    rt.block_on(async { sleep(Duration::from_millis(5)).await });
    // Three blocking threads at once (each job waits for the other two);
    // they stay idle for `blocking_keep_alive` (10 s) afterwards.
    let barrier = Arc::new(Barrier::new(3));
    let jobs: Vec<_> = (0..3)
        .map(|_| {
            let b = barrier.clone();
            rt.spawn_blocking(move || {
                b.wait();
            })
        })
        .collect();
    for j in jobs {
        join_ok(j, "blocking job");
    }
    for name in ["rxb-reactor", "rxb-worker-0", "rxb-worker-1"] {
        wait_for_thread(name);
    }
    let names = thread_names_with_prefix("rxb-");
    assert!(
        names.contains(&"rxb-reactor".to_string()),
        "no reactor thread in {names:?}"
    );
    assert!(
        names
            .iter()
            .filter(|n| n.starts_with("rxb-blocking"))
            .count()
            >= 3,
        "expected at least 3 idle blocking threads, threads are {names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| n.starts_with("rxb-worker")).count(),
        2,
        "{names:?}"
    );

    let start = std::time::Instant::now();
    drop(rt);
    let took = start.elapsed();

    // Every thread that ran the start hook ran the stop hook before drop returned.
    let mut st = started.lock().unwrap().clone();
    let mut sp = stopped.lock().unwrap().clone();
    st.sort();
    sp.sort();
    assert_eq!(
        sp, st,
        "threads that started but had not finished when Runtime::drop returned"
    );
    assert!(
        sp.contains(&"rxb-reactor".to_string()),
        "the reactor did not run the stop hook before drop returned: {sp:?}"
    );
    let left = lingering_threads("rxb-");
    assert!(
        left.is_empty(),
        "threads alive after the runtime was dropped: {left:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "dropping an idle runtime took {took:?} (waiting for blocking keep-alive?)"
    );
}

#[test]
fn idle_blocking_threads_are_joined_when_the_runtime_is_dropped() {
    let _wd = watchdog("blocking_threads_joined", 120);
    let rt = runtime_named(1, "rxc");
    let barrier = Arc::new(Barrier::new(2));
    let jobs: Vec<_> = (0..2)
        .map(|_| {
            let b = barrier.clone();
            rt.spawn_blocking(move || {
                b.wait();
            })
        })
        .collect();
    for j in jobs {
        join_ok(j, "blocking job");
    }
    let blocking = thread_names_with_prefix("rxc-blocking");
    assert!(
        blocking.len() >= 2,
        "expected 2 idle blocking threads: {blocking:?}"
    );
    let start = std::time::Instant::now();
    drop(rt);
    let took = start.elapsed();
    let left = lingering_threads("rxc-");
    assert!(
        left.is_empty(),
        "threads alive after the runtime was dropped: {left:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "dropping the runtime waited {took:?} for idle blocking threads"
    );
}

#[test]
fn the_reactor_thread_runs_the_thread_start_and_stop_hooks() {
    let _wd = watchdog("reactor_runs_hooks", 120);
    let Hooked {
        rt,
        started,
        stopped,
    } = hooked_runtime(1, "rxd");
    wait_until("the reactor's start hook", || {
        started.lock().unwrap().iter().any(|n| n == "rxd-reactor")
    });
    assert!(
        stopped.lock().unwrap().is_empty(),
        "a stop hook ran on a live runtime"
    );
    drop(rt);
    let sp = stopped.lock().unwrap().clone();
    assert!(
        sp.iter().any(|n| n == "rxd-reactor"),
        "the reactor's stop hook had not run when drop returned: {sp:?}"
    );
    assert_eq!(
        started
            .lock()
            .unwrap()
            .iter()
            .filter(|n| *n == "rxd-reactor")
            .count(),
        1,
        "the start hook ran more than once on the reactor"
    );
}

#[test]
fn each_runtime_has_its_own_reactor_thread() {
    let _wd = watchdog("reactor_per_runtime", 120);
    let a = runtime_named(1, "rxe1");
    let b = runtime_named(1, "rxe2");
    // Both show up (each names itself once running).
    wait_for_thread("rxe1-reactor");
    wait_for_thread("rxe2-reactor");
    let names = thread_names_with_prefix("rxe");
    assert_eq!(
        names.iter().filter(|n| n.ends_with("-reactor")).count(),
        2,
        "{names:?}"
    );
    drop(a);
    let left = lingering_threads("rxe1-");
    assert!(left.is_empty(), "{left:?}");
    // The other runtime's timers still work.
    let t = b.spawn(async {
        let start = Instant::now();
        sleep(Duration::from_millis(10)).await;
        start.elapsed()
    });
    assert!(join_ok(t, "sleep on the surviving runtime") >= Duration::from_millis(10));
    assert!(thread_names_with_prefix("rxe2-").contains(&"rxe2-reactor".to_string()));
    drop(b);
    assert!(lingering_threads("rxe2-").is_empty());
}

#[test]
fn timers_fire_while_every_worker_is_busy() {
    let _wd = watchdog("timers_fire_with_busy_workers", 120);
    let rt = runtime(1);
    let release = Arc::new(AtomicBool::new(false));
    let spinning = Arc::new(AtomicBool::new(false));
    let (r, s) = (release.clone(), spinning.clone());
    // Occupies the only worker until released (bounded by LONG).
    let busy = rt.spawn(async move {
        s.store(true, SeqCst);
        let start = std::time::Instant::now();
        while !r.load(SeqCst) && start.elapsed() < LONG {
            std::hint::spin_loop();
        }
        r.load(SeqCst)
    });
    wait_until("the busy task to start", || spinning.load(SeqCst));
    // Releases the busy task even if the assertions below fail.
    struct Release(Arc<AtomicBool>);
    impl Drop for Release {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }
    let releaser = Release(release);
    // No worker is free: only the reactor can fire this timer and wake us.
    let start = Instant::now();
    rt.block_on(async { sleep(Duration::from_millis(20)).await });
    let took = start.elapsed();
    drop(releaser);
    assert!(
        join_ok(busy, "busy task"),
        "the busy task was never released"
    );
    assert!(took >= Duration::from_millis(20));
    assert!(
        took < Duration::from_secs(30),
        "sleep took {took:?} with the worker busy"
    );
}
