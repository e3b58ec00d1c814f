//! Deadlines on and around level boundaries (`64^k` and its neighbours) fire
//! exactly at their deadline, whatever the wheel's time when they were filed.

mod common;

use aiolos_timer::Wheel;
use common::{advance, chase, LEVELS};

/// `64^k` for every level whose slots start inside the `u64` range.
fn level_spans() -> Vec<u64> {
    (0..LEVELS as u32).map(|k| 1_u64 << (6 * k)).collect()
}

/// Deadlines around each level boundary: `64^k - 1`, `64^k`, `64^k + 1`, the
/// second slot's edges, and the end of the level's first turn.
fn boundary_deadlines() -> Vec<u64> {
    let mut deadlines = vec![63, 64, 4095, 4096];
    for span in level_spans() {
        for candidate in [
            Some(span - 1),
            Some(span),
            span.checked_add(1),
            span.checked_mul(2).map(|t| t - 1),
            span.checked_mul(2),
            span.checked_mul(63),
            span.checked_mul(64).map(|t| t - 1),
        ] {
            deadlines.extend(candidate.filter(|&t| t > 0));
        }
    }
    deadlines
}

/// Inserts `deadlines` (after moving time to `start`), then checks that
/// each distinct deadline fires exactly when time reaches it, with its ties
/// in insertion order, and never one millisecond earlier.
fn assert_each_fires_on_time(start: u64, deadlines: &[u64]) {
    let mut wheel = Wheel::new();
    advance(&mut wheel, start);
    for (n, &deadline) in deadlines.iter().enumerate() {
        wheel.insert(deadline, n);
    }
    let mut expected: Vec<(u64, usize)> = deadlines.iter().copied().zip(0..).collect();
    expected.sort();
    expected.dedup_by_key(|&mut (deadline, _)| deadline);
    for (deadline, _) in expected {
        let ties: Vec<usize> = (0..deadlines.len())
            .filter(|&n| deadlines[n] == deadline)
            .collect();
        if deadline > start + 1 {
            assert!(
                advance(&mut wheel, deadline - 1).is_empty(),
                "fired before {deadline}"
            );
            assert_eq!(wheel.next_deadline(), Some(deadline));
        }
        let fired = advance(&mut wheel, deadline);
        let values: Vec<usize> = fired.iter().map(|&(_, _, n)| n).collect();
        assert_eq!(values, ties, "entries due at {deadline}");
        assert!(fired.iter().all(|&(_, d, _)| d == deadline));
    }
    assert!(wheel.is_empty());
}

#[test]
fn boundary_deadlines_fire_exactly_on_time_from_zero() {
    assert_each_fires_on_time(0, &boundary_deadlines());
}

#[test]
fn boundary_deadlines_fire_exactly_on_time_from_an_unaligned_time() {
    let start = 12_345_678_901;
    let deadlines: Vec<u64> = level_spans()
        .into_iter()
        .flat_map(|span| [start + span - 1, start + span, start + span + 1])
        .filter(|&t| t > start)
        .collect();
    assert_each_fires_on_time(start, &deadlines);
}

#[test]
fn one_millisecond_ahead_across_each_boundary_is_due_next() {
    for span in level_spans() {
        // Time sits just before a boundary, so the next millisecond differs
        // from it in every bit up to that level.
        let now = span - 1;
        let mut wheel = Wheel::new();
        advance(&mut wheel, now);
        let key = wheel.insert(now + 1, ());
        assert_eq!(wheel.next_deadline(), Some(now + 1));
        assert!(advance(&mut wheel, now).is_empty());
        let fired = advance(&mut wheel, now + 1);
        assert_eq!(fired.len(), 1, "deadline {}", now + 1);
        assert_eq!(fired[0].0, key);
    }
}

#[test]
fn chasing_next_deadline_reaches_boundary_deadlines_one_level_at_a_time() {
    for span in level_spans() {
        for deadline in [span - 1, span, span + 1] {
            if deadline == 0 {
                continue;
            }
            let mut wheel = Wheel::new();
            wheel.insert(deadline, deadline);
            let fired = chase(&mut wheel);
            assert_eq!(fired.len(), 1);
            assert_eq!(fired[0].1, deadline);
            assert_eq!(wheel.now(), deadline, "fired late or early");
        }
    }
}

#[test]
fn equal_deadlines_filed_on_different_levels_fire_in_insertion_order() {
    // 5000 is in level 2's slot 1 ([4096, 8192)) until time reaches 4096,
    // then in level 1's slot 14 ([4992, 5056)) until 4992, then on level 0:
    // insert one entry due at 5000 at times on each side of those cascades.
    let deadline = 5000;
    let mut wheel = Wheel::new();
    let mut keys = Vec::new();
    for now in [0, 1, 4000, 4095, 4096, 4500, 4991, 4992, 4999] {
        advance(&mut wheel, now);
        keys.push(wheel.insert(deadline, now));
    }
    let fired = advance(&mut wheel, deadline);
    let order: Vec<_> = fired.iter().map(|&(key, _, _)| key).collect();
    assert_eq!(order, keys);
}
