//! `TaskGroup`: the first failure cancels the siblings and comes out of
//! `join` once every child is gone; no child outlives the group; panics,
//! late spawns, individual cancels, cascading into awaited tasks, `shield`.

mod common;

use aiolos::{shield, GroupError, Task, TaskError, TaskGroup};
use common::*;
use futures::channel::oneshot;
use std::sync::mpsc;

/// Counts live children: +1 when made, -1 when dropped.
#[derive(Clone, Default)]
struct Live(std::sync::Arc<std::sync::atomic::AtomicIsize>);

impl Live {
    fn enter(&self) -> LiveGuard {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        LiveGuard(self.clone())
    }

    fn get(&self) -> isize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

struct LiveGuard(Live);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        (self.0).0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Sends whether the task ended cancelled, once it ends.
fn report_cancelled<T: Send + Sync + 'static>(task: &Task<T>) -> mpsc::Receiver<bool> {
    let (tx, rx) = mpsc::channel();
    task.add_done_callback(move |res| {
        let _ = tx.send(matches!(res, Err(TaskError::Cancelled)));
    });
    rx
}

#[test]
fn join_succeeds_when_every_child_does_and_waits_for_all_of_them() {
    let _wd = watchdog("group_ok", 120);
    let rt = runtime(2);
    let live = Live::default();
    let done = Counter::new();
    let res = rt.block_on(async {
        let group: TaskGroup<String> = TaskGroup::new();
        let mut gates = Vec::new();
        for _ in 0..10 {
            let (tx, rx) = oneshot::channel::<()>();
            gates.push(tx);
            let guard = live.enter();
            let done = done.clone();
            group.spawn(async move {
                let _guard = guard;
                rx.await.unwrap();
                done.incr();
                Ok(())
            });
        }
        assert_eq!(group.len(), 10);
        aiolos::spawn(async move {
            for g in gates {
                g.send(()).unwrap();
                aiolos::yield_now().await;
            }
        })
        .detach();
        group.join().await
    });
    assert!(res.is_ok());
    assert_eq!(done.get(), 10);
    assert_eq!(live.get(), 0, "a child outlived join");
}

#[test]
fn the_first_error_cancels_the_siblings_and_join_returns_it_after_they_are_gone() {
    let _wd = watchdog("group_first_error", 120);
    let rt = runtime(2);
    let live = Live::default();
    let (res, live_after_join, cancelled) = rt.block_on(async {
        let group = TaskGroup::new();
        let mut cancelled = Vec::new();
        for _ in 0..5 {
            let guard = live.enter();
            let t = group.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok(())
            });
            cancelled.push(report_cancelled(&t));
        }
        // A second failure that would come later never gets to happen.
        let (late_tx, late_rx) = oneshot::channel::<()>();
        let guard = live.enter();
        group.spawn(async move {
            let _guard = guard;
            let _ = late_rx.await;
            Err("second")
        });
        let (fail_tx, fail_rx) = oneshot::channel::<()>();
        let failing = group.spawn(async move {
            fail_rx.await.unwrap();
            Err("first")
        });
        fail_tx.send(()).unwrap();
        let res = group.join().await;
        let live_after_join = live.get();
        drop(late_tx);
        assert!(
            failing.await.is_ok(),
            "the failing child's Task gives Ok(())"
        );
        (res, live_after_join, cancelled)
    });
    assert!(
        matches!(res, Err(GroupError::Failed("first"))),
        "got {res:?}"
    );
    assert_eq!(live_after_join, 0, "a child outlived join");
    for rx in cancelled {
        assert!(
            rx.recv_timeout(LONG).unwrap(),
            "a sibling was not cancelled"
        );
    }
}

#[test]
fn a_panicking_child_fails_the_group_with_its_payload() {
    let _wd = watchdog("group_panic", 120);
    let rt = runtime(2);
    let (res, task_res) = rt.block_on(async {
        let group = TaskGroup::<()>::new();
        group.spawn(std::future::pending());
        let t = group.spawn_named("boom", async { panic!("child blew up") });
        assert_eq!(t.name(), Some("boom"));
        let res = group.join().await;
        (res, t.await)
    });
    match res {
        Err(GroupError::Panicked(p)) => {
            assert_eq!(p.message(), Some("child blew up"));
            assert_eq!(panic_message(&*p.into_inner()), "child blew up");
        }
        other => panic!("expected GroupError::Panicked, got {other:?}"),
    }
    match task_res {
        Err(TaskError::Panicked(p)) => assert_eq!(p.message(), Some("child blew up")),
        other => panic!("the child's Task should report the panic, got {other:?}"),
    }
}

#[test]
fn dropping_a_group_that_was_not_joined_cancels_its_children() {
    let _wd = watchdog("group_drop", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let cancelled = rt.block_on(async {
        let group = TaskGroup::<()>::new();
        let mut cancelled = Vec::new();
        for _ in 0..4 {
            // The guard exists from here, polled or not.
            let stuck = pending_guarded(&drops);
            let t = group.spawn(async move {
                stuck.await;
                Ok(())
            });
            cancelled.push(report_cancelled(&t));
        }
        drop(group);
        cancelled
    });
    for rx in cancelled {
        assert!(rx.recv_timeout(LONG).unwrap(), "a child was not cancelled");
    }
    wait_until("every child's future dropped", || drops.get() == 4);
}

#[test]
fn dropping_the_join_cancels_the_children() {
    let _wd = watchdog("group_join_drop", 120);
    let rt = runtime(2);
    let drops = Counter::new();
    let d = drops.clone();
    let (started_tx, started_rx) = mpsc::channel();
    let outer = rt.spawn(async move {
        let group = TaskGroup::<()>::new();
        for _ in 0..3 {
            let stuck = pending_guarded(&d);
            group.spawn(async move {
                stuck.await;
                Ok(())
            });
        }
        started_tx.send(()).unwrap();
        group.join().await
    });
    started_rx.recv_timeout(LONG).unwrap();
    outer.cancel();
    assert!(join_timeout(outer, "outer").unwrap_err().is_cancelled());
    wait_until("every child's future dropped", || drops.get() == 3);
}

#[test]
fn a_child_spawned_into_a_failed_group_is_cancelled_without_running() {
    let _wd = watchdog("group_spawn_after_failure", 120);
    let rt = runtime(2);
    let ran = Counter::new();
    let (res, late_res) = rt.block_on(async {
        let group = TaskGroup::new();
        let failing = group.spawn(async { Err(42) });
        failing.await.unwrap();
        let r = ran.clone();
        let late = group.spawn(async move {
            r.incr();
            Ok(())
        });
        (group.join().await, late.await)
    });
    assert!(matches!(res, Err(GroupError::Failed(42))));
    assert!(late_res.unwrap_err().is_cancelled());
    assert_eq!(ran.get(), 0, "a child of a failed group ran");
}

#[test]
fn a_child_cancelled_on_its_own_is_not_a_failure() {
    let _wd = watchdog("group_child_cancel", 120);
    let rt = runtime(2);
    let res = rt.block_on(async {
        let group = TaskGroup::<String>::new();
        let t = group.spawn(std::future::pending());
        group.spawn(async { Ok(()) });
        t.cancel();
        group.join().await
    });
    assert!(res.is_ok(), "got {res:?}");
}

#[test]
fn failure_cascades_into_awaited_tasks_but_not_through_shield() {
    let _wd = watchdog("group_cascade_shield", 120);
    let rt = runtime(2);
    let inner_drops = Counter::new();
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let (inner_rx, shielded_rx) = rt.block_on(async {
        let inner = aiolos::spawn(pending_guarded(&inner_drops));
        let inner_rx = report_cancelled(&inner);
        let shielded = aiolos::spawn(async move {
            gate_rx.await.unwrap();
            "kept"
        });
        let shielded_rx = report_cancelled(&shielded);
        let group = TaskGroup::new();
        let (a_tx, a_rx) = oneshot::channel::<()>();
        let (b_tx, b_rx) = oneshot::channel::<()>();
        group.spawn(async move {
            a_tx.send(()).unwrap();
            inner.await.unwrap();
            Ok(())
        });
        group.spawn(async move {
            b_tx.send(()).unwrap();
            shield(shielded).await.unwrap();
            Ok(())
        });
        group.spawn(async move {
            // Fail once both siblings are awaiting.
            a_rx.await.unwrap();
            b_rx.await.unwrap();
            Err("fail")
        });
        assert!(group.join().await.is_err());
        (inner_rx, shielded_rx)
    });
    assert!(
        inner_rx.recv_timeout(LONG).unwrap(),
        "the awaited task was not cancelled"
    );
    assert_eq!(inner_drops.get(), 1);
    gate_tx.send(()).unwrap();
    assert!(
        !shielded_rx.recv_timeout(LONG).unwrap(),
        "the shielded task was cancelled"
    );
}

#[test]
fn group_error_displays_and_chains_its_source() {
    let e: GroupError<std::io::Error> = GroupError::Failed(std::io::Error::other("disk on fire"));
    assert_eq!(e.to_string(), "a task of the group failed: disk on fire");
    let source = std::error::Error::source(&e).expect("a source");
    assert_eq!(source.to_string(), "disk on fire");
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<GroupError<std::io::Error>>();
}

#[test]
fn task_group_and_its_join_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TaskGroup<String>>();
    assert_send_sync::<aiolos::combinators::GroupJoin<String>>();
}
