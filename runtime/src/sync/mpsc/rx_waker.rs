//! The receiver's waker slot, woken only when the receiver is parked.
//!
//! Two layers:
//!
//! - [`AtomicWaker`]: one waker slot guarded by a three-state word
//!   (`WAITING`, `REGISTERING`, `WAKING`). The receiver registers under
//!   `REGISTERING`; a waker takes the waker out under `WAKING`. If a wake
//!   arrives during a registration, the registering side sees `WAKING` when
//!   it finishes and wakes the new waker itself, so no wake-up is lost and
//!   the slot is never touched by two threads at once.
//! - [`RxWaker`]: adds a `parked` flag so that senders skip the slot's
//!   read-modify-write while the receiver is busy. It is a store-buffering
//!   handshake, closed with a `SeqCst` fence on each side:
//!   - receiver: register, swap `parked` to true, fence, then look at the
//!     queue (and the other finishing conditions) once more;
//!   - sender: make its event visible (a push, the last drop, a permit
//!     returned after close), fence, then load `parked`.
//!
//!   Of two `SeqCst` fences one comes first, so at least one side sees the
//!   other's write: the receiver finds the event, or the sender finds
//!   `parked` and wakes it. Only the sender that swaps `parked` back to false
//!   wakes, so a burst of sends costs one wake-up. (Fences, not `SeqCst`
//!   accesses, because loom models `SeqCst` fences but treats `SeqCst`
//!   accesses as acquire/release.)

use std::task::Waker;

use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, SeqCst};
use crate::loom::{fence, AtomicBool, AtomicUsize, UnsafeCell};

/// Nobody is using the slot.
const WAITING: usize = 0;
/// The receiver is writing the slot.
const REGISTERING: usize = 1 << 0;
/// A sender is taking the waker out (or, with `REGISTERING`, asked the
/// registering receiver to wake itself).
const WAKING: usize = 1 << 1;

/// A waker slot that one registering side and many waking sides can use
/// concurrently.
#[derive(Debug)]
pub(super) struct AtomicWaker {
    /// `WAITING`, `REGISTERING`, `WAKING` or `REGISTERING | WAKING`.
    state: AtomicUsize,
    /// The registered waker; written only by whoever moved `state` away
    /// from `WAITING`.
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the slot is accessed only by the thread that owns the state word's
// lock bit (`REGISTERING` or `WAKING`, module docs); wakers are Send + Sync.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    /// An empty slot.
    pub(super) fn new() -> AtomicWaker {
        AtomicWaker {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` to be woken by the next [`wake`](AtomicWaker::wake).
    /// Must not be called concurrently with itself (one receiver).
    pub(super) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
        {
            Ok(_) => {
                // SAFETY: `REGISTERING` is ours: nobody else touches the slot
                // until we put the state back to `WAITING`.
                self.waker.with_mut(|p| unsafe {
                    if !(*p).as_ref().is_some_and(|w| w.will_wake(waker)) {
                        *p = Some(waker.clone());
                    }
                });
                if self
                    .state
                    .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
                    .is_err()
                {
                    // A wake arrived while we were registering and left the
                    // waking to us (the state is `REGISTERING | WAKING`).
                    // SAFETY: still ours until the swap below.
                    let waker = self.waker.with_mut(|p| unsafe { (*p).take() });
                    self.state.swap(WAITING, AcqRel);
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
            }
            Err(_) => {
                // A sender is waking the previous waker right now; that
                // wake-up may have been meant for us, so take it. (The
                // caller is re-polled at once: a short spin while the
                // sender finishes, so let loom run the sender.)
                waker.wake_by_ref();
                #[cfg(loom)]
                loom::thread::yield_now();
            }
        }
    }

    /// Wakes the registered waker, if any, and empties the slot.
    pub(super) fn wake(&self) {
        if self.state.fetch_or(WAKING, AcqRel) == WAITING {
            // SAFETY: we moved the state from `WAITING` to `WAKING`: the slot
            // is ours until we clear the bit.
            let waker = self.waker.with_mut(|p| unsafe { (*p).take() });
            self.state.fetch_and(!WAKING, AcqRel);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        // Otherwise the receiver is registering (and will wake itself) or
        // another sender is already waking.
    }
}

/// The receiver's waker with a `parked` flag (module docs).
#[derive(Debug)]
pub(super) struct RxWaker {
    /// The slot.
    waker: AtomicWaker,
    /// The receiver registered and may be about to return `Pending`.
    parked: AtomicBool,
}

impl RxWaker {
    /// Not parked, no waker.
    pub(super) fn new() -> RxWaker {
        RxWaker {
            waker: AtomicWaker::new(),
            parked: AtomicBool::new(false),
        }
    }

    /// Receiver side: registers `waker` and announces the park. The caller
    /// must look for work again afterwards before returning `Pending`.
    pub(super) fn park(&self, waker: &Waker) {
        self.waker.register(waker);
        // An RMW rather than a store: it is ordered after every earlier
        // sender's swap (a plain store need not be, in loom's model).
        self.parked.swap(true, AcqRel);
        fence(SeqCst);
    }

    /// Receiver side: the second look found work, so senders need not wake
    /// it (saves one spurious wake-up; correctness does not depend on it).
    pub(super) fn unpark(&self) {
        self.parked.swap(false, AcqRel);
    }

    /// Sender side, after making an event visible: wakes the receiver if
    /// it is parked.
    #[inline]
    pub(super) fn notify(&self) {
        fence(SeqCst);
        if self.parked.load(Relaxed) && self.parked.swap(false, AcqRel) {
            self.waker.wake();
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize as Count;
    use std::sync::Arc as StdArc;
    use std::task::Wake;

    struct Counting(Count);

    impl Wake for Counting {
        fn wake(self: StdArc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn notify_wakes_a_parked_receiver_once_and_skips_a_busy_one() {
        let counter = StdArc::new(Counting(Count::new(0)));
        let waker = Waker::from(counter.clone());
        let rx = RxWaker::new();
        rx.notify();
        assert_eq!(counter.0.load(SeqCst), 0, "woken while not parked");
        rx.park(&waker);
        rx.notify();
        rx.notify();
        assert_eq!(counter.0.load(SeqCst), 1, "one wake-up per park");
        rx.park(&waker);
        rx.unpark();
        rx.notify();
        assert_eq!(counter.0.load(SeqCst), 1, "woken after unpark");
    }

    #[test]
    fn a_receiver_registering_while_a_sender_wakes_is_told_to_poll_again() {
        // The step the loom models reach with three preemptions: a sender
        // is between taking the slot (`WAKING`) and releasing it, and took
        // nothing from it, when the receiver registers. The waker cannot be
        // stored, so `park` wakes it at once; the receiver's executor polls
        // it again and that registration succeeds.
        let counter = StdArc::new(Counting(Count::new(0)));
        let waker = Waker::from(counter.clone());
        let rx = RxWaker::new();
        rx.waker.state.store(WAKING, SeqCst);
        rx.park(&waker);
        assert_eq!(counter.0.load(SeqCst), 1, "not told to poll again");
        // The sender releases the slot; the next sender's wake-up finds
        // `parked` set and an empty slot, and wakes nobody.
        rx.waker.state.store(WAITING, SeqCst);
        rx.notify();
        assert_eq!(counter.0.load(SeqCst), 1);
        // The second poll registers, so the next event wakes the receiver.
        rx.park(&waker);
        rx.notify();
        assert_eq!(counter.0.load(SeqCst), 2, "second registration not woken");
    }
}
