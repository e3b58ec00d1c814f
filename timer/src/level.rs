//! Level arithmetic: which level and slot a deadline is filed in, and when a
//! slot starts.
//!
//! Level `k` has [`SLOTS`] slots of `64^k` ms each, so the slot of a deadline
//! on level `k` is its bits `6k..6k + 6`, and one turn of level `k` is an
//! aligned block of `64^(k + 1)` ms. An entry is filed on the level of the
//! highest 6-bit group in which its deadline differs from `now`: every more
//! significant bit is shared with `now`, so the slot lies in the block of that
//! level that holds `now`, strictly ahead of `now`'s own slot.
//!
//! Eleven levels cover all 64 bits. The top one, level 10, holds
//! deadlines that differ from `now` above bit 60 (more than 2^60 ms, about
//! 36.5 million years, away, such as `u64::MAX` used as "never"); only its
//! lowest 16 slots can ever be used. It is the wheel's overflow list, split
//! by the deadline's top four bits so that re-filing its entries as time
//! reaches them costs O(1) per entry and needs no scan.
//!
//! Every computation here is made of shifts and masks: nothing can overflow,
//! even for deadlines and times at `u64::MAX`.

/// Bits of a deadline that index the slots of one level.
pub(crate) const SLOT_BITS: u32 = 6;

/// Slots per level: one bit each in a `u64` occupancy bitmap.
pub(crate) const SLOTS: usize = 1 << SLOT_BITS;

/// Levels in the wheel: enough 6-bit groups to cover a `u64` (`ceil(64 / 6)`).
pub(crate) const LEVELS: usize = 64_usize.div_ceil(SLOT_BITS as usize);

/// The top level, for deadlines beyond the reach of the 64-slot levels.
#[cfg(test)]
pub(crate) const OVERFLOW_LEVEL: usize = LEVELS - 1;

/// Returns the level on which an entry due at `deadline` is filed when the
/// wheel's time is `now`. The deadline must be later than `now`.
pub(crate) fn level_for(deadline: u64, now: u64) -> usize {
    debug_assert!(deadline > now, "only future deadlines are filed in slots");
    // Take the highest bit in which the two differ, then its 6-bit group.
    let highest = 63 - (deadline ^ now).leading_zeros();
    (highest / SLOT_BITS) as usize
}

/// Returns the slot that `deadline` occupies on `level`.
pub(crate) fn slot_for(deadline: u64, level: usize) -> usize {
    (deadline >> (level as u32 * SLOT_BITS)) as usize & (SLOTS - 1)
}

/// Returns the first millisecond of `slot` on `level`, within the turn of
/// that level that holds `now`.
pub(crate) fn slot_start(now: u64, level: usize, slot: usize) -> u64 {
    let shift = level as u32 * SLOT_BITS;
    // Keep the bits of `now` above this level's turn: none for the top level,
    // whose turn spans the whole `u64` range.
    let turn = shift + SLOT_BITS;
    let above = if turn >= u64::BITS {
        0
    } else {
        now & (u64::MAX << turn)
    };
    above | (slot as u64) << shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_levels_cover_every_bit_of_a_u64() {
        assert_eq!(LEVELS, 11);
        assert_eq!(OVERFLOW_LEVEL, 10);
        assert!(LEVELS as u32 * SLOT_BITS >= u64::BITS);
        assert!((LEVELS as u32 - 1) * SLOT_BITS < u64::BITS);
    }

    #[test]
    fn level_is_the_highest_differing_six_bit_group() {
        assert_eq!(level_for(1, 0), 0);
        assert_eq!(level_for(63, 0), 0);
        assert_eq!(level_for(64, 0), 1);
        assert_eq!(level_for(4095, 0), 1);
        assert_eq!(level_for(4096, 0), 2);
        // One millisecond ahead, across a level-2 boundary, is level 2.
        assert_eq!(level_for(4096, 4095), 2);
        // Deadlines sharing `now`'s upper bits stay low whatever their size.
        assert_eq!(level_for(u64::MAX, u64::MAX - 1), 0);
        assert_eq!(level_for(1 << 60, 0), OVERFLOW_LEVEL);
        assert_eq!(level_for(u64::MAX, 0), OVERFLOW_LEVEL);
        assert_eq!(level_for((1 << 60) - 1, 0), 9);
    }

    #[test]
    fn slot_is_the_deadline_bits_of_the_level() {
        assert_eq!(slot_for(0b101_000011, 0), 0b000011);
        assert_eq!(slot_for(0b101_000011, 1), 0b101);
        assert_eq!(slot_for(u64::MAX, OVERFLOW_LEVEL), 15);
        assert_eq!(slot_for(1 << 63, OVERFLOW_LEVEL), 8);
    }

    #[test]
    fn slot_start_keeps_now_above_the_level_and_clears_below() {
        // Level 1, slot 2 of the turn [4096, 8192) that holds 5000.
        assert_eq!(slot_start(5000, 1, 2), 4096 + 2 * 64);
        assert_eq!(slot_start(5000, 0, 63), 5000 / 64 * 64 + 63);
        assert_eq!(slot_start(u64::MAX - 5, 0, 63), u64::MAX);
        assert_eq!(slot_start(123, OVERFLOW_LEVEL, 15), 15 << 60);
        assert_eq!(slot_start(u64::MAX, 9, 63), u64::MAX << 54);
    }

    #[test]
    fn a_filed_deadline_lies_inside_its_slot_and_ahead_of_now() {
        let samples: [u64; 9] = [0, 1, 62, 63, 64, 4095, 4096, 1 << 36, (1 << 60) + 7];
        for &now in &samples {
            for &delta in &[1_u64, 2, 63, 64, 65, 4096, 1 << 40, u64::MAX] {
                let deadline = now.saturating_add(delta);
                if deadline == now {
                    continue;
                }
                let level = level_for(deadline, now);
                let slot = slot_for(deadline, level);
                let start = slot_start(now, level, slot);
                assert!(start > now, "now {now} deadline {deadline}");
                assert!(start <= deadline, "now {now} deadline {deadline}");
                // The deadline is in the slot: it only differs below the level.
                let span_bits = level as u32 * SLOT_BITS;
                assert_eq!(deadline >> span_bits, start >> span_bits);
                // Level 0 slots are exact.
                if level == 0 {
                    assert_eq!(start, deadline);
                }
            }
        }
    }
}
