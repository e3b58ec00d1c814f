//! `BoundedSemaphore`: a semaphore that refuses to be released above its
//! initial count (asyncio's `BoundedSemaphore`).
//!
//! # Protocol
//!
//! A [`Semaphore`] holds the free permits; `outstanding` counts the permits
//! acquired and not yet given back, whether their guard is still alive or
//! was [`forget`](BoundedSemaphorePermit::forget)-ed.
//!
//! 1. `acquire` takes a permit from the semaphore, then adds one to
//!    `outstanding` before returning the guard (nothing can interrupt in
//!    between, so a cancelled acquire never counts).
//! 2. Giving a permit back (`release()`, or dropping a guard) first takes one
//!    off `outstanding` with a CAS that refuses to go below zero, and only
//!    then adds the permit to the semaphore. A release with nothing
//!    outstanding is a [`ReleaseError`], so free permits never exceed the
//!    initial count.
//! 3. A guard whose permit was already given back by an explicit `release()`
//!    (the count of outstanding permits reached zero first) gives nothing
//!    back when dropped.

use std::fmt;
use std::future::Future;

use super::error::{AcquireError, ReleaseError};
use super::semaphore::{Acquire, Semaphore};
use crate::loom::{AtomicUsize, Ordering};

/// A semaphore that cannot be released above its initial count (asyncio's
/// `BoundedSemaphore`).
///
/// [`acquire`](BoundedSemaphore::acquire) gives a guard that returns its
/// permit when dropped. asyncio's explicit `acquire()`/`release()` pairs are
/// spelled `acquire().await?.forget()` then [`release`](BoundedSemaphore::release);
/// a `release` with no permit out is a [`ReleaseError`] (asyncio's
/// `ValueError`) instead of raising the count above its start.
///
/// ```
/// use aiolos::sync::BoundedSemaphore;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let sem = BoundedSemaphore::new(1);
///     sem.acquire().await.unwrap().forget(); // asyncio: await sem.acquire()
///     assert_eq!(sem.available_permits(), 0);
///     assert!(sem.release().is_ok()); // asyncio: sem.release()
///     assert!(sem.release().is_err()); // one release too many
///     assert_eq!(sem.available_permits(), 1);
/// });
/// ```
pub struct BoundedSemaphore {
    /// The free permits and the waiters.
    semaphore: Semaphore,
    /// The initial (and largest) number of free permits.
    bound: usize,
    /// Permits acquired and not yet given back.
    outstanding: AtomicUsize,
}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, which is also its bound.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    pub fn new(permits: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            semaphore: Semaphore::new(permits),
            bound: permits,
            outstanding: AtomicUsize::new(0),
        }
    }

    /// Waits for a permit (in arrival order, like [`Semaphore::acquire`]).
    ///
    /// # Errors
    ///
    /// [`AcquireError`] if the semaphore is closed, or closes while waiting.
    pub fn acquire(
        &self,
    ) -> impl Future<Output = Result<BoundedSemaphorePermit<'_>, AcquireError>> + '_ {
        let acquire: Acquire<'_> = Acquire::new(&self.semaphore, 1);
        async move {
            let permit = acquire.await?;
            Ok(self.track(permit))
        }
    }

    /// Takes a permit if one is free and nobody is waiting.
    pub fn try_acquire(&self) -> Option<BoundedSemaphorePermit<'_>> {
        let permit = self.semaphore.try_acquire()?;
        Some(self.track(permit))
    }

    /// Gives back one acquired permit (asyncio's `release()`), normally one
    /// whose guard was [`forget`](BoundedSemaphorePermit::forget)-ed.
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if no permit is out: the release would raise the
    /// count above its initial value.
    pub fn release(&self) -> Result<(), ReleaseError> {
        let mut out = self.outstanding.load(Ordering::Relaxed);
        loop {
            if out == 0 {
                return Err(ReleaseError(()));
            }
            match self.outstanding.compare_exchange_weak(
                out,
                out - 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => out = actual,
            }
        }
        self.semaphore.add_permits(1);
        Ok(())
    }

    /// How many permits are free now.
    pub fn available_permits(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// The initial number of permits, above which it cannot be released.
    pub fn bound(&self) -> usize {
        self.bound
    }

    /// Closes the semaphore: every waiting and later acquire fails.
    pub fn close(&self) {
        self.semaphore.close();
    }

    /// Whether [`close`](BoundedSemaphore::close) was called.
    pub fn is_closed(&self) -> bool {
        self.semaphore.is_closed()
    }

    /// Turns a plain permit of the inner semaphore into a tracked one.
    fn track(&self, permit: super::SemaphorePermit<'_>) -> BoundedSemaphorePermit<'_> {
        // From here the permit is given back through `release`.
        permit.forget();
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        BoundedSemaphorePermit {
            semaphore: self,
            armed: true,
        }
    }
}

/// A permit of a [`BoundedSemaphore`]; gives it back when dropped.
#[must_use = "the permit is returned as soon as it is dropped"]
pub struct BoundedSemaphorePermit<'a> {
    /// Where the permit goes back to.
    semaphore: &'a BoundedSemaphore,
    /// Whether dropping gives the permit back (false after `forget`).
    armed: bool,
}

impl BoundedSemaphorePermit<'_> {
    /// Leaves the permit out: give it back later with
    /// [`BoundedSemaphore::release`] (asyncio's acquire/release pairing).
    pub fn forget(mut self) {
        self.armed = false;
    }
}

impl Drop for BoundedSemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Err: an explicit `release` already gave this permit back.
            let _ = self.semaphore.release();
        }
    }
}

impl fmt::Debug for BoundedSemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphorePermit")
            .field("armed", &self.armed)
            .finish()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("available_permits", &self.available_permits())
            .field("bound", &self.bound)
            .field("closed", &self.is_closed())
            .finish()
    }
}
