//! Loom models of the lock and permit hand-offs (`--cfg loom`): every
//! interleaving of a few threads locking, acquiring, and dropping waiting
//! futures, checked for exclusion and for nothing being lost.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p aiolos --lib --release sync::loom_model`.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use loom::sync::Arc;
use loom::thread;

use super::{Mutex, Semaphore};
use crate::loom::model::block_on;

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}

#[test]
fn two_lockers_never_overlap_and_lose_no_increment() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                thread::spawn(move || {
                    block_on(async {
                        let mut g = m.lock().await;
                        *g += 1;
                    })
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*m.try_lock().expect("the lock was left held"), 2);
    });
}

#[test]
fn a_dropped_waiter_never_strands_the_lock() {
    loom::model(|| {
        let m = Arc::new(Mutex::new(()));
        let g = m.try_lock().unwrap();
        let m2 = m.clone();
        // Queue up, then give up while the holder unlocks concurrently: the
        // drop may find the node waiting or already handed the lock.
        let quitter = thread::spawn(move || {
            let mut lock = Box::pin(m2.lock());
            let _ = poll_once(&mut lock);
            drop(lock);
        });
        drop(g);
        quitter.join().unwrap();
        assert!(m.try_lock().is_some(), "the lock is stranded");
    });
}

#[test]
fn permits_released_and_acquired_concurrently_all_come_back() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let held = sem.try_acquire().unwrap();
        let s2 = sem.clone();
        let waiter = thread::spawn(move || {
            block_on(async {
                let p = s2.acquire().await.unwrap();
                drop(p);
            })
        });
        let s3 = sem.clone();
        let quitter = thread::spawn(move || {
            let mut acquire = pin!(s3.acquire_many(1));
            let _ = poll_once(&mut acquire);
        });
        drop(held);
        waiter.join().unwrap();
        quitter.join().unwrap();
        assert_eq!(sem.available_permits(), 1, "a permit was lost");
    });
}
