//! The door through which the timer handshake's atomics, locks and
//! operation queue enter the crate (`driver.rs`, `timer.rs`).
//!
//! Under `--cfg loom` they become loom's model-checked versions, so the
//! handshake between timer registrars and the reactor can be explored
//! exhaustively (see `loom_tests.rs`); in a normal build they are the
//! standard library's atomics, parking_lot's mutex and crossbeam's injector.
//! The I/O side (sources, the poller, signals) is not modelled and keeps its
//! own types.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::Ordering;

#[cfg(not(loom))]
pub(crate) use crossbeam_deque::{Injector, Steal};
#[cfg(not(loom))]
pub(crate) use parking_lot::Mutex;

#[cfg(loom)]
pub(crate) use model::{AtomicBool, AtomicU64, AtomicU8, Injector, Mutex, Steal};

#[cfg(loom)]
mod model {
    //! Loom stand-ins with the shape of the types they replace.
    use std::collections::VecDeque;

    use loom::sync::atomic::Ordering::SeqCst;

    /// Loom's atomics, except that a new one's value counts as stored with
    /// `SeqCst`.
    ///
    /// Loom 0.7 lets a `SeqCst` load return an older store than a `SeqCst`
    /// store it comes after unless both stores were `SeqCst`, and it records
    /// an atomic's initial value as a `Release` store. So in the
    /// store-buffering handshake of `driver.rs` (each side stores `SeqCst`,
    /// then loads `SeqCst` what the other stored), the reactor's load could
    /// still read the queue's initial "empty" after a registrar's push,
    /// which C++'s `SeqCst` order forbids (the load would be
    /// coherence-ordered before the push that precedes it). Storing the
    /// initial value again with `SeqCst` closes that gap without hiding
    /// anything the real memory model allows.
    macro_rules! seq_cst_atomic {
        ($($name:ident($inner:ty, $value:ty);)*) => {$(
            #[derive(Debug)]
            pub(crate) struct $name($inner);

            impl $name {
                pub(crate) fn new(value: $value) -> $name {
                    let atomic = <$inner>::new(value);
                    atomic.store(value, SeqCst);
                    $name(atomic)
                }
            }

            impl std::ops::Deref for $name {
                type Target = $inner;

                fn deref(&self) -> &$inner {
                    &self.0
                }
            }
        )*};
    }

    seq_cst_atomic! {
        AtomicBool(loom::sync::atomic::AtomicBool, bool);
        AtomicU8(loom::sync::atomic::AtomicU8, u8);
        AtomicU64(loom::sync::atomic::AtomicU64, u64);
        AtomicUsize(loom::sync::atomic::AtomicUsize, usize);
    }

    /// A parking_lot-shaped wrapper over loom's mutex.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// Its guard.
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    /// What [`Injector::steal`] found (crossbeam's `Steal`, which the
    /// model never needs to retry).
    #[allow(dead_code)]
    pub(crate) enum Steal<T> {
        Success(T),
        Empty,
        Retry,
    }

    /// crossbeam's `Injector` as the handshake sees it: an item becomes
    /// visible to `is_empty` through one `SeqCst` read-modify-write of a
    /// length word (crossbeam's `SeqCst` compare-exchange of its tail index),
    /// and `is_empty` is a `SeqCst` load of that word (crossbeam's loads of
    /// the head and tail indexes). The items themselves sit under a lock,
    /// which, like crossbeam's slot hand-off, orders a push before the steal
    /// that takes the item, but is not what `is_empty` looks at.
    pub(crate) struct Injector<T> {
        items: loom::sync::Mutex<VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> Injector<T> {
        pub(crate) fn new() -> Injector<T> {
            Injector {
                items: loom::sync::Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }

        pub(crate) fn push(&self, item: T) {
            let mut items = self.items.lock().unwrap();
            items.push_back(item);
            self.len.fetch_add(1, SeqCst);
        }

        pub(crate) fn steal(&self) -> Steal<T> {
            let mut items = self.items.lock().unwrap();
            match items.pop_front() {
                Some(item) => {
                    self.len.fetch_sub(1, SeqCst);
                    Steal::Success(item)
                }
                None => Steal::Empty,
            }
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.len.load(SeqCst) == 0
        }
    }
}
