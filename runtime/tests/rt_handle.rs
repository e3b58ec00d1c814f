//! `Handle`: the current-runtime context (`current` / `try_current`) inside
//! and outside the runtime, spawning and `block_on` from foreign threads, and
//! worker thread naming.

mod common;

use aiolos::{Handle, Runtime};
use common::*;
use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::thread;

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn handle_is_send_sync_and_clone_at_compile_time() {
    assert_send_sync_clone::<Handle>();
}

#[test]
fn try_current_is_none_outside_any_runtime() {
    assert!(Handle::try_current().is_none());
    // Also on a fresh thread, and while a runtime exists elsewhere.
    let rt = runtime(1);
    assert!(thread::spawn(|| Handle::try_current().is_none())
        .join()
        .unwrap());
    assert!(
        Handle::try_current().is_none(),
        "a runtime existing must not make it current"
    );
    drop(rt);
}

#[test]
fn try_current_is_some_inside_a_task_and_refers_to_that_runtime() {
    let _wd = watchdog("try_current_inside_task", 120);
    let rt = runtime_named(2, "ctx");
    let task = rt.spawn(async {
        let h = Handle::try_current().expect("try_current() is None inside a task");
        // A task spawned through it runs on this runtime's workers.
        h.spawn(async { thread_name() }).await.unwrap()
    });
    let name = join_timeout(task, "task using try_current").unwrap();
    assert!(name.starts_with("ctx-worker-"), "ran on {name:?}");
}

#[test]
fn try_current_is_some_inside_spawn_blocking() {
    let _wd = watchdog("try_current_inside_spawn_blocking", 120);
    let rt = runtime_named(1, "bctx");
    let job = rt.spawn_blocking(|| {
        let h = Handle::try_current().expect("try_current() is None inside spawn_blocking");
        // Use it: spawn onto the runtime and wait from this blocking thread.
        let (tx, rx) = std::sync::mpsc::channel();
        h.spawn(async move { tx.send(thread_name()).unwrap() })
            .detach();
        rx.recv_timeout(LONG)
            .expect("task spawned from blocking thread never ran")
    });
    let name = join_timeout(job, "blocking job").unwrap();
    assert!(name.starts_with("bctx-worker-"), "ran on {name:?}");
}

#[test]
fn handle_current_inside_block_on_spawns_onto_that_runtime() {
    let _wd = watchdog("handle_current_inside_block_on", 120);
    let rt = runtime_named(2, "bo");
    let name = rt.block_on(async {
        let h = Handle::current();
        assert!(Handle::try_current().is_some());
        h.spawn(async { thread_name() }).await.unwrap()
    });
    assert!(name.starts_with("bo-worker-"), "ran on {name:?}");
    assert!(
        Handle::try_current().is_none(),
        "the runtime context leaked out of block_on"
    );
}

#[test]
fn handle_current_in_a_task_refers_to_the_runtime_running_it() {
    let _wd = watchdog("handle_current_two_runtimes", 120);
    let a = runtime_named(1, "rta");
    let b = runtime_named(1, "rtb");
    let probe = || async {
        let outer = thread_name();
        let inner = Handle::current()
            .spawn(async { thread_name() })
            .await
            .unwrap();
        (outer, inner)
    };
    let (ao, ai) = join_timeout(a.spawn(probe()), "probe on a").unwrap();
    let (bo, bi) = join_timeout(b.spawn(probe()), "probe on b").unwrap();
    assert!(
        ao.starts_with("rta-worker-") && ai.starts_with("rta-worker-"),
        "{ao} {ai}"
    );
    assert!(
        bo.starts_with("rtb-worker-") && bi.starts_with("rtb-worker-"),
        "{bo} {bi}"
    );
}

#[test]
fn handle_block_on_works_from_four_foreign_threads_at_once() {
    let _wd = watchdog("handle_block_on_from_foreign_threads", 120);
    let rt = runtime(2);
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let h = rt.handle();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                h.block_on(async move {
                    let tasks: Vec<_> = (0..1000u64)
                        .map(|i| aiolos::spawn(async move { t * 1000 + i }))
                        .collect();
                    let mut s = 0;
                    for task in tasks {
                        s += task.await.unwrap();
                    }
                    s
                })
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|j| j.join().unwrap()).sum();
    assert_eq!(total, (0..4000u64).sum::<u64>());
}

#[test]
fn handle_spawn_blocking_from_a_foreign_thread_runs_the_job() {
    let _wd = watchdog("handle_spawn_blocking_from_foreign_thread", 120);
    let rt = runtime(1);
    let h = rt.handle();
    let job = thread::spawn(move || h.spawn_blocking(|| 99u8))
        .join()
        .unwrap();
    assert_eq!(join_timeout(job, "blocking job").unwrap(), 99);
}

#[test]
fn worker_threads_are_named_prefix_worker_i() {
    let _wd = watchdog("worker_thread_names", 120);
    const W: usize = 3;
    let rt = runtime_named(W, "named");
    // W tasks that can only pass the barrier together: one per worker.
    let barrier = Arc::new(Barrier::new(W));
    let tasks: Vec<_> = (0..W)
        .map(|_| {
            let b = barrier.clone();
            rt.spawn(async move {
                b.wait();
                thread_name()
            })
        })
        .collect();
    let names: HashSet<String> = tasks
        .into_iter()
        .map(|t| join_timeout(t, "worker probe").unwrap())
        .collect();
    let mut idx: Vec<usize> = names
        .iter()
        .map(|n| {
            n.strip_prefix("named-worker-")
                .and_then(|i| i.parse().ok())
                .unwrap_or_else(|| panic!("worker thread named {n:?}, want named-worker-{{i}}"))
        })
        .collect();
    idx.sort();
    let from_zero: Vec<usize> = (0..W).collect();
    let from_one: Vec<usize> = (1..=W).collect();
    assert!(
        idx == from_zero || idx == from_one,
        "worker indices are not one per worker: {idx:?}"
    );
}

#[test]
fn default_thread_name_prefix_is_aiolos() {
    let _wd = watchdog("default_thread_name_prefix", 120);
    let rt = runtime(1);
    let name = join_timeout(rt.spawn(async { thread_name() }), "probe").unwrap();
    assert!(name.starts_with("aiolos-worker-"), "worker named {name:?}");
}

#[test]
fn runtime_new_runs_tasks() {
    let _wd = watchdog("runtime_new_runs_tasks", 120);
    let rt = Runtime::new().expect("Runtime::new failed");
    assert_eq!(
        rt.block_on(async { aiolos::spawn(async { 3 }).await.unwrap() }),
        3
    );
}
