//! The ready queue behind `gather`, `try_gather`, `gather!`, `wait` and
//! `as_completed`: one waker per child that records *which* child was woken,
//! so a wake-up costs the parent one child poll, not a poll of every child.
//! Gathering n children is O(n) in total, however they finish.
//!
//! # Protocol
//!
//! Child `i` owns node `i`, which holds a `queued` flag and a `next` link.
//! The nodes form a lock-free stack (`head`) that producers push onto and the
//! parent only ever empties whole, so the stack has no ABA problem. Links are
//! node indices plus one; zero ends the list.
//!
//! A child's waker:
//! 1. sets `queued`; if it was set already the child is queued: stop;
//! 2. pushes the node on the stack;
//! 3. if the stack was empty, wakes the parent's waker.
//!
//! The parent (the only consumer):
//! 1. stores its waker (`register`), then
//! 2. takes the whole stack with one swap into its private batch, reversed
//!    so that children come out in wake order, and for each node reads
//!    `next`, clears `queued` (from here on a wake queues the child again)
//!    and polls the child.
//!
//! No wake-up is lost: a push that finds the stack empty happened after the
//! parent's last swap, which came after the parent stored its waker, so the
//! push wakes the current waker. The parent polls at most as many children
//! per poll as there are, and stops early when its cooperative budget is
//! spent; either way it wakes itself before returning `Pending` with work
//! left, since such work would wake nobody.
//!
//! At the start every node is queued, in input order.

use std::mem::ManuallyDrop;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};

use crate::loom::{AtomicBool, AtomicUsize, Mutex, Ordering};

/// The parent's side of a ready queue over a fixed number of children.
pub(crate) struct ReadyQueue {
    /// What the children's wakers share.
    inner: Arc<Inner>,
    /// Nodes taken from the stack and not polled yet: the first one's index
    /// plus one, or zero.
    batch: usize,
}

/// The shared part: the stack, the parent's waker and the nodes.
struct Inner {
    /// The top of the stack of woken children (index plus one, zero: empty).
    head: AtomicUsize,
    /// The parent's waker, woken when the stack stops being empty.
    parent: Mutex<Option<Waker>>,
    /// One node per child; a child's waker points at its node.
    nodes: Box<[Node]>,
}

/// One child's place in the queue.
struct Node {
    /// The `Inner` this node lives in, to reach its reference count and stack
    /// from a waker; written once before the `Inner` is shared.
    inner: *const Inner,
    /// The next node down the stack (index plus one, zero: none); owned by
    /// whoever set `queued` until the parent clears it.
    next: AtomicUsize,
    /// The child is on the stack or in the parent's batch.
    queued: AtomicBool,
}

// SAFETY: `Node::inner` points at the `Inner` that contains the node, which
// is alive while any waker or the queue refers to it; everything reached
// through it is atomic or behind a mutex.
unsafe impl Send for Inner {}
// SAFETY: as above.
unsafe impl Sync for Inner {}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

impl ReadyQueue {
    /// A queue over `n` children, all of them queued.
    pub(crate) fn new(n: usize) -> ReadyQueue {
        let nodes = (0..n)
            .map(|i| Node {
                inner: std::ptr::null(),
                // Queued in input order: node i links to node i + 1.
                next: AtomicUsize::new(if i + 1 < n { i + 2 } else { 0 }),
                queued: AtomicBool::new(true),
            })
            .collect();
        let mut inner = Arc::new(Inner {
            head: AtomicUsize::new(0),
            parent: Mutex::new(None),
            nodes,
        });
        let ptr = Arc::as_ptr(&inner);
        let unique = Arc::get_mut(&mut inner).expect("a new Arc is unique");
        for node in unique.nodes.iter_mut() {
            node.inner = ptr;
        }
        ReadyQueue {
            inner,
            batch: usize::from(n > 0),
        }
    }

    /// How many children the queue tracks.
    pub(crate) fn len(&self) -> usize {
        self.inner.nodes.len()
    }

    /// Stores the parent's waker (step 1 of the parent's side).
    fn register(&self, waker: &Waker) {
        let mut parent = self.inner.parent.lock();
        match &*parent {
            Some(w) if w.will_wake(waker) => {}
            _ => *parent = Some(waker.clone()),
        }
    }

    /// The next queued child, taking the stack when the batch is empty.
    fn pop(&mut self) -> Option<usize> {
        if self.batch == 0 {
            self.batch = self.take_stack();
        }
        let i = self.batch.checked_sub(1)?;
        // Read the link while `queued` is still set: nobody else writes it.
        self.batch = self.inner.nodes[i].next.load(Ordering::Relaxed);
        Some(i)
    }

    /// Empties the stack and returns it reversed: oldest wake first, so
    /// children are polled (and `as_completed` yields) in wake order.
    fn take_stack(&self) -> usize {
        let mut cur = self.inner.head.swap(0, Ordering::AcqRel);
        let mut reversed = 0;
        while let Some(i) = cur.checked_sub(1) {
            // The links of queued nodes are ours until `queued` is cleared.
            let node = &self.inner.nodes[i];
            cur = node.next.load(Ordering::Relaxed);
            node.next.store(reversed, Ordering::Relaxed);
            reversed = i + 1;
        }
        reversed
    }

    /// Puts child `i` (just popped, still `queued`) back at the front.
    fn unpop(&mut self, i: usize) {
        self.inner.nodes[i]
            .next
            .store(self.batch, Ordering::Relaxed);
        self.batch = i + 1;
    }

    /// Polls the queued children: `poll_child(i, cx)` is called with child
    /// `i`'s waker in `cx`. Returns `Break` as soon as `poll_child` does;
    /// `Continue` when nothing is queued any more, or when this poll's share
    /// of work is done (then the parent's waker was woken to come back).
    pub(crate) fn poll_queued<B>(
        &mut self,
        cx: &mut Context<'_>,
        mut poll_child: impl FnMut(usize, &mut Context<'_>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        self.register(cx.waker());
        let mut polls = 0;
        while let Some(i) = self.pop() {
            // Leave the rest for the next turn when this one has done its
            // share, so a child that keeps waking itself cannot hold the
            // thread.
            if polls == self.len() || !crate::context::budget_left() {
                self.unpop(i);
                cx.waker().wake_by_ref();
                return ControlFlow::Continue(());
            }
            polls += 1;
            let node = &self.inner.nodes[i];
            node.queued.store(false, Ordering::Release);
            // A child waker borrowed from our `Arc`: it owns no count, clones
            // take their own.
            // SAFETY: the node lives in `self.inner`, which outlives this
            // borrowed waker (dropped at the end of this iteration without
            // running `drop_waker`, thanks to `ManuallyDrop`).
            let waker = ManuallyDrop::new(unsafe {
                Waker::from_raw(RawWaker::new(node as *const Node as *const (), &VTABLE))
            });
            let mut child_cx = Context::from_waker(&waker);
            poll_child(i, &mut child_cx)?;
        }
        ControlFlow::Continue(())
    }
}

impl Drop for ReadyQueue {
    fn drop(&mut self) {
        // Children that outlive the parent (the pending tasks `wait` hands
        // back) may still wake: let them wake nobody.
        self.inner.parent.lock().take();
    }
}

impl std::fmt::Debug for ReadyQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyQueue")
            .field("children", &self.len())
            .finish_non_exhaustive()
    }
}

/// The node a waker points at.
///
/// # Safety
///
/// `data` comes from a waker of this vtable, which keeps the node's `Inner`
/// alive (with a count, or borrowed during the parent's poll).
unsafe fn node<'a>(data: *const ()) -> &'a Node {
    // SAFETY: guaranteed by the caller.
    unsafe { &*(data as *const Node) }
}

unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned keeps the node alive.
    let node = unsafe { node(data) };
    // SAFETY: `node.inner` came from `Arc::as_ptr` of the live `Arc<Inner>`.
    unsafe { Arc::increment_strong_count(node.inner) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: our caller's contract is `wake_by_ref`'s, then `drop_waker`'s.
    unsafe {
        wake_by_ref(data);
        drop_waker(data);
    }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the waker keeps the node alive.
    let node = unsafe { node(data) };
    // 1. Mark it queued, unless it is already.
    if node.queued.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: the node's `Inner` is alive as long as the node is.
    let inner = unsafe { &*node.inner };
    let index = (node as *const Node as usize - inner.nodes.as_ptr() as usize)
        / std::mem::size_of::<Node>();
    // 2. Push it.
    let mut head = inner.head.load(Ordering::Relaxed);
    loop {
        node.next.store(head, Ordering::Relaxed);
        match inner
            .head
            .compare_exchange_weak(head, index + 1, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => break,
            Err(actual) => head = actual,
        }
    }
    // 3. The first push since the parent emptied the stack wakes it.
    if head == 0 {
        let parent = inner.parent.lock().clone();
        if let Some(w) = parent {
            w.wake();
        }
    }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker keeps the node alive until here.
    let node = unsafe { node(data) };
    // SAFETY: this waker owned one count of the `Arc<Inner>` (from `clone`).
    unsafe { Arc::decrement_strong_count(node.inner) };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A waker that counts its wake-ups.
    struct CountWaker(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for CountWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn drain(q: &mut ReadyQueue, cx: &mut Context<'_>) -> Vec<usize> {
        let mut seen = Vec::new();
        let flow: ControlFlow<()> = q.poll_queued(cx, |i, _| {
            seen.push(i);
            ControlFlow::Continue(())
        });
        assert!(flow.is_continue());
        seen
    }

    #[test]
    fn starts_with_every_child_queued_in_order_then_only_woken_ones() {
        let parent = Arc::new(CountWaker(Default::default()));
        let pw = Waker::from(parent.clone());
        let mut cx = Context::from_waker(&pw);
        let mut q = ReadyQueue::new(5);
        let mut wakers = Vec::new();
        let flow: ControlFlow<()> = q.poll_queued(&mut cx, |_, ccx| {
            wakers.push(ccx.waker().clone());
            ControlFlow::Continue(())
        });
        assert!(flow.is_continue());
        assert_eq!(wakers.len(), 5);
        assert!(drain(&mut q, &mut cx).is_empty());

        wakers[3].wake_by_ref();
        wakers[3].wake_by_ref(); // already queued: no second entry
        wakers[1].wake_by_ref();
        assert_eq!(parent.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(drain(&mut q, &mut cx), vec![3, 1], "in wake order");
        drop(wakers);
        assert_eq!(Arc::strong_count(&q.inner), 1);
    }

    #[test]
    fn a_child_that_always_wakes_itself_gets_one_poll_per_turn() {
        let parent = Arc::new(CountWaker(Default::default()));
        let pw = Waker::from(parent.clone());
        let mut cx = Context::from_waker(&pw);
        let mut q = ReadyQueue::new(2);
        let mut polls = 0;
        let flow: ControlFlow<()> = q.poll_queued(&mut cx, |_, ccx| {
            polls += 1;
            ccx.waker().wake_by_ref();
            ControlFlow::Continue(())
        });
        assert!(flow.is_continue());
        assert_eq!(polls, 2);
        assert!(parent.0.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    }
}
