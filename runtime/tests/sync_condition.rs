//! `sync::Condition`: `notify(n)` wakes exactly `n` waiters and
//! `notify_all` all of them, `wait` releases the lock while waiting and
//! holds it again on return, `wait_for` returns only once its predicate
//! holds, producers and consumers on two workers hand over every item, and
//! a guard of another mutex is refused.

mod common;

use aiolos::sync::{Condition, Mutex};
use common::*;
use std::collections::VecDeque;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::Poll;

#[test]
fn condition_and_its_futures_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    fn assert_send<T: Send>(_: &T) {}
    let c = Condition::new(Vec::<u8>::new());
    assert_send_sync(&c);
    let rt = runtime(1);
    rt.block_on(async {
        let g = c.lock().await;
        let w = c.wait(g);
        assert_send(&w);
    });
}

/// Spawns `n` tasks that each count themselves in under the lock, wait on
/// the condition, and add one to `woken`; returns once all are queued
/// (each queues itself before releasing the lock, so a lock taken after the
/// count reached `n` proves it).
fn spawn_waiters(
    rt: &aiolos::Runtime,
    cond: &Arc<Condition<usize>>,
    woken: &Arc<AtomicUsize>,
    n: usize,
) -> Vec<aiolos::Task<()>> {
    let tasks = (0..n)
        .map(|_| {
            let (cond, woken) = (cond.clone(), woken.clone());
            rt.spawn(async move {
                let mut g = cond.lock().await;
                *g += 1;
                let g = cond.wait(g).await;
                woken.fetch_add(1, SeqCst);
                drop(g);
            })
        })
        .collect();
    let cond = cond.clone();
    rt.block_on(async move {
        loop {
            if *cond.lock().await == n {
                break;
            }
            aiolos::yield_now().await;
        }
    });
    tasks
}

/// Yields until `counter` reaches `n` (fails after [`LONG`]).
async fn until(counter: &AtomicUsize, n: usize) {
    let deadline = std::time::Instant::now() + LONG;
    while counter.load(SeqCst) < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} woke",
            counter.load(SeqCst)
        );
        aiolos::yield_now().await;
    }
}

#[test]
fn notify_n_wakes_exactly_n_waiters() {
    let _wd = watchdog("condition_notify_n", 120);
    let rt = runtime(2);
    let cond = Arc::new(Condition::new(0usize));
    let woken = Arc::new(AtomicUsize::new(0));
    let tasks = spawn_waiters(&rt, &cond, &woken, 5);
    rt.block_on(async {
        assert_eq!(cond.notify(2), 2, "notify(2) with 5 waiters");
        until(&woken, 2).await;
        // Exactly the other three are still waiting.
        assert_eq!(cond.notify(3), 3, "some waiter woke without a notification");
        until(&woken, 5).await;
        assert_eq!(cond.notify(1), 0, "nobody should be left waiting");
    });
    for t in tasks {
        join_ok(t, "waiter");
    }
    assert_eq!(woken.load(SeqCst), 5);
}

#[test]
fn notify_all_wakes_every_waiter() {
    let _wd = watchdog("condition_notify_all", 120);
    let rt = runtime(2);
    let cond = Arc::new(Condition::new(0usize));
    let woken = Arc::new(AtomicUsize::new(0));
    let tasks = spawn_waiters(&rt, &cond, &woken, 12);
    assert_eq!(cond.notify_all(), 12);
    for t in tasks {
        join_ok(t, "waiter");
    }
    assert_eq!(woken.load(SeqCst), 12);
    assert_eq!(cond.notify_all(), 0);
}

#[test]
fn wait_releases_the_lock_while_waiting_and_holds_it_on_return() {
    let rt = runtime(2);
    rt.block_on(async {
        let cond = Condition::new(1);
        let g = cond.lock().await;
        let mut wait = pin!(cond.wait(g));
        assert!(poll_once(&mut wait).await.is_pending());
        // Released while waiting: someone else can lock and change the data.
        let mut other = cond.try_lock().expect("wait did not release the lock");
        *other = 2;
        assert_eq!(cond.notify(1), 1);
        // Notified, but the lock is still held here: the waiter must wait for it.
        assert!(
            poll_once(&mut wait).await.is_pending(),
            "returned without the lock"
        );
        drop(other);
        let Poll::Ready(g) = poll_once(&mut wait).await else {
            panic!("waiter did not get the lock back");
        };
        assert_eq!(*g, 2);
        assert!(cond.mutex().is_locked());
        drop(g);
        assert!(!cond.mutex().is_locked());
    });
}

#[test]
fn wait_for_returns_only_once_the_predicate_holds() {
    let _wd = watchdog("condition_wait_for", 120);
    let rt = runtime(2);
    let cond = Arc::new(Condition::new(0u32));
    let checks = Arc::new(AtomicUsize::new(0));
    let (c2, checks2) = (cond.clone(), checks.clone());
    let waiter = rt.spawn(async move {
        let g = c2.lock().await;
        let g = c2
            .wait_for(g, |v| {
                checks2.fetch_add(1, SeqCst);
                *v >= 10
            })
            .await;
        *g
    });
    rt.block_on(async {
        for _ in 0..10 {
            *cond.lock().await += 1;
            cond.notify_all();
            aiolos::yield_now().await;
        }
    });
    assert_eq!(join_ok(waiter, "wait_for"), 10);
    assert!(checks.load(SeqCst) >= 1);
    // A predicate that already holds returns at once, without waiting.
    rt.block_on(async {
        let g = cond.lock().await;
        let mut f = pin!(cond.wait_for(g, |v| *v == 10));
        assert!(poll_once(&mut f).await.is_ready());
    });
}

#[test]
fn producers_and_consumers_on_two_workers_hand_over_every_item() {
    let _wd = watchdog("condition_producers_consumers", 120);
    const PRODUCERS: u64 = 4;
    const CONSUMERS: usize = 4;
    const ITEMS: u64 = 2_000;
    struct State {
        queue: VecDeque<u64>,
        done: bool,
    }
    let rt = runtime(2);
    let cond = Arc::new(Condition::new(State {
        queue: VecDeque::new(),
        done: false,
    }));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let cond = cond.clone();
            rt.spawn(async move {
                let mut got = Vec::new();
                loop {
                    let g = cond.lock().await;
                    let mut g = cond.wait_for(g, |s| !s.queue.is_empty() || s.done).await;
                    match g.queue.pop_front() {
                        Some(v) => got.push(v),
                        None => return got,
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let cond = cond.clone();
            rt.spawn(async move {
                for i in 0..ITEMS {
                    cond.lock().await.queue.push_back(p * ITEMS + i);
                    cond.notify(1);
                }
            })
        })
        .collect();
    for p in producers {
        join_ok(p, "producer");
    }
    rt.block_on(async {
        cond.lock().await.done = true;
        cond.notify_all();
    });
    let mut all: Vec<u64> = consumers
        .into_iter()
        .flat_map(|c| join_ok(c, "consumer"))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..PRODUCERS * ITEMS).collect::<Vec<_>>());
}

#[test]
fn wait_refuses_a_guard_of_another_mutex() {
    let rt = runtime(1);
    let msg = catch_panic_message(|| {
        rt.block_on(async {
            let cond = Condition::new(0);
            let other = Mutex::new(0);
            let g = other.lock().await;
            drop(cond.wait(g));
        })
    })
    .expect("wait with a foreign guard did not panic");
    assert!(msg.contains("guard of a different mutex"), "{msg}");
}
