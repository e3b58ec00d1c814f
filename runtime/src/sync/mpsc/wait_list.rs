//! An intrusive FIFO list of waiting tasks, for the senders parked on a full
//! channel and for `Sender::closed()`.
//!
//! Each node lives inside the (pinned) future that waits, so waiting never
//! allocates. One mutex guards a list *and every field of every node in it*:
//!
//! 1. A future links its node (state [`WaiterState::Queued`]) under the lock
//!    and remembers that it did (`WaitNode::linked`, which only the future
//!    touches).
//! 2. A notifier pops nodes from the front under the lock, sets their state
//!    to [`WaiterState::Granted`] or [`WaiterState::Closed`], and takes their
//!    wakers, which it wakes only after unlocking (a wake-up can drop a task,
//!    and with it a future that would lock this list again).
//! 3. A linked future that is dropped takes the lock, unlinks its node if it
//!    is still queued, or else deals with what it was handed (a granted
//!    permit is passed on). So a node is never freed while it is in a list,
//!    and nobody touches a node after the notifier unlocks.

use std::marker::PhantomPinned;
use std::ptr::{self, NonNull};
use std::task::Waker;

use crate::loom::UnsafeCell;

/// Where a waiting future stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WaiterState {
    /// In the list, waiting.
    Queued,
    /// Taken off the list and given what it waited for (a permit).
    Granted,
    /// Taken off the list because the channel closed.
    Closed,
}

/// A list node, embedded in a waiting future.
#[derive(Debug)]
pub(super) struct Waiter {
    /// The node towards the front, or null.
    prev: *mut Waiter,
    /// The node towards the back, or null.
    next: *mut Waiter,
    /// The task to wake when the node is granted or closed.
    pub(super) waker: Option<Waker>,
    /// Meaningful while the owning future's `linked` flag is set.
    pub(super) state: WaiterState,
    /// Nodes are linked by address: the future holding one must not move.
    _pinned: PhantomPinned,
}

/// The node a waiting future embeds, and whether it was linked.
#[derive(Debug)]
pub(super) struct WaitNode {
    /// The node itself: its fields belong to whoever holds the list's lock.
    waiter: UnsafeCell<Waiter>,
    /// The node was linked and its outcome not yet consumed by the future;
    /// only the owning future reads or writes this.
    pub(super) linked: bool,
}

impl WaitNode {
    /// A node that is in no list.
    pub(super) fn new() -> WaitNode {
        WaitNode {
            waiter: UnsafeCell::new(Waiter {
                prev: ptr::null_mut(),
                next: ptr::null_mut(),
                waker: None,
                state: WaiterState::Queued,
                _pinned: PhantomPinned,
            }),
            linked: false,
        }
    }

    /// The node's address, for linking and for access under the lock.
    pub(super) fn ptr(&self) -> NonNull<Waiter> {
        let p = self.waiter.with_mut(|p| p);
        NonNull::new(p).expect("a cell's address is not null")
    }
}

/// The list: front is the oldest waiter.
#[derive(Debug)]
pub(super) struct WaitList {
    /// The oldest node, or null.
    head: *mut Waiter,
    /// The newest node, or null.
    tail: *mut Waiter,
}

// SAFETY: the list holds pointers to nodes owned by futures that may live on
// other threads; it is only used under the mutex that guards those nodes, so
// moving or sharing it between threads gives no unsynchronised access.
unsafe impl Send for WaitList {}
// SAFETY: as above.
unsafe impl Sync for WaitList {}

impl WaitList {
    /// An empty list.
    pub(super) const fn new() -> WaitList {
        WaitList {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
        }
    }

    /// Whether no node is linked.
    pub(super) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Links `node` at the back.
    ///
    /// # Safety
    ///
    /// The caller holds the lock guarding this list, `node` is in no list,
    /// and it stays at its address until it is unlinked (by `pop_front` or
    /// `remove`).
    pub(super) unsafe fn push_back(&mut self, node: NonNull<Waiter>) {
        let node = node.as_ptr();
        // SAFETY: the node is valid and ours to write under the lock, and so
        // is the current tail (a linked node).
        unsafe {
            (*node).prev = self.tail;
            (*node).next = ptr::null_mut();
            if self.tail.is_null() {
                self.head = node;
            } else {
                (*self.tail).next = node;
            }
        }
        self.tail = node;
    }

    /// Unlinks and returns the oldest node. The caller must hold the lock
    /// guarding this list; the node stays valid until the lock is released
    /// (rule 3 of the module docs).
    pub(super) fn pop_front(&mut self) -> Option<NonNull<Waiter>> {
        let node = NonNull::new(self.head)?;
        // SAFETY: linked nodes are valid while the lock is held (the caller
        // holds it: the list is only reachable through its mutex).
        unsafe {
            self.head = (*node.as_ptr()).next;
            if self.head.is_null() {
                self.tail = ptr::null_mut();
            } else {
                (*self.head).prev = ptr::null_mut();
            }
            (*node.as_ptr()).next = ptr::null_mut();
        }
        Some(node)
    }

    /// Unlinks `node`.
    ///
    /// # Safety
    ///
    /// The caller holds the lock guarding this list and `node` is linked in
    /// it (its state is [`WaiterState::Queued`]).
    pub(super) unsafe fn remove(&mut self, node: NonNull<Waiter>) {
        let node = node.as_ptr();
        // SAFETY: `node` and its neighbours are linked, hence valid, and
        // ours to write under the lock.
        unsafe {
            let (prev, next) = ((*node).prev, (*node).next);
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next = next;
            }
            if next.is_null() {
                self.tail = prev;
            } else {
                (*next).prev = prev;
            }
            (*node).prev = ptr::null_mut();
            (*node).next = ptr::null_mut();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn pop_front_is_fifo_and_remove_unlinks_from_any_position() {
        let nodes: Vec<WaitNode> = (0..4).map(|_| WaitNode::new()).collect();
        let mut list = WaitList::new();
        for n in &nodes {
            // SAFETY: single-threaded test; the nodes outlive the list's use.
            unsafe { list.push_back(n.ptr()) };
        }
        // SAFETY: nodes[2] is linked.
        unsafe { list.remove(nodes[2].ptr()) };
        assert_eq!(list.pop_front(), Some(nodes[0].ptr()));
        // SAFETY: nodes[3] (the tail) is linked.
        unsafe { list.remove(nodes[3].ptr()) };
        assert_eq!(list.pop_front(), Some(nodes[1].ptr()));
        assert!(list.is_empty());
        assert_eq!(list.pop_front(), None);
    }
}
