//! `sync::Event`: `set` releases every waiter (also many tasks racing with
//! it on two workers), `wait` returns at once while set and blocks again
//! after `clear`, and a waiter released by `set` stays released even if
//! `clear` comes before it runs (asyncio semantics).

mod common;

use aiolos::sync::Event;
use common::*;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};

#[test]
fn event_and_its_wait_future_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let e = Event::new();
    assert_send_sync(&e);
    assert_send_sync(&e.wait());
}

#[test]
fn set_releases_every_task_waiting_on_two_workers() {
    let _wd = watchdog("event_set_releases_all", 120);
    const WAITERS: usize = 32;
    let rt = runtime(2);
    let event = Arc::new(Event::new());
    let released = Arc::new(AtomicUsize::new(0));
    let (queued_tx, queued_rx) = mpsc::channel();
    let tasks: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (event, released, queued_tx) = (event.clone(), released.clone(), queued_tx.clone());
            rt.spawn(async move {
                let mut wait = pin!(event.wait());
                assert!(poll_once(&mut wait).await.is_pending(), "event was set");
                queued_tx.send(()).unwrap();
                wait.await;
                released.fetch_add(1, SeqCst);
            })
        })
        .collect();
    for _ in 0..WAITERS {
        queued_rx.recv_timeout(LONG).expect("a waiter never queued");
    }
    assert_eq!(released.load(SeqCst), 0, "a waiter passed an unset event");
    event.set();
    for t in tasks {
        join_ok(t, "waiter");
    }
    assert_eq!(released.load(SeqCst), WAITERS);
}

#[test]
fn wait_returns_at_once_while_set_and_blocks_again_after_clear() {
    let rt = runtime(2);
    rt.block_on(async {
        let e = Event::new();
        assert!(!e.is_set());
        e.set();
        assert!(e.is_set());
        e.set(); // setting twice is harmless
        assert!(poll_once(&mut pin!(e.wait())).await.is_ready());
        e.clear();
        assert!(!e.is_set());
        let mut w = pin!(e.wait());
        assert!(
            poll_once(&mut w).await.is_pending(),
            "wait passed a cleared event"
        );
        assert!(poll_once(&mut w).await.is_pending(), "woke without a set");
        e.set();
        assert!(
            poll_once(&mut w).await.is_ready(),
            "set did not release the waiter"
        );
    });
}

#[test]
fn a_waiter_released_by_set_stays_released_after_an_immediate_clear() {
    let rt = runtime(2);
    rt.block_on(async {
        let e = Event::new();
        let mut early = pin!(e.wait());
        assert!(poll_once(&mut early).await.is_pending());
        e.set();
        e.clear();
        // asyncio: the waiter's future was resolved by set(); clear() does
        // not take that back.
        assert!(
            poll_once(&mut early).await.is_ready(),
            "released waiter blocked again"
        );
        // But a waiter arriving after the clear waits for the next set.
        let mut late = pin!(e.wait());
        assert!(poll_once(&mut late).await.is_pending());
        e.set();
        assert!(poll_once(&mut late).await.is_ready());
    });
}

#[test]
fn many_tasks_racing_with_set_over_many_rounds_all_get_through() {
    let _wd = watchdog("event_rounds", 120);
    const TASKS: usize = 16;
    const ROUNDS: usize = 300;
    let rt = runtime(2);
    let events: Arc<Vec<Event>> = Arc::new((0..ROUNDS).map(|_| Event::new()).collect());
    let passed: Arc<Vec<AtomicUsize>> =
        Arc::new((0..ROUNDS).map(|_| AtomicUsize::new(0)).collect());
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (events, passed) = (events.clone(), passed.clone());
            rt.spawn(async move {
                for r in 0..ROUNDS {
                    events[r].wait().await;
                    // Nobody may pass round r before it was set.
                    assert!(events[r].is_set(), "passed round {r} before its set");
                    passed[r].fetch_add(1, SeqCst);
                }
            })
        })
        .collect();
    let (events2, passed2) = (events.clone(), passed.clone());
    let setter = rt.spawn(async move {
        for r in 0..ROUNDS {
            // Let some tasks reach round r before setting it, some after.
            if r.is_multiple_of(2) {
                while passed2[r.saturating_sub(1)].load(SeqCst) < TASKS / 2 && r > 0 {
                    aiolos::yield_now().await;
                }
            }
            events2[r].set();
        }
    });
    join_ok(setter, "setter");
    for t in tasks {
        join_ok(t, "round task");
    }
    for (r, p) in passed.iter().enumerate() {
        assert_eq!(p.load(SeqCst), TASKS, "round {r}");
    }
}

#[test]
fn dropping_a_waiter_leaves_the_others_waiting_and_released_by_set() {
    let rt = runtime(2);
    rt.block_on(async {
        let e = Event::new();
        let mut a = Box::pin(e.wait());
        let mut b = Box::pin(e.wait());
        let mut c = Box::pin(e.wait());
        for w in [&mut a, &mut b, &mut c] {
            assert!(poll_once(w).await.is_pending());
        }
        drop(b);
        e.set();
        assert!(poll_once(&mut a).await.is_ready());
        assert!(poll_once(&mut c).await.is_ready());
        assert_eq!(format!("{e:?}"), "Event { set: true }");
    });
}
