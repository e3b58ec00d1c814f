//! Helpers shared by the wheel's behaviour tests.

#![allow(dead_code)]

use aiolos_timer::{Key, Wheel};

/// Milliseconds in one (365-day) year.
pub const YEAR: u64 = 365 * 24 * 60 * 60 * 1000;

/// Levels in the wheel (64-slot levels covering all 64 bits): the most calls
/// to `advance(next_deadline())` needed to fire the earliest entry.
pub const LEVELS: usize = 11;

/// A small deterministic random generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// Returns the next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Returns a number below `n`, which must not be 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Advances `wheel` to `now` and returns what fired, as (key, deadline, value).
pub fn advance<T>(wheel: &mut Wheel<T>, now: u64) -> Vec<(Key, u64, T)> {
    let mut fired = Vec::new();
    wheel.advance(now, |key, deadline, value| {
        fired.push((key, deadline, value))
    });
    fired
}

/// Advances `wheel` to `now` and returns the values that fired.
pub fn advance_values<T>(wheel: &mut Wheel<T>, now: u64) -> Vec<T> {
    advance(wheel, now)
        .into_iter()
        .map(|(_, _, value)| value)
        .collect()
}

/// Advances to `next_deadline()` until something fires, asserting that this
/// takes at most `LEVELS` calls, that every call moves time forward to an
/// instant at or before the deadlines that fire, and returns what fired.
pub fn chase<T>(wheel: &mut Wheel<T>) -> Vec<(Key, u64, T)> {
    for _ in 0..LEVELS {
        let t = wheel
            .next_deadline()
            .expect("chase needs a non-empty wheel");
        assert!(t >= wheel.now());
        let fired = advance(wheel, t);
        if !fired.is_empty() {
            assert!(fired.iter().all(|&(_, deadline, _)| deadline <= t));
            return fired;
        }
    }
    panic!("nothing fired after {LEVELS} advances to next_deadline()");
}
