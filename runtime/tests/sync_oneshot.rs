//! `sync::oneshot`: a value sent on one thread is received on another; a
//! sender dropped without sending gives `RecvError`; a dropped or closed
//! receiver makes `send` hand the value back; `try_recv`, `close`,
//! `closed()`; waker swaps; and thousands of racing pairs on 2 workers with
//! every value accounted for.

mod common;

use aiolos::sync::oneshot::{self, RecvError, TryRecvError};
use common::*;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// A value that counts its drops.
#[derive(Debug)]
struct Tracked(u64, #[allow(dead_code)] DropGuard);

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let c = Arc::new(CountingWaker::default());
    (c.clone(), Waker::from(c))
}

fn assert_send_sync<T: Send + Sync>() {}
fn assert_unpin<T: Unpin>() {}

#[test]
fn halves_and_errors_are_send_sync_like_tokios_and_the_receiver_is_unpin() {
    // `T: Send` suffices (`Cell` is not `Sync`).
    assert_send_sync::<oneshot::Sender<Cell<u32>>>();
    assert_send_sync::<oneshot::Receiver<Cell<u32>>>();
    assert_send_sync::<RecvError>();
    assert_send_sync::<TryRecvError>();
    assert_unpin::<oneshot::Receiver<Cell<u32>>>();
    let e: Box<dyn std::error::Error + Send + Sync> = Box::new(oneshot_recv_error());
    assert!(e.to_string().contains("dropped without sending"), "{e}");
    assert!(TryRecvError::Empty.to_string().contains("empty"));
    assert!(TryRecvError::Closed.to_string().contains("closed"));
}

fn oneshot_recv_error() -> RecvError {
    let (tx, rx) = oneshot::channel::<()>();
    drop(tx);
    simple_block_on(rx).unwrap_err()
}

#[test]
fn a_value_sent_on_another_thread_is_received() {
    let _wd = watchdog("oneshot_cross_thread", 60);
    let rt = runtime(2);
    // From a plain thread to `block_on`.
    let (tx, rx) = oneshot::channel::<String>();
    let t = std::thread::spawn(move || tx.send("hi".to_string()));
    assert_eq!(rt.block_on(rx).as_deref(), Ok("hi"));
    t.join().unwrap().unwrap();
    // From a worker task to a task on the other worker, parked first.
    let (tx, rx) = oneshot::channel::<u64>();
    let receiver = rt.spawn(rx);
    let sender = rt.spawn(async move {
        aiolos::yield_now().await;
        tx.send(42).is_ok()
    });
    assert!(join_ok(sender, "sender"));
    assert_eq!(join_ok(receiver, "receiver"), Ok(42));
}

#[test]
fn pairs_on_plain_threads_deliver_or_report_the_drop() {
    // No runtime at all: threads park between polls (and Miri can run it).
    let _wd = watchdog("oneshot_plain_threads", 120);
    for i in 0..50u64 {
        let (tx, rx) = oneshot::channel::<u64>();
        let t = std::thread::spawn(move || {
            if i.is_multiple_of(3) {
                drop(tx);
            } else {
                tx.send(i).unwrap();
            }
        });
        match simple_block_on(rx) {
            Ok(v) => assert_eq!(v, i),
            Err(_) => assert!(i.is_multiple_of(3), "pair {i}: value lost"),
        }
        t.join().unwrap();
    }
}

#[test]
fn a_sender_dropped_without_sending_gives_recv_error_to_a_parked_receiver() {
    let _wd = watchdog("oneshot_drop_sender", 60);
    let rt = runtime(2);
    let (tx, rx) = oneshot::channel::<u32>();
    let (seen, waker) = counting_waker();
    let mut rx = rx;
    assert!(Pin::new(&mut rx)
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    drop(tx);
    assert_eq!(seen.0.load(SeqCst), 1, "receiver not woken by the drop");
    assert_eq!(simple_block_on(rx), Err(oneshot_recv_error()));
    // The same across workers.
    let (tx, rx) = oneshot::channel::<u32>();
    let receiver = rt.spawn(rx);
    rt.spawn(async move { drop(tx) }).detach();
    assert!(join_ok(receiver, "receiver").is_err());
}

#[test]
fn a_dropped_receiver_makes_send_hand_the_value_back_undropped() {
    let drops = Counter::new();
    let (tx, rx) = oneshot::channel::<Tracked>();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    let back = tx.send(Tracked(5, DropGuard::new(&drops))).unwrap_err();
    assert_eq!(back.0, 5);
    assert_eq!(drops.get(), 0, "the returned value was dropped");
    drop(back);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_receiver_dropped_after_the_send_drops_the_value_once() {
    let drops = Counter::new();
    let (tx, rx) = oneshot::channel::<Tracked>();
    tx.send(Tracked(1, DropGuard::new(&drops))).unwrap();
    assert_eq!(drops.get(), 0);
    drop(rx);
    assert_eq!(drops.get(), 1);
}

#[test]
fn try_recv_reports_empty_then_the_value_then_closed() {
    let (tx, mut rx) = oneshot::channel::<u32>();
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    tx.send(9).unwrap();
    assert_eq!(rx.try_recv(), Ok(9));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    let (tx, mut rx) = oneshot::channel::<u32>();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn close_keeps_a_value_sent_before_and_refuses_one_sent_after() {
    let (tx, mut rx) = oneshot::channel::<u32>();
    tx.send(1).unwrap();
    rx.close();
    assert_eq!(simple_block_on(rx), Ok(1));

    let (tx, mut rx) = oneshot::channel::<u32>();
    rx.close();
    assert!(tx.is_closed());
    assert_eq!(tx.send(2), Err(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    assert!(simple_block_on(rx).is_err());
}

#[test]
fn closed_resolves_when_the_receiver_is_dropped_or_closed() {
    let _wd = watchdog("oneshot_closed", 60);
    let rt = runtime(2);
    for close_instead_of_drop in [false, true] {
        let (mut tx, mut rx) = oneshot::channel::<u32>();
        let watcher = rt.spawn(async move {
            tx.closed().await;
            tx.send(3)
        });
        rt.block_on(aiolos::yield_now());
        if close_instead_of_drop {
            rx.close();
        } else {
            drop(rx);
        }
        assert_eq!(join_ok(watcher, "closed() watcher"), Err(3));
    }
}

#[test]
fn the_receiver_is_woken_through_the_waker_of_its_latest_poll() {
    let (tx, mut rx) = oneshot::channel::<u32>();
    let (first, w1) = counting_waker();
    let (second, w2) = counting_waker();
    assert!(Pin::new(&mut rx)
        .poll(&mut Context::from_waker(&w1))
        .is_pending());
    assert!(Pin::new(&mut rx)
        .poll(&mut Context::from_waker(&w2))
        .is_pending());
    // Re-polling with the same waker keeps it.
    assert!(Pin::new(&mut rx)
        .poll(&mut Context::from_waker(&w2))
        .is_pending());
    tx.send(4).unwrap();
    assert_eq!(first.0.load(SeqCst), 0, "a replaced waker was woken");
    assert_eq!(second.0.load(SeqCst), 1, "the current waker was not woken");
    assert_eq!(
        Pin::new(&mut rx).poll(&mut Context::from_waker(&w2)),
        Poll::Ready(Ok(4))
    );
}

#[test]
fn polling_a_completed_receiver_panics_with_a_clear_message() {
    let (tx, mut rx) = oneshot::channel::<u32>();
    tx.send(1).unwrap();
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Ok(1)));
    let msg = catch_panic_message(|| Pin::new(&mut rx).poll(&mut cx)).expect("no panic");
    assert!(msg.contains("after it completed"), "{msg}");
}

#[test]
fn thousands_of_racing_pairs_on_two_workers_account_for_every_value() {
    let _wd = watchdog("oneshot_hammer", 120);
    const PAIRS: u64 = 20_000;
    let rt = runtime(2);
    let drops = Counter::new();
    let outcomes = rt.block_on({
        let drops = drops.clone();
        async move {
            let mut tasks = Vec::with_capacity(PAIRS as usize);
            for i in 0..PAIRS {
                let (tx, mut rx) = oneshot::channel::<Tracked>();
                let value = Tracked(i, DropGuard::new(&drops));
                let mode = splitmix64(i) % 4;
                // Sender side: send (or drop without sending) on one task...
                let sender = aiolos::spawn(async move {
                    if mode == 3 {
                        drop((tx, value));
                        return None;
                    }
                    aiolos::yield_now().await;
                    Some(tx.send(value).map_err(|v| v.0))
                });
                // ...receiver side: await, poll-then-drop, or close, on another.
                let receiver = aiolos::spawn(async move {
                    match mode {
                        2 => {
                            rx.close();
                            let _ = rx.try_recv();
                            None
                        }
                        1 => {
                            let r = rx.try_recv();
                            drop(rx);
                            r.ok().map(|t| t.0)
                        }
                        _ => rx.await.ok().map(|t| t.0),
                    }
                });
                tasks.push((i, mode, sender, receiver));
            }
            let mut outcomes = [0u64; 4];
            for (i, mode, sender, receiver) in tasks {
                let sent = sender.await.unwrap();
                let got = receiver.await.unwrap();
                match (sent, got) {
                    // Delivered: the receiver got exactly this value.
                    (Some(Ok(())), Some(v)) => {
                        assert_eq!(v, i);
                        outcomes[0] += 1;
                    }
                    // Sent, then dropped unread with the receiver (mode 1/2
                    // only: an awaiting receiver never gives up).
                    (Some(Ok(())), None) => {
                        assert!(mode == 1 || mode == 2, "pair {i}: sent but not received");
                        outcomes[1] += 1;
                    }
                    // Refused: the receiver was gone and got nothing.
                    (Some(Err(v)), None) => {
                        assert_eq!(v, i);
                        assert!(mode == 1 || mode == 2, "pair {i}: refused while awaited");
                        outcomes[2] += 1;
                    }
                    (None, None) => outcomes[3] += 1,
                    (s, g) => panic!("pair {i} (mode {mode}): sent {s:?}, got {g:?}"),
                }
            }
            outcomes
        }
    });
    assert_eq!(outcomes.iter().sum::<u64>(), PAIRS);
    assert!(outcomes[0] > PAIRS / 4, "too few deliveries: {outcomes:?}");
    assert_eq!(
        drops.get() as u64,
        PAIRS,
        "a value leaked or was dropped twice"
    );
}
