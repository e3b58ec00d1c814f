//! The entry store: a slab of entries threaded into intrusive doubly linked
//! lists, and the [`Key`]s that name them.
//!
//! Every entry lives in one `Vec`, so inserting and removing never allocate
//! once the vector has grown to the wheel's peak size. A vacant entry is on a
//! free list (through its `next` link); an occupied one is on exactly one
//! [`List`], a wheel slot or the pending list, named by its `list` field so
//! that cancelling finds its list in O(1).
//!
//! Generations make keys safe to keep: freeing an entry bumps its generation,
//! so a key of a fired or cancelled entry no longer matches when the entry is
//! reused. An entry whose generation would wrap is retired instead of reused,
//! so a generation is never handed out twice for the same index.

use std::fmt;

/// The null link: no entry.
pub(crate) const NIL: u32 = u32::MAX;

/// The `list` of an entry that is on no list (vacant, or being moved).
pub(crate) const UNLINKED: u16 = u16::MAX;

/// Names one entry of a [`Wheel`](crate::Wheel): returned by
/// [`insert`](crate::Wheel::insert), taken by
/// [`cancel`](crate::Wheel::cancel) and [`deadline`](crate::Wheel::deadline)
/// and passed to the callback of [`advance`](crate::Wheel::advance).
///
/// A key is a slab index plus a generation. Once its entry has fired or been
/// cancelled the key is stale for good: it matches nothing, not even a later
/// entry that reuses the same index.
///
/// # Examples
///
/// ```
/// use aiolos_timer::Wheel;
///
/// let mut wheel = Wheel::new();
/// let old = wheel.insert(5, "old");
/// assert_eq!(wheel.cancel(old), Some("old"));
///
/// // The new entry may reuse the slot, but the old key cannot reach it.
/// let new = wheel.insert(5, "new");
/// assert_ne!(old, new);
/// assert_eq!(wheel.cancel(old), None);
/// assert_eq!(wheel.deadline(new), Some(5));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Key {
    /// Position of the entry in the slab.
    index: u32,
    /// Generation of the entry when the key was issued.
    generation: u32,
}

/// A list of entries, linked through the slab; empty when `head` is [`NIL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct List {
    /// First entry, fired or moved first.
    head: u32,
    /// Last entry, where new ones are appended.
    tail: u32,
}

impl List {
    /// A list with no entries.
    pub(crate) const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };

    /// Returns whether the list has no entries.
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Returns the first entry, if any.
    pub(crate) fn head(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Returns the last entry, if any.
    pub(crate) fn tail(&self) -> Option<u32> {
        (self.tail != NIL).then_some(self.tail)
    }
}

/// One slot of the slab.
struct Entry<T> {
    /// Bumped each time the entry is freed; keys must match it.
    generation: u32,
    /// The list the entry is on, or [`UNLINKED`].
    list: u16,
    /// Previous entry on the same list, or [`NIL`].
    prev: u32,
    /// Next entry on the same list, or on the free list when vacant, or [`NIL`].
    next: u32,
    /// When the entry is due, in ms since the wheel's origin.
    deadline: u64,
    /// The payload; `None` exactly when the entry is vacant.
    value: Option<T>,
}

/// The slab: entries, their free list and the count of occupied ones.
pub(crate) struct Slab<T> {
    /// Every entry ever allocated, occupied or vacant.
    entries: Vec<Entry<T>>,
    /// First vacant entry available for reuse, or [`NIL`].
    free: u32,
    /// Number of occupied entries.
    len: usize,
}

impl<T> Slab<T> {
    /// Creates a slab with room for `capacity` entries before it reallocates.
    pub(crate) fn with_capacity(capacity: usize) -> Slab<T> {
        Slab {
            entries: Vec::with_capacity(capacity),
            free: NIL,
            len: 0,
        }
    }

    /// Returns the number of occupied entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores an unlinked entry and returns its index and key.
    ///
    /// # Panics
    ///
    /// Panics if `u32::MAX` entries are already allocated.
    pub(crate) fn insert(&mut self, deadline: u64, value: T) -> (u32, Key) {
        self.len += 1;
        // Reuse a vacant entry if there is one.
        if self.free != NIL {
            let index = self.free;
            let entry = &mut self.entries[index as usize];
            self.free = entry.next;
            entry.list = UNLINKED;
            entry.prev = NIL;
            entry.next = NIL;
            entry.deadline = deadline;
            entry.value = Some(value);
            let key = Key {
                index,
                generation: entry.generation,
            };
            return (index, key);
        }
        // Otherwise grow; index `NIL` stays reserved for the null link.
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&index| index != NIL)
            .expect("timer wheel is full: it holds at most u32::MAX - 1 entries, cancel or fire some first");
        self.entries.push(Entry {
            generation: 0,
            list: UNLINKED,
            prev: NIL,
            next: NIL,
            deadline,
            value: Some(value),
        });
        (
            index,
            Key {
                index,
                generation: 0,
            },
        )
    }

    /// Returns the index of the occupied entry that `key` names, if any.
    pub(crate) fn find(&self, key: Key) -> Option<u32> {
        let entry = self.entries.get(key.index as usize)?;
        (entry.generation == key.generation && entry.value.is_some()).then_some(key.index)
    }

    /// Frees an unlinked entry and returns its key, deadline and value.
    pub(crate) fn remove(&mut self, index: u32) -> (Key, u64, T) {
        let entry = &mut self.entries[index as usize];
        debug_assert_eq!(entry.list, UNLINKED, "unlink an entry before freeing it");
        let value = entry.value.take().expect("removed a vacant timer entry");
        let key = Key {
            index,
            generation: entry.generation,
        };
        self.len -= 1;
        // Make the key stale; retire the entry rather than wrap its generation.
        if entry.generation != u32::MAX {
            entry.generation += 1;
            entry.next = self.free;
            self.free = index;
        }
        (key, entry.deadline, value)
    }

    /// Returns the deadline of an occupied entry.
    pub(crate) fn deadline(&self, index: u32) -> u64 {
        self.entries[index as usize].deadline
    }

    /// Returns the list an occupied entry is on.
    pub(crate) fn list_of(&self, index: u32) -> u16 {
        self.entries[index as usize].list
    }

    /// Appends an unlinked entry to `list`, whose id is `id`.
    pub(crate) fn push_back(&mut self, list: &mut List, id: u16, index: u32) {
        let entry = &mut self.entries[index as usize];
        debug_assert_eq!(entry.list, UNLINKED, "an entry is on one list at a time");
        entry.list = id;
        entry.prev = list.tail;
        entry.next = NIL;
        // Hook it after the old tail, or make it the head of an empty list.
        match list.tail {
            NIL => list.head = index,
            tail => self.entries[tail as usize].next = index,
        }
        list.tail = index;
    }

    /// Removes entry `index` from `list`, which it must be on.
    pub(crate) fn unlink(&mut self, list: &mut List, index: u32) {
        let entry = &mut self.entries[index as usize];
        let (prev, next) = (entry.prev, entry.next);
        entry.list = UNLINKED;
        entry.prev = NIL;
        entry.next = NIL;
        // Point the neighbours, or the list's ends, past it.
        match prev {
            NIL => list.head = next,
            prev => self.entries[prev as usize].next = next,
        }
        match next {
            NIL => list.tail = prev,
            next => self.entries[next as usize].prev = prev,
        }
    }

    /// Removes and returns the first entry of `list`.
    pub(crate) fn pop_front(&mut self, list: &mut List) -> Option<u32> {
        let index = list.head()?;
        self.unlink(list, index);
        Some(index)
    }

    /// Returns the entry after `index` on its list.
    #[cfg(test)]
    pub(crate) fn next(&self, index: u32) -> Option<u32> {
        let next = self.entries[index as usize].next;
        (next != NIL).then_some(next)
    }

    /// Sets the generation of entry `index`, to test its retirement.
    #[cfg(test)]
    pub(crate) fn set_generation(&mut self, index: u32, generation: u32) {
        self.entries[index as usize].generation = generation;
    }
}

impl<T> fmt::Debug for Slab<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slab")
            .field("len", &self.len)
            .field("allocated", &self.entries.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects the indexes on `list`, front to back, checking back links.
    fn order(slab: &Slab<&str>, list: &List) -> Vec<u32> {
        let mut out = Vec::new();
        let mut prev = NIL;
        let mut at = list.head();
        while let Some(index) = at {
            assert_eq!(slab.entries[index as usize].prev, prev);
            out.push(index);
            prev = index;
            at = slab.next(index);
        }
        assert_eq!(list.tail, prev);
        out
    }

    #[test]
    fn lists_keep_append_order_through_unlinks() {
        let mut slab = Slab::with_capacity(4);
        let mut list = List::EMPTY;
        let ids: Vec<u32> = ["a", "b", "c", "d"]
            .iter()
            .map(|v| slab.insert(1, *v).0)
            .collect();
        for &index in &ids {
            slab.push_back(&mut list, 7, index);
        }
        assert_eq!(order(&slab, &list), ids);
        // Unlink the middle, then both ends.
        slab.unlink(&mut list, ids[1]);
        assert_eq!(order(&slab, &list), [ids[0], ids[2], ids[3]]);
        slab.unlink(&mut list, ids[3]);
        assert_eq!(slab.pop_front(&mut list), Some(ids[0]));
        assert_eq!(order(&slab, &list), [ids[2]]);
        assert_eq!(slab.pop_front(&mut list), Some(ids[2]));
        assert!(list.is_empty());
        assert_eq!(list, List::EMPTY);
        assert_eq!(slab.pop_front(&mut list), None);
    }

    #[test]
    fn freed_entries_are_reused_with_a_new_generation() {
        let mut slab = Slab::with_capacity(0);
        let (index, key) = slab.insert(3, "a");
        assert_eq!(slab.remove(index), (key, 3, "a"));
        assert_eq!(slab.find(key), None);
        let (again, fresh) = slab.insert(4, "b");
        assert_eq!(again, index);
        assert_ne!(fresh, key);
        assert_eq!(slab.find(fresh), Some(index));
        assert_eq!(slab.find(key), None);
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn an_entry_is_retired_instead_of_wrapping_its_generation() {
        let mut slab = Slab::with_capacity(0);
        let (index, _) = slab.insert(0, "a");
        slab.set_generation(index, u32::MAX);
        let key = Key {
            index,
            generation: u32::MAX,
        };
        assert_eq!(slab.remove(index).0, key);
        // The retired index is not reused, so the last key stays stale.
        let (other, _) = slab.insert(0, "b");
        assert_ne!(other, index);
        assert_eq!(slab.find(key), None);
    }

    #[test]
    fn keys_past_the_end_find_nothing() {
        let slab: Slab<&str> = Slab::with_capacity(0);
        let key = Key {
            index: 9,
            generation: 0,
        };
        assert_eq!(slab.find(key), None);
    }
}
