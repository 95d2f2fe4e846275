//! The adapter end to end over loopback TCP: both roles, one thread each.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use protoswitch::Header;
use protoswitch::upgrade::{Accept, ClientRequest, Diagnosis, Response};
use protoswitch::ws::{self, Keepalive, Message};
use protoswitch_blocking::{Config, Decision, Error, WebSocket};

/// A listener on an ephemeral port and its address as `Host`.
fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    (listener, host)
}

/// A server that echoes every message until the closing handshake.
fn echo_server(listener: TcpListener, config: Config) -> JoinHandle<Result<(), Error>> {
    thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        let mut ws = protoswitch_blocking::accept_with(stream, &config, |_| Decision::accept())?;
        loop {
            match ws.read() {
                Ok(m) => ws.send(m)?,
                Err(e) if e.is_closed() => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    })
}

fn client(host: &str, config: &Config) -> WebSocket<TcpStream> {
    let request = ClientRequest::new("GET", "/", host, &["websocket"]);
    let stream = TcpStream::connect(host).unwrap();
    protoswitch_blocking::connect_with(stream, &request, config).unwrap()
}

fn close_cleanly(mut ws: WebSocket<TcpStream>) {
    ws.close(1000, "done").unwrap();
    match ws.read() {
        Err(Error::Closed { code, .. }) => assert_eq!(code, Some(1000)),
        other => panic!("{other:?}"),
    }
}

fn round_trip(config: Config) {
    let (listener, host) = listen();
    let server = echo_server(listener, config);
    let mut ws = client(&host, &config);
    assert_eq!(ws.deflate().is_some(), config.deflate.is_some());
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let messages = [
        Message::Text("hello".into()),
        Message::Binary(vec![0, 1, 2, 255]),
        Message::Text(String::new()),
        Message::Binary(big),
        Message::Text("é".repeat(70_000)),
    ];
    for m in messages {
        ws.send(m.clone()).unwrap();
        assert_eq!(ws.read().unwrap(), m);
    }
    close_cleanly(ws);
    server.join().unwrap().unwrap();
}

#[test]
fn round_trip_text_binary_and_1_mib() {
    round_trip(Config::new().deflate(None));
}

#[test]
fn compression_negotiated_and_used() {
    round_trip(Config::new());
}

#[test]
fn compression_can_be_declined_per_connection() {
    let (listener, host) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let ws =
            protoswitch_blocking::accept(stream, |_| Decision::accept().without_deflate()).unwrap();
        ws.deflate()
    });
    let ws = client(&host, &Config::new());
    assert_eq!(ws.deflate(), None);
    assert_eq!(server.join().unwrap(), None);
}

#[test]
fn fragmented_message_from_the_peer() {
    let (listener, host) = listen();
    let server = echo_server(listener, Config::new());
    let mut ws = client(&host, &Config::new().deflate(None));
    // "Hel" + "lo" as two masked frames (key 0), written past the adapter.
    ws.get_mut()
        .write_all(b"\x01\x83\0\0\0\0Hel\x80\x82\0\0\0\0lo")
        .unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("Hello".into()));
    close_cleanly(ws);
    server.join().unwrap().unwrap();
}

#[test]
fn subprotocol_choice() {
    let (listener, host) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let ws = protoswitch_blocking::accept(stream, |request| {
            let offer = request.websocket().unwrap().unwrap();
            let choice = ["v2.chat", "chat"]
                .into_iter()
                .find(|p| offer.offers_subprotocol(p));
            match choice {
                Some(p) => Decision::accept().subprotocol(p),
                None => Decision::accept(),
            }
        })
        .unwrap();
        ws.subprotocol().map(String::from)
    });
    let request =
        ClientRequest::new("GET", "/", &host, &["websocket"]).subprotocols(&["chat", "v2.chat"]);
    let ws = protoswitch_blocking::connect(TcpStream::connect(&host).unwrap(), &request).unwrap();
    assert_eq!(ws.subprotocol(), Some("v2.chat"));
    assert_eq!(server.join().unwrap().as_deref(), Some("v2.chat"));
}

#[test]
fn unauthorized_401_with_body_is_declined_with_the_body() {
    let (listener, host) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        const CHALLENGE: &[Header] = &[Header::new("WWW-Authenticate", b"Bearer")];
        match protoswitch_blocking::accept(stream, |_| {
            Decision::respond(
                Response::new(401)
                    .headers(CHALLENGE)
                    .body(b"token missing\n"),
            )
        }) {
            Err(Error::Responded { status, cause }) => (status, cause),
            other => panic!("{other:?}"),
        }
    });
    let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
    match protoswitch_blocking::connect(TcpStream::connect(&host).unwrap(), &request) {
        Err(Error::Declined {
            status,
            diagnosis,
            body,
        }) => {
            assert_eq!(status, 401);
            assert_eq!(diagnosis, Diagnosis::NotAuthorized);
            assert_eq!(body, b"token missing\n");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.join().unwrap(), (401, None));
}

/// Sends `request` raw to a server running `accept`; the response text and
/// the server's error.
fn raw_request(request: &[u8]) -> (String, Error) {
    let (listener, host) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        match protoswitch_blocking::accept(stream, |_| Decision::accept()) {
            Err(e) => e,
            Ok(_) => panic!("switched"),
        }
    });
    let mut stream = TcpStream::connect(&host).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    (answer, server.join().unwrap())
}

#[test]
fn wrong_version_is_answered_426() {
    let (answer, error) = raw_request(
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"), "{answer}");
    assert!(matches!(
        error,
        Error::Responded {
            status: 426,
            cause: Some(_)
        }
    ));
}

#[test]
fn malformed_request_is_answered_400() {
    let (answer, error) = raw_request(b"GET / HTTP/1.1\r\nHost h\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(matches!(
        error,
        Error::Responded {
            status: 400,
            cause: Some(_)
        }
    ));
}

#[test]
fn websocket_handshake_with_a_body_is_answered_400() {
    let (answer, error) = raw_request(
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Content-Length: 2\r\n\r\nhi",
    );
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(matches!(error, Error::Responded { status: 400, .. }));
}

#[test]
fn ping_is_answered() {
    let (listener, host) = listen();
    let server = echo_server(listener, Config::new());
    let mut ws = client(&host, &Config::new().deflate(None));
    // A masked Ping "hi" written past the adapter: the server's `read`
    // answers it with a Pong, which arrives before the echo.
    ws.get_mut().write_all(b"\x89\x82\0\0\0\0hi").unwrap();
    ws.get_mut().write_all(b"\x81\x82\0\0\0\0ok").unwrap();
    let mut got = Vec::new();
    while got.len() < 8 {
        let mut chunk = [0u8; 64];
        let n = ws.get_mut().read(&mut chunk).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(got, b"\x8a\x02hi\x81\x02ok");
    // And the adapter's own ping: the Pong is consumed by `read`.
    ws.ping(b"x").unwrap();
    ws.send_text("after").unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("after".into()));
    close_cleanly(ws);
    server.join().unwrap().unwrap();
}

#[test]
fn close_started_by_the_server() {
    let (listener, host) = listen();
    let server = thread::spawn(move || -> Result<Error, Error> {
        let (stream, _) = listener.accept()?;
        let mut ws = protoswitch_blocking::accept(stream, |_| Decision::accept())?;
        ws.send_text("last")?;
        ws.close(4000, "going")?;
        loop {
            if let Err(e) = ws.read() {
                return Ok(e);
            }
        }
    });
    let mut ws = client(&host, &Config::new());
    assert_eq!(ws.read().unwrap(), Message::Text("last".into()));
    match ws.read() {
        Err(Error::Closed { code, reason }) => {
            assert_eq!((code, reason.as_str()), (Some(4000), "going"))
        }
        other => panic!("{other:?}"),
    }
    // The end is reported again.
    assert!(ws.read().unwrap_err().is_closed());
    match server.join().unwrap().unwrap() {
        Error::Closed { code, .. } => assert_eq!(code, Some(4000)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn close_started_by_the_client() {
    let (listener, host) = listen();
    let server = thread::spawn(move || -> Result<Error, Error> {
        let (stream, _) = listener.accept()?;
        let mut ws = protoswitch_blocking::accept(stream, |_| Decision::accept())?;
        loop {
            if let Err(e) = ws.read() {
                return Ok(e);
            }
        }
    });
    let mut ws = client(&host, &Config::new());
    ws.close(4001, "client leaves").unwrap();
    assert!(ws.send_text("too late").is_err());
    // The peer's answer: the machine echoes the code, not the reason.
    match ws.read() {
        Err(Error::Closed { code, reason }) => {
            assert_eq!((code, reason.as_str()), (Some(4001), ""))
        }
        other => panic!("{other:?}"),
    }
    match server.join().unwrap().unwrap() {
        Error::Closed { code, reason } => {
            assert_eq!((code, reason.as_str()), (Some(4001), "client leaves"))
        }
        other => panic!("{other:?}"),
    }
}

/// A server with an idle keepalive (Ping after 100 ms, Pong due within
/// 150 ms) reading until its connection ends: how, and after how long.
fn keepalive_server(listener: TcpListener) -> JoinHandle<(Error, Duration)> {
    let keepalive = Keepalive::idle(Duration::from_millis(100), Duration::from_millis(150));
    let config = Config::new().websocket(ws::Config::new().keepalive(Some(keepalive)));
    thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws =
            protoswitch_blocking::accept_with(stream, &config, |_| Decision::accept()).unwrap();
        let start = Instant::now();
        let end = ws.read().unwrap_err();
        (end, start.elapsed())
    })
}

#[test]
fn keepalive_detects_a_silent_peer() {
    let (listener, host) = listen();
    let server = keepalive_server(listener);
    // A client that never reads: the Pings go unanswered.
    let silent = client(&host, &Config::new());
    let (end, elapsed) = server.join().unwrap();
    assert!(matches!(end, Error::PeerUnresponsive), "{end:?}");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    drop(silent);
}

/// A peer that sent part of a frame (a header's first byte) and went
/// silent is pinged and found dead like a silent one: the byte waiting in
/// the buffer is traffic once, not again after every read timeout.
#[test]
fn keepalive_detects_a_peer_silent_after_part_of_a_frame() {
    let (listener, host) = listen();
    let server = keepalive_server(listener);
    let mut silent = client(&host, &Config::new());
    silent.get_mut().write_all(b"\x82").unwrap();
    // Ends the test either way (after 5 s the server sees the transport
    // end, and fails the assertion below).
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        let _ = wait.recv_timeout(Duration::from_secs(5));
        drop(silent);
    });
    let (end, elapsed) = server.join().unwrap();
    done.send(()).unwrap();
    watchdog.join().unwrap();
    assert!(matches!(end, Error::PeerUnresponsive), "{end:?}");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn close_timeout_when_the_peer_never_answers() {
    let (listener, host) = listen();
    let config =
        Config::new().websocket(ws::Config::new().close_timeout(Duration::from_millis(200)));
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut ws =
            protoswitch_blocking::accept_with(stream, &config, |_| Decision::accept()).unwrap();
        ws.close(1001, "").unwrap();
        ws.read().unwrap_err()
    });
    let silent = client(&host, &Config::new());
    assert!(matches!(server.join().unwrap(), Error::CloseTimedOut));
    drop(silent);
}

#[test]
fn h2c_switch_with_leftover_bytes_on_both_sides() {
    let (listener, host) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut up = protoswitch_blocking::accept_raw(stream, &Config::new(), |request| {
            assert!(request.h2c().unwrap().is_some());
            Ok(Accept::new("h2c"))
        })
        .unwrap();
        assert_eq!(up.protocol, "h2c");
        // The body is read before the switch (RFC 7540 §3.2).
        assert_eq!(up.body, b"hello");
        // The client's preface came in the same write as its request.
        let mut preface = up.leftover.clone();
        while preface.len() < 24 {
            let mut b = [0u8; 64];
            let n = up.stream.read(&mut b).unwrap();
            assert!(n > 0);
            preface.extend_from_slice(&b[..n]);
        }
        assert_eq!(preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        up.stream.write_all(b"\0\0\0\x04\0\0\0\0\0").unwrap(); // SETTINGS
    });
    // The client side of the request by hand, to send the preface in the
    // same write.
    let mut stream = TcpStream::connect(&host).unwrap();
    stream
        .write_all(
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n\
              Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\nContent-Length: 5\r\n\r\nhello\
              PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        )
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(answer.ends_with(b"\r\n\r\n\0\0\0\x04\0\0\0\0\0"));
    server.join().unwrap();

    // The client: the server writes its 101 and the first frame at once.
    let (listener, host) = listen();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).unwrap();
        stream
            .write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n\
                  \0\0\0\x04\0\0\0\0\0",
            )
            .unwrap();
    });
    let request = ClientRequest::new("GET", "/", &host, &["h2c"]).h2c_settings(&[(3, 100)]);
    let up = protoswitch_blocking::connect_raw(
        TcpStream::connect(&host).unwrap(),
        &request,
        &Config::new(),
    )
    .unwrap();
    assert_eq!(up.protocol, "h2c");
    let mut rest = up.leftover;
    let mut stream = up.stream;
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"\0\0\0\x04\0\0\0\0\0");
    server.join().unwrap();
}

#[test]
fn custom_token_switch_both_sides() {
    let (listener, host) = listen();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut up = protoswitch_blocking::accept_raw(stream, &Config::new(), |request| {
            if request.offers("chat/2") {
                Ok(Accept::new("chat/2"))
            } else {
                Err(Response::upgrade_required(&["chat/2"]))
            }
        })
        .unwrap();
        assert!(up.body.is_empty());
        up.stream.write_all(b"welcome").unwrap();
        up.protocol
    });
    let request = ClientRequest::new("GET", "/", &host, &["chat/2"]);
    let stream = TcpStream::connect(&host).unwrap();
    let up = protoswitch_blocking::connect_raw(stream, &request, &Config::new()).unwrap();
    assert_eq!(up.protocol, "chat/2");
    let mut rest = up.leftover;
    let mut stream = up.stream;
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"welcome");
    assert_eq!(server.join().unwrap(), "chat/2");
}
