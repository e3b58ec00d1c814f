//! The `Task` handle: cancellation, panics, detaching, done callbacks, names,
//! ids, `is_finished`, and its auto traits.

mod common;

use aiolos::{Task, TaskError, TaskId};
use common::*;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Barrier};
use std::task::{Context, Poll};

// ---------------------------------------------------------------- auto traits

fn assert_send_sync<T: Send + Sync>() {}
fn assert_unpin<T: Unpin>() {}

#[test]
fn task_handle_is_send_sync_and_unpin_at_compile_time() {
    assert_send_sync::<Task<u32>>();
    assert_send_sync::<Task<String>>();
    assert_send_sync::<Task<()>>();
    // The contract: `Task<T>: Send + Sync for T: Send` -- T need not be Sync.
    assert_send_sync::<Task<std::cell::Cell<u32>>>();
    assert_unpin::<Task<u32>>();
    assert_send_sync::<TaskError>();
    fn assert_id<T: Copy + Eq + std::hash::Hash + std::fmt::Debug + std::fmt::Display>() {}
    assert_id::<TaskId>();
}

// --------------------------------------------------------------- cancellation

#[test]
fn cancel_on_a_pending_task_returns_true_gives_cancelled_and_drops_the_future() {
    let _wd = watchdog("cancel_on_a_pending_task", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let (started_tx, started_rx) = mpsc::channel();
    let task = rt.spawn(pending_guarded_signalling(&drops, started_tx));
    started_rx.recv_timeout(LONG).expect("task never polled");
    assert!(!task.is_finished());
    assert_eq!(drops.get(), 0, "future dropped before cancel");
    assert!(
        task.cancel(),
        "cancel() on an unfinished task must return true"
    );
    let res = join_timeout(task, "cancelled task");
    assert!(
        matches!(res, Err(TaskError::Cancelled)),
        "expected Err(Cancelled), got {res:?}"
    );
    assert!(res.unwrap_err().is_cancelled());
    assert_eq!(
        drops.get(),
        1,
        "cancelled future must be dropped exactly once"
    );
}

#[test]
fn cancel_before_first_poll_gives_cancelled_and_drops_the_future() {
    let _wd = watchdog("cancel_before_first_poll", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let task = rt.spawn(pending_guarded(&drops));
    assert!(task.cancel());
    let res = join_timeout(task, "cancelled task");
    assert!(matches!(res, Err(TaskError::Cancelled)), "got {res:?}");
    assert_eq!(drops.get(), 1);
}

/// Parks inside its first poll until the test says go, then returns Pending
/// without arranging a wake-up: only the runtime's cancel path can finish it.
struct CancelledWhilePolled {
    entered: Option<mpsc::Sender<()>>,
    proceed: mpsc::Receiver<()>,
    _guard: DropGuard,
}

impl Future for CancelledWhilePolled {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if let Some(tx) = self.entered.take() {
            tx.send(()).unwrap();
            self.proceed
                .recv_timeout(LONG)
                .expect("test never said proceed");
        }
        Poll::Pending
    }
}

#[test]
fn cancel_while_the_task_is_being_polled_drops_it_after_that_poll() {
    let _wd = watchdog("cancel_while_being_polled", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let (entered_tx, entered_rx) = mpsc::channel();
    let (proceed_tx, proceed_rx) = mpsc::channel();
    let task = rt.spawn(CancelledWhilePolled {
        entered: Some(entered_tx),
        proceed: proceed_rx,
        _guard: DropGuard::new(&drops),
    });
    entered_rx.recv_timeout(LONG).expect("task never polled");
    // The task is inside poll() right now.
    assert!(
        task.cancel(),
        "task is running, not finished: cancel() must be true"
    );
    assert_eq!(drops.get(), 0, "future dropped while it was being polled");
    proceed_tx.send(()).unwrap();
    let res = join_timeout(task, "task cancelled while running");
    assert!(matches!(res, Err(TaskError::Cancelled)), "got {res:?}");
    assert_eq!(drops.get(), 1);
}

#[test]
fn cancel_on_a_finished_task_returns_false_and_keeps_its_output() {
    let _wd = watchdog("cancel_on_a_finished_task", 120);
    let rt = runtime(2);
    let task = rt.spawn(async { 5u32 });
    wait_until("task to finish", || task.is_finished());
    assert!(
        !task.cancel(),
        "cancel() on a finished task must return false"
    );
    assert_eq!(rt.block_on(task).expect("finished task lost its output"), 5);
}

#[test]
fn cancel_after_the_output_was_taken_returns_false() {
    let _wd = watchdog("cancel_after_output_taken", 120);
    let rt = runtime(2);
    let mut task = rt.spawn(async { 9u32 });
    assert_eq!(rt.block_on(&mut task).unwrap(), 9);
    assert!(task.is_finished());
    assert!(!task.cancel());
}

#[test]
fn cancelled_task_can_be_awaited_from_another_task() {
    let _wd = watchdog("cancelled_task_awaited_from_task", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let victim = rt.spawn(pending_guarded(&drops));
    let d = drops.clone();
    let waiter = rt.spawn(async move {
        assert!(victim.cancel());
        let res = victim.await;
        (res.map_err(|e| e.is_cancelled()), d.get())
    });
    let (res, drops_seen) = join_timeout(waiter, "waiter").expect("waiter failed");
    assert_eq!(
        res,
        Err(true),
        "awaiting a cancelled task must give Err(Cancelled)"
    );
    assert_eq!(
        drops_seen, 1,
        "future not yet dropped when Err(Cancelled) was observed"
    );
}

// ---------------------------------------------------------------------- panics

#[test]
fn panic_in_a_task_gives_panicked_with_the_panic_payload() {
    let _wd = watchdog("panic_in_a_task", 120);
    let rt = runtime(2);
    let lit = rt.spawn(async {
        panic!("boom");
    });
    let err = join_timeout(lit, "panicking task").expect_err("panicking task returned Ok");
    assert!(err.is_panic());
    assert!(!err.is_cancelled());
    assert!(matches!(err, TaskError::Panicked(_)));
    let payload = err.into_panic();
    assert_eq!(payload.downcast_ref::<&'static str>(), Some(&"boom"));

    let n = 7;
    let formatted = rt.spawn(async move {
        if n == 7 {
            panic!("boom number {n}");
        }
        n
    });
    let err = join_timeout(formatted, "panicking task").expect_err("panicking task returned Ok");
    assert_eq!(
        err.into_panic()
            .downcast_ref::<String>()
            .map(String::as_str),
        Some("boom number 7")
    );
}

#[test]
fn every_worker_survives_a_panic_and_keeps_running_tasks() {
    let _wd = watchdog("every_worker_survives_a_panic", 180);
    const W: usize = 3;
    let rt = runtime_named(W, "panicky");
    // W tasks that only get past the barrier together, so each is on its own
    // worker: every worker thread sees a task panic.
    let b1 = Arc::new(Barrier::new(W));
    let panickers: Vec<_> = (0..W)
        .map(|i| {
            let b1 = b1.clone();
            rt.spawn(async move {
                b1.wait();
                panic!("boom from task {i}");
            })
        })
        .collect();
    for (i, t) in panickers.into_iter().enumerate() {
        let err = join_timeout(t, "panicking task").expect_err("panicking task returned Ok");
        assert_eq!(
            panic_message(&*err.into_panic()),
            format!("boom from task {i}")
        );
    }
    // Now W tasks that again need W live workers at once.
    let b2 = Arc::new(Barrier::new(W));
    let probes: Vec<_> = (0..W)
        .map(|_| {
            let b2 = b2.clone();
            rt.spawn(async move {
                b2.wait();
                thread_name()
            })
        })
        .collect();
    let names: HashSet<String> = probes
        .into_iter()
        .map(|t| join_timeout(t, "probe after panics").expect("probe task failed"))
        .collect();
    assert_eq!(
        names.len(),
        W,
        "not all workers alive after panics: {names:?}"
    );
    assert!(
        names.iter().all(|n| n.starts_with("panicky-worker-")),
        "{names:?}"
    );
    // And plain work still gets done.
    let sum: usize = rt.block_on(async {
        let tasks: Vec<_> = (0..1000).map(|i| aiolos::spawn(async move { i })).collect();
        let mut s = 0;
        for t in tasks {
            s += t.await.unwrap();
        }
        s
    });
    assert_eq!(sum, 999 * 1000 / 2);
}

// ------------------------------------------------------------------- detaching

#[test]
fn task_whose_handle_was_dropped_still_runs_to_completion() {
    let _wd = watchdog("dropped_handle_still_runs", 120);
    let rt = runtime(2);
    let gate = Gate::new();
    let (tx, rx) = mpsc::channel();
    let g = gate.clone();
    let task = rt.spawn(async move {
        g.wait().await;
        tx.send(42u32).unwrap();
    });
    drop(task);
    gate.open();
    assert_eq!(
        rx.recv_timeout(LONG)
            .expect("detached task never completed"),
        42
    );
}

#[test]
fn detached_task_still_runs_to_completion() {
    let _wd = watchdog("detached_task_still_runs", 120);
    let rt = runtime(2);
    let gate = Gate::new();
    let (tx, rx) = mpsc::channel();
    let g = gate.clone();
    rt.spawn(async move {
        g.wait().await;
        tx.send("done").unwrap();
    })
    .detach();
    gate.open();
    assert_eq!(
        rx.recv_timeout(LONG)
            .expect("detached task never completed"),
        "done"
    );
}

#[test]
fn task_detached_inside_a_task_outlives_its_spawner() {
    let _wd = watchdog("detached_inside_a_task", 120);
    let rt = runtime(2);
    let gate = Gate::new();
    let (tx, rx) = mpsc::channel();
    let g = gate.clone();
    let spawner = rt.spawn(async move {
        aiolos::spawn(async move {
            g.wait().await;
            tx.send(1u8).unwrap();
        })
        .detach();
    });
    join_timeout(spawner, "spawner").expect("spawner failed");
    gate.open();
    assert_eq!(
        rx.recv_timeout(LONG)
            .expect("detached child never completed"),
        1
    );
}

// -------------------------------------------------------------- done callbacks

#[test]
fn done_callback_added_before_completion_runs_once_with_the_result() {
    let _wd = watchdog("done_callback_before_completion", 120);
    let rt = runtime(2);
    let calls = Counter::new();
    let gate = Gate::new();
    let g = gate.clone();
    let mut task = rt.spawn(async move {
        g.wait().await;
        42u32
    });
    let (tx, rx) = mpsc::channel();
    let c = calls.clone();
    task.add_done_callback(move |res: &Result<u32, TaskError>| {
        c.incr();
        tx.send(res.as_ref().ok().copied()).unwrap();
    });
    assert_eq!(calls.get(), 0, "callback ran before the task finished");
    gate.open();
    assert_eq!(rx.recv_timeout(LONG).expect("callback never ran"), Some(42));
    assert_eq!(
        rt.block_on(&mut task).unwrap(),
        42,
        "awaiter must still get the output"
    );
    drop(rt); // joins the workers: no late second call can be pending
    assert_eq!(calls.get(), 1);
}

#[test]
fn done_callback_added_after_completion_runs_once_with_the_result() {
    let _wd = watchdog("done_callback_after_completion", 120);
    let rt = runtime(2);
    let calls = Counter::new();
    let task = rt.spawn(async { String::from("hello") });
    wait_until("task to finish", || task.is_finished());
    let (tx, rx) = mpsc::channel();
    let c = calls.clone();
    task.add_done_callback(move |res: &Result<String, TaskError>| {
        c.incr();
        tx.send(res.as_ref().ok().cloned()).unwrap();
    });
    assert_eq!(
        rx.recv_timeout(LONG).expect("late callback never ran"),
        Some("hello".to_string())
    );
    assert_eq!(rt.block_on(task).unwrap(), "hello");
    drop(rt);
    assert_eq!(calls.get(), 1);
}

#[test]
fn several_done_callbacks_each_run_exactly_once() {
    let _wd = watchdog("several_done_callbacks", 120);
    let rt = runtime(2);
    let gate = Gate::new();
    let g = gate.clone();
    let task = rt.spawn(async move {
        g.wait().await;
        3u8
    });
    let counters: Vec<Counter> = (0..5).map(|_| Counter::new()).collect();
    let (tx, rx) = mpsc::channel();
    for (i, c) in counters.iter().enumerate() {
        let c = c.clone();
        let tx = tx.clone();
        task.add_done_callback(move |res: &Result<u8, TaskError>| {
            c.incr();
            tx.send((i, *res.as_ref().unwrap())).unwrap();
        });
    }
    gate.open();
    let mut got: Vec<_> = (0..5)
        .map(|_| rx.recv_timeout(LONG).expect("a callback never ran"))
        .collect();
    got.sort();
    assert_eq!(got, (0..5).map(|i| (i, 3u8)).collect::<Vec<_>>());
    assert_eq!(rt.block_on(task).unwrap(), 3);
    drop(rt);
    assert!(counters.iter().all(|c| c.get() == 1), "{counters:?}");
}

#[test]
fn done_callback_of_a_cancelled_task_runs_once_and_sees_cancelled() {
    let _wd = watchdog("done_callback_of_cancelled_task", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let calls = Counter::new();
    let (started_tx, started_rx) = mpsc::channel();
    let task = rt.spawn(pending_guarded_signalling(&drops, started_tx));
    started_rx.recv_timeout(LONG).expect("task never polled");
    let (tx, rx) = mpsc::channel();
    let c = calls.clone();
    task.add_done_callback(move |res: &Result<(), TaskError>| {
        c.incr();
        tx.send(matches!(res, Err(TaskError::Cancelled))).unwrap();
    });
    assert!(task.cancel());
    assert!(
        rx.recv_timeout(LONG)
            .expect("callback of cancelled task never ran"),
        "callback of a cancelled task must see Err(Cancelled)"
    );
    assert!(matches!(
        join_timeout(task, "cancelled"),
        Err(TaskError::Cancelled)
    ));
    drop(rt);
    assert_eq!(calls.get(), 1);
    assert_eq!(drops.get(), 1);
}

#[test]
fn done_callback_added_after_cancellation_runs_once_and_sees_cancelled() {
    let _wd = watchdog("done_callback_after_cancellation", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let calls = Counter::new();
    let task = rt.spawn(pending_guarded(&drops));
    assert!(task.cancel());
    wait_until("cancelled task to finish", || task.is_finished());
    let (tx, rx) = mpsc::channel();
    let c = calls.clone();
    task.add_done_callback(move |res: &Result<(), TaskError>| {
        c.incr();
        tx.send(matches!(res, Err(TaskError::Cancelled))).unwrap();
    });
    assert!(rx.recv_timeout(LONG).expect("late callback never ran"));
    drop(rt);
    assert_eq!(calls.get(), 1);
    assert_eq!(drops.get(), 1);
}

#[test]
fn done_callback_of_a_panicked_task_sees_panicked() {
    let _wd = watchdog("done_callback_of_panicked_task", 120);
    let rt = runtime(2);
    let gate = Gate::new();
    let g = gate.clone();
    let task = rt.spawn(async move {
        g.wait().await;
        if g.is_open() {
            panic!("callback sees this");
        }
    });
    let (tx, rx) = mpsc::channel();
    task.add_done_callback(move |res: &Result<(), TaskError>| {
        tx.send(matches!(res, Err(e) if e.is_panic())).unwrap();
    });
    gate.open();
    assert!(rx.recv_timeout(LONG).expect("callback never ran"));
    let err = join_timeout(task, "panicked").expect_err("expected a panic");
    assert_eq!(panic_message(&*err.into_panic()), "callback sees this");
}

// --------------------------------------------------------- names, ids, is_finished

#[test]
fn builder_name_is_reported_by_name() {
    let _wd = watchdog("builder_name", 120);
    let rt = runtime(2);
    let outside = aiolos::task::Builder::new()
        .name("fetch")
        .spawn_on(async { 1u8 }, &rt.handle());
    assert_eq!(outside.name(), Some("fetch"));
    let (inside_name, unnamed_name) = rt.block_on(async {
        let named = aiolos::task::Builder::new()
            .name("fetch")
            .spawn(async { 2u8 });
        let unnamed = aiolos::spawn(async { 3u8 });
        let r = (
            named.name().map(str::to_owned),
            unnamed.name().map(str::to_owned),
        );
        assert_eq!(named.await.unwrap(), 2);
        assert_eq!(unnamed.await.unwrap(), 3);
        r
    });
    assert_eq!(inside_name.as_deref(), Some("fetch"));
    assert_eq!(unnamed_name, None, "a task spawned without a name has none");
    assert_eq!(rt.block_on(outside).unwrap(), 1);
}

#[test]
fn ids_are_unique_across_10k_tasks() {
    let _wd = watchdog("ids_are_unique", 180);
    const N: usize = 10_000;
    let rt = runtime(2);
    // Half spawned from outside, half from inside; every handle kept alive.
    let mut tasks: Vec<Task<()>> = (0..N / 2).map(|_| rt.spawn(async {})).collect();
    let inner = rt.spawn(async {
        (0..N / 2)
            .map(|_| aiolos::spawn(async {}))
            .collect::<Vec<_>>()
    });
    tasks.extend(join_timeout(inner, "inner spawner").expect("inner spawner failed"));
    let ids: HashSet<TaskId> = tasks.iter().map(|t| t.id()).collect();
    assert_eq!(ids.len(), N, "duplicate task ids");
    let shown: HashSet<String> = tasks.iter().map(|t| t.id().to_string()).collect();
    assert_eq!(shown.len(), N, "Display of distinct ids must differ");
    assert!(!format!("{:?}", tasks[0].id()).is_empty());
    for t in tasks {
        rt.block_on(t).unwrap();
    }
}

#[test]
fn is_finished_is_false_while_pending_and_becomes_true() {
    let _wd = watchdog("is_finished", 120);
    let rt = runtime(2);
    let gate = Gate::new();
    let g = gate.clone();
    let task = rt.spawn(async move {
        g.wait().await;
        11u64
    });
    assert!(
        !task.is_finished(),
        "task cannot have finished: its gate is closed"
    );
    gate.open();
    wait_until("is_finished() to become true", || task.is_finished());
    assert_eq!(rt.block_on(task).unwrap(), 11);
}

// ----------------------------------------------------------------- TaskError

#[test]
fn task_error_displays_and_reports_its_kind() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<TaskError>();
    let c = TaskError::Cancelled;
    assert!(c.is_cancelled() && !c.is_panic());
    assert!(!c.to_string().is_empty());
    assert!(!format!("{c:?}").is_empty());
    let msg = catch_panic_message(|| TaskError::Cancelled.into_panic());
    assert!(msg.is_some(), "into_panic() on Cancelled must panic");
}
