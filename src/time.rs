//! Time as the caller gives it.
//!
//! The machines never read a clock. The caller picks an origin (process
//! start, boot, the epoch: anything monotonic) and passes the time elapsed
//! since it as an [`Instant`]. With the `std` feature, [`StdClock`] does this
//! from `std::time::Instant`.

use core::ops::Add;
pub use core::time::Duration;

/// A point in time, measured as the time elapsed since an origin the caller
/// chose, with nanosecond resolution, up to about 584 years after it
/// (later instants saturate). Only differences between two `Instant`s given
/// to the same machine mean anything. Eight bytes, so that the machines that
/// keep deadlines stay small.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant {
    nanos: u64,
}

/// `d` in nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) const fn saturating_nanos(d: Duration) -> u64 {
    let nanos = d.as_nanos();
    if nanos > u64::MAX as u128 {
        u64::MAX
    } else {
        nanos as u64
    }
}

impl Instant {
    /// The origin itself.
    pub const ZERO: Instant = Instant { nanos: 0 };

    /// The instant `elapsed` after the origin (saturating about 584 years
    /// after it).
    pub const fn from_elapsed(elapsed: Duration) -> Self {
        Instant {
            nanos: saturating_nanos(elapsed),
        }
    }

    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant {
            nanos: ms.saturating_mul(1_000_000),
        }
    }

    /// Time elapsed since the origin.
    pub const fn elapsed(self) -> Duration {
        Duration::from_nanos(self.nanos)
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates instead of overflowing.
    fn add(self, rhs: Duration) -> Instant {
        Instant {
            nanos: self.nanos.saturating_add(saturating_nanos(rhs)),
        }
    }
}

/// An optional deadline in the eight bytes of an [`Instant`]: the last
/// instant (about 584 years after the origin, where every later instant
/// saturates) stands for "none", as no timer of a running machine gets
/// there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(u64);

impl Deadline {
    pub(crate) const NONE: Deadline = Deadline(u64::MAX);

    pub(crate) const fn at(when: Instant) -> Self {
        Deadline(when.nanos)
    }

    pub(crate) const fn get(self) -> Option<Instant> {
        if self.0 == u64::MAX {
            None
        } else {
            Some(Instant { nanos: self.0 })
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
