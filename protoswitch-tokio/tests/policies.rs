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
    raw.write_all(&frame(0x82, &[1; 100])).await.unwrap();
    raw.write_all(&frame(0x82, &[2; 100])).await.unwrap();
    // The first within the burst; the second is delivered (it arrived)
    // and crosses the limit: Close 1008, reported once.
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(vec![1; 100])
    );
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(vec![2; 100])
    );
    assert!(matches!(server.next().await, Some(Err(Error::RateLimited))));
    let mut close = [0u8; 31];
    raw.read_exact(&mut close).await.unwrap();
    assert_eq!(&close, b"\x88\x1d\x03\xf0message rate limit exceeded");
    raw.write_all(&frame(0x88, b"\x03\xf0")).await.unwrap();
    assert!(server.next().await.is_none());
}
