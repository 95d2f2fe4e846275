//! `protoswitch` without `std` and without an allocator: both sides of a
//! WebSocket handshake (RFC 6455 §1.2), using only fixed buffers on the
//! stack.
//!
//! This binary is the proof that the crate's core is `no_std`: it links no
//! `std` (a second `panic_impl` would clash with ours below) and defines no
//! global allocator (anything that allocates would fail to link; the
//! `alloc` crate is not even in the build, since protoswitch comes without
//! default features). It is also a usage example for embedded code:
//! replace `FakeSocket` with your UART, TCP stack or radio driver.
//!
//! Build and run (exit status 0 on success):
//!
//! ```text
//! cargo build --release --bin nostd-check && ./target/release/nostd-check; echo $?
//! ```
//!
//! Its sibling `nostd-deflate` (`src/bin/deflate.rs`, cargo feature
//! `deflate`) is the proof for permessage-deflate, the one feature that
//! needs an allocator: `no_std` too, with its own global allocator over a
//! static arena. Build it alone, `--features deflate --bin nostd-deflate`:
//! with the feature on, this binary would not link (by design).

#![no_std]
#![no_main]

use protoswitch::Instant;
use protoswitch::upgrade::{
    Accept, ClientEvent, ClientHandshake, ClientRequest, ClientState, Response, ServerEvent,
    ServerHandshake, ServerState,
};

/// The opening handshake of RFC 6455 §1.2, as a browser sends it.
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

/// The server's answer to it, followed by the first WebSocket frame (an
/// unmasked text frame "Hello"), which arrives in the same read.
const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\
\r\n\
\x81\x05Hello";

/// A stand-in for a transport: hands out `data` at most `chunk` bytes per
/// read, the way a small socket or serial buffer would.
struct FakeSocket {
    data: &'static [u8],
    pos: usize,
    chunk: usize,
}

impl FakeSocket {
    /// Copies the next bytes into `buf`; 0 means end of stream.
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = self.chunk.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

/// The server side: read a request in 16-byte pieces, accept the WebSocket
/// upgrade with the `chat` subprotocol, and check the 101 written.
fn server() -> bool {
    let mut socket = FakeSocket {
        data: REQUEST,
        pos: 0,
        chunk: 16,
    };
    // The machine itself is a plain value: no heap, a few hundred bytes.
    let mut server = ServerHandshake::new(Default::default());
    // Receive buffer: a request head must fit in it (a real server sizes it
    // to its `Limits::max_head_bytes`, or answers 431 when it is full).
    let mut rx = [0u8; 1024];
    let mut filled = 0;
    // Transmit buffer for the response.
    let mut tx = [0u8; 512];

    let written = loop {
        // 1. Read more bytes after those already buffered.
        let n = socket.read(&mut rx[filled..]);
        if n == 0 {
            return false; // end of stream before a complete request
        }
        filled += n;

        // 2. Hand the machine everything buffered. It consumes a prefix and
        //    returns at most one event that borrows `rx`.
        let got = match server.receive(&rx[..filled]) {
            Ok(got) => got,
            Err(_) => {
                // The peer broke a rule: the machine has queued the error
                // response (400, 431, ...). Send it, then close.
                let n = server.poll_transmit(&mut tx);
                let _ = &tx[..n]; // socket.write(&tx[..n]) in real code
                return false;
            }
        };
        let consumed = got.consumed;

        // 3. Act on the event while the borrowed request is alive.
        let decision = match got.event {
            // Head incomplete: keep the bytes and read more.
            None => None,
            Some(ServerEvent::Request(request)) => Some(match request.websocket() {
                // A valid WebSocket offer that includes our subprotocol.
                Ok(Some(offer)) if offer.offers_subprotocol("chat") => {
                    // Checked against the request, then written.
                    let accept = Accept::new("websocket").subprotocol("chat");
                    match request.switch(&accept) {
                        Ok(switch) => server.accept(&switch, &mut tx),
                        Err(e) => Err(e.into()),
                    }
                }
                // No WebSocket offer (or not one we like): 426.
                Ok(_) => server.respond(&Response::upgrade_required(&["websocket"]), &mut tx),
                // An unusable offer: the error names the response to send.
                Err(e) => server.respond(&Response::for_error(&e), &mut tx),
            }),
            // This request has no body, so no other event can come.
            Some(_) => return false,
        };

        // 4. Drop the consumed bytes (`got` and its borrow of `rx` are done).
        rx.copy_within(consumed..filled, 0);
        filled -= consumed;

        match decision {
            None => continue,
            // `Err` here is a local mistake or `BufferTooSmall { needed }`.
            Some(Ok(n)) => break n,
            Some(Err(_)) => return false,
        }
    };

    // What a real server writes to the socket before speaking WebSocket.
    // Anything left in `rx[..filled]` would be the client's first frames.
    let response = &tx[..written];
    response.starts_with(b"HTTP/1.1 101")
        && contains(
            response,
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
        )
        && contains(response, b"Sec-WebSocket-Protocol: chat\r\n")
        && server.state() == ServerState::Switched
        && filled == 0
}

/// The client side: write the request, then read a 101 whose read also
/// carries the first WebSocket frame.
fn client() -> bool {
    // 16 random bytes for Sec-WebSocket-Key; a device takes them from its
    // hardware RNG. These are RFC 6455's sample nonce.
    let request = ClientRequest::new("GET", "/chat", "server.example.com", &["websocket"])
        .websocket_key(*b"the sample nonce")
        .subprotocols(&["chat", "superchat"])
        .origin("http://example.com");
    let mut tx = [0u8; 512];
    // `now` starts the 100-continue timer (unused here: no body). Time is
    // whatever monotonic clock the device has, as an `Instant`.
    let (mut client, n) =
        match ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut tx) {
            Ok(started) => started,
            Err(_) => return false,
        };
    // tx[..n] goes to the socket.
    if !tx[..n].starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n")
        || !contains(&tx[..n], b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
    {
        return false;
    }

    // Pretend the whole response arrived in one read.
    let mut socket = FakeSocket {
        data: RESPONSE,
        pos: 0,
        chunk: usize::MAX,
    };
    let mut rx = [0u8; 512];
    let filled = socket.read(&mut rx);
    let got = match client.receive(&rx[..filled]) {
        Ok(got) => got,
        Err(_) => return false, // e.g. a wrong Sec-WebSocket-Accept
    };
    // What was negotiated comes with the event, borrowed from `rx`.
    let (switched, chat) = match got.event {
        Some(ClientEvent::Switched {
            response,
            negotiation,
        }) => (
            response.status() == 101,
            negotiation.subprotocol() == Some("chat"),
        ),
        _ => (false, false),
    };
    // Bytes after `consumed` already belong to WebSocket: hand them to the
    // frame decoder.
    let frames = &rx[got.consumed..filled];
    switched && chat && client.state() == ClientState::Switched && frames == b"\x81\x05Hello"
}

/// `true` when `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The C entry point: libc's start-up code calls it (we define no Rust
/// `main`, hence `#![no_main]`). Exit status 0 when both handshakes work.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    if server() && client() { 0 } else { 1 }
}

mod rt;
