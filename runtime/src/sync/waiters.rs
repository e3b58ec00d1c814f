//! The FIFO waiter list every primitive in `sync` parks its futures in.
//!
//! A `WaiterList` is a plain data structure; each primitive keeps it under
//! its own lock (`crate::loom::Mutex`), next to whatever state the waiters
//! wait for. Nodes live in a slab (`Vec<Node>` plus a free list) and are
//! linked by index into one doubly linked FIFO queue, so pushing, granting
//! the front and removing any node are O(1), and once the slab has grown to
//! the largest number of simultaneous waiters, waiting allocates nothing.
//!
//! # Protocol
//!
//! 1. A future that has to wait calls [`WaiterList::push`] and keeps the
//!    returned [`Key`]. Its node is `Waiting`, at the back of the queue, with
//!    the future's waker and the amount it wants (permits; 1 elsewhere).
//! 2. The primitive grants the front node ([`WaiterList::grant_front`]) when
//!    what the node waits for is handed to it (the lock, permits, a
//!    notification, a reserved item or free slot), or refuses every node
//!    ([`WaiterList::finish_all`] with [`Status::Refused`]) when it closes.
//!    Either unlinks the node from the queue but keeps its slot, and takes
//!    its waker out, which the caller wakes after dropping its lock.
//! 3. The future learns its outcome with [`WaiterList::status`] when polled;
//!    once it is no longer `Waiting` it frees the slot with
//!    [`WaiterList::remove`] and takes what was granted.
//! 4. A future dropped while it holds a key calls [`WaiterList::remove`] too:
//!    if the node was still `Waiting` it is unlinked and gone; if it was
//!    `Granted`, the future owns the grant and passes it on (to the next
//!    waiter, or back to the primitive) under the same lock. This is what
//!    makes every primitive cancel-safe: a grant is never in limbo, it is
//!    either in a node the future will look at or back in the primitive.
//!
//! Only the future holding a `Key` frees its slot, so a slot index is never
//! reused while a key to it exists, and `Key` is neither `Copy` nor `Clone`.

use std::task::Waker;

/// "No node" in the index links.
const NIL: u32 = u32::MAX;

/// Slab length above which an emptied list gives its memory back.
const SHRINK_ABOVE: usize = 1024;

/// Where a waiter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Queued, waiting for its turn.
    Waiting,
    /// Handed what it waited for; the future now owns it.
    Granted,
    /// Released without a grant (the primitive was closed or shut down).
    Refused,
}

/// The handle a waiting future keeps to its node.
#[derive(Debug)]
pub(crate) struct Key(u32);

/// One slot of the slab.
#[derive(Debug)]
struct Node {
    /// The waiter's waker; `None` once it has been taken to be woken.
    waker: Option<Waker>,
    /// What the waiter wants (permits for a semaphore; 1 for the others).
    wanted: usize,
    /// Where the waiter stands; meaningless while the slot is free.
    status: Status,
    /// The previous queued node, or `NIL`.
    prev: u32,
    /// The next queued node (or, for a free slot, the next free slot), or `NIL`.
    next: u32,
}

/// A FIFO queue of waiters in a slab (see the module docs for the protocol).
#[derive(Debug)]
pub(crate) struct WaiterList {
    /// Every slot, queued, finished-but-not-yet-freed, or free.
    nodes: Vec<Node>,
    /// The first queued node, or `NIL`.
    head: u32,
    /// The last queued node, or `NIL`.
    tail: u32,
    /// The first free slot, or `NIL`.
    free: u32,
    /// How many nodes are queued (`Waiting`).
    queued: usize,
    /// How many slots are in use (queued, or finished and not yet freed).
    live: usize,
}

impl WaiterList {
    /// An empty list; allocates nothing until the first waiter.
    pub(crate) const fn new() -> WaiterList {
        WaiterList {
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
            queued: 0,
            live: 0,
        }
    }

    /// Whether no waiter is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// How many waiters are queued.
    pub(crate) fn len(&self) -> usize {
        self.queued
    }

    /// Queues a waiter wanting `wanted` at the back.
    pub(crate) fn push(&mut self, waker: &Waker, wanted: usize) -> Key {
        let node = Node {
            waker: Some(waker.clone()),
            wanted,
            status: Status::Waiting,
            prev: self.tail,
            next: NIL,
        };
        // Reuse a free slot, or grow the slab.
        let index = if self.free != NIL {
            let index = self.free;
            self.free = self.nodes[index as usize].next;
            self.nodes[index as usize] = node;
            index
        } else {
            let index = u32::try_from(self.nodes.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("more than u32::MAX - 1 waiters on one primitive");
            self.nodes.push(node);
            index
        };
        // Link it at the back.
        if self.tail == NIL {
            self.head = index;
        } else {
            self.nodes[self.tail as usize].next = index;
        }
        self.tail = index;
        self.queued += 1;
        self.live += 1;
        Key(index)
    }

    /// The waiter's status; while it is still `Waiting`, its stored waker is
    /// replaced by `waker` unless the two wake the same task.
    pub(crate) fn status(&mut self, key: &Key, waker: &Waker) -> Status {
        let node = &mut self.nodes[key.0 as usize];
        if node.status == Status::Waiting {
            match &node.waker {
                Some(w) if w.will_wake(waker) => {}
                _ => node.waker = Some(waker.clone()),
            }
        }
        node.status
    }

    /// Frees the waiter's slot, unlinking it if it was still queued, and
    /// returns its status: `Granted` means the caller now owns the grant.
    pub(crate) fn remove(&mut self, key: Key) -> Status {
        let index = key.0;
        let status = self.nodes[index as usize].status;
        if status == Status::Waiting {
            self.unlink(index);
        }
        let node = &mut self.nodes[index as usize];
        node.waker = None;
        node.next = self.free;
        self.free = index;
        self.live -= 1;
        if self.live == 0 && self.nodes.len() > SHRINK_ABOVE {
            // A burst is over: give the slab back.
            *self = WaiterList::new();
        }
        status
    }

    /// What the front waiter wants, if one is queued.
    #[inline]
    pub(crate) fn front_wanted(&self) -> Option<usize> {
        (self.head != NIL).then(|| self.nodes[self.head as usize].wanted)
    }

    /// Grants the front waiter, unlinking it, and returns its waker (to be
    /// woken after the caller's lock is dropped); `None` if none is queued.
    pub(crate) fn grant_front(&mut self) -> Option<Waker> {
        if self.head == NIL {
            return None;
        }
        Some(self.finish(self.head, Status::Granted))
    }

    /// Grants up to `n` waiters from the front into `wakes`; returns how many.
    pub(crate) fn grant_many(&mut self, n: usize, wakes: &mut WakeList) -> usize {
        let mut granted = 0;
        while granted < n && self.head != NIL {
            wakes.push(self.finish(self.head, Status::Granted));
            granted += 1;
        }
        granted
    }

    /// Gives every queued waiter `status` (`Granted` or `Refused`), leaving
    /// the queue empty, and collects their wakers; returns how many.
    pub(crate) fn finish_all(&mut self, status: Status, wakes: &mut WakeList) -> usize {
        let mut count = 0;
        while self.head != NIL {
            wakes.push(self.finish(self.head, status));
            count += 1;
        }
        count
    }

    /// Unlinks queued node `index`, sets its status and takes its waker.
    fn finish(&mut self, index: u32, status: Status) -> Waker {
        debug_assert_ne!(status, Status::Waiting);
        self.unlink(index);
        let node = &mut self.nodes[index as usize];
        node.status = status;
        node.waker
            .take()
            .expect("a waiting node always holds a waker")
    }

    /// Takes queued node `index` out of the queue's links.
    fn unlink(&mut self, index: u32) {
        let (prev, next) = {
            let node = &self.nodes[index as usize];
            (node.prev, node.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
        self.queued -= 1;
    }
}

/// Wakers collected under a lock, to be woken after it is dropped. The first
/// one is stored inline, so waking a single waiter allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct WakeList {
    /// The first waker.
    first: Option<Waker>,
    /// Any further wakers.
    rest: Vec<Waker>,
}

impl WakeList {
    /// An empty list.
    #[inline]
    pub(crate) const fn new() -> WakeList {
        WakeList {
            first: None,
            rest: Vec::new(),
        }
    }

    /// Adds a waker.
    pub(crate) fn push(&mut self, waker: Waker) {
        if self.first.is_none() {
            self.first = Some(waker);
        } else {
            self.rest.push(waker);
        }
    }

    /// Wakes every waker (call it with no lock held).
    pub(crate) fn wake_all(self) {
        if let Some(w) = self.first {
            w.wake();
        }
        for w in self.rest {
            w.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    /// Counts its wake-ups.
    struct CountWaker(AtomicUsize);

    impl Wake for CountWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<CountWaker>, Waker) {
        let c = Arc::new(CountWaker(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn grants_in_fifo_order_and_skips_removed_nodes() {
        let (_, w) = waker();
        let mut list = WaiterList::new();
        let a = list.push(&w, 1);
        let b = list.push(&w, 2);
        let c = list.push(&w, 3);
        assert_eq!(list.len(), 3);
        assert_eq!(list.remove(b), Status::Waiting);
        assert_eq!(list.front_wanted(), Some(1));
        assert!(list.grant_front().is_some());
        assert_eq!(list.status(&a, &w), Status::Granted);
        assert_eq!(list.front_wanted(), Some(3));
        assert!(list.grant_front().is_some());
        assert!(list.grant_front().is_none());
        assert!(list.is_empty());
        assert_eq!(list.remove(a), Status::Granted);
        assert_eq!(list.remove(c), Status::Granted);
        assert_eq!(list.live, 0);
    }

    #[test]
    fn freed_slots_are_reused_without_growing() {
        let (_, w) = waker();
        let mut list = WaiterList::new();
        for _ in 0..100 {
            let a = list.push(&w, 1);
            let b = list.push(&w, 1);
            list.remove(a);
            list.remove(b);
        }
        assert_eq!(list.nodes.len(), 2);
    }

    #[test]
    fn finish_all_refuses_every_waiter_and_collects_each_waker_once() {
        let (count, w) = waker();
        let mut list = WaiterList::new();
        let keys: Vec<_> = (0..5).map(|_| list.push(&w, 1)).collect();
        let mut wakes = WakeList::new();
        assert_eq!(list.finish_all(Status::Refused, &mut wakes), 5);
        wakes.wake_all();
        assert_eq!(count.0.load(Ordering::SeqCst), 5);
        for k in keys {
            assert_eq!(list.remove(k), Status::Refused);
        }
    }

    #[test]
    fn an_emptied_big_slab_is_released() {
        let (_, w) = waker();
        let mut list = WaiterList::new();
        let keys: Vec<_> = (0..SHRINK_ABOVE + 1).map(|_| list.push(&w, 1)).collect();
        for k in keys {
            list.remove(k);
        }
        assert_eq!(list.nodes.capacity(), 0);
    }
}
