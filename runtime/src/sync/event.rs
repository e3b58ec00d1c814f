//! `Event`: a flag tasks can wait on (asyncio's `Event`).
//!
//! # Protocol
//!
//! The flag is an atomic bool; the waiters sit in a [`WaiterList`].
//!
//! 1. `wait` returns at once if the flag is set. Otherwise, under the list
//!    lock, it looks again and queues itself only if the flag is still clear.
//! 2. `set` sets the flag under the list lock and grants every queued waiter
//!    (waking them after the lock is dropped). A granted waiter completes
//!    when next polled, whatever the flag says by then, so `set` followed at
//!    once by `clear` still releases everyone who was waiting.
//! 3. `clear` only stores `false`: a waiter queued afterwards waits for the
//!    next `set`.
//!
//! Because both the flag change in `set` and the check-then-queue in `wait`
//! happen under the list lock, a waiter can never queue itself after a `set`
//! has passed it by.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::waiters::{Key, Status, WaiterList, WakeList};
use crate::loom::{self, AtomicBool, Ordering};
use crate::task::poll_proceed;

/// A flag that tasks can wait to be set (asyncio's `Event`).
///
/// [`set`](Event::set) releases every task waiting in [`wait`](Event::wait);
/// while the flag stays set, `wait` returns at once; [`clear`](Event::clear)
/// makes later waits block again. A waiter released by `set` stays released
/// even if `clear` comes before it runs.
///
/// ```
/// use std::sync::Arc;
/// use aiolos::sync::Event;
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let ready = Arc::new(Event::new());
///     let waiters: Vec<_> = (0..4)
///         .map(|i| {
///             let ready = ready.clone();
///             aiolos::spawn(async move {
///                 ready.wait().await;
///                 i
///             })
///         })
///         .collect();
///     ready.set();
///     for w in waiters {
///         w.await.unwrap();
///     }
///     assert!(ready.is_set());
/// });
/// ```
pub struct Event {
    /// The flag.
    set: AtomicBool,
    /// The futures waiting for the flag.
    waiters: loom::Mutex<WaiterList>,
}

impl Event {
    /// A new event, not set.
    pub fn new() -> Event {
        Event {
            set: AtomicBool::new(false),
            waiters: loom::Mutex::new(WaiterList::new()),
        }
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Sets the flag and releases every waiting task.
    pub fn set(&self) {
        if self.is_set() {
            return;
        }
        let mut wakes = WakeList::new();
        {
            let mut waiters = self.waiters.lock();
            self.set.store(true, Ordering::Release);
            waiters.finish_all(Status::Granted, &mut wakes);
        }
        // Wake after dropping the lock.
        wakes.wake_all();
    }

    /// Clears the flag: later calls to [`wait`](Event::wait) block until the
    /// next [`set`](Event::set).
    pub fn clear(&self) {
        self.set.store(false, Ordering::Release);
    }

    /// Waits until the flag is set (returns at once if it already is).
    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        Wait {
            event: self,
            key: None,
        }
    }
}

/// The future of [`Event::wait`].
struct Wait<'a> {
    /// The event waited on.
    event: &'a Event,
    /// Our node in the waiter list, once queued.
    key: Option<Key>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        ready!(poll_proceed(cx));
        let event = self.event;
        if let Some(key) = &self.key {
            let mut waiters = event.waiters.lock();
            if waiters.status(key, cx.waker()) == Status::Waiting {
                return Poll::Pending;
            }
            waiters.remove(self.key.take().expect("checked above"));
            return Poll::Ready(());
        }
        if event.is_set() {
            return Poll::Ready(());
        }
        let mut waiters = event.waiters.lock();
        // `set` changes the flag under this lock: look again before queuing.
        if event.set.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.key = Some(waiters.push(cx.waker(), 1));
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        // A `set` releases everyone, so a dropped waiter has nothing to pass on.
        if let Some(key) = self.key.take() {
            self.event.waiters.lock().remove(key);
        }
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}
