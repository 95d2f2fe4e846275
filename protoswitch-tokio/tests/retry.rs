//! `connect_with_retry`: transient failures retried with the backoff's
//! delays (paused time), permanent ones returned at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use protoswitch_tokio::{
    Accepted, Backoff, Connect, Error, Options, Rejected, accept, connect_with_retry,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

/// A transport whose server end answers the handshake with `respond`
/// (a raw response head), or accepts when `respond` is `None`.
fn transport(respond: Option<&'static str>) -> DuplexStream {
    let (a, mut b) = duplex(64 * 1024);
    tokio::spawn(async move {
        match respond {
            None => {
                let _ws = accept(b, |_| Ok(Accepted::new())).await;
            }
            Some(head) => {
                let mut request = Vec::new();
                while !request.ends_with(b"\r\n\r\n") {
                    request.push(b.read_u8().await.unwrap());
                }
                b.write_all(head.as_bytes()).await.unwrap();
            }
        }
    });
    a
}

/// An `open` for `connect_with_retry` that gives each attempt its number
/// (from 0) to `attempt`, and the count of the attempts made.
fn counted<F, Fut>(attempt: F) -> (Arc<AtomicU32>, impl FnMut() -> Fut)
where
    F: Fn(u32) -> Fut,
{
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let open = move || attempt(counter.fetch_add(1, Ordering::SeqCst));
    (attempts, open)
}

const UNAVAILABLE: &str = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

#[tokio::test(start_paused = true)]
async fn refused_connections_and_503s_are_retried_with_the_backoff() {
    let (attempts, open) = counted(|n| async move {
        match n {
            0 | 1 => Err(std::io::ErrorKind::ConnectionRefused.into()),
            2 => Ok(transport(Some(UNAVAILABLE))),
            _ => Ok(transport(None)),
        }
    });
    // Three delays: within [0.5, 1] + [1, 2] + [2, 4] seconds.
    let waited = connects_at_the_fourth_attempt(open, Connect::new("test", "/"), &attempts).await;
    assert!(
        waited >= Duration::from_millis(3_500) && waited <= Duration::from_secs(7),
        "{waited:?}"
    );
}

/// Runs `connect_with_retry` (backoff from 1 s up to 60 s), asserts that it
/// connects at the fourth attempt, and returns the (paused) time it took.
async fn connects_at_the_fourth_attempt<F, Fut>(
    open: F,
    request: Connect,
    attempts: &AtomicU32,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = std::io::Result<DuplexStream>>,
{
    let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let start = tokio::time::Instant::now();
    let ws = connect_with_retry(open, request, backoff).await;
    assert!(ws.is_ok(), "{:?}", ws.err());
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_401_is_not_retried() {
    let (attempts, open) = counted(|_| {
        let (a, b) = duplex(64 * 1024);
        tokio::spawn(accept(b, |_| Err(Rejected::new(401).body("no"))));
        async move { Ok(a) }
    });
    let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let ws = connect_with_retry(open, Connect::new("test", "/"), backoff).await;
    assert!(matches!(ws, Err(Error::Declined { status: 401, .. })));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_last_error_is_returned_when_the_backoff_gives_up() {
    let (attempts, open) = counted(|_| async { Ok(transport(Some(UNAVAILABLE))) });
    let backoff =
        Backoff::new(Duration::from_secs(1), Duration::from_secs(60)).max_attempts(Some(2));
    let ws = connect_with_retry(open, Connect::new("test", "/"), backoff).await;
    assert!(matches!(ws, Err(Error::Declined { status: 503, .. })));
    // The first try and two retries.
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[test]
fn transient_errors() {
    let declined = |status| Error::Declined {
        status,
        diagnosis: protoswitch_tokio::Diagnosis::Other,
        body: Vec::new(),
    };
    for status in [408, 429, 500, 502, 503, 504] {
        assert!(declined(status).is_transient(), "{status}");
    }
    for status in [400, 401, 403, 404, 426, 501, 505] {
        assert!(!declined(status).is_transient(), "{status}");
    }
    assert!(Error::Io(std::io::ErrorKind::ConnectionReset.into()).is_transient());
    assert!(!Error::Rejected { status: 400 }.is_transient());
}

#[tokio::test(start_paused = true)]
async fn a_server_that_stays_silent_is_retried_after_the_handshake_timeout() {
    let (attempts, open) = counted(|n| async move {
        match n {
            // Accepts, reads nothing, says nothing.
            0 | 1 => {
                let (a, b) = duplex(64 * 1024);
                tokio::spawn(async move {
                    std::future::pending::<()>().await;
                    drop(b);
                });
                Ok(a)
            }
            // Never finishes opening.
            2 => std::future::pending().await,
            _ => Ok(transport(None)),
        }
    });
    let options = Options::new().handshake_timeout(Some(Duration::from_secs(5)));
    let request = Connect::new("test", "/").options(options);
    // Three attempts of 5 s, and three delays within [0.5, 1] + [1, 2] + [2, 4] s.
    let waited = connects_at_the_fourth_attempt(open, request, &attempts).await;
    assert!(
        waited >= Duration::from_millis(18_500) && waited <= Duration::from_secs(22),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn accept_gives_up_on_a_silent_client_after_the_handshake_timeout() {
    let (a, b) = duplex(64 * 1024);
    let start = tokio::time::Instant::now();
    let accepted = accept(a, |_| Ok(Accepted::new())).await;
    match accepted {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    drop(b);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_is_bounded_by_the_handshake_timeout_opening_included() {
    // 4 s to open, then a server silent for 4 s: 8 s against a 5 s bound.
    let (attempts, open) = counted(|n| async move {
        if n == 0 {
            tokio::time::sleep(Duration::from_secs(4)).await;
            let (a, b) = duplex(64 * 1024);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let _ws = accept(b, |_| Ok(Accepted::new())).await;
            });
            Ok(a)
        } else {
            Ok(transport(None))
        }
    });
    let options = Options::new().handshake_timeout(Some(Duration::from_secs(5)));
    let request = Connect::new("test", "/").options(options);
    let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let start = tokio::time::Instant::now();
    let ws = connect_with_retry(open, request, backoff).await;
    assert!(ws.is_ok(), "{:?}", ws.err());
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    // The first attempt given up at 5 s, a delay of at most 1 s.
    assert!(
        start.elapsed() <= Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
}
