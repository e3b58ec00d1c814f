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

    use ::loom::sync::atomic::AtomicBool;
    use ::loom::sync::atomic::Ordering::AcqRel;

    /// The waker [`block_on`] polls with: records the wake-up, then unparks
    /// the polling thread.
    ///
    /// The park token alone is not a reliable record under loom 0.7.3:
    /// `loom::thread::yield_now` sets the yielding thread's state to `Yield`
    /// and the scheduler later makes it plain `Runnable`, so an unpark the
    /// thread received before it yielded (`Runnable { unparked: true }`) is
    /// forgotten, where std keeps the token until the next `park`
    /// (`loom_forgets_an_unpark_across_yield_now` below). Code under test
    /// yields in its spin loops, e.g. the mpsc `AtomicWaker::register`
    /// right after it woke its own task because a sender held the slot. A
    /// helper that parked on the token alone turned that self-wake into a
    /// deadlock report that cannot happen on std, nor on aiolos's
    /// scheduler, whose task state word keeps a wake-up that arrives during
    /// a poll.
    struct Unparker {
        /// The thread polling in `block_on`.
        thread: ::loom::thread::Thread,
        /// A wake-up arrived since `block_on` last looked: the model of a
        /// task's notified bit. A loom atomic, so that what the waker wrote
        /// happens before the re-poll, as a real wake-up orders it.
        woken: AtomicBool,
    }

    impl std::task::Wake for Unparker {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            // Record first: the unpark may be forgotten, the flag is not.
            // An RMW, not a store: loom 0.7.3 lets a later RMW read past a
            // plain store from another thread that it does not see in its
            // modification order (loom#254), even one that happens before
            // it through this unpark, so `block_on`'s `swap(false)` could
            // miss a stored `true` and park for good.
            self.woken.swap(true, AcqRel);
            self.thread.unpark();
        }
    }

    /// Polls `fut` on this loom thread, parking until it is woken between
    /// polls: a lost wake-up leaves the thread parked forever, which loom
    /// reports.
    pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let unparker = std::sync::Arc::new(Unparker {
            thread: ::loom::thread::current(),
            woken: AtomicBool::new(false),
        });
        let waker = Waker::from(unparker.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            // Sleep until a wake-up is recorded (one from during the poll
            // counts). Nothing between the swap and `park` yields, so an
            // unpark that lands there leaves a token that `park` consumes;
            // a token left over from an earlier wake-up only costs a loop.
            while !unparker.woken.swap(false, AcqRel) {
                ::loom::thread::park();
            }
        }
    }

    mod tests {
        use std::future::poll_fn;
        use std::task::Poll;

        use super::block_on;

        /// The loom behaviour `Unparker` works around: `unpark` then
        /// `yield_now` then `park` returns at once on std but deadlocks in
        /// loom 0.7.3, whose `yield_now` drops the pending token. If loom
        /// starts keeping the token, this test fails and the comment on
        /// `Unparker` can say so.
        #[test]
        #[should_panic(expected = "deadlock")]
        fn loom_forgets_an_unpark_across_yield_now() {
            loom::model(|| {
                let other = loom::thread::spawn(|| {});
                loom::thread::current().unpark();
                loom::thread::yield_now();
                loom::thread::park();
                other.join().unwrap();
            });
        }

        /// A future that wakes itself and then yields (as the mpsc
        /// receiver's waker registration does when a sender holds the slot)
        /// is polled again.
        #[test]
        fn block_on_keeps_a_self_wake_across_yield_now() {
            loom::model(|| {
                let other = loom::thread::spawn(|| {});
                let mut polls = 0;
                block_on(poll_fn(|cx| {
                    polls += 1;
                    if polls == 2 {
                        return Poll::Ready(());
                    }
                    cx.waker().wake_by_ref();
                    loom::thread::yield_now();
                    Poll::Pending
                }));
                other.join().unwrap();
            });
        }

        /// A wake-up from another thread, after `block_on` looked for one
        /// and found none, gets the future polled again (with a plain store
        /// as the record this deadlocks under loom 0.7.3). The waking
        /// thread is not joined: loom 0.7.3 aborts if it unparks a thread
        /// that is blocked in `join` (loom#249).
        #[test]
        fn block_on_sees_a_wake_from_another_thread() {
            use loom::sync::atomic::{AtomicBool, Ordering::*};
            use loom::sync::Arc;

            loom::model(|| {
                let done = Arc::new(AtomicBool::new(false));
                let mut waker_thread = None;
                block_on(poll_fn(|cx| {
                    if done.load(Acquire) {
                        return Poll::Ready(());
                    }
                    if waker_thread.is_none() {
                        let (d, waker) = (done.clone(), cx.waker().clone());
                        waker_thread = Some(loom::thread::spawn(move || {
                            d.store(true, Release);
                            waker.wake();
                        }));
                    }
                    Poll::Pending
                }));
            });
        }
    }
}
