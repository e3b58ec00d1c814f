//! `Mutex<T>`: an async, FIFO-fair lock (asyncio's `Lock`, holding its data).
//!
//! # Protocol
//!
//! The lock is one atomic word with two bits, `LOCKED` and `QUEUED`, next
//! to a [`WaiterList`] under a small internal lock.
//!
//! 1. `lock` tries `0 -> LOCKED` with one compare-and-swap. That succeeds
//!    only when the lock is free and nobody waits, so a newcomer never
//!    overtakes a queued waiter.
//! 2. Otherwise it takes the list lock and, in a CAS loop, either takes the
//!    lock (it was released meanwhile) or sets `QUEUED` and queues itself.
//!    `QUEUED` is only set or cleared under the list lock, and it is set
//!    exactly while the list is non-empty.
//! 3. `unlock` tries `LOCKED -> 0`. If `QUEUED` is set that fails, and under
//!    the list lock it hands the lock to the front waiter: the word stays
//!    `LOCKED` (clearing `QUEUED` if the list is now empty), the node is
//!    granted, and its waker is woken after the list lock is dropped.
//! 4. A lock future dropped while queued unlinks itself (clearing `QUEUED`
//!    if it was the last); one dropped after being granted owns the lock and
//!    unlocks it as in step 3, so a hand-off is never lost.
//!
//! The data is published from one holder to the next by the `Release` of the
//! unlock CAS and the `Acquire` of the lock CAS, or by the list lock on a
//! hand-off.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::waiters::{Key, Status, WaiterList};
use crate::loom::{self, AtomicUsize, Ordering, UnsafeCell};
use crate::task::poll_proceed;

/// Set while someone holds the lock.
const LOCKED: usize = 0b01;
/// Set while the waiter list is non-empty.
const QUEUED: usize = 0b10;

/// An async mutual-exclusion lock around a `T` (asyncio's `Lock`, holding
/// the data it guards, as Rust locks do).
///
/// [`lock`](Mutex::lock) waits without blocking the thread, and the
/// [`MutexGuard`] it gives may be held across `.await`: it is `Send` when `T`
/// is. Waiters get the lock in the order they asked for it: releasing the
/// lock hands it straight to the first waiter, and a newcomer (or
/// [`try_lock`](Mutex::try_lock)) never takes it from under a queued one.
///
/// ```
/// use std::sync::Arc;
/// use aiolos::sync::Mutex;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// let total = rt.block_on(async {
///     let counter = Arc::new(Mutex::new(0u32));
///     let tasks: Vec<_> = (0..8)
///         .map(|_| {
///             let counter = counter.clone();
///             aiolos::spawn(async move {
///                 for _ in 0..100 {
///                     let mut n = counter.lock().await;
///                     aiolos::yield_now().await; // the guard is held across an await
///                     *n += 1;
///                 }
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     let n = *counter.lock().await;
///     n
/// });
/// assert_eq!(total, 800);
/// ```
pub struct Mutex<T> {
    /// `LOCKED` and `QUEUED` (see the module docs).
    state: AtomicUsize,
    /// The futures waiting for the lock, in arrival order.
    waiters: loom::Mutex<WaiterList>,
    /// The guarded value; accessed only by the holder of `LOCKED`.
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `MutexGuard`, and the lock
// protocol admits one guard at a time, so `&Mutex<T>` shared across threads
// gives each thread exclusive access in turn: `T: Send` suffices (as for
// `std::sync::Mutex`).
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicUsize::new(0),
            waiters: loom::Mutex::new(WaiterList::new()),
            value: UnsafeCell::new(value),
        }
    }

    /// Waits for the lock and returns a guard that releases it when dropped
    /// (asyncio's `async with lock`).
    ///
    /// Cancel-safe: if the future is dropped after the lock was handed to
    /// it, the lock goes on to the next waiter.
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> + '_ {
        self.lock_future()
    }

    /// The future behind [`lock`](Mutex::lock), by name (for `Condition`).
    pub(super) fn lock_future(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            key: None,
        }
    }

    /// Takes the lock if it is free and nobody is waiting for it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| MutexGuard::new(self))
    }

    /// Whether someone holds the lock (asyncio's `locked()`).
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// A mutable reference to the value; no locking is needed, as the
    /// borrow proves nobody else can hold the lock.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard and every other borrow.
        self.value.with_mut(|p| unsafe { &mut *p })
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }

    /// Releases the lock, handing it to the first waiter if there is one.
    #[inline]
    fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    /// `unlock` with waiters queued: hand the lock over under the list lock.
    #[cold]
    fn unlock_slow(&self) {
        let waker = {
            let mut waiters = self.waiters.lock();
            self.hand_off(&mut waiters)
        };
        // Wake the new holder after dropping the list lock.
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Passes the held lock to the front waiter, or frees it if none is left;
    /// returns the waker to wake. The caller holds the lock and `waiters`.
    fn hand_off(&self, waiters: &mut WaiterList) -> Option<std::task::Waker> {
        // While the caller holds LOCKED and the list lock, nobody else writes
        // the word: a locker's CAS expects it free, and QUEUED changes only
        // under the list lock.
        match waiters.grant_front() {
            Some(waker) => {
                // The lock stays LOCKED: it now belongs to the granted waiter.
                let queued = if waiters.is_empty() { 0 } else { QUEUED };
                self.state.store(LOCKED | queued, Ordering::Relaxed);
                Some(waker)
            }
            None => {
                self.state.store(0, Ordering::Release);
                None
            }
        }
    }
}

/// The future of [`Mutex::lock`].
pub(super) struct Lock<'a, T> {
    /// The mutex being locked.
    mutex: &'a Mutex<T>,
    /// Our node in the waiter list, while we are queued or granted.
    key: Option<Key>,
}

impl<'a, T> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        // Spend budget before taking anything, so a yield here loses nothing.
        ready!(poll_proceed(cx));
        let mutex = self.mutex;
        if let Some(key) = &self.key {
            let mut waiters = mutex.waiters.lock();
            if waiters.status(key, cx.waker()) == Status::Waiting {
                return Poll::Pending;
            }
            // The lock was handed to us.
            let key = self.key.take().expect("checked above");
            waiters.remove(key);
            return Poll::Ready(MutexGuard::new(mutex));
        }
        // Fast path: free and nobody queued.
        if let Some(guard) = mutex.try_lock() {
            return Poll::Ready(guard);
        }
        // Take the lock if it was released meanwhile, or queue up.
        let mut waiters = mutex.waiters.lock();
        let mut state = mutex.state.load(Ordering::Relaxed);
        loop {
            if state & LOCKED == 0 {
                match mutex.state.compare_exchange_weak(
                    state,
                    state | LOCKED,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Poll::Ready(MutexGuard::new(mutex)),
                    Err(actual) => state = actual,
                }
                continue;
            }
            if state & QUEUED != 0 {
                break;
            }
            match mutex.state.compare_exchange_weak(
                state,
                state | QUEUED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        self.key = Some(waiters.push(cx.waker(), 1));
        Poll::Pending
    }
}

impl<T> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let waker = {
            let mut waiters = self.mutex.waiters.lock();
            match waiters.remove(key) {
                // We own the lock we never used: pass it on.
                Status::Granted => self.mutex.hand_off(&mut waiters),
                _ => {
                    if waiters.is_empty() {
                        self.mutex.state.fetch_and(!QUEUED, Ordering::Relaxed);
                    }
                    None
                }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// Proof of holding a [`Mutex`]: dereferences to the value and releases the
/// lock when dropped.
///
/// `Send` when `T: Send`, so a task may hold it across `.await`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MutexGuard<'a, T> {
    /// The locked mutex.
    mutex: &'a Mutex<T>,
    /// Makes the guard `Send`/`Sync` exactly as `&mut T` is (given that
    /// `&Mutex<T>` is `Send + Sync` for `T: Send`).
    _value: PhantomData<&'a mut T>,
}

impl<'a, T> MutexGuard<'a, T> {
    /// Wraps the lock the caller has just taken.
    fn new(mutex: &'a Mutex<T>) -> MutexGuard<'a, T> {
        MutexGuard {
            mutex,
            _value: PhantomData,
        }
    }

    /// The mutex this guard holds.
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock, so no `&mut T` exists
        // elsewhere; the borrow is tied to the guard's.
        self.mutex.value.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves we hold the lock, and `&mut self` makes
        // this the only borrow through it.
        self.mutex.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(guard) => d.field("value", &&*guard),
            None => d.field("value", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}
