//! The policies beside the machines: `IdleTimer`, `RateLimiter` (idle
//! timeout and incoming rate limit, issue 11) and `Backoff` (client
//! reconnection).

use core::time::Duration;

use proptest::prelude::*;
use protoswitch::Backoff;
use protoswitch::Instant;
use protoswitch::ws::{IdleTimer, RateLimit, RateLimiter, RateVerdict};

fn ms(n: u64) -> Instant {
    Instant::from_millis(n)
}

#[test]
fn idle_timer_expires_exactly_at_the_limit_after_the_last_activity() {
    let mut idle = IdleTimer::new(Duration::from_secs(10), ms(0));
    assert_eq!(idle.deadline(), ms(10_000));
    idle.activity(ms(4_000));
    assert_eq!(idle.deadline(), ms(14_000));
    assert!(!idle.is_expired(ms(13_999)));
    assert!(idle.is_expired(ms(14_000)));
    // A clock reading earlier than the last activity changes nothing.
    idle.activity(ms(1_000));
    assert_eq!(idle.deadline(), ms(14_000));
    assert_eq!(idle.limit(), Duration::from_secs(10));
}

#[test]
fn no_rate_means_no_limit() {
    let mut limiter = RateLimiter::new(RateLimit::new(), ms(0));
    for _ in 0..10_000 {
        assert_eq!(limiter.record(1, u64::MAX, ms(0)), RateVerdict::Within);
    }
}

#[test]
fn messages_beyond_one_second_of_burst_wait_for_the_schedule() {
    let limit = RateLimit::new().messages_per_second(10);
    let mut limiter = RateLimiter::new(limit, ms(0));
    // Ten at once: the burst.
    for _ in 0..10 {
        assert_eq!(limiter.record(1, 0, ms(0)), RateVerdict::Within);
    }
    // The eleventh: 100 ms over the burst.
    assert_eq!(
        limiter.record(1, 0, ms(0)),
        RateVerdict::Exceeded { resume_at: ms(100) }
    );
    // At the resume time the schedule is exactly one second ahead: one
    // more message is over again by one cost.
    assert_eq!(
        limiter.record(1, 0, ms(100)),
        RateVerdict::Exceeded { resume_at: ms(200) }
    );
    // Idle for two seconds: the full burst is back, not more.
    for _ in 0..10 {
        assert_eq!(limiter.record(1, 0, ms(3_000)), RateVerdict::Within);
    }
    assert!(matches!(
        limiter.record(1, 0, ms(3_000)),
        RateVerdict::Exceeded { .. }
    ));
}

#[test]
fn bytes_are_limited_independently_of_messages() {
    let limit = RateLimit::new()
        .messages_per_second(1_000)
        .bytes_per_second(1_000);
    let mut limiter = RateLimiter::new(limit, ms(0));
    assert_eq!(limiter.record(1, 1_000, ms(0)), RateVerdict::Within);
    // 500 more bytes: half a second over the burst.
    assert_eq!(
        limiter.record(0, 500, ms(0)),
        RateVerdict::Exceeded { resume_at: ms(500) }
    );
    // Chunks charged without a message end count the same.
    let mut chunked = RateLimiter::new(limit, ms(0));
    for _ in 0..15 {
        let _ = chunked.record(0, 100, ms(0));
    }
    assert_eq!(
        chunked.record(1, 0, ms(0)),
        RateVerdict::Exceeded { resume_at: ms(500) }
    );
}

#[test]
fn huge_charges_saturate_instead_of_overflowing() {
    let limit = RateLimit::new().bytes_per_second(1);
    let mut limiter = RateLimiter::new(limit, ms(0));
    match limiter.record(0, u64::MAX, ms(0)) {
        RateVerdict::Exceeded { resume_at } => assert!(resume_at > ms(1_000_000)),
        other => panic!("{other:?}"),
    }
    // Still answers, still over.
    assert!(matches!(
        limiter.record(0, u64::MAX, ms(u64::MAX)),
        RateVerdict::Exceeded { .. } | RateVerdict::Within
    ));
}

proptest! {
    /// A peer that waits whenever told to never exceeds rate × (elapsed
    /// + 1 s of burst) + one message, and a verdict's resume time is
    /// always after `now`.
    #[test]
    fn a_peer_that_obeys_the_verdicts_stays_within_the_rate(
        rate in 1u32..1_000,
        gaps in proptest::collection::vec(0u64..50, 1..400),
    ) {
        let mut limiter = RateLimiter::new(RateLimit::new().messages_per_second(rate), ms(0));
        let mut now = ms(0);
        let mut sent: u64 = 0;
        for gap in gaps {
            now = now + Duration::from_millis(gap);
            sent += 1;
            match limiter.record(1, 0, now) {
                RateVerdict::Within => {}
                RateVerdict::Exceeded { resume_at } => {
                    prop_assert!(resume_at > now);
                    now = resume_at;
                }
            }
            let allowed = u64::from(rate) * (now.elapsed().as_millis() as u64 + 1_000) / 1_000 + 1;
            prop_assert!(sent <= allowed, "{sent} messages by {now:?} at {rate}/s");
        }
    }

    /// Every delay lies in [cap/2, cap] with cap = min(max, initial × 2^n),
    /// and the caps never decrease.
    #[test]
    fn backoff_delays_stay_within_the_doubling_cap(
        initial_ms in 1u64..1_000,
        max_ms in 1u64..100_000,
        draws in proptest::collection::vec(any::<u32>(), 1..64),
    ) {
        let (initial, max) = (Duration::from_millis(initial_ms), Duration::from_millis(max_ms));
        let mut backoff = Backoff::new(initial, max);
        let mut doubled = initial;
        for (n, entropy) in draws.into_iter().enumerate() {
            let cap = doubled.min(max);
            doubled = doubled.saturating_mul(2);
            let delay = backoff.next_delay(entropy).unwrap();
            prop_assert!(delay >= cap / 2 && delay <= cap, "attempt {n}: {delay:?} vs cap {cap:?}");
            prop_assert_eq!(backoff.attempts() as usize, n + 1);
        }
    }
}

#[test]
fn backoff_gives_up_after_max_attempts_and_starts_over_on_reset() {
    let mut backoff =
        Backoff::new(Duration::from_secs(1), Duration::from_secs(30)).max_attempts(Some(2));
    assert_eq!(backoff.next_delay(u32::MAX), Some(Duration::from_secs(1)));
    assert_eq!(backoff.next_delay(u32::MAX), Some(Duration::from_secs(2)));
    assert_eq!(backoff.next_delay(u32::MAX), None);
    assert_eq!(backoff.attempts(), 2);
    backoff.reset();
    assert_eq!(backoff.next_delay(0), Some(Duration::from_millis(500)));
    // Far beyond 2^31 doublings the cap is `max`.
    let mut long = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    for _ in 0..100 {
        let _ = long.next_delay(0);
    }
    assert_eq!(long.next_delay(u32::MAX), Some(Duration::from_secs(30)));
    // Doubling goes on past 2^31 until `max` (1 ns x 2^42 > 3600 s).
    let mut tiny = Backoff::new(Duration::from_nanos(1), Duration::from_secs(3600));
    for _ in 0..41 {
        let _ = tiny.next_delay(u32::MAX);
    }
    assert_eq!(
        tiny.next_delay(u32::MAX),
        Some(Duration::from_nanos(1 << 41))
    );
    assert_eq!(tiny.next_delay(u32::MAX), Some(Duration::from_secs(3600)));
}

#[test]
fn the_policies_are_as_small_as_their_docs_say() {
    assert_eq!(size_of::<RateLimiter>(), 32);
}

#[test]
fn a_receive_step_is_charged_its_messages_and_wire_bytes() {
    use protoswitch::ws::{Config, Connection};
    // Frames from a client (mask 0): their events and consumed bytes, as
    // the adapters charge them.
    let steps = |wire: &[u8]| {
        let mut server = Connection::server(Config::new(), ms(0));
        let mut buf = wire.to_vec();
        let mut at = 0;
        let mut out = std::vec::Vec::new();
        while at < buf.len() {
            let got = server.receive(&mut buf[at..], ms(0)).unwrap();
            let mut limiter = RateLimiter::new(
                RateLimit::new().messages_per_second(1).bytes_per_second(1),
                ms(0),
            );
            // Fresh limiters: each step's charge shows in when it resumes.
            let verdict = limiter.record_received(got.consumed, got.event.as_ref(), ms(0));
            out.push(verdict);
            at += got.consumed;
            if got.event.is_none() {
                break;
            }
        }
        out
    };
    // Messages 1 s each, bytes 1 s each; the burst is 1 s: a step charging
    // n seconds resumes at n - 1 s.
    let resumes = |wire: &[u8]| {
        steps(wire)
            .into_iter()
            .map(|v| match v {
                RateVerdict::Within => 0,
                RateVerdict::Exceeded { resume_at } => resume_at.elapsed().as_secs(),
            })
            .collect::<std::vec::Vec<_>>()
    };
    // A Ping with 1 payload byte: 7 wire bytes (a message and 7 bytes).
    assert_eq!(resumes(b"\x89\x81\0\0\0\0p"), [6]);
    // An empty fragment (6 bytes, no message yet), then its last part.
    assert_eq!(resumes(b"\x01\x80\0\0\0\0\x80\x81\0\0\0\0x"), [5, 6]);
}

#[test]
fn transient_statuses_are_the_ones_a_retry_may_get_past() {
    let transient: std::vec::Vec<u16> = (100..600)
        .filter(|&s| Backoff::is_transient_status(s))
        .collect();
    assert_eq!(transient, [408, 429, 500, 502, 503, 504]);
}
