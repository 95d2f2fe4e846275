//! [`Backoff`]: delays between a client's reconnection attempts.

use core::time::Duration;

/// Exponential backoff with jitter for reconnecting clients: the `n`th
/// delay is drawn uniformly from `[cap / 2, cap]` where
/// `cap = min(max, initial × 2^n)` — half fixed, so a crowd of clients
/// never retries at once with no delay, half random, so they spread out
/// after an outage instead of reconnecting in waves. Sans-IO: the caller
/// sleeps, and supplies the entropy.
///
/// ```
/// use core::time::Duration;
/// use protoswitch::Backoff;
///
/// let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10))
///     .max_attempts(Some(3));
/// // entropy 0 draws the smallest delay, u32::MAX the largest.
/// assert_eq!(backoff.next_delay(0), Some(Duration::from_millis(50)));
/// assert_eq!(backoff.next_delay(u32::MAX), Some(Duration::from_millis(200)));
/// assert_eq!(backoff.next_delay(0), Some(Duration::from_millis(200)));
/// assert_eq!(backoff.next_delay(0), None); // three attempts were allowed
/// backoff.reset(); // after a connection that worked
/// assert_eq!(backoff.next_delay(0), Some(Duration::from_millis(50)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    max_attempts: Option<u32>,
    attempt: u32,
}

impl Backoff {
    /// Delays from `initial`, doubling up to `max`, forever.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            max_attempts: None,
            attempt: 0,
        }
    }

    /// At most `attempts` delays before [`next_delay`](Self::next_delay)
    /// says to give up (`None`: never give up).
    pub const fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// The delay before the next attempt, from 32 random bits; `None`
    /// when the attempts are used up.
    pub fn next_delay(&mut self, entropy: u32) -> Option<Duration> {
        if self.max_attempts.is_some_and(|max| self.attempt >= max) {
            return None;
        }
        // initial x 2^attempt, or `max` once that is past it (or past
        // what a u128 of nanoseconds holds).
        let max = self.max.as_nanos();
        let cap = 1u128
            .checked_shl(self.attempt)
            .and_then(|factor| self.initial.as_nanos().checked_mul(factor))
            .map_or(max, |doubled| doubled.min(max));
        self.attempt = self.attempt.saturating_add(1);
        let half = cap / 2;
        let jitter = (cap - half) * u128::from(entropy) / u128::from(u32::MAX);
        Some(Duration::from_nanos(
            u64::try_from(half + jitter).unwrap_or(u64::MAX),
        ))
    }

    /// `true` for a final status a later attempt may get past: 408, 429,
    /// 500, 502, 503 and 504 (the server, or a proxy in front of it,
    /// failing for now); what the adapters retry besides transport
    /// failures. A refusal such as 401, 403, 404 or 426 is not.
    pub const fn is_transient_status(status: u16) -> bool {
        matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
    }

    /// Attempts made since the start or the last [`reset`](Self::reset).
    pub const fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over (call it once a connection succeeded).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}
