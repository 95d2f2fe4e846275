//! The peers, each driven the way its documentation shows, over the same
//! in-memory input: [`Pieces`] hands out the input `read_size` bytes per
//! read (the copy into the peer's own buffer is the simulated `recv`).
//!
//! * tungstenite: blocking `Read + Write` (`WebSocket::from_raw_socket`,
//!   `tungstenite::accept`, `tungstenite::client::client`); the end of the
//!   input reads as `WouldBlock`.
//! * tokio-websockets and fastwebsockets: `AsyncRead + AsyncWrite` on a
//!   current-thread runtime (the harness calls `block_on` once per round);
//!   the end of the input reads as EOF.
//! * embedded-websocket: Sans-IO, caller-owned buffers like ours; it
//!   copies (unmasking) each payload from the receive buffer into a second
//!   buffer, and does not check UTF-8, so its text output goes through the
//!   floor's streaming `simdutf8` validator (counted in its time).

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::floor::Utf8Stream;
use crate::inputs::{HOST, KEY, NONCE, PATH};
use crate::{Totals, refill};

/// An in-memory transport: reads hand out `input` in pieces (up to `split`
/// first, then `read_size` at a time); writes are appended to `written`.
pub struct Pieces<'a> {
    input: &'a [u8],
    pos: usize,
    read_size: usize,
    split: usize,
    /// With one frame in flight, where the current frame ends: reads stop
    /// there (`split + k * read_size`), so that a read given less room
    /// than the rest of a frame does not shift the later reads across
    /// frames. `None`: reads of up to `read_size` wherever they fall.
    frame_end: Option<usize>,
    /// What the implementation wrote (handshake responses/requests).
    pub written: Vec<u8>,
}

impl<'a> Pieces<'a> {
    /// `input` in reads of at most `read_size` bytes.
    pub fn new(input: &'a [u8], read_size: usize) -> Self {
        Pieces {
            input,
            pos: 0,
            read_size,
            split: 0,
            frame_end: None,
            written: Vec::with_capacity(1024),
        }
    }
    /// `input` in two reads: `..split` and `split..`.
    pub fn split(input: &'a [u8], split: usize) -> Self {
        Pieces {
            input,
            pos: 0,
            read_size: input.len(),
            split,
            frame_end: None,
            written: Vec::with_capacity(1024),
        }
    }
    /// `input` as a peer with one message in flight sends it: a first
    /// read of at most `first` bytes (say a request head), then frames of
    /// `frame_len` bytes, a read never reaching into the next frame (the
    /// peer sends it only after the echo).
    pub fn in_flight(input: &'a [u8], first: usize, frame_len: usize) -> Self {
        Pieces {
            input,
            pos: 0,
            read_size: frame_len,
            split: first,
            frame_end: Some(first + frame_len),
            written: Vec::with_capacity(1024),
        }
    }
    /// All of the input was handed out.
    pub fn done(&self) -> bool {
        self.pos == self.input.len()
    }
    #[inline]
    fn piece(&mut self, room: usize) -> &'a [u8] {
        let limit = if self.pos < self.split {
            self.split - self.pos
        } else if let Some(end) = &mut self.frame_end {
            if self.pos == *end {
                *end += self.read_size;
            }
            *end - self.pos
        } else {
            self.read_size
        };
        let n = limit.min(room).min(self.input.len() - self.pos);
        let piece = &self.input[self.pos..self.pos + n];
        self.pos += n;
        READS.with(|r| {
            let (count, bytes) = r.get();
            r.set((count + u64::from(n > 0), bytes + n as u64));
        });
        piece
    }
}

thread_local! {
    /// Reads that handed out bytes, and the bytes: how big the pieces a
    /// stream-based peer asks for really are (its buffer's free room can
    /// be less than the read size).
    static READS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// The (reads, bytes) counted since the last call, and a reset.
pub fn take_reads() -> (u64, u64) {
    READS.with(|r| r.replace((0, 0)))
}

impl Read for Pieces<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let piece = self.piece(out.len());
        out[..piece.len()].copy_from_slice(piece);
        Ok(piece.len())
    }
}

impl Write for Pieces<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.written.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Pieces<'_> {
    // Always inlined, as the compiler chose before `frame_end` made it
    // larger: out of line it added ~50 instructions to every server's
    // `echo_ir` figure per echo, and no figure compared with earlier runs.
    #[inline(always)]
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let piece = this.piece(buf.remaining());
        buf.put_slice(piece); // nothing at the end: EOF
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Pieces<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().written.extend_from_slice(b);
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------------
// tungstenite
// ---------------------------------------------------------------------

/// tungstenite
pub mod tungstenite_peer {
    use super::*;
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::{Error, Message};

    /// Reads messages until the input is exhausted.
    pub fn decode_all(input: &[u8], read_size: usize) -> Totals {
        let mut ws = WebSocket::from_raw_socket(Pieces::new(input, read_size), Role::Server, None);
        let mut t = Totals::default();
        loop {
            match ws.read() {
                Ok(Message::Text(s)) => {
                    t.bytes += s.len() as u64;
                    t.messages += 1;
                }
                Ok(Message::Binary(b)) => {
                    t.bytes += b.len() as u64;
                    t.messages += 1;
                }
                Ok(_) => {}
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(ws.get_ref().done());
                    return t;
                }
                Err(e) => panic!("tungstenite: {e}"),
            }
        }
    }

    /// `tungstenite::accept` over the request (in two reads when `split`
    /// is not 0); returns the length of the response it wrote.
    pub fn server_handshake(request: &[u8], split: usize) -> usize {
        let mut stream = match split {
            0 => Pieces::new(request, request.len()),
            s => Pieces::split(request, s),
        };
        let ws = tungstenite::accept(&mut stream).expect("tungstenite accept");
        drop(ws);
        stream.written.len()
    }

    /// The response of [`server_handshake`], for checking.
    pub fn server_response(request: &[u8]) -> Vec<u8> {
        let mut stream = Pieces::new(request, request.len());
        drop(tungstenite::accept(&mut stream).expect("tungstenite accept"));
        stream.written
    }

    /// `tungstenite::client::client` with a fixed key (an `http::Request`
    /// carrying `Sec-WebSocket-Key`), reading `response`.
    pub fn client_validate(response: &[u8]) -> usize {
        let request = tungstenite::http::Request::builder()
            .method("GET")
            .uri(format!("ws://{HOST}{PATH}"))
            .header("Host", HOST)
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", std::str::from_utf8(KEY).unwrap())
            .body(())
            .unwrap();
        let mut stream = Pieces::new(response, response.len());
        let (ws, _response) =
            tungstenite::client::client(request, &mut stream).expect("tungstenite client");
        drop(ws);
        stream.written.len() + response.len()
    }
}

// ---------------------------------------------------------------------
// tokio-websockets
// ---------------------------------------------------------------------

/// tokio-websockets
pub mod tokio_websockets_peer {
    use super::*;
    use tokio_websockets::{ClientBuilder, ServerBuilder};

    /// Reads messages until the input is exhausted (`serve`: no handshake).
    pub async fn decode_all(input: &[u8], read_size: usize) -> Totals {
        let mut ws = ServerBuilder::new().serve(Pieces::new(input, read_size));
        let mut t = Totals::default();
        loop {
            match poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut ws), cx)).await {
                Some(Ok(msg)) => {
                    if msg.is_text() || msg.is_binary() {
                        t.bytes += msg.as_payload().len() as u64;
                        t.messages += 1;
                    }
                }
                // The input ended without a Close: fine once all was read.
                Some(Err(e)) => {
                    assert!(ws.get_ref().done(), "tokio-websockets: {e}");
                    return t;
                }
                None => return t,
            }
        }
    }

    /// `ServerBuilder::accept` over the request; the response length.
    pub async fn server_handshake(request: &[u8], split: usize) -> usize {
        let mut stream = match split {
            0 => Pieces::new(request, request.len()),
            s => Pieces::split(request, s),
        };
        let (_req, ws) = ServerBuilder::new()
            .accept(&mut stream)
            .await
            .expect("tokio-websockets accept");
        drop(ws);
        stream.written.len()
    }

    /// The response of [`server_handshake`], for checking.
    pub async fn server_response(request: &[u8]) -> Vec<u8> {
        let mut stream = Pieces::new(request, request.len());
        let (_req, ws) = ServerBuilder::new()
            .accept(&mut stream)
            .await
            .expect("accept");
        drop(ws);
        stream.written
    }

    /// The key tokio-websockets sends after `fastrand::seed(seed)` (its
    /// key comes from fastrand's thread-local generator): found by one
    /// connect against a response that fails, reading the request.
    pub async fn key_for_seed(seed: u64) -> String {
        fastrand::seed(seed);
        let mut stream = Pieces::new(b"HTTP/1.1 400 Bad Request\r\n\r\n", 64);
        let builder = ClientBuilder::new()
            .uri(&format!("ws://{HOST}{PATH}"))
            .unwrap();
        let _ = builder.connect_on(&mut stream).await;
        let text = String::from_utf8(stream.written).unwrap();
        let line = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("sec-websocket-key:"))
            .expect("a key");
        line.split(':').nth(1).unwrap().trim().to_string()
    }

    /// `ClientBuilder::connect_on` with the key fixed by `fastrand::seed`,
    /// reading `response` (made for that key).
    pub async fn client_validate(seed: u64, response: &[u8]) -> usize {
        fastrand::seed(seed);
        let mut stream = Pieces::new(response, response.len());
        let builder = ClientBuilder::new()
            .uri(&format!("ws://{HOST}{PATH}"))
            .unwrap();
        let (ws, _res) = builder
            .connect_on(&mut stream)
            .await
            .expect("tokio-websockets connect");
        drop(ws);
        stream.written.len() + response.len()
    }
}

// ---------------------------------------------------------------------
// fastwebsockets
// ---------------------------------------------------------------------

/// fastwebsockets
pub mod fastwebsockets_peer {
    use super::*;
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket, WebSocketError};

    /// Why the handshake workloads are n/a.
    pub const NO_HANDSHAKE: &str = "fastwebsockets leaves HTTP to hyper (its `upgrade`/`handshake` \
        modules take hyper requests/connections); it has no request parser or 101 check of its own";

    /// Reads messages (`FragmentCollector`, which checks UTF-8 across
    /// fragments) until the input is exhausted.
    pub async fn decode_all(input: &[u8], read_size: usize) -> Totals {
        let ws = WebSocket::after_handshake(Pieces::new(input, read_size), Role::Server);
        let mut ws = FragmentCollector::new(ws);
        let mut t = Totals::default();
        loop {
            match ws.read_frame().await {
                Ok(frame) => {
                    if matches!(frame.opcode, OpCode::Text | OpCode::Binary) {
                        t.bytes += frame.payload.len() as u64;
                        t.messages += 1;
                    }
                }
                Err(WebSocketError::UnexpectedEOF) => return t,
                Err(e) => panic!("fastwebsockets: {e}"),
            }
        }
    }
}

// ---------------------------------------------------------------------
// embedded-websocket
// ---------------------------------------------------------------------

/// embedded-websocket
pub mod embedded_peer {
    use super::*;
    use embedded_websocket::{
        Error, WebSocketClient, WebSocketOptions, WebSocketReceiveMessageType, WebSocketServer,
        WebSocketState,
    };

    /// Why the fragmented workload is n/a.
    pub const NO_SPLIT_FRAGMENTS: &str = "embedded-websocket 0.9.5 rejects a message whose last \
        fragment is split between two reads (UnexpectedContinuationFrame: read_frame clears the \
        message's opcode before read() maps the continuation frame)";

    /// Decodes all of `input`, fed like ours into `buf` at `offset`; each
    /// payload is unmasked into `to` (its design: two buffers).
    pub fn decode_all(
        input: &[u8],
        read_size: usize,
        offset: usize,
        buf: &mut [u8],
        to: &mut [u8],
    ) -> Totals {
        let mut ws = WebSocketServer::new_server();
        ws.state = WebSocketState::Open; // after the handshake
        let mut t = Totals::default();
        let mut utf8 = Utf8Stream::default();
        let (mut start, mut end, mut pos) = (offset, offset, 0);
        loop {
            (start, end) = refill(buf, offset, start, end, input, &mut pos, read_size);
            loop {
                match ws.read(&buf[start..end], to) {
                    Ok(r) => {
                        if r.len_from == 0 {
                            break;
                        }
                        start += r.len_from;
                        let payload = &to[..r.len_to];
                        match r.message_type {
                            WebSocketReceiveMessageType::Text => {
                                assert!(utf8.feed(payload), "invalid UTF-8");
                                if r.end_of_message {
                                    assert!(utf8.finish(), "text ends inside a character");
                                }
                            }
                            WebSocketReceiveMessageType::Binary => {}
                            _ => continue,
                        }
                        std::hint::black_box(payload);
                        t.bytes += r.len_to as u64;
                        t.messages += u64::from(r.end_of_message);
                    }
                    Err(Error::ReadFrameIncomplete) => break,
                    Err(e) => panic!("embedded-websocket: {e:?}"),
                }
            }
            if pos == input.len() {
                assert_eq!(start, end, "embedded-websocket left bytes");
                return t;
            }
        }
    }

    fn server_step(buf: &[u8], out: &mut [u8]) -> Option<usize> {
        let mut headers = [httparse::EMPTY_HEADER; 24];
        let mut req = httparse::Request::new(&mut headers);
        if req.parse(buf).expect("valid HTTP").is_partial() {
            return None;
        }
        let headers = req.headers.iter().map(|h| (h.name, h.value));
        let ctx = embedded_websocket::read_http_header(headers)
            .expect("valid headers")
            .expect("a WebSocket request");
        let mut ws = WebSocketServer::new_server();
        Some(
            ws.server_accept(&ctx.sec_websocket_key, None, out)
                .expect("server_accept"),
        )
    }

    /// Server handshake: the caller parses with httparse (as its docs
    /// show), then `read_http_header` and `server_accept`.
    pub fn server_handshake(request: &[u8], split: usize, buf: &mut [u8], out: &mut [u8]) -> usize {
        if split != 0 {
            buf[..split].copy_from_slice(&request[..split]);
            assert!(server_step(&buf[..split], out).is_none());
            buf[split..request.len()].copy_from_slice(&request[split..]);
        } else {
            buf[..request.len()].copy_from_slice(request);
        }
        server_step(&buf[..request.len()], out).expect("complete")
    }

    /// Deterministic "random" source: the RFC nonce, so the key is [`KEY`].
    pub struct NonceRng;

    impl rand_core::RngCore for NonceRng {
        fn next_u32(&mut self) -> u32 {
            u32::from_le_bytes(NONCE[..4].try_into().unwrap())
        }
        fn next_u64(&mut self) -> u64 {
            u64::from_le_bytes(NONCE[..8].try_into().unwrap())
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for (d, s) in dest.iter_mut().zip(NONCE.iter().cycle()) {
                *d = *s;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    /// Client: `client_connect` (request into `out`), then `client_accept`
    /// on the response copied into `buf`.
    pub fn client_validate(response: &[u8], buf: &mut [u8], out: &mut [u8]) -> usize {
        let mut ws = WebSocketClient::new_client(NonceRng);
        let options = WebSocketOptions {
            path: PATH,
            host: HOST,
            origin: "http://example.com",
            sub_protocols: None,
            additional_headers: None,
        };
        let (n, key) = ws.client_connect(&options, out).expect("client_connect");
        buf[..response.len()].copy_from_slice(response);
        let (len, _) = ws
            .client_accept(&key, &buf[..response.len()])
            .expect("client_accept");
        n + len
    }
}
