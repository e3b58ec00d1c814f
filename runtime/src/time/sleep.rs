//! `sleep`, `sleep_until` and the `Sleep` future (asyncio's `sleep`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use aiolos_io::{Driver, Fired, TimerEntry};

use super::Instant;

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
/// It registers with the reactor's timer wheel on its first poll (so a
/// `Sleep` that is never polled costs nothing there), and dropping it cancels
/// the registration. [`reset`](Sleep::reset) moves the deadline.
pub struct Sleep {
    /// When it completes.
    deadline: Instant,
    /// The registration, once polled: the reactor's driver and the entry.
    registered: Option<(Arc<Driver>, Arc<TimerEntry>)>,
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
        if let Some((driver, entry)) = self.registered.take() {
            driver.cancel_timer(&entry);
        }
    }

    /// Polls the deadline without the cooperative budget.
    pub(crate) fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some((driver, entry)) = &self.registered {
            return match entry.poll_fired(cx.waker()) {
                Fired::Yes => Poll::Ready(()),
                Fired::No => {
                    check_alive(driver);
                    if entry.is_new() {
                        // Still in the registering worker's buffer, and now
                        // polled from elsewhere (the registering poll may run
                        // on for a while): hand it to the reactor now.
                        driver.add_timer(entry);
                    }
                    Poll::Pending
                }
            };
        }
        // First poll: register with this runtime's reactor.
        let Some(driver) = crate::context::with_current(|shared| shared.driver.clone()) else {
            panic!("{}", crate::context::no_runtime("polling an aiolos timer"));
        };
        check_alive(&driver);
        let deadline = driver.deadline_ms(self.deadline.into_std());
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
        // Store the waker before the reactor can see the entry.
        let _ = entry.poll_fired(cx.waker());
        crate::context::register_timer(&driver, &entry);
        self.registered = Some((driver, entry));
        Poll::Pending
    }
}

fn check_alive(driver: &Driver) {
    if driver.is_shutdown() {
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
