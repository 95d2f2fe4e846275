//! The long-lived-connection policies through the blocking adapter: the
//! idle timeout (Close 1001), the incoming rate limit (backpressure or
//! Close 1008) and `connect_with_retry`, over loopback TCP with a raw
//! client writing frames; each case under a watchdog.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use protoswitch::Backoff;
use protoswitch::upgrade::ClientRequest;
use protoswitch::ws::{self, Keepalive, Message, OnExceeded, RateLimit};
use protoswitch_blocking::{Config, Decision, Error};

mod support;
use support::{client_frame, read_head, server_and_silent_client, within};

/// Reads one unmasked server frame with a payload under 126 bytes.
fn server_frame(peer: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    peer.read_exact(&mut head).unwrap();
    let mut payload = vec![0; usize::from(head[1] & 0x7f)];
    peer.read_exact(&mut payload).unwrap();
    (head[0], payload)
}

#[test]
fn the_idle_timeout_closes_with_1001_after_the_last_data_not_after_pings() {
    let config = Config::new()
        .deflate(None)
        .idle_timeout(Some(Duration::from_millis(400)));
    let (mut ws, mut peer) = server_and_silent_client(config);
    let start = Instant::now();
    // Data at 200 ms restarts the timer; a Ping at 400 ms does not.
    let client = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        peer.write_all(&client_frame(0x81, b"hi")).unwrap();
        thread::sleep(Duration::from_millis(200));
        peer.write_all(&client_frame(0x89, b"p")).unwrap();
        assert_eq!(server_frame(&mut peer), (0x8a, b"p".to_vec()));
        let (first, payload) = server_frame(&mut peer);
        let at = start.elapsed();
        assert_eq!(
            (first, payload.as_slice()),
            (0x88, &b"\x03\xe9idle timeout"[..])
        );
        peer.write_all(&client_frame(0x88, b"\x03\xe9")).unwrap();
        at
    });
    let (read, idle, end) = within(Duration::from_secs(10), move || {
        (ws.read(), ws.read(), ws.read())
    });
    assert_eq!(read.unwrap(), Message::Text("hi".into()));
    assert!(matches!(idle, Err(Error::IdleTimeout)), "{idle:?}");
    assert!(
        matches!(
            end,
            Err(Error::Closed {
                code: Some(1001),
                ..
            })
        ),
        "{end:?}"
    );
    let at = client.join().unwrap();
    assert!(
        at >= Duration::from_millis(600) && at < Duration::from_millis(1_500),
        "{at:?}"
    );
}

#[test]
fn sending_counts_as_activity_for_the_idle_timeout() {
    let config = Config::new()
        .deflate(None)
        .idle_timeout(Some(Duration::from_millis(400)));
    let (mut ws, mut peer) = server_and_silent_client(config);
    let start = Instant::now();
    let (sent, idle) = within(Duration::from_secs(10), move || {
        thread::sleep(Duration::from_millis(300));
        let sent = ws.send_binary(&[7]);
        (sent, ws.read())
    });
    sent.unwrap();
    assert!(matches!(idle, Err(Error::IdleTimeout)), "{idle:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(700),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server_frame(&mut peer), (0x82, vec![7]));
    assert_eq!(server_frame(&mut peer).0, 0x88);
}

#[test]
fn over_the_message_rate_reading_pauses_and_nothing_is_lost() {
    let limit = RateLimit::new().messages_per_second(20);
    let config = Config::new().deflate(None).rate_limit(Some(limit));
    let (mut ws, mut peer) = server_and_silent_client(config);
    // 30 messages at once: 20 are the burst (the 21st is read when the
    // limit is crossed), then one per 50 ms.
    let wire: Vec<u8> = (0..30u8).flat_map(|i| client_frame(0x82, &[i])).collect();
    peer.write_all(&wire).unwrap();
    let times = within(Duration::from_secs(10), move || {
        let start = Instant::now();
        (0..30u8)
            .map(|i| {
                assert_eq!(ws.read().unwrap(), Message::Binary(vec![i]));
                start.elapsed()
            })
            .collect::<Vec<_>>()
    });
    assert!(times[20] < Duration::from_millis(40), "{times:?}");
    assert!(times[21] >= Duration::from_millis(45), "{times:?}");
    assert!(
        times[29] >= Duration::from_millis(440) && times[29] < Duration::from_millis(1_500),
        "{times:?}"
    );
}

#[test]
fn over_the_byte_rate_with_close_sends_1008_once() {
    let limit = RateLimit::new()
        .bytes_per_second(100)
        .on_exceeded(OnExceeded::Close);
    let config = Config::new().deflate(None).rate_limit(Some(limit));
    let (mut ws, mut peer) = server_and_silent_client(config);
    // 94 bytes on the wire each (6 of header): the first is within the
    // burst, the second arrives (it is delivered) and crosses the limit.
    peer.write_all(&client_frame(0x82, &[1; 88])).unwrap();
    peer.write_all(&client_frame(0x82, &[2; 88])).unwrap();
    let mut ws = within(Duration::from_secs(10), move || {
        assert_eq!(ws.read().unwrap(), Message::Binary(vec![1; 88]));
        assert_eq!(ws.read().unwrap(), Message::Binary(vec![2; 88]));
        let limited = ws.read();
        assert!(matches!(limited, Err(Error::RateLimited)), "{limited:?}");
        ws
    });
    assert_eq!(
        server_frame(&mut peer),
        (0x88, b"\x03\xf0rate limit exceeded".to_vec())
    );
    peer.write_all(&client_frame(0x88, b"\x03\xf0")).unwrap();
    let end = ws.read();
    assert!(
        matches!(
            end,
            Err(Error::Closed {
                code: Some(1008),
                ..
            })
        ),
        "{end:?}"
    );
    // Pings count too: 30 of them against 20 messages a second.
    let limit = RateLimit::new()
        .messages_per_second(20)
        .on_exceeded(OnExceeded::Close);
    let config = Config::new().deflate(None).rate_limit(Some(limit));
    let (mut ws, mut peer) = server_and_silent_client(config);
    let wire: Vec<u8> = (0..30).flat_map(|_| client_frame(0x89, b"p")).collect();
    peer.write_all(&wire).unwrap();
    let limited = within(Duration::from_secs(10), move || ws.read());
    assert!(matches!(limited, Err(Error::RateLimited)), "{limited:?}");
}

#[test]
fn a_rate_limit_pause_does_not_end_a_live_peer_by_keepalive_or_idle_timeout() {
    // 1,000 bytes at 1,000 B/s after a 1 s burst: about a 1 s pause
    // after a 2,000-byte message; the keepalive (200 ms / 200 ms) and
    // the idle timeout (500 ms) do not end a peer that answers Pings and
    // sends its next message during the pause.
    let keepalive = Keepalive::idle(Duration::from_millis(200), Duration::from_millis(200));
    let config = Config::new()
        .deflate(None)
        .websocket(ws::Config::new().keepalive(Some(keepalive)))
        .idle_timeout(Some(Duration::from_millis(500)))
        .rate_limit(Some(RateLimit::new().bytes_per_second(1_000)));
    let (mut ws, mut peer) = server_and_silent_client(config);
    peer.write_all(&client_frame(0x82, &[1; 2_000])).unwrap();
    let mut writer = peer.try_clone().unwrap();
    let pongs = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        writer.write_all(&client_frame(0x82, b"next")).unwrap();
        let mut pings = 0;
        loop {
            let mut head = [0u8; 2];
            if peer.read_exact(&mut head).is_err() {
                return pings;
            }
            let mut payload = vec![0; usize::from(head[1] & 0x7f)];
            peer.read_exact(&mut payload).unwrap();
            match head[0] {
                0x89 => {
                    pings += 1;
                    writer.write_all(&client_frame(0x8a, &payload)).unwrap();
                }
                0x88 => {
                    writer.write_all(&client_frame(0x88, &payload)).unwrap();
                    return pings;
                }
                _ => {}
            }
        }
    });
    let (first, next, elapsed) = within(Duration::from_secs(10), move || {
        let first = ws.read();
        let start = Instant::now();
        let next = ws.read();
        let elapsed = start.elapsed();
        // Then the keepalive runs as usual for a while, and we close.
        thread::sleep(Duration::from_millis(300));
        ws.close(1000, "").unwrap();
        while ws.read().is_ok() {}
        (first, next, elapsed)
    });
    assert_eq!(first.unwrap(), Message::Binary(vec![1; 2_000]));
    assert_eq!(next.unwrap(), Message::Binary(b"next".to_vec()));
    assert!(
        elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    let _ = pongs.join().unwrap();
}

#[test]
fn connect_with_retry_retries_transient_failures_only() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    // Two 503s, a server that accepts and says nothing (the attempt's
    // read timeout gives it up), then the switch.
    let server = thread::spawn(move || {
        for n in 0..4 {
            let (mut stream, _) = listener.accept().unwrap();
            match n {
                0 | 1 => {
                    read_head(&mut stream);
                    stream
                        .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                        .unwrap();
                }
                // Held open, silent, while the next attempt is served.
                2 => {
                    thread::spawn(move || {
                        thread::sleep(Duration::from_secs(2));
                        drop(stream);
                    });
                }
                _ => {
                    let ws = protoswitch_blocking::accept(stream, |_| Decision::accept());
                    return ws.map(|_| ());
                }
            }
        }
        unreachable!()
    });
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let target = host.clone();
    let open = move || {
        counter.fetch_add(1, Ordering::SeqCst);
        let stream = TcpStream::connect(&target)?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(stream)
    };
    let backoff =
        Backoff::new(Duration::from_millis(10), Duration::from_millis(100)).max_attempts(Some(6));
    let ws = within(Duration::from_secs(10), move || {
        let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
        protoswitch_blocking::connect_with_retry(open, &request, &Config::new(), backoff)
            .map(|_| ())
    });
    assert!(ws.is_ok(), "{:?}", ws.err());
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
    server.join().unwrap().unwrap();

    // A 401 is not retried.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let no = protoswitch::upgrade::Response::new(401);
        let _ = protoswitch_blocking::accept(stream, |_| Decision::respond(no));
    });
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let target = host.clone();
    let open = move || {
        counter.fetch_add(1, Ordering::SeqCst);
        TcpStream::connect(&target)
    };
    let backoff =
        Backoff::new(Duration::from_millis(10), Duration::from_millis(100)).max_attempts(Some(6));
    let refused = within(Duration::from_secs(10), move || {
        let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
        protoswitch_blocking::connect_with_retry(open, &request, &Config::new(), backoff)
            .map(|_| ())
    });
    assert!(
        matches!(refused, Err(Error::Declined { status: 401, .. })),
        "{:?}",
        refused.err()
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    server.join().unwrap();
}

#[test]
fn a_rate_limit_pause_keeps_the_callers_own_read_timeout() {
    // 3,000 bytes at 1,000 B/s: a 2 s pause. The caller's 200 ms read
    // timeout still bounds each read (TimedOut), and the message sent
    // during the pause comes once it ends.
    let config = Config::new()
        .deflate(None)
        .rate_limit(Some(RateLimit::new().bytes_per_second(1_000)));
    let (mut ws, mut peer) = server_and_silent_client(config);
    peer.write_all(&client_frame(0x82, &[1; 3_000])).unwrap();
    peer.write_all(&client_frame(0x82, b"later")).unwrap();
    let (first, second, elapsed, rest) = within(Duration::from_secs(10), move || {
        let first = ws.read();
        ws.get_mut()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let start = Instant::now();
        let second = ws.read();
        let elapsed = start.elapsed();
        let rest = loop {
            match ws.read() {
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut => {}
                other => break other,
            }
        };
        (first, second, elapsed, rest)
    });
    assert_eq!(first.unwrap(), Message::Binary(vec![1; 3_000]));
    assert!(
        matches!(&second, Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::TimedOut),
        "{second:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(190) && elapsed < Duration::from_millis(600),
        "{elapsed:?}"
    );
    assert_eq!(rest.unwrap(), Message::Binary(b"later".to_vec()));
}
