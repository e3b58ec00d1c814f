//! The orphan list: children whose `Child` was dropped before they were
//! reaped. Process-wide, because a zombie belongs to the process, not to a
//! runtime.
//!
//! # Protocol
//!
//! 1. `Child`'s drop (after `kill_on_drop`'s SIGKILL, if set) tries one
//!    `waitpid(WNOHANG)`; a child that still runs is [`adopt`]ed: pushed
//!    here with its exit watch, then [`reap`] runs.
//! 2. [`reap`] tries `waitpid(WNOHANG)` on every orphan and drops the ones
//!    that are reaped (or that the kernel no longer knows: `ECHILD`). An
//!    orphan with a pidfd watch has it polled with the orphan waker, so the
//!    orphan's own exit event (taken by a worker or the reactor of the
//!    runtime that spawned it) calls [`reap`] again.
//! 3. [`reap`] also runs on every spawn, whenever a `Child` learns that it
//!    exited, and (SIGCHLD fallback) on every SIGCHLD a waiting `Child`
//!    receives.
//!
//! `reap` never blocks on the lock: it sets `RESCAN` and tries the lock;
//! if another thread holds it, that thread sees `RESCAN` after unlocking
//! and scans again. So a wake-up from inside a scan (or from a thread that
//! is in the middle of one) cannot deadlock, and no request for a scan is
//! lost.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use parking_lot::Mutex;

use super::pidfd::ExitWatch;
use super::reaper::waitpid_nohang;

/// A child nobody owns any more.
struct Orphan {
    /// Its pid (still ours: it has not been reaped).
    pid: libc::pid_t,
    /// Its pidfd registration, when it had one.
    watch: Option<ExitWatch>,
}

/// Every orphan not reaped yet.
static ORPHANS: Mutex<Vec<Orphan>> = Mutex::new(Vec::new());

/// How many orphans there are (read without the lock, so that `reap` costs
/// one load when there is none).
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Set by `reap` before it tries the lock; cleared by the scanner before
/// it scans (see the module docs).
static RESCAN: AtomicBool = AtomicBool::new(false);

/// Takes over a child that still runs and nobody will wait for.
pub(crate) fn adopt(pid: libc::pid_t, watch: Option<ExitWatch>) {
    {
        let mut list = ORPHANS.lock();
        list.push(Orphan { pid, watch });
        COUNT.store(list.len(), Ordering::SeqCst);
    }
    // Arms the new orphan's watch (or reaps it if it exited meanwhile).
    reap();
}

/// Reaps every orphan that has exited and arms the watches of the others.
pub(crate) fn reap() {
    if COUNT.load(Ordering::SeqCst) == 0 {
        return;
    }
    RESCAN.store(true, Ordering::SeqCst);
    while RESCAN.load(Ordering::SeqCst) {
        // Whoever holds the lock scans again after releasing it.
        let Some(mut list) = ORPHANS.try_lock() else {
            return;
        };
        RESCAN.store(false, Ordering::SeqCst);
        list.retain(|orphan| !orphan.try_reap());
        COUNT.store(list.len(), Ordering::SeqCst);
    }
}

impl Orphan {
    /// Whether the orphan is gone (reaped now, or unknown to the kernel);
    /// otherwise its watch is armed with the orphan waker.
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
            // Its runtime is gone (or it never had a pidfd): only the
            // next scan can find it exited.
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
/// `waitpid(WNOHANG)` per orphan), on whichever thread took the event.
struct OrphanWaker;

impl Wake for OrphanWaker {
    fn wake(self: Arc<Self>) {
        reap();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        reap();
    }
}
