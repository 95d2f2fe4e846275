//! Time as the caller gives it.
//!
//! The machines never read a clock. The caller picks an origin (process
//! start, boot, the epoch: anything monotonic) and passes the time elapsed
//! since it as an [`Instant`]. With the `std` feature, [`StdClock`] does this
//! from `std::time::Instant`.

use core::ops::Add;
pub use core::time::Duration;

/// A point in time, measured as the time elapsed since an origin the caller
/// chose. Only differences between two `Instant`s given to the same machine
/// mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    since_origin: Duration,
}

impl Instant {
    /// The origin itself.
    pub const ZERO: Instant = Instant {
        since_origin: Duration::ZERO,
    };

    /// The instant `elapsed` after the origin.
    pub const fn from_elapsed(elapsed: Duration) -> Self {
        Instant {
            since_origin: elapsed,
        }
    }

    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self::from_elapsed(Duration::from_millis(ms))
    }

    /// Time elapsed since the origin.
    pub const fn elapsed(self) -> Duration {
        self.since_origin
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.since_origin.saturating_sub(earlier.since_origin)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates instead of overflowing.
    fn add(self, rhs: Duration) -> Instant {
        Instant {
            since_origin: self.since_origin.saturating_add(rhs),
        }
    }
}

/// Converts `std::time::Instant` readings into [`Instant`]s.
///
/// ```
/// let clock = protoswitch::StdClock::new();
/// let a = clock.now();
/// let b = clock.now();
/// assert!(b >= a);
/// ```
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    origin: std::time::Instant,
}

#[cfg(feature = "std")]
impl StdClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        StdClock {
            origin: std::time::Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        self.at(std::time::Instant::now())
    }

    /// Converts a `std::time::Instant` (saturating at the origin).
    pub fn at(&self, t: std::time::Instant) -> Instant {
        Instant::from_elapsed(t.saturating_duration_since(self.origin))
    }

    /// Converts back, for a runtime's sleep.
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        self.origin + t.elapsed()
    }
}

#[cfg(feature = "std")]
impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn std_clock_converts_both_ways_from_its_origin() {
        let clock = StdClock::new();
        let later = clock.to_std(Instant::from_millis(1_500));
        assert_eq!(clock.at(later), Instant::from_millis(1_500));
        assert_eq!(
            later.saturating_duration_since(clock.to_std(Instant::ZERO)),
            Duration::from_millis(1_500)
        );
        // Before the origin saturates at zero.
        let before = clock.to_std(Instant::ZERO) - Duration::from_millis(5);
        assert_eq!(clock.at(before), Instant::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert!(clock.now() >= Instant::from_millis(2));
    }
}
