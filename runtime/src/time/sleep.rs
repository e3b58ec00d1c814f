//! `sleep`, `sleep_until` and the `Sleep` future (asyncio's `sleep`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aiolos_io::{Fired, TimerEntry};

use super::Instant;
use crate::loom::Arc as RtArc;
use crate::scheduler::Shared;

/// Waits until `duration` has passed (asyncio's `await asyncio.sleep(d)`).
///
/// `sleep(Duration::ZERO)` yields once and completes; `Duration::MAX`
/// saturates to a far-future deadline.
///
/// # Panics
///
/// Outside an aiolos runtime (create timers in tasks or in `block_on`).
///
/// ```
/// use std::time::Duration;
/// use aiolos::time::{sleep, Instant};
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let mut sleep = Sleep::new(Instant::now() + duration, "aiolos::time::sleep");
    sleep.due = duration.is_zero();
    sleep
}

/// Waits until `deadline` (asyncio's `loop.call_at`, as a future).
///
/// # Panics
///
/// Outside an aiolos runtime.
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline, "aiolos::time::sleep_until")
}

/// A future that completes at its deadline; see [`sleep`].
///
/// It registers with a timer wheel on its first poll (so a `Sleep` that is
/// never polled costs nothing there): the wheel of the worker polling it, or
/// the reactor's outside the workers. Dropping it cancels the registration.
/// [`reset`](Sleep::reset) moves the deadline.
pub struct Sleep {
    /// When it completes.
    deadline: Instant,
    /// The registration, once polled: the runtime and the entry.
    registered: Option<(RtArc<Shared>, Arc<TimerEntry>)>,
    /// The deadline is known to have passed (a zero sleep).
    due: bool,
    /// For deadlines already past: whether it yielded once.
    yielded: bool,
}

impl Sleep {
    #[track_caller]
    pub(crate) fn new(deadline: Instant, what: &str) -> Sleep {
        if !crate::context::in_runtime() {
            panic!("{}", crate::context::no_runtime(what));
        }
        Sleep {
            deadline,
            registered: None,
            due: false,
            yielded: false,
        }
    }

    /// When this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        match &self.registered {
            Some((_, entry)) => entry.is_fired(),
            None => self.due || Instant::now() >= self.deadline,
        }
    }

    /// Moves the deadline to `deadline` (earlier or later), keeping this
    /// `Sleep`; a completed sleep can be reset and awaited again.
    pub fn reset(&mut self, deadline: Instant) {
        self.unregister();
        self.deadline = deadline;
        self.due = false;
        self.yielded = false;
    }

    fn unregister(&mut self) {
        if let Some((shared, entry)) = self.registered.take() {
            shared.driver.cancel_timer(&entry);
        }
    }

    /// Polls the deadline without the cooperative budget.
    pub(crate) fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((shared, entry)) = &self.registered {
            return match entry.poll_fired(cx.waker()) {
                Fired::Yes => Poll::Ready(()),
                Fired::No => {
                    check_alive(shared);
                    Poll::Pending
                }
            };
        }
        // First poll: register with this runtime.
        let Some(shared) = crate::context::with_current(RtArc::clone) else {
            panic!("{}", crate::context::no_runtime("polling an aiolos timer"));
        };
        check_alive(&shared);
        let driver = &shared.driver;
        let deadline = driver.deadline(self.deadline.into_std());
        // Known to be due (without reading the clock: the reactor's last
        // wheel time is enough): yield once, so that a zero sleep still lets
        // others run, then complete. A deadline that passed more recently
        // goes to the wheel, which fires it on its next turn.
        if self.due || deadline <= driver.wheel_now() {
            self.due = true;
            if self.yielded {
                return Poll::Ready(());
            }
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let entry = Arc::new(TimerEntry::new(deadline));
        // Store the waker before a wheel holds the entry.
        let _ = entry.poll_fired(cx.waker());
        shared.add_timer(&entry);
        self.registered = Some((shared, entry));
        Poll::Pending
    }
}

fn check_alive(shared: &Shared) {
    if shared.driver.is_shutdown() {
        panic!(
            "an aiolos timer was polled after its runtime shut down; keep the Runtime alive while timers are in use"
        );
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.poll_deadline(cx) {
            Poll::Ready(()) => crate::task::poll_proceed(cx),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.registered.is_some())
            .finish()
    }
}
