//! The long-lived-connection policies through the adapter: the idle
//! timeout (Close 1001) and the incoming rate limit (backpressure or
//! Close 1008), on paused tokio time with a raw client writing frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protoswitch_tokio::protoswitch::ws::{OnExceeded, RateLimit};
use protoswitch_tokio::{Error, Message, Options, WebSocketStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

mod support;
use support::frame;

type Ws = WebSocketStream<DuplexStream>;

/// A server through the adapter with `options` (no compression) and a raw
/// client past the handshake.
async fn raw_pair(options: Options) -> (Ws, DuplexStream) {
    let (server, raw) = support::raw_pair("", options.deflate(None)).await;
    (server.await.unwrap().unwrap(), raw)
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_closes_with_1001_after_the_last_data_not_after_pings() {
    let options = Options::new().idle_timeout(Some(Duration::from_secs(30)));
    let (mut server, mut raw) = raw_pair(options).await;
    let start = tokio::time::Instant::now();
    // Data at 20 s restarts the timer; a Ping at 40 s does not.
    tokio::time::sleep(Duration::from_secs(20)).await;
    raw.write_all(&frame(0x81, b"hi")).await.unwrap();
    assert_eq!(server.next().await.unwrap().unwrap(), Message::text("hi"));
    let client = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(20)).await;
        raw.write_all(&frame(0x89, b"p")).await.unwrap();
        let mut pong = [0u8; 3];
        raw.read_exact(&mut pong).await.unwrap();
        assert_eq!(&pong, b"\x8a\x01p");
        // The Close arrives at 50 s: 1001 "idle timeout".
        let mut close = [0u8; 16];
        raw.read_exact(&mut close).await.unwrap();
        assert_eq!(&close, b"\x88\x0e\x03\xe9idle timeout");
        let at = start.elapsed();
        raw.write_all(&frame(0x88, b"\x03\xe9")).await.unwrap();
        at
    });
    assert!(matches!(server.next().await, Some(Err(Error::IdleTimeout))));
    // Then the closing handshake completes cleanly.
    assert!(server.next().await.is_none());
    assert_eq!(client.await.unwrap(), Duration::from_secs(50));
}

#[tokio::test(start_paused = true)]
async fn sending_counts_as_activity() {
    let options = Options::new().idle_timeout(Some(Duration::from_secs(30)));
    let (mut server, mut raw) = raw_pair(options).await;
    let start = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(25)).await;
    server.send(Message::binary(vec![7])).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut data = [0u8; 3];
        raw.read_exact(&mut data).await.unwrap();
        assert_eq!(&data, b"\x82\x01\x07");
        let mut close = [0u8; 2];
        raw.read_exact(&mut close).await.unwrap();
        assert_eq!(close[0], 0x88);
        start.elapsed()
    });
    assert!(matches!(server.next().await, Some(Err(Error::IdleTimeout))));
    assert_eq!(reader.await.unwrap(), Duration::from_secs(55));
}

#[tokio::test(start_paused = true)]
async fn over_the_message_rate_reading_pauses_and_nothing_is_lost() {
    let limit = RateLimit::new().messages_per_second(10);
    let (mut server, mut raw) = raw_pair(Options::new().rate_limit(Some(limit))).await;
    // 25 messages at once: 10 are the burst, then one per 100 ms.
    let mut wire = Vec::new();
    for i in 0..25u8 {
        wire.extend(frame(0x82, &[i]));
    }
    raw.write_all(&wire).await.unwrap();
    let start = tokio::time::Instant::now();
    let mut times = Vec::new();
    for i in 0..25u8 {
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::binary(vec![i])
        );
        times.push(start.elapsed().as_millis());
    }
    // The eleventh message was already read when the limit was crossed;
    // the twelfth waits 100 ms, and then one every 100 ms.
    assert_eq!(&times[..11], &[0; 11]);
    assert_eq!(times[11], 100);
    assert_eq!(times[24], 1_400);
}

#[tokio::test(start_paused = true)]
async fn over_the_byte_rate_with_close_sends_1008() {
    let limit = RateLimit::new()
        .bytes_per_second(100)
        .on_exceeded(OnExceeded::Close);
    let (mut server, mut raw) = raw_pair(Options::new().rate_limit(Some(limit))).await;
    // 94 bytes on the wire each (6 of header): the first is within the
    // burst (100 bytes), the second is delivered (it arrived) and crosses
    // the limit: Close 1008, reported once.
    raw.write_all(&frame(0x82, &[1; 88])).await.unwrap();
    raw.write_all(&frame(0x82, &[2; 88])).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(vec![1; 88])
    );
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(vec![2; 88])
    );
    assert!(matches!(server.next().await, Some(Err(Error::RateLimited))));
    let mut close = [0u8; 23];
    raw.read_exact(&mut close).await.unwrap();
    assert_eq!(&close, b"\x88\x15\x03\xf0rate limit exceeded");
    raw.write_all(&frame(0x88, b"\x03\xf0")).await.unwrap();
    assert!(server.next().await.is_none());
}

/// Writes `wire` from a task that then keeps the pipe open, reading (and
/// dropping) everything the server writes.
fn write_and_drain(raw: DuplexStream, wire: Vec<u8>) {
    let (mut rd, mut wr) = tokio::io::split(raw);
    tokio::spawn(async move {
        let mut b = [0u8; 4096];
        while let Ok(n) = rd.read(&mut b).await {
            if n == 0 {
                break;
            }
        }
    });
    tokio::spawn(async move {
        wr.write_all(&wire).await.unwrap();
        std::future::pending::<()>().await;
        drop(wr);
    });
}

/// A masked client frame (zero key) with a 16-bit length.
fn frame_126(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first, 0x80 | 126];
    f.extend((payload.len() as u16).to_be_bytes());
    f.extend([0; 4]);
    f.extend(payload);
    f
}

#[tokio::test(start_paused = true)]
async fn pings_and_empty_fragments_are_charged_against_the_rate_limit() {
    // 2,000 Pings: each control frame counts as a message.
    let limit = RateLimit::new()
        .messages_per_second(1)
        .on_exceeded(OnExceeded::Close);
    let (mut server, raw) = raw_pair(Options::new().rate_limit(Some(limit))).await;
    let mut wire = Vec::new();
    for _ in 0..2_000 {
        wire.extend(frame(0x89, &[7; 125]));
    }
    wire.extend(frame(0x82, b"x"));
    write_and_drain(raw, wire);
    let next = tokio::time::timeout(Duration::from_secs(10), server.next()).await;
    assert!(
        matches!(next, Ok(Some(Err(Error::RateLimited)))),
        "{next:?}"
    );
    // One message of 100,000 empty fragments (600 KB on the wire): the
    // bytes limit counts their headers.
    let limit = RateLimit::new()
        .bytes_per_second(100)
        .on_exceeded(OnExceeded::Close);
    let (mut server, raw) = raw_pair(Options::new().rate_limit(Some(limit))).await;
    let mut wire = frame(0x02, b"");
    for _ in 0..100_000 {
        wire.extend(frame(0x00, b""));
    }
    wire.extend(frame(0x80, b"x"));
    write_and_drain(raw, wire);
    let next = tokio::time::timeout(Duration::from_secs(10), server.next()).await;
    assert!(
        matches!(next, Ok(Some(Err(Error::RateLimited)))),
        "{next:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_pause_is_not_idleness() {
    // 1,000 bytes at 100 B/s: reading pauses until about 9 s. Data the
    // peer sends at 1 s waits in the pipe; the idle timeout (5 s) does not
    // end the connection meanwhile.
    let options = Options::new()
        .rate_limit(Some(RateLimit::new().bytes_per_second(100)))
        .idle_timeout(Some(Duration::from_secs(5)));
    let (mut server, mut raw) = raw_pair(options).await;
    raw.write_all(&frame_126(0x82, &[1; 1000])).await.unwrap();
    assert_eq!(server.next().await.unwrap().unwrap().len(), 1000);
    let start = tokio::time::Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        raw.write_all(&frame(0x82, b"hi")).await.unwrap();
        std::future::pending::<()>().await;
        drop(raw);
    });
    let next = server.next().await;
    assert!(
        matches!(next, Some(Ok(ref m)) if m == &Message::binary(b"hi".to_vec())),
        "{next:?}"
    );
    assert!(
        start.elapsed() >= Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_rate_limit_pause_does_not_make_the_keepalive_kill_a_live_peer() {
    use protoswitch_tokio::protoswitch::ws::{Config, Keepalive};
    let keepalive = Keepalive::idle(Duration::from_secs(5), Duration::from_secs(5));
    let options = Options::new()
        .rate_limit(Some(RateLimit::new().bytes_per_second(100)))
        .config(Config::new().keepalive(Some(keepalive)));
    let (mut server, raw) = raw_pair(options).await;
    let (mut rd, mut wr) = tokio::io::split(raw);
    // 2,000 bytes: a 19 s pause; the peer answers every Ping at once.
    wr.write_all(&frame_126(0x82, &[1; 2000])).await.unwrap();
    assert_eq!(server.next().await.unwrap().unwrap().len(), 2000);
    let pongs = tokio::spawn(async move {
        let mut pings = 0;
        let mut h = [0u8; 2];
        while rd.read_exact(&mut h).await.is_ok() {
            let mut p = vec![0; usize::from(h[1] & 0x7f)];
            rd.read_exact(&mut p).await.unwrap();
            if h[0] == 0x89 {
                pings += 1;
                wr.write_all(&frame(0x8a, &p)).await.unwrap();
            }
        }
        pings
    });
    let next = tokio::time::timeout(Duration::from_secs(60), server.next()).await;
    assert!(next.is_err(), "{next:?}");
    drop(server);
    assert!(
        pongs.await.unwrap() >= 3,
        "the keepalive ran after the pause"
    );
}

#[tokio::test(start_paused = true)]
async fn our_close_ends_a_rate_limit_pause() {
    let options = Options::new().rate_limit(Some(RateLimit::new().bytes_per_second(100)));
    let (mut server, raw) = raw_pair(options).await;
    let (mut rd, mut wr) = tokio::io::split(raw);
    wr.write_all(&frame_126(0x82, &[1; 2000])).await.unwrap();
    assert_eq!(server.next().await.unwrap().unwrap().len(), 2000);
    // The peer echoes our Close at once; we read it, paused or not.
    tokio::spawn(async move {
        let mut h = [0u8; 2];
        rd.read_exact(&mut h).await.unwrap();
        let mut p = vec![0; usize::from(h[1] & 0x7f)];
        rd.read_exact(&mut p).await.unwrap();
        wr.write_all(&frame(0x88, &p)).await.unwrap();
        std::future::pending::<()>().await;
        drop(wr);
    });
    let start = tokio::time::Instant::now();
    let closed = server.close(1000, "bye").await;
    assert!(closed.is_ok(), "{closed:?}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}
