//! `sync::Semaphore` and `BoundedSemaphore`: holders never exceed the count
//! under contention on two workers, waiters are served in arrival order, a
//! large `acquire_many` at the front is not starved by later small ones,
//! `try_acquire` does not overtake waiters, `close` fails waiters and later
//! acquires, `forget`/`add_permits` change the count, and a bounded
//! semaphore refuses to be released above its initial count.

mod common;

use aiolos::sync::{AcquireError, BoundedSemaphore, ReleaseError, Semaphore};
use common::*;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::Poll;

#[test]
fn semaphores_permits_and_futures_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let s = Semaphore::new(1);
    assert_send_sync(&s);
    assert_send_sync(&s.acquire());
    assert_send_sync(&s.try_acquire().unwrap());
    let b = BoundedSemaphore::new(1);
    assert_send_sync(&b);
    assert_send_sync(&b.acquire());
    assert_send_sync(&b.try_acquire().unwrap());
}

/// Raises `max` to `value` if it is larger.
fn record_max(max: &AtomicUsize, value: usize) {
    max.fetch_max(value, SeqCst);
}

#[test]
fn holders_never_exceed_the_permit_count_under_contention() {
    let _wd = watchdog("semaphore_contention", 120);
    const PERMITS: usize = 3;
    const TASKS: usize = 16;
    const ROUNDS: usize = 1_000;
    let rt = runtime(2);
    let sem = Arc::new(Semaphore::new(PERMITS));
    let held = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (sem, held, max) = (sem.clone(), held.clone(), max.clone());
            rt.spawn(async move {
                for i in 0..ROUNDS {
                    // A mix of single and double acquires.
                    let n = 1 + (t + i) % 2;
                    let permit = sem.acquire_many(n).await.unwrap();
                    assert_eq!(permit.num_permits(), n);
                    let now = held.fetch_add(n, SeqCst) + n;
                    assert!(now <= PERMITS, "{now} permits held out of {PERMITS}");
                    record_max(&max, now);
                    if i.is_multiple_of(8) {
                        aiolos::yield_now().await;
                    }
                    held.fetch_sub(n, SeqCst);
                    drop(permit);
                }
            })
        })
        .collect();
    for t in tasks {
        join_ok(t, "acquirer");
    }
    assert_eq!(sem.available_permits(), PERMITS);
    assert!(max.load(SeqCst) <= PERMITS);
    assert!(
        max.load(SeqCst) >= 2,
        "the semaphore never let two holders in"
    );
}

#[test]
fn waiters_get_permits_in_the_order_they_queued() {
    let _wd = watchdog("semaphore_fifo", 120);
    const WAITERS: usize = 8;
    let rt = runtime(2);
    let sem = Arc::new(Semaphore::new(1));
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let held = sem.try_acquire().unwrap();
    let (queued_tx, queued_rx) = mpsc::channel();
    let mut tasks = Vec::new();
    for i in 0..WAITERS {
        let (sem, order, queued_tx) = (sem.clone(), order.clone(), queued_tx.clone());
        tasks.push(rt.spawn(async move {
            let mut acquire = pin!(sem.acquire());
            assert!(poll_once(&mut acquire).await.is_pending());
            queued_tx.send(()).unwrap();
            let _permit = acquire.await.unwrap();
            order.lock().unwrap().push(i);
        }));
        queued_rx.recv_timeout(LONG).expect("waiter never queued");
    }
    drop(held);
    for t in tasks {
        join_ok(t, "waiter");
    }
    assert_eq!(*order.lock().unwrap(), (0..WAITERS).collect::<Vec<_>>());
}

#[test]
fn a_large_acquire_at_the_front_is_not_starved_by_later_small_ones() {
    let rt = runtime(1);
    rt.block_on(async {
        let sem = Semaphore::new(1);
        let small_holder = sem.acquire().await.unwrap();
        let mut big = pin!(sem.acquire_many(2));
        assert!(poll_once(&mut big).await.is_pending());
        let mut small = pin!(sem.acquire());
        assert!(poll_once(&mut small).await.is_pending());
        // One permit comes free: enough for `small`, but `big` is first.
        sem.add_permits(1);
        assert_eq!(sem.available_permits(), 1);
        assert!(
            poll_once(&mut small).await.is_pending(),
            "small overtook big"
        );
        assert!(sem.try_acquire().is_none(), "try_acquire overtook big");
        drop(small_holder);
        let Poll::Ready(Ok(big_permit)) = poll_once(&mut big).await else {
            panic!("big not served with 2 permits free");
        };
        assert_eq!(big_permit.num_permits(), 2);
        assert_eq!(sem.available_permits(), 0);
        assert!(poll_once(&mut small).await.is_pending());
        drop(big_permit);
        assert!(poll_once(&mut small).await.is_ready());
        // `small`'s permit was dropped with its output: both are back.
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn one_release_serves_every_front_waiter_it_covers() {
    let rt = runtime(1);
    rt.block_on(async {
        let sem = Semaphore::new(0);
        let mut a = pin!(sem.acquire_many(2));
        let mut b = pin!(sem.acquire_many(1));
        let mut c = pin!(sem.acquire_many(3));
        for f in [&mut a, &mut b, &mut c] {
            assert!(poll_once(f).await.is_pending());
        }
        sem.add_permits(4); // a (2) and b (1) fit; c (3) does not with 1 left
        assert_eq!(sem.available_permits(), 1);
        let Poll::Ready(Ok(pa)) = poll_once(&mut a).await else {
            panic!("a not served")
        };
        let Poll::Ready(Ok(pb)) = poll_once(&mut b).await else {
            panic!("b not served")
        };
        assert!(poll_once(&mut c).await.is_pending());
        drop(pa);
        let Poll::Ready(Ok(pc)) = poll_once(&mut c).await else {
            panic!("c not served")
        };
        assert_eq!(pc.num_permits(), 3);
        drop((pb, pc));
        assert_eq!(sem.available_permits(), 4);
    });
}

#[test]
fn close_fails_waiters_and_later_acquires_but_permits_still_come_back() {
    let rt = runtime(2);
    rt.block_on(async {
        let sem = Semaphore::new(1);
        let permit = sem.acquire().await.unwrap();
        let mut waiter = pin!(sem.acquire_many(1));
        assert!(poll_once(&mut waiter).await.is_pending());
        assert!(!sem.is_closed());
        sem.close();
        assert!(sem.is_closed());
        assert!(matches!(
            poll_once(&mut waiter).await,
            Poll::Ready(Err(AcquireError { .. }))
        ));
        assert!(sem.acquire().await.is_err());
        assert!(sem.acquire_many(0).await.is_err());
        assert!(sem.try_acquire().is_none());
        drop(permit);
        assert_eq!(
            sem.available_permits(),
            1,
            "a permit returned after close was lost"
        );
        assert!(sem.acquire().await.is_err());
    });
}

#[test]
fn forget_keeps_permits_out_and_add_permits_puts_them_back() {
    let sem = Semaphore::new(3);
    let p = sem.try_acquire_many(2).unwrap();
    assert_eq!(sem.available_permits(), 1);
    p.forget();
    assert_eq!(sem.available_permits(), 1);
    sem.add_permits(5);
    assert_eq!(sem.available_permits(), 6);
    assert!(sem.try_acquire_many(7).is_none());
    let p = sem.try_acquire_many(0).unwrap();
    assert_eq!(p.num_permits(), 0);
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { available_permits: 6, closed: false }"
    );
}

#[test]
fn a_bounded_semaphore_refuses_a_release_above_its_initial_count() {
    let rt = runtime(1);
    rt.block_on(async {
        let sem = BoundedSemaphore::new(2);
        assert_eq!(sem.bound(), 2);
        let refused: Result<(), ReleaseError> = sem.release();
        assert!(refused.is_err(), "released a semaphore nobody acquired");
        // asyncio's acquire()/release() pairs.
        sem.acquire().await.unwrap().forget();
        sem.acquire().await.unwrap().forget();
        assert_eq!(sem.available_permits(), 0);
        assert!(sem.try_acquire().is_none());
        assert!(sem.release().is_ok());
        assert!(sem.release().is_ok());
        assert!(sem.release().is_err(), "released a third time");
        assert_eq!(sem.available_permits(), 2);
        // Guards give their permit back on drop ...
        let g = sem.acquire().await.unwrap();
        assert_eq!(sem.available_permits(), 1);
        drop(g);
        assert_eq!(sem.available_permits(), 2);
        // ... unless an explicit release already did.
        let g = sem.acquire().await.unwrap();
        assert!(sem.release().is_ok());
        drop(g);
        assert_eq!(sem.available_permits(), 2, "count went above the bound");
        sem.close();
        assert!(sem.is_closed());
        assert!(sem.acquire().await.is_err());
    });
}

#[test]
fn bounded_semaphore_holders_never_exceed_the_bound_under_contention() {
    let _wd = watchdog("bounded_contention", 120);
    const BOUND: usize = 2;
    let rt = runtime(2);
    let sem = Arc::new(BoundedSemaphore::new(BOUND));
    let held = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (sem, held) = (sem.clone(), held.clone());
            rt.spawn(async move {
                for i in 0..500usize {
                    let g = sem.acquire().await.unwrap();
                    assert!(held.fetch_add(1, SeqCst) < BOUND);
                    if (t + i).is_multiple_of(5) {
                        aiolos::yield_now().await;
                    }
                    held.fetch_sub(1, SeqCst);
                    if i.is_multiple_of(2) {
                        g.forget();
                        sem.release().unwrap();
                    } else {
                        drop(g);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        join_ok(t, "bounded acquirer");
    }
    assert_eq!(sem.available_permits(), BOUND);
    assert!(sem.release().is_err(), "released with every permit back");
    assert_eq!(sem.available_permits(), BOUND);
}

#[test]
fn errors_say_what_happened() {
    let sem = Semaphore::new(0);
    sem.close();
    let rt = runtime(1);
    let err = rt.block_on(sem.acquire()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the semaphore is closed, so no permit can be acquired"
    );
    let err: Box<dyn std::error::Error> = Box::new(err);
    assert!(!err.to_string().is_empty());
    let rel = BoundedSemaphore::new(1).release().unwrap_err();
    assert!(
        rel.to_string()
            .contains("released more times than it was acquired"),
        "{rel}"
    );
}
