//! # protoswitch-tokio
//!
//! A thin tokio driver for the Sans-IO [`protoswitch`] machines: the
//! opening handshake ([`accept`], [`connect`]) and a [`WebSocketStream`]
//! that is a [`futures_core::Stream`] of [`Message`]s and a
//! [`futures_sink::Sink`] of them. The protocol (frames, masking,
//! fragmentation, UTF-8, Ping/Pong, the closing handshake, timers,
//! permessage-deflate) is the core's; this crate only moves bytes, time and
//! entropy between the core and an `AsyncRead + AsyncWrite` transport.
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use protoswitch_tokio::{Accepted, accept};
//!
//! # async fn run() -> Result<(), protoswitch_tokio::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9002").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = accept(tcp, |_request| Ok(Accepted::new())).await?;
//! while let Some(message) = ws.next().await {
//!     ws.send(message?).await?;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! ## What the adapter does for you
//!
//! * Pings are answered, Pongs consumed, the peer's Close echoed; the
//!   stream ends with `None` after a clean closing handshake.
//! * The keepalive of [`Config::keepalive`] and the close timeout run on a
//!   `tokio::time::Sleep` polled by `poll_next` (and `poll_flush`).
//! * Policies for long-lived connections, off by default:
//!   [`Options::idle_timeout`] closes with 1001 after a time without data
//!   messages (Pings do not count: the keepalive detects dead peers, the
//!   idle timeout ends silent ones), and [`Options::rate_limit`] bounds
//!   incoming messages and bytes per second — over it, the stream stops
//!   reading until the rate is back (TCP backpressure), or closes with
//!   1008. Both report once through the stream ([`Error::IdleTimeout`],
//!   [`Error::RateLimited`]) and then complete the closing handshake.
//! * [`connect_with_retry`] reconnects with exponential backoff and
//!   jitter ([`Backoff`]) while failures are transient.
//! * Feature `tracing`: handshake and close events (accepted, refused,
//!   declined with the diagnosis, Close frames, how the connection ended,
//!   retries) as `tracing` events under the target `protoswitch_tokio`;
//!   installing a subscriber is the one line of set-up.
//! * permessage-deflate is offered ([`connect`]) and accepted ([`accept`])
//!   by default ([`Options::deflate`]).
//! * Writes are bounded: [`Sink::poll_ready`](futures_sink::Sink::poll_ready)
//!   is pending while more than [`Options::write_buffer_limit`] bytes wait.
//!
//! ## hyper and axum (feature `http`)
//!
//! `protoswitch_tokio::http::upgrade` answers an `http::Request` inside a hyper or axum
//! handler with the same callback and the same decisions as [`accept`],
//! returns the `http::Response` (101, 426, 4xx) for the handler to return,
//! and turns hyper's upgraded connection into a [`WebSocketStream`]. See
//! the module's docs and `examples/axum_echo.rs`.
//!
//! ## TLS
//!
//! `accept` and `connect` take any `AsyncRead + AsyncWrite`: for wss://,
//! hand them the TLS stream (`examples/tls_echo.rs`: tokio-rustls, server
//! and client, a certificate generated at start).
//!
//! ## Messages
//!
//! [`Message`] is the adapter's own: `Text(`[`Utf8Bytes`]`)` and
//! `Binary(`[`Bytes`]`)`, payloads of the `bytes` crate as in tungstenite
//! 0.26+ and axum 0.8 (the blocking adapter and the core keep owned
//! `String`/`Vec<u8>` messages). Build them with [`Message::text`] and
//! [`Message::binary`] from a `String`, a `Vec<u8>`, a static string or
//! `Bytes`, none copied; clone them (a reference count) to send one
//! message on many connections.
//!
//! ## The write path
//!
//! Every frame is written once: small frames (control frames, payloads
//! under 4 KiB, compressed messages) are coalesced into one reused buffer
//! and leave in one `poll_write`; a larger uncompressed payload is not
//! copied — its header goes at the end of that buffer and the two leave
//! together in one `poll_write_vectored`. A client masks such a payload in
//! place when the message owns it (built from a `Vec`, a `String`, or
//! `Bytes` no one else holds) and a copy otherwise (a clone still held, a
//! static). The buffers are zero-filled only when they grow, never per
//! message.
//!
//! ## The read path
//!
//! One receive buffer (a `BytesMut`) per connection; bytes are read into
//! its spare capacity (never zero-filled) and frames are unmasked in
//! place. A message in one uncompressed frame — the usual case — is not
//! copied: when it arrives in several reads, the machine decodes each
//! read as it comes (its keepalive sees the traffic) and the stream keeps
//! the frame where it is, its payload unmasked behind its header, growing
//! the buffer to hold it (up to [`Options::read_buffer_size`]); whole, the
//! payload is split off the buffer, as [`Bytes`] sharing the buffer's
//! storage. Once the application has dropped every message of a storage,
//! the buffer takes it back for the next reads (no allocation: an echo of
//! small or 16 KiB messages allocates nothing per message once warm);
//! while it holds some, the buffer reads on in the rest of the storage
//! and then into new storage, and the held messages keep theirs. Text is
//! not validated twice: the core validated it as it came in.
//!
//! A message held keeps its whole storage alive, so a small message is
//! not split off a large buffer: a message is split off when it is at
//! least a quarter of the buffer's size or the buffer is at its smallest
//! (2 KiB), and copied into storage of its own otherwise (held, 50
//! messages of 100 bytes received among 16 KiB ones keep 7.4 KiB alive
//! that way; split off the 64 KiB buffer, 3.1 MiB). Messages in several
//! chunks — fragmented, larger than the read buffer, or compressed
//! (inflated into a reused buffer) — are gathered into storage of their
//! own, one copy, as before.
//!
//! ## Memory
//!
//! Buffers are sized to the traffic, not fixed: the receive buffer starts
//! at 2 KiB, doubles while reads fill it (up to
//! [`Options::read_buffer_size`], 64 KiB by default, or to fit a
//! message in one frame kept whole) and halves again when the connection goes quiet after a
//! run of small reads; the write queue grows to the frames queued and lets
//! go of more than 16 KiB once drained. A connection exchanging small
//! messages holds a few KiB.
//!
//! ## Splitting
//!
//! [`WebSocketStream::split`] gives a [`WebSocketReader`] and a
//! [`WebSocketWriter`]. The connection machine is one state for both
//! directions (a Close read stops sending, a Ping read owes a Pong, the
//! compressor and the closing handshake are shared), so the reader owns
//! it and does all the I/O; writers (clonable, in any task) hand their
//! messages to it through a bounded channel, lock-free while it has room.
//! Nothing is locked per message or per poll, unlike
//! `futures::StreamExt::split`, whose `BiLock` every poll of either half
//! takes. Keep polling the reader: it writes the writers' messages, and
//! its writers wait once the channel is full.

#![deny(missing_docs)]
// One `unsafe` block, audited: `Utf8Bytes::as_str` (see `message.rs`).
#![deny(unsafe_code)]

mod error;
mod handshake;
#[cfg(feature = "http")]
pub mod http;
mod log;
mod message;
mod sizing;
mod split;
mod stream;

/// The scripted peer of the split properties (also `tests/any_split.rs`'s).
#[cfg(test)]
#[path = "../tests/support/scripted.rs"]
mod scripted;

pub use error::Error;
pub use handshake::{
    Accepted, Connect, Options, Rejected, accept, accept_with, connect, connect_with_retry,
};
pub use message::{Message, Utf8Bytes};
pub use split::{WebSocketReader, WebSocketWriter};
pub use stream::{CloseFrame, WebSocketStream};

/// The payload type of [`Message`] (the `bytes` crate's).
pub use bytes::Bytes;
pub use protoswitch;
pub use protoswitch::Backoff;
pub use protoswitch::upgrade::{DeflateConfig, DeflateParams, Diagnosis, Request};
pub use protoswitch::ws::{CloseCause, Config, Keepalive};
