//! Policies for long-lived connections, beside the protocol machine: an
//! idle timeout and a limit on the rate of incoming messages. Both are
//! Sans-IO (the caller's clock), no heap, a few words each, and separate
//! from [`Connection`](super::Connection) so that connections that do not
//! use them do not pay for them.
//!
//! * [`IdleTimer`]: no application data for a while → close with 1001
//!   (Going Away). This is not the keepalive: the keepalive
//!   ([`Config::keepalive`](super::Config::keepalive)) detects a dead peer
//!   with Pings; the idle timeout ends a live but silent one.
//! * [`RateLimiter`]: messages and bytes per second received, with a
//!   burst of one second's worth; over the limit, the verdict says until
//!   when to stop reading (backpressure) — or the caller closes with 1008
//!   (Policy Violation), as [`RateLimit::on_exceeded`] says.
//!
//! ```
//! use core::time::Duration;
//! use protoswitch::Instant;
//! use protoswitch::ws::{IdleTimer, RateLimit, RateLimiter, RateVerdict};
//!
//! let start = Instant::ZERO;
//! let mut idle = IdleTimer::new(Duration::from_secs(60), start);
//! let mut limiter = RateLimiter::new(RateLimit::new().messages_per_second(2), start);
//! // A message arrives: it counts as activity and against the rate.
//! idle.activity(start);
//! assert_eq!(limiter.record(1, 10, start), RateVerdict::Within);
//! assert_eq!(limiter.record(1, 10, start), RateVerdict::Within);
//! // The third in the same instant exceeds 2 per second (burst 1 s):
//! // reading resumes half a second later.
//! assert_eq!(
//!     limiter.record(1, 10, start),
//!     RateVerdict::Exceeded { resume_at: start + Duration::from_millis(500) }
//! );
//! assert!(!idle.is_expired(start + Duration::from_secs(59)));
//! assert!(idle.is_expired(start + Duration::from_secs(60)));
//! ```

use core::time::Duration;

use super::Event;
use crate::Instant;

/// Ends a connection that carried no application data for `limit`.
///
/// Call [`activity`](Self::activity) whenever a data message (or chunk) is
/// received or sent; sleep until [`deadline`](Self::deadline) (with the
/// connection's own [`poll_timeout`](super::Connection::poll_timeout));
/// when [`is_expired`](Self::is_expired), send Close 1001
/// ([`code::GOING_AWAY`](super::code::GOING_AWAY)). Pings and Pongs are
/// not activity: a keepalive does not keep an idle connection open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleTimer {
    limit: Duration,
    last: Instant,
}

impl IdleTimer {
    /// A timer of `limit`, started at `now`.
    pub const fn new(limit: Duration, now: Instant) -> Self {
        IdleTimer { limit, last: now }
    }

    /// Application data moved at `now` (an earlier `now` than the last
    /// one is ignored).
    pub fn activity(&mut self, now: Instant) {
        self.last = self.last.max(now);
    }

    /// When the connection becomes idle if nothing moves before.
    pub fn deadline(&self) -> Instant {
        self.last + self.limit
    }

    /// No application data since [`deadline`](Self::deadline) − `limit`.
    pub fn is_expired(&self, now: Instant) -> bool {
        now >= self.deadline()
    }

    /// The configured limit.
    pub const fn limit(&self) -> Duration {
        self.limit
    }
}

/// What to do when the peer sends faster than a [`RateLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnExceeded {
    /// Stop reading until the verdict's `resume_at`: TCP flow control
    /// slows the peer down. Nothing is dropped.
    Backpressure,
    /// Close with 1008 (Policy Violation).
    Close,
}

/// Limits on incoming data: messages per second and bytes per second,
/// each with a burst of one second's worth. A zero rate means no limit on
/// that dimension.
///
/// ```
/// use protoswitch::ws::{OnExceeded, RateLimit};
/// let limit = RateLimit::new()
///     .messages_per_second(100)
///     .bytes_per_second(1 << 20)
///     .on_exceeded(OnExceeded::Close);
/// assert_eq!(limit.messages_per_second, 100);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Messages per second (0: unlimited). Default 0.
    pub messages_per_second: u32,
    /// Bytes per second (0: unlimited). Default 0.
    pub bytes_per_second: u64,
    /// The action over the limit. Default [`OnExceeded::Backpressure`].
    pub on_exceeded: OnExceeded,
}

impl RateLimit {
    /// No limit, backpressure when one is set.
    pub const fn new() -> Self {
        RateLimit {
            messages_per_second: 0,
            bytes_per_second: 0,
            on_exceeded: OnExceeded::Backpressure,
        }
    }
    /// Sets [`RateLimit::messages_per_second`].
    pub const fn messages_per_second(mut self, rate: u32) -> Self {
        self.messages_per_second = rate;
        self
    }
    /// Sets [`RateLimit::bytes_per_second`].
    pub const fn bytes_per_second(mut self, rate: u64) -> Self {
        self.bytes_per_second = rate;
        self
    }
    /// Sets [`RateLimit::on_exceeded`].
    pub const fn on_exceeded(mut self, action: OnExceeded) -> Self {
        self.on_exceeded = action;
        self
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::new()
    }
}

/// The [`RateLimiter`]'s answer for what was just received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateVerdict {
    /// Within the limit: keep reading.
    Within,
    /// Over the limit: with [`OnExceeded::Backpressure`], read nothing
    /// until `resume_at`; with [`OnExceeded::Close`], close with 1008.
    Exceeded {
        /// When the rate is back within the limit.
        resume_at: Instant,
    },
}

/// Enforces a [`RateLimit`] on what the caller [records](Self::record).
///
/// Each dimension is a virtual schedule (the generic cell rate
/// algorithm): a message costs `1 s / messages_per_second`, a byte
/// `1 s / bytes_per_second`; the schedule may run at most one second ahead
/// of `now` (the burst). Charges are taken after the fact — the data has
/// arrived — so the verdict says how long to wait for the schedule to be
/// back within the burst. Constant work per call, 32 bytes (a test says
/// so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimiter {
    limit: RateLimit,
    /// Where the message schedule has reached.
    messages_at: Instant,
    /// Where the byte schedule has reached.
    bytes_at: Instant,
}

/// The burst: how far a schedule may run ahead of the clock.
const BURST: Duration = Duration::from_secs(1);

impl RateLimiter {
    /// A limiter for `limit`, starting at `now` with a full burst.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        RateLimiter {
            limit,
            messages_at: now,
            bytes_at: now,
        }
    }

    /// The limit enforced.
    pub const fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Charges one receive step of a [`Connection`](super::Connection):
    /// the `consumed` bytes it took and the `event` it returned (what the
    /// adapters charge, a rule a peer cannot get around). A message counts
    /// at its last chunk, and every control frame (Ping, Pong, Close) as a
    /// message too; the bytes are the larger of those consumed from the
    /// wire (headers and control frames included: empty fragments are not
    /// free) and the chunk (an inflated one may be larger).
    pub fn record_received(
        &mut self,
        consumed: usize,
        event: Option<&Event<'_>>,
        now: Instant,
    ) -> RateVerdict {
        let (messages, chunk) = match event {
            Some(Event::Data(data)) => (u32::from(data.message_end), data.payload.len()),
            Some(Event::Ping(_) | Event::Pong(_) | Event::Close { .. }) => (1, 0),
            None => (0, 0),
        };
        let bytes = u64::try_from(consumed.max(chunk)).unwrap_or(u64::MAX);
        self.record(messages, bytes, now)
    }

    /// Charges `messages` messages and `bytes` bytes received at `now`
    /// (what counts is the caller's choice: [`record_received`](Self::record_received)
    /// charges a receive step). The verdict covers both schedules:
    /// `Exceeded` while either is still more than the burst ahead,
    /// whatever was charged.
    pub fn record(&mut self, messages: u32, bytes: u64, now: Instant) -> RateVerdict {
        let a = charge(
            &mut self.messages_at,
            messages.into(),
            self.limit.messages_per_second.into(),
            now,
        );
        let b = charge(&mut self.bytes_at, bytes, self.limit.bytes_per_second, now);
        match a.max(b) {
            Some(resume_at) => RateVerdict::Exceeded { resume_at },
            None => RateVerdict::Within,
        }
    }
}

/// Moves `schedule` on by `units / rate` seconds (from `now` if it fell
/// behind); `Some(when it is back within the burst)` if it is more than
/// [`BURST`] ahead of `now` (even when `units` is 0).
fn charge(schedule: &mut Instant, units: u64, rate: u64, now: Instant) -> Option<Instant> {
    if rate == 0 {
        return None;
    }
    // units / rate seconds, in nanoseconds, saturating (u64 x 1e9 fits u128).
    let nanos = u128::from(units) * 1_000_000_000 / u128::from(rate);
    let cost = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
    *schedule = (*schedule).max(now) + cost;
    // Even with nothing charged, a schedule still ahead answers `Exceeded`.
    let resume_at = Instant::from_elapsed(schedule.elapsed().saturating_sub(BURST));
    (resume_at > now).then_some(resume_at)
}
