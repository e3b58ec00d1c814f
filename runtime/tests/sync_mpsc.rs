//! `sync::mpsc`: bounded and unbounded channels. Order and exactly-once
//! delivery under 8 producers on 2 workers, exact capacity, FIFO service of
//! waiting senders, end of stream, `close`, dropping the receiver, the
//! cooperative budget, and cancellation of senders and receivers at random
//! points with every message accounted for afterwards.

mod common;

use aiolos::sync::mpsc::{self, SendError, TryRecvError, TrySendError};
use aiolos::time::timeout;
use common::*;
use std::cell::Cell;
use std::collections::HashSet;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

// ---------------------------------------------------------------- helpers

/// Polls `fut` once with a waker that does nothing (the channels need no
/// runtime, so these tests drive futures by hand, deterministically).
fn poll_now<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// A message that counts its drops.
#[derive(Debug)]
struct Tracked {
    id: u64,
    _guard: DropGuard,
}

fn tracked(id: u64, drops: &Counter) -> Tracked {
    Tracked {
        id,
        _guard: DropGuard::new(drops),
    }
}

// ------------------------------------------------------------ auto traits

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>(_: &T) {}

#[test]
fn handles_errors_and_futures_are_send_and_sync_like_tokios() {
    // `T: Send` suffices, as for tokio's channels (`Cell` is not `Sync`).
    assert_send_sync::<mpsc::Sender<Cell<u32>>>();
    assert_send_sync::<mpsc::Receiver<Cell<u32>>>();
    assert_send_sync::<mpsc::UnboundedSender<Cell<u32>>>();
    assert_send_sync::<mpsc::UnboundedReceiver<Cell<u32>>>();
    assert_send_sync::<SendError<u32>>();
    assert_send_sync::<TrySendError<u32>>();
    assert_send_sync::<TryRecvError>();
    let (tx, mut rx) = mpsc::channel::<Cell<u32>>(1);
    let (utx, _urx) = mpsc::unbounded::<u32>();
    assert_send(&tx.send(Cell::new(1)));
    assert_send(&tx.closed());
    assert_send(&utx.closed());
    assert_send(&rx.recv());
}

#[test]
fn errors_print_without_debug_values_and_give_the_value_back() {
    struct NoDebug(u32);
    let e = SendError(NoDebug(1));
    assert_eq!(format!("{e:?}"), "SendError(..)");
    assert!(e.to_string().contains("closed"), "{e}");
    assert_eq!(e.into_inner().0, 1);
    let full = TrySendError::Full(NoDebug(2));
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert!(full.is_full() && full.to_string().contains("full"));
    assert_eq!(full.into_inner().0, 2);
    let closed = TrySendError::Closed(NoDebug(3));
    assert_eq!(format!("{closed:?}"), "Closed(..)");
    assert!(closed.is_closed());
    assert_eq!(closed.into_inner().0, 3);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(TryRecvError::Empty);
    assert!(boxed.to_string().contains("empty"));
}

// ---------------------------------------------------------------- capacity

#[test]
fn zero_capacity_panics_with_a_message_that_says_what_to_do() {
    let msg = catch_panic_message(|| mpsc::channel::<u32>(0)).expect("no panic");
    assert!(msg.contains("at least 1"), "unclear panic message: {msg}");
}

#[test]
fn with_capacity_k_exactly_k_try_sends_succeed_before_full() {
    for k in [1, 2, 15, 16, 31, 32, 33, 100, 1000] {
        let (tx, mut rx) = mpsc::channel::<usize>(k);
        assert_eq!(tx.max_capacity(), k);
        for round in 0..3 {
            for i in 0..k {
                assert!(
                    tx.try_send(i).is_ok(),
                    "cap {k} round {round}: send {i} refused"
                );
            }
            assert_eq!(tx.capacity(), 0);
            match tx.try_send(k) {
                Err(TrySendError::Full(v)) => assert_eq!(v, k),
                other => panic!("cap {k}: expected Full, got {other:?}"),
            }
            for i in 0..k {
                assert_eq!(rx.try_recv(), Ok(i), "cap {k} round {round}");
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert_eq!(tx.capacity(), k, "room not given back");
        }
    }
}

#[test]
fn sender_blocked_on_a_full_channel_is_woken_by_recv() {
    let _wd = watchdog("blocked_sender_woken", 60);
    let rt = runtime(2);
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        let waiting = Arc::new(AtomicBool::new(false));
        let w = waiting.clone();
        let sender = aiolos::spawn(async move {
            w.store(true, SeqCst);
            tx.send(3).await.unwrap();
            tx.send(4).await.unwrap();
        });
        wait_until_async("the sender to start", || waiting.load(SeqCst)).await;
        for want in 1..=4 {
            assert_eq!(rx.recv().await, Some(want));
        }
        sender.await.unwrap();
        assert_eq!(rx.recv().await, None);
    });
}

/// Yields until `cond` holds (fails after `LONG`).
async fn wait_until_async(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + LONG;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        aiolos::yield_now().await;
    }
}

#[test]
fn waiting_senders_are_served_in_arrival_order_and_try_send_does_not_overtake() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let mut a = pin!(tx.send(1));
    let mut b = pin!(tx.send(2));
    let mut c = pin!(tx.send(3));
    assert!(poll_now(a.as_mut()).is_pending());
    assert!(poll_now(b.as_mut()).is_pending());
    assert!(poll_now(c.as_mut()).is_pending());
    // Room freed while senders wait goes to the oldest, not to try_send.
    assert_eq!(rx.try_recv(), Ok(0));
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    // Polled out of order: c and b must keep waiting, a gets the room.
    assert!(poll_now(c.as_mut()).is_pending());
    assert!(poll_now(b.as_mut()).is_pending());
    assert!(matches!(poll_now(a.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(poll_now(c.as_mut()).is_pending());
    assert!(matches!(poll_now(b.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(2));
    assert!(matches!(poll_now(c.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(tx.capacity(), 1);
}

#[test]
fn a_cancelled_waiting_send_takes_no_room_and_passes_on_a_granted_hand_off() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    {
        // Cancelled while queued: nothing is sent, nothing is taken.
        let mut gone = Box::pin(tx.send(100));
        assert!(poll_now(gone.as_mut()).is_pending());
    }
    let mut a = Box::pin(tx.send(1));
    let mut b = Box::pin(tx.send(2));
    assert!(poll_now(a.as_mut()).is_pending());
    assert!(poll_now(b.as_mut()).is_pending());
    // The room freed here is granted to `a`...
    assert_eq!(rx.try_recv(), Ok(0));
    // ...which is dropped before it uses it: `b` must get it instead.
    drop(a);
    assert!(matches!(poll_now(b.as_mut()), Poll::Ready(Ok(()))));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    // A granted hand-off dropped with nobody waiting goes back to the pool.
    tx.try_send(3).unwrap();
    let mut c = Box::pin(tx.send(4));
    assert!(poll_now(c.as_mut()).is_pending());
    assert_eq!(rx.try_recv(), Ok(3));
    drop(c);
    assert_eq!(tx.capacity(), 1, "a dropped hand-off was lost");
    assert!(tx.try_send(5).is_ok());
}

#[test]
fn a_dropped_recv_future_never_swallows_a_message() {
    let (tx, mut rx) = mpsc::channel::<u32>(4);
    {
        // Parked, then the message arrives, then the future is dropped
        // without being polled again.
        let mut r = pin!(rx.recv());
        assert!(poll_now(r.as_mut()).is_pending());
        tx.try_send(7).unwrap();
    }
    assert_eq!(rx.try_recv(), Ok(7));
}

// ------------------------------------------------------ order and delivery

#[test]
fn messages_from_one_sender_arrive_in_order_across_many_blocks() {
    let _wd = watchdog("one_sender_order", 60);
    let rt = runtime(2);
    let (tx, mut rx) = mpsc::channel::<u32>(7);
    let producer = rt.spawn(async move {
        for i in 0..20_000 {
            tx.send(i).await.unwrap();
        }
    });
    let got = rt.block_on(async move {
        let mut next = 0;
        while let Some(i) = rx.recv().await {
            assert_eq!(i, next, "out of order");
            next += 1;
        }
        next
    });
    assert_eq!(got, 20_000);
    join_ok(producer, "producer");
}

/// 8 producers of `per` messages each on 2 workers into one consumer task:
/// every message exactly once, each producer's in order.
fn fan_in(bounded: Option<usize>, per: u64) {
    const PRODUCERS: u64 = 8;
    let rt = runtime(2);
    let total = rt.block_on(async move {
        let (btx, brx) = mpsc::channel::<u64>(bounded.unwrap_or(1));
        let (utx, urx) = mpsc::unbounded::<u64>();
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let (btx, utx) = (btx.clone(), utx.clone());
            producers.push(aiolos::spawn(async move {
                for i in 0..per {
                    let msg = p << 32 | i;
                    if bounded.is_some() {
                        btx.send(msg).await.unwrap();
                    } else {
                        utx.send(msg).unwrap();
                        if i.is_multiple_of(64) {
                            aiolos::yield_now().await;
                        }
                    }
                }
            }));
        }
        drop((btx, utx));
        let consumer = aiolos::spawn(async move {
            let (mut brx, mut urx) = (brx, urx);
            let mut next = [0u64; PRODUCERS as usize];
            let mut count = 0u64;
            loop {
                let msg = if bounded.is_some() {
                    brx.recv().await
                } else {
                    urx.recv().await
                };
                let Some(msg) = msg else { break };
                let (p, i) = ((msg >> 32) as usize, msg & 0xffff_ffff);
                assert_eq!(i, next[p], "producer {p}: duplicate, loss or reordering");
                next[p] += 1;
                count += 1;
            }
            assert!(next.iter().all(|&n| n == per), "missing messages: {next:?}");
            count
        });
        for p in producers {
            p.await.unwrap();
        }
        consumer.await.unwrap()
    });
    assert_eq!(total, PRODUCERS * per);
}

#[test]
fn senders_on_plain_threads_reach_a_receiver_parked_on_another() {
    // No runtime at all: threads park between polls (and Miri can run it).
    let _wd = watchdog("plain_threads", 120);
    let (tx, mut rx) = mpsc::channel::<(usize, u32)>(4);
    let threads: Vec<_> = (0..3)
        .map(|p| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    simple_block_on(tx.send((p, i))).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut next = [0u32; 3];
    while let Some((p, i)) = simple_block_on(rx.recv()) {
        assert_eq!(i, next[p], "producer {p} out of order");
        next[p] += 1;
    }
    assert_eq!(next, [100; 3]);
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn capacity_one_hand_offs_between_plain_threads_never_strand_the_receiver() {
    // The scenario of the loom model `a_sender_waiting_for_room_is_handed_it_by_recv`
    // (every message but the first waits for the room `recv` hands back,
    // then the senders leave) on real threads, many times over. A lost
    // wake-up strands one side: the receiver gives up after `LONG`, a stuck
    // sender trips the watchdog. (The narrow race the loom model reaches,
    // the receiver registering while a sender is inside `AtomicWaker::wake`,
    // is too short to be hit here; `rx_waker.rs` tests that step directly.)
    const ROUNDS: u32 = 500;
    const PER_SENDER: u32 = 50;
    const SENDERS: usize = 2;
    let _wd = watchdog("capacity_one_hand_offs", 240);
    for round in 0..ROUNDS {
        let (tx, mut rx) = mpsc::channel::<(usize, u32)>(1);
        let senders: Vec<_> = (0..SENDERS)
            .map(|p| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..PER_SENDER {
                        simple_block_on(tx.send((p, i))).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u32; SENDERS];
        loop {
            let got = block_on_within(rx.recv(), LONG).unwrap_or_else(|| {
                panic!("round {round}: receiver stranded after {next:?} (lost wake-up)")
            });
            let Some((p, i)) = got else { break };
            assert_eq!(i, next[p], "round {round}: sender {p} out of order");
            next[p] += 1;
        }
        assert_eq!(next, [PER_SENDER; SENDERS], "round {round}: lost messages");
        senders.into_iter().for_each(|t| t.join().unwrap());
    }
}

#[test]
fn eight_producers_on_two_workers_bounded_every_message_once_in_order() {
    let _wd = watchdog("fan_in_bounded", 120);
    fan_in(Some(1024), 20_000);
    fan_in(Some(3), 5_000);
}

#[test]
fn eight_producers_on_two_workers_unbounded_every_message_once_in_order() {
    let _wd = watchdog("fan_in_unbounded", 120);
    fan_in(None, 20_000);
}

#[test]
fn receiver_is_a_stream_of_the_messages() {
    use futures::StreamExt;
    let rt = runtime(2);
    rt.block_on(async {
        let (tx, rx) = mpsc::unbounded();
        for i in 0..100u32 {
            tx.send(i).unwrap();
        }
        drop(tx);
        let all: Vec<u32> = rx.collect().await;
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let (tx, rx) = mpsc::channel(4);
        aiolos::spawn(async move {
            for i in 0..50u32 {
                tx.send(i).await.unwrap();
            }
        });
        assert_eq!(rx.fold(0, |a, b| async move { a + b }).await, 1225);
    });
}

// ------------------------------------------------------- end and closing

#[test]
fn recv_returns_none_once_all_senders_drop_after_the_buffer_is_drained() {
    let rt = runtime(2);
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(8);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.send(2).await.unwrap();
        drop(tx);
        assert!(!rx.is_closed(), "a sender is still alive");
        let last = aiolos::spawn(async move {
            tx2.send(3).await.unwrap();
        });
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, Some(3));
        last.await.unwrap();
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.recv().await, None, "None is not sticky");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert!(rx.is_closed());

        // A receiver parked on an empty channel is woken by the last drop.
        let (tx, mut rx) = mpsc::unbounded::<u32>();
        let waiter = aiolos::spawn(async move { rx.recv().await });
        aiolos::yield_now().await;
        drop(tx);
        assert_eq!(waiter.await.unwrap(), None);
    });
}

#[test]
fn close_fails_senders_while_buffered_messages_are_still_received() {
    let rt = runtime(2);
    rt.block_on(async {
        let (tx, mut rx) = mpsc::channel::<u32>(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        // A sender waiting for room is woken with its value back.
        let started = Arc::new(AtomicBool::new(false));
        let (tx2, st) = (tx.clone(), started.clone());
        let blocked = aiolos::spawn(async move {
            st.store(true, SeqCst);
            tx2.send(3).await.map_err(|e| e.0)
        });
        wait_until_async("the blocked sender", || started.load(SeqCst)).await;
        aiolos::yield_now().await;
        let closer = {
            let tx = tx.clone();
            aiolos::spawn(async move { tx.closed().await })
        };
        rx.close();
        assert_eq!(blocked.await.unwrap(), Err(3));
        closer.await.unwrap();
        assert!(tx.is_closed());
        assert!(matches!(tx.try_send(4), Err(TrySendError::Closed(4))));
        assert_eq!(tx.send(5).await.map_err(|e| e.0), Err(5));
        // Though a sender is alive, the stream ends after the buffer.
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);

        let (utx, mut urx) = mpsc::unbounded::<u32>();
        utx.send(1).unwrap();
        urx.close();
        assert_eq!(utx.send(2).map_err(|e| e.0), Err(2));
        assert_eq!(urx.recv().await, Some(1));
        assert_eq!(urx.recv().await, None);
    });
}

#[test]
fn dropping_the_receiver_drops_buffered_messages_and_fails_waiting_senders() {
    let _wd = watchdog("drop_receiver", 60);
    let rt = runtime(2);
    let drops = Counter::new();
    let d = drops.clone();
    rt.block_on(async move {
        let (tx, rx) = mpsc::channel::<Tracked>(3);
        for i in 0..3 {
            tx.send(tracked(i, &d)).await.unwrap();
        }
        let started = Arc::new(AtomicBool::new(false));
        let (tx2, s) = (tx.clone(), started.clone());
        let d2 = d.clone();
        let blocked = aiolos::spawn(async move {
            s.store(true, SeqCst);
            // Hand the message back undropped, so that the drop count
            // below does not race with this task.
            match tx2.send(tracked(99, &d2)).await {
                Err(SendError(v)) => v,
                Ok(()) => panic!("sent into a dropped receiver"),
            }
        });
        wait_until_async("the blocked sender", || started.load(SeqCst)).await;
        aiolos::yield_now().await;
        assert_eq!(d.get(), 0);
        drop(rx);
        assert_eq!(
            d.get(),
            3,
            "buffered messages not dropped with the receiver"
        );
        let back = blocked.await.unwrap();
        assert_eq!(back.id, 99, "waiting sender not failed");
        assert_eq!(
            d.get(),
            3,
            "the refused message was dropped, not handed back"
        );
        drop(back);
        assert_eq!(d.get(), 4);
        assert!(tx.is_closed());
        tx.closed().await;
        assert!(matches!(
            tx.try_send(tracked(5, &d)),
            Err(TrySendError::Closed(_))
        ));
        assert_eq!(d.get(), 5);

        let (utx, urx) = mpsc::unbounded::<Tracked>();
        utx.send(tracked(6, &d)).unwrap();
        drop(urx);
        assert_eq!(d.get(), 6);
        assert!(utx.send(tracked(7, &d)).is_err());
        assert_eq!(d.get(), 7);
    });
    assert_eq!(drops.get(), 7);
}

#[test]
fn messages_left_in_the_channel_are_dropped_exactly_once() {
    let drops = Counter::new();
    {
        let (tx, rx) = mpsc::unbounded::<Tracked>();
        // Enough to span several blocks, some of them recycled.
        for i in 0..200 {
            tx.send(tracked(i, &drops)).unwrap();
        }
        let mut rx = rx;
        for _ in 0..70 {
            drop(rx.try_recv().unwrap());
        }
        assert_eq!(drops.get(), 70);
        drop(rx);
        assert_eq!(drops.get(), 200);
    }
    {
        // Receiver dropped first, sender still pushing (and failing).
        let (tx, rx) = mpsc::channel::<Tracked>(64);
        for i in 0..40 {
            tx.try_send(tracked(i, &drops)).unwrap();
        }
        drop(tx);
        drop(rx);
    }
    assert_eq!(drops.get(), 240);
}

#[test]
fn large_messages_need_no_large_stack() {
    // A block holds 32 messages: built on the stack, a block of these would
    // need 2 MiB, more than this thread has. (The stack left is still
    // generous, since debug builds copy a message many times on its way.)
    const SIZE: usize = 64 * 1024;
    let t = std::thread::Builder::new()
        .stack_size(35 * SIZE)
        .spawn(|| {
            let (tx, mut rx) = mpsc::unbounded::<[u8; SIZE]>();
            for i in 0..40u8 {
                tx.send([i; SIZE]).unwrap();
            }
            let (btx, mut brx) = mpsc::channel::<[u8; SIZE]>(40);
            for i in 0..40u8 {
                let m = rx.try_recv().unwrap();
                assert!(m.iter().all(|&b| b == i));
                btx.try_send(m).unwrap();
            }
            (0..40u8).all(|i| brx.try_recv().is_ok_and(|m| m[SIZE - 1] == i))
        })
        .unwrap();
    assert!(t.join().unwrap());
}

// ---------------------------------------------------- cooperative budget

#[test]
fn an_always_ready_channel_still_yields_to_other_tasks() {
    let _wd = watchdog("channel_budget", 60);
    let rt = runtime(1);
    // Receiving: the flag task spawned after the first message can only run
    // if the consumer yields before it has drained all 50 000.
    let drained = rt.block_on(async {
        let (tx, mut rx) = mpsc::unbounded::<u32>();
        for i in 0..50_000 {
            tx.send(i).unwrap();
        }
        aiolos::spawn(async move {
            let flag = Arc::new(AtomicBool::new(false));
            rx.recv().await.unwrap();
            let f = flag.clone();
            aiolos::spawn(async move { f.store(true, SeqCst) }).detach();
            let mut n = 1;
            while !flag.load(SeqCst) && rx.recv().await.is_some() {
                n += 1;
            }
            n
        })
        .await
        .unwrap()
    });
    assert!(drained < 50_000, "the receiving task never yielded");
    // Sending into a channel with room to spare.
    let sent = rt.block_on(async {
        let (tx, rx) = mpsc::channel::<u32>(100_000);
        let sent = aiolos::spawn(async move {
            let flag = Arc::new(AtomicBool::new(false));
            tx.send(0).await.unwrap();
            let f = flag.clone();
            aiolos::spawn(async move { f.store(true, SeqCst) }).detach();
            let mut n = 1;
            while !flag.load(SeqCst) && n < 50_000 {
                tx.send(n).await.unwrap();
                n += 1;
            }
            n
        })
        .await
        .unwrap();
        drop(rx);
        sent
    });
    assert!(sent < 50_000, "the sending task never yielded");
}

// ------------------------------------------------------------ cancellation

/// Everything the storm test needs to account for each message.
#[derive(Default)]
struct Ledger {
    /// Ids whose `send` returned `Ok`.
    sent: Mutex<Vec<u64>>,
    /// Ids the consumer received.
    received: Mutex<Vec<u64>>,
}

#[test]
fn senders_and_receivers_cancelled_at_random_points_lose_and_duplicate_nothing() {
    let _wd = watchdog("cancellation_storm", 120);
    const CAP: usize = 8;
    const PRODUCERS: u64 = 8;
    const ATTEMPTS: u64 = 1_500;
    let rt = runtime(2);
    let drops = Counter::new();
    let created = Arc::new(AtomicUsize::new(0));
    let ledger = Arc::new(Ledger::default());
    let (d, c, l) = (drops.clone(), created.clone(), ledger.clone());
    rt.block_on(async move {
        let (tx, rx) = mpsc::channel::<Tracked>(CAP);
        let stop = Arc::new(AtomicBool::new(false));
        // The consumer receives under tiny timeouts (dropping recv futures at
        // random points) and hands the receiver back when told to stop.
        let consumer = {
            let (l, stop) = (l.clone(), stop.clone());
            aiolos::spawn(async move {
                let mut rx = rx;
                let mut i = 0u64;
                while !stop.load(SeqCst) {
                    i += 1;
                    let limit = Duration::from_micros(splitmix64(i) % 300);
                    if let Ok(Some(msg)) = timeout(limit, rx.recv()).await {
                        l.received.lock().unwrap().push(msg.id);
                    }
                }
                rx
            })
        };
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let (tx, l, d, c) = (tx.clone(), l.clone(), d.clone(), c.clone());
            producers.push(aiolos::spawn(async move {
                for i in 0..ATTEMPTS {
                    let id = p << 32 | i;
                    let r = splitmix64(id);
                    c.fetch_add(1, SeqCst);
                    let msg = tracked(id, &d);
                    let ok = match r % 4 {
                        0 => tx.try_send(msg).is_ok(),
                        1 => tx.send(msg).await.is_ok(),
                        _ => {
                            let limit = Duration::from_micros((r >> 8) % 200);
                            matches!(timeout(limit, tx.send(msg)).await, Ok(Ok(())))
                        }
                    };
                    // No await between the outcome and the record, so a
                    // task cancel cannot fall in between.
                    if ok {
                        l.sent.lock().unwrap().push(id);
                    }
                }
            }));
        }
        // Cancel two producers part-way, whatever they are doing.
        for (k, victim) in [1usize, 5].into_iter().enumerate() {
            let want = 200 * (k + 1);
            while l.sent.lock().unwrap().len() < want {
                aiolos::yield_now().await;
            }
            producers[victim].cancel();
        }
        for p in producers {
            match p.await {
                Ok(()) => {}
                Err(e) => assert!(e.is_cancelled(), "producer failed: {e}"),
            }
        }
        stop.store(true, SeqCst);
        let mut rx = consumer.await.unwrap();
        // Drain what is still buffered.
        let mut buffered = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(msg) => buffered.push(msg.id),
                Err(TryRecvError::Empty) => break,
                Err(e) => panic!("{e}: a sender is still alive"),
            }
        }
        let sent: HashSet<u64> = l.sent.lock().unwrap().iter().copied().collect();
        let received = l.received.lock().unwrap().clone();
        let mut seen = HashSet::new();
        for id in received.iter().chain(&buffered) {
            assert!(seen.insert(*id), "message {id:#x} delivered twice");
        }
        assert_eq!(
            seen,
            sent,
            "delivered != sent-ok ({} received, {} buffered, {} sent)",
            received.len(),
            buffered.len(),
            sent.len()
        );
        assert!(received.len() > 100, "the storm hardly ran");
        // All room is back: exactly CAP sends fit into the emptied channel.
        assert_eq!(tx.capacity(), CAP, "room leaked by a cancelled sender");
        for i in 0..CAP as u64 {
            c.fetch_add(1, SeqCst);
            assert!(
                tx.try_send(tracked(u64::MAX - i, &d)).is_ok(),
                "room {i} lost"
            );
        }
        c.fetch_add(1, SeqCst);
        assert!(tx.try_send(tracked(0, &d)).unwrap_err().is_full());
    });
    assert_eq!(
        drops.get(),
        created.load(SeqCst),
        "a message was leaked or dropped twice"
    );
}

#[test]
fn cancelled_waiting_senders_hand_room_on_so_the_others_finish() {
    // Many senders queue on a channel of one slot; half of them are
    // cancelled while waiting or just after being granted room. The rest
    // must all complete: a hand-off lost on a cancel would hang them.
    let _wd = watchdog("cancelled_waiters_hand_off", 120);
    let rt = runtime(2);
    rt.block_on(async {
        for round in 0..20u64 {
            let (tx, mut rx) = mpsc::channel::<u64>(1);
            let mut tasks = Vec::new();
            for s in 0..16u64 {
                let tx = tx.clone();
                tasks.push(aiolos::spawn(async move {
                    for i in 0..50 {
                        tx.send(s << 32 | i).await.unwrap();
                    }
                }));
            }
            drop(tx);
            let mut got = 0u64;
            let mut cancelled = HashSet::new();
            while let Some(_msg) = rx.recv().await {
                got += 1;
                let r = splitmix64(round << 20 | got);
                if r.is_multiple_of(7) {
                    let victim = (r >> 8) as usize % tasks.len();
                    if tasks[victim].cancel() {
                        cancelled.insert(victim);
                    }
                }
            }
            for (i, t) in tasks.into_iter().enumerate() {
                match t.await {
                    Ok(()) => {}
                    Err(e) => assert!(cancelled.contains(&i) && e.is_cancelled(), "{e}"),
                }
            }
            let finished = 16 - cancelled.len() as u64;
            assert!(got >= finished * 50, "round {round}: only {got} messages");
        }
    });
}
