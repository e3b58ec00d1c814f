//! The coarse clock: a clock reading that threads refresh when they read
//! the clock anyway, so that stamping a task's spawn and its polls (for
//! [`TaskInfo`](crate::TaskInfo)'s "time since spawn" and "time since last
//! poll") and timing polls for slow-poll warnings cost a load, not a clock
//! read.
//!
//! Times are nanoseconds since the reactor's origin
//! (`aiolos_io::Driver::origin`), like the timer wheels'.
//!
//! # Protocol
//!
//! 1. A running worker refreshes the clock: when it starts, every
//!    `CLOCK_INTERVAL` tasks (one `Instant::now()` per 244 tasks: at 61,
//!    the clock reads were 1.4% of a `yield_many` profile), and each time
//!    it comes back from a park. In debug mode the reactor refreshes it too,
//!    at every turn of its loop (step 4). A refresh stores only
//!    when the reading is at least [`GRANULARITY`] newer than the stored
//!    one (or the stored one is stale), so two busy workers do not bounce
//!    the cache line: it changes about once per millisecond at most.
//! 2. The last worker to park marks the reading [`STALE`]: with no worker
//!    running, nobody refreshes it often, and a task spawned from outside
//!    (or a blocking job) would otherwise be stamped with the time the
//!    runtime went idle.
//! 3. A worker stamps the polls it runs with its own last reading (the one
//!    it took at its last refresh, handed to the poll: no load of this
//!    clock on a poll's path); debug mode's timed polls read the stored
//!    reading ([`Clock::coarse`]), which the reactor keeps moving. A
//!    spawn or blocking job that finds it stale reads the real clock and
//!    stores the reading, clearing the mark ([`Clock::for_stamp`]): that
//!    spawn is about to wake a parked worker (which costs far more, and
//!    which keeps the clock fresh from then on), and the spawns after it
//!    take the stored reading. (Without the store, a thread spawning in a
//!    loop onto a runtime whose workers keep up, and so keep parking, read
//!    the real clock for every spawn until the woken worker ran: 3.7% of a
//!    `spawn_remote` profile. Refreshing in the waker's `notify_parked`
//!    instead put a clock read on the path of every yield that wakes a
//!    sibling: about 3% of `yield_many`.)
//! 4. With a slow-poll threshold (debug mode), the reactor also turns at
//!    least every [`Clock::tick`] while any worker is awake, so the reading
//!    keeps moving while a worker is stuck in a long poll; a worker back
//!    from a park asks it for that turn (`Shared::worker_woke`). See
//!    "Timing polls" below.
//!
//! A stamp is therefore late by at most [`GRANULARITY`] plus the time the
//! stamping worker has gone without refreshing: the time of 244 short
//! polls, or of one long poll running on that worker (in debug mode, at
//! most a tick).
//!
//! Races between a worker that refreshes and the last one to park can leave
//! the stale mark on while a worker runs (readers then read the real clock
//! until its next refresh) or clear it just before that worker parks itself
//! (it marks it again: it is then the last one awake); neither makes a stamp
//! wrong by more than that. A spawner's store racing the last worker's mark
//! can clear the mark while every worker sleeps; the worker that spawn wakes
//! refreshes the reading as it starts, so stamps are late at most by the
//! time that takes. A parked worker never refreshes (not even when
//! its timed park ends to fire a timer, until it goes back to work), so the
//! mark stays while all of them sleep, unless the reactor turns meanwhile.
//!
//! # Timing polls
//!
//! The worker that runs a poll times it (`task/debug.rs`, "Timing a
//! poll"). With a threshold `T` of at least [`COARSE_TIMING_FROM`], a poll
//! is timed by the coarse clock alone: one load before the poll gives its
//! start (and the poll's stamp), one after it its end. A poll whose coarse
//! duration reaches `T / 2` (the reading may lag the truth by a tick,
//! `T / 16` or less, or longer on a starved machine) gets one real clock
//! read, which decides: reported when the real end minus the coarse start
//! exceeds `T`. The coarse start may be early by a tick, so a poll a tick
//! shorter than `T` may be reported; none longer than `T` is missed unless
//! the reactor was kept off the CPU for `T / 2`. Below
//! [`COARSE_TIMING_FROM`], every poll is timed with two real clock reads,
//! exactly.

use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::loom::{AtomicU64, Ordering};

/// Set in the stored reading while no worker runs to refresh it.
const STALE: u64 = 1 << 63;

/// A refresh stores only readings at least this much newer.
pub(crate) const GRANULARITY: u64 = 1_000_000;

/// Slow-poll thresholds from this one up are timed by the coarse clock;
/// shorter ones by real clock reads around every poll.
pub(crate) const COARSE_TIMING_FROM: Duration = Duration::from_millis(16);

/// The longest reactor tick in debug mode.
const MAX_TICK: Duration = Duration::from_millis(10);

/// How a runtime times polls on its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timing {
    /// No slow-poll threshold: polls are not timed.
    Off,
    /// By the coarse clock (see "Timing polls").
    Coarse,
    /// By two real clock reads per poll (a threshold under
    /// [`COARSE_TIMING_FROM`]).
    Precise,
}

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
    /// How polls are timed.
    timing: Timing,
    /// `Builder::slow_poll_threshold`.
    slow_poll_threshold: Option<Duration>,
    /// Time zero (the reactor's origin).
    origin: Instant,
}

impl Clock {
    /// A clock counting from `origin`, read once now, that also keeps the
    /// slow-poll threshold.
    pub(crate) fn new(origin: Instant, slow_poll_threshold: Option<Duration>) -> Clock {
        let timing = match slow_poll_threshold {
            None => Timing::Off,
            Some(t) if t < COARSE_TIMING_FROM => Timing::Precise,
            Some(_) => Timing::Coarse,
        };
        Clock {
            hot: CachePadded::new(Hot {
                now: AtomicU64::new(ns(origin.elapsed())),
                timing,
                slow_poll_threshold,
                origin,
            }),
        }
    }

    /// `Builder::slow_poll_threshold`, if set.
    pub(crate) fn slow_poll_threshold(&self) -> Option<Duration> {
        self.hot.slow_poll_threshold
    }

    /// How polls on the workers are timed.
    #[inline]
    pub(crate) fn timing(&self) -> Timing {
        self.hot.timing
    }

    /// How often the reactor must turn while a worker is awake (see
    /// [`tick_for`]).
    pub(crate) fn tick(&self) -> Option<Duration> {
        tick_for(self.hot.slow_poll_threshold)
    }

    /// Whether a poll that started at `start` (a [`coarse`](Clock::coarse)
    /// reading) and just ended may have been slow: true when the coarse
    /// clock says it took half the threshold. Never true unless the timing
    /// is [`Timing::Coarse`].
    pub(crate) fn suspect(&self, start: u64) -> bool {
        match (self.hot.timing, self.hot.slow_poll_threshold) {
            (Timing::Coarse, Some(t)) => self.coarse().wrapping_sub(start) >= ns(t / 2),
            _ => false,
        }
    }

    /// Reads the real clock (nanoseconds since the origin).
    pub(crate) fn precise(&self) -> u64 {
        ns(self.hot.origin.elapsed())
    }

    /// Reads the real clock and stores the reading (protocol step 1);
    /// returns it.
    pub(crate) fn refresh(&self) -> u64 {
        let now = self.precise();
        self.set(now);
        now
    }

    /// Stores `now`, a fresh reading, if it is [`GRANULARITY`] newer than
    /// the stored one or that one is stale (protocol step 1).
    pub(crate) fn set(&self, now: u64) {
        let cur = self.hot.now.load(Ordering::Relaxed);
        if cur & STALE != 0 || now >= cur.saturating_add(GRANULARITY) {
            self.hot.now.store(now, Ordering::Relaxed);
        }
    }

    /// Stores `now`, the reactor's fresh reading, if it is [`GRANULARITY`]
    /// newer than the stored one and that one is not stale (step 4): the
    /// reactor must not clear the mark, which stays until a worker runs.
    /// A compare-exchange, so that a mark set meanwhile is not overwritten.
    pub(crate) fn set_if_live(&self, now: u64) {
        let cur = self.hot.now.load(Ordering::Relaxed);
        if cur & STALE == 0 && now >= cur.saturating_add(GRANULARITY) {
            let _ = self
                .hot
                .now
                .compare_exchange(cur, now, Ordering::Relaxed, Ordering::Relaxed);
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

    /// The stored reading, or if it is stale the real clock, which is then
    /// stored (step 3).
    #[inline]
    pub(crate) fn for_stamp(&self) -> u64 {
        let cur = self.hot.now.load(Ordering::Relaxed);
        if cur & STALE == 0 {
            cur
        } else {
            self.refresh_stale()
        }
    }

    /// Reads the real clock and stores it (clearing the stale mark).
    #[cold]
    fn refresh_stale(&self) -> u64 {
        self.refresh()
    }
}

/// How often the reactor must turn while a worker is awake, for a
/// slow-poll threshold, so the reading keeps up with a worker stuck in a
/// long poll: a sixteenth of the threshold, 10 ms at most (`None` unless
/// polls are timed by the coarse clock).
pub(crate) fn tick_for(slow_poll_threshold: Option<Duration>) -> Option<Duration> {
    slow_poll_threshold
        .filter(|t| *t >= COARSE_TIMING_FROM)
        .map(|t| (t / 16).min(MAX_TICK))
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
    fn a_stale_reading_is_not_used_for_stamps_and_the_first_stamp_refreshes_it() {
        let clock = Clock::new(Instant::now(), None);
        let start = clock.coarse();
        clock.mark_stale();
        // Workers still see the old reading.
        assert_eq!(clock.coarse(), start);
        // The reactor's reading leaves the mark (and the reading) alone.
        clock.set_if_live(start + 10 * GRANULARITY);
        assert_eq!(clock.coarse(), start);
        // A stamp reads the real clock and stores it, clearing the mark.
        std::thread::sleep(Duration::from_millis(2));
        let stamp = clock.for_stamp();
        assert!(stamp >= start + 2_000_000);
        assert_eq!(clock.coarse(), stamp);
        assert_eq!(clock.for_stamp(), stamp);
        // A worker's fresh reading clears the mark too, even one within the
        // granularity; then the reactor's readings are stored again.
        clock.mark_stale();
        clock.set(stamp + 1);
        assert_eq!(clock.for_stamp(), stamp + 1);
        clock.set_if_live(stamp + 1 + GRANULARITY);
        assert_eq!(clock.for_stamp(), stamp + 1 + GRANULARITY);
    }

    #[test]
    fn thresholds_pick_their_timing_and_tick() {
        let at = |ms| Clock::new(Instant::now(), Some(Duration::from_millis(ms)));
        let off = Clock::new(Instant::now(), None);
        assert_eq!((off.timing(), off.tick()), (Timing::Off, None));
        assert_eq!((at(5).timing(), at(5).tick()), (Timing::Precise, None));
        let ms = Duration::from_millis;
        assert_eq!(
            (at(16).timing(), at(16).tick()),
            (Timing::Coarse, Some(ms(1)))
        );
        assert_eq!(at(100).tick(), Some(Duration::from_micros(6250)));
        assert_eq!(at(1000).tick(), Some(ms(10)));
    }

    #[test]
    fn a_poll_is_suspect_once_the_coarse_clock_moved_half_the_threshold() {
        let clock = Clock::new(Instant::now(), Some(Duration::from_millis(100)));
        let start = clock.coarse();
        assert!(!clock.suspect(start));
        clock.set(start + 49_000_000);
        assert!(!clock.suspect(start));
        clock.set(start + 50_000_000);
        assert!(clock.suspect(start));
        // Without coarse timing, nothing is ever suspect.
        for t in [None, Some(Duration::from_millis(1))] {
            let clock = Clock::new(Instant::now(), t);
            let start = clock.coarse();
            clock.set(start + 3_600_000_000_000);
            assert!(!clock.suspect(start));
        }
    }
}
