//! `Instant`: asyncio's `loop.time()`, as a monotonic point in time.

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// How far "never" is: deadlines that would overflow saturate to this much
/// past the instant they were computed from (about 30 years).
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// A point on the monotonic clock (asyncio's `loop.time()`), usable on any
/// thread. Arithmetic saturates: adding `Duration::MAX` gives a far-future
/// instant instead of panicking, and subtracting a later instant gives zero.
///
/// ```
/// use std::time::Duration;
/// use aiolos::time::Instant;
///
/// let start = Instant::now();
/// let later = start + Duration::from_millis(5);
/// assert!(later > start);
/// assert_eq!(later - start, Duration::from_millis(5));
/// assert_eq!(start - later, Duration::ZERO);
/// let never = start + Duration::MAX; // no panic
/// assert!(never > later);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current time.
    pub fn now() -> Instant {
        Instant(std::time::Instant::now())
    }

    /// Time elapsed since `self` (zero if `self` is in the future).
    pub fn elapsed(&self) -> Duration {
        std::time::Instant::now().saturating_duration_since(self.0)
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// `self + d`, or `None` if it cannot be represented.
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Instant)
    }

    /// `self - d`, or `None` if it cannot be represented.
    pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(d).map(Instant)
    }

    /// The standard library instant.
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// From a standard library instant.
    pub fn from_std(i: std::time::Instant) -> Instant {
        Instant(i)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(i: std::time::Instant) -> Instant {
        Instant(i)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(i: Instant) -> std::time::Instant {
        i.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Saturates to a far-future instant instead of overflowing.
    fn add(self, d: Duration) -> Instant {
        match self.0.checked_add(d) {
            Some(t) => Instant(t),
            None => Instant(self.0.checked_add(FAR_FUTURE).unwrap_or(self.0)),
        }
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// Saturates at the earliest representable instant.
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.checked_sub(d).unwrap_or(self.0))
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// Zero when `rhs` is later.
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
