//! # protoswitch
//!
//! Sans-IO HTTP/1.1 protocol switching: the `Upgrade` handshake on both
//! sides, `Expect: 100-continue`, `101 Switching Protocols`,
//! `426 Upgrade Required` and declined upgrades, with the rules of
//! WebSocket (RFC 6455 §4), h2c (RFC 7540 §3.2) and any custom token.
//!
//! The crate owns no socket, thread, clock or random source. You hand it
//! bytes, time and entropy; it hands back events and bytes to write. The
//! core is `#![no_std]`, needs no allocator, and never panics on input.
//! permessage-deflate (RFC 7692, feature `deflate`, on by default) needs an
//! allocator but not `std`: [`upgrade::DeflateConfig`] negotiates it,
//! [`ws::Connection::with_deflate`] turns it on, and compressed messages
//! are received with [`ws::Connection::receive_into`], which inflates into
//! a buffer you pass.
//!
//! ## The I/O loop
//!
//! 1. Read bytes from your transport into a buffer.
//! 2. Call `receive(&buf[..filled])`. It consumes a prefix
//!    ([`Received::consumed`]) and returns at most one
//!    event borrowing the buffer. Handle the event, drop the consumed bytes,
//!    and call again until `event` is `None` (more bytes needed).
//! 3. Decisions (`accept`, `respond`, `continue_body`) and
//!    [`ClientHandshake::start`](upgrade::ClientHandshake::start) write
//!    their bytes into a buffer you pass; a buffer too small gets
//!    [`Error::BufferTooSmall`] with the size needed and nothing written.
//!    Replies the machine owes by itself (a server's 400/417/431 after bad
//!    input) come out of `poll_transmit(out)`: drain it until it returns 0
//!    after every call.
//! 4. Sleep until the earlier of "more bytes arrive" and `poll_timeout()`;
//!    at the deadline call `handle_timeout(now)`.
//! 5. When the transport ends, call `receive_eof()`.
//!
//! ## One contract per method name
//!
//! The three machines ([`upgrade::ServerHandshake`],
//! [`upgrade::ClientHandshake`], [`ws::Connection`]) share these shapes:
//!
//! | method | returns | meaning |
//! |---|---|---|
//! | `receive(buf[, now])` | `Result<Received<Event>, Error>` | consume a prefix, at most one event |
//! | `receive_eof()` | `Result<Option<Event<'static>>, Error>` | the transport ended: maybe a last event, maybe a peer error |
//! | `poll_transmit(out)` | `usize` | bytes the machine owes, as a byte stream into any buffer; 0 when none |
//! | `poll_timeout()` / `handle_timeout(now)` | `Option<Instant>` / `()` | the caller's clock drives the timers |
//! | `state()`, `config()`, `error()` | `Copy` views | where it is, how it is set up, why it failed |
//! | `switched_to()` (handshakes) | `Option<ProtocolKind>` | what a 101 switched to; what it agreed is the caller's `Switch` (server) or came with `Switched` (client) |
//!
//! [`relay::Relay`] sits between two connections and has each of these
//! per side, with the same shapes: `receive_downstream(buf)` /
//! `receive_upstream(buf)`, `receive_eof_downstream()` /
//! `receive_eof_upstream()`, `poll_transmit_downstream(out)` (the 4xx or
//! 502 it owes the client); the heads it forwards are written by its
//! events' `write(out)` into your buffer, like the handshakes' decisions.
//!
//! The machines copy nothing the caller holds: offers, outcomes and
//! requests stay borrowed, which keeps every machine small (a
//! `ws::Connection` is at most 256 bytes, each handshake at most 512).
//!
//! Constructors and calls take their arguments in one order: what the call
//! is about, then the configuration, then `now`, then the output buffer
//! (`ClientHandshake::start(&request, config, now, out)`,
//! `Connection::server(config, now)`, `send_close(code, reason, now, out)`).
//! Every error converts into [`Error`] with `?`.
//!
//! ## Time
//!
//! `now` is the caller's monotonic clock ([`Instant`], from
//! [`StdClock`] with `std` or any tick counter without). A `now` earlier
//! than one passed before is not an error and never panics: deadlines are
//! compared with `>=`, so nothing fires early, and a time that went back
//! never moves a deadline back. Timers only advance in `handle_timeout`.
//!
//! When a machine reaches `Switched`, the bytes it did not consume belong
//! to the new protocol: same rule for both roles. For WebSocket,
//! [`ws::Connection::from_server_handshake`] /
//! [`ws::Connection::from_client_handshake`] turn the handshake into the
//! connection, and those bytes are its first frames.
//!
//! ## Call order of a WebSocket connection
//!
//! ```text
//! loop {
//!     receive(&mut buf[start..end], now)   // unmasks in place; Data / Ping / Pong / Close
//!     poll_transmit(frame) until 0         // Pong, Close echo, keepalive Ping, error Close
//!     if should_close_transport() { close the socket; break }
//!     send_text / send_binary / send_fragment / send_header / send_close as the app wants
//!     wait for: bytes, or poll_timeout() → handle_timeout(now)
//! }
//! ```
//!
//! ```
//! use protoswitch::ws::{Connection, Config, Event, State};
//! use protoswitch::Instant;
//!
//! let mut conn = Connection::server(Config::default(), Instant::ZERO);
//! // A masked Close 1000 from the client (RFC 6455 §5.5.1).
//! let mut buf = *b"\x88\x82\x00\x00\x00\x00\x03\xe8";
//! let got = conn.receive(&mut buf, Instant::ZERO).unwrap();
//! assert!(matches!(got.event, Some(Event::Close { code: Some(1000), .. })));
//! // `poll_transmit` is a byte stream: any buffer size works.
//! let mut out = [0u8; 3];
//! let mut wire = Vec::new();
//! loop {
//!     let n = conn.poll_transmit(&mut out);
//!     if n == 0 { break; }
//!     wire.extend_from_slice(&out[..n]);
//! }
//! assert_eq!(wire, b"\x88\x02\x03\xe8"); // the echo
//! assert_eq!(conn.state(), State::Closed);
//! assert!(conn.should_close_transport()); // the server closes first
//! ```
//!
//! ## Server
//!
//! ```
//! use protoswitch::upgrade::{Accept, Response, ServerEvent, ServerHandshake};
//!
//! let mut server = ServerHandshake::new(Default::default());
//! let mut buf: Vec<u8> = b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n".to_vec();
//! let mut out = [0u8; 1024];
//! let got = server.receive(&buf).unwrap();
//! let written = match got.event {
//!     Some(ServerEvent::Request(req)) => match req.websocket() {
//!         Ok(Some(ws)) if ws.offers_subprotocol("chat") => {
//!             let switch = req.switch(&Accept::new("websocket").subprotocol("chat")).unwrap();
//!             server.accept(&switch, &mut out).unwrap()
//!         }
//!         Ok(_) => server.respond(&Response::upgrade_required(&["websocket"]), &mut out).unwrap(),
//!         Err(e) => server.respond(&Response::for_error(&e), &mut out).unwrap(),
//!     },
//!     _ => unreachable!(),
//! };
//! buf.drain(..got.consumed);
//! assert!(out[..written].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! // `buf` now holds only bytes of the new protocol (none here).
//! assert!(buf.is_empty());
//! ```
//!
//! ## Client
//!
//! ```
//! use protoswitch::upgrade::{ClientEvent, ClientHandshake, ClientRequest};
//! use protoswitch::Instant;
//!
//! let request = ClientRequest::new("GET", "/", "example.com", &["h2c"])
//!     .h2c_settings(&[(3, 100)]);
//! let mut out = [0u8; 512];
//! let (mut client, n) = ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut out).unwrap();
//! // ... write out[..n] to the socket, read the response:
//! let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
//! let got = client.receive(response).unwrap();
//! match got.event {
//!     Some(ClientEvent::Declined { response, diagnosis }) => {
//!         assert_eq!(response.status(), 200);
//!         // "...an intermediary removed the hop-by-hop Upgrade/Connection headers"
//!         assert!(diagnosis.to_string().contains("intermediary"));
//!     }
//!     _ => unreachable!(),
//! }
//! ```
//!
//! ## Layers
//!
//! * [`http1`]: head parsing (strict RFC 9112), writing,
//!   token lists, body framing.
//! * [`upgrade`]: the client and server machines, WebSocket and h2c rules.
//! * [`relay`]: the upgrade-aware relay of a reverse proxy, between a
//!   downstream and an upstream connection (RFC 9110 §7.6.1, RFC 9931).
//! * [`ws`]: after the switch: frames, masking, UTF-8, the connection
//!   machine, message assembly (`alloc`).
//! * [`error`], [`time`]: shared types.
//!
//! ## Features
//!
//! * `std` (default): `std::error::Error` impls and [`StdClock`].
//! * `alloc`: [`ws::MessageAssembler`] (owned messages); the core never
//!   allocates.
//! * `deflate` (default): permessage-deflate (needs `alloc`, not `std`).
//! * `getrandom`: `OsRandom`, mask keys and key nonces from the operating
//!   system.
//! * `request-body` (default): [`upgrade::ServerHandshake`] reads request
//!   bodies (`Content-Length`, chunked; [`upgrade::ServerEvent::Body`],
//!   `continue_body`). Without it a request that announces a body is
//!   refused with 413 and the connection closes
//!   ([`error::PeerErrorKind::RequestBodyUnsupported`]): enough for a
//!   WebSocket-only server, in 1.2 KiB less code on a Cortex-M. The body
//!   is left unread: shut the write side after the 413 and drain a little
//!   before closing, or the client may see a reset instead of the 413.
//! * `h2c` (default): [`upgrade::ServerHandshake`] recognises h2c offers
//!   (`HTTP2-Settings` checked) and can switch to h2c. Without it they are
//!   ignored like any protocol the server does not implement
//!   ([`upgrade::Request::h2c`] is `Ok(None)`, a switch to h2c is refused).
//! * `diagnostics` (default): [`PeerError::message`], a diagnosing
//!   sentence for every error, also the body of a server's error reply and
//!   the reason of a failing Close frame. Without it the message is empty
//!   (error replies have an empty body, Close frames carry only the code,
//!   `Display` shows the kind), with the same statuses and close codes:
//!   4.9 KiB less read-only data on a Cortex-M.

#![no_std]
// One module may use `unsafe`: ws::mask::simd, which calls the masking
// loop compiled for AVX2 after checking at run time that the CPU has it.
#![deny(unsafe_code)]
#![deny(missing_docs)]
// The crate docs link to items of the `std`/`alloc` features (StdClock,
// MessageAssembler, with_deflate); built without them, those links have no
// target and stay plain text.
#![cfg_attr(
    not(all(feature = "std", feature = "deflate")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod backoff;
mod buffer;
pub mod error;
pub mod http1;
#[cfg(feature = "getrandom")]
mod random;
pub mod relay;
mod table;
pub mod time;
pub mod upgrade;
pub mod ws;

/// Whether the shortcuts that only save time are taken:
///
/// * the one-pass read of a request head that arrived whole
///   (`HeadReader::read_request`);
/// * the check of a `Host` that is a plain name (`is_valid_host`);
/// * skipping the lookups of a field the head's index says is absent
///   (`Headers::may_have`);
/// * the end of a list element without a quoted string
///   (`ListElements`);
/// * a list field whose value is one usual token (`Connection: Upgrade`,
///   `Upgrade: websocket`) taken whole instead of split
///   (`http1::is_only_element`);
/// * the usual request line, `GET /path HTTP/1.1`, read at once
///   (`http1::head::usual_request_line`);
/// * decoding a whole unfragmented message in one go
///   (`ws::decode::Decoder::step`); on a connection none of whose other
///   checks applies (`ws::Connection::shortcuts_apply`), also before them,
///   with the next chunk of an uncompressed payload
///   (`Decoder::payload_chunk`) and the answer to an empty buffer;
/// * the SIMD pass over a piece of text (`ws::Utf8Validator::feed`);
/// * reading eight bytes at a time in the head's searches (its end, a line
///   end, a field value's end), which 64-bit arithmetic makes costly on
///   32-bit targets.
///
/// Each gives what the general path it skips gives (a test compares the
/// two, calling the general path on its own), so leaving them out changes
/// nothing but time and size. They are taken on 64-bit targets, where the
/// handshake and frame benchmarks measure them; on smaller ones the
/// general path alone saves flash (issue 9: firmware .text 19,296 ->
/// 18,764 B; 18,060 -> 17,736 B for the word searches; 17,328 -> 17,256
/// B for the one-pass read, with the exact path's parse kept out of line).
///
/// `--cfg protoswitch_no_shortcuts` leaves them out on any target, so that
/// the whole test suite runs the 32-bit paths on the host too (CI does).
pub(crate) const SHORTCUTS: bool =
    cfg!(target_pointer_width = "64") && !cfg!(protoswitch_no_shortcuts);

/// `--cfg protoswitch_no_shortcuts` takes effect (the CI run that relies
/// on it would otherwise test the shortcuts twice).
#[cfg(all(test, protoswitch_no_shortcuts))]
#[test]
fn shortcuts_are_off() {
    assert!(!SHORTCUTS);
}

/// Every string of up to `max_len` bytes over `alphabet`, shortest first:
/// the exhaustive inputs of the tests that compare a shortcut with the
/// definition it replaces.
#[cfg(test)]
pub(crate) fn strings_over(
    alphabet: &[u8],
    max_len: u32,
) -> impl Iterator<Item = std::vec::Vec<u8>> + '_ {
    (0..=max_len).flat_map(move |len| {
        (0..alphabet.len().pow(len)).map(move |mut n| {
            (0..len)
                .map(|_| {
                    let c = alphabet[n % alphabet.len()];
                    n /= alphabet.len();
                    c
                })
                .collect()
        })
    })
}

/// The README's Rust blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use backoff::Backoff;
pub use buffer::RecvBuffer;
pub use error::{Error, LocalError, PeerError, PeerErrorKind, Reply, Role};
pub use http1::{Header, Headers};
#[cfg(feature = "getrandom")]
pub use random::OsRandom;
#[cfg(feature = "std")]
pub use time::StdClock;
pub use time::{Duration, Instant};

/// What one `receive` call did: how many bytes of the buffer it consumed,
/// and at most one event borrowing the buffer. `event: None` means the
/// machine needs more bytes: keep the unconsumed ones, append, call again.
/// The same type serves every machine: `ServerHandshake`, `ClientHandshake`
/// and `ws::Connection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Received<E> {
    /// Bytes at the start of the buffer that were used; drop them.
    pub consumed: usize,
    /// The event, if one is complete.
    pub event: Option<E>,
}

impl<E> Received<E> {
    pub(crate) const fn nothing() -> Self {
        Received {
            consumed: 0,
            event: None,
        }
    }
}
