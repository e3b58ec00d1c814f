//! The one door through which atomics, `UnsafeCell`, `Arc` and locks enter the
//! crate.
//!
//! Under `--cfg loom` these become loom's model-checked versions, so the task
//! state machine and the parking protocol can be explored exhaustively; in a
//! normal build they are the standard library's (and parking_lot's) types with
//! the same shape. Nothing else in the crate names `std::sync::atomic` or
//! `std::cell::UnsafeCell` directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

pub(crate) use cell::UnsafeCell;
pub(crate) use lock::{Condvar, Mutex};

#[cfg(loom)]
mod cell {
    pub(crate) use loom::cell::UnsafeCell;
}

#[cfg(not(loom))]
mod cell {
    /// `std::cell::UnsafeCell` with loom's closure-based access API, so code
    /// written against it runs unchanged under the model checker.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T: ?Sized>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> UnsafeCell<T> {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        /// The value, consuming the cell.
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }
    }

    impl<T: ?Sized> UnsafeCell<T> {
        /// Reads through a shared pointer.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Writes through a mutable pointer.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

#[cfg(not(loom))]
mod lock {
    pub(crate) use parking_lot::{Condvar, Mutex};
}

#[cfg(loom)]
mod lock {
    //! parking_lot-shaped wrappers over loom's lock types.
    use std::time::Duration;

    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }

    #[derive(Debug)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    /// What a timed wait reports.
    pub(crate) struct WaitTimeoutResult(bool);
    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            self.0
        }
    }

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            take_mut(guard, |g| self.0.wait(g).unwrap());
        }
        pub(crate) fn wait_for<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _timeout: Duration,
        ) -> WaitTimeoutResult {
            // Loom has no time: a timed wait is a wait that may return early.
            self.wait(guard);
            WaitTimeoutResult(false)
        }
        pub(crate) fn notify_one(&self) -> bool {
            self.0.notify_one();
            true
        }
        pub(crate) fn notify_all(&self) -> usize {
            self.0.notify_all();
            0
        }
    }

    fn take_mut<T>(slot: &mut T, f: impl FnOnce(T) -> T) {
        // SAFETY: `f` is loom's wait, which returns the guard it was given or
        // panics; a panic aborts the loom model, so `slot` is never observed
        // in its moved-out state.
        unsafe {
            let old = std::ptr::read(slot);
            std::ptr::write(slot, f(old));
        }
    }
}

/// What the loom models share (`--cfg loom` tests only).
#[cfg(all(test, loom))]
pub(crate) mod model {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    /// Wakes a loom thread parked in [`block_on`].
    struct Unparker(::loom::thread::Thread);

    impl std::task::Wake for Unparker {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Polls `fut` on this loom thread, parking between polls: a lost
    /// wake-up leaves the thread parked forever, which loom reports.
    pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let waker = Waker::from(std::sync::Arc::new(Unparker(::loom::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            ::loom::thread::park();
        }
    }
}
