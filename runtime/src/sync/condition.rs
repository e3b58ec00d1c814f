//! `Condition<T>`: a condition variable owning its mutex (asyncio's
//! `Condition(lock)`).
//!
//! # Protocol
//!
//! The condition keeps its own [`WaiterList`] beside a [`Mutex<T>`].
//!
//! 1. `wait(guard)` first queues itself on the condition, *while still
//!    holding the lock*, and only then drops the guard. A task that notifies
//!    after taking the lock therefore always finds the waiter: release and
//!    wait are atomic with respect to notifiers.
//! 2. `notify(n)` grants up to `n` waiters from the front, `notify_all`
//!    grants them all; wakers run after the list lock is dropped.
//! 3. A granted waiter then locks the mutex again (FIFO among lockers) and
//!    returns the new guard.
//! 4. Cancellation: a wait dropped while queued just unlinks itself. A wait
//!    dropped after its notification (granted but not yet polled, or while
//!    re-locking) passes one notification on to the next waiter, as asyncio
//!    3.13 does, so a `notify(1)` is never swallowed by a cancelled task. The
//!    cost is a possible spurious wake-up, which the condition-variable
//!    contract allows; [`Condition::wait_for`] re-checks its predicate anyway.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::mutex::{Lock, Mutex, MutexGuard};
use super::waiters::{Key, Status, WaiterList, WakeList};
use crate::loom;
use crate::task::poll_proceed;

/// A condition variable with the data it guards (asyncio's `Condition`).
///
/// Tasks [`lock`](Condition::lock) the data, and when it is not yet in the
/// state they need, [`wait`](Condition::wait) with their guard: that
/// releases the lock, waits for a [`notify`](Condition::notify), and locks
/// again before returning the guard. [`wait_for`](Condition::wait_for) loops
/// until a predicate on the data holds.
///
/// asyncio requires the lock to be held when notifying; here notifying
/// without it is allowed, but holding it while changing the data and
/// notifying is what makes a wake-up meaningful.
///
/// ```
/// use std::sync::Arc;
/// use aiolos::sync::Condition;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let jobs = Arc::new(Condition::new(Vec::<u32>::new()));
///     let worker = {
///         let jobs = jobs.clone();
///         aiolos::spawn(async move {
///             let guard = jobs.lock().await;
///             let mut guard = jobs.wait_for(guard, |q| !q.is_empty()).await;
///             guard.pop().unwrap()
///         })
///     };
///     jobs.lock().await.push(7);
///     jobs.notify(1);
///     assert_eq!(worker.await.unwrap(), 7);
/// });
/// ```
pub struct Condition<T> {
    /// The lock and the data it guards.
    mutex: Mutex<T>,
    /// The tasks waiting for a notification.
    waiters: loom::Mutex<WaiterList>,
}

impl<T> Condition<T> {
    /// A new condition guarding `value`.
    pub fn new(value: T) -> Condition<T> {
        Condition {
            mutex: Mutex::new(value),
            waiters: loom::Mutex::new(WaiterList::new()),
        }
    }

    /// Waits for the lock (see [`Mutex::lock`]).
    pub fn lock(&self) -> impl Future<Output = MutexGuard<'_, T>> + '_ {
        self.mutex.lock()
    }

    /// Takes the lock if it is free and nobody waits for it.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.mutex.try_lock()
    }

    /// The mutex this condition uses.
    pub fn mutex(&self) -> &Mutex<T> {
        &self.mutex
    }

    /// The data, consuming the condition.
    pub fn into_inner(self) -> T {
        self.mutex.into_inner()
    }

    /// Releases the lock held by `guard`, waits until notified, and locks
    /// again; returns the new guard. Wake-ups may be spurious: check the
    /// data, or use [`wait_for`](Condition::wait_for).
    ///
    /// The lock is released when the future is first polled. If the future
    /// is dropped after being notified, the notification goes on to the next
    /// waiter; the lock is not re-taken in that case.
    ///
    /// # Panics
    ///
    /// If `guard` does not belong to this condition's mutex.
    pub fn wait<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
    ) -> impl Future<Output = MutexGuard<'a, T>> + 'a {
        assert!(
            std::ptr::eq(MutexGuard::mutex(&guard), &self.mutex),
            "Condition::wait was given a guard of a different mutex; pass the guard from this condition's lock()"
        );
        Wait {
            cond: self,
            stage: Stage::Start(guard),
        }
    }

    /// Waits until `predicate` holds for the data, releasing the lock while
    /// waiting (asyncio's `wait_for`); returns the guard with the predicate
    /// true. The predicate is checked first, under `guard`.
    ///
    /// # Panics
    ///
    /// If `guard` does not belong to this condition's mutex.
    pub async fn wait_for<'a, F>(
        &'a self,
        mut guard: MutexGuard<'a, T>,
        mut predicate: F,
    ) -> MutexGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        while !predicate(&mut guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Wakes up to `n` waiting tasks, oldest first; returns how many.
    pub fn notify(&self, n: usize) -> usize {
        let mut wakes = WakeList::new();
        let woken = self.waiters.lock().grant_many(n, &mut wakes);
        wakes.wake_all();
        woken
    }

    /// Wakes every waiting task; returns how many.
    pub fn notify_all(&self) -> usize {
        let mut wakes = WakeList::new();
        let woken = self.waiters.lock().finish_all(Status::Granted, &mut wakes);
        wakes.wake_all();
        woken
    }
}

/// Where a [`Condition::wait`] future is.
enum Stage<'a, T> {
    /// Not yet polled: still holding the lock.
    Start(MutexGuard<'a, T>),
    /// Queued on the condition.
    Waiting(Key),
    /// Notified, locking the mutex again.
    Locking(Lock<'a, T>),
    /// Finished (or between stages).
    Done,
}

/// The future of [`Condition::wait`].
struct Wait<'a, T> {
    /// The condition waited on.
    cond: &'a Condition<T>,
    /// How far the wait has got.
    stage: Stage<'a, T>,
}

impl<'a, T> Future for Wait<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let this = &mut *self;
        loop {
            match &mut this.stage {
                Stage::Start(_) => {
                    // Queue up while still holding the lock, then release it.
                    let key = this.cond.waiters.lock().push(cx.waker(), 1);
                    let Stage::Start(guard) =
                        std::mem::replace(&mut this.stage, Stage::Waiting(key))
                    else {
                        unreachable!("matched above")
                    };
                    drop(guard);
                    return Poll::Pending;
                }
                Stage::Waiting(key) => {
                    ready!(poll_proceed(cx));
                    let mut waiters = this.cond.waiters.lock();
                    if waiters.status(key, cx.waker()) == Status::Waiting {
                        return Poll::Pending;
                    }
                    // Notified: free the node and go for the lock.
                    let lock = this.cond.mutex.lock_future();
                    let Stage::Waiting(key) =
                        std::mem::replace(&mut this.stage, Stage::Locking(lock))
                    else {
                        unreachable!("matched above")
                    };
                    waiters.remove(key);
                }
                Stage::Locking(lock) => {
                    let guard = ready!(Pin::new(lock).poll(cx));
                    this.stage = Stage::Done;
                    return Poll::Ready(guard);
                }
                Stage::Done => panic!("Condition::wait future polled after it completed"),
            }
        }
    }
}

impl<T> Drop for Wait<'_, T> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Waiting(key) => {
                let status = self.cond.waiters.lock().remove(key);
                if status == Status::Granted {
                    // Notified but never returned: pass the notification on.
                    self.cond.notify(1);
                }
            }
            Stage::Locking(lock) => {
                // Notified but never returned: drop the lock future first (it
                // passes on a lock handed to it), then the notification.
                drop(lock);
                self.cond.notify(1);
            }
            Stage::Start(_) | Stage::Done => {}
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("mutex", &self.mutex)
            .field("waiters", &self.waiters.lock().len())
            .finish()
    }
}
