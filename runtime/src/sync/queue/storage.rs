//! Where a queue keeps its items: the one thing the three queue kinds do
//! differently.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// An item container with a removal order.
pub(crate) trait Storage: Default {
    /// The item type.
    type Item;

    /// Adds an item.
    fn push(&mut self, item: Self::Item);

    /// Removes the next item in this storage's order.
    fn pop(&mut self) -> Option<Self::Item>;

    /// How many items are stored.
    fn len(&self) -> usize;
}

/// First in, first out (`Queue`).
#[derive(Debug)]
pub(crate) struct Fifo<T>(VecDeque<T>);

/// Last in, first out (`LifoQueue`).
#[derive(Debug)]
pub(crate) struct Lifo<T>(Vec<T>);

/// Smallest first (`PriorityQueue`).
#[derive(Debug)]
pub(crate) struct Smallest<T>(BinaryHeap<Reverse<T>>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T: Ord> Default for Smallest<T> {
    fn default() -> Self {
        Smallest(BinaryHeap::new())
    }
}

impl<T> Storage for Fifo<T> {
    type Item = T;

    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Storage for Lifo<T> {
    type Item = T;

    fn push(&mut self, item: T) {
        self.0.push(item);
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Storage for Smallest<T> {
    type Item = T;

    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(item)| item)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<S: Storage<Item = u32>>(mut s: S) -> Vec<u32> {
        for i in [3, 1, 4, 1, 5] {
            s.push(i);
        }
        assert_eq!(s.len(), 5);
        std::iter::from_fn(|| s.pop()).collect()
    }

    #[test]
    fn each_storage_pops_in_its_order() {
        assert_eq!(drain(Fifo::default()), [3, 1, 4, 1, 5]);
        assert_eq!(drain(Lifo::default()), [5, 1, 4, 1, 3]);
        assert_eq!(drain(Smallest::default()), [1, 1, 3, 4, 5]);
    }
}
