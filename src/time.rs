//! Time as the caller gives it.
//!
//! The machines never read a clock. The caller picks an origin (process
//! start, boot, the epoch: anything monotonic) and passes the time elapsed
//! since it as an [`Instant`]. With the `std` feature, [`StdClock`] does this
//! from `std::time::Instant`.

use core::fmt;
use core::num::NonZeroU64;
use core::ops::Add;
pub use core::time::Duration;

/// A point in time, measured as the time elapsed since an origin the caller
/// chose, with nanosecond resolution, up to 2^64 − 2 ns (about 584 years)
/// after it: later instants saturate there. Only differences between two
/// `Instant`s given to the same machine mean anything. Eight bytes, and
/// `Option<Instant>` too, so that the machines that keep deadlines stay
/// small.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    /// Nanoseconds since the origin, plus one (which gives `Option` a
    /// niche; the order is the same).
    nanos_plus_one: NonZeroU64,
}

/// The last instant's nanoseconds.
const LAST: u64 = u64::MAX - 1;

/// `d` in nanoseconds, saturating at the last instant.
const fn saturating_nanos(d: Duration) -> u64 {
    let nanos = d.as_nanos();
    if nanos > LAST as u128 {
        LAST
    } else {
        nanos as u64
    }
}

impl Instant {
    /// The origin itself.
    pub const ZERO: Instant = Instant::from_nanos(0);

    /// The instant `nanos` nanoseconds after the origin (saturating).
    const fn from_nanos(nanos: u64) -> Self {
        let capped = if nanos > LAST { LAST } else { nanos };
        Instant {
            nanos_plus_one: match NonZeroU64::new(capped + 1) {
                Some(n) => n,
                // `capped + 1` is at least 1.
                None => NonZeroU64::MIN,
            },
        }
    }

    const fn nanos(self) -> u64 {
        self.nanos_plus_one.get() - 1
    }

    /// The instant `elapsed` after the origin (saturating about 584 years
    /// after it).
    pub const fn from_elapsed(elapsed: Duration) -> Self {
        Instant::from_nanos(saturating_nanos(elapsed))
    }

    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant::from_nanos(ms.saturating_mul(1_000_000))
    }

    /// Time elapsed since the origin.
    pub const fn elapsed(self) -> Duration {
        Duration::from_nanos(self.nanos())
    }

    /// `self + Duration::from_millis(ms)` (saturating the same way) in
    /// integer arithmetic: the connection keeps its timers in
    /// milliseconds, and a `Duration` made of them, then turned into
    /// nanoseconds, took 64-bit divisions and 128-bit products (on
    /// Cortex-M, inlined at each timer: firmware .text 24,264 -> 24,064 B).
    /// A call on 32-bit targets, where its 64-bit arithmetic is a dozen
    /// instructions at each of four timers (23,360 -> 23,276 B).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub(crate) const fn after_millis(self, ms: u32) -> Instant {
        // At most about 4.3e15 ns: no overflow.
        let delta = ms as u64 * 1_000_000;
        Instant::from_nanos(self.nanos().saturating_add(delta))
    }

    /// `self - earlier`, or zero when `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos().saturating_sub(earlier.nanos()))
    }
}

impl Default for Instant {
    /// The origin.
    fn default() -> Self {
        Instant::ZERO
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", self.elapsed())
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates instead of overflowing.
    fn add(self, rhs: Duration) -> Instant {
        Instant::from_nanos(self.nanos().saturating_add(saturating_nanos(rhs)))
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
    fn instants_saturate_at_the_last_one_and_keep_option_small() {
        let end = Instant::from_elapsed(Duration::MAX);
        assert_eq!(end + Duration::from_secs(5), end);
        assert_eq!(Instant::from_millis(u64::MAX), end);
        assert_eq!(end.elapsed(), Duration::from_nanos(u64::MAX - 1));
        assert!(Instant::ZERO < Instant::from_millis(1) && Instant::from_millis(1) < end);
        assert_eq!(
            Instant::from_millis(7).saturating_duration_since(Instant::from_millis(2)),
            Duration::from_millis(5)
        );
        assert_eq!(Instant::default(), Instant::ZERO);
        assert_eq!(size_of::<Option<Instant>>(), 8);
        assert_eq!(
            std::format!("{:?}", Instant::from_millis(3)),
            "Instant(3ms)"
        );
    }

    /// Adding milliseconds as integers is adding their `Duration`, with
    /// the same saturation.
    #[test]
    fn adding_milliseconds_is_adding_their_duration() {
        let end = Instant::from_elapsed(Duration::MAX);
        let near_end = Instant::from_nanos(LAST - 999_999);
        for at in [Instant::ZERO, Instant::from_millis(1_234), near_end, end] {
            for ms in [0, 1, 999, 1_000, 1_001, 30_000, u32::MAX - 1, u32::MAX] {
                let want = at + Duration::from_millis(u64::from(ms));
                assert_eq!(at.after_millis(ms), want, "{at:?} + {ms} ms");
            }
        }
    }

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
