//! Far deadlines (years, 2^40, 2^63, up to `u64::MAX`) and times near
//! `u64::MAX`: no overflow, no panic, and each entry fires exactly on time.

mod common;

use aiolos_timer::Wheel;
use common::{advance, advance_values, chase, YEAR};

/// Deadlines from a year away to the end of time, in increasing order.
const FAR: [u64; 12] = [
    YEAR,
    10 * YEAR,
    1 << 40,
    1000 * YEAR,
    (1 << 60) - 1,
    1 << 60,
    (1 << 60) + 1,
    1 << 63,
    (1 << 63) + 1,
    u64::MAX - 64,
    u64::MAX - 1,
    u64::MAX,
];

#[test]
fn far_deadlines_fire_exactly_when_time_reaches_them() {
    let mut sorted = FAR;
    sorted.sort_unstable();
    assert_eq!(sorted, FAR, "the table is in order");
    let mut wheel = Wheel::new();
    for (n, &deadline) in FAR.iter().enumerate() {
        wheel.insert(deadline, n);
    }
    for (n, &deadline) in FAR.iter().enumerate() {
        assert!(
            advance(&mut wheel, deadline - 1).is_empty(),
            "before {deadline}"
        );
        assert_eq!(wheel.next_deadline(), Some(deadline));
        let fired = advance(&mut wheel, deadline);
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].1, fired[0].2), (deadline, n));
    }
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn chasing_next_deadline_reaches_far_deadlines_in_bounded_steps() {
    let mut wheel = Wheel::new();
    for (n, &deadline) in FAR.iter().enumerate() {
        wheel.insert(deadline, n);
    }
    for (n, &deadline) in FAR.iter().enumerate() {
        // `chase` fails if this takes more than one advance per level.
        let fired = chase(&mut wheel);
        assert_eq!(fired.len(), 1);
        assert_eq!((fired[0].1, fired[0].2), (deadline, n));
        assert_eq!(wheel.now(), deadline, "fired at the deadline, not after");
    }
}

#[test]
fn an_entry_at_u64_max_fires_only_when_time_reaches_u64_max() {
    let mut wheel = Wheel::new();
    let key = wheel.insert(u64::MAX, "end");
    assert!(advance(&mut wheel, u64::MAX - 1).is_empty());
    assert_eq!(wheel.deadline(key), Some(u64::MAX));
    assert_eq!(wheel.next_deadline(), Some(u64::MAX));
    assert_eq!(advance_values(&mut wheel, u64::MAX), ["end"]);
    assert_eq!(wheel.now(), u64::MAX);
}

#[test]
fn one_jump_from_zero_to_u64_max_fires_everything_in_order() {
    let mut wheel = Wheel::new();
    // Insert in reverse so that order comes from the wheel, not from us.
    for (n, &deadline) in FAR.iter().enumerate().rev() {
        wheel.insert(deadline, n);
    }
    wheel.insert(0, usize::MAX);
    let fired = advance(&mut wheel, u64::MAX);
    let deadlines: Vec<u64> = fired.iter().map(|&(_, d, _)| d).collect();
    let mut expected = vec![0];
    expected.extend(FAR);
    assert_eq!(deadlines, expected);
}

#[test]
fn time_near_u64_max_neither_overflows_nor_fires_early() {
    let mut wheel = Wheel::new();
    advance(&mut wheel, u64::MAX - 3);
    wheel.insert(u64::MAX - 2, "max - 2");
    wheel.insert(u64::MAX, "max");
    wheel.insert(u64::MAX - 3, "max - 3, due");
    wheel.insert(0, "zero, due");
    // Something is due, so the answer is now.
    assert_eq!(wheel.next_deadline(), Some(u64::MAX - 3));
    assert_eq!(
        advance_values(&mut wheel, u64::MAX - 3),
        ["zero, due", "max - 3, due"]
    );
    assert_eq!(wheel.next_deadline(), Some(u64::MAX - 2));
    assert_eq!(advance_values(&mut wheel, u64::MAX - 1), ["max - 2"]);
    assert_eq!(wheel.next_deadline(), Some(u64::MAX));
    assert_eq!(advance_values(&mut wheel, u64::MAX), ["max"]);
    // At the end of time, new entries are due at once and fire next.
    wheel.insert(u64::MAX, "after the end");
    assert_eq!(wheel.next_deadline(), Some(u64::MAX));
    assert_eq!(advance_values(&mut wheel, u64::MAX), ["after the end"]);
    assert_eq!(advance_values(&mut wheel, u64::MAX), Vec::<&str>::new());
    assert_eq!(wheel.next_deadline(), None);
    assert_eq!(wheel.now(), u64::MAX);
}

#[test]
fn years_long_jumps_with_timers_in_between_fire_each_on_time() {
    // A reactor that sleeps a year at a time, with daily timers every year.
    let day = 24 * 60 * 60 * 1000;
    let mut wheel = Wheel::new();
    let mut now = 0;
    for year in 1..=50_u64 {
        wheel.insert(year * YEAR + day, year);
        wheel.insert(year * YEAR - day, year);
    }
    for year in 1..=50_u64 {
        now += YEAR;
        let fired = advance(&mut wheel, now);
        assert_eq!(fired.len(), if year == 1 { 1 } else { 2 }, "year {year}");
        for (_, deadline, _) in fired {
            assert!(deadline <= now && deadline > now - YEAR);
        }
    }
    assert_eq!(wheel.len(), 1);
    assert_eq!(
        wheel.next_deadline().map(|t| t <= 50 * YEAR + day),
        Some(true)
    );
}
