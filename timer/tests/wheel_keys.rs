//! Keys: they name exactly one entry for its lifetime, and stale keys (of
//! fired or cancelled entries) never reach a newer entry that reuses the slot.

mod common;

use aiolos_timer::{Key, Wheel};
use common::advance;

/// The slab index a key names, read from its `Debug` form, to prove that a
/// test really reused a slot.
fn index_of(key: Key) -> String {
    let text = format!("{key:?}");
    let start = text.find("index: ").expect("Key's Debug shows its index");
    text[start..].split(',').next().unwrap().to_owned()
}

#[test]
fn cancel_after_cancel_returns_none() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(10, "a");
    assert_eq!(wheel.cancel(key), Some("a"));
    assert_eq!(wheel.cancel(key), None);
    assert_eq!(wheel.deadline(key), None);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn cancel_after_fire_returns_none() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(10, "a");
    assert_eq!(advance(&mut wheel, 10).len(), 1);
    assert_eq!(wheel.cancel(key), None);
    assert_eq!(wheel.deadline(key), None);
}

#[test]
fn a_stale_key_never_cancels_a_newer_entry_in_the_same_slot() {
    let mut wheel = Wheel::new();
    let cancelled = wheel.insert(10, "cancelled");
    wheel.cancel(cancelled);
    let newer = wheel.insert(20, "newer");
    assert_eq!(index_of(newer), index_of(cancelled), "the slot was reused");
    assert_ne!(newer, cancelled);
    assert_eq!(wheel.cancel(cancelled), None);
    assert_eq!(wheel.deadline(cancelled), None);
    assert_eq!(wheel.deadline(newer), Some(20));
    assert_eq!(wheel.len(), 1);

    // The same after a fire: the fired key cannot reach the next entry.
    advance(&mut wheel, 20);
    let newest = wheel.insert(30, "newest");
    assert_eq!(index_of(newest), index_of(newer), "the slot was reused");
    assert_eq!(wheel.cancel(newer), None);
    assert_eq!(wheel.cancel(cancelled), None);
    let fired = advance(&mut wheel, 30);
    assert_eq!(fired, [(newest, 30, "newest")]);
}

#[test]
fn a_slot_reused_many_times_gives_a_distinct_key_each_time() {
    let mut wheel = Wheel::new();
    let mut old = Vec::new();
    for round in 0..1000_u64 {
        let key = wheel.insert(round, round);
        for &stale in &old {
            assert_eq!(wheel.deadline(stale), None);
        }
        assert!(!old.contains(&key));
        if round % 2 == 0 {
            assert_eq!(wheel.cancel(key), Some(round));
        } else {
            assert_eq!(advance(&mut wheel, round), [(key, round, round)]);
        }
        if round % 100 == 0 {
            old.push(key);
        }
    }
}

#[test]
fn cancel_works_wherever_the_entry_is_filed() {
    let mut wheel = Wheel::new();
    advance(&mut wheel, 1000);
    // Pending (already due), level 0, level 1, a high level, the top level.
    let deadlines = [5, 1000, 1001, 1100, 1 << 40, u64::MAX];
    let keys: Vec<Key> = deadlines.iter().map(|&d| wheel.insert(d, d)).collect();
    // Cancel every other one, then the rest fire in order.
    for (&key, &deadline) in keys.iter().zip(&deadlines).step_by(2) {
        assert_eq!(wheel.cancel(key), Some(deadline));
    }
    assert_eq!(wheel.len(), 3);
    let fired: Vec<u64> = advance(&mut wheel, u64::MAX).iter().map(|f| f.2).collect();
    assert_eq!(fired, [1000, 1100, u64::MAX]);
}

#[test]
fn cancel_works_after_an_entry_cascaded_down() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(100_000, "far");
    let other = wheel.insert(100_000, "tie");
    // Reach the slot of 100_000 on each level in turn, cancelling in between.
    advance(&mut wheel, 98_304); // 24 * 4096: level 1 now
    advance(&mut wheel, 99_968); // 1562 * 64: level 0 now
    assert_eq!(wheel.deadline(key), Some(100_000));
    assert_eq!(wheel.cancel(key), Some("far"));
    assert_eq!(wheel.cancel(key), None);
    assert_eq!(advance(&mut wheel, 100_000), [(other, 100_000, "tie")]);
}
