//! `interval`: a periodic tick.

use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Instant, Sleep};

/// What an [`Interval`] does when ticks were missed (the task was busy past
/// one or more deadlines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up, keeping the
    /// original schedule (the default).
    #[default]
    Burst,
    /// Start a new schedule one period after the late tick.
    Delay,
    /// Drop the missed ticks and fire at the next deadline of the original
    /// schedule.
    Skip,
}

impl MissedTickBehavior {
    /// The deadline after a tick that was due at `due` and taken at `now`.
    fn next(self, due: Instant, now: Instant, period: Duration) -> Instant {
        match self {
            MissedTickBehavior::Burst => due + period,
            MissedTickBehavior::Delay => now + period,
            MissedTickBehavior::Skip => {
                let behind = (now - due).as_nanos();
                let period_ns = period.as_nanos();
                let into_period = (behind % period_ns) as u64;
                now + (period - Duration::from_nanos(into_period))
            }
        }
    }
}

/// Ticks every `period`, the first tick at once.
///
/// # Panics
///
/// If `period` is zero, or outside an aiolos runtime.
///
/// ```
/// use std::time::Duration;
/// use aiolos::time::{interval, Instant};
///
/// let rt = aiolos::Runtime::new().unwrap();
/// rt.block_on(async {
///     let start = Instant::now();
///     let mut every = interval(Duration::from_millis(5));
///     every.tick().await; // at once
///     every.tick().await;
///     every.tick().await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
///
/// # Panics
///
/// If `period` is zero, or outside an aiolos runtime.
#[track_caller]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "interval period must be non-zero; use yield_now() to loop without waiting"
    );
    Interval {
        delay: Sleep::new(start, "aiolos::time::interval"),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// A periodic timer; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    /// The next tick's deadline.
    delay: Sleep,
    /// Time between ticks.
    period: Duration,
    /// What to do after missed ticks.
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns when it was due.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let due = self.delay.deadline();
        // A tick already due is taken at once (no timer, no yield): the first
        // tick, and catching up in `Burst` mode.
        if Instant::now() < due {
            match self.delay.poll_deadline(cx) {
                Poll::Ready(()) => {}
                Poll::Pending => return Poll::Pending,
            }
        }
        if crate::task::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let now = Instant::now();
        let next = if now > due + self.period {
            // At least one tick was missed.
            self.missed.next(due, now, self.period)
        } else {
            due + self.period
        };
        self.delay.reset(next);
        Poll::Ready(due)
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.delay.reset(Instant::now() + self.period);
    }

    /// The behaviour after missed ticks.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// Sets the behaviour after missed ticks.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_tick_schedules() {
        let t0 = Instant::now();
        let p = Duration::from_millis(10);
        let due = t0;
        let now = t0 + Duration::from_millis(35);
        assert_eq!(MissedTickBehavior::Burst.next(due, now, p), t0 + p);
        assert_eq!(MissedTickBehavior::Delay.next(due, now, p), now + p);
        assert_eq!(
            MissedTickBehavior::Skip.next(due, now, p),
            t0 + Duration::from_millis(40)
        );
    }
}
