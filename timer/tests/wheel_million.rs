//! Scale: a million entries with random deadlines fire in deadline order,
//! ties in insertion order, with none lost or repeated, through one big jump
//! and through many small steps.

mod common;

use aiolos_timer::Wheel;
use common::Rng;

/// Returns a deadline at a random scale: dense near 0 (many ties), then up
/// to 2^40 ms, then anywhere in the `u64` range.
fn random_deadline(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 | 1 => rng.below(1 << 18),
        2 => rng.below(1 << 40),
        _ => rng.next(),
    }
}

#[test]
fn a_million_random_entries_fire_in_deadline_then_insertion_order() {
    const N: usize = 1_000_000;
    let mut rng = Rng(0x5EED);
    let mut wheel = Wheel::with_capacity(N);
    for n in 0..N {
        wheel.insert(random_deadline(&mut rng), n);
    }
    assert_eq!(wheel.len(), N);
    // Fire in a few jumps; (deadline, n) must strictly increase throughout,
    // which also rules out repeats, and the count rules out losses.
    let mut last = None;
    let mut count = 0;
    // Nothing is late if each advance fires only what the last one could not.
    let mut floor: Option<u64> = None;
    for now in [0, 1 << 17, 1 << 18, 1 << 40, u64::MAX / 2, u64::MAX] {
        wheel.advance(now, |_, deadline, n| {
            assert!(deadline <= now, "fired early");
            assert!(floor.is_none_or(|floor| deadline > floor), "fired late");
            assert!(Some((deadline, n)) > last, "out of order");
            last = Some((deadline, n));
            count += 1;
        });
        floor = Some(now);
        assert_eq!(wheel.len(), N - count);
    }
    assert_eq!(count, N);
    assert!(wheel.is_empty());
}

#[test]
fn entries_fire_at_the_first_of_many_small_steps_that_reaches_them() {
    const N: usize = 200_000;
    let mut rng = Rng(7);
    let mut wheel = Wheel::with_capacity(N);
    let mut deadlines = Vec::with_capacity(N);
    for n in 0..N {
        let deadline = 1 + rng.below(1 << 16);
        wheel.insert(deadline, n);
        deadlines.push(deadline);
    }
    let mut fired = vec![false; N];
    let mut now = 0;
    let mut last = (0, 0);
    while !wheel.is_empty() {
        let previous = now;
        now += 1 + rng.below(7);
        wheel.advance(now, |_, deadline, n| {
            assert_eq!(deadline, deadlines[n]);
            assert!(
                deadline > previous && deadline <= now,
                "{deadline} in ({previous}, {now}]"
            );
            assert!((deadline, n) > last, "out of order");
            last = (deadline, n);
            assert!(!fired[n], "fired twice");
            fired[n] = true;
        });
    }
    assert!(fired.iter().all(|&f| f));
}
