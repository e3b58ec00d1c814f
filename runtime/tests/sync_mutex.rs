//! `sync::Mutex`: exclusion under contention from many tasks on two workers,
//! FIFO hand-off to waiters (no barging by `try_lock` or newcomers), guards
//! held across awaits, `into_inner`/`get_mut`, the cooperative budget, and
//! the auto traits.

mod common;

use aiolos::sync::{Mutex, MutexGuard};
use common::*;
use std::cell::Cell;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::Poll;

fn assert_send<T: Send>(_: &T) {}
fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn mutex_guard_and_lock_future_are_send_for_send_data() {
    assert_send_sync::<Mutex<u32>>();
    assert_send_sync::<Mutex<Vec<String>>>();
    // `T: Send` is enough for the mutex, as for `std::sync::Mutex`.
    assert_send_sync::<Mutex<Cell<u32>>>();
    assert_send_sync::<MutexGuard<'static, u32>>();
    fn assert_guard_send<T: Send>() {}
    assert_guard_send::<MutexGuard<'static, Cell<u32>>>();
    let m = Mutex::new(Cell::new(1));
    assert_send(&m.lock());
}

#[test]
fn sixteen_tasks_on_two_workers_keep_a_plain_counter_exact() {
    let _wd = watchdog("mutex_counter", 120);
    const TASKS: usize = 16;
    const ROUNDS: u64 = 4_000;
    let rt = runtime(2);
    let m = Arc::new(Mutex::new(0u64));
    let inside = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (m, inside) = (m.clone(), inside.clone());
            rt.spawn(async move {
                for i in 0..ROUNDS {
                    let mut g = m.lock().await;
                    assert!(!inside.swap(true, SeqCst), "two tasks inside the lock");
                    // Read, maybe yield while holding the guard, write back:
                    // any overlap would lose an increment.
                    let v = *g;
                    if (i + t as u64).is_multiple_of(97) {
                        aiolos::yield_now().await;
                    }
                    *g = v + 1;
                    inside.store(false, SeqCst);
                }
            })
        })
        .collect();
    for t in tasks {
        join_ok(t, "counter task");
    }
    let total = rt.block_on(async { *m.lock().await });
    assert_eq!(total, TASKS as u64 * ROUNDS);
    assert!(!m.is_locked());
}

#[test]
fn waiters_get_the_lock_in_the_order_they_queued() {
    let _wd = watchdog("mutex_fifo", 120);
    const WAITERS: usize = 8;
    let rt = runtime(2);
    let m = Arc::new(Mutex::new(Vec::new()));
    let held = rt.block_on(m.lock());
    let (queued_tx, queued_rx) = mpsc::channel();
    let mut tasks = Vec::new();
    for i in 0..WAITERS {
        let (m, queued_tx) = (m.clone(), queued_tx.clone());
        tasks.push(rt.spawn(async move {
            let mut lock = pin!(m.lock());
            assert!(poll_once(&mut lock).await.is_pending(), "lock was free");
            queued_tx.send(()).unwrap();
            lock.await.push(i);
        }));
        // Spawn the next one only once this one is in the queue.
        queued_rx.recv_timeout(LONG).expect("waiter never queued");
    }
    drop(held);
    for t in tasks {
        join_ok(t, "waiter");
    }
    let order = rt.block_on(async { m.lock().await.clone() });
    assert_eq!(order, (0..WAITERS).collect::<Vec<_>>());
}

#[test]
fn unlock_hands_the_lock_to_the_waiter_so_try_lock_cannot_barge_in() {
    let rt = runtime(2);
    rt.block_on(async {
        let m = Mutex::new(5);
        let g = m.lock().await;
        assert!(m.is_locked());
        assert!(m.try_lock().is_none(), "try_lock took a held lock");
        let mut waiter = pin!(m.lock());
        assert!(poll_once(&mut waiter).await.is_pending());
        drop(g);
        // The lock now belongs to the queued waiter, not to whoever asks next.
        assert!(
            m.is_locked(),
            "unlock freed the lock instead of handing it over"
        );
        assert!(m.try_lock().is_none(), "try_lock overtook a queued waiter");
        let mut newcomer = pin!(m.lock());
        assert!(poll_once(&mut newcomer).await.is_pending());
        let Poll::Ready(g) = poll_once(&mut waiter).await else {
            panic!("the waiter was not handed the lock");
        };
        assert_eq!(*g, 5);
        drop(g);
        let Poll::Ready(g) = poll_once(&mut newcomer).await else {
            panic!("the newcomer was not handed the lock");
        };
        drop(g);
        assert!(m.try_lock().is_some(), "lock not free after the last guard");
    });
}

#[test]
fn a_guard_can_be_held_across_awaits_in_a_spawned_task() {
    let _wd = watchdog("mutex_guard_across_await", 120);
    let rt = runtime(2);
    let m = Arc::new(Mutex::new(String::new()));
    let m2 = m.clone();
    let t = rt.spawn(async move {
        let mut g = m2.lock().await;
        for word in ["held", " across", " awaits"] {
            // The task may resume on the other worker: the guard moves along.
            aiolos::yield_now().await;
            g.push_str(word);
        }
        g.push('!');
    });
    join_ok(t, "guard holder");
    assert_eq!(
        rt.block_on(async { m.lock().await.clone() }),
        "held across awaits!"
    );
}

#[test]
fn into_inner_and_get_mut_reach_the_value_without_locking() {
    let mut m = Mutex::new(vec![1]);
    m.get_mut().push(2);
    assert_eq!(format!("{m:?}"), "Mutex { value: [1, 2] }");
    assert_eq!(m.into_inner(), [1, 2]);
    let m = Mutex::from(3);
    let g = m.try_lock().unwrap();
    assert_eq!(format!("{m:?}"), "Mutex { value: <locked> }");
    assert_eq!(format!("{g:?} {g}"), "3 3");
    assert!(std::ptr::eq(MutexGuard::mutex(&g), &m));
    assert_eq!(Mutex::<u8>::default().into_inner(), 0);
}

#[test]
fn a_task_whose_lock_is_always_free_still_lets_others_run() {
    let _wd = watchdog("mutex_budget", 120);
    const MAX: usize = 1_000_000;
    // One worker: the other task can only run if the locker yields.
    let rt = runtime(1);
    let m = Arc::new(Mutex::new(0usize));
    let flag = Arc::new(AtomicBool::new(false));
    let (m2, f2) = (m.clone(), flag.clone());
    let locker = rt.spawn(async move {
        for i in 0..MAX {
            *m2.lock().await += 1;
            if f2.load(SeqCst) {
                return Some(i);
            }
        }
        None
    });
    let f3 = flag.clone();
    let other = rt.spawn(async move { f3.store(true, SeqCst) });
    join_ok(other, "other task");
    let saw = join_ok(locker, "locker");
    assert!(
        saw.is_some(),
        "{MAX} ready lock() calls never yielded to the other task"
    );
}

#[test]
fn lock_and_unlock_from_many_threads_outside_tasks_stay_exclusive() {
    let _wd = watchdog("mutex_block_on_threads", 120);
    // block_on callers on plain threads mixed with worker tasks.
    let rt = Arc::new(runtime(2));
    let m = Arc::new(Mutex::new(0u32));
    let holders = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (m, holders) = (m.clone(), holders.clone());
        tasks.push(rt.spawn(async move {
            for _ in 0..1_000 {
                let mut g = m.lock().await;
                assert_eq!(holders.fetch_add(1, SeqCst), 0);
                *g += 1;
                holders.fetch_sub(1, SeqCst);
            }
        }));
    }
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (rt, m, holders) = (rt.clone(), m.clone(), holders.clone());
            std::thread::spawn(move || {
                for _ in 0..1_000 {
                    rt.block_on(async {
                        let mut g = m.lock().await;
                        assert_eq!(holders.fetch_add(1, SeqCst), 0);
                        *g += 1;
                        holders.fetch_sub(1, SeqCst);
                    });
                }
            })
        })
        .collect();
    for t in tasks {
        join_ok(t, "task locker");
    }
    for t in threads {
        t.join().expect("thread locker panicked");
    }
    assert_eq!(rt.block_on(async { *m.lock().await }), 6_000);
}
