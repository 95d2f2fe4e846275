//! What the adapter's tests share: a raw client (bytes written by hand)
//! against a server through the adapter. Each test file uses part of it.
#![allow(dead_code)]

use futures_util::StreamExt;
use protoswitch_tokio::{Accepted, Error, Message, Options, WebSocketStream, accept_with};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, duplex};
use tokio::task::JoinHandle;

/// Options without permessage-deflate (frames stay readable by hand).
pub fn plain() -> Options {
    Options::new().deflate(None)
}

/// The request of a raw client (key from RFC 6455 §1.3), with `extra`
/// field lines.
pub fn request(extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Reads a response head, byte by byte (nothing after it is consumed).
pub async fn read_head(raw: &mut DuplexStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(raw.read_u8().await.unwrap());
    }
    String::from_utf8(head).unwrap()
}

/// A server through the adapter (its transport: one end of a pipe of
/// `pipe` bytes, as `wrap` makes it) and a raw client past the 101.
pub async fn raw_pair_with<S, W>(
    extra: &str,
    options: Options,
    pipe: usize,
    wrap: W,
) -> (JoinHandle<Result<WebSocketStream<S>, Error>>, DuplexStream)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    W: FnOnce(DuplexStream) -> S,
{
    let (a, mut raw) = duplex(pipe);
    let server = tokio::spawn(accept_with(wrap(a), options, |_| Ok(Accepted::new())));
    raw.write_all(request(extra).as_bytes()).await.unwrap();
    let head = read_head(&mut raw).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (server, raw)
}

/// [`raw_pair_with`] on the pipe itself, of 64 KiB.
pub async fn raw_pair(
    extra: &str,
    options: Options,
) -> (
    JoinHandle<Result<WebSocketStream<DuplexStream>, Error>>,
    DuplexStream,
) {
    raw_pair_with(extra, options, 64 * 1024, |a| a).await
}

/// A client frame with mask key 0 (the payload stays as is).
pub fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut f = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(payload);
    f
}

/// The stream's next item within `limit` (of paused time, in the tests
/// that end a connection by a timer); panics, saying `why`, if none came.
pub async fn next_within<S>(
    stream: &mut WebSocketStream<S>,
    limit: std::time::Duration,
    why: &str,
) -> Option<Result<Message, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(limit, stream.next()).await.expect(why)
}
