//! The adapter over `tokio::io::duplex`: both roles through the adapter,
//! or one side a raw peer writing frames by hand.

use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::{Sink, SinkExt, StreamExt};
use protoswitch_tokio::{
    Accepted, CloseCause, Config, Connect, Diagnosis, Error, Keepalive, Message, Options, Rejected,
    WebSocketStream, accept, accept_with, connect,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

mod support;
use support::{frame, next_within, plain, raw_pair, read_head};

type Ws = WebSocketStream<DuplexStream>;

/// A server and a client over a duplex pipe of `pipe` bytes.
async fn pair(pipe: usize, server: Options, client: Options) -> (Ws, Ws) {
    let (a, b) = duplex(pipe);
    let server = tokio::spawn(async move {
        accept_with(a, server, |req| {
            let chat = req
                .websocket()
                .ok()
                .flatten()
                .is_some_and(|o| o.offers_subprotocol("chat"));
            Ok(if chat {
                Accepted::new().subprotocol("chat")
            } else {
                Accepted::new()
            })
        })
        .await
    });
    let client = connect(
        b,
        Connect::new("test", "/")
            .subprotocol("chat")
            .options(client),
    )
    .await
    .unwrap();
    (server.await.unwrap().unwrap(), client)
}

/// Echoes until the stream ends.
fn echo(mut ws: Ws) -> tokio::task::JoinHandle<Ws> {
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            ws.send(m).await.unwrap();
        }
        ws
    })
}

#[tokio::test]
async fn echo_text_binary_and_one_mebibyte() {
    let (server, mut client) = pair(64 * 1024, plain(), plain()).await;
    assert_eq!(client.subprotocol(), Some("chat"));
    assert_eq!(client.deflate(), None);
    let server = echo(server);
    let big: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
    for m in [
        Message::text("hello"),
        Message::binary(vec![1, 2, 3]),
        Message::binary(big.clone()),
        Message::text("é".repeat(5000)),
    ] {
        client.send(m.clone()).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), m);
    }
    client.close(1000, "done").await.unwrap();
    let server = server.await.unwrap();
    assert_eq!(server.close_frame().unwrap().code, Some(1000));
    assert_eq!(server.close_frame().unwrap().reason, "done");
}

#[tokio::test]
async fn compression_is_negotiated_by_default_and_used() {
    let (server, mut client) = pair(64 * 1024, Options::new(), Options::new()).await;
    assert!(server.deflate().is_some());
    assert!(client.deflate().is_some());
    let server = echo(server);
    let text = "compress me please ".repeat(10_000);
    for _ in 0..3 {
        client.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::text(text.clone())
        );
    }
    client
        .send(Message::binary(vec![9; 300_000]))
        .await
        .unwrap();
    assert_eq!(
        client.next().await.unwrap().unwrap(),
        Message::binary(vec![9; 300_000])
    );
    client.close(1000, "").await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn compression_shrinks_what_goes_on_the_wire() {
    // A raw client offering permessage-deflate reads the server's frame.
    let (server, mut raw) = raw_pair(
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
        Options::new(),
    )
    .await;
    let mut server = server.await.unwrap().unwrap();
    assert!(server.deflate().is_some());
    server
        .send(Message::text("a".repeat(10_000)))
        .await
        .unwrap();
    let mut head = [0u8; 2];
    raw.read_exact(&mut head).await.unwrap();
    assert_eq!(head[0], 0xc1, "FIN + RSV1 + text");
    assert!(
        usize::from(head[1]) < 126,
        "10 000 bytes compressed into {}",
        head[1]
    );
}

#[tokio::test]
async fn fragmented_input_from_a_raw_peer() {
    let (server, mut raw) = raw_pair("", plain()).await;
    let mut server = server.await.unwrap().unwrap();
    let mut wire = frame(0x01, b"Hel");
    wire.extend(frame(0x89, b"p")); // a Ping between fragments
    wire.extend(frame(0x00, b"lo, "));
    wire.extend(frame(0x80, b"world"));
    // Byte by byte: every split point of every header.
    for b in wire {
        raw.write_all(&[b]).await.unwrap();
    }
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::text("Hello, world")
    );
    // The Pong went out in the meantime.
    let mut pong = [0u8; 3];
    raw.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"\x8a\x01p");
}

#[tokio::test]
async fn ping_answered_while_idle() {
    let (server, mut raw) = raw_pair("", plain()).await;
    let mut server = server.await.unwrap().unwrap();
    let task =
        tokio::spawn(async move { server.next().await.map(|r| r.map_err(|e| e.to_string())) });
    raw.write_all(&frame(0x89, b"are you there")).await.unwrap();
    let mut pong = [0u8; 15];
    raw.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"\x8a\x0dare you there");
    // The peer closes: the idle `next()` ends cleanly.
    raw.write_all(&frame(0x88, b"\x03\xe8")).await.unwrap();
    assert_eq!(task.await.unwrap(), None);
    let mut echo = [0u8; 4];
    raw.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"\x88\x02\x03\xe8");
}

#[tokio::test]
async fn clean_close_started_by_the_client() {
    let (mut server, mut client) = pair(4096, Options::new(), Options::new()).await;
    let (closed, end) = tokio::join!(client.close(4000, "client leaves"), server.next());
    closed.unwrap();
    assert!(end.is_none());
    let frame = server.close_frame().unwrap();
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (Some(4000), "client leaves")
    );
    assert_eq!(
        server.close_cause(),
        Some(CloseCause::Handshake { code: Some(4000) })
    );
    assert!(matches!(
        server.send(Message::text("late")).await,
        Err(Error::AlreadyClosed)
    ));
}

#[tokio::test]
async fn clean_close_started_by_the_server() {
    let (mut server, mut client) = pair(4096, Options::new(), Options::new()).await;
    client.send(Message::text("before")).await.unwrap();
    server.start_close(1001, "going away").unwrap();
    let (end, _) = tokio::join!(
        async {
            // Messages sent before the Close are still read.
            let first = server.next().await.unwrap().unwrap();
            (first, server.next().await.is_none())
        },
        async { assert!(client.next().await.is_none()) },
    );
    assert_eq!(end, (Message::text("before"), true));
    let frame = client.close_frame().unwrap();
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (Some(1001), "going away")
    );
    assert_eq!(
        client.close_cause(),
        Some(CloseCause::Handshake { code: Some(1001) })
    );
}

/// A silent peer is pinged after the idle time (10 s) and found dead when
/// the Pong is not there in time (5 s later). Bytes that arrived once are
/// traffic once: a peer that sends part of a frame (a header's first byte;
/// with `whole_frames`, a header and part of the payload) and goes silent
/// is found dead alike, though the stream wakes up for its timers with
/// those bytes still waiting in the buffer.
#[tokio::test(start_paused = true)]
async fn keepalive_times_out_on_a_silent_peer() {
    for (whole_frames, part) in [
        (false, &b""[..]),
        (false, &b"\x82"[..]),
        (true, &b"\x82\x8a\0\0\0\0abcd"[..]),
    ] {
        let config = Config::new()
            .whole_frames(whole_frames)
            .keepalive(Some(Keepalive::idle(
                Duration::from_secs(10),
                Duration::from_secs(5),
            )));
        let (server, mut raw) = raw_pair("", plain().config(config)).await;
        let mut server = server.await.unwrap().unwrap();
        let start = tokio::time::Instant::now();
        raw.write_all(part).await.unwrap();
        let end = next_within(
            &mut server,
            Duration::from_secs(60),
            "never pinged, never found dead",
        )
        .await;
        assert!(
            matches!(end, Some(Err(Error::Closed(CloseCause::PeerUnresponsive)))),
            "{end:?}"
        );
        assert!(server.next().await.is_none());
        assert_eq!(start.elapsed().as_secs(), 15);
        // The keepalive Ping went out at 10 s.
        let mut ping = [0u8; 2];
        raw.read_exact(&mut ping).await.unwrap();
        assert_eq!(&ping, b"\x89\x00");
    }
}

/// A large message trickling in is traffic for an idle keepalive: every
/// byte the transport delivers reaches the machine, also while the stream
/// gathers a one-frame message to hand it out without a copy, so no Ping
/// goes out (and no Pong, stuck behind the frame, is waited for).
#[tokio::test(start_paused = true)]
async fn a_frame_trickling_in_keeps_an_idle_keepalive_quiet() {
    let config = Config::new().keepalive(Some(Keepalive::idle(
        Duration::from_secs(2),
        Duration::from_secs(1),
    )));
    let (server, mut raw) = raw_pair("", plain().config(config)).await;
    let mut server = server.await.unwrap().unwrap();
    // A 16 KiB binary frame (mask key 0): its header, then 1 KiB a second.
    let payload: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    let sent = payload.clone();
    let writer = tokio::spawn(async move {
        // The header with the first KiB (the frame's first part, kept in
        // place), then a KiB a second.
        let mut first = vec![0x82, 0x80 | 126, 0x40, 0x00, 0, 0, 0, 0];
        first.extend_from_slice(&sent[..1024]);
        raw.write_all(&first).await.unwrap();
        for piece in sent[1024..].chunks(1024) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            raw.write_all(piece).await.unwrap();
        }
        raw
    });
    let start = tokio::time::Instant::now();
    let message = server.next().await.unwrap().unwrap();
    assert_eq!(message.as_bytes(), &payload[..]);
    assert_eq!(start.elapsed().as_secs(), 15);
    let mut raw = writer.await.unwrap();
    // Nothing came back: no Ping.
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_millis(500), raw.read(&mut byte)).await;
    assert!(read.is_err(), "the server wrote {byte:?}");
}

#[tokio::test]
async fn a_slow_reader_makes_poll_ready_pend() {
    let limit = 8 * 1024;
    let (mut server, mut client) = pair(1024, plain().write_buffer_limit(limit), plain()).await;
    let message = Message::binary(vec![7; 1000]);
    let mut queued = 0;
    loop {
        let ready =
            std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut server).poll_ready(cx))).await;
        match ready {
            Poll::Ready(r) => r.unwrap(),
            Poll::Pending => break,
        }
        Pin::new(&mut server).start_send(message.clone()).unwrap();
        queued += 1;
        assert!(queued < 100, "poll_ready never pended");
    }
    // Bounded: at most the limit plus one message waits; the pipe holds
    // 1 KiB, so about ten messages were taken.
    assert!(server.queued() <= limit + 1002, "{}", server.queued());
    assert!((8..=12).contains(&queued), "{queued}");
    // The reader catches up: the writer goes on.
    let reader = tokio::spawn(async move {
        for _ in 0..queued {
            assert_eq!(
                client.next().await.unwrap().unwrap(),
                Message::binary(vec![7; 1000])
            );
        }
        client
    });
    server.flush().await.unwrap();
    assert_eq!(server.queued(), 0);
    reader.await.unwrap();
}

/// A declined response whose body is cut short by the end of the stream is
/// still the server's refusal: its status, with the body that came.
#[tokio::test]
async fn a_declined_response_cut_short_is_still_declined() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut a, b) = duplex(4096);
    let server = tokio::spawn(async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(a.read_u8().await.unwrap());
        }
        a.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nhello")
            .await
            .unwrap();
    });
    let err = connect(b, Connect::new("test", "/")).await.unwrap_err();
    match &err {
        Error::Declined { status, body, .. } => {
            assert_eq!(*status, 503);
            assert_eq!(body, b"hello");
        }
        other => panic!("{other:?}"),
    }
    server.await.unwrap();
}

#[tokio::test]
async fn a_401_with_its_body_is_seen_by_connect() {
    let (a, b) = duplex(4096);
    let server = tokio::spawn(accept(a, |req| match req.headers().get("Authorization") {
        Some(b"Bearer good") => Ok(Accepted::new()),
        _ => Err(Rejected::new(401)
            .header("WWW-Authenticate", "Bearer")
            .body("a token is required\n")),
    }));
    let err = connect(
        b,
        Connect::new("test", "/").header("Authorization", "Bearer bad"),
    )
    .await
    .unwrap_err();
    match &err {
        Error::Declined {
            status,
            diagnosis,
            body,
        } => {
            assert_eq!(*status, 401);
            assert_eq!(*diagnosis, Diagnosis::NotAuthorized);
            assert_eq!(body, b"a token is required\n");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("401"), "{err}");
    assert!(matches!(
        server.await.unwrap(),
        Err(Error::Rejected { status: 401 })
    ));
}

#[tokio::test]
async fn a_request_without_upgrade_gets_426() {
    let (a, mut raw) = duplex(4096);
    let server = tokio::spawn(accept(a, |_| Ok(Accepted::new())));
    raw.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut raw).await;
    assert!(head.starts_with("HTTP/1.1 426"), "{head}");
    assert!(matches!(
        server.await.unwrap(),
        Err(Error::Rejected { status: 426 })
    ));
}

#[tokio::test(start_paused = true)]
async fn dropping_next_mid_message_loses_nothing() {
    let (server, mut raw) = raw_pair("", plain()).await;
    let mut server = server.await.unwrap().unwrap();
    // A first fragment, then half of the second frame's payload.
    raw.write_all(&frame(0x02, b"first half ")).await.unwrap();
    let second = frame(0x80, b"second half");
    raw.write_all(&second[..9]).await.unwrap();
    for _ in 0..3 {
        let cut = tokio::time::timeout(Duration::from_millis(50), server.next()).await;
        assert!(cut.is_err(), "no message yet");
    }
    raw.write_all(&second[9..]).await.unwrap();
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::binary(b"first half second half".to_vec())
    );
}

#[tokio::test]
async fn a_protocol_error_sends_its_close_and_ends_the_stream() {
    let (server, mut raw) = raw_pair("", plain()).await;
    let mut server = server.await.unwrap().unwrap();
    // An unmasked frame from a client (RFC 6455 §5.1): 1002.
    raw.write_all(b"\x81\x02hi").await.unwrap();
    assert!(matches!(server.next().await, Some(Err(Error::Protocol(_)))));
    assert!(server.next().await.is_none());
    let mut close = [0u8; 4];
    raw.read_exact(&mut close).await.unwrap();
    assert_eq!(close[0], 0x88);
    // The code, then the core's diagnosis as the reason.
    assert!(close[1] > 2);
    assert_eq!(&close[2..4], &1002u16.to_be_bytes());
}

#[tokio::test]
async fn over_tcp_on_loopback() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = accept(tcp, |_| Ok(Accepted::new())).await.unwrap();
        let mut ws = ws;
        while let Some(Ok(m)) = ws.next().await {
            ws.send(m).await.unwrap();
        }
    });
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut ws = connect(tcp, Connect::new("localhost", "/")).await.unwrap();
    for size in [0, 20, 1024, 16 * 1024, 1 << 20] {
        let m = Message::binary((0..size).map(|i| i as u8).collect::<Vec<u8>>());
        ws.send(m.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), m);
    }
    ws.close(1000, "").await.unwrap();
    server.await.unwrap();
}

/// A compressed message whose header, first deflate bytes and rest arrive
/// in three reads: the client takes the deflate bytes, which inflate to
/// nothing yet, for what they are (payload), not for a frame header to
/// keep, and the message arrives whole.
#[tokio::test(start_paused = true)]
async fn a_compressed_message_in_three_reads_reaches_the_client() {
    let (a, mut raw) = duplex(4096);
    let client = tokio::spawn(connect(a, Connect::new("test", "/")));
    let head = read_head(&mut raw).await;
    let key = head
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .expect("a key");
    let accept = protoswitch::upgrade::accept_key(key.trim().as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        std::str::from_utf8(&accept).unwrap()
    );
    raw.write_all(response.as_bytes()).await.unwrap();
    let mut ws = client.await.unwrap().unwrap();
    assert!(ws.deflate().is_some(), "permessage-deflate agreed");
    // FIN, RSV1, text, 10 bytes: a stored deflate block of "hello"
    // (BFINAL, LEN 5, NLEN), the final 4 bytes of RFC 7692 §7.2.1 left out
    // as the sender does. The block's first two bytes alone inflate to
    // nothing.
    let pieces: [&[u8]; 3] = [b"\xc1\x0a", b"\x81\x05", b"\x00\xfa\xffhello"];
    let writer = async {
        for piece in pieces {
            raw.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let (received, ()) = tokio::join!(ws.next(), writer);
    assert_eq!(received.unwrap().unwrap(), Message::text("hello"));
}
