//! asyncio's loop callbacks: `call_soon`, `call_later`, `call_at`, and
//! `run_forever` / `stop`.
//!
//! # Ordering
//!
//! Ready callbacks wait in one FIFO queue and run one after another, in a
//! runner task that exists while the queue is non-empty. `call_soon` appends
//! at once. `call_later` / `call_at` register a timer whose waker appends the
//! callback when it fires; the reactor's wheel fires in deadline order, equal
//! deadlines in registration order, and the reactor wakes a batch in that
//! order. So, as asyncio promises, a `call_soon` callback runs before a
//! `call_later` one that is due later, and callbacks due at the same instant
//! run in the order they were registered.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc as StdArc;
use std::task::{Poll, Wake, Waker};

use aiolos_io::{Driver, TimerEntry};
use parking_lot::Mutex;

use crate::loom::Arc;
use crate::scheduler::Shared;
use crate::time::Instant;

/// A callback waiting to run.
type Callback = Box<dyn FnOnce() + Send + 'static>;

/// How many callbacks the runner runs before it yields to other tasks.
const RUNNER_BATCH: usize = 64;

/// The ready-callback queue and the stop flag of one runtime.
#[derive(Default)]
pub(crate) struct Callbacks {
    /// Ready callbacks, and whether a runner task is scheduled or running.
    queue: Mutex<Queue>,
    /// `stop()` state for `run_forever`.
    stop: Mutex<StopState>,
}

#[derive(Default)]
struct Queue {
    ready: VecDeque<Callback>,
    runner: bool,
}

#[derive(Default)]
struct StopState {
    /// A `stop()` not yet consumed by a `run_forever`.
    requested: bool,
    /// A `run_forever` is waiting.
    running: bool,
    /// Its waker.
    waker: Option<Waker>,
}

impl fmt::Debug for Callbacks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callbacks")
            .field("ready", &self.queue.lock().ready.len())
            .finish()
    }
}

impl Callbacks {
    /// Appends a ready callback, starting a runner task if none is active.
    pub(crate) fn push(shared: &Arc<Shared>, f: Callback) {
        if shared.is_shutdown() {
            // Nothing runs after shutdown; drop it now (this may be the
            // reactor thread, firing a timer).
            drop_quietly(f);
            return;
        }
        let start = {
            let mut q = shared.callbacks.queue.lock();
            q.ready.push_back(f);
            !std::mem::replace(&mut q.runner, true)
        };
        if start {
            let s = shared.clone();
            let name = Some("aiolos-callbacks".to_owned());
            let location = std::panic::Location::caller();
            Shared::spawn(shared, run_ready(s), name, location).detach();
        }
    }

    /// Drops queued callbacks (shutdown).
    pub(crate) fn clear(&self) {
        let ready = std::mem::take(&mut self.queue.lock().ready);
        ready.into_iter().for_each(drop_quietly);
    }

    /// Requests `run_forever` to return (now, or the next time it runs).
    pub(crate) fn stop(&self) {
        let waker = {
            let mut st = self.stop.lock();
            st.requested = true;
            st.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Drops a callback that will not run, keeping a panic in its destructor
/// (which the panic hook reports) from unwinding into the runtime: at
/// shutdown, a second such panic while the first unwinds through a queue
/// being dropped would abort the process; the first alone would end
/// `Runtime::drop` before the reactor and the blocking pool are stopped,
/// or kill the reactor thread.
fn drop_quietly(f: Callback) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(f)));
}

/// The runner task: runs ready callbacks in order until the queue is empty.
async fn run_ready(shared: Arc<Shared>) {
    // If this task is cancelled (shutdown), let a later push start a new one.
    struct Reset<'a>(&'a Shared);
    impl Drop for Reset<'_> {
        fn drop(&mut self) {
            self.0.callbacks.queue.lock().runner = false;
        }
    }
    let reset = Reset(&shared);
    loop {
        for _ in 0..RUNNER_BATCH {
            let next = shared.callbacks.queue.lock().ready.pop_front();
            let Some(f) = next else {
                let mut q = shared.callbacks.queue.lock();
                if q.ready.is_empty() {
                    q.runner = false;
                    // Already cleared under the lock; a new runner may have
                    // started since, so the guard must not clear it again.
                    std::mem::forget(reset);
                    return;
                }
                continue;
            };
            // A panicking callback is reported by the panic hook and does not
            // stop the loop (asyncio logs it and goes on).
            let _ = panic::catch_unwind(AssertUnwindSafe(f));
        }
        crate::task::yield_now().await;
    }
}

/// A callback scheduled with `call_later` / `call_at`; cancel it with
/// [`cancel`](TimerHandle::cancel) (asyncio's `TimerHandle`).
pub struct TimerHandle {
    /// The callback, shared with the entry's waker.
    timer: StdArc<CallbackTimer>,
    /// The wheel entry, for cancelling.
    entry: StdArc<TimerEntry>,
    when: Instant,
}

/// The waker of a callback timer: when the reactor fires it, the callback
/// moves to the ready queue. It must not own its entry: the entry owns it
/// (as its waker), and a cycle would keep both, and the runtime, alive.
struct CallbackTimer {
    /// The callback, until it is queued or cancelled.
    callback: Mutex<Option<Callback>>,
    /// The runtime whose loop runs it.
    shared: Arc<Shared>,
}

impl Drop for CallbackTimer {
    fn drop(&mut self) {
        // The last reference may go with a timer wheel dropped on the
        // reactor's or a worker's thread at shutdown.
        if let Some(f) = self.callback.get_mut().take() {
            drop_quietly(f);
        }
    }
}

impl Wake for CallbackTimer {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        let f = self.callback.lock().take();
        if let Some(f) = f {
            Callbacks::push(&self.shared, f);
        }
    }
}

impl TimerHandle {
    /// Schedules `f` at `when` on `shared`'s loop.
    pub(crate) fn schedule(shared: &Arc<Shared>, when: Instant, f: Callback) -> TimerHandle {
        let driver: &StdArc<Driver> = &shared.driver;
        let entry = StdArc::new(TimerEntry::new(driver.deadline(when.into_std())));
        let timer = StdArc::new(CallbackTimer {
            callback: Mutex::new(Some(f)),
            shared: shared.clone(),
        });
        let waker = Waker::from(timer.clone());
        let _ = entry.poll_fired(&waker);
        driver.add_timer(&entry);
        TimerHandle { timer, entry, when }
    }

    /// Cancels the callback. Returns true when it will now never run; false
    /// when it already ran, is already queued to run, or was cancelled.
    pub fn cancel(&self) -> bool {
        let f = self.timer.callback.lock().take();
        match f {
            Some(f) => {
                self.timer.shared.driver.cancel_timer(&self.entry);
                drop(f);
                true
            }
            None => false,
        }
    }

    /// When the callback is due.
    pub fn when(&self) -> Instant {
        self.when
    }

    /// Whether it was cancelled or has been handed to the loop.
    pub fn is_done(&self) -> bool {
        self.timer.callback.lock().is_none()
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("when", &self.when)
            .field("done", &self.is_done())
            .finish()
    }
}

/// Waits for a `stop()` on this thread (inside `block_on`).
pub(crate) async fn wait_for_stop(callbacks: &Callbacks) {
    struct Running<'a>(&'a Callbacks);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            let mut st = self.0.stop.lock();
            st.running = false;
            st.waker = None;
        }
    }
    {
        let mut st = callbacks.stop.lock();
        assert!(
            !st.running,
            "run_forever is already running on another thread; call Handle::stop() to end it first"
        );
        st.running = true;
    }
    let _running = Running(callbacks);
    poll_fn(|cx| {
        let mut st = callbacks.stop.lock();
        if st.requested {
            st.requested = false;
            Poll::Ready(())
        } else {
            st.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await
}
