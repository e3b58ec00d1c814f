//! The message queue under every mpsc channel: a lock-free linked list of
//! blocks of [`BLOCK_CAP`] slots, written by many senders, read by one
//! receiver.
//!
//! # Protocol
//!
//! Messages are numbered by a global index. A block holds the slots
//! `start .. start + BLOCK_CAP`; each block's successor starts
//! `BLOCK_CAP` later.
//!
//! 1. **Claim.** A sender takes an index with one `fetch_add` on
//!    `tail_index`: no compare-and-swap loop, no lock.
//! 2. **Find.** It loads `tail_block` and walks `next` pointers to the block
//!    of its index, linking a new block where `next` is null (a sender that
//!    loses that race appends its block further down instead of freeing it).
//!    Walking past a block whose slots are all written ("final"), it tries
//!    to move `tail_block` forward with a CAS; the winner records the
//!    current `tail_index` in the block (`observed_tail`) and then sets the
//!    block's `RELEASED` bit.
//! 3. **Write.** It writes the slot, then sets the slot's bit in the block's
//!    `ready` word (a release), and never touches the block again.
//! 4. **Read.** The receiver keeps its own `(head block, index)`. A slot is
//!    read when its ready bit is set; if it is not, the queue is empty (or
//!    the sender of that index is still writing, which the caller treats as
//!    empty: that sender wakes the receiver when it is done).
//! 5. **Reclaim.** Blocks the receiver has read to the end are reused (reset
//!    and appended after the tail, as tokio does) or freed, but only once
//!    `RELEASED` is set and the receiver's index has reached
//!    `observed_tail`. Why that is enough: a sender S that can still reach
//!    the block claimed its index (an acquire RMW on `tail_index`) and then
//!    loaded `tail_block` without seeing the CAS that moved it past the
//!    block. The winner of that CAS reads `observed_tail` with a release
//!    RMW (`fetch_add(0)`) on `tail_index`, not a load. Had that RMW come
//!    first in `tail_index`'s order, S's claim would have synchronised with
//!    it, so S's load would have seen the CAS: contradiction. So S's claim
//!    came first and `observed_tail` is greater than S's index. The
//!    receiver reaching `observed_tail` means it has read S's slot, which S
//!    wrote after its last walk. (`tail_block` only moves past final
//!    blocks, so it never passes a block with an unwritten slot, and no
//!    sender walks backwards.)
//!
//! Senders never allocate per message: a new block per `BLOCK_CAP`
//! messages, and usually not even that once recycled blocks circulate.

use std::mem::MaybeUninit;
use std::ptr::{self, addr_of_mut, NonNull};

use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::loom::{AtomicPtr, AtomicUsize, UnsafeCell};

/// Slots per block: one ready bit each, in one word with `RELEASED` above
/// them. Small under loom, to reach the block-boundary cases.
pub(super) const BLOCK_CAP: usize = if cfg!(loom) {
    2
} else {
    usize::BITS as usize / 2
};
/// The offset of an index inside its block.
const SLOT_MASK: usize = BLOCK_CAP - 1;
/// All the ready bits of a block.
const READY_MASK: usize = (1 << BLOCK_CAP) - 1;
/// `tail_block` has moved past this block; `observed_tail` is valid.
const RELEASED: usize = 1 << BLOCK_CAP;
/// How many times the receiver tries to append a recycled block before
/// freeing it instead.
const REUSE_ATTEMPTS: usize = 3;

/// One block of slots.
struct Block<T> {
    /// The index of the first slot (rewritten only while the block is
    /// unreachable, before it is linked again).
    start: AtomicUsize,
    /// The next block, or null.
    next: AtomicPtr<Block<T>>,
    /// Bit `i` set: slot `i` holds a message. Plus `RELEASED`.
    ready: AtomicUsize,
    /// `tail_index` as seen just after `tail_block` left this block.
    observed_tail: AtomicUsize,
    /// The messages.
    slots: [UnsafeCell<MaybeUninit<T>>; BLOCK_CAP],
}

impl<T> Block<T> {
    /// A fresh block for indices `start ..`, on the heap. Built in place, so
    /// that a block of large messages never sits on the stack.
    fn alloc(start: usize) -> *mut Block<T> {
        let mut block = Box::<Block<T>>::new_uninit();
        let p = block.as_mut_ptr();
        // SAFETY: `p` points to an allocation of the right layout; each field
        // is written once through a raw pointer (no reference to uninitialised
        // memory is made), every slot included, before `assume_init`.
        unsafe {
            addr_of_mut!((*p).start).write(AtomicUsize::new(start));
            addr_of_mut!((*p).next).write(AtomicPtr::new(ptr::null_mut()));
            addr_of_mut!((*p).ready).write(AtomicUsize::new(0));
            addr_of_mut!((*p).observed_tail).write(AtomicUsize::new(0));
            let slots = addr_of_mut!((*p).slots).cast::<UnsafeCell<MaybeUninit<T>>>();
            for i in 0..BLOCK_CAP {
                slots.add(i).write(UnsafeCell::new(MaybeUninit::uninit()));
            }
            Box::into_raw(block.assume_init())
        }
    }
}

/// The senders' end: shared by all of them.
pub(super) struct Tx<T> {
    /// A block at or before the one holding `tail_index`.
    tail_block: AtomicPtr<Block<T>>,
    /// The next index to claim.
    tail_index: AtomicUsize,
}

/// The receiver's end: owned by the one receiver.
pub(super) struct Rx<T> {
    /// The block holding `index`, or the block before it while that one is
    /// not linked yet.
    head: NonNull<Block<T>>,
    /// The next index to read.
    index: usize,
    /// The oldest block not yet reclaimed (at or before `head`).
    free_head: NonNull<Block<T>>,
}

/// A new, empty queue.
pub(super) fn queue<T>() -> (Tx<T>, Rx<T>) {
    let first = Block::<T>::alloc(0);
    let head = NonNull::new(first).expect("Box pointers are not null");
    (
        Tx {
            tail_block: AtomicPtr::new(first),
            tail_index: AtomicUsize::new(0),
        },
        Rx {
            head,
            index: 0,
            free_head: head,
        },
    )
}

impl<T> Tx<T> {
    /// Appends `value` (steps 1 to 3 of the protocol).
    pub(super) fn push(&self, value: T) {
        let index = self.tail_index.fetch_add(1, AcqRel);
        let block = self.find_block(index);
        let offset = index & SLOT_MASK;
        // SAFETY: the block is live (protocol step 5: the receiver cannot
        // reclaim it before reading our slot), and the slot is ours alone:
        // we claimed its index, and the receiver reads it only after we set
        // its ready bit below.
        unsafe {
            let block = &*block;
            block.slots[offset].with_mut(|p| (*p).write(value));
            block.ready.fetch_or(1 << offset, Release);
        }
    }

    /// Walks from `tail_block` to the block holding `index` (step 2).
    fn find_block(&self, index: usize) -> *mut Block<T> {
        let start = index & !SLOT_MASK;
        let mut block = self.tail_block.load(Acquire);
        let mut try_advance = true;
        loop {
            // SAFETY: reached from `tail_block` after our claim: live until
            // the receiver reads our slot (step 5).
            let b = unsafe { &*block };
            if b.start.load(Relaxed) == start {
                return block;
            }
            let next = match b.next.load(Acquire) {
                next if next.is_null() => self.grow(b),
                next => next,
            };
            // Move `tail_block` past blocks that are completely written.
            try_advance = try_advance && b.ready.load(Acquire) & READY_MASK == READY_MASK;
            if try_advance {
                match self
                    .tail_block
                    .compare_exchange(block, next, AcqRel, Acquire)
                {
                    Ok(_) => {
                        // An RMW, not a load: see step 5.
                        let observed = self.tail_index.fetch_add(0, AcqRel);
                        b.observed_tail.store(observed, Relaxed);
                        b.ready.fetch_or(RELEASED, Release);
                    }
                    Err(_) => try_advance = false,
                }
            }
            block = next;
            #[cfg(loom)]
            loom::thread::yield_now();
        }
    }

    /// Links a new block after `b` and returns `b`'s successor (ours, or
    /// the one another sender linked first, in which case ours goes further
    /// down the list).
    #[cold]
    fn grow(&self, b: &Block<T>) -> *mut Block<T> {
        let new = Block::<T>::alloc(b.start.load(Relaxed) + BLOCK_CAP);
        match b
            .next
            .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
        {
            Ok(_) => new,
            Err(actual) => {
                let mut curr = actual;
                loop {
                    // SAFETY: `curr` is reachable from the block we walked
                    // to, so it is live for as long as our claim is unread
                    // (step 5); `new` is not yet shared.
                    let c = unsafe { &*curr };
                    // SAFETY: `new` is still private to us.
                    unsafe { &*new }
                        .start
                        .store(c.start.load(Relaxed) + BLOCK_CAP, Relaxed);
                    match c
                        .next
                        .compare_exchange(ptr::null_mut(), new, AcqRel, Acquire)
                    {
                        Ok(_) => return actual,
                        Err(next) => curr = next,
                    }
                }
            }
        }
    }

    /// Resets a reclaimed block and appends it after the tail, or frees it
    /// if the tail keeps moving.
    ///
    /// # Safety
    ///
    /// Called by the receiver only, with a block no sender can reach any
    /// more (step 5) that has been unlinked from the receiver's chain.
    unsafe fn recycle(&self, block: NonNull<Block<T>>) {
        let block = block.as_ptr();
        // SAFETY: nobody else can reach the block (caller's contract).
        let b = unsafe { &*block };
        b.ready.store(0, Relaxed);
        b.observed_tail.store(0, Relaxed);
        b.next.store(ptr::null_mut(), Relaxed);
        let mut curr = self.tail_block.load(Acquire);
        for _ in 0..REUSE_ATTEMPTS {
            // SAFETY: blocks at or after `tail_block` are not released, so
            // only the receiver (us) could reclaim them: they are live.
            let c = unsafe { &*curr };
            b.start.store(c.start.load(Relaxed) + BLOCK_CAP, Relaxed);
            match c
                .next
                .compare_exchange(ptr::null_mut(), block, AcqRel, Acquire)
            {
                Ok(_) => return,
                Err(next) => curr = next,
            }
        }
        // SAFETY: still unreachable (every CAS failed); allocated by `alloc`.
        drop(unsafe { Box::from_raw(block) });
    }
}

impl<T> Rx<T> {
    /// Takes the next message if it is written (step 4), reclaiming blocks
    /// read to the end on the way.
    pub(super) fn pop(&mut self, tx: &Tx<T>) -> Option<T> {
        if !self.advance_head() {
            return None;
        }
        self.reclaim(tx);
        // SAFETY: `head` is live: only we reclaim blocks, and never `head`.
        let head = unsafe { self.head.as_ref() };
        let offset = self.index & SLOT_MASK;
        if head.ready.load(Acquire) & (1 << offset) == 0 {
            return None;
        }
        // SAFETY: the ready bit (acquired above) says the slot holds a
        // message written by its sender, who no longer touches it; we move
        // it out and advance past it, so it is read exactly once.
        let value = head.slots[offset].with(|p| unsafe { ptr::read(p).assume_init() });
        self.index = self.index.wrapping_add(1);
        Some(value)
    }

    /// Moves `head` to the block holding `index`; false if that block is
    /// not linked yet (nothing to read).
    fn advance_head(&mut self) -> bool {
        let start = self.index & !SLOT_MASK;
        loop {
            // SAFETY: `head` is live (see `pop`).
            let head = unsafe { self.head.as_ref() };
            if head.start.load(Relaxed) == start {
                return true;
            }
            match NonNull::new(head.next.load(Acquire)) {
                Some(next) => self.head = next,
                None => return false,
            }
        }
    }

    /// Recycles the blocks before `head` that no sender can reach (step 5).
    fn reclaim(&mut self, tx: &Tx<T>) {
        while self.free_head != self.head {
            // SAFETY: blocks from `free_head` to `head` are live: only we
            // reclaim, and we have not reclaimed these.
            let block = unsafe { self.free_head.as_ref() };
            let ready = block.ready.load(Acquire);
            if ready & RELEASED == 0 || block.observed_tail.load(Relaxed) > self.index {
                return;
            }
            let next = NonNull::new(block.next.load(Acquire))
                .expect("a block before the head has a successor");
            let done = std::mem::replace(&mut self.free_head, next);
            // SAFETY: released and read past `observed_tail`: no sender can
            // reach it (step 5); we just unlinked it from our chain.
            unsafe { tx.recycle(done) };
        }
    }

    /// Drops every message still queued and frees every block.
    ///
    /// # Safety
    ///
    /// No sender is pushing or can push any more (the channel is being
    /// dropped), and this is called once.
    pub(super) unsafe fn free_all(&mut self, tx: &Tx<T>) {
        while let Some(value) = self.pop(tx) {
            drop(value);
        }
        let mut block = self.free_head.as_ptr();
        while !block.is_null() {
            // SAFETY: every block is reachable from `free_head` exactly once
            // (reclaimed ones were relinked after the tail or freed), nobody
            // else uses them, and each came from `alloc`.
            let b = unsafe { Box::from_raw(block) };
            block = b.next.load(Relaxed);
        }
    }
}
