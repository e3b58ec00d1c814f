//! The orphan list: children whose `Child` was dropped before they were
//! reaped. Process-wide, because a zombie belongs to the process, not to a
//! runtime.
//!
//! # Protocol
//!
//! 1. `Child`'s drop (after `kill_on_drop`'s SIGKILL, if set) tries one
//!    `waitpid(WNOHANG)`; a child that still runs is [`adopt`]ed: pushed
//!    on `ADOPTED` with its pidfd watch, if it has one, then [`reap`]
//!    runs (and its scan moves it to the list).
//! 2. [`reap`] tries `waitpid(WNOHANG)` on every orphan and drops the ones
//!    that are reaped (or that the kernel no longer knows: `ECHILD`). It
//!    arms the orphan waker, whose wake-up runs [`reap`] again:
//!    - on each orphan's pidfd, so the orphan's own exit event (taken by a
//!      worker or the reactor of the runtime that spawned it) reaps it;
//!    - on the list's SIGCHLD listener, while an orphan has no live pidfd
//!      watch (SIGCHLD fallback, or its runtime shut down). The listener
//!      is created by the first fallback spawn, so it exists before any
//!      fallback child can be orphaned, and the scan looks at it after
//!      its `waitpid`s: an exit after them is a delivery still to come.
//! 3. [`reap`] also runs on every spawn, whenever a `Child` learns that it
//!    exited, and (fallback) on every SIGCHLD a waiting `Child` receives.
//!
//! `reap` never blocks on the lock: it sets `RESCAN` and tries the lock;
//! if another thread holds it, that thread sees `RESCAN` after unlocking
//! and scans again (everyone who takes the lock calls `reap` after
//! releasing it). So a wake-up from inside a scan, or from a thread in the
//! middle of one, cannot deadlock, and no request for a scan is lost.
//!
//! A wake-up on the scanning thread itself, during the scan, only sets
//! `SELF_WOKEN`: this is how a task's exhausted cooperative budget makes
//! the listener's poll give up (`Pending`, the waker woken, nothing
//! armed), when the scan runs inside a task (a drop, a spawn). Rescanning
//! at once would meet the same budget forever, so the scan arms a timer
//! of one millisecond instead: the reactor fires it outside any task,
//! where the budget is unlimited and the poll arms the listener.

use std::cell::Cell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::pidfd::ExitWatch;
use super::reaper::waitpid_nohang;
use crate::signal::{Signal, SignalKind};
use crate::{context, Driver, TimerEntry};

/// A child nobody owns any more.
struct Orphan {
    /// Its pid (still ours: it has not been reaped).
    pid: libc::pid_t,
    /// Its pidfd registration, when it had one.
    watch: Option<ExitWatch>,
}

/// The list's SIGCHLD listener (fallback).
struct Listener {
    /// SIGCHLD deliveries, on the reactor of `driver`.
    signal: Signal,
    /// The runtime the listener was created in (its timers retry a poll
    /// that ran out of budget).
    driver: Arc<Driver>,
    /// The pending retry, if one is armed and has not fired.
    retry: Option<Arc<TimerEntry>>,
}

/// Everything behind the lock.
struct State {
    /// Every orphan not reaped yet.
    orphans: Vec<Orphan>,
    /// The SIGCHLD listener, once a fallback spawn created it.
    listener: Option<Listener>,
}

/// The orphans and the listener.
static STATE: Mutex<State> = Mutex::new(State {
    orphans: Vec::new(),
    listener: None,
});

/// Orphans not yet moved to `STATE` by a scan. Its lock is held for a
/// push or a take only, so `adopt` can never wait for a scan (a drop may
/// even happen inside one, on the scanning thread: a waker woken during
/// the scan can drop a task that owned a `Child`).
static ADOPTED: Mutex<Vec<Orphan>> = Mutex::new(Vec::new());

/// How many orphans there are, in both lists (read without a lock, so
/// that `reap` costs one load when there is none).
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Set by `reap` before it tries the lock; cleared by the scanner before
/// it scans (see the module docs).
static RESCAN: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread is scanning (holds the lock in `scan`).
    static SCANNING: Cell<bool> = const { Cell::new(false) };
    /// Whether the orphan waker was woken on this thread during the scan.
    static SELF_WOKEN: Cell<bool> = const { Cell::new(false) };
}

/// How long a poll that ran out of budget waits for its retry.
const RETRY: Duration = Duration::from_millis(1);

/// Takes over a child that still runs and nobody will wait for.
pub(crate) fn adopt(pid: libc::pid_t, watch: Option<ExitWatch>) {
    // Counted first: a scan may take it (and subtract it) at once.
    COUNT.fetch_add(1, Ordering::SeqCst);
    ADOPTED.lock().push(Orphan { pid, watch });
    // Arms the new orphan's watch (or reaps it if it exited meanwhile).
    reap();
}

/// Makes sure the list listens to SIGCHLD (called by every fallback
/// spawn, inside its runtime, before it hands out the `Child`). A
/// listener whose runtime shut down is replaced.
pub(crate) fn watch_sigchld() -> io::Result<()> {
    let created = {
        let mut state = STATE.lock();
        match &state.listener {
            Some(l) if !l.driver.is_shutdown() => Ok(()),
            _ => Signal::new(SignalKind::child()).map(|signal| {
                state.listener = Some(Listener {
                    signal,
                    driver: context::current_driver("spawning a child process"),
                    retry: None,
                });
            }),
        }
    };
    // Whoever failed to take the lock meanwhile left the scan to us.
    reap();
    created
}

/// Reaps every orphan that has exited and arms the watches of the others.
pub(crate) fn reap() {
    if COUNT.load(Ordering::SeqCst) == 0 {
        return;
    }
    RESCAN.store(true, Ordering::SeqCst);
    while RESCAN.load(Ordering::SeqCst) {
        // Whoever holds the lock scans again after releasing it.
        let Some(mut state) = STATE.try_lock() else {
            return;
        };
        RESCAN.store(false, Ordering::SeqCst);
        SCANNING.set(true);
        state.scan();
        SCANNING.set(false);
    }
}

impl State {
    /// One pass over the list (step 2 of the protocol).
    fn scan(&mut self) {
        self.orphans.append(&mut ADOPTED.lock());
        let before = self.orphans.len();
        self.orphans.retain(|orphan| !orphan.try_reap());
        COUNT.fetch_sub(before - self.orphans.len(), Ordering::SeqCst);
        let unwatched = self
            .orphans
            .iter()
            .any(|o| o.watch.as_ref().is_none_or(|w| w.is_shut_down()));
        if !unwatched {
            return;
        }
        let Some(listener) = &mut self.listener else {
            return;
        };
        let mut cx = Context::from_waker(orphan_waker());
        loop {
            SELF_WOKEN.set(false);
            match listener.signal.poll_recv(&mut cx) {
                // A child exited (maybe an orphan): look again.
                Poll::Ready(Some(())) => RESCAN.store(true, Ordering::SeqCst),
                // Its runtime is gone; the next fallback spawn makes another.
                Poll::Ready(None) => {
                    self.listener = None;
                    return;
                }
                Poll::Pending => break,
            }
        }
        if SELF_WOKEN.get() {
            listener.retry_later();
        }
    }
}

impl Listener {
    /// Arms a timer that runs `reap` on the reactor in [`RETRY`] (unless
    /// one is armed already).
    fn retry_later(&mut self) {
        if self.retry.as_ref().is_some_and(|t| !t.is_fired()) {
            return;
        }
        let deadline = self.driver.deadline(Instant::now() + RETRY);
        let entry = Arc::new(TimerEntry::new(deadline));
        entry.poll_fired(orphan_waker());
        self.driver.add_timer(&entry);
        self.retry = Some(entry);
    }
}

impl Orphan {
    /// Whether the orphan is gone (reaped now, or unknown to the kernel);
    /// otherwise its pidfd watch, if any, is armed with the orphan waker.
    fn try_reap(&self) -> bool {
        let pid = self.pid;
        let result = match &self.watch {
            Some(watch) if !watch.is_shut_down() => {
                let mut cx = Context::from_waker(orphan_waker());
                match watch.poll_reap(&mut cx, || waitpid_nohang(pid)) {
                    Poll::Ready(r) => r.map(Some),
                    Poll::Pending => Ok(None),
                }
            }
            // Its runtime is gone, or it never had a pidfd: the SIGCHLD
            // listener or a later scan finds it exited.
            _ => waitpid_nohang(pid),
        };
        match result {
            Ok(Some(_)) => true,
            Ok(None) => false,
            // `ECHILD` (`waitpid_nohang` retries `EINTR`): someone else
            // reaped it (SIGCHLD ignored, or a `waitpid(-1)` elsewhere);
            // nothing is left to do.
            Err(_) => true,
        }
    }
}

/// The waker orphan watches are armed with: it scans the list.
fn orphan_waker() -> &'static Waker {
    static WAKER: OnceLock<Waker> = OnceLock::new();
    WAKER.get_or_init(|| Waker::from(Arc::new(OrphanWaker)))
}

/// Wakes by scanning the orphan list (cheap and non-blocking: one
/// `waitpid(WNOHANG)` per orphan), on whichever thread took the event;
/// on the scanning thread during a scan, it only notes the wake-up.
struct OrphanWaker;

impl Wake for OrphanWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if SCANNING.get() {
            SELF_WOKEN.set(true);
        } else {
            reap();
        }
    }
}
