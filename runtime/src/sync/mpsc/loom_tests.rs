//! Model checks of the channel protocols under loom (blocks of 2 slots, so
//! three messages cross a block boundary and recycle a block).

use loom::thread;

use crate::loom::model::block_on;

use super::{channel, unbounded};

/// A model builder with a preemption bound that keeps runs short.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.max_branches = 100_000;
    builder.check(f);
}

#[test]
fn two_unbounded_senders_deliver_everything_in_order_across_blocks() {
    model(|| {
        let (tx, mut rx) = unbounded::<u32>();
        let tx2 = tx.clone();
        let a = thread::spawn(move || {
            tx.send(1).unwrap();
            tx.send(2).unwrap();
        });
        let b = thread::spawn(move || {
            tx2.send(11).unwrap();
        });
        let mut got = Vec::new();
        while let Some(v) = block_on(rx.recv()) {
            got.push(v);
        }
        a.join().unwrap();
        b.join().unwrap();
        let from_a: Vec<_> = got.iter().copied().filter(|v| *v < 10).collect();
        let from_b: Vec<_> = got.iter().copied().filter(|v| *v > 10).collect();
        assert_eq!(from_a, [1, 2]);
        assert_eq!(from_b, [11]);
    });
}

#[test]
fn a_sender_waiting_for_room_is_handed_it_by_recv() {
    model(|| {
        let (tx, mut rx) = channel::<u32>(1);
        let t = thread::spawn(move || {
            block_on(tx.send(1)).unwrap();
            block_on(tx.send(2)).unwrap();
            block_on(tx.send(3)).unwrap();
        });
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), Some(2));
        assert_eq!(block_on(rx.recv()), Some(3));
        assert_eq!(block_on(rx.recv()), None);
        t.join().unwrap();
    });
}

#[test]
fn two_senders_queued_for_room_both_get_it() {
    model(|| {
        let (tx, mut rx) = channel::<u32>(1);
        tx.try_send(0).unwrap();
        let tx2 = tx.clone();
        let a = thread::spawn(move || block_on(tx.send(1)).unwrap());
        let b = thread::spawn(move || block_on(tx2.send(2)).unwrap());
        let mut got = [
            block_on(rx.recv()).unwrap(),
            block_on(rx.recv()).unwrap(),
            block_on(rx.recv()).unwrap(),
        ];
        got.sort();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(block_on(rx.recv()), None);
        a.join().unwrap();
        b.join().unwrap();
    });
}

#[test]
fn dropping_the_receiver_fails_a_waiting_sender() {
    model(|| {
        let (tx, rx) = channel::<u32>(1);
        tx.try_send(0).unwrap();
        let t = thread::spawn(move || block_on(tx.send(1)).map_err(|e| e.0));
        drop(rx);
        assert_eq!(t.join().unwrap(), Err(1));
    });
}

#[test]
fn close_racing_a_send_either_delivers_it_or_hands_it_back() {
    model(|| {
        let (tx, mut rx) = channel::<u32>(1);
        let t = thread::spawn(move || block_on(tx.send(7)).is_ok());
        rx.close();
        let got = block_on(rx.recv());
        let sent = t.join().unwrap();
        assert_eq!(got.is_some(), sent);
    });
}
