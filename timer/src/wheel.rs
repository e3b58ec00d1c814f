//! The wheel: filing entries in slots, cancelling them, and advancing time.
//!
//! # Invariants
//!
//! Between calls, with `now` the time of the last advance:
//!
//! 1. An entry with a deadline after `now` is in slot
//!    `slot_for(deadline, level_for(deadline, now))`; so every occupied slot
//!    on level `k` lies ahead of `now` within the turn of level `k` holding
//!    `now`, and the lowest occupied level holds the earliest slot.
//! 2. An entry due at or before `now` is on the pending list; it got there by
//!    being inserted late (or by a panic in an advance's callback).
//! 3. All entries with the same deadline are on the same list, in insertion
//!    order, because where an entry goes depends only on its deadline and
//!    `now`, lists are appended at the tail, and slots are emptied front to
//!    back into lists that hold no entry with the same deadline.
//! 4. Bit `s` of `occupied[k]` is set exactly when slot `s` of level `k` is
//!    not empty.
//!
//! # Advancing
//!
//! `advance(target)` repeats two steps until the earliest occupied slot
//! starts after `target`:
//!
//! 1. Fire the pending list front to back, after sorting it by deadline (a
//!    stable sort, so ties keep insertion order) if late inserts arrived out
//!    of order.
//! 2. Move `now` to the start of the earliest occupied slot and empty it,
//!    front to back: entries due at the slot's start join the pending list,
//!    the rest are filed again relative to the new `now`, which always puts
//!    them on a lower level. This step runs no user code, so a panicking
//!    callback can never leave a half-emptied slot behind.
//!
//! Every fired entry is due at the `now` of its step, `now` only grows, and
//! the entries of one deadline fire together from one list, so deadlines fire
//! in nondecreasing order and ties in insertion order.

use std::fmt;

use crate::level::{level_for, slot_for, slot_start, LEVELS, SLOTS};
use crate::slab::{Key, List, Slab};

/// The list id of the pending list; slot `s` of level `k` is `k * SLOTS + s`.
const PENDING: u16 = (LEVELS * SLOTS) as u16;

/// A hierarchical timer wheel: entries of type `T` with deadlines in
/// milliseconds, fired in deadline order as the caller advances time.
///
/// The wheel reads no clock. Its time, [`now`](Wheel::now), starts at 0 and
/// moves only when [`advance`](Wheel::advance) is called; deadlines and times
/// are milliseconds since an origin the caller picks (typically the instant
/// the wheel was created), over the whole `u64` range.
///
/// # Order guarantee
///
/// Within one call to [`advance`](Wheel::advance), entries fire in
/// nondecreasing deadline order, and entries with equal deadlines fire in
/// the order they were inserted, wherever they were filed and however far
/// the call jumps. Entries fire in the first advance whose time reaches their
/// deadline (an entry whose deadline is not after [`now`](Wheel::now) when
/// it is inserted fires in the next advance), never earlier, exactly once.
///
/// # Examples
///
/// ```
/// use aiolos_timer::Wheel;
///
/// let mut wheel = Wheel::new();
/// wheel.insert(20, "second");
/// wheel.insert(10, "first");
/// wheel.insert(20, "third");
///
/// let mut fired = Vec::new();
/// wheel.advance(25, |_key, _deadline, value| fired.push(value));
/// assert_eq!(fired, ["first", "second", "third"]);
/// assert!(wheel.is_empty());
/// ```
pub struct Wheel<T> {
    /// Every entry, linked into the slot lists and the pending list.
    slab: Slab<T>,
    /// Time of the last advance, in ms since the origin.
    now: u64,
    /// One list per slot: `LEVELS` levels of `SLOTS` slots each.
    slots: Box<[[List; SLOTS]; LEVELS]>,
    /// Bit `s` of `occupied[k]` is set when slot `s` of level `k` is not empty.
    occupied: [u64; LEVELS],
    /// Entries that were due when filed, to fire first on the next advance.
    pending: List,
    /// Whether `pending` is in deadline order (it is in insertion order).
    pending_sorted: bool,
    /// Reused buffer for sorting `pending`: deadline, position, index.
    scratch: Vec<(u64, u32, u32)>,
}

impl<T> Wheel<T> {
    /// Creates an empty wheel whose time is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let wheel: Wheel<()> = Wheel::new();
    /// assert_eq!(wheel.now(), 0);
    /// assert!(wheel.is_empty());
    /// ```
    pub fn new() -> Wheel<T> {
        Wheel::with_capacity(0)
    }

    /// Creates an empty wheel whose time is 0, with room for `capacity`
    /// entries before it allocates.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel = Wheel::with_capacity(1024);
    /// for deadline in 0..1024 {
    ///     wheel.insert(deadline, ());
    /// }
    /// assert_eq!(wheel.len(), 1024);
    /// ```
    pub fn with_capacity(capacity: usize) -> Wheel<T> {
        Wheel {
            slab: Slab::with_capacity(capacity),
            now: 0,
            slots: Box::new([[List::EMPTY; SLOTS]; LEVELS]),
            occupied: [0; LEVELS],
            pending: List::EMPTY,
            pending_sorted: true,
            scratch: Vec::new(),
        }
    }

    /// Returns the wheel's time: the `now` of the last
    /// [`advance`](Wheel::advance), or 0 before the first.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel: Wheel<()> = Wheel::new();
    /// wheel.advance(40, |_, _, _| {});
    /// assert_eq!(wheel.now(), 40);
    /// // Time never goes back.
    /// wheel.advance(10, |_, _, _| {});
    /// assert_eq!(wheel.now(), 40);
    /// ```
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Returns the number of entries that have neither fired nor been
    /// cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let key = wheel.insert(10, 'a');
    /// wheel.insert(20, 'b');
    /// assert_eq!(wheel.len(), 2);
    /// wheel.cancel(key);
    /// assert_eq!(wheel.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Returns whether the wheel holds no entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// assert!(wheel.is_empty());
    /// wheel.insert(10, 'a');
    /// assert!(!wheel.is_empty());
    /// wheel.advance(10, |_, _, _| {});
    /// assert!(wheel.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `value`, due at `deadline`, and returns its key. O(1).
    ///
    /// An entry whose deadline is not after [`now`](Wheel::now) fires in the
    /// next [`advance`](Wheel::advance), even one that does not move time.
    ///
    /// # Panics
    ///
    /// Panics if the wheel already holds `u32::MAX - 1` entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// wheel.advance(100, |_, _, _| {});
    /// let late = wheel.insert(50, "late");
    /// assert_eq!(wheel.deadline(late), Some(50));
    ///
    /// let mut fired = Vec::new();
    /// wheel.advance(100, |key, deadline, value| fired.push((key, deadline, value)));
    /// assert_eq!(fired, [(late, 50, "late")]);
    /// ```
    pub fn insert(&mut self, deadline: u64, value: T) -> Key {
        let (index, key) = self.slab.insert(deadline, value);
        self.file(index);
        key
    }

    /// Removes the entry named by `key` and returns its value, or returns
    /// `None` if it has already fired or been cancelled. O(1).
    ///
    /// A stale key never touches a newer entry, even one stored in the same
    /// place.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let key = wheel.insert(10, "tick");
    /// assert_eq!(wheel.cancel(key), Some("tick"));
    /// assert_eq!(wheel.cancel(key), None);
    ///
    /// let fired = wheel.insert(10, "tock");
    /// wheel.advance(10, |_, _, _| {});
    /// assert_eq!(wheel.cancel(fired), None);
    /// ```
    pub fn cancel(&mut self, key: Key) -> Option<T> {
        let index = self.slab.find(key)?;
        self.unlink(index);
        let (_, _, value) = self.slab.remove(index);
        Some(value)
    }

    /// Returns the deadline of the entry named by `key`, or `None` if it has
    /// already fired or been cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// let key = wheel.insert(u64::MAX, "never");
    /// assert_eq!(wheel.deadline(key), Some(u64::MAX));
    /// wheel.cancel(key);
    /// assert_eq!(wheel.deadline(key), None);
    /// ```
    pub fn deadline(&self, key: Key) -> Option<u64> {
        self.slab.find(key).map(|index| self.slab.deadline(index))
    }

    /// Moves the wheel's time to `now` and calls `fire(key, deadline, value)`
    /// for every entry due at or before it, in deadline order and, for equal
    /// deadlines, in insertion order.
    ///
    /// A `now` earlier than [`now()`](Wheel::now) is taken as `now()`: time
    /// never goes back. The call skips from one occupied slot to the next,
    /// so its cost depends on the entries it moves and fires, not on how far
    /// it jumps; each entry is moved at most once per level on its way down.
    ///
    /// If `fire` panics, the entry it was given is dropped with it and the
    /// wheel stays consistent: the other due entries fire first, in order,
    /// in the next advance, and [`now()`](Wheel::now) may stay short of
    /// `now` until then.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// wheel.insert(1 << 40, "far");
    /// wheel.insert(3, "near");
    ///
    /// let mut fired = Vec::new();
    /// wheel.advance(u64::MAX, |_, deadline, value| fired.push((deadline, value)));
    /// assert_eq!(fired, [(3, "near"), (1 << 40, "far")]);
    /// assert_eq!(wheel.now(), u64::MAX);
    /// ```
    pub fn advance(&mut self, now: u64, mut fire: impl FnMut(Key, u64, T)) {
        let target = now.max(self.now);
        loop {
            // Fire what is due, which precedes everything still in slots.
            self.sort_pending();
            while let Some(index) = self.slab.pop_front(&mut self.pending) {
                let (key, deadline, value) = self.slab.remove(index);
                fire(key, deadline, value);
            }
            // Stop at the first occupied slot that starts after the target.
            let Some((level, slot, start)) = self.next_slot() else {
                break;
            };
            if start > target {
                break;
            }
            // Move to the slot's start and empty it, front to back.
            debug_assert!(start > self.now, "occupied slots lie ahead of now");
            self.now = start;
            while let Some(index) = self.pop_slot(level, slot) {
                self.file(index);
            }
        }
        self.now = target;
    }

    /// Returns when the wheel next needs an [`advance`](Wheel::advance), or
    /// `None` if it is empty. O(levels): it scans no entries.
    ///
    /// The answer `t` is never after the earliest deadline, and no entry is
    /// due before `t`. It is [`now()`](Wheel::now) if an entry is already
    /// due. Otherwise it is after `now()`: the earliest deadline itself, or
    /// the start of the slot holding it on a higher level (a cascade point),
    /// where advancing fires nothing and brings the entry closer. Advancing
    /// to the answer over and over fires the earliest entry within 11 calls,
    /// one per level.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let mut wheel = Wheel::new();
    /// assert_eq!(wheel.next_deadline(), None);
    ///
    /// wheel.insert(7, "soon");
    /// assert_eq!(wheel.next_deadline(), Some(7));
    ///
    /// // A reactor sleeps until the answer, advances, and asks again.
    /// let mut fired = Vec::new();
    /// while let Some(t) = wheel.next_deadline() {
    ///     wheel.advance(t, |_, _, value| fired.push(value));
    /// }
    /// assert_eq!(fired, ["soon"]);
    /// ```
    pub fn next_deadline(&self) -> Option<u64> {
        if !self.pending.is_empty() {
            return Some(self.now);
        }
        self.next_slot().map(|(_, _, start)| start)
    }

    /// Returns the earliest occupied slot as level, slot and start time.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        // The lowest occupied level holds it: each level's slots all start
        // after the turn of the level below that holds `now`.
        let level = self.occupied.iter().position(|&bits| bits != 0)?;
        let slot = self.occupied[level].trailing_zeros() as usize;
        Some((level, slot, slot_start(self.now, level, slot)))
    }

    /// Appends an unlinked entry to the list its deadline belongs on now.
    fn file(&mut self, index: u32) {
        let deadline = self.slab.deadline(index);
        if deadline <= self.now {
            // Due already: note whether it breaks the pending list's order.
            if let Some(tail) = self.pending.tail() {
                if self.slab.deadline(tail) > deadline {
                    self.pending_sorted = false;
                }
            }
            self.slab.push_back(&mut self.pending, PENDING, index);
        } else {
            let level = level_for(deadline, self.now);
            let slot = slot_for(deadline, level);
            let id = (level * SLOTS + slot) as u16;
            self.slab.push_back(&mut self.slots[level][slot], id, index);
            self.occupied[level] |= 1 << slot;
        }
    }

    /// Removes and returns the first entry of a slot, clearing its occupancy
    /// bit when that empties it.
    fn pop_slot(&mut self, level: usize, slot: usize) -> Option<u32> {
        let list = &mut self.slots[level][slot];
        let index = self.slab.pop_front(list)?;
        if list.is_empty() {
            self.occupied[level] &= !(1 << slot);
        }
        Some(index)
    }

    /// Takes an entry off whichever list it is on.
    fn unlink(&mut self, index: u32) {
        let id = self.slab.list_of(index);
        if id == PENDING {
            self.slab.unlink(&mut self.pending, index);
            if self.pending.is_empty() {
                self.pending_sorted = true;
            }
        } else {
            let (level, slot) = (usize::from(id) / SLOTS, usize::from(id) % SLOTS);
            let list = &mut self.slots[level][slot];
            self.slab.unlink(list, index);
            if list.is_empty() {
                self.occupied[level] &= !(1 << slot);
            }
        }
    }

    /// Puts the pending list in deadline order, keeping ties in list order.
    fn sort_pending(&mut self) {
        if self.pending_sorted {
            return;
        }
        // Take the entries off as (deadline, position, index): positions
        // break ties, so equal deadlines keep insertion order.
        self.scratch.clear();
        while let Some(index) = self.slab.pop_front(&mut self.pending) {
            let position = self.scratch.len() as u32;
            self.scratch
                .push((self.slab.deadline(index), position, index));
        }
        self.scratch.sort_unstable();
        // Put them back in that order.
        for &(_, _, index) in &self.scratch {
            self.slab.push_back(&mut self.pending, PENDING, index);
        }
        self.pending_sorted = true;
    }
}

impl<T> Default for Wheel<T> {
    /// Creates an empty wheel whose time is 0, like [`Wheel::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// let wheel: Wheel<String> = Wheel::default();
    /// assert_eq!(wheel.now(), 0);
    /// ```
    fn default() -> Wheel<T> {
        Wheel::new()
    }
}

impl<T> fmt::Debug for Wheel<T> {
    /// Shows the wheel's time, size and next deadline, not the values, so
    /// `T` need not implement `Debug`.
    ///
    /// # Examples
    ///
    /// ```
    /// use aiolos_timer::Wheel;
    ///
    /// struct Opaque;
    /// let mut wheel = Wheel::new();
    /// wheel.insert(5, Opaque);
    /// assert_eq!(
    ///     format!("{wheel:?}"),
    ///     "Wheel { now: 0, len: 1, next_deadline: Some(5), .. }",
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel")
            .field("now", &self.now)
            .field("len", &self.len())
            .field("next_deadline", &self.next_deadline())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl<T> Wheel<T> {
        /// Returns the indexes on `list`, front to back.
        fn walk(&self, list: &List) -> Vec<u32> {
            let mut out = Vec::new();
            let mut at = list.head();
            while let Some(index) = at {
                out.push(index);
                at = self.slab.next(index);
            }
            out
        }

        /// Asserts the module's invariants 1, 2 and 4, and the entry count.
        fn check(&self) {
            let mut count = 0;
            for level in 0..LEVELS {
                for slot in 0..SLOTS {
                    let entries = self.walk(&self.slots[level][slot]);
                    let bit = self.occupied[level] >> slot & 1 == 1;
                    assert_eq!(bit, !entries.is_empty(), "bit of {level}/{slot}");
                    for index in entries {
                        let deadline = self.slab.deadline(index);
                        assert!(deadline > self.now, "due entry left in a slot");
                        assert_eq!(level_for(deadline, self.now), level);
                        assert_eq!(slot_for(deadline, level), slot);
                        assert_eq!(usize::from(self.slab.list_of(index)), level * SLOTS + slot);
                        count += 1;
                    }
                }
            }
            let pending = self.walk(&self.pending);
            for &index in &pending {
                assert!(self.slab.deadline(index) <= self.now);
                assert_eq!(self.slab.list_of(index), PENDING);
            }
            if self.pending_sorted {
                let deadlines: Vec<u64> = pending.iter().map(|&i| self.slab.deadline(i)).collect();
                assert!(
                    deadlines.windows(2).all(|w| w[0] <= w[1]),
                    "pending out of order"
                );
            }
            count += pending.len();
            assert_eq!(count, self.len());
        }
    }

    /// A small deterministic generator (splitmix64).
    fn next_random(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn invariants_hold_after_every_operation() {
        let mut wheel = Wheel::new();
        let mut keys = Vec::new();
        let mut state = 7;
        for _ in 0..5_000 {
            let r = next_random(&mut state);
            match r % 8 {
                0..=3 => {
                    // Deadlines at every scale, some already due.
                    let scale = next_random(&mut state) % 64;
                    let delta = next_random(&mut state) >> (63 - scale.min(63));
                    let deadline = if r % 16 < 2 {
                        wheel.now().saturating_sub(delta)
                    } else {
                        wheel.now().saturating_add(delta)
                    };
                    keys.push(wheel.insert(deadline, ()));
                }
                4 => {
                    if !keys.is_empty() {
                        let key = keys[(next_random(&mut state) % keys.len() as u64) as usize];
                        wheel.cancel(key);
                    }
                }
                _ => {
                    let scale = next_random(&mut state) % 48;
                    let step = next_random(&mut state) >> (63 - scale);
                    let mut last = 0;
                    wheel.advance(wheel.now().saturating_add(step), |_, deadline, ()| {
                        assert!(deadline >= last);
                        last = deadline;
                    });
                }
            }
            wheel.check();
        }
    }

    #[test]
    fn a_slot_cascades_to_lower_levels_in_order() {
        let mut wheel = Wheel::new();
        // All on level 1, slot 1: [64, 128).
        for (n, deadline) in [100, 70, 100, 64, 70].into_iter().enumerate() {
            wheel.insert(deadline, n);
        }
        assert_eq!(wheel.occupied[1], 1 << 1);
        assert_eq!(wheel.next_deadline(), Some(64));
        // Reaching the slot fires 64 and files the rest on level 0.
        let mut fired = Vec::new();
        wheel.advance(64, |_, d, n| fired.push((d, n)));
        assert_eq!(fired, [(64, 3)]);
        wheel.check();
        assert_eq!(wheel.occupied[1], 0);
        assert_eq!(wheel.occupied[0], 1 << (70 - 64) | 1 << (100 - 64));
        let ties: Vec<usize> = wheel
            .walk(&wheel.slots[0][100 - 64])
            .into_iter()
            .map(|i| i as usize)
            .collect();
        assert_eq!(ties.len(), 2);
        wheel.advance(1000, |_, d, n| fired.push((d, n)));
        assert_eq!(fired, [(64, 3), (70, 1), (70, 4), (100, 0), (100, 2)]);
    }

    #[test]
    fn late_inserts_out_of_order_are_sorted_stably() {
        let mut wheel = Wheel::new();
        wheel.advance(100, |_, _, _| unreachable!());
        for (n, deadline) in [50, 10, 50, 100, 10, 0].into_iter().enumerate() {
            wheel.insert(deadline, n);
        }
        assert!(!wheel.pending_sorted);
        assert_eq!(wheel.next_deadline(), Some(100));
        let mut fired = Vec::new();
        wheel.advance(100, |_, d, n| fired.push((d, n)));
        assert_eq!(
            fired,
            [(0, 5), (10, 1), (10, 4), (50, 0), (50, 2), (100, 3)]
        );
        assert!(wheel.pending_sorted);
        wheel.check();
    }

    #[test]
    fn cancelling_the_last_pending_entry_marks_pending_sorted() {
        let mut wheel = Wheel::new();
        wheel.advance(10, |_, _, ()| {});
        let a = wheel.insert(5, ());
        let b = wheel.insert(1, ());
        assert!(!wheel.pending_sorted);
        wheel.cancel(a);
        wheel.cancel(b);
        assert!(wheel.pending_sorted);
        assert_eq!(wheel.next_deadline(), None);
        wheel.check();
    }

    #[test]
    fn a_panicking_callback_loses_only_its_own_entry() {
        let mut wheel = Wheel::new();
        for deadline in [5, 5, 70, 70, 4096, 1 << 50] {
            wheel.insert(deadline, deadline);
        }
        let mut calls = 0;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wheel.advance(100, |_, deadline, _| {
                calls += 1;
                if deadline == 70 {
                    panic!("callback failed");
                }
            });
        }));
        assert!(result.is_err());
        assert_eq!(calls, 3);
        wheel.check();
        // The other entry due at 70 is still there, and due.
        assert_eq!(wheel.len(), 3);
        assert!(wheel.now() <= 100);
        assert_eq!(wheel.next_deadline(), Some(wheel.now()));
        let mut fired = Vec::new();
        wheel.advance(100, |_, d, _| fired.push(d));
        assert_eq!(fired, [70]);
        assert_eq!(wheel.now(), 100);
        wheel.advance(u64::MAX, |_, d, _| fired.push(d));
        assert_eq!(fired, [70, 4096, 1 << 50]);
        wheel.check();
    }

    #[test]
    fn advancing_short_of_a_deadline_cascades_without_firing() {
        let mut wheel = Wheel::new();
        let deadline = (1 << 20) + 5;
        wheel.insert(deadline, ());
        assert_eq!(wheel.occupied[3], 1 << 4);
        // The same time, then just short of the deadline.
        wheel.advance(0, |_, _, ()| unreachable!());
        wheel.advance(deadline - 1, |_, _, ()| unreachable!());
        assert_eq!(wheel.now(), deadline - 1);
        // The entry moved down to level 0 on the way, and is due next.
        assert_eq!(wheel.occupied[3], 0);
        assert_eq!(wheel.occupied[0], 1 << 5);
        assert_eq!(wheel.next_deadline(), Some(deadline));
        wheel.check();
    }
}
