//! The coarse clock: a clock reading that workers refresh when they read
//! the clock anyway, so that stamping a task's spawn and its polls (for
//! [`TaskInfo`](crate::TaskInfo)'s "time since spawn" and "time since last
//! poll") costs a load, not a clock read.
//!
//! Times are nanoseconds since the reactor's origin
//! (`aiolos_io::Driver::origin`), like the timer wheels'.
//!
//! # Protocol
//!
//! 1. A running worker refreshes the clock: when it starts, every
//!    `CLOCK_INTERVAL` tasks (one `Instant::now()` per 256 tasks: at 61,
//!    the clock reads were 1.4% of a `yield_many` profile), and each time
//!    it comes back from a park. A refresh stores only when the reading is at least
//!    [`GRANULARITY`] newer than the stored one (or the stored one is
//!    stale), so two busy workers do not bounce the cache line: it changes
//!    about once per millisecond at most.
//! 2. The last worker to park marks the reading [`STALE`]: with no worker
//!    running, nobody refreshes it, and a task spawned from outside (or a
//!    blocking job) would otherwise be stamped with the time the runtime
//!    went idle. Whoever wakes a parked worker refreshes it (and so clears
//!    the mark) as it does: from then on a worker is awake again. Without
//!    that, a thread spawning in a loop onto a runtime whose workers keep
//!    up (and so keep parking) read the real clock for every spawn until
//!    the woken worker ran: 3.7% of a `spawn_remote` profile.
//! 3. Readers on a worker take the reading as it is ([`Clock::coarse`]). A
//!    spawn or blocking job that finds it stale reads the real clock
//!    ([`Clock::for_stamp`]); only then, and that spawn is about to wake a
//!    parked worker, which costs far more.
//!
//! A stamp is therefore late by at most [`GRANULARITY`] plus the time the
//! stamping worker has gone without refreshing: the time of 256 short
//! polls, or of one long poll running on that worker.
//!
//! The slow-poll threshold sits beside the reading, on the same cache
//! line, because every poll reads both. Races between a worker that
//! refreshes and the last one to park can leave the stale mark on while a
//! worker runs (readers then read the real clock until its next refresh) or
//! clear it just before that worker parks itself (it marks it again: it is
//! then the last one awake); neither makes a stamp wrong by more than that.
//! A parked worker never refreshes (not even when its timed park ends to
//! fire a timer, until it goes back to work), so the mark stays while all
//! of them sleep.

use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::loom::{AtomicU64, Ordering};

/// Set in the stored reading while no worker runs to refresh it.
const STALE: u64 = 1 << 63;

/// A refresh stores only readings at least this much newer.
pub(crate) const GRANULARITY: u64 = 1_000_000;

/// A runtime's coarse clock.
#[derive(Debug)]
pub(crate) struct Clock {
    /// What every poll reads.
    hot: CachePadded<Hot>,
}

/// The clock's fields, on one cache line.
#[derive(Debug)]
struct Hot {
    /// The last stored reading, in nanoseconds since `origin`, with
    /// [`STALE`] set while no worker refreshes it.
    now: AtomicU64,
    /// `Builder::slow_poll_threshold`: polls on workers are timed when set.
    slow_poll_threshold: Option<Duration>,
    /// Time zero (the reactor's origin).
    origin: Instant,
}

impl Clock {
    /// A clock counting from `origin`, read once now, that also keeps the
    /// slow-poll threshold.
    pub(crate) fn new(origin: Instant, slow_poll_threshold: Option<Duration>) -> Clock {
        Clock {
            hot: CachePadded::new(Hot {
                now: AtomicU64::new(ns(origin.elapsed())),
                slow_poll_threshold,
                origin,
            }),
        }
    }

    /// `Builder::slow_poll_threshold`, if set.
    #[inline]
    pub(crate) fn slow_poll_threshold(&self) -> Option<Duration> {
        self.hot.slow_poll_threshold
    }

    /// Reads the real clock (nanoseconds since the origin).
    pub(crate) fn precise(&self) -> u64 {
        ns(self.hot.origin.elapsed())
    }

    /// `t` in nanoseconds since the origin.
    pub(crate) fn ns_of(&self, t: Instant) -> u64 {
        ns(t.saturating_duration_since(self.hot.origin))
    }

    /// Reads the real clock and stores the reading (protocol step 1).
    pub(crate) fn refresh(&self) {
        self.set(self.precise());
    }

    /// Stores `now`, a fresh reading, if it is [`GRANULARITY`] newer than
    /// the stored one or that one is stale (protocol step 1).
    pub(crate) fn set(&self, now: u64) {
        let cur = self.hot.now.load(Ordering::Relaxed);
        if cur & STALE != 0 || now >= cur.saturating_add(GRANULARITY) {
            self.hot.now.store(now, Ordering::Relaxed);
        }
    }

    /// Marks the reading stale: the last running worker parks (step 2).
    pub(crate) fn mark_stale(&self) {
        let cur = self.hot.now.load(Ordering::Relaxed);
        self.hot.now.store(cur | STALE, Ordering::Relaxed);
    }

    /// The stored reading, for stamps taken on a running worker (step 3).
    #[inline]
    pub(crate) fn coarse(&self) -> u64 {
        self.hot.now.load(Ordering::Relaxed) & !STALE
    }

    /// The stored reading, or the real clock if it is stale (step 3).
    #[inline]
    pub(crate) fn for_stamp(&self) -> u64 {
        let cur = self.hot.now.load(Ordering::Relaxed);
        if cur & STALE == 0 {
            cur
        } else {
            self.precise()
        }
    }
}

/// A duration in nanoseconds, saturating.
fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX >> 1)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_within_the_granularity_keeps_the_old_reading() {
        let clock = Clock::new(Instant::now(), None);
        let start = clock.coarse();
        clock.set(start + GRANULARITY / 2);
        assert_eq!(clock.coarse(), start);
        clock.set(start + GRANULARITY);
        assert_eq!(clock.coarse(), start + GRANULARITY);
    }

    #[test]
    fn a_stale_reading_is_replaced_by_the_next_refresh_and_not_used_for_stamps() {
        let clock = Clock::new(Instant::now(), None);
        let start = clock.coarse();
        clock.mark_stale();
        // Workers still see the old reading; stamps read the real clock.
        assert_eq!(clock.coarse(), start);
        std::thread::sleep(Duration::from_millis(2));
        assert!(clock.for_stamp() >= start + 2_000_000);
        // Any fresh reading clears the mark, even one within the granularity.
        clock.set(start + 1);
        assert_eq!(clock.for_stamp(), start + 1);
    }
}
