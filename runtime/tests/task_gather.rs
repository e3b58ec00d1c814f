//! `gather!`, `gather` and `try_gather`: output order, concurrency inside the
//! calling task, polling only woken children, and cancelling the tasks they
//! give up on (and `shield` keeping a task out of that).

mod common;

use aiolos::{gather, shield, try_gather, Task, TaskError};
use common::*;
use futures::channel::oneshot;
use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};

/// Sends whether the task ended cancelled, once it ends.
fn report_cancelled<T: Send + Sync + 'static>(task: &Task<T>) -> mpsc::Receiver<bool> {
    let (tx, rx) = mpsc::channel();
    task.add_done_callback(move |res| {
        let _ = tx.send(matches!(res, Err(TaskError::Cancelled)));
    });
    rx
}

/// A future that counts its polls and finishes when its gate opens.
struct CountedGate {
    polls: Counter,
    gate: GateWait,
}

impl Future for CountedGate {
    type Output = &'static str;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        self.polls.incr();
        Pin::new(&mut self.gate).poll(cx).map(|()| "gated")
    }
}

#[test]
fn gather_gives_outputs_in_input_order_whatever_order_the_tasks_finish_in() {
    let _wd = watchdog("gather_input_order", 120);
    let rt = runtime(2);
    let n = 8;
    let finished = Arc::new(Mutex::new(Vec::new()));
    let (outputs, order) = rt.block_on(async {
        let mut release = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..n {
            let (go_tx, go_rx) = oneshot::channel::<()>();
            let (done_tx, done_rx) = oneshot::channel::<()>();
            let finished = finished.clone();
            tasks.push(aiolos::spawn(async move {
                go_rx.await.unwrap();
                finished.lock().unwrap().push(i);
                done_tx.send(()).unwrap();
                i * 10
            }));
            release.push((go_tx, done_rx));
        }
        // Release the tasks last to first, each after the previous finished.
        let driver = aiolos::spawn(async move {
            for (go, done) in release.into_iter().rev() {
                go.send(()).unwrap();
                done.await.unwrap();
            }
        });
        let outputs = gather(tasks).await;
        driver.await.unwrap();
        (outputs, finished.lock().unwrap().clone())
    });
    assert_eq!(order, (0..n).rev().collect::<Vec<_>>(), "completion order");
    let outputs: Vec<usize> = outputs.into_iter().map(Result::unwrap).collect();
    assert_eq!(outputs, (0..n).map(|i| i * 10).collect::<Vec<_>>());
}

#[test]
fn gather_polls_its_futures_concurrently_inside_the_calling_task() {
    let _wd = watchdog("gather_concurrent", 120);
    let rt = runtime(2);
    // Each future waits for the other: awaiting them one after the other
    // would never finish.
    let (a_tx, a_rx) = oneshot::channel::<u32>();
    let (b_tx, b_rx) = oneshot::channel::<u32>();
    let out = rt.block_on(gather(vec![
        Box::pin(async move {
            a_tx.send(1).unwrap();
            b_rx.await.unwrap()
        }) as Pin<Box<dyn Future<Output = u32> + Send>>,
        Box::pin(async move {
            let a = a_rx.await.unwrap();
            b_tx.send(a + 1).unwrap();
            a
        }),
    ]));
    assert_eq!(out, vec![2, 1]);
}

#[test]
fn gather_macro_gives_the_tuple_of_mixed_outputs() {
    let _wd = watchdog("gather_macro_mixed", 120);
    let rt = runtime(2);
    let (a, b, c, d) = rt.block_on(async {
        let task = aiolos::spawn(async { String::from("from a task") });
        let (tx, rx) = oneshot::channel::<Vec<u8>>();
        aiolos::spawn(async move { tx.send(vec![1, 2, 3]).unwrap() }).detach();
        gather!(async { 7u8 }, task, rx, std::future::ready(Some('x'))).await
    });
    assert_eq!(a, 7);
    assert_eq!(b.unwrap(), "from a task");
    assert_eq!(c.unwrap(), vec![1, 2, 3]);
    assert_eq!(d, Some('x'));
}

#[test]
fn gather_macro_polls_only_the_children_that_were_woken() {
    let _wd = watchdog("gather_macro_woken_only", 120);
    let rt = runtime(2);
    let polls = Counter::new();
    let gate = Gate::new();
    let done_polls = Counter::new();
    let (gated, yielded, ready) = rt.block_on(async {
        let opener = gate.clone();
        let done = done_polls.clone();
        gather!(
            CountedGate {
                polls: polls.clone(),
                gate: gate.wait(),
            },
            async move {
                // Wake ourselves 20 times, then open the gate.
                for _ in 0..20 {
                    aiolos::yield_now().await;
                }
                opener.open();
                "yielded"
            },
            std::future::poll_fn(move |_| {
                done.incr();
                Poll::Ready("ready")
            }),
        )
        .await
    });
    assert_eq!((gated, yielded, ready), ("gated", "yielded", "ready"));
    // Polled first, then once after the gate opened: never for the other
    // child's 20 wake-ups.
    assert_eq!(polls.get(), 2, "the gated child was polled without a wake");
    assert_eq!(done_polls.get(), 1, "a finished child was polled again");
}

#[test]
fn a_self_waking_child_does_not_keep_the_gather_from_yielding_the_worker() {
    let _wd = watchdog("gather_yields", 120);
    let rt = runtime(1);
    let flag = Gate::new();
    let set = flag.clone();
    // On the only worker: the gather spins on a child that keeps waking
    // itself until another task on the same worker has run.
    let task = rt.spawn(async move {
        let setter = aiolos::spawn(async move { set.open() });
        let spin = async {
            while !flag.is_open() {
                aiolos::yield_now().await;
            }
        };
        let ((), res) = gather!(spin, setter).await;
        res.unwrap();
    });
    join_ok(task, "gather with a self-waking child");
}

#[test]
fn an_empty_gather_is_ready_at_once() {
    let rt = runtime(1);
    rt.block_on(async {
        let mut g = gather(Vec::<std::future::Ready<u8>>::new());
        assert!(matches!(poll_once(&mut g).await, Poll::Ready(v) if v.is_empty()));
        let mut t = try_gather(Vec::<std::future::Ready<Result<u8, ()>>>::new());
        assert!(matches!(poll_once(&mut t).await, Poll::Ready(Ok(v)) if v.is_empty()));
    });
}

#[test]
fn cancelling_a_gather_cancels_its_unfinished_tasks() {
    let _wd = watchdog("gather_drop_cancels", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let cancelled = rt.block_on(async {
        let mut tasks = Vec::new();
        let mut cancelled = Vec::new();
        for _ in 0..4 {
            let t = aiolos::spawn(pending_guarded(&drops));
            cancelled.push(report_cancelled(&t));
            tasks.push(t);
        }
        let mut g = gather(tasks);
        assert!(poll_once(&mut g).await.is_pending());
        g.cancel();
        cancelled
    });
    for rx in cancelled {
        assert!(rx.recv_timeout(LONG).unwrap(), "a task was not cancelled");
    }
    wait_until("every dropped task's future dropped", || drops.get() == 4);
}

#[test]
fn dropping_a_gather_macro_cancels_its_tasks_and_drops_its_futures() {
    let _wd = watchdog("gather_macro_drop", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let rx = rt.block_on(async {
        let t = aiolos::spawn(pending_guarded(&drops));
        let rx = report_cancelled(&t);
        let mut g = Box::pin(gather!(t, pending_guarded(&drops)));
        assert!(poll_once(&mut g).await.is_pending());
        drop(g);
        rx
    });
    assert!(rx.recv_timeout(LONG).unwrap(), "the task was not cancelled");
    wait_until("both futures dropped", || drops.get() == 2);
}

#[test]
fn cancelling_the_task_awaiting_a_gather_cancels_the_gathered_tasks() {
    let _wd = watchdog("gather_outer_cancel", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let (started_tx, started_rx) = mpsc::channel();
    let d = drops.clone();
    let outer = rt.spawn(async move {
        let tasks: Vec<_> = (0..3).map(|_| aiolos::spawn(pending_guarded(&d))).collect();
        started_tx.send(()).unwrap();
        gather(tasks).await
    });
    started_rx.recv_timeout(LONG).unwrap();
    assert!(outer.cancel());
    assert!(join_timeout(outer, "outer").unwrap_err().is_cancelled());
    wait_until("the gathered tasks' futures dropped", || drops.get() == 3);
}

#[test]
fn try_gather_stops_at_the_first_error_and_cancels_the_other_tasks() {
    let _wd = watchdog("try_gather_first_err", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let (res, cancelled) = rt.block_on(async {
        let (fail_tx, fail_rx) = oneshot::channel::<()>();
        let failing: Task<Result<u32, String>> = aiolos::spawn(async move {
            fail_rx.await.unwrap();
            Err("task 1 failed".to_string())
        });
        let ok = aiolos::spawn(async { Ok(1) });
        let mut stuck = Vec::new();
        let mut cancelled = Vec::new();
        for _ in 0..3 {
            // The guard exists from here, polled or not.
            let guarded = pending_guarded(&drops);
            let t = aiolos::spawn(async move {
                guarded.await;
                Ok(0)
            });
            cancelled.push(report_cancelled(&t));
            stuck.push(t);
        }
        let all = std::iter::once(ok)
            .chain(std::iter::once(failing))
            .chain(stuck)
            .map(|t| async move { t.await.expect("no task panics") });
        fail_tx.send(()).unwrap();
        (try_gather(all).await, cancelled)
    });
    assert_eq!(res, Err("task 1 failed".to_string()));
    for rx in cancelled {
        assert!(rx.recv_timeout(LONG).unwrap(), "a task was not cancelled");
    }
    wait_until("the other tasks' futures dropped", || drops.get() == 3);
}

#[test]
fn try_gather_over_tasks_stops_at_a_cancelled_one_and_drops_plain_futures() {
    let _wd = watchdog("try_gather_tasks", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let res = rt.block_on(async {
        let doomed = aiolos::spawn(std::future::pending::<u8>());
        doomed.cancel();
        let waiting = aiolos::spawn(pending_guarded(&drops));
        let tasks = vec![
            Box::pin(async move { waiting.await.map(|()| 0u8) })
                as Pin<Box<dyn Future<Output = Result<u8, TaskError>> + Send>>,
            Box::pin(doomed),
        ];
        try_gather(tasks).await
    });
    assert!(res.unwrap_err().is_cancelled());
    // The plain future holding `waiting` was dropped in the cancel scope.
    wait_until("the task inside the dropped future cancelled", || {
        drops.get() == 1
    });
}

#[test]
fn try_gather_gives_every_value_in_input_order_when_all_succeed() {
    let rt = runtime(2);
    let res: Result<Vec<u64>, String> = rt.block_on(async {
        let tasks: Vec<_> = (0..50u64)
            .map(|i| aiolos::spawn(async move { Ok::<u64, String>(i * 2) }))
            .collect();
        try_gather(tasks.into_iter().map(|t| async move { t.await.unwrap() })).await
    });
    assert_eq!(res.unwrap(), (0..50).map(|i| i * 2).collect::<Vec<_>>());
}

#[test]
fn shield_keeps_a_task_running_when_the_gather_gives_up_on_it() {
    let _wd = watchdog("gather_shield", 120);
    let rt = runtime(2);
    let gate = Gate::new();
    let (shielded_rx, plain_rx) = rt.block_on(async {
        let g = gate.clone();
        let shielded = aiolos::spawn(async move {
            g.wait().await;
            5u32
        });
        let shielded_rx = report_cancelled(&shielded);
        let plain = aiolos::spawn(std::future::pending::<u32>());
        let plain_rx = report_cancelled(&plain);
        let failing = async { Err::<u32, TaskError>(TaskError::Cancelled) };
        let res = try_gather(vec![
            Box::pin(shield(shielded))
                as Pin<Box<dyn Future<Output = Result<u32, TaskError>> + Send>>,
            Box::pin(plain),
            Box::pin(failing),
        ])
        .await;
        assert!(res.is_err());
        (shielded_rx, plain_rx)
    });
    assert!(
        plain_rx.recv_timeout(LONG).unwrap(),
        "plain task not cancelled"
    );
    gate.open();
    assert!(
        !shielded_rx.recv_timeout(LONG).unwrap(),
        "the shielded task was cancelled"
    );
}

#[test]
fn gather_of_100_000_trivial_tasks_completes_in_order() {
    let _wd = watchdog("gather_100k", 120);
    let rt = runtime(2);
    let out = rt.block_on(async {
        let tasks: Vec<_> = (0..100_000u64)
            .map(|i| aiolos::spawn(async move { i }))
            .collect();
        gather(tasks).await
    });
    assert_eq!(out.len(), 100_000);
    for (i, r) in out.into_iter().enumerate() {
        assert_eq!(r.unwrap(), i as u64);
    }
}

#[test]
fn gather_futures_are_send_and_sync_over_send_sync_children() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let g = gather(vec![std::future::ready(1u8)]);
    assert_send_sync(&g);
    let t = try_gather(vec![std::future::ready(Ok::<u8, ()>(1))]);
    assert_send_sync(&t);
    let m = gather!(std::future::ready(1u8), std::future::ready("x"));
    assert_send_sync(&m);
}

#[test]
fn a_task_detached_while_a_gather_gives_up_is_not_cancelled() {
    let _wd = watchdog("gather_detach", 120);
    let rt = runtime(2);
    let gate = Gate::new();
    let rx = rt.block_on(async {
        let g = gate.clone();
        let kept = aiolos::spawn(async move { g.wait().await });
        let rx = report_cancelled(&kept);
        /// Detaches its task when dropped.
        struct DetachOnDrop(Option<Task<()>>);
        impl Drop for DetachOnDrop {
            fn drop(&mut self) {
                self.0.take().unwrap().detach();
            }
        }
        let holder = DetachOnDrop(Some(kept));
        let mut g = Box::pin(gather!(
            async move {
                let _holder = holder;
                std::future::pending::<()>().await
            },
            std::future::pending::<()>()
        ));
        assert!(poll_once(&mut g).await.is_pending());
        drop(g);
        rx
    });
    gate.open();
    assert!(
        !rx.recv_timeout(LONG).unwrap(),
        "a detached task was cancelled"
    );
}
