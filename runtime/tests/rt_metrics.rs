//! `Handle::metrics()` against known workloads, and the per-task numbers
//! `all_tasks()` gives (polls, time since spawn and since the last poll,
//! spawn location).

mod common;

use std::sync::mpsc;
use std::time::Duration;

use aiolos::task::{self, TaskState};
use aiolos::{RuntimeMetrics, WorkerMetrics};
use common::*;

/// Asserts that no per-worker counter went down between two snapshots.
fn assert_counters_grew(before: &RuntimeMetrics, after: &RuntimeMetrics) {
    assert_eq!(before.workers.len(), after.workers.len());
    for (i, (b, a)) in before.workers.iter().zip(&after.workers).enumerate() {
        let pairs = |w: &WorkerMetrics| [w.polls, w.steals, w.parks, w.lifo_hits, w.slow_polls];
        for (name, (b, a)) in ["polls", "steals", "parks", "lifo_hits", "slow_polls"]
            .iter()
            .zip(pairs(b).into_iter().zip(pairs(a)))
        {
            assert!(a >= b, "worker {i}: {name} went from {b} to {a}");
        }
    }
    assert!(after.tasks_spawned >= before.tasks_spawned);
}

#[test]
fn spawning_1000_tasks_counts_them_spawned_polled_and_gone() {
    let _wd = watchdog("metrics_1000", 120);
    let rt = runtime(2);
    let handle = rt.handle();
    let before = handle.metrics();
    assert_eq!(before.num_workers(), 2);

    let spawner = rt.spawn(async {
        let tasks: Vec<_> = (0..1000u64)
            .map(|i| aiolos::spawn(async move { i }))
            .collect();
        aiolos::gather(tasks).await.len()
    });
    assert_eq!(join_ok(spawner, "the spawner"), 1000);
    // A running worker publishes its poll count every 244 tasks and when
    // it parks: each of the 1 001 tasks ran at least once, on some worker,
    // which shows once the workers go idle.
    wait_until("the polls to be counted", || {
        handle.metrics().total_polls() >= before.total_polls() + 1001
    });
    let after = handle.metrics();

    // The spawner and its 1 000 children.
    assert!(
        after.tasks_spawned >= before.tasks_spawned + 1001,
        "{before:?}\n{after:?}"
    );
    assert_counters_grew(&before, &after);
    // All finished: none is left alive or queued.
    wait_until("every task to leave the task list", || {
        handle.metrics().tasks_alive == 0
    });
    let idle = handle.metrics();
    assert_eq!(idle.queued_tasks(), 0, "{idle:?}");
    assert_counters_grew(&after, &idle);
}

#[test]
fn counters_never_go_down_and_idle_workers_count_their_parks() {
    let _wd = watchdog("metrics_monotonic", 120);
    let rt = runtime(2);
    let handle = rt.handle();
    // Both workers find nothing to do at start and park.
    wait_until("both workers to park", || {
        handle.metrics().workers.iter().all(|w| w.parks >= 1)
    });
    let mut last = handle.metrics();
    for round in 0..5 {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                rt.spawn(async move {
                    for _ in 0..(i % 4) {
                        aiolos::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            join_ok(t, "a task");
        }
        // (Published every 244 tasks and when a worker parks.)
        wait_until("the round's polls to be counted", || {
            handle.metrics().total_polls() >= last.total_polls() + 200
        });
        let now = handle.metrics();
        assert_counters_grew(&last, &now);
        assert!(
            now.total_polls() >= last.total_polls() + 200,
            "round {round}"
        );
        last = now;
    }
}

#[test]
fn the_workers_count_every_poll_exactly_whichever_queue_it_came_from() {
    // Each task here is polled a known number of times, through every way
    // a worker finds a task: the injector (spawned from outside), its LIFO
    // slot and local queue (spawned and yielding on a worker), stealing (two
    // workers), and the due queue (sleeps). The workers derive their count
    // from their tick plus what came from elsewhere (`worker.rs`), so a
    // path that took a tick without a poll, or a poll without a tick,
    // would show here. Counts are final once the workers have exited.
    let _wd = watchdog("metrics_exact_polls", 120);
    let rt = runtime(2);
    let handle = rt.handle();
    const OUTSIDE: u64 = 20;
    const YIELDS: u64 = 10;
    const SLEEPERS: u64 = 10;
    const CHILDREN: u64 = 50;
    let mut tasks = Vec::new();
    for _ in 0..OUTSIDE {
        tasks.push(rt.spawn(async {
            for _ in 0..YIELDS {
                aiolos::yield_now().await;
            }
        }));
    }
    for i in 0..SLEEPERS {
        tasks.push(rt.spawn(async move {
            aiolos::time::sleep(Duration::from_millis(1 + i)).await;
        }));
    }
    // One poll: it spawns its children and returns without awaiting them.
    let spawner = rt.spawn(async {
        (0..CHILDREN)
            .map(|i| aiolos::spawn(async move { i }))
            .collect::<Vec<_>>()
    });
    for (i, child) in (0..).zip(join_ok(spawner, "the spawner")) {
        assert_eq!(join_ok(child, "a child"), i);
    }
    for t in tasks {
        join_ok(t, "a task");
    }
    drop(rt);
    let m = handle.metrics();
    let expected = OUTSIDE * (YIELDS + 1) + SLEEPERS * 2 + 1 + CHILDREN;
    assert_eq!(m.total_polls(), expected, "{m:?}");
}

#[test]
fn a_task_awaiting_the_child_it_spawned_hits_the_lifo_slot() {
    let _wd = watchdog("metrics_lifo", 120);
    let rt = runtime(1);
    let handle = rt.handle();
    let before = handle.metrics().workers[0].lifo_hits;
    // The child goes to the LIFO slot and runs next on the one worker.
    let parent = rt.spawn(async {
        for i in 0..10 {
            assert_eq!(aiolos::spawn(async move { i }).await.unwrap(), i);
        }
    });
    join_ok(parent, "parent");
    // (Published every 244 tasks and when the worker parks.)
    wait_until("the LIFO-slot hits to be counted", || {
        handle.metrics().workers[0].lifo_hits >= before + 10
    });
}

#[test]
fn queue_depths_show_tasks_waiting_behind_a_blocked_worker() {
    let _wd = watchdog("metrics_queues", 120);
    let rt = runtime(1);
    let handle = rt.handle();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (blocked_tx, blocked_rx) = mpsc::channel::<()>();
    // Holds the only worker; first spawns 5 tasks onto it (LIFO slot + 4
    // in its local queue).
    let blocker = rt.spawn(async move {
        let local: Vec<_> = (0..5).map(|_| aiolos::spawn(async {})).collect();
        blocked_tx.send(()).unwrap();
        let _ = release_rx.recv();
        local
    });
    blocked_rx.recv_timeout(LONG).unwrap();
    // Ten from outside wait in the injector.
    let outside: Vec<_> = (0..10).map(|_| rt.spawn(async {})).collect();
    let m = handle.metrics();
    assert_eq!(m.workers[0].local_queue_depth, 4, "{m:?}");
    assert_eq!(m.injector_depth, 10, "{m:?}");
    assert_eq!(m.queued_tasks(), 14, "{m:?}");
    assert_eq!(m.tasks_alive, 16, "{m:?}");

    release_tx.send(()).unwrap();
    for t in join_ok(blocker, "blocker").into_iter().chain(outside) {
        join_ok(t, "a queued task");
    }
    let m = handle.metrics();
    assert_eq!(m.queued_tasks(), 0, "{m:?}");
}

#[test]
fn a_sleep_registers_a_timer_until_it_is_dropped() {
    let _wd = watchdog("metrics_timer", 120);
    let rt = runtime(2);
    let handle = rt.handle();
    assert_eq!(handle.metrics().timers_pending, 0);
    let (started_tx, started_rx) = mpsc::channel();
    let sleeper = rt.spawn(async move {
        let sleep = aiolos::time::sleep(Duration::from_secs(3600));
        started_tx.send(()).unwrap();
        sleep.await;
    });
    started_rx.recv_timeout(LONG).unwrap();
    wait_until("the sleep's timer to be filed", || {
        handle.metrics().timers_pending == 1
    });
    sleeper.cancel();
    assert!(join_timeout(sleeper, "sleeper").unwrap_err().is_cancelled());
    wait_until("the cancelled timer to be freed", || {
        handle.metrics().timers_pending == 0
    });

    // One filed from outside the workers goes to the reactor's wheel.
    let timer = handle.call_later(Duration::from_secs(3600), || {});
    wait_until("the reactor to file the callback's timer", || {
        handle.metrics().timers_pending == 1
    });
    timer.cancel();
    wait_until("the reactor to free it", || {
        handle.metrics().timers_pending == 0
    });
}

#[test]
fn a_socket_registers_an_io_source_until_it_is_closed() {
    let _wd = watchdog("metrics_io", 120);
    let rt = runtime(2);
    let handle = rt.handle();
    let before = handle.metrics().io_registrations;
    let (listener, addr) = rt.block_on(async {
        let l = aiolos::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        (l, addr)
    });
    assert_eq!(handle.metrics().io_registrations, before + 1);
    let stream = rt.block_on(aiolos::net::TcpStream::connect(addr)).unwrap();
    let (accepted, _) = rt.block_on(listener.accept()).unwrap();
    assert_eq!(handle.metrics().io_registrations, before + 3);
    drop((listener, stream, accepted));
    assert_eq!(handle.metrics().io_registrations, before);
}

#[test]
fn blocking_pool_counts_threads_and_queued_jobs() {
    let _wd = watchdog("metrics_blocking", 120);
    let rt = aiolos::Runtime::builder()
        .worker_threads(1)
        .max_blocking_threads(1)
        .build()
        .unwrap();
    let handle = rt.handle();
    let m = handle.metrics();
    assert_eq!((m.blocking_threads, m.blocking_queue_depth), (0, 0));

    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let first = rt.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        let _ = release_rx.recv();
    });
    started_rx.recv_timeout(LONG).unwrap();
    // The one thread is busy: two more jobs wait.
    let queued: Vec<_> = (0..2).map(|i| rt.spawn_blocking(move || i)).collect();
    let m = handle.metrics();
    assert_eq!(m.blocking_threads, 1, "{m:?}");
    assert_eq!(m.blocking_idle_threads, 0, "{m:?}");
    assert_eq!(m.blocking_queue_depth, 2, "{m:?}");

    release_tx.send(()).unwrap();
    join_ok(first, "first job");
    for t in queued {
        join_ok(t, "a queued job");
    }
    wait_until("the thread to wait for work", || {
        let m = handle.metrics();
        m.blocking_threads == 1 && m.blocking_idle_threads == 1 && m.blocking_queue_depth == 0
    });
}

#[test]
fn all_tasks_gives_polls_ages_and_the_spawn_location() {
    let _wd = watchdog("task_info_numbers", 120);
    let rt = runtime(2);
    let handle = rt.handle();
    let (tx, rx) = aiolos::sync::oneshot::channel::<()>();
    let line = line!() + 1;
    let task = task::Builder::new().name("counted").spawn_on(
        async move {
            for _ in 0..3 {
                aiolos::yield_now().await;
            }
            let _ = rx.await;
        },
        &handle,
    );
    let info = || {
        handle
            .all_tasks()
            .into_iter()
            .find(|t| t.id == task.id())
            .expect("the task is listed")
    };
    wait_until("the task to wait", || info().state == TaskState::Idle);
    // Three yields, then the poll that started waiting.
    let waiting = info();
    assert_eq!(waiting.polls, 4, "{waiting:?}");
    assert_eq!(waiting.spawned_at.file(), file!());
    assert_eq!(waiting.spawned_at.line(), line);

    // Stamps are never later than the truth, so these are lower bounds.
    std::thread::sleep(Duration::from_millis(300));
    let later = info();
    assert_eq!(later.polls, 4);
    assert!(later.since_spawn >= Duration::from_millis(300), "{later:?}");
    let since_poll = later.since_last_poll.expect("it was polled");
    assert!(since_poll >= Duration::from_millis(300), "{later:?}");
    assert!(since_poll <= later.since_spawn, "{later:?}");

    let _ = tx.send(());
    join_ok(task, "counted");
}

#[test]
fn a_task_never_polled_has_no_last_poll() {
    let _wd = watchdog("task_info_unpolled", 120);
    let rt = runtime(1);
    let handle = rt.handle();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (blocked_tx, blocked_rx) = mpsc::channel::<()>();
    let blocker = rt.spawn(async move {
        blocked_tx.send(()).unwrap();
        let _ = release_rx.recv();
    });
    blocked_rx.recv_timeout(LONG).unwrap();
    let queued = rt.spawn(async {});
    let info = handle
        .all_tasks()
        .into_iter()
        .find(|t| t.id == queued.id())
        .unwrap();
    assert_eq!(info.state, TaskState::Scheduled);
    assert_eq!((info.polls, info.since_last_poll), (0, None));
    release_tx.send(()).unwrap();
    join_ok(blocker, "blocker");
    join_ok(queued, "queued");
}
