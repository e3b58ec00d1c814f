//! The order guarantee the runtime's `call_later` relies on: within one
//! advance, deadlines fire in nondecreasing order and equal deadlines in
//! insertion order, through late inserts, cascades and big jumps.

mod common;

use aiolos_timer::Wheel;
use common::{advance, advance_values, Rng};

#[test]
fn equal_deadlines_fire_in_insertion_order() {
    let mut wheel = Wheel::new();
    for n in 0..100 {
        wheel.insert(777, n);
    }
    assert_eq!(
        advance_values(&mut wheel, 777),
        (0..100).collect::<Vec<_>>()
    );
}

#[test]
fn deadlines_fire_in_order_whatever_the_insertion_order() {
    let mut wheel = Wheel::new();
    let deadlines = [9, 1 << 30, 3, 64, 4096, 63, 1 << 50, 65, 4095, 3];
    for (n, &deadline) in deadlines.iter().enumerate() {
        wheel.insert(deadline, n);
    }
    let fired: Vec<(u64, usize)> = advance(&mut wheel, u64::MAX)
        .into_iter()
        .map(|(_, d, n)| (d, n))
        .collect();
    let mut expected: Vec<(u64, usize)> = deadlines.iter().copied().zip(0..).collect();
    expected.sort();
    assert_eq!(fired, expected);
}

#[test]
fn late_inserts_fire_first_sorted_by_deadline_then_insertion() {
    let mut wheel = Wheel::new();
    advance(&mut wheel, 1000);
    wheel.insert(1001, "future");
    wheel.insert(900, "late 900 a");
    wheel.insert(1000, "due now");
    wheel.insert(5, "late 5");
    wheel.insert(900, "late 900 b");
    assert_eq!(wheel.next_deadline(), Some(1000));
    assert_eq!(
        advance_values(&mut wheel, 1000),
        ["late 5", "late 900 a", "late 900 b", "due now"]
    );
    assert_eq!(advance_values(&mut wheel, 1001), ["future"]);
}

#[test]
fn an_advance_to_the_same_time_fires_entries_inserted_due() {
    let mut wheel = Wheel::new();
    advance(&mut wheel, 50);
    wheel.insert(50, "at now");
    wheel.insert(49, "just past");
    assert_eq!(advance_values(&mut wheel, 50), ["just past", "at now"]);
    // And an advance back in time counts as the same time.
    wheel.insert(10, "past");
    assert_eq!(advance_values(&mut wheel, 0), ["past"]);
    assert_eq!(wheel.now(), 50);
}

#[test]
fn ties_interleaved_with_cascades_keep_insertion_order_in_one_jump() {
    // Entries due at a few shared deadlines, inserted at times spread over
    // the approach so that each tie group spans several levels, then fired
    // by one jump.
    let mut rng = Rng(42);
    let deadlines = [70_000_u64, 70_001, 300_000, 1 << 24];
    let mut wheel = Wheel::new();
    let mut inserted = Vec::new();
    let mut now = 0;
    for n in 0..2000 {
        now += rng.below(30);
        advance(&mut wheel, now);
        let deadline = deadlines[rng.below(deadlines.len() as u64) as usize];
        if deadline > now {
            wheel.insert(deadline, n);
            inserted.push((deadline, n));
        }
    }
    assert!(now < 70_000, "every entry was inserted before its deadline");
    inserted.sort();
    let fired: Vec<(u64, usize)> = advance(&mut wheel, u64::MAX)
        .into_iter()
        .map(|(_, d, n)| (d, n))
        .collect();
    assert_eq!(fired, inserted);
}

#[test]
fn cancelled_entries_leave_the_order_of_the_rest_intact() {
    let mut wheel = Wheel::new();
    let keys: Vec<_> = (0..50).map(|n| wheel.insert(1000 + n % 5, n)).collect();
    for key in keys.iter().step_by(3) {
        wheel.cancel(*key);
    }
    let mut expected: Vec<(u64, u64)> = (0..50)
        .filter(|n| n % 3 != 0)
        .map(|n| (1000 + n % 5, n))
        .collect();
    expected.sort();
    let fired: Vec<(u64, u64)> = advance(&mut wheel, 2000)
        .into_iter()
        .map(|(_, d, n)| (d, n))
        .collect();
    assert_eq!(fired, expected);
}

#[test]
fn late_ties_fire_in_insertion_order_even_in_reused_slots() {
    let mut wheel = Wheel::new();
    // Free two slab slots so that later inserts land at lower indexes.
    let a = wheel.insert(1000, "a");
    wheel.insert(1000, "b");
    let c = wheel.insert(1000, "c");
    wheel.cancel(a);
    wheel.cancel(c);
    advance(&mut wheel, 100);
    // Late inserts out of deadline order force a sort of the due entries.
    wheel.insert(50, "first 50");
    wheel.insert(50, "second 50");
    wheel.insert(10, "10");
    assert_eq!(
        advance_values(&mut wheel, 100),
        ["10", "first 50", "second 50"]
    );
}
