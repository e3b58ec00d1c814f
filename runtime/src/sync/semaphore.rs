//! `Semaphore` and `BoundedSemaphore` (asyncio's, with guards that give the
//! permits back on drop).
//!
//! # Protocol
//!
//! One atomic word holds `permits << 2 | QUEUED | CLOSED`; the waiters sit in
//! a [`WaiterList`] whose nodes record how many permits each wants.
//!
//! 1. Acquiring `k` permits subtracts them with a CAS, but only while
//!    `QUEUED` is clear: once anyone waits, newcomers queue behind them, so a
//!    large request at the front is not starved by a stream of small ones.
//! 2. Otherwise, under the list lock, the acquirer either takes the permits
//!    (freed meanwhile) or sets `QUEUED` and queues itself. `QUEUED` changes
//!    only under the list lock and is set exactly while the list is
//!    non-empty. While it is set the permit count is a pool that only code
//!    holding the list lock touches (every lock-free CAS expects `QUEUED`
//!    clear), and the pool is always smaller than what the front waiter wants.
//! 3. Releasing `n` permits adds them with a CAS while `QUEUED` is clear;
//!    otherwise, under the list lock, it adds them to the pool and grants
//!    front waiters, oldest first, while the pool covers what they want
//!    (`Semaphore::release_locked`), clearing `QUEUED` if the list empties.
//! 4. `close` sets `CLOSED` and refuses every waiter; acquirers see
//!    `CLOSED` and fail, releases still return permits.
//! 5. An acquire future dropped while queued unlinks itself and re-runs the
//!    grant loop with nothing added (it may have been the front that blocked
//!    the others); one dropped after its grant releases the granted permits
//!    through the same loop. No permit is ever lost to a cancelled task.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::error::AcquireError;
use super::waiters::{Key, Status, WaiterList, WakeList};
use crate::loom::{self, AtomicUsize, Ordering};
use crate::task::poll_proceed;

/// Set once the semaphore is closed.
const CLOSED: usize = 0b01;
/// Set while the waiter list is non-empty.
const QUEUED: usize = 0b10;
/// How far the permit count is shifted in the state word.
const SHIFT: u32 = 2;

/// A counting semaphore (asyncio's `Semaphore`): at most `n` permits are out
/// at once.
///
/// [`acquire`](Semaphore::acquire) waits for a permit and returns a
/// [`SemaphorePermit`] that gives it back when dropped (or keeps it out for
/// good with [`SemaphorePermit::forget`]). Waiters are served in arrival
/// order, so [`acquire_many`](Semaphore::acquire_many) of a large count is
/// not starved by later small requests. [`close`](Semaphore::close) makes
/// every waiting and later acquire fail with [`AcquireError`].
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use aiolos::sync::Semaphore;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let limit = Arc::new(Semaphore::new(2));
///     let inside = Arc::new(AtomicUsize::new(0));
///     let tasks: Vec<_> = (0..6)
///         .map(|_| {
///             let (limit, inside) = (limit.clone(), inside.clone());
///             aiolos::spawn(async move {
///                 let _permit = limit.acquire().await.unwrap();
///                 assert!(inside.fetch_add(1, Ordering::SeqCst) < 2);
///                 aiolos::yield_now().await;
///                 inside.fetch_sub(1, Ordering::SeqCst);
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(limit.available_permits(), 2);
/// });
/// ```
pub struct Semaphore {
    /// `permits << SHIFT | QUEUED | CLOSED` (see the module docs).
    state: AtomicUsize,
    /// The acquirers waiting for permits, in arrival order.
    waiters: loom::Mutex<WaiterList>,
}

impl Semaphore {
    /// The largest number of permits a semaphore can hold.
    pub const MAX_PERMITS: usize = usize::MAX >> SHIFT;

    /// A semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    pub fn new(permits: usize) -> Semaphore {
        assert!(
            permits <= Semaphore::MAX_PERMITS,
            "a semaphore holds at most Semaphore::MAX_PERMITS permits"
        );
        Semaphore {
            state: AtomicUsize::new(permits << SHIFT),
            waiters: loom::Mutex::new(WaiterList::new()),
        }
    }

    /// Waits for one permit.
    ///
    /// Cancel-safe: if the future is dropped after permits were handed to it,
    /// they go back to the semaphore (and on to the next waiter).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed, or closes while waiting.
    pub fn acquire(&self) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once (taken together, in turn with other
    /// waiters). `n == 0` gives an empty permit at once unless closed.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed, or closes while waiting.
    ///
    /// # Panics
    ///
    /// If `n` exceeds [`Semaphore::MAX_PERMITS`].
    pub fn acquire_many(
        &self,
        n: usize,
    ) -> impl Future<Output = Result<SemaphorePermit<'_>, AcquireError>> + '_ {
        Acquire::new(self, n)
    }

    /// Takes one permit if one is free and nobody is waiting.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is waiting.
    pub fn try_acquire_many(&self, n: usize) -> Option<SemaphorePermit<'_>> {
        match self.try_take(n) {
            Some(Ok(())) => Some(SemaphorePermit::new(self, n)),
            _ => None,
        }
    }

    /// How many permits are free now.
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Acquire) >> SHIFT
    }

    /// Adds `n` permits (waking waiters they satisfy).
    ///
    /// # Panics
    ///
    /// If the total would exceed [`Semaphore::MAX_PERMITS`].
    pub fn add_permits(&self, n: usize) {
        self.release(n);
    }

    /// Closes the semaphore: every waiting acquire, and every later one,
    /// fails with [`AcquireError`] (one that was handed its permits before
    /// the close still gets them). Permits still out may be returned.
    pub fn close(&self) {
        let mut wakes = WakeList::new();
        {
            let mut waiters = self.waiters.lock();
            self.state.fetch_or(CLOSED, Ordering::Release);
            if !waiters.is_empty() {
                waiters.finish_all(Status::Refused, &mut wakes);
                self.state.fetch_and(!QUEUED, Ordering::Release);
            }
        }
        wakes.wake_all();
    }

    /// Whether [`close`](Semaphore::close) was called.
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Tries the lock-free path: `Some(Ok)` took `n` permits, `Some(Err)`
    /// found the semaphore closed, `None` must wait (or go slow).
    fn try_take(&self, n: usize) -> Option<Result<(), AcquireError>> {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Some(Err(AcquireError(())));
            }
            if state & QUEUED != 0 || state >> SHIFT < n {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state - (n << SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Ok(())),
                Err(actual) => state = actual,
            }
        }
    }

    /// Returns `n` permits.
    fn release(&self, n: usize) {
        if n == 0 || self.add_lock_free(n) {
            return;
        }
        let mut wakes = WakeList::new();
        self.release_locked(&mut self.waiters.lock(), n, &mut wakes);
        wakes.wake_all();
    }

    /// Adds `n` permits with a CAS while nobody waits; false once `QUEUED`
    /// is seen (the caller then goes through the list lock).
    fn add_lock_free(&self, n: usize) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & QUEUED == 0 {
            match self.state.compare_exchange_weak(
                state,
                add_permits(state, n),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
        false
    }

    /// Adds `n` permits and grants every front waiter they (with the pool)
    /// now cover. The caller holds the list lock and wakes `wakes` after.
    fn release_locked(&self, waiters: &mut WaiterList, n: usize, wakes: &mut WakeList) {
        // QUEUED is set only under the list lock, which we hold: if the add
        // fails, it is set and stays set until we clear it.
        if self.add_lock_free(n) {
            debug_assert!(waiters.is_empty());
            return;
        }
        // QUEUED: the word is ours while we hold the list lock.
        let state = self.state.load(Ordering::Acquire);
        let mut pool = add_permits(state, n) >> SHIFT;
        while let Some(wanted) = waiters.front_wanted() {
            if wanted > pool {
                break;
            }
            pool -= wanted;
            wakes.push(waiters.grant_front().expect("front exists"));
        }
        let queued = if waiters.is_empty() { 0 } else { QUEUED };
        self.state
            .store(pool << SHIFT | queued | (state & CLOSED), Ordering::Release);
    }
}

/// `state` with `n` more permits.
///
/// # Panics
///
/// If that would exceed [`Semaphore::MAX_PERMITS`].
fn add_permits(state: usize, n: usize) -> usize {
    assert!(
        n <= Semaphore::MAX_PERMITS - (state >> SHIFT),
        "adding permits would exceed Semaphore::MAX_PERMITS"
    );
    state + (n << SHIFT)
}

/// The future of [`Semaphore::acquire_many`].
pub(super) struct Acquire<'a> {
    /// The semaphore.
    semaphore: &'a Semaphore,
    /// How many permits we want.
    wanted: usize,
    /// Our node in the waiter list, while queued or granted.
    key: Option<Key>,
}

impl<'a> Acquire<'a> {
    /// A future taking `wanted` permits.
    pub(super) fn new(semaphore: &'a Semaphore, wanted: usize) -> Acquire<'a> {
        assert!(
            wanted <= Semaphore::MAX_PERMITS,
            "cannot acquire more than Semaphore::MAX_PERMITS permits"
        );
        Acquire {
            semaphore,
            wanted,
            key: None,
        }
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Result<SemaphorePermit<'a>, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Spend budget before taking anything, so a yield here loses nothing.
        ready!(poll_proceed(cx));
        let (sem, wanted) = (self.semaphore, self.wanted);
        if let Some(key) = &self.key {
            let mut waiters = sem.waiters.lock();
            let status = waiters.status(key, cx.waker());
            if status == Status::Waiting {
                return Poll::Pending;
            }
            waiters.remove(self.key.take().expect("checked above"));
            return Poll::Ready(match status {
                Status::Granted => Ok(SemaphorePermit::new(sem, wanted)),
                _ => Err(AcquireError(())),
            });
        }
        if wanted == 0 {
            return Poll::Ready(if sem.is_closed() {
                Err(AcquireError(()))
            } else {
                Ok(SemaphorePermit::new(sem, 0))
            });
        }
        if let Some(taken) = sem.try_take(wanted) {
            return Poll::Ready(taken.map(|()| SemaphorePermit::new(sem, wanted)));
        }
        // Take the permits if they were freed meanwhile, or queue up.
        let mut waiters = sem.waiters.lock();
        let mut state = sem.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Poll::Ready(Err(AcquireError(())));
            }
            if state & QUEUED != 0 {
                break;
            }
            let (next, took) = if state >> SHIFT >= wanted {
                (state - (wanted << SHIFT), true)
            } else {
                (state | QUEUED, false)
            };
            match sem
                .state
                .compare_exchange_weak(state, next, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if took => return Poll::Ready(Ok(SemaphorePermit::new(sem, wanted))),
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        self.key = Some(waiters.push(cx.waker(), wanted));
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut wakes = WakeList::new();
        {
            let mut waiters = self.semaphore.waiters.lock();
            match waiters.remove(key) {
                // Permits handed to us and never used: give them back.
                Status::Granted => {
                    self.semaphore
                        .release_locked(&mut waiters, self.wanted, &mut wakes);
                }
                // We may have been the front that held the others up.
                Status::Waiting => self.semaphore.release_locked(&mut waiters, 0, &mut wakes),
                Status::Refused => {}
            }
        }
        wakes.wake_all();
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("wanted", &self.wanted)
            .field("queued", &self.key.is_some())
            .finish()
    }
}

/// Permits taken from a [`Semaphore`]; they go back when this is dropped.
#[must_use = "the permits are returned as soon as the permit is dropped"]
pub struct SemaphorePermit<'a> {
    /// Where the permits go back to.
    semaphore: &'a Semaphore,
    /// How many permits this holds.
    permits: usize,
}

impl<'a> SemaphorePermit<'a> {
    /// Wraps `permits` just taken from `semaphore`.
    fn new(semaphore: &'a Semaphore, permits: usize) -> SemaphorePermit<'a> {
        SemaphorePermit { semaphore, permits }
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits out of the semaphore for good (until
    /// [`Semaphore::add_permits`] puts some back).
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(self.permits);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .field("closed", &self.is_closed())
            .finish()
    }
}
