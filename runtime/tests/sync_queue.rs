//! `sync::Queue`, `LifoQueue`, `PriorityQueue`: removal order of each kind,
//! `maxsize` blocking puts, waiting getters served in arrival order, many
//! producers and consumers on two workers delivering every item exactly
//! once, `task_done`/`join`, asyncio 3.13's `shutdown` (drain then fail;
//! blocked getters and putters released) and `shutdown_immediate`, and the
//! error values.

mod common;

use aiolos::sync::{LifoQueue, PriorityQueue, Queue, QueueEmpty, QueueFull, QueueShutDown};
use common::*;
use std::pin::pin;
use std::sync::{mpsc, Arc};
use std::task::Poll;

#[test]
fn queues_and_their_futures_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>(_: &T) {}
    let q = Queue::<String>::new(0);
    assert_send_sync(&q);
    assert_send_sync(&q.get());
    assert_send_sync(&q.put(String::new()));
    assert_send_sync(&q.join());
    assert_send_sync(&LifoQueue::<Vec<u8>>::new(1));
    assert_send_sync(&PriorityQueue::<(u8, String)>::new(1));
}

#[test]
fn each_kind_gives_items_in_its_own_order() {
    let rt = runtime(2);
    rt.block_on(async {
        let fifo = Queue::new(0);
        let lifo = LifoQueue::new(0);
        let prio = PriorityQueue::new(0);
        for i in [5, 1, 4, 2, 3] {
            fifo.put(i).await.unwrap();
            lifo.put(i).await.unwrap();
            prio.put(i).await.unwrap();
        }
        let mut got = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..5 {
            got.0.push(fifo.get().await.unwrap());
            got.1.push(lifo.get().await.unwrap());
            got.2.push(prio.get().await.unwrap());
        }
        assert_eq!(got.0, [5, 1, 4, 2, 3], "Queue is first in, first out");
        assert_eq!(got.1, [3, 2, 4, 1, 5], "LifoQueue is last in, first out");
        assert_eq!(
            got.2,
            [1, 2, 3, 4, 5],
            "PriorityQueue gives the smallest first"
        );
    });
}

#[test]
fn sizes_and_nowait_errors_give_the_item_back() {
    let q = Queue::new(2);
    assert_eq!(
        (q.maxsize(), q.qsize(), q.empty(), q.full()),
        (2, 0, true, false)
    );
    assert_eq!(q.get_nowait(), Err(QueueEmpty::Empty));
    q.put_nowait("a").unwrap();
    q.put_nowait("b").unwrap();
    assert_eq!((q.qsize(), q.empty(), q.full()), (2, false, true));
    let err = q.put_nowait("c").unwrap_err();
    assert!(err.is_full() && !err.is_shut_down());
    assert_eq!(err.into_inner(), "c");
    assert_eq!(q.get_nowait(), Ok("a"));
    assert!(!q.full());
    // Unbounded queues are never full.
    let u = Queue::default();
    for i in 0..10_000 {
        u.put_nowait(i).unwrap();
    }
    assert!(!u.full());
    assert_eq!(u.qsize(), 10_000);
    let debug = format!("{:?}", LifoQueue::<u8>::new(3));
    assert!(
        debug.starts_with("LifoQueue { qsize: 0, maxsize: 3,"),
        "{debug}"
    );
}

#[test]
fn put_waits_while_the_queue_is_full_and_resumes_after_a_get() {
    let rt = runtime(2);
    rt.block_on(async {
        let q = Queue::new(1);
        q.put(1).await.unwrap();
        let mut put2 = pin!(q.put(2));
        assert!(
            poll_once(&mut put2).await.is_pending(),
            "put into a full queue"
        );
        let mut put3 = pin!(q.put(3));
        assert!(poll_once(&mut put3).await.is_pending());
        assert_eq!(q.get().await, Ok(1));
        // The freed slot is kept for the first putter, not a newcomer.
        assert!(
            q.put_nowait(9).unwrap_err().is_full(),
            "put_nowait overtook a putter"
        );
        assert!(
            poll_once(&mut put3).await.is_pending(),
            "second putter overtook the first"
        );
        assert!(matches!(poll_once(&mut put2).await, Poll::Ready(Ok(()))));
        assert_eq!(q.get().await, Ok(2));
        assert!(matches!(poll_once(&mut put3).await, Poll::Ready(Ok(()))));
        assert_eq!(q.get().await, Ok(3));
        assert!(q.empty());
    });
}

#[test]
fn waiting_getters_are_served_in_the_order_they_queued() {
    let _wd = watchdog("queue_getters_fifo", 120);
    const GETTERS: usize = 8;
    let rt = runtime(2);
    let q = Arc::new(Queue::new(0));
    let (queued_tx, queued_rx) = mpsc::channel();
    let mut tasks = Vec::new();
    for _ in 0..GETTERS {
        let (q, queued_tx) = (q.clone(), queued_tx.clone());
        tasks.push(rt.spawn(async move {
            let mut get = pin!(q.get());
            assert!(poll_once(&mut get).await.is_pending());
            queued_tx.send(()).unwrap();
            get.await.unwrap()
        }));
        queued_rx.recv_timeout(LONG).expect("getter never queued");
    }
    // Half as many items as getters: the older half is served. (Getters
    // woken together take the promised items in the order they run.)
    for item in 0..GETTERS / 2 {
        q.put_nowait(item).unwrap();
    }
    let later = tasks.split_off(GETTERS / 2);
    let mut first: Vec<usize> = tasks
        .into_iter()
        .map(|t| join_ok(t, "older getter"))
        .collect();
    first.sort_unstable();
    assert_eq!(first, (0..GETTERS / 2).collect::<Vec<_>>());
    assert!(
        later.iter().all(|t| !t.is_finished()),
        "a newer getter was served"
    );
    for item in GETTERS / 2..GETTERS {
        q.put_nowait(item).unwrap();
    }
    let mut second: Vec<usize> = later
        .into_iter()
        .map(|t| join_ok(t, "newer getter"))
        .collect();
    second.sort_unstable();
    assert_eq!(second, (GETTERS / 2..GETTERS).collect::<Vec<_>>());
}

/// Runs `producers` tasks putting disjoint ranges of `per` numbers and
/// `consumers` tasks getting until the queue is shut down; checks that every
/// number arrived exactly once.
macro_rules! exactly_once {
    ($queue:expr, $producers:expr, $consumers:expr, $per:expr) => {{
        let rt = runtime(2);
        let q = Arc::new($queue);
        let consumers: Vec<_> = (0..$consumers)
            .map(|_| {
                let q = q.clone();
                rt.spawn(async move {
                    let mut got = Vec::new();
                    while let Ok(v) = q.get().await {
                        got.push(v);
                        q.task_done();
                    }
                    got
                })
            })
            .collect();
        let producers: Vec<_> = (0..$producers)
            .map(|p| {
                let q = q.clone();
                rt.spawn(async move {
                    for i in 0..$per {
                        q.put(p * $per + i).await.unwrap();
                    }
                })
            })
            .collect();
        for p in producers {
            join_ok(p, "producer");
        }
        let q2 = q.clone();
        join_ok(rt.spawn(async move { q2.join().await }), "join");
        q.shutdown();
        let mut all: Vec<u64> = consumers
            .into_iter()
            .flat_map(|c| join_ok(c, "consumer"))
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..$producers * $per).collect::<Vec<u64>>());
    }};
}

#[test]
fn many_producers_and_consumers_deliver_every_item_exactly_once_through_a_small_queue() {
    let _wd = watchdog("queue_exactly_once", 120);
    exactly_once!(Queue::new(4), 4u64, 4, 2_500u64);
    exactly_once!(Queue::new(0), 4u64, 4, 2_500u64);
}

#[test]
fn lifo_and_priority_queues_deliver_every_item_exactly_once_under_contention() {
    let _wd = watchdog("queue_kinds_exactly_once", 120);
    exactly_once!(LifoQueue::new(3), 4u64, 3, 1_000u64);
    exactly_once!(PriorityQueue::new(3), 4u64, 3, 1_000u64);
}

#[test]
fn join_waits_until_every_item_is_marked_done() {
    let rt = runtime(2);
    rt.block_on(async {
        let q = Queue::new(0);
        assert!(
            poll_once(&mut pin!(q.join())).await.is_ready(),
            "join with nothing put"
        );
        q.put(1).await.unwrap();
        q.put(2).await.unwrap();
        let mut join = pin!(q.join());
        assert!(poll_once(&mut join).await.is_pending());
        q.get().await.unwrap();
        q.get().await.unwrap();
        // Taking the items is not enough: they must be marked done.
        assert!(
            poll_once(&mut join).await.is_pending(),
            "join before task_done"
        );
        q.task_done();
        assert!(
            poll_once(&mut join).await.is_pending(),
            "join after one of two task_done"
        );
        q.task_done();
        assert!(poll_once(&mut join).await.is_ready());
    });
}

#[test]
fn task_done_called_too_often_panics_with_a_clear_message() {
    let q = Queue::new(0);
    q.put_nowait(()).unwrap();
    q.get_nowait().unwrap();
    q.task_done();
    let msg = catch_panic_message(|| q.task_done()).expect("no panic");
    assert!(
        msg.contains("task_done() called more times than there were items put"),
        "{msg}"
    );
    // The queue still works afterwards.
    q.put_nowait(()).unwrap();
    q.task_done();
}

#[test]
fn after_shutdown_gets_drain_what_is_left_then_fail_and_puts_fail() {
    let rt = runtime(2);
    rt.block_on(async {
        let q = Queue::new(0);
        q.put(1).await.unwrap();
        q.put(2).await.unwrap();
        assert!(!q.is_shut_down());
        q.shutdown();
        assert!(q.is_shut_down());
        assert_eq!(q.put(3).await, Err(QueueShutDown(3)));
        let err = q.put_nowait(4).unwrap_err();
        assert!(err.is_shut_down());
        assert_eq!(err.into_inner(), 4);
        assert_eq!(q.get().await, Ok(1));
        assert_eq!(q.get_nowait(), Ok(2));
        assert_eq!(q.get().await, Err(QueueShutDown(())));
        assert_eq!(q.get_nowait(), Err(QueueEmpty::ShutDown));
    });
}

#[test]
fn shutdown_releases_blocked_getters_and_putters_with_the_error() {
    let _wd = watchdog("queue_shutdown_releases", 120);
    let rt = runtime(2);
    let empty = Arc::new(Queue::<u32>::new(0));
    let full = Arc::new(Queue::new(1));
    full.put_nowait(0u32).unwrap();
    let (queued_tx, queued_rx) = mpsc::channel();
    let mut getters = Vec::new();
    let mut putters = Vec::new();
    for i in 0..4u32 {
        let (empty, full, tx) = (empty.clone(), full.clone(), queued_tx.clone());
        getters.push(rt.spawn(async move {
            let mut get = pin!(empty.get());
            assert!(poll_once(&mut get).await.is_pending());
            tx.send(()).unwrap();
            get.await
        }));
        let tx = queued_tx.clone();
        putters.push(rt.spawn(async move {
            let mut put = pin!(full.put(i + 1));
            assert!(poll_once(&mut put).await.is_pending());
            tx.send(()).unwrap();
            put.await
        }));
    }
    for _ in 0..8 {
        queued_rx.recv_timeout(LONG).expect("a waiter never queued");
    }
    empty.shutdown();
    full.shutdown();
    for g in getters {
        assert_eq!(join_ok(g, "getter"), Err(QueueShutDown(())));
    }
    let mut returned: Vec<u32> = putters
        .into_iter()
        .map(|p| join_ok(p, "putter").unwrap_err().into_inner())
        .collect();
    returned.sort_unstable();
    assert_eq!(
        returned,
        [1, 2, 3, 4],
        "blocked putters must get their items back"
    );
    // The item that was in the full queue is still there to drain.
    assert_eq!(full.get_nowait(), Ok(0));
    assert_eq!(full.get_nowait(), Err(QueueEmpty::ShutDown));
}

#[test]
fn shutdown_immediate_drops_the_items_and_releases_join() {
    let rt = runtime(2);
    let drops = Counter::new();
    rt.block_on(async {
        let q = Queue::new(0);
        for _ in 0..3 {
            q.put(DropGuard::new(&drops)).await.unwrap();
        }
        let taken = q.get().await.unwrap(); // one in progress, not yet done
        let mut join = pin!(q.join());
        assert!(poll_once(&mut join).await.is_pending());
        q.shutdown_immediate();
        assert_eq!(drops.get(), 2, "the two queued items were not dropped");
        assert_eq!(q.qsize(), 0);
        assert!(q.get().await.is_err());
        // The item being processed still counts.
        assert!(poll_once(&mut join).await.is_pending());
        drop(taken);
        q.task_done();
        assert!(poll_once(&mut join).await.is_ready());
    });
    assert_eq!(drops.get(), 3);
}

#[test]
fn errors_say_what_happened() {
    let full: QueueFull<u8> = QueueFull::Full(1);
    let shut: QueueFull<u8> = QueueFull::ShutDown(1);
    assert_eq!(full.to_string(), "the queue is full; the item was not put");
    assert_eq!(
        shut.to_string(),
        "the queue is shut down; the item was not put"
    );
    assert_eq!(QueueEmpty::Empty.to_string(), "the queue is empty");
    assert_eq!(
        QueueEmpty::ShutDown.to_string(),
        "the queue is shut down and has no items left"
    );
    assert!(QueueEmpty::Empty.is_empty() && QueueEmpty::ShutDown.is_shut_down());
    assert!(QueueShutDown(()).to_string().contains("shut down"));
    assert_eq!(QueueShutDown(5).into_inner(), 5);
    // Usable as boxed errors even when the item is not Debug.
    struct Opaque;
    let _: Box<dyn std::error::Error> = Box::new(QueueShutDown(Opaque));
    let _: Box<dyn std::error::Error> = Box::new(QueueFull::Full(Opaque));
    assert_eq!(format!("{:?}", QueueFull::Full(Opaque)), "Full(..)");
}
