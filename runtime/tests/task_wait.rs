//! `wait` with each `ReturnWhen` and with a timeout, and `as_completed`:
//! which tasks come back done, that pending ones keep running, the order of
//! results, and that neither ever cancels a task.

mod common;

use aiolos::{as_completed, gather, wait, ReturnWhen, Task, TaskError};
use common::*;
use futures::channel::oneshot;
use futures::{Stream, StreamExt};
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

/// A task that finishes with `value` when the returned sender fires.
fn gated(value: u32) -> (oneshot::Sender<()>, Task<u32>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = aiolos::spawn(async move {
        rx.await.expect("gate dropped");
        value
    });
    (tx, task)
}

/// Sends the task's outcome (`Ok(value)`, or whether it was cancelled)
/// once it ends.
fn report<T: Copy + Send + Sync + 'static>(task: &Task<T>) -> mpsc::Receiver<Result<T, bool>> {
    let (tx, rx) = mpsc::channel();
    task.add_done_callback(move |res| {
        let _ = tx.send(match res {
            Ok(v) => Ok(*v),
            Err(e) => Err(e.is_cancelled()),
        });
    });
    rx
}

fn ids<T>(tasks: &[Task<T>]) -> Vec<aiolos::TaskId> {
    tasks.iter().map(Task::id).collect()
}

#[test]
fn first_completed_returns_the_finished_task_and_leaves_the_others_running() {
    let _wd = watchdog("wait_first_completed", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a_go, a) = gated(1);
        let (b_go, b) = gated(2);
        let (c_go, c) = gated(3);
        let (a_id, b_id, c_id) = (a.id(), b.id(), c.id());
        b_go.send(()).unwrap();
        let (done, pending) = wait(vec![a, b, c], ReturnWhen::FirstCompleted, None).await;
        assert_eq!(ids(&done), vec![b_id]);
        assert_eq!(ids(&pending), vec![a_id, c_id]);
        assert!(pending.iter().all(|t| !t.is_finished()));
        // Done tasks are ready at once.
        for mut t in done {
            assert!(matches!(poll_once(&mut t).await, Poll::Ready(Ok(2))));
        }
        // The pending ones were not cancelled: they finish when let go.
        a_go.send(()).unwrap();
        c_go.send(()).unwrap();
        let rest: Vec<u32> = gather(pending)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rest, vec![1, 3]);
    });
}

#[test]
fn first_exception_waits_past_successes_and_returns_on_a_cancelled_task() {
    let _wd = watchdog("wait_first_exception_cancel", 120);
    let rt = runtime(2);
    rt.block_on(async {
        // A task that finished fine is not enough for FirstException.
        let (_a_go, a) = gated(1);
        let (b_go, b) = gated(2);
        b_go.send(()).unwrap();
        let (done, _) = wait(vec![b], ReturnWhen::AllCompleted, None).await;
        let mut w = wait(
            vec![a, done.into_iter().next().unwrap()],
            ReturnWhen::FirstException,
            None,
        );
        for _ in 0..20 {
            assert!(poll_once(&mut w).await.is_pending());
            aiolos::yield_now().await;
        }
        drop(w);

        // A cancelled one is.
        let (_c_go, c) = gated(3);
        let (_d_go, d) = gated(4);
        let (c_id, d_id) = (c.id(), d.id());
        c.cancel();
        let (done, pending) = wait(vec![d, c], ReturnWhen::FirstException, None).await;
        assert_eq!(ids(&done), vec![c_id]);
        assert_eq!(ids(&pending), vec![d_id]);
        let c = done.into_iter().next().unwrap();
        assert!(c.await.unwrap_err().is_cancelled());
        pending[0].cancel();
    });
}

#[test]
fn first_exception_returns_when_a_task_panics() {
    let _wd = watchdog("wait_first_exception_panic", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (_a_go, a) = gated(1);
        let boom: Task<u32> = aiolos::spawn(async { panic!("boom") });
        let boom_id = boom.id();
        let (done, pending) = wait(vec![a, boom], ReturnWhen::FirstException, None).await;
        assert_eq!(ids(&done), vec![boom_id]);
        assert_eq!(pending.len(), 1);
        let err = done.into_iter().next().unwrap().await.unwrap_err();
        assert!(err.is_panic());
        pending[0].cancel();
    });
}

#[test]
fn first_exception_returns_when_all_finish_without_error() {
    let _wd = watchdog("wait_first_exception_all", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let tasks: Vec<_> = (0..5u32).map(|i| aiolos::spawn(async move { i })).collect();
        let (done, pending) = wait(tasks, ReturnWhen::FirstException, None).await;
        assert_eq!(done.len(), 5);
        assert!(pending.is_empty());
        let values: Vec<u32> = gather(done).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, vec![0, 1, 2, 3, 4], "done keeps input order");
    });
}

#[test]
fn all_completed_waits_for_every_task() {
    let _wd = watchdog("wait_all_completed", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let (a_go, a) = gated(1);
        let (b_go, b) = gated(2);
        let order = [a.id(), b.id()];
        let mut w = wait(vec![a, b], ReturnWhen::AllCompleted, None);
        b_go.send(()).unwrap();
        // One finished is not enough.
        for _ in 0..20 {
            assert!(poll_once(&mut w).await.is_pending());
            aiolos::yield_now().await;
        }
        a_go.send(()).unwrap();
        let (done, pending) = w.await;
        assert_eq!(ids(&done), order);
        assert!(pending.is_empty());
    });
}

#[test]
fn a_timeout_returns_the_unfinished_tasks_pending_and_still_running() {
    let _wd = watchdog("wait_timeout", 120);
    let rt = runtime(2);
    let (gates, reports) = rt.block_on(async {
        let (a_go, a) = gated(10);
        let (b_go, b) = gated(20);
        let reports = vec![report(&a), report(&b)];
        let (done, pending) = wait(
            vec![a, b],
            ReturnWhen::AllCompleted,
            Some(Duration::from_millis(50)),
        )
        .await;
        assert!(done.is_empty());
        assert_eq!(pending.len(), 2);
        // Dropping the returned tasks detaches them.
        drop(pending);
        (vec![a_go, b_go], reports)
    });
    for g in gates {
        g.send(()).unwrap();
    }
    for (rx, want) in reports.into_iter().zip([10, 20]) {
        assert_eq!(
            rx.recv_timeout(LONG).unwrap(),
            Ok(want),
            "a timed-out task did not finish"
        );
    }
}

#[test]
fn an_empty_wait_returns_two_empty_vecs_at_once() {
    let rt = runtime(1);
    rt.block_on(async {
        for when in [
            ReturnWhen::FirstCompleted,
            ReturnWhen::FirstException,
            ReturnWhen::AllCompleted,
        ] {
            let mut w = wait(Vec::<Task<u8>>::new(), when, None);
            match poll_once(&mut w).await {
                Poll::Ready((done, pending)) => assert!(done.is_empty() && pending.is_empty()),
                Poll::Pending => panic!("an empty wait({when:?}) was not ready at once"),
            }
        }
    });
}

#[test]
fn dropping_a_wait_inside_a_cancelled_gather_never_cancels_its_tasks() {
    let _wd = watchdog("wait_never_cancels", 120);
    let rt = runtime(2);
    let (gate, rx) = rt.block_on(async {
        let (go, t) = gated(7);
        let rx = report(&t);
        let mut g = Box::pin(aiolos::gather!(
            wait(vec![t], ReturnWhen::AllCompleted, None),
            std::future::pending::<()>()
        ));
        assert!(poll_once(&mut g).await.is_pending());
        // The gather gives up on the `wait`, which must not pass it on.
        drop(g);
        (go, rx)
    });
    gate.send(()).unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), Ok(7));
}

#[test]
fn as_completed_yields_results_in_completion_order() {
    let _wd = watchdog("as_completed_order", 120);
    let rt = runtime(2);
    rt.block_on(async {
        let mut gates = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (go, t) = gated(i);
            gates.push(Some(go));
            tasks.push(t);
        }
        let mut stream = as_completed(tasks);
        assert_eq!(stream.size_hint(), (4, Some(4)));
        for i in [2usize, 0, 3, 1] {
            gates[i].take().unwrap().send(()).unwrap();
            let got = stream.next().await.expect("stream ended early");
            assert_eq!(got.unwrap(), i as u32);
        }
        assert!(stream.next().await.is_none());
    });
}

#[test]
fn as_completed_keeps_completion_order_for_tasks_that_finished_between_polls() {
    let _wd = watchdog("as_completed_batch_order", 120);
    // One worker: a task's completion (done callback, then the wake-up the
    // stream sees) is over before the next task can start.
    let rt = runtime(1);
    rt.block_on(async {
        let mut gates = Vec::new();
        let mut finished = Vec::new();
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (go, t) = gated(i);
            let (tx, rx) = oneshot::channel::<()>();
            t.add_done_callback(move |_| {
                let _ = tx.send(());
            });
            gates.push(Some(go));
            finished.push(Some(rx));
            tasks.push(t);
        }
        let mut stream = as_completed(tasks);
        assert!(poll_once(&mut stream.next()).await.is_pending());
        // Let 3, 1, 4 finish one after the other while nobody polls.
        let order = [3usize, 1, 4];
        for &i in &order {
            gates[i].take().unwrap().send(()).unwrap();
            finished[i].take().unwrap().await.unwrap();
        }
        for &i in &order {
            assert_eq!(stream.next().await.unwrap().unwrap(), i as u32);
        }
        for i in [0usize, 2] {
            gates[i].take().unwrap().send(()).unwrap();
            assert_eq!(stream.next().await.unwrap().unwrap(), i as u32);
        }
        assert!(stream.next().await.is_none());
    });
}

#[test]
fn as_completed_reports_errors_and_dropping_it_detaches_the_rest() {
    let _wd = watchdog("as_completed_errors", 120);
    let rt = runtime(2);
    let (gate, rx) = rt.block_on(async {
        let (go, slow) = gated(9);
        let rx = report(&slow);
        let doomed = aiolos::spawn(std::future::pending::<u32>());
        doomed.cancel();
        let mut stream = as_completed(vec![slow, doomed]);
        let first = stream.next().await.unwrap();
        assert!(matches!(first, Err(TaskError::Cancelled)));
        drop(stream);
        (go, rx)
    });
    gate.send(()).unwrap();
    assert_eq!(
        rx.recv_timeout(LONG).unwrap(),
        Ok(9),
        "a detached task was cancelled"
    );
}

#[test]
fn wait_and_as_completed_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<aiolos::combinators::Wait<u32>>();
    assert_send_sync::<aiolos::combinators::AsCompleted<String>>();
}
