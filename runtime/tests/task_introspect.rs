//! `task::current()`, `task::all_tasks()` and `Handle::all_tasks()`: ids,
//! names and states of live tasks; and how promptly `cancel` drops a
//! waiting task's future.

mod common;

use aiolos::task::{self, TaskInfo, TaskState};
use common::*;
use std::sync::mpsc;

/// The entry named `name`, if listed.
fn find<'a>(all: &'a [TaskInfo], name: &str) -> Option<&'a TaskInfo> {
    all.iter().find(|t| t.name.as_deref() == Some(name))
}

#[test]
fn current_inside_a_task_gives_its_id_name_and_running_state() {
    let _wd = watchdog("current_in_task", 120);
    let rt = runtime(2);
    let named = task::Builder::new()
        .name("introspect-me")
        .spawn_on(async { task::current() }, &rt.handle());
    let id = named.id();
    let info = join_ok(named, "named task").expect("current() is Some in a task");
    assert_eq!(info.id, id);
    assert_eq!(info.name.as_deref(), Some("introspect-me"));
    assert_eq!(info.state, TaskState::Running);

    let unnamed = rt.spawn(async { task::current() });
    let id = unnamed.id();
    let info = join_ok(unnamed, "unnamed task").unwrap();
    assert_eq!((info.id, info.name), (id, None));

    let blocking = rt.spawn_blocking(task::current);
    let id = blocking.id();
    assert_eq!(join_ok(blocking, "blocking job").unwrap().id, id);
}

#[test]
fn current_is_none_outside_tasks() {
    assert!(task::current().is_none(), "on a plain thread");
    let rt = runtime(1);
    rt.block_on(async {
        assert!(task::current().is_none(), "in block_on's own future");
    });
    // After a task ran on a thread, nothing is left behind there.
    let t = rt.spawn(async {});
    join_ok(t, "task");
    let on_worker = rt.handle().spawn(async { task::current().map(|i| i.id) });
    let id = on_worker.id();
    assert_eq!(join_ok(on_worker, "task"), Some(id));
}

#[test]
fn all_tasks_lists_named_tasks_with_their_states() {
    let _wd = watchdog("all_tasks_states", 120);
    let rt = runtime(2);
    let handle = rt.handle();

    // An idle task: polled once, waiting for a wake-up that never comes.
    let drops = Counter::new();
    let (started_tx, started_rx) = mpsc::channel();
    let idle = task::Builder::new()
        .name("idle")
        .spawn_on(pending_guarded_signalling(&drops, started_tx), &handle);
    started_rx.recv_timeout(LONG).unwrap();
    wait_until("the idle task to go idle", || {
        find(&handle.all_tasks(), "idle").map(|t| t.state) == Some(TaskState::Idle)
    });

    // A finished task is not listed.
    let done = task::Builder::new()
        .name("done")
        .spawn_on(async {}, &handle);
    join_ok(done, "done");

    // Two tasks that hold both workers inside their polls.
    let mut release = Vec::new();
    let mut running = Vec::new();
    for name in ["running-1", "running-2"] {
        let (in_tx, in_rx) = mpsc::channel();
        let (out_tx, out_rx) = mpsc::channel::<()>();
        running.push(task::Builder::new().name(name).spawn_on(
            async move {
                in_tx.send(()).unwrap();
                out_rx
                    .recv_timeout(LONG)
                    .expect("test never released the worker");
            },
            &handle,
        ));
        in_rx.recv_timeout(LONG).unwrap();
        release.push(out_tx);
    }
    // With every worker busy, a new task waits in a queue.
    let queued = task::Builder::new()
        .name("queued")
        .spawn_on(async { 5 }, &handle);

    let all = handle.all_tasks();
    let state = |name| find(&all, name).map(|t| t.state);
    assert_eq!(state("idle"), Some(TaskState::Idle));
    assert_eq!(state("running-1"), Some(TaskState::Running));
    assert_eq!(state("running-2"), Some(TaskState::Running));
    assert_eq!(state("queued"), Some(TaskState::Scheduled));
    assert_eq!(state("done"), None, "a finished task is still listed");
    assert_eq!(find(&all, "queued").unwrap().id, queued.id());
    assert_eq!(find(&all, "idle").unwrap().id, idle.id());

    for r in release {
        r.send(()).unwrap();
    }
    for t in running {
        join_ok(t, "running");
    }
    assert_eq!(join_ok(queued, "queued"), 5);
    idle.cancel();
    assert!(join_timeout(idle, "idle").unwrap_err().is_cancelled());
    wait_until("the cancelled task to leave the list", || {
        find(&handle.all_tasks(), "idle").is_none()
    });
}

#[test]
fn all_tasks_inside_a_task_lists_the_current_runtime_including_itself() {
    let _wd = watchdog("all_tasks_in_task", 120);
    let rt = runtime(2);
    let other = rt.handle();
    let other_rt = runtime(1);
    let foreign = task::Builder::new()
        .name("other-runtime")
        .spawn_on(std::future::pending::<()>(), &other_rt.handle());
    let sleeper = task::Builder::new()
        .name("sleeper")
        .spawn_on(std::future::pending::<()>(), &other);
    let me = rt.spawn(async {
        let me = task::current().unwrap();
        (me, task::all_tasks())
    });
    let (me, all) = join_ok(me, "lister");
    let mine = all.iter().find(|t| t.id == me.id).expect("itself listed");
    assert_eq!(mine.state, TaskState::Running);
    assert!(find(&all, "sleeper").is_some());
    assert!(
        find(&all, "other-runtime").is_none(),
        "a task of another runtime was listed"
    );
    sleeper.cancel();
    foreign.cancel();
}

#[test]
fn all_tasks_outside_a_runtime_panics_with_a_clear_message() {
    let msg = catch_panic_message(task::all_tasks).expect("all_tasks() did not panic");
    assert!(
        msg.contains("aiolos::task::all_tasks") && msg.contains("outside an aiolos runtime"),
        "unclear message: {msg}"
    );
    // The Handle version works anywhere.
    let rt = runtime(1);
    let t = task::Builder::new()
        .name("seen-from-outside")
        .spawn_on(std::future::pending::<()>(), &rt.handle());
    assert!(find(&rt.handle().all_tasks(), "seen-from-outside").is_some());
    t.cancel();
}

#[test]
fn a_waiting_task_cancelled_has_its_future_dropped_before_later_work_runs() {
    let _wd = watchdog("cancel_prompt", 120);
    // One worker: the cancelled task is queued (FIFO, through the injector)
    // ahead of the marker spawned after `cancel`, so its future must be gone
    // by the time the marker runs: within one scheduling turn.
    let rt = runtime(1);
    let drops = Counter::new();
    let (started_tx, started_rx) = mpsc::channel();
    let waiting = rt.spawn(pending_guarded_signalling(&drops, started_tx));
    started_rx.recv_timeout(LONG).unwrap();
    wait_until("the task to go idle", || {
        rt.handle()
            .all_tasks()
            .iter()
            .any(|t| t.id == waiting.id() && t.state == TaskState::Idle)
    });
    assert!(waiting.cancel());
    let d = drops.clone();
    let marker = rt.spawn(async move { d.get() });
    assert_eq!(join_ok(marker, "marker"), 1, "the future outlived the turn");
    assert!(join_timeout(waiting, "cancelled")
        .unwrap_err()
        .is_cancelled());
    assert_eq!(drops.get(), 1);
}

#[test]
fn task_info_and_state_are_plain_data() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug + PartialEq + 'static>() {}
    assert_traits::<TaskInfo>();
    assert_traits::<TaskState>();
}

#[test]
fn cancel_by_id_cancels_exactly_the_listed_tasks_and_refuses_unknown_or_finished_ones() {
    let _wd = watchdog("cancel_by_id", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let dropped = Counter::new();
        let victims: Vec<_> = (0..5)
            .map(|i| {
                task::Builder::new()
                    .name(format!("victim-{i}"))
                    .spawn(pending_guarded(&dropped))
            })
            .collect();
        let done = aiolos::spawn(async { 7 });
        let done_id = done.id();
        assert_eq!(done.await.unwrap(), 7);
        // A finished task is no longer listed, so nothing is cancelled.
        assert!(!task::cancel(done_id));

        // Cancel what all_tasks() lists, as asyncio's idiom does.
        let listed = task::all_tasks();
        for v in &victims {
            assert!(listed.iter().any(|t| t.id == v.id()));
        }
        for info in &listed {
            assert!(task::cancel(info.id), "{info:?}");
        }
        for v in victims {
            assert!(v.await.unwrap_err().is_cancelled());
        }
        assert_eq!(dropped.get(), 5);
        // Cancelled and gone: a second cancel finds nothing.
        for info in &listed {
            assert!(!task::cancel(info.id));
        }
    });
}

#[test]
fn handle_cancel_task_works_from_a_plain_thread() {
    let _wd = watchdog("handle_cancel_task", 120);
    let rt = runtime(2);
    let t = rt.spawn(std::future::pending::<()>());
    let handle = rt.handle();
    let id = t.id();
    let cancelled = std::thread::spawn(move || handle.cancel_task(id))
        .join()
        .unwrap();
    assert!(cancelled);
    assert!(rt.block_on(t).unwrap_err().is_cancelled());
    assert!(!rt.handle().cancel_task(id));
}
