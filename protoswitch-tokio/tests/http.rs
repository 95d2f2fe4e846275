//! The http integration behind a real hyper server on 127.0.0.1:0: raw
//! TCP clients reading the exact bytes, the adapter's own `connect` as a
//! client, and the same requests answered by `accept` for comparison.
#![cfg(feature = "http")]

use std::convert::Infallible;
use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use protoswitch_tokio::{
    Accepted, Connect, Error, Message, Options, Rejected, Request, accept, connect,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The servers' decision: `/auth` needs a token (401 with a body),
/// `/bad-choice` selects a subprotocol nobody offered, `chat` is selected
/// when offered.
fn decide(request: &Request<'_>) -> Result<Accepted, Rejected> {
    if request.target() == "/auth" && request.headers().get("Authorization").is_none() {
        return Err(Rejected::new(401)
            .header("WWW-Authenticate", "Bearer")
            .body("a token is required\n"));
    }
    if request.target() == "/bad-choice" {
        return Ok(Accepted::new().subprotocol("never-offered"));
    }
    let chat = request
        .websocket()
        .ok()
        .flatten()
        .is_some_and(|offer| offer.offers_subprotocol("chat"));
    Ok(if chat {
        Accepted::new().subprotocol("chat")
    } else {
        Accepted::new()
    })
}

async fn handle(
    mut request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (response, upgrade) = protoswitch_tokio::http::upgrade(&mut request, decide);
    if let Ok(upgrade) = upgrade {
        tokio::spawn(async move {
            let mut ws = upgrade
                .websocket()
                .await
                .expect("hyper hands the connection over");
            while let Some(Ok(message)) = ws.next().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok(response)
}

/// The same through `answer` and `Switched::into_stream`: hyper's upgraded
/// connection taken apart into the TCP stream and the bytes hyper read
/// past the head.
async fn handle_parts(
    mut request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (response, switched) = protoswitch_tokio::http::answer(
        request.method(),
        request.uri(),
        request.version(),
        request.headers(),
        Options::new(),
        decide,
    );
    if let Ok(switched) = switched {
        let on = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let upgraded = on.await.unwrap();
            let parts = upgraded.downcast::<TokioIo<TcpStream>>().unwrap();
            let tcp = parts.io.into_inner();
            let mut ws = switched.into_stream(tcp, &parts.read_buf).unwrap();
            while let Some(Ok(message)) = ws.next().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok(response)
}

/// A hyper server running [`handle`] for every connection.
async fn hyper_server() -> SocketAddr {
    serve_with(false).await
}

/// A hyper server running [`handle`], or [`handle_parts`].
async fn serve_with(parts: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let builder = http1::Builder::new().timer(TokioTimer::new()).clone();
            let io = TokioIo::new(tcp);
            if parts {
                let conn = builder.serve_connection(io, service_fn(handle_parts));
                tokio::spawn(conn.with_upgrades());
            } else {
                let conn = builder.serve_connection(io, service_fn(handle));
                tokio::spawn(conn.with_upgrades());
            }
        }
    });
    addr
}

/// The RFC 6455 §1.3 key and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn request(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A response read off the wire: status line, headers (names lowercased,
/// in order), body (by `Content-Length`).
#[derive(Debug, PartialEq, Eq)]
struct Wire {
    status_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Wire {
    fn status(&self) -> u16 {
        self.status_line[9..12].parse().unwrap()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// The headers both servers write (hyper adds `date`).
    fn comparable(&self) -> Vec<(String, String)> {
        let mut h: Vec<_> = self
            .headers
            .iter()
            .filter(|(n, _)| n != "date")
            .cloned()
            .collect();
        h.sort();
        h
    }
}

/// Reads a response head byte by byte (nothing past the head and its body
/// is consumed), then its body.
async fn read_response(io: &mut (impl AsyncRead + Unpin), raw: &mut Vec<u8>) -> Wire {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(io.read_u8().await.unwrap());
    }
    raw.extend_from_slice(&head);
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.to_ascii_lowercase(), v.trim().to_owned())
        })
        .collect();
    let len = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    io.read_exact(&mut body).await.unwrap();
    Wire {
        status_line,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

/// Sends `request` to the hyper server on a fresh connection.
async fn ask_hyper(addr: SocketAddr, request: &[u8]) -> (Wire, TcpStream) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let wire = read_response(&mut tcp, &mut Vec::new()).await;
    (wire, tcp)
}

/// Sends `request` to `accept` over a pipe.
async fn ask_accept(request: &[u8]) -> Wire {
    let (a, mut b) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move { accept(a, decide).await.map(|_| ()) });
    b.write_all(request).await.unwrap();
    let wire = read_response(&mut b, &mut Vec::new()).await;
    let _ = server.await.unwrap();
    wire
}

/// A masked client frame (mask key 1, 2, 3, 4).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [1u8, 2, 3, 4];
    let mut f = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

#[tokio::test]
async fn switches_with_the_accept_key_and_reads_bytes_hyper_read_past_the_head() {
    let addr = hyper_server().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    // The request and the first frame in one write: hyper reads the
    // frame with the head and must hand it over with the connection.
    let mut bytes = request("/", "").into_bytes();
    bytes.extend(client_frame(0x1, b"hi"));
    tcp.write_all(&bytes).await.unwrap();
    let mut raw = Vec::new();
    let wire = read_response(&mut tcp, &mut raw).await;
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        raw.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{raw}"
    );
    assert!(
        raw.contains(&format!("\r\nsec-websocket-accept: {ACCEPT}\r\n")),
        "{raw}"
    );
    assert!(raw.contains("\r\nupgrade: websocket\r\n"), "{raw}");
    assert!(raw.contains("\r\nconnection: Upgrade\r\n"), "{raw}");
    assert_eq!(wire.header("sec-websocket-extensions"), None);
    assert_eq!(wire.header("sec-websocket-protocol"), None);
    assert_eq!(wire.header("content-length"), None);
    assert_eq!(wire.header("transfer-encoding"), None);
    // The echo of the frame that came with the head, unmasked.
    let mut echo = [0u8; 4];
    tcp.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"\x81\x02hi");
    // Close 1000: echoed, then the server ends the connection.
    tcp.write_all(&client_frame(0x8, &[0x03, 0xe8]))
        .await
        .unwrap();
    let mut rest = Vec::new();
    tcp.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"\x88\x02\x03\xe8");
}

#[tokio::test]
async fn into_stream_takes_the_bytes_read_past_the_head() {
    let addr = serve_with(true).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    // Two frames with the head: both are in hyper's read buffer.
    let mut bytes = request("/", "").into_bytes();
    bytes.extend(client_frame(0x1, b"one"));
    bytes.extend(client_frame(0x2, b"two"));
    tcp.write_all(&bytes).await.unwrap();
    let wire = read_response(&mut tcp, &mut Vec::new()).await;
    assert_eq!(wire.status(), 101);
    assert_eq!(wire.header("sec-websocket-accept"), Some(ACCEPT));
    let mut echo = [0u8; 10];
    tcp.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"\x81\x03one\x82\x03two");
    tcp.write_all(&client_frame(0x8, &[0x03, 0xe8]))
        .await
        .unwrap();
    let mut rest = Vec::new();
    tcp.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"\x88\x02\x03\xe8");
}

#[tokio::test]
async fn an_http2_head_is_answered_as_the_core_answers_it() {
    // An HTTP/2 request (RFC 8441's extended CONNECT is not supported):
    // its head, written as HTTP/2.0, is not one the core switches.
    let request = hyper::Request::builder()
        .method("GET")
        .uri("/")
        .version(hyper::Version::HTTP_2)
        .header("Host", "a")
        .header("Upgrade", "websocket")
        .header("Connection", "Upgrade")
        .header("Sec-WebSocket-Key", KEY)
        .header("Sec-WebSocket-Version", "13")
        .body(())
        .unwrap();
    let (response, switched): (hyper::Response<Vec<u8>>, _) = protoswitch_tokio::http::answer(
        request.method(),
        request.uri(),
        request.version(),
        request.headers(),
        Options::new(),
        decide,
    );
    eprintln!(
        "DBG {response:?} {:?}",
        String::from_utf8_lossy(response.body())
    );
    assert!(switched.is_err());
}

#[tokio::test]
async fn adapter_client_echoes_with_compression_and_subprotocol() {
    let addr = hyper_server().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut ws = connect(tcp, Connect::new("a", "/chat").subprotocol("chat"))
        .await
        .unwrap();
    assert_eq!(ws.subprotocol(), Some("chat"));
    let agreed = ws.deflate().expect("permessage-deflate negotiated");
    assert!(!agreed.server_no_context_takeover);
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    for message in [
        Message::text("hello"),
        Message::binary(vec![0, 1, 2, 255]),
        Message::text("compress me ".repeat(20_000)),
        Message::binary(big),
    ] {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), message);
    }
    ws.close(1000, "bye").await.unwrap();
    assert_eq!(ws.close_frame().unwrap().code, Some(1000));
}

#[tokio::test]
async fn permessage_deflate_answer_on_the_wire() {
    let addr = hyper_server().await;
    let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let (wire, mut tcp) = ask_hyper(addr, request("/", offer).as_bytes()).await;
    assert_eq!(wire.status(), 101);
    assert_eq!(
        wire.header("sec-websocket-extensions"),
        Some("permessage-deflate")
    );
    // A compressed message from the client (RFC 7692 §7.2.3.1 "Hello",
    // RSV1 set) is echoed compressed.
    let hello = b"\xf2\x48\xcd\xc9\xc9\x07\x00";
    let mut frame = client_frame(0x1, hello);
    frame[0] |= 0x40;
    tcp.write_all(&frame).await.unwrap();
    let mut echo = [0u8; 9];
    tcp.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00");
}

#[tokio::test]
async fn version_8_gets_426_with_version_13() {
    let addr = hyper_server().await;
    let req = request("/", "").replace("Version: 13", "Version: 8");
    let (wire, _) = ask_hyper(addr, req.as_bytes()).await;
    assert_eq!(wire.status(), 426, "{wire:?}");
    assert_eq!(wire.header("sec-websocket-version"), Some("13"));
    assert_eq!(wire.header("upgrade"), Some("websocket"));
}

#[tokio::test]
async fn the_callbacks_401_with_its_body() {
    let addr = hyper_server().await;
    let (wire, _) = ask_hyper(addr, request("/auth", "").as_bytes()).await;
    assert_eq!(wire.status_line, "HTTP/1.1 401 Unauthorized");
    assert_eq!(wire.header("www-authenticate"), Some("Bearer"));
    assert_eq!(wire.header("content-length"), Some("20"));
    assert_eq!(wire.body, "a token is required\n");
    // The adapter's client sees the decline with the body.
    let tcp = TcpStream::connect(addr).await.unwrap();
    match connect(tcp, Connect::new("a", "/auth")).await {
        Err(Error::Declined { status, body, .. }) => {
            assert_eq!(status, 401);
            assert_eq!(body, b"a token is required\n");
        }
        other => panic!("expected a 401, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_key_gets_400_with_the_diagnosis() {
    let addr = hyper_server().await;
    let req = request("/", "").replace(&format!("Sec-WebSocket-Key: {KEY}\r\n"), "");
    let (wire, _) = ask_hyper(addr, req.as_bytes()).await;
    assert_eq!(wire.status(), 400, "{wire:?}");
    assert!(wire.body.contains("Sec-WebSocket-Key"), "{}", wire.body);
}

#[tokio::test]
async fn a_choice_the_request_does_not_allow_is_a_500() {
    let addr = hyper_server().await;
    let (wire, _) = ask_hyper(addr, request("/bad-choice", "").as_bytes()).await;
    assert_eq!(wire.status(), 500, "{wire:?}");
}

/// Every request gets the same status, headers and body from the hyper
/// integration as from `accept` on a socket.
#[tokio::test]
async fn the_same_answers_as_accept() {
    let addr = hyper_server().await;
    let key_line = format!("Sec-WebSocket-Key: {KEY}\r\n");
    let cases = [
        request("/", ""),
        request("/", "Sec-WebSocket-Protocol: chat, superchat\r\n"),
        request(
            "/",
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
        ),
        request("/", "").replace("Version: 13", "Version: 8"),
        request("/", "").replace(&key_line, ""),
        request("/", "").replace(KEY, "c2hvcnQ="),
        request("/", "").replace("GET", "POST"),
        request("/", "").replace("HTTP/1.1", "HTTP/1.0"),
        request("/", "").replace("Connection: Upgrade", "Connection: keep-alive"),
        request("/", "").replace("Upgrade: websocket", "Upgrade: h2c"),
        request("/auth", ""),
        request("/auth", "Authorization: Bearer x\r\n"),
    ];
    for case in cases {
        let (hyper, _) = ask_hyper(addr, case.as_bytes()).await;
        let ours = ask_accept(case.as_bytes()).await;
        assert_eq!(hyper.status(), ours.status(), "{case}");
        assert_eq!(hyper.comparable(), ours.comparable(), "{case}");
        assert_eq!(hyper.body, ours.body, "{case}");
    }
}

/// `Expect: 100-continue` on the upgrade request (no body): the core
/// writes `100 Continue` before the 101, and the handler's response must
/// be the 101 (hyper answers a handler's 1xx with a 500), then the echo.
#[tokio::test]
async fn an_expect_100_continue_request_still_switches() {
    let addr = hyper_server().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request("/", "Expect: 100-continue\r\n").as_bytes())
        .await
        .unwrap();
    let mut wire = read_response(&mut tcp, &mut Vec::new()).await;
    if wire.status() == 100 {
        // hyper's own interim response, if it sends one.
        wire = read_response(&mut tcp, &mut Vec::new()).await;
    }
    assert_eq!(wire.status(), 101, "{wire:?}");
    assert_eq!(wire.header("sec-websocket-accept"), Some(ACCEPT));
    tcp.write_all(&client_frame(0x1, b"hi")).await.unwrap();
    let mut echo = [0u8; 4];
    tcp.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"\x81\x02hi");
}
