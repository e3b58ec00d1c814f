//! Property test: random sequences of inserts, cancels and advances give
//! exactly what a sorted map of `(deadline, insertion number)` gives.

mod common;

use std::collections::BTreeMap;

use aiolos_timer::{Key, Wheel};
use common::LEVELS;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Where a new deadline lies, resolved against the time when it is inserted.
#[derive(Debug, Clone)]
enum When {
    /// This far before now (saturating at 0): due on the next advance.
    Past(u64),
    /// This far after now (saturating at `u64::MAX`).
    Ahead(u64),
    /// Near the next multiple of `64^level` after now, offset by `delta`.
    Boundary(u32, i8),
    /// At this absolute time.
    At(u64),
}

/// Where an advance goes, resolved against the time when it runs.
#[derive(Debug, Clone)]
enum Step {
    /// To now again.
    Same,
    /// Back in time by this much, which must be taken as now.
    Back(u64),
    /// Forward by this much (saturating).
    Forward(u64),
    /// To this absolute time, which may be in the past.
    To(u64),
}

/// One operation on the wheel and the model.
#[derive(Debug, Clone)]
enum Op {
    /// Insert an entry.
    Insert(When),
    /// Cancel the key issued by insert number `n % inserts`: live or stale.
    Cancel(usize),
    /// Advance time.
    Advance(Step),
    /// Advance to `next_deadline()` until the earliest entry fires.
    Chase,
}

fn when() -> impl Strategy<Value = When> {
    prop_oneof![
        2 => (0..100_u64).prop_map(When::Past),
        1 => any::<u64>().prop_map(When::Past),
        4 => (0..70_u64).prop_map(When::Ahead),
        3 => (0..5_000_u64).prop_map(When::Ahead),
        2 => (0..1_u64 << 40).prop_map(When::Ahead),
        1 => any::<u64>().prop_map(When::Ahead),
        3 => (1..=10_u32, -2..=2_i8).prop_map(|(level, delta)| When::Boundary(level, delta)),
        1 => any::<u64>().prop_map(When::At),
        1 => prop_oneof![Just(u64::MAX), Just(u64::MAX - 1), Just(1 << 63)].prop_map(When::At),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Same),
        1 => (0..1_000_u64).prop_map(Step::Back),
        6 => (0..8_u64).prop_map(Step::Forward),
        3 => (0..5_000_u64).prop_map(Step::Forward),
        2 => (0..1_u64 << 42).prop_map(Step::Forward),
        1 => any::<u64>().prop_map(|n| Step::Forward(n >> 4)),
        1 => any::<u64>().prop_map(Step::To),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => when().prop_map(Op::Insert),
        3 => any::<usize>().prop_map(Op::Cancel),
        6 => step().prop_map(Op::Advance),
        2 => Just(Op::Chase),
    ]
}

/// The wheel under test beside the model it must agree with.
struct Harness {
    /// The wheel; each value is the entry's insertion number.
    wheel: Wheel<usize>,
    /// The model's time.
    now: u64,
    /// Live entries, in the order they must fire.
    live: BTreeMap<(u64, usize), ()>,
    /// Key and deadline of every insert, by insertion number.
    issued: Vec<(Key, u64)>,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            wheel: Wheel::new(),
            now: 0,
            live: BTreeMap::new(),
            issued: Vec::new(),
        }
    }

    fn deadline(&self, when: &When) -> u64 {
        match *when {
            When::Past(n) => self.now.saturating_sub(n),
            When::Ahead(n) => self.now.saturating_add(n),
            When::Boundary(level, delta) => {
                let shift = 6 * level;
                let next = ((self.now >> shift) + 1)
                    .checked_shl(shift)
                    .filter(|&b| b != 0);
                let base = next.unwrap_or(u64::MAX);
                base.saturating_add_signed(i64::from(delta))
            }
            When::At(t) => t,
        }
    }

    fn insert(&mut self, when: &When) {
        let deadline = self.deadline(when);
        let n = self.issued.len();
        let key = self.wheel.insert(deadline, n);
        self.issued.push((key, deadline));
        self.live.insert((deadline, n), ());
    }

    fn cancel(&mut self, pick: usize) {
        if self.issued.is_empty() {
            return;
        }
        let n = pick % self.issued.len();
        let (key, deadline) = self.issued[n];
        let is_live = self.live.remove(&(deadline, n)).is_some();
        let expected = is_live.then_some(n);
        assert_eq!(self.wheel.deadline(key), is_live.then_some(deadline));
        assert_eq!(self.wheel.cancel(key), expected, "cancel of insert {n}");
        assert_eq!(self.wheel.cancel(key), None, "second cancel of insert {n}");
    }

    /// Advances both to `t` and returns the insertion numbers that fired.
    fn advance(&mut self, t: u64) -> Vec<usize> {
        let target = t.max(self.now);
        let previous = self.now;
        // The model: everything due at the target, in (deadline, number) order.
        let later = match target.checked_add(1) {
            Some(after) => self.live.split_off(&(after, 0)),
            None => BTreeMap::new(),
        };
        let due: Vec<(u64, usize)> = std::mem::replace(&mut self.live, later)
            .into_keys()
            .collect();
        self.now = target;

        let mut fired = Vec::new();
        self.wheel
            .advance(t, |key, deadline, n| fired.push((key, deadline, n)));
        assert_eq!(self.wheel.now(), target);
        let got: Vec<(u64, usize)> = fired.iter().map(|&(_, d, n)| (d, n)).collect();
        assert_eq!(got, due, "advance from {previous} to {t}");
        // Keys handed to the callback are the ones insert returned.
        for &(key, _, n) in &fired {
            assert_eq!(key, self.issued[n].0);
        }
        due.into_iter().map(|(_, n)| n).collect()
    }

    /// Advances to `next_deadline()` until the earliest entry fires.
    fn chase(&mut self) {
        let Some((&(_, first), _)) = self.live.first_key_value() else {
            return;
        };
        for _ in 0..LEVELS {
            let t = self.wheel.next_deadline().expect("live entries remain");
            if self.advance(t).contains(&first) {
                return;
            }
        }
        panic!("insert {first} did not fire within {LEVELS} advances to next_deadline()");
    }

    /// Checks `len()` and `next_deadline()` against the model.
    fn check(&self) {
        assert_eq!(self.wheel.len(), self.live.len());
        assert_eq!(self.wheel.is_empty(), self.live.is_empty());
        let next = self.wheel.next_deadline();
        match self.live.first_key_value() {
            None => assert_eq!(next, None),
            Some((&(earliest, _), _)) => {
                let next = next.expect("next_deadline() is None with entries left");
                if earliest <= self.now {
                    assert_eq!(next, self.now, "an entry is due");
                } else {
                    assert!(next <= earliest, "next {next} after earliest {earliest}");
                    assert!(next > self.now, "next {next} not after now {}", self.now);
                }
            }
        }
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::Insert(when) => self.insert(when),
            Op::Cancel(pick) => self.cancel(*pick),
            Op::Advance(step) => {
                let t = match *step {
                    Step::Same => self.now,
                    Step::Back(n) => self.now.saturating_sub(n),
                    Step::Forward(n) => self.now.saturating_add(n),
                    Step::To(t) => t,
                };
                self.advance(t);
            }
            Op::Chase => self.chase(),
        }
        self.check();
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/wheel_model.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn wheel_fires_exactly_what_a_sorted_model_fires(ops in prop::collection::vec(op(), 1..160)) {
        let mut harness = Harness::new();
        for op in &ops {
            harness.run(op);
        }
        // Drain: everything left fires by the end of time, in order.
        harness.advance(u64::MAX);
        harness.check();
        prop_assert!(harness.wheel.is_empty());
    }

    #[test]
    fn chasing_next_deadline_fires_each_entry_in_at_most_one_advance_per_level(
        whens in prop::collection::vec(when(), 1..40),
        start in prop_oneof![Just(0_u64), 0..1_u64 << 40, any::<u64>()],
    ) {
        let mut harness = Harness::new();
        harness.advance(start);
        for when in &whens {
            harness.insert(when);
        }
        harness.check();
        while !harness.live.is_empty() {
            harness.chase();
            harness.check();
        }
    }
}
