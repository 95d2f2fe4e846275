//! What the loopback tests share: a watchdog, a server `WebSocket` with
//! the raw TCP stream of its client, the client's frames, a head read
//! byte by byte.
#![allow(dead_code)] // each test file uses its own part

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use protoswitch::upgrade::ClientRequest;
use protoswitch_blocking::{Config, Decision, Transport, WebSocket};

/// Runs `f` on a thread; fails if it takes more than `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still blocked after {limit:?}"))
}

/// A server `WebSocket` with `config` and the raw TCP stream of its
/// client, which reads nothing unless a test says so.
pub fn server_and_silent_client(config: Config) -> (WebSocket<TcpStream>, TcpStream) {
    server_over_and_silent_client(config, |stream| stream)
}

/// [`server_and_silent_client`], the server's stream wrapped by `wrap`.
pub fn server_over_and_silent_client<S: Read + Write + Transport>(
    config: Config,
    wrap: impl FnOnce(TcpStream) -> S,
) -> (WebSocket<S>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let client = thread::spawn(move || {
        let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
        let stream = TcpStream::connect(&host).unwrap();
        let config = Config::new().deflate(None);
        let ws = protoswitch_blocking::connect_with(stream, &request, &config).unwrap();
        let (stream, unread) = ws.into_inner();
        assert!(unread.is_empty());
        stream
    });
    let (stream, _) = listener.accept().unwrap();
    let ws =
        protoswitch_blocking::accept_with(wrap(stream), &config, |_| Decision::accept()).unwrap();
    (ws, client.join().unwrap())
}

/// A masked client frame (zero key): a 7-bit length under 126 bytes of
/// payload, a 16-bit one up to 64 KiB.
pub fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    match u8::try_from(payload.len()) {
        Ok(len) if len < 126 => f.push(0x80 | len),
        _ => {
            let len = u16::try_from(payload.len()).expect("a test frame under 64 KiB");
            f.push(0x80 | 126);
            f.extend(len.to_be_bytes());
        }
    }
    f.extend([0; 4]);
    f.extend_from_slice(payload);
    f
}

/// Reads an HTTP head byte by byte, through its empty line.
pub fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    head
}
