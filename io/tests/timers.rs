//! `Timers`: exact deadlines over millisecond slots. Every entry fires once,
//! never before its deadline, in deadline order (equal deadlines in insertion
//! order); cancelled entries never fire, also once they are imminent.

use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

use aiolos_io::{Fired, TimerEntry, Timers};

const MS: u64 = 1_000_000;

/// Records its number when woken.
struct Tag(usize, Arc<Mutex<Vec<usize>>>);

impl Wake for Tag {
    fn wake(self: Arc<Self>) {
        self.1.lock().unwrap().push(self.0);
    }
}

fn splitmix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn entries_fire_once_in_deadline_order_never_early() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut timers = Timers::new(0);
    // 5,000 deadlines within 0..50 ms at nanosecond precision, some equal.
    let deadlines: Vec<u64> = (0..5_000u64)
        .map(|i| {
            if i % 7 == 0 {
                25 * MS + 123
            } else {
                splitmix(i) % (50 * MS)
            }
        })
        .collect();
    let entries: Vec<_> = deadlines
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let e = Arc::new(TimerEntry::new(d));
            let waker = Waker::from(Arc::new(Tag(i, order.clone())));
            assert_eq!(e.poll_fired(&waker), Fired::No);
            timers.insert(&e);
            e
        })
        .collect();
    // Cancel every 11th (by number): they must never fire.
    for (i, e) in entries.iter().enumerate() {
        if i % 11 == 5 {
            assert_eq!(e.cancel(), Some(0));
            timers.remove(e);
        }
    }
    // Look at irregular times, as a busy worker would.
    let mut now = 0;
    let mut fired = Vec::new();
    while now < 51 * MS {
        timers.fire(now, &mut fired);
        for w in fired.drain(..) {
            w.wake();
        }
        // Nothing due is left, and nothing fired early.
        for (i, e) in entries.iter().enumerate() {
            if e.is_fired() {
                assert!(deadlines[i] <= now, "entry {i} fired early");
            } else if !e.is_cancelled() {
                assert!(deadlines[i] > now, "entry {i} is overdue at {now}");
            }
        }
        now += 1 + splitmix(now) % (700_000);
    }
    let order = order.lock().unwrap();
    let want: Vec<usize> = {
        let mut v: Vec<usize> = (0..deadlines.len()).filter(|i| i % 11 != 5).collect();
        v.sort_by_key(|&i| (deadlines[i], i));
        v
    };
    assert_eq!(*order, want);
    assert!(timers.is_empty());
    assert_eq!(timers.next_deadline(), None);
}

#[test]
fn next_deadline_is_exact_once_imminent_and_an_imminent_cancel_never_fires() {
    let mut timers = Timers::new(0);
    let a = Arc::new(TimerEntry::new(7 * MS + 250_000));
    let b = Arc::new(TimerEntry::new(7 * MS + 500_000));
    for e in [&a, &b] {
        assert_eq!(e.poll_fired(Waker::noop()), Fired::No);
        timers.insert(e);
    }
    // In the wheel: looked at from the millisecond before their slot (8).
    assert_eq!(timers.next_deadline(), Some(7 * MS));
    let mut fired = Vec::new();
    timers.fire(7 * MS, &mut fired);
    assert!(fired.is_empty());
    // Imminent: the exact deadline.
    assert_eq!(timers.next_deadline(), Some(7 * MS + 250_000));
    assert_eq!(a.cancel(), Some(0));
    timers.remove(&a);
    timers.fire(7 * MS + 300_000, &mut fired);
    assert!(fired.is_empty(), "a cancelled imminent entry fired");
    assert!(!a.is_fired());
    timers.fire(7 * MS + 500_000, &mut fired);
    assert_eq!(fired.len(), 1);
    assert!(b.is_fired());
    assert!(timers.is_empty());
}
