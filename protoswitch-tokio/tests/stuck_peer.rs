//! A peer that stops reading its socket (a zero window): it may not grow
//! the server's memory, nor keep a connection that ended, or that we
//! close, alive forever. Time is paused: the timers run at once.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protoswitch::ws::{CloseCause, Config, Keepalive, MIN_TRANSMIT_BUFFER};
use protoswitch_tokio::{Error, Message, Options, WebSocketStream};
use tokio::io::{AsyncWriteExt, DuplexStream};

mod support;
use support::{frame, next_within, plain, raw_pair_with};

/// A server over a pipe of 256 bytes and its raw client, which will not
/// read past the 101 unless a test says so.
async fn stuck_pair(options: Options) -> (WebSocketStream<DuplexStream>, DuplexStream) {
    let (server, raw) = raw_pair_with("", options, 256, |a| a).await;
    (server.await.unwrap().unwrap(), raw)
}

/// Queues a message of `len` bytes without waiting for it to be written
/// (the pipe takes 256 bytes of it).
async fn queue(server: &mut WebSocketStream<DuplexStream>, len: usize) {
    server.feed(Message::binary(vec![7u8; len])).await.unwrap();
    assert!(server.queued() > 0);
}

/// Pings sent by a peer that never reads fill the write queue up to the
/// write limit (and room for the frames owed), then are answered by at
/// most one Pong waiting at a time (RFC 6455 §5.5.3: the latest Ping's),
/// not by a queue that grows with every Ping.
#[tokio::test(start_paused = true)]
async fn a_ping_flood_from_a_peer_that_does_not_read_stays_bounded() {
    for limit in [1024, 64 * 1024] {
        let options = plain().write_buffer_limit(limit);
        let (server, mut raw) = raw_pair_with("", options, 4096, |a| a).await;
        let mut server = server.await.unwrap().unwrap();
        let ping = frame(0x89, &[0xA5; 125]);
        let pings = 20_000; // 2.6 MB of Pings
        let writer = async {
            for _ in 0..pings {
                raw.write_all(&ping).await.unwrap();
            }
        };
        let reader = tokio::time::timeout(Duration::from_secs(10), server.next());
        let ((), read) = tokio::join!(writer, reader);
        assert!(read.is_err(), "no message expected: {read:?}");
        let queued = server.queued();
        assert!(
            queued >= limit && queued <= limit + 4 * MIN_TRANSMIT_BUFFER,
            "{queued} bytes queued for {pings} Pings, limit {limit}"
        );
    }
}

/// The keepalive finds a peer that stopped reading dead, and the stream
/// ends then, though bytes are still queued for it.
#[tokio::test(start_paused = true)]
async fn the_keepalive_ends_a_connection_whose_peer_stopped_reading() {
    let config = Config::new().keepalive(Some(Keepalive::idle(
        Duration::from_secs(10),
        Duration::from_secs(5),
    )));
    let (mut server, _raw) = stuck_pair(plain().config(config)).await;
    queue(&mut server, 2000).await;
    let start = tokio::time::Instant::now();
    let end = next_within(
        &mut server,
        Duration::from_secs(600),
        "the stream never ended",
    )
    .await;
    assert!(
        matches!(end, Some(Err(Error::Closed(CloseCause::PeerUnresponsive)))),
        "{end:?}"
    );
    assert!(server.next().await.is_none());
    assert_eq!(start.elapsed(), Duration::from_secs(15));
}

/// Our Close behind bytes the peer does not read: the close timeout ends
/// the connection (`start_close`, then the stream; `close`, with a small
/// message or a large payload queued; `SinkExt::close`).
#[tokio::test(start_paused = true)]
async fn closing_ends_within_the_close_timeout_when_the_peer_stopped_reading() {
    let config = Config::new().close_timeout(Duration::from_secs(3));
    for (how, queued) in [
        ("start_close", 2000),
        ("close", 2000),
        ("close", 100_000),
        ("SinkExt::close", 100_000),
    ] {
        let (mut server, _raw) = stuck_pair(plain().config(config)).await;
        queue(&mut server, queued).await;
        let start = tokio::time::Instant::now();
        let ended = match how {
            "start_close" => {
                server.start_close(1000, "bye").unwrap();
                let end = next_within(
                    &mut server,
                    Duration::from_secs(600),
                    "the stream never ended",
                )
                .await;
                assert!(
                    matches!(end, Some(Err(Error::Closed(CloseCause::CloseTimedOut)))),
                    "{end:?}"
                );
                assert!(server.next().await.is_none());
                true
            }
            "close" => {
                let closed =
                    tokio::time::timeout(Duration::from_secs(600), server.close(1000, "bye"))
                        .await
                        .expect("close never returned");
                closed.is_err()
            }
            _ => {
                let closed =
                    tokio::time::timeout(Duration::from_secs(600), SinkExt::close(&mut server))
                        .await
                        .expect("close never returned");
                closed.is_err()
            }
        };
        assert!(ended, "{how} with {queued} bytes queued");
        assert_eq!(start.elapsed(), Duration::from_secs(3), "{how} {queued}");
        assert!(server.next().await.is_none(), "{how} {queued}");
    }
}

/// The peer closed, then stopped reading: our echo of its Close cannot go
/// out; the close timeout later the stream ends, saying why.
#[tokio::test(start_paused = true)]
async fn an_echo_the_peer_never_reads_is_given_up_after_the_close_timeout() {
    let config = Config::new().close_timeout(Duration::from_secs(3));
    let (mut server, mut raw) = stuck_pair(plain().config(config)).await;
    queue(&mut server, 2000).await;
    raw.write_all(&frame(0x88, b"\x03\xe8")).await.unwrap();
    let start = tokio::time::Instant::now();
    let end = next_within(
        &mut server,
        Duration::from_secs(600),
        "the stream never ended",
    )
    .await;
    match end {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut),
        other => panic!("{other:?}"),
    }
    assert!(server.next().await.is_none());
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(server.close_frame().and_then(|c| c.code), Some(1000));
}

/// A split writer's Close behind a large payload the peer does not read:
/// the Close waits in the channel, where the reader cannot see it, so the
/// writer also signals it; what is queued gets the close timeout, then the
/// reader ends, saying why, and the writer's `close` has returned.
#[tokio::test(start_paused = true)]
async fn a_split_writers_close_behind_a_large_payload_ends_within_the_close_timeout() {
    let config = Config::new().close_timeout(Duration::from_secs(3));
    // 8 small messages after the large one fill the channel: the writer's
    // `close` then also waits for the reader to take a message.
    for (how, small) in [("close", 0), ("SinkExt::close", 0), ("close", 8)] {
        let how = &format!("{how} behind {small} small messages");
        let (server, _raw) = stuck_pair(plain().config(config)).await;
        let (mut reader, mut writer) = server.split();
        writer
            .send(Message::binary(vec![7u8; 100_000]))
            .await
            .unwrap();
        for _ in 0..small {
            writer.send(Message::binary(vec![1u8; 10])).await.unwrap();
        }
        let start = tokio::time::Instant::now();
        let reading = tokio::time::timeout(Duration::from_secs(600), reader.next());
        let closing = async {
            let closed = match how.split(' ').next() {
                Some("close") => writer.close(1000, "bye").await,
                _ => SinkExt::close(&mut writer).await,
            };
            (closed, start.elapsed())
        };
        let (end, (closed, closed_at)) = tokio::join!(reading, closing);
        match end.expect("the reader never ended") {
            Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{how}"),
            other => panic!("{how}: {other:?}"),
        }
        assert_eq!(start.elapsed(), Duration::from_secs(3), "{how}");
        assert!(closed.is_ok(), "{how}: {closed:?}");
        assert_eq!(closed_at, Duration::ZERO, "{how}");
        assert!(reader.next().await.is_none(), "{how}");
        assert!(writer.is_closed(), "{how}");
    }
}

/// Once the writer's Close is queued, the machine's close timer runs, not
/// the deadline its signal set for the bytes before it: after 2 s (of the
/// close timeout's 3) the peer reads all but the last 256 bytes of the
/// large payload (which then fill the pipe), so the Close is queued behind
/// them, and stops reading again. The connection ends when the close
/// timer set at 2 s runs out, at 5 s, not at 3 s.
#[tokio::test(start_paused = true)]
async fn a_split_writers_close_once_queued_runs_the_close_timer() {
    use tokio::io::AsyncReadExt;
    let config = Config::new().close_timeout(Duration::from_secs(3));
    let (server, mut raw) = stuck_pair(plain().config(config)).await;
    let (mut reader, mut writer) = server.split();
    let large = 100_000;
    writer
        .send(Message::binary(vec![7u8; large]))
        .await
        .unwrap();
    let start = tokio::time::Instant::now();
    let reading = tokio::time::timeout(Duration::from_secs(600), reader.next());
    let peer = async {
        writer.close(1000, "bye").await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut frame = vec![0; 10 + large - 256];
        raw.read_exact(&mut frame).await.unwrap();
        assert_eq!(frame[..2], [0x82, 127]);
    };
    let (end, ()) = tokio::join!(reading, peer);
    let end = end.expect("the reader never ended");
    assert!(
        matches!(end, Some(Err(Error::Closed(CloseCause::CloseTimedOut)))),
        "{end:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}
