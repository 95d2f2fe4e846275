//! The upgrade-aware relay: the HTTP/1.1 part of a reverse proxy between a
//! downstream (client-facing) and an upstream (server-facing) connection,
//! under RFC 9110 §7.6.1 (hop-by-hop fields) and RFC 9931 (optimistic
//! protocol transitions), built so that it cannot be used to smuggle a
//! request past the proxy.
//!
//! What it does with each message:
//!
//! * **Request head** (downstream → upstream): rewritten without the
//!   hop-by-hop fields `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`,
//!   `Trailer`, `Upgrade`, `Proxy-Authenticate`, `Proxy-Authorization` and
//!   every field `Connection` nominates (except `Host`, `Content-Length`
//!   and `Transfer-Encoding`, which frame the message: nominating them does
//!   not remove them, so the relay and the upstream always agree where the
//!   message ends). `Upgrade` is written again with only the offered tokens
//!   [`RelayConfig::allow`] lists (`websocket` by default), with
//!   `Connection: upgrade`; `h2c` only when listed, and `HTTP2-Settings`
//!   goes with it or not at all (an unusable h2c offer gets the 400 an h2c
//!   server would send). Upgrades are forwarded only for HTTP/1.1
//!   GET requests without a body unless configured otherwise; a WebSocket
//!   offer must be valid (RFC 6455 §4.2.1), or the relay answers as a
//!   WebSocket server would (400, 426). `Via` is added when configured,
//!   with the version the head came in (`1.0` or `1.1`). `Content-Length`
//!   goes on as one decimal (a list of equal values, or repeated lines,
//!   which RFC 9110 §8.6 tolerates, would be refused by a stricter hop).
//!   An absolute-form target's authority replaces the client's `Host`
//!   (RFC 9112 §3.2.2): route such a request by its target, not by the
//!   `Host` of [`ForwardRequest::head`].
//! * **Holding.** After a request head, nothing more is read from the
//!   downstream once the request is complete, until the response is over:
//!   after an upgrade request, no downstream byte reaches the upstream
//!   before the upstream's answer is parsed. What the client sent early
//!   stays in the caller's buffer.
//! * **Response head** (upstream → downstream): rewritten without the
//!   hop-by-hop fields too (and `HTTP2-Settings`, which is
//!   connection-specific). The relay tunnels only on a 101 that names one
//!   token the relay forwarded, with `Connection: upgrade`, and for
//!   WebSocket the `Sec-WebSocket-Accept` of the client's key
//!   ([`accept_key`]). A 101 to a request whose
//!   upgrade was not forwarded, or a malformed 101, is answered with 502
//!   downstream, and both connections are closed. Any other final response
//!   is relayed as HTTP (a 426 to an HTTP/1.1 client with `Upgrade` naming
//!   again the required protocols the relay allows, RFC 9110 §15.5.22);
//!   then the connection closes
//!   ([`RelayConfig::keep_alive`]: or reads the next request as strict
//!   HTTP/1.1).
//! * **Bodies** keep their framing (`Content-Length` or chunked, checked by
//!   the same decoder as the handshake machines) and are relayed byte for
//!   byte, except to an HTTP/1.0 client: a chunked response is then
//!   relayed as its data, delimited by the close. Interim responses
//!   (`100 Continue`, `103`) are relayed, except to an HTTP/1.0 client
//!   (RFC 9110 §15.2).
//! * **HTTP/1.0** on either side cannot upgrade: the request's upgrade
//!   fields are removed ([`Refusal::Http10`]), a 1.0 response to an
//!   upgrade is relayed as HTTP ([`Declined::UpstreamHttp10`]) and a 1.0
//!   101 is a 502; each with a diagnosis naming the HTTP/1.0 hop.
//!
//! # Call order
//!
//! The relay reads both connections and writes nothing it has to hold:
//!
//! 1. Read from the downstream while [`Relay::reads_downstream`], from the
//!    upstream while [`Relay::reads_upstream`]; each connection has its own
//!    buffer.
//! 2. `receive_downstream(&down[..])` / `receive_upstream(&up[..])`
//!    consume a prefix and return at most one [`Event`] borrowing the
//!    buffer. A head event ([`Event::Request`], [`Event::Interim`],
//!    [`Event::Response`], [`Event::Switched`]) carries the parsed head:
//!    `write(out)` rewrites it into your output buffer (too small:
//!    [`Error::BufferTooSmall`] with the size needed, nothing written; call
//!    again). Write those bytes to the other side **before** you drop the
//!    consumed bytes: the head is borrowed from them, so the borrow
//!    checker keeps them for you. [`Event::Body`] bytes go to the other
//!    side as they are.
//! 3. While the relay holds a side (it does not read it), `receive_*` of
//!    that side consumes nothing and returns no event: stop reading that
//!    connection until the relay reads it again.
//! 4. After every error, drain [`Relay::poll_transmit_downstream`] (the
//!    502 or 4xx the relay owes the client) to the downstream, then close
//!    both connections.
//! 5. When a connection ends, call `receive_eof_downstream()` /
//!    `receive_eof_upstream()`.
//! 6. With [`RelayConfig::keep_alive`], back in [`RelayState::RequestHead`]
//!    after a response: give the relay the upstream's buffered bytes, if
//!    any, **before** the downstream's. They answer no request (a body
//!    after a 204, a 304 or a HEAD's response, a `Content-Length` too
//!    short) and fail the exchange ([`PeerErrorKind::UpstreamUnsolicited`]);
//!    read the next request first and they would reach the client as its
//!    response. (Bytes that arrive only after the next request went up
//!    cannot be told from its answer, by any proxy.)
//! 7. In [`RelayState::Tunnel`], the bytes neither `receive` consumed are
//!    the new protocol's: copy them, and all that follows, both ways
//!    unchanged. In [`RelayState::Closed`], close both connections; bytes
//!    the client sent after its request are dropped, never forwarded.
//!
//! ```
//! use protoswitch::relay::{Event, Relay, RelayConfig, RelayState};
//!
//! let mut relay = Relay::new(RelayConfig::new());
//! let mut out = [0u8; 512];
//! // The client's upgrade request, and a WebSocket frame it sent early.
//! let down = b"GET /chat HTTP/1.1\r\nHost: app\r\nConnection: keep-alive, Upgrade\r\n\
//!     Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n\x81\x80\0\0\0\0";
//! let got = relay.receive_downstream(down).unwrap();
//! let Some(Event::Request(request)) = got.event else { panic!() };
//! assert!(request.upgrades());
//! let n = request.write(&mut out).unwrap();
//! assert_eq!(
//!     &out[..n],
//!     &b"GET /chat HTTP/1.1\r\nHost: app\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!        Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"[..]
//! );
//! // ... out[..n] goes to the upstream; only now drop the consumed bytes.
//! let held = &down[got.consumed..];
//! // The early frame stays with the caller until the upstream answers.
//! assert!(!relay.reads_downstream());
//! assert_eq!(relay.receive_downstream(held).unwrap().consumed, 0);
//!
//! let up = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
//! let got = relay.receive_upstream(up).unwrap();
//! let Some(Event::Switched(response)) = got.event else { panic!() };
//! let n = response.write(&mut out).unwrap();
//! assert_eq!(
//!     &out[..n],
//!     &b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
//!        Upgrade: websocket\r\nConnection: upgrade\r\n\r\n"[..]
//! );
//! assert_eq!(relay.state(), RelayState::Tunnel);
//! // From here on, `held` and everything after it is tunnelled unchanged.
//! ```
//!
//! # Transition table
//!
//! Every state change is an edge of [`TRANSITIONS`]; this table is the same
//! list (a test compares them):
//!
//! | from | input | to |
//! |------|-------|----|
//! | `RequestHead` | request head, no body | `AwaitingResponse` |
//! | `RequestHead` | request head with body | `RequestBody` |
//! | `RequestHead` | upgrade head, no body | `AwaitingSwitch` |
//! | `RequestHead` | upgrade head with body | `UpgradeBody` |
//! | `RequestBody` | request body end | `AwaitingResponse` |
//! | `UpgradeBody` | request body end | `AwaitingSwitch` |
//! | `RequestBody` | interim response | `RequestBody` |
//! | `UpgradeBody` | interim response | `UpgradeBody` |
//! | `AwaitingResponse` | interim response | `AwaitingResponse` |
//! | `AwaitingSwitch` | interim response | `AwaitingSwitch` |
//! | `RequestBody`, `UpgradeBody`, `AwaitingResponse`, `AwaitingSwitch` | response head with body | `ResponseBody` |
//! | `RequestBody`, `UpgradeBody`, `AwaitingResponse`, `AwaitingSwitch`, `ResponseBody` | response end, close | `Closed` |
//! | `AwaitingResponse`, `AwaitingSwitch`, `ResponseBody` | response end, keep-alive | `RequestHead` |
//! | `AwaitingSwitch` | verified 101 | `Tunnel` |
//! | `RequestHead` | end of stream between requests | `Closed` |
//! | `RequestHead`, `RequestBody`, `UpgradeBody`, `AwaitingResponse`, `AwaitingSwitch`, `ResponseBody` | peer error | `Failed` |
//!
//! The downstream is read in `RequestHead`, `RequestBody` and
//! `UpgradeBody`; the upstream in every state before `Tunnel` (in
//! `RequestHead` any upstream byte is [`PeerErrorKind::UpstreamUnsolicited`]:
//! no request waits for it, and it would be taken for the answer to the
//! next one).
//! A `receive_*` call in `Tunnel`, `Closed` or `Failed` is a
//! [`LocalError::WrongState`].
//!
//! State outside the table, which shapes the bytes written and picks
//! between the two "response end" inputs but never adds an edge: which
//! allowed tokens were forwarded and the accept key a WebSocket 101 must
//! carry (what a 101 is checked against); whether the client spoke
//! HTTP/1.0, asked to close, or ended its side, and whether the request was
//! HEAD (the response's framing and `Connection`); whether a chunked
//! response is de-chunked for an HTTP/1.0 client; whether a final response
//! head was forwarded (after it, an error can no longer be answered with a
//! status, [`Relay::error`] then says `CloseTransport`); whether bytes of
//! an incomplete request head were seen (an end of stream then is an
//! error, not a close between requests).

#![forbid(unsafe_code)]

use crate::error::{Error, LocalError, PeerError, PeerErrorKind, Role};
use crate::http1::body::{BodyDecoder, BodyStep};
use crate::http1::write::{Writer, emit, emit_window};
use crate::http1::{
    Facts, Field, Framing, HeadReader, Limits, RequestHead, ResponseHead, content_length_value,
    eq_ignore_case, is_field_value, reason_phrase, request_framing, response_framing, same_str,
};
use crate::table;
use crate::upgrade::{Protocol, ProtocolKind, accept_key};
use crate::{Received, upgrade};

/// The tokens allowed by default: WebSocket only.
pub const DEFAULT_ALLOW: &[&str] = &["websocket"];

/// Allow-list entries looked at, and offered `Upgrade` elements that can
/// be forwarded: the first 32 of each.
pub const MAX_TOKENS: usize = 32;

/// Relay configuration.
///
/// ```
/// use protoswitch::relay::RelayConfig;
/// let config = RelayConfig::new().allow(&["websocket", "h2c"]).via("edge").keep_alive(true);
/// assert_eq!(config.allow, ["websocket", "h2c"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayConfig<'a> {
    /// Limits on both sides' heads and the non-data parts of chunked bodies.
    pub limits: Limits,
    /// The upgrade tokens forwarded, each `name` or `name/version`, matched
    /// whole and ignoring ASCII case (`echo` does not allow `echo/2`).
    /// `h2c` is forwarded only when listed here. Default
    /// [`DEFAULT_ALLOW`]; entries after the first [`MAX_TOKENS`] are
    /// ignored.
    pub allow: &'a [&'a str],
    /// The pseudonym of a `Via: 1.1 <pseudonym>` line (`1.0` for a head
    /// received in HTTP/1.0) added to every forwarded head (RFC 9110
    /// §7.6.3); none by default. A value that is not a field value, or has
    /// a comma, is not written.
    pub via: Option<&'a str>,
    /// After a final response, read the next request (strict HTTP/1.1)
    /// instead of closing. Default `false`: close, so that nothing the
    /// client sent after a refused upgrade is ever read as HTTP.
    pub keep_alive: bool,
    /// Forward upgrades on methods other than GET. Default `false`
    /// (RFC 9931).
    pub upgrade_any_method: bool,
    /// Forward upgrades on requests with a body. Default `false`
    /// (RFC 9931).
    pub upgrade_with_body: bool,
}

impl<'a> RelayConfig<'a> {
    /// The defaults.
    pub const fn new() -> Self {
        RelayConfig {
            limits: Limits::new(),
            allow: DEFAULT_ALLOW,
            via: None,
            keep_alive: false,
            upgrade_any_method: false,
            upgrade_with_body: false,
        }
    }
    /// Sets [`RelayConfig::limits`].
    pub const fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets [`RelayConfig::allow`].
    pub const fn allow(mut self, tokens: &'a [&'a str]) -> Self {
        self.allow = tokens;
        self
    }
    /// Sets [`RelayConfig::via`].
    pub const fn via(mut self, pseudonym: &'a str) -> Self {
        self.via = Some(pseudonym);
        self
    }
    /// Sets [`RelayConfig::keep_alive`].
    pub const fn keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }
    /// Sets [`RelayConfig::upgrade_any_method`].
    pub const fn upgrade_any_method(mut self, on: bool) -> Self {
        self.upgrade_any_method = on;
        self
    }
    /// Sets [`RelayConfig::upgrade_with_body`].
    pub const fn upgrade_with_body(mut self, on: bool) -> Self {
        self.upgrade_with_body = on;
        self
    }
}

impl Default for RelayConfig<'_> {
    fn default() -> Self {
        RelayConfig::new()
    }
}

/// Where the relay is. See the module docs for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelayState {
    /// Waiting for a request head from the downstream.
    RequestHead,
    /// Relaying a request body; the upstream may answer early.
    RequestBody,
    /// Relaying the body of an upgrade request (only with
    /// [`RelayConfig::upgrade_with_body`]).
    UpgradeBody,
    /// The request went out; waiting for the response. The downstream is held.
    AwaitingResponse,
    /// An upgrade request went out; waiting for the response. The
    /// downstream is held: nothing the client sends reaches the upstream
    /// before this answer is parsed.
    AwaitingSwitch,
    /// Relaying a response body. The downstream is held.
    ResponseBody,
    /// A verified 101 was relayed: copy the bytes both ways unchanged.
    Tunnel,
    /// The exchange is over: close both connections.
    Closed,
    /// A peer broke a rule: drain `poll_transmit_downstream`, close both.
    Failed,
}

impl RelayState {
    /// The state's name.
    pub const fn name(self) -> &'static str {
        match self {
            RelayState::RequestHead => "RequestHead",
            RelayState::RequestBody => "RequestBody",
            RelayState::UpgradeBody => "UpgradeBody",
            RelayState::AwaitingResponse => "AwaitingResponse",
            RelayState::AwaitingSwitch => "AwaitingSwitch",
            RelayState::ResponseBody => "ResponseBody",
            RelayState::Tunnel => "Tunnel",
            RelayState::Closed => "Closed",
            RelayState::Failed => "Failed",
        }
    }
}

/// What drives the relay from one state to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RelayInput {
    /// A request head, no upgrade forwarded, no body.
    RequestHead,
    /// A request head, no upgrade forwarded, a body follows.
    RequestHeadWithBody,
    /// A request head whose upgrade is forwarded, no body.
    UpgradeHead,
    /// A request head whose upgrade is forwarded, a body follows.
    UpgradeHeadWithBody,
    /// The request body ended.
    RequestBodyEnd,
    /// A 1xx response other than 101.
    Interim,
    /// A final response head; a body follows.
    ResponseHeadWithBody,
    /// The response is complete, and the connection closes.
    ResponseEndClose,
    /// The response is complete, and the next request may follow.
    ResponseEndKeepAlive,
    /// A 101 that passed every check.
    Switch,
    /// A connection ended between two exchanges.
    EndBetweenRequests,
    /// A peer broke a rule (or a connection ended mid-message).
    PeerError,
}

impl RelayInput {
    /// How the module docs' table names the input.
    pub const fn describe(self) -> &'static str {
        match self {
            RelayInput::RequestHead => "request head, no body",
            RelayInput::RequestHeadWithBody => "request head with body",
            RelayInput::UpgradeHead => "upgrade head, no body",
            RelayInput::UpgradeHeadWithBody => "upgrade head with body",
            RelayInput::RequestBodyEnd => "request body end",
            RelayInput::Interim => "interim response",
            RelayInput::ResponseHeadWithBody => "response head with body",
            RelayInput::ResponseEndClose => "response end, close",
            RelayInput::ResponseEndKeepAlive => "response end, keep-alive",
            RelayInput::Switch => "verified 101",
            RelayInput::EndBetweenRequests => "end of stream between requests",
            RelayInput::PeerError => "peer error",
        }
    }
}

/// The whole transition table of the relay, one edge a row: the same edges
/// as the module docs (a test compares them), for tools and fuzzers.
pub const TRANSITIONS: &[(RelayState, RelayInput, RelayState)] = {
    use RelayInput as I;
    use RelayState as S;
    &[
        (S::RequestHead, I::RequestHead, S::AwaitingResponse),
        (S::RequestHead, I::RequestHeadWithBody, S::RequestBody),
        (S::RequestHead, I::UpgradeHead, S::AwaitingSwitch),
        (S::RequestHead, I::UpgradeHeadWithBody, S::UpgradeBody),
        (S::RequestBody, I::RequestBodyEnd, S::AwaitingResponse),
        (S::UpgradeBody, I::RequestBodyEnd, S::AwaitingSwitch),
        (S::RequestBody, I::Interim, S::RequestBody),
        (S::UpgradeBody, I::Interim, S::UpgradeBody),
        (S::AwaitingResponse, I::Interim, S::AwaitingResponse),
        (S::AwaitingSwitch, I::Interim, S::AwaitingSwitch),
        (S::RequestBody, I::ResponseHeadWithBody, S::ResponseBody),
        (S::UpgradeBody, I::ResponseHeadWithBody, S::ResponseBody),
        (
            S::AwaitingResponse,
            I::ResponseHeadWithBody,
            S::ResponseBody,
        ),
        (S::AwaitingSwitch, I::ResponseHeadWithBody, S::ResponseBody),
        (S::RequestBody, I::ResponseEndClose, S::Closed),
        (S::UpgradeBody, I::ResponseEndClose, S::Closed),
        (S::AwaitingResponse, I::ResponseEndClose, S::Closed),
        (S::AwaitingSwitch, I::ResponseEndClose, S::Closed),
        (S::ResponseBody, I::ResponseEndClose, S::Closed),
        (S::AwaitingResponse, I::ResponseEndKeepAlive, S::RequestHead),
        (S::AwaitingSwitch, I::ResponseEndKeepAlive, S::RequestHead),
        (S::ResponseBody, I::ResponseEndKeepAlive, S::RequestHead),
        (S::AwaitingSwitch, I::Switch, S::Tunnel),
        (S::RequestHead, I::EndBetweenRequests, S::Closed),
        (S::RequestHead, I::PeerError, S::Failed),
        (S::RequestBody, I::PeerError, S::Failed),
        (S::UpgradeBody, I::PeerError, S::Failed),
        (S::AwaitingResponse, I::PeerError, S::Failed),
        (S::AwaitingSwitch, I::PeerError, S::Failed),
        (S::ResponseBody, I::PeerError, S::Failed),
    ]
};

/// Why a request's upgrade was not forwarded: the request goes to the
/// upstream as plain HTTP, without its upgrade fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The request is HTTP/1.0, which cannot switch protocols (RFC 9110 §7.8).
    Http10,
    /// `Upgrade` without `upgrade` in `Connection` (RFC 9110 §7.8).
    NotInConnection,
    /// The method is not GET (RFC 9931; see [`RelayConfig::upgrade_any_method`]).
    Method,
    /// The request has a body (RFC 9931; see [`RelayConfig::upgrade_with_body`]).
    Body,
    /// None of the offered tokens is in [`RelayConfig::allow`].
    NotAllowed,
}

impl Refusal {
    /// A diagnosing sentence.
    pub const fn message(self) -> &'static str {
        match self {
            Refusal::Http10 => {
                "the request arrived as HTTP/1.0, which cannot switch protocols: a hop in front of the relay speaks HTTP/1.0 (nginx: proxy_http_version 1.1)"
            }
            Refusal::NotInConnection => {
                "the request has Upgrade but no `upgrade` in Connection: a hop in front of the relay dropped it (nginx: proxy_set_header Connection \"upgrade\")"
            }
            Refusal::Method => {
                "upgrades are forwarded only on GET (RFC 9931); allow others with upgrade_any_method"
            }
            Refusal::Body => {
                "upgrades are forwarded only on requests without a body (RFC 9931); allow them with upgrade_with_body"
            }
            Refusal::NotAllowed => {
                "none of the offered protocols is in the relay's allow list; add it there to forward it"
            }
        }
    }
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// Why a final response answers an upgrade the relay forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Declined {
    /// The upstream answered with another status: no tunnel.
    ByUpstream,
    /// The upstream answered in HTTP/1.0, which cannot switch protocols.
    UpstreamHttp10,
}

impl Declined {
    /// A diagnosing sentence.
    pub const fn message(self) -> &'static str {
        match self {
            Declined::ByUpstream => {
                "the upstream declined the upgrade: the response is relayed as HTTP, and nothing the client sent after its request reaches the upstream"
            }
            Declined::UpstreamHttp10 => {
                "the upstream answered in HTTP/1.0, which cannot switch protocols: a hop behind the relay speaks HTTP/1.0 (nginx: proxy_http_version 1.1)"
            }
        }
    }
}

impl core::fmt::Display for Declined {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

/// An event of the relay, borrowing the buffer given to `receive_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'b> {
    /// From `receive_downstream`: a request head. Write
    /// [`ForwardRequest::write`]'s bytes to the upstream.
    Request(ForwardRequest<'b>),
    /// From `receive_upstream`: an interim (1xx, not 101) response. Write
    /// [`ForwardResponse::write`]'s bytes to the downstream.
    Interim(ForwardResponse<'b>),
    /// From `receive_upstream`: a final response head (200–599). Write it
    /// to the downstream.
    Response(ForwardResponse<'b>),
    /// From `receive_upstream`: a verified 101. Write it to the downstream;
    /// the relay is now [`RelayState::Tunnel`].
    Switched(ForwardResponse<'b>),
    /// Body bytes, to write to the other side exactly as they are (their
    /// framing included). `end`: the message is complete after them.
    Body {
        /// The bytes to forward (may be empty when `end` is set).
        bytes: &'b [u8],
        /// The message ends with these bytes.
        end: bool,
    },
}

/// A request head to forward, borrowed from the downstream buffer, with
/// the relay's decisions about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardRequest<'b> {
    head: RequestHead<'b>,
    /// Bit `j`: the `j`-th element of `Upgrade` is forwarded.
    forwarded: u32,
    /// `h2c` is among the forwarded tokens.
    h2c: bool,
    refusal: Option<Refusal>,
    /// Ask the upstream to close after its response.
    close: bool,
    via: Option<&'b str>,
}

impl<'b> ForwardRequest<'b> {
    /// The request as received.
    pub fn head(&self) -> RequestHead<'b> {
        self.head
    }

    /// `true` when the request goes out with `Upgrade` (some offered token
    /// is allowed): the relay then waits for the 101 or the refusal before
    /// it reads the downstream again.
    pub fn upgrades(&self) -> bool {
        self.forwarded != 0
    }

    /// Why the request's `Upgrade` was dropped, if it had one.
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
    }

    /// Writes the head as it goes to the upstream into `out`; returns the
    /// bytes written. Too small a buffer gets [`Error::BufferTooSmall`]
    /// with the size needed, and nothing is written.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, Error> {
        emit(out, |w| self.write_to(w))
    }

    fn write_to(&self, w: &mut Writer<'_>) {
        let head = &self.head;
        w.put_str(head.method());
        w.put(b" ");
        w.put_str(head.target());
        w.put(b" HTTP/1.1\r\n");
        let headers = head.headers();
        // An absolute-form target names the host: the client's `Host` is
        // ignored and replaced by its authority (RFC 9112 §3.2.2), so that
        // the upstream and a proxy routing on `Host` agree.
        let authority = absolute_form_authority(head.target());
        let mut host = false;
        let mut length_written = false;
        for h in headers.iter() {
            let name = h.name.as_bytes();
            if authority.is_some() && eq_ignore_case(name, b"host") {
                continue;
            }
            let keep_h2c = self.h2c && eq_ignore_case(name, b"http2-settings");
            // The request goes out as HTTP/1.1, where an HTTP/1.0 client's
            // Expect would start meaning something (RFC 9110 §10.1.1: it
            // is ignored in HTTP/1.0).
            let http10_expect = head.minor_version() == 0 && eq_ignore_case(name, b"expect");
            if !keep_h2c && (removed(name, headers) || eq_ignore_case(name, b"http2-settings"))
                || http10_expect
            {
                continue;
            }
            host |= eq_ignore_case(name, b"host");
            write_field(w, h, &mut length_written);
        }
        if let Some(authority) = authority {
            w.header("Host", authority.as_bytes());
        } else if !host {
            // An HTTP/1.0 request without Host, now forwarded as HTTP/1.1
            // (RFC 9112 §3.2: an empty Host when there is no authority).
            w.header("Host", b"");
        }
        if self.upgrades() {
            let offered = headers.elements(Field::Upgrade).enumerate();
            w.list(
                "Upgrade",
                offered
                    .filter(|(j, _)| *j < MAX_TOKENS && self.forwarded & 1 << j != 0)
                    .map(|(_, e)| e),
            );
            w.put(if self.h2c {
                b"Connection: upgrade, HTTP2-Settings\r\n".as_slice()
            } else {
                b"Connection: upgrade\r\n"
            });
        } else if self.close {
            w.put(b"Connection: close\r\n");
        }
        write_via(w, self.via, self.head.minor_version());
        w.put(b"\r\n");
    }
}

/// How a response head is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Interim,
    /// A final response; `close`: the relay closes after it;
    /// `strip_te`: its `Transfer-Encoding` is not forwarded (an HTTP/1.0
    /// client, whose chunked body is de-chunked).
    /// `upgrade_required`: a 426 to an HTTP/1.1 client, which names the
    /// protocols it requires (RFC 9110 §15.5.22) in `Upgrade`, a
    /// hop-by-hop field: the allowed ones are named again.
    Final {
        close: bool,
        strip_te: bool,
        upgrade_required: bool,
    },
    /// A verified 101.
    Switch,
}

/// A response head to forward, borrowed from the upstream buffer, with
/// the relay's decisions about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardResponse<'b> {
    head: ResponseHead<'b>,
    kind: Kind,
    /// The 101's protocol, as the upstream wrote it.
    protocol: &'b [u8],
    declined: Option<Declined>,
    via: Option<&'b str>,
    /// [`RelayConfig::allow`].
    allow: &'b [&'b str],
}

impl<'b> ForwardResponse<'b> {
    /// The response as received.
    pub fn head(&self) -> ResponseHead<'b> {
        self.head
    }

    /// For a final response to an upgrade the relay forwarded: why there
    /// is no tunnel.
    pub fn declined(&self) -> Option<Declined> {
        self.declined
    }

    /// The elements of a 426's `Upgrade` the relay would forward an
    /// upgrade to (in [`RelayConfig::allow`]).
    fn required_allowed(&self) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.head
            .headers()
            .elements(Field::Upgrade)
            .filter(|element| {
                Protocol::parse(element).is_some_and(|required| {
                    self.allow.iter().take(MAX_TOKENS).any(|a| {
                        Protocol::parse(a.as_bytes()).is_some_and(|a| a.matches(&required))
                    })
                })
            })
    }

    /// `true` when the relay closes both connections after this response
    /// (it then writes `Connection: close` downstream).
    pub fn closes(&self) -> bool {
        matches!(self.kind, Kind::Final { close: true, .. })
    }

    /// For a 101: the protocol switched to, as the upstream named it.
    pub fn protocol(&self) -> Option<Protocol<'b>> {
        match self.kind {
            Kind::Switch => Protocol::parse(self.protocol),
            _ => None,
        }
    }

    /// Writes the head as it goes to the downstream into `out`; returns
    /// the bytes written. Too small a buffer gets
    /// [`Error::BufferTooSmall`] with the size needed, and nothing is
    /// written.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, Error> {
        emit(out, |w| self.write_to(w))
    }

    fn write_to(&self, w: &mut Writer<'_>) {
        let head = &self.head;
        let status = head.status();
        w.put(b"HTTP/1.1 ");
        w.put_dec(u64::from(status));
        w.put(b" ");
        w.put_str(match head.reason() {
            "" => reason_phrase(status),
            reason => reason,
        });
        w.put(b"\r\n");
        let headers = head.headers();
        // No Transfer-Encoding to an HTTP/1.0 client (RFC 9112 §6.1; its
        // chunked body is de-chunked, a HEAD's or 204's has none), nor from
        // an HTTP/1.0 upstream (faulty framing, RFC 9112 §6.1: its body is
        // read until the close): the client must not decode chunks.
        let mut length_written = false;
        let dechunk = matches!(self.kind, Kind::Final { strip_te: true, .. })
            || (head.minor_version() == 0 && head.headers().count("transfer-encoding") > 0);
        for h in headers.iter() {
            let name = h.name.as_bytes();
            // HTTP2-Settings is connection-specific (RFC 7540 §3.2.1), and
            // means nothing in a response: never forwarded down.
            if removed(name, headers)
                || eq_ignore_case(name, b"http2-settings")
                || (dechunk && eq_ignore_case(name, b"transfer-encoding"))
            {
                continue;
            }
            write_field(w, h, &mut length_written);
        }
        match self.kind {
            Kind::Switch => {
                w.header("Upgrade", self.protocol);
                w.put(b"Connection: upgrade\r\n");
            }
            Kind::Final {
                close,
                upgrade_required: true,
                ..
            } if self.required_allowed().next().is_some() => {
                w.list("Upgrade", self.required_allowed());
                w.put(if close {
                    b"Connection: upgrade, close\r\n".as_slice()
                } else {
                    b"Connection: upgrade\r\n"
                });
            }
            Kind::Final { close: true, .. } => w.put(b"Connection: close\r\n"),
            Kind::Final { close: false, .. } | Kind::Interim => {}
        }
        write_via(w, self.via, self.head.minor_version());
        w.put(b"\r\n");
    }
}

/// The hop-by-hop fields of RFC 9110 §7.6.1 (and `Proxy-Connection`,
/// which old clients send).
const HOP_BY_HOP: [&[u8]; 8] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"upgrade",
    b"proxy-authenticate",
    b"proxy-authorization",
];

/// Fields that frame or route the message: a `Connection` nomination does
/// not remove them, or the relay and the next hop would disagree on where
/// the message ends.
const FRAMING: [&[u8]; 3] = [b"host", b"content-length", b"transfer-encoding"];

/// The authority of an absolute-form request target (RFC 9112 §3.2.2),
/// without userinfo (RFC 9110 §4.2.4 forbids it in http(s) URIs, and it
/// has no place in `Host`): what `Host` says when the request is
/// forwarded; empty when the target has none (RFC 9112 §3.2). `None` for
/// the origin and asterisk forms (the relay refuses CONNECT).
fn absolute_form_authority(target: &str) -> Option<&str> {
    if target.starts_with('/') || target == "*" {
        return None;
    }
    let (_scheme, rest) = target.split_once(':')?;
    let Some(hier) = rest.strip_prefix("//") else {
        return Some("");
    };
    let end = hier.find(['/', '?', '#']).unwrap_or(hier.len());
    let authority = &hier[..end];
    Some(
        authority
            .rsplit_once('@')
            .map_or(authority, |(_userinfo, host)| host),
    )
}

/// `true` when a field called `name` is not forwarded: hop-by-hop, or
/// nominated by `Connection` (RFC 9110 §7.6.1). Reads the `Connection`
/// values for each field: at most the head's field limit times its size.
fn removed(name: &[u8], headers: &crate::http1::Headers<'_>) -> bool {
    if HOP_BY_HOP.iter().any(|h| eq_ignore_case(name, h)) {
        return true;
    }
    if FRAMING.iter().any(|h| eq_ignore_case(name, h)) {
        return false;
    }
    headers
        .elements(Field::Connection)
        .any(|e| eq_ignore_case(e, name))
}

/// The most `Connection` options (elements) a head may name: each other
/// field is checked against every one of them when the head is rewritten,
/// so this bounds the work (a head of 8 KiB naming 4,000 took 200 times
/// its parse to rewrite). Clients name one to three.
pub const MAX_CONNECTION_OPTIONS: usize = 32;

/// Refuses a head whose `Connection` names more than
/// [`MAX_CONNECTION_OPTIONS`] options.
fn check_connection_options(headers: &crate::http1::Headers<'_>) -> Result<(), PeerErrorKind> {
    match headers
        .elements(Field::Connection)
        .nth(MAX_CONNECTION_OPTIONS)
    {
        Some(_) => Err(PeerErrorKind::TooManyConnectionOptions),
        None => Ok(()),
    }
}

/// `true` when `got` ends a body.
fn ends(got: &Received<Event<'_>>) -> bool {
    matches!(got.event, Some(Event::Body { end: true, .. }))
}

/// Writes the field `h` as received, but `Content-Length` once, as one
/// decimal: a list of equal values or repeated lines (which RFC 9110 §8.6
/// lets a recipient accept, or replace with one value) would be refused by
/// a stricter recipient, or read differently.
fn write_field(w: &mut Writer<'_>, h: crate::Header<'_>, length_written: &mut bool) {
    if eq_ignore_case(h.name.as_bytes(), b"content-length") {
        if core::mem::replace(length_written, true) {
            return;
        }
        if let Some(n) = content_length_value(h.value) {
            w.put(b"Content-Length: ");
            w.put_dec(n);
            w.put(b"\r\n");
            return;
        }
    }
    w.header(h.name, h.value);
}

/// `Via: <version> <pseudonym>`, the version the head was received in
/// (RFC 9110 §7.6.3: `received-protocol`).
fn write_via(w: &mut Writer<'_>, via: Option<&str>, minor_version: u8) {
    if let Some(pseudonym) = via {
        let v = pseudonym.as_bytes();
        if !v.is_empty() && is_field_value(v) && !v.contains(&b',') {
            w.put(if minor_version == 0 {
                b"Via: 1.0 "
            } else {
                b"Via: 1.1 "
            });
            w.put(v);
            w.put(b"\r\n");
        }
    }
}

/// Why the upstream's bytes were refused: a rule of HTTP/1.1, or a 101
/// the relay will not tunnel on.
#[derive(Debug, Clone, Copy)]
enum Upstream {
    Rule(PeerErrorKind),
    Switch(PeerErrorKind),
}

impl From<PeerErrorKind> for Upstream {
    fn from(kind: PeerErrorKind) -> Self {
        Upstream::Rule(kind)
    }
}

/// The relay machine. See the [module docs](self) for the call order and
/// the transition table.
#[derive(Debug, Clone)]
pub struct Relay<'a> {
    config: RelayConfig<'a>,
    state: RelayState,
    request_reader: HeadReader,
    response_reader: HeadReader,
    /// The body being relayed (the request's, then the response's).
    body: BodyDecoder,
    /// The response body goes out as its data only (chunked to HTTP/1.0).
    dechunk: bool,
    /// Bit `i`: `config.allow[i]` was forwarded.
    forwarded: u32,
    /// The `Sec-WebSocket-Accept` a WebSocket 101 must carry.
    ws_accept: Option<[u8; 28]>,
    head_request: bool,
    client_http10: bool,
    client_close: bool,
    downstream_ended: bool,
    /// The last `receive_downstream` in `RequestHead` had bytes.
    partial_head: bool,
    /// A final response head (or a 101) went downstream.
    final_forwarded: bool,
    error: Option<PeerError>,
    /// The rule behind a `BadUpstreamResponse` or `BadUpstreamSwitch`.
    cause: Option<PeerErrorKind>,
    /// How much of the error reply `poll_transmit_downstream` handed out.
    reply_sent: usize,
}

impl<'a> Relay<'a> {
    /// A relay waiting for the first request head.
    pub fn new(config: RelayConfig<'a>) -> Self {
        Relay {
            config,
            state: RelayState::RequestHead,
            request_reader: HeadReader::default(),
            response_reader: HeadReader::default(),
            body: BodyDecoder::new(Framing::None),
            dechunk: false,
            forwarded: 0,
            ws_accept: None,
            head_request: false,
            client_http10: false,
            client_close: false,
            downstream_ended: false,
            partial_head: false,
            final_forwarded: false,
            error: None,
            cause: None,
            reply_sent: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> RelayState {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &RelayConfig<'a> {
        &self.config
    }

    /// The peer error that put the relay in `Failed`. Its
    /// [`reply`](PeerError::reply) says what the relay queued downstream:
    /// an `HttpStatus` (4xx for the client's mistakes, 502 for the
    /// upstream's), or `CloseTransport` when a response was already under
    /// way.
    pub fn error(&self) -> Option<PeerError> {
        self.error
    }

    /// For [`PeerErrorKind::BadUpstreamResponse`] and
    /// [`PeerErrorKind::BadUpstreamSwitch`]: the rule the upstream broke,
    /// as a client would report it (`AcceptMismatch`, `BadStatus`, …). The
    /// 502 the relay queued names it too.
    pub fn cause(&self) -> Option<PeerError> {
        self.cause.map(|kind| PeerError::new(kind, Role::Client))
    }

    /// `true` while the relay reads the downstream; otherwise it holds it:
    /// `receive_downstream` consumes nothing, so stop reading it.
    pub fn reads_downstream(&self) -> bool {
        matches!(
            self.state,
            RelayState::RequestHead | RelayState::RequestBody | RelayState::UpgradeBody
        )
    }

    /// `true` while the relay reads the upstream.
    pub fn reads_upstream(&self) -> bool {
        matches!(
            self.state,
            RelayState::RequestHead
                | RelayState::RequestBody
                | RelayState::UpgradeBody
                | RelayState::AwaitingResponse
                | RelayState::AwaitingSwitch
                | RelayState::ResponseBody
        )
    }

    /// Follows the table's edge for `input` (derived from the peers'
    /// bytes: every state that reads has its edges, so a miss is a bug).
    fn follow(&mut self, input: RelayInput) {
        match table::next(TRANSITIONS, self.state, input) {
            Some(next) => self.state = next,
            None => debug_assert!(false, "no edge for {input:?} in {:?}", self.state),
        }
    }

    fn wrong_state(&self, operation: &'static str) -> Error {
        LocalError::WrongState {
            operation,
            state: self.state.name(),
        }
        .into()
    }

    /// Feeds bytes from the downstream. Consumes a prefix of `buf` and
    /// returns at most one event borrowing it; `event: None` means more
    /// bytes are needed, or (when [`reads_downstream`](Self::reads_downstream)
    /// is `false`) that the relay holds the downstream and consumed nothing.
    ///
    /// On a peer error the relay is `Failed` and
    /// `poll_transmit_downstream` holds the reply.
    pub fn receive_downstream<'b>(&mut self, buf: &'b [u8]) -> Result<Received<Event<'b>>, Error>
    where
        'a: 'b,
    {
        let result = match self.state {
            RelayState::RequestHead => self.read_request_head(buf),
            RelayState::RequestBody | RelayState::UpgradeBody => self.read_request_body(buf),
            RelayState::AwaitingResponse
            | RelayState::AwaitingSwitch
            | RelayState::ResponseBody => {
                return Ok(Received::nothing());
            }
            RelayState::Tunnel | RelayState::Closed | RelayState::Failed => {
                return Err(self.wrong_state("receive_downstream"));
            }
        };
        result.map_err(|kind| self.fail(kind, Role::Server).into())
    }

    /// Feeds bytes from the upstream. Consumes a prefix of `buf` and
    /// returns at most one event borrowing it; `event: None` means more
    /// bytes are needed.
    ///
    /// On a peer error the relay is `Failed` and
    /// `poll_transmit_downstream` holds the reply (a 502 while no final
    /// response went downstream).
    pub fn receive_upstream<'b>(&mut self, buf: &'b [u8]) -> Result<Received<Event<'b>>, Error>
    where
        'a: 'b,
    {
        let result = match self.state {
            RelayState::RequestHead if buf.is_empty() => return Ok(Received::nothing()),
            RelayState::RequestHead => Err(PeerErrorKind::UpstreamUnsolicited.into()),
            RelayState::RequestBody
            | RelayState::UpgradeBody
            | RelayState::AwaitingResponse
            | RelayState::AwaitingSwitch => self.read_response_head(buf),
            RelayState::ResponseBody => self.read_response_body(buf).map_err(Upstream::Rule),
            RelayState::Tunnel | RelayState::Closed | RelayState::Failed => {
                return Err(self.wrong_state("receive_upstream"));
            }
        };
        result.map_err(|kind| self.fail_upstream(kind).into())
    }

    /// The downstream ended. Between requests the relay is `Closed`;
    /// inside a request head or body it is a peer error; while the relay
    /// holds the downstream (a half-close after the request) the exchange
    /// goes on and the connection closes after the response.
    pub fn receive_eof_downstream(&mut self) -> Result<Option<Event<'static>>, Error> {
        let kind = match self.state {
            RelayState::RequestHead if !self.partial_head => {
                self.follow(RelayInput::EndBetweenRequests);
                return Ok(None);
            }
            RelayState::RequestHead => PeerErrorKind::ClosedBeforeHead,
            RelayState::RequestBody | RelayState::UpgradeBody => PeerErrorKind::ClosedInBody,
            RelayState::AwaitingResponse
            | RelayState::AwaitingSwitch
            | RelayState::ResponseBody => {
                self.downstream_ended = true;
                return Ok(None);
            }
            RelayState::Tunnel | RelayState::Closed | RelayState::Failed => return Ok(None),
        };
        Err(self.fail(kind, Role::Server).into())
    }

    /// The upstream ended. Between requests the relay is `Closed`; a body
    /// delimited by the close ends ([`Event::Body`] with `end`); before a
    /// complete response it is
    /// [`PeerErrorKind::UpstreamClosedBeforeResponse`] (502), inside
    /// another body [`PeerErrorKind::ClosedInBody`].
    pub fn receive_eof_upstream(&mut self) -> Result<Option<Event<'static>>, Error> {
        let kind = match self.state {
            RelayState::RequestHead => {
                self.follow(RelayInput::EndBetweenRequests);
                return Ok(None);
            }
            RelayState::RequestBody
            | RelayState::UpgradeBody
            | RelayState::AwaitingResponse
            | RelayState::AwaitingSwitch => PeerErrorKind::UpstreamClosedBeforeResponse,
            RelayState::ResponseBody => match self.body.eof() {
                Ok(_) => {
                    self.follow(RelayInput::ResponseEndClose);
                    return Ok(Some(Event::Body {
                        bytes: &[],
                        end: true,
                    }));
                }
                Err(kind) => kind,
            },
            RelayState::Tunnel | RelayState::Closed | RelayState::Failed => return Ok(None),
        };
        Err(self.fail_upstream(kind.into()).into())
    }

    /// Copies the reply the relay owes the downstream after a peer error
    /// (a 4xx for a bad request, 502 for a bad upstream answer) into
    /// `out`; returns how many bytes were copied, 0 when nothing is
    /// pending. Any buffer size works: call until it returns 0.
    #[must_use]
    pub fn poll_transmit_downstream(&mut self, out: &mut [u8]) -> usize {
        let n = emit_window(out, self.reply_sent, |w| self.write_error_reply(w));
        self.reply_sent += n;
        n
    }

    /// Enters `Failed` because of `kind`, seen as `role` toward the side at
    /// fault. Once a final response went downstream, nothing more can be
    /// answered: the error is reported as the client role's (close).
    fn fail(&mut self, kind: PeerErrorKind, role: Role) -> PeerError {
        self.follow(RelayInput::PeerError);
        let role = if self.final_forwarded {
            Role::Client
        } else {
            role
        };
        let error = PeerError::new(kind, role);
        self.error = Some(error);
        self.reply_sent = 0;
        error
    }

    /// An upstream error: before a final response went downstream, the
    /// client gets a 502 naming the upstream's mistake.
    fn fail_upstream(&mut self, error: Upstream) -> PeerError {
        let kind = match error {
            Upstream::Switch(cause) => {
                self.cause = Some(cause);
                PeerErrorKind::BadUpstreamSwitch
            }
            Upstream::Rule(kind) if self.final_forwarded => kind,
            Upstream::Rule(
                kind @ (PeerErrorKind::UpstreamSwitchNotRequested
                | PeerErrorKind::UpstreamClosedBeforeResponse
                | PeerErrorKind::UpstreamUnsolicited),
            ) => kind,
            Upstream::Rule(cause) => {
                self.cause = Some(cause);
                PeerErrorKind::BadUpstreamResponse
            }
        };
        self.fail(kind, Role::Server)
    }

    fn write_error_reply(&self, w: &mut Writer<'_>) {
        let Some(error) = self.error else {
            return;
        };
        let Some(status) = error.status() else {
            return;
        };
        let cause = self.cause().map_or("", |c| c.message());
        let message = error.message();
        w.status_line(status);
        w.put(b"Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n");
        w.put(b"Content-Length: ");
        let sep: &[u8] = if cause.is_empty() { b"" } else { b": " };
        w.put_dec((message.len() + sep.len() + cause.len()) as u64);
        w.put(b"\r\n\r\n");
        w.put_str(message);
        w.put(sep);
        w.put_str(cause);
    }

    fn read_request_head<'b>(&mut self, buf: &'b [u8]) -> Result<Received<Event<'b>>, PeerErrorKind>
    where
        'a: 'b,
    {
        let limits = self.config.limits;
        self.partial_head = !buf.is_empty();
        let Some((_, end, head, facts)) = self.request_reader.read_request(buf, &limits)? else {
            return Ok(Received::nothing());
        };
        self.partial_head = false;
        if same_str(head.method(), "CONNECT") {
            return Err(PeerErrorKind::ConnectNotRelayed);
        }
        check_connection_options(head.headers())?;
        let framing = request_framing(&facts);
        let request = self.decide(head, &facts, framing)?;
        self.head_request = same_str(head.method(), "HEAD");
        self.client_http10 = head.minor_version() == 0;
        // An HTTP/1.0 client gets its response delimited by the close
        // (RFC 9112 §9.3: no keep-alive negotiation here).
        self.client_close = facts.conn_close || self.client_http10;
        self.body = BodyDecoder::new(framing);
        let with_body = !self.body.is_done();
        self.follow(match (request.upgrades(), with_body) {
            (false, false) => RelayInput::RequestHead,
            (false, true) => RelayInput::RequestHeadWithBody,
            (true, false) => RelayInput::UpgradeHead,
            (true, true) => RelayInput::UpgradeHeadWithBody,
        });
        Ok(Received {
            consumed: end,
            event: Some(Event::Request(request)),
        })
    }

    /// Which of the request's upgrade tokens go to the upstream.
    fn decide<'b>(
        &mut self,
        head: RequestHead<'b>,
        facts: &Facts,
        framing: Framing,
    ) -> Result<ForwardRequest<'b>, PeerErrorKind>
    where
        'a: 'b,
    {
        let headers = head.headers();
        let mut request = ForwardRequest {
            head,
            forwarded: 0,
            h2c: false,
            refusal: None,
            close: !self.config.keep_alive || facts.conn_close || head.minor_version() == 0,
            via: self.config.via,
        };
        self.forwarded = 0;
        self.ws_accept = None;
        if headers.values(Field::Upgrade).next().is_none() {
            return Ok(request);
        }
        request.refusal = if head.minor_version() == 0 {
            Some(Refusal::Http10)
        } else if !facts.conn_upgrade {
            Some(Refusal::NotInConnection)
        } else if head.method() != "GET" && !self.config.upgrade_any_method {
            Some(Refusal::Method)
        } else if framing != Framing::None && !self.config.upgrade_with_body {
            Some(Refusal::Body)
        } else {
            None
        };
        if request.refusal.is_some() {
            return Ok(request);
        }
        let mut websocket = false;
        for (j, element) in headers.elements(Field::Upgrade).enumerate() {
            let offered = Protocol::parse(element).ok_or(PeerErrorKind::BadUpgradeToken)?;
            let allowed =
                self.config.allow.iter().take(MAX_TOKENS).position(|a| {
                    Protocol::parse(a.as_bytes()).is_some_and(|a| a.matches(&offered))
                });
            if let (Some(i), true) = (allowed, j < MAX_TOKENS) {
                request.forwarded |= 1 << j;
                self.forwarded |= 1 << i;
                match offered.kind() {
                    ProtocolKind::WebSocket => websocket = true,
                    ProtocolKind::H2c => request.h2c = true,
                    // (Tunnel never comes from a token.)
                    ProtocolKind::Tls | ProtocolKind::Other | ProtocolKind::Tunnel => {}
                }
            }
        }
        if request.forwarded == 0 {
            request.refusal = Some(Refusal::NotAllowed);
            return Ok(request);
        }
        if request.h2c {
            // RFC 7540 §3.2.1: one HTTP2-Settings, nominated by Connection;
            // an unusable offer is answered as an h2c server would (400).
            upgrade::check_h2c_offer(headers, facts.conn_http2_settings)?;
        }
        if websocket {
            // The relay answers an unusable offer as the server would, and
            // keeps the accept key the 101 must carry.
            upgrade::check_websocket_offer(&head)?;
            let key = headers.values(Field::SecWebSocketKey).next().unwrap_or(&[]);
            self.ws_accept = Some(accept_key(key));
        }
        Ok(request)
    }

    fn read_request_body<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Received<Event<'b>>, PeerErrorKind> {
        let got = self.read_body(buf, false)?;
        if ends(&got) {
            self.follow(RelayInput::RequestBodyEnd);
        }
        Ok(got)
    }

    fn read_response_body<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Received<Event<'b>>, PeerErrorKind> {
        let got = self.read_body(buf, self.dechunk)?;
        if ends(&got) {
            self.end_response();
        }
        Ok(got)
    }

    /// One step of the body decoder: the bytes to forward (all consumed
    /// bytes, or only the data when `data_only`) and whether the body ended.
    fn read_body<'b>(
        &mut self,
        buf: &'b [u8],
        data_only: bool,
    ) -> Result<Received<Event<'b>>, PeerErrorKind> {
        let limits = self.config.limits;
        let before = self.body;
        let (consumed, step) = match self.body.decode(buf, &limits) {
            Ok(done) => done,
            Err(kind) if data_only => return Err(kind),
            Err(kind) => {
                // The framing bytes before the error were accepted: had they
                // come in an earlier read, they would have been forwarded.
                // Forward them now, and fail on the next call, so that every
                // split tells the same story. Only this error path decodes
                // again (a byte at a time: the bytes before an error in one
                // call are framing, never data).
                self.body = before;
                let mut valid = 0;
                while let Some(byte) = buf.get(valid..valid + 1) {
                    // On a copy: a failing byte may have moved the decoder.
                    let mut next = self.body;
                    match next.decode(byte, &limits) {
                        Ok((1, _)) => {
                            self.body = next;
                            valid += 1;
                        }
                        _ => break,
                    }
                }
                if valid == 0 {
                    return Err(kind);
                }
                return Ok(Received {
                    consumed: valid,
                    event: Some(Event::Body {
                        bytes: &buf[..valid],
                        end: false,
                    }),
                });
            }
        };
        let bytes = match (data_only, step) {
            (false, _) => &buf[..consumed],
            (true, Some(BodyStep::Data(data))) => data,
            (true, _) => &[],
        };
        let end = matches!(step, Some(BodyStep::End)) || self.body.is_done();
        Ok(Received {
            consumed,
            event: (end || !bytes.is_empty()).then_some(Event::Body { bytes, end }),
        })
    }

    /// The response is complete: close, or wait for the next request (a
    /// new exchange, whose errors can be answered again).
    fn end_response(&mut self) {
        if self.close_after_response() {
            self.follow(RelayInput::ResponseEndClose);
        } else {
            self.follow(RelayInput::ResponseEndKeepAlive);
            self.final_forwarded = false;
        }
    }

    /// Decided when the final response head arrived (see `final_kind`).
    fn close_after_response(&self) -> bool {
        !self.config.keep_alive || self.client_close || self.downstream_ended
    }

    fn read_response_head<'b>(&mut self, buf: &'b [u8]) -> Result<Received<Event<'b>>, Upstream>
    where
        'a: 'b,
    {
        let limits = self.config.limits;
        let mut offset = 0;
        loop {
            let rest = &buf[offset..];
            let Some((len, head, facts)) =
                self.response_reader.read_response(rest, &limits, false)?
            else {
                return Ok(Received {
                    consumed: offset,
                    event: None,
                });
            };
            let consumed = offset + len;
            check_connection_options(head.headers())?;
            let status = head.status();
            if status == 101 {
                let response = self.verify_switch(head, &facts)?;
                self.final_forwarded = true;
                self.follow(RelayInput::Switch);
                return Ok(Received {
                    consumed,
                    event: Some(Event::Switched(response)),
                });
            }
            if status < 200 {
                if head.minor_version() == 0 {
                    return Err(PeerErrorKind::UnexpectedInterim.into());
                }
                if self.client_http10 {
                    // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
                    offset = consumed;
                    continue;
                }
                self.follow(RelayInput::Interim);
                let response = ForwardResponse {
                    head,
                    kind: Kind::Interim,
                    protocol: &[],
                    declined: None,
                    via: self.config.via,
                    allow: self.config.allow,
                };
                return Ok(Received {
                    consumed,
                    event: Some(Event::Interim(response)),
                });
            }
            if self.client_http10
                && facts.te_not_chunked
                && head.minor_version() == 1
                && response_framing(status, self.head_request, &facts) == Framing::UntilClose
            {
                // A body in a transfer coding the relay cannot undo, which
                // an HTTP/1.0 client may not be sent (RFC 9112 §6.1): 502.
                // (Without a body, as for a HEAD, the field just goes.)
                return Err(PeerErrorKind::UnsupportedTransferCoding.into());
            }
            let response = self.final_response(head, &facts);
            return Ok(Received {
                consumed,
                event: Some(Event::Response(response)),
            });
        }
    }

    /// A final response: its framing, whether the relay closes after it,
    /// and the edge it takes.
    fn final_response<'b>(&mut self, head: ResponseHead<'b>, facts: &Facts) -> ForwardResponse<'b>
    where
        'a: 'b,
    {
        let early = matches!(
            self.state,
            RelayState::RequestBody | RelayState::UpgradeBody
        );
        let upgrading = matches!(
            self.state,
            RelayState::UpgradeBody | RelayState::AwaitingSwitch
        );
        let framing = response_framing(head.status(), self.head_request, facts);
        self.dechunk = self.client_http10 && framing == Framing::Chunked;
        // An early answer leaves the request body unread: the connection
        // cannot be reused, and the downstream is not read any more.
        let close = self.close_after_response()
            || early
            || framing == Framing::UntilClose
            || self.dechunk
            || facts.conn_close
            || head.minor_version() == 0;
        if close {
            self.client_close = true;
        }
        self.final_forwarded = true;
        self.body = BodyDecoder::new(framing);
        if self.body.is_done() {
            self.end_response();
        } else {
            self.follow(RelayInput::ResponseHeadWithBody);
        }
        ForwardResponse {
            head,
            kind: Kind::Final {
                close,
                strip_te: self.client_http10 && facts.transfer_encoding,
                upgrade_required: head.status() == 426 && !self.client_http10,
            },
            protocol: &[],
            declined: match (upgrading, head.minor_version()) {
                (false, _) => None,
                (true, 0) => Some(Declined::UpstreamHttp10),
                (true, _) => Some(Declined::ByUpstream),
            },
            via: self.config.via,
            allow: self.config.allow,
        }
    }

    /// The checks a 101 must pass before the relay tunnels (RFC 9110
    /// §15.2.2, RFC 6455 §4.1, RFC 9931).
    fn verify_switch<'b>(
        &self,
        head: ResponseHead<'b>,
        facts: &Facts,
    ) -> Result<ForwardResponse<'b>, Upstream>
    where
        'a: 'b,
    {
        use PeerErrorKind as K;
        let bad = Upstream::Switch;
        match self.state {
            RelayState::AwaitingSwitch => {}
            RelayState::UpgradeBody => return Err(bad(K::SwitchBeforeBodySent)),
            _ => return Err(K::UpstreamSwitchNotRequested.into()),
        }
        if head.minor_version() == 0 {
            return Err(bad(K::SwitchInHttp10));
        }
        if !facts.conn_upgrade {
            return Err(bad(K::SwitchWithoutConnectionUpgrade));
        }
        let headers = head.headers();
        let mut elements = headers.elements(Field::Upgrade);
        let (Some(element), None) = (elements.next(), elements.next()) else {
            return Err(bad(K::SwitchedToUnofferedProtocol));
        };
        let Some(protocol) = Protocol::parse(element) else {
            return Err(bad(K::SwitchedToUnofferedProtocol));
        };
        let forwarded = self
            .config
            .allow
            .iter()
            .take(MAX_TOKENS)
            .enumerate()
            .any(|(i, a)| {
                self.forwarded & 1 << i != 0
                    && Protocol::parse(a.as_bytes()).is_some_and(|a| a.matches(&protocol))
            });
        if !forwarded {
            return Err(bad(K::SwitchedToUnofferedProtocol));
        }
        if protocol.kind() == ProtocolKind::WebSocket {
            let mut accepts = headers.values(Field::SecWebSocketAccept);
            let (Some(accept), None) = (accepts.next(), accepts.next()) else {
                return Err(bad(K::AcceptMissing));
            };
            if self.ws_accept.as_ref().map(|a| &a[..]) != Some(accept) {
                return Err(bad(K::AcceptMismatch));
            }
        }
        Ok(ForwardResponse {
            head,
            kind: Kind::Switch,
            protocol: element,
            declined: None,
            via: self.config.via,
            allow: self.config.allow,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    /// Feeds `head` to one side in reads of `step` bytes (consumed bytes
    /// dropped, as a caller does) until its event; returns the head
    /// search's work.
    fn work_to_read(head: &[u8], step: usize, response: bool) -> usize {
        let limits = Limits::new().max_head_bytes(1 << 16).max_headers(128);
        let mut relay = Relay::new(RelayConfig::new().limits(limits));
        if response {
            let got = relay.receive_downstream(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
            assert!(got.is_ok_and(|g| g.event.is_some()));
        }
        let mut buf = Vec::new();
        crate::http1::work::take();
        for piece in head.chunks(step) {
            buf.extend_from_slice(piece);
            let got = if response {
                relay.receive_upstream(&buf)
            } else {
                relay.receive_downstream(&buf)
            };
            let got = got.unwrap();
            let (consumed, done) = (got.consumed, got.event.is_some());
            buf.drain(..consumed);
            if done {
                return crate::http1::work::take();
            }
        }
        panic!("no head in {} bytes", head.len());
    }

    /// Heads near the limit (empty lines before a request, many fields, a
    /// long value), fed one byte per read, cost at most a constant times
    /// the work of one read: the same bound as the server's.
    #[test]
    fn reading_heads_is_linear_however_they_are_split() {
        let limit = 1 << 16;
        let mut heads: Vec<(String, bool)> = Vec::new();
        let mut empty_lines = "\r\n".repeat((limit - 64) / 2);
        empty_lines.push_str("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        heads.push((empty_lines, false));
        let mut many_fields = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
        let mut response = String::from("HTTP/1.1 204 No Content\r\n");
        for i in 0..120 {
            many_fields.push_str(&std::format!("X-{i}: v\r\n"));
            response.push_str(&std::format!("X-{i}: v\r\n"));
        }
        many_fields.push_str("\r\n");
        response.push_str("\r\n");
        heads.push((many_fields, false));
        heads.push((response, true));
        let mut long_value = String::from("HTTP/1.1 204 No Content\r\nX: ");
        long_value.push_str(&"v".repeat(limit - 64));
        long_value.push_str("\r\n\r\n");
        heads.push((long_value, true));
        for (head, response) in heads {
            let whole = work_to_read(head.as_bytes(), head.len(), response);
            let bytewise = work_to_read(head.as_bytes(), 1, response);
            assert!(whole >= head.len() / 2, "the counter counts: {whole}");
            assert!(
                bytewise <= 7 * whole + 64,
                "{} bytes: {bytewise} steps byte by byte, {whole} whole",
                head.len()
            );
        }
    }

    #[test]
    fn doc_table_is_the_table() {
        table::assert_doc_matches(
            include_str!("mod.rs"),
            TRANSITIONS,
            RelayState::name,
            RelayInput::describe,
        );
    }
}
