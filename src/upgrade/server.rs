//! The server side of an HTTP/1.1 protocol switch.
//!
//! # Transition table
//!
//! Every state change is an edge of the [`TRANSITIONS`] array; this table
//! is the same list (a test compares them):
//!
//! | from              | input            | to                |
//! |-------------------|------------------|-------------------|
//! | `ReadingHead`     | head, no body    | `RequestReceived` |
//! | `ReadingHead`     | head with body   | `HeadReceived`    |
//! | `HeadReceived`    | `continue_body`  | `ReadingBody`     |
//! | `ReadingBody`     | body end         | `RequestReceived` |
//! | `RequestReceived` | `accept`         | `Switched`        |
//! | `RequestReceived` | `tunnel`         | `Switched`        |
//! | `HeadReceived`, `ReadingBody`, `RequestReceived` | `respond` | `Responded` |
//! | `ReadingHead`, `ReadingBody` | peer error | `Failed`     |
//!
//! A call whose edge is not in the table is a [`LocalError::WrongState`].
//!
//! State outside the table, which shapes the bytes written but never the
//! state reached: whether `100 Continue` was already sent (`accept` then
//! does not repeat it), whether the client allows keep-alive and sent
//! HTTP/1.0 (the `Connection` header of a response, and
//! [`ServerHandshake::keep_alive`]), whether the request was HEAD (no body
//! bytes), and whether the client offered WebSocket (a 426 then names the
//! version). The machine keeps none of the offers: [`Request::switch`]
//! checks a choice against the request while the caller holds it.
//!
//! Request bodies are read with the `request-body` feature (on by
//! default). Without it a request announcing a body is a peer error
//! ([`PeerErrorKind::RequestBodyUnsupported`], answered 413 with
//! `Connection: close`), so `HeadReceived` and `ReadingBody` are never
//! reached: what a WebSocket-only server, whose upgrades have no body,
//! needs, in less code. Likewise h2c offers are recognised with the `h2c`
//! feature (on by default), and ignored without it
//! ([`Request::h2c`]).

use crate::error::{Error, LocalError, PeerError, PeerErrorKind, Role};
use crate::http1::body::BodyDecoder;
#[cfg(feature = "request-body")]
use crate::http1::body::BodyStep;
use crate::http1::write::{
    CONTINUE_LINE, SWITCHING_LINE, Writer, check_headers, emit, emit_counted, emit_window,
    header_len,
};
use crate::http1::{
    Field, Framing, HeadReader, Header, Headers, Limits, ListElements, RequestHead, eq_ignore_case,
    is_only_element, request_framing, same_str, split_protocol,
};

use super::deflate;
use super::h2c::{self, H2cOffer};
use super::negotiation::{
    ExtensionList, Negotiation, check_extensions, check_subprotocol, find_protocol, list_of,
};
use super::protocol::{Protocol, ProtocolKind};
use super::websocket::{self, Extension, WebSocketOffer, accept_key};
use crate::Received;
use crate::table;

/// Server configuration.
///
/// ```
/// use protoswitch::{http1::Limits, upgrade::ServerConfig};
/// let config = ServerConfig::new().limits(Limits::new().max_head_bytes(4096));
/// assert_eq!(config.limits.max_head_bytes, 4096);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Limits on the request head and the non-data parts of a chunked body.
    pub limits: Limits,
}

impl ServerConfig {
    /// The defaults.
    pub const fn new() -> Self {
        ServerConfig {
            limits: Limits::new(),
        }
    }
    /// Sets [`ServerConfig::limits`].
    pub const fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// Where the server handshake is. See the module docs for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    /// Waiting for a complete request head.
    ReadingHead,
    /// The head arrived and a body follows: call
    /// [`ServerHandshake::continue_body`] to read it (this sends
    /// `100 Continue` when the client expects it), or
    /// [`ServerHandshake::respond`] to answer without reading it.
    HeadReceived,
    /// Reading the request body; `receive` yields `Body` chunks.
    ReadingBody,
    /// The whole request arrived: [`ServerHandshake::accept`] or
    /// [`ServerHandshake::respond`].
    RequestReceived,
    /// A 101 was written. Bytes not consumed by `receive` belong to the new
    /// protocol. See [`ServerHandshake::switched_to`].
    Switched,
    /// A final response was written. See [`ServerHandshake::keep_alive`].
    Responded,
    /// The request broke a rule; an error response is waiting in
    /// `poll_transmit`. Send it and close.
    Failed,
}

impl ServerState {
    /// The state's name. A call on 32-bit targets, as is
    /// `ServerHandshake::check`: their copies took flash (firmware .text
    /// 17,476 -> 17,428 B, .rodata 2,600 -> 2,516 B).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub const fn name(self) -> &'static str {
        match self {
            ServerState::ReadingHead => "ReadingHead",
            ServerState::HeadReceived => "HeadReceived",
            ServerState::ReadingBody => "ReadingBody",
            ServerState::RequestReceived => "RequestReceived",
            ServerState::Switched => "Switched",
            ServerState::Responded => "Responded",
            ServerState::Failed => "Failed",
        }
    }
}

/// What drives the server from one state to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerInput {
    /// A complete request head without a body.
    HeadWithoutBody,
    /// A complete request head announcing a body.
    HeadWithBody,
    /// The application calls `continue_body`.
    ContinueBody,
    /// The request body ended.
    BodyEnd,
    /// The application calls `accept`.
    Accept,
    /// The application calls `tunnel` (a CONNECT answered 2xx).
    Tunnel,
    /// The application calls `respond`.
    Respond,
    /// The request broke a rule (or the transport ended early).
    PeerError,
}

impl ServerInput {
    /// How the module docs' table names the input.
    pub const fn describe(self) -> &'static str {
        match self {
            ServerInput::HeadWithoutBody => "head, no body",
            ServerInput::HeadWithBody => "head with body",
            ServerInput::ContinueBody => "`continue_body`",
            ServerInput::BodyEnd => "body end",
            ServerInput::Accept => "`accept`",
            ServerInput::Tunnel => "`tunnel`",
            ServerInput::Respond => "`respond`",
            ServerInput::PeerError => "peer error",
        }
    }
}

/// The whole transition table of the server machine, one edge a row: the same edges
/// as the module docs (a test compares them), for tools and fuzzers.
pub const TRANSITIONS: &[(ServerState, ServerInput, ServerState)] = {
    use ServerInput as I;
    use ServerState as S;
    &[
        (S::ReadingHead, I::HeadWithoutBody, S::RequestReceived),
        (S::ReadingHead, I::HeadWithBody, S::HeadReceived),
        (S::HeadReceived, I::ContinueBody, S::ReadingBody),
        (S::ReadingBody, I::BodyEnd, S::RequestReceived),
        (S::RequestReceived, I::Accept, S::Switched),
        (S::RequestReceived, I::Tunnel, S::Switched),
        (S::HeadReceived, I::Respond, S::Responded),
        (S::ReadingBody, I::Respond, S::Responded),
        (S::RequestReceived, I::Respond, S::Responded),
        (S::ReadingHead, I::PeerError, S::Failed),
        (S::ReadingBody, I::PeerError, S::Failed),
    ]
};

/// An event from [`ServerHandshake::receive`], borrowing the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent<'b> {
    /// A complete request head. Decide now (or after the body).
    Request(Request<'b>),
    /// A piece of the request body (feature `request-body`).
    Body(&'b [u8]),
    /// The request body is complete: decide now (feature `request-body`).
    BodyEnd,
}

/// Whether an offer of a known protocol is present and usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offer {
    None,
    Valid,
    Invalid(PeerErrorKind),
}

/// A received request, validated, borrowed from the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'b> {
    head: RequestHead<'b>,
    upgrade_counts: bool,
    websocket: Offer,
    h2c: Offer,
    expect_continue: bool,
    framing: Framing,
}

impl<'b> Request<'b> {
    /// Method, target, version and headers.
    pub fn head(&self) -> &RequestHead<'b> {
        &self.head
    }
    /// The method.
    pub fn method(&self) -> &'b str {
        self.head.method()
    }
    /// The request target.
    pub fn target(&self) -> &'b str {
        self.head.target()
    }
    /// The headers, lent (`*req.headers()` is a copy of them, borrowing
    /// only the buffer).
    pub fn headers(&self) -> &Headers<'b> {
        self.head.headers()
    }

    /// The protocols offered, in the client's preference order. Empty unless
    /// the request is HTTP/1.1 and `Connection` lists `upgrade`
    /// (RFC 9110 §7.8).
    pub fn upgrade_offers(&self) -> impl Iterator<Item = Protocol<'b>> + use<'b> {
        let counts = self.upgrade_counts;
        let headers = self.head.headers();
        headers
            .elements(Field::Upgrade)
            .filter(move |_| counts)
            .filter_map(Protocol::parse)
    }

    /// `true` when `protocol` (e.g. `"echo/1"`) is among the offers.
    pub fn offers(&self, protocol: &str) -> bool {
        Protocol::parse(protocol.as_bytes())
            .is_some_and(|p| self.upgrade_offers().any(|o| o.matches(&p)))
    }

    /// The WebSocket offer: `Ok(None)` when not offered, `Err` with the
    /// reason (and the status to answer) when offered but unusable.
    ///
    /// The error is advisory: the request itself was well-formed HTTP, so
    /// the machine queued nothing and stays in `RequestReceived` (or
    /// `HeadReceived`). Answer it yourself, usually with
    /// `respond(&Response::for_error(&e), out)`, or ignore the offer. Errors
    /// that `receive` returns are different: the machine has failed and
    /// already queued its reply in `poll_transmit`.
    pub fn websocket(&self) -> Result<Option<WebSocketOffer<'b>>, PeerError> {
        match self.websocket {
            Offer::None => Ok(None),
            Offer::Valid => Ok(Some(WebSocketOffer::new(*self.head.headers()))),
            Offer::Invalid(kind) => Err(PeerError::new(kind, Role::Server)),
        }
    }

    /// Why this request offers no WebSocket upgrade, as far as its head
    /// shows: `None` when it offers one (usable or not: [`websocket`]
    /// says which, and why not). For an endpoint that requires WebSocket,
    /// this is what its 426 can tell a client behind proxies, since the
    /// usual culprit is an intermediary that dropped the hop-by-hop fields
    /// or spoke HTTP/1.0 to the server. The checks go in this order:
    ///
    /// | the request                                         | answer                      |
    /// |-----------------------------------------------------|-----------------------------|
    /// | HTTP/1.0 (whatever its fields)                      | `Some(Http10)`              |
    /// | no `Upgrade` field, or one naming no protocol       | `Some(NoUpgrade)`           |
    /// | `Upgrade`, but `Connection` does not list `upgrade` | `Some(NoConnectionUpgrade)` |
    /// | both, but no `websocket` among the offers           | `Some(OtherProtocol)`       |
    /// | both, `websocket` offered (usable or not)           | `None`                      |
    ///
    /// ```
    /// use protoswitch::upgrade::{MissingUpgrade, ServerEvent, ServerHandshake};
    ///
    /// let head = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
    ///     Connection: keep-alive\r\n\r\n";
    /// let mut server = ServerHandshake::new(Default::default());
    /// let Some(ServerEvent::Request(req)) = server.receive(head).unwrap().event else {
    ///     panic!()
    /// };
    /// let missing = req.missing_websocket_upgrade();
    /// assert_eq!(missing, Some(MissingUpgrade::NoConnectionUpgrade));
    /// // A short token for the 426, which a client parses back.
    /// assert_eq!(missing.unwrap().as_str(), "no-connection-upgrade");
    /// assert_eq!(MissingUpgrade::parse("no-connection-upgrade"), missing);
    /// ```
    ///
    /// [`websocket`]: Self::websocket
    pub fn missing_websocket_upgrade(&self) -> Option<MissingUpgrade> {
        let headers = self.head.headers();
        if self.head.minor_version() == 0 {
            Some(MissingUpgrade::Http10)
        } else if self.websocket != Offer::None {
            None
        } else if headers.elements(Field::Upgrade).next().is_none() {
            Some(MissingUpgrade::NoUpgrade)
        } else if !self.upgrade_counts {
            // HTTP/1.1 here: the Upgrade did not count for want of
            // `Connection: upgrade`.
            Some(MissingUpgrade::NoConnectionUpgrade)
        } else {
            Some(MissingUpgrade::OtherProtocol)
        }
    }

    /// The h2c offer: `Ok(None)` when not offered, `Err` when unusable (the
    /// server must then not upgrade, RFC 7540 §3.2.1). Advisory, like
    /// [`websocket`](Self::websocket): nothing was queued.
    ///
    /// Without the `h2c` feature (on by default) the server ignores h2c
    /// offers, as it would any protocol it does not implement: always
    /// `Ok(None)`, and [`switch`](Self::switch) refuses h2c
    /// ([`LocalError::NotOffered`]).
    pub fn h2c(&self) -> Result<Option<H2cOffer<'b>>, PeerError> {
        match self.h2c {
            Offer::None => Ok(None),
            Offer::Valid => h2c::check_offer(self.head.headers(), true)
                .map(Some)
                .map_err(|k| PeerError::new(k, Role::Server)),
            Offer::Invalid(kind) => Err(PeerError::new(kind, Role::Server)),
        }
    }

    /// For a CONNECT request, the `host:port` it asks a tunnel to
    /// (authority-form, checked by the parser); `None` for other methods.
    pub fn connect_target(&self) -> Option<&'b str> {
        same_str(self.head.method(), "CONNECT").then(|| self.head.target())
    }

    /// `true` when the client sent `Expect: 100-continue` (HTTP/1.1).
    pub fn expects_continue(&self) -> bool {
        self.expect_continue
    }

    /// Checks a choice to switch against this request: the protocol must be
    /// one of the offers (and, for WebSocket and h2c, a usable one), the
    /// subprotocol and the extensions must have been offered, the extra
    /// headers must be valid and not ones the machine writes. The
    /// [`Switch`] keeps what the 101 needs and borrows nothing of the
    /// request, so [`ServerHandshake::accept`] can write it now or after
    /// the body (the head may be gone by then).
    ///
    /// ```
    /// use protoswitch::upgrade::{Accept, ServerEvent, ServerHandshake};
    /// use protoswitch::LocalError;
    /// let mut server = ServerHandshake::new(Default::default());
    /// let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
    ///     Connection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
    /// let Some(ServerEvent::Request(req)) = server.receive(request).unwrap().event else {
    ///     panic!()
    /// };
    /// assert!(req.switch(&Accept::new("websocket").subprotocol("chat")).is_ok());
    /// assert_eq!(
    ///     req.switch(&Accept::new("websocket").subprotocol("other")),
    ///     Err(LocalError::SubprotocolNotOffered)
    /// );
    /// assert_eq!(req.switch(&Accept::new("h2c")), Err(LocalError::NotOffered));
    /// ```
    pub fn switch<'a>(&self, accept: &Accept<'a>) -> Result<Switch<'a>, LocalError> {
        let chosen = Protocol::parse_str(accept.protocol).ok_or(LocalError::InvalidToken)?;
        let counts = self.upgrade_counts;
        let headers = self.head.headers();
        let kind = chosen.kind();
        // WebSocket and h2c offers were found when the request was read
        // (`websocket` and `h2c` without a version, in an Upgrade that
        // counts); other protocols are looked up.
        let offer = match kind {
            ProtocolKind::WebSocket => self.websocket,
            ProtocolKind::H2c => self.h2c,
            _ => Offer::None,
        };
        match offer {
            Offer::Valid => {}
            Offer::Invalid(k) => return Err(LocalError::OfferInvalid(k)),
            Offer::None => {
                // RFC 7540 §3.2: a server MUST ignore an `h2` token (HTTP/2
                // over TLS, negotiated by ALPN, never by Upgrade).
                let h2 = chosen.version().is_none() && chosen.name().eq_ignore_ascii_case("h2");
                if h2 || matches!(kind, ProtocolKind::WebSocket | ProtocolKind::H2c) {
                    return Err(LocalError::NotOffered);
                }
                find_protocol(headers.elements(Field::Upgrade).filter(|_| counts), &chosen)?;
            }
        }
        let is_ws = kind == ProtocolKind::WebSocket;
        if let Some(sp) = accept.subprotocol {
            if !is_ws {
                return Err(LocalError::SubprotocolNotOffered);
            }
            check_subprotocol(headers.elements(Field::SecWebSocketProtocol), sp.as_bytes())?;
        }
        match accept.extensions {
            Some(_) if !is_ws => return Err(LocalError::ExtensionNotOffered),
            Some(value) => {
                let offer = WebSocketOffer::new(*headers);
                check_extensions(list_of(value), |name| {
                    offer
                        .extensions()
                        .any(|e| eq_ignore_case(e.name().as_bytes(), name.as_bytes()))
                })?;
                // RFC 7692 §7.1: permessage-deflate's parameters must
                // answer one of the offers.
                let selected = list_of(value).filter_map(Extension::parse);
                let offers = headers.elements(Field::SecWebSocketExtensions);
                if !deflate::selection_answers_offers(selected, offers) {
                    return Err(LocalError::ExtensionNotOffered);
                }
            }
            None => {}
        }
        check_headers(accept.headers, ACCEPT_RESERVED)?;
        let ws_accept =
            is_ws.then(|| accept_key(headers.values(Field::SecWebSocketKey).next().unwrap_or(b"")));
        Ok(Switch {
            accept: *accept,
            protocol: chosen,
            kind,
            ws_accept,
        })
    }

    /// How the request body is framed.
    pub fn framing(&self) -> Framing {
        self.framing
    }
}

/// Why a request offers no WebSocket upgrade:
/// [`Request::missing_websocket_upgrade`]. Each has a stable short token
/// ([`as_str`](Self::as_str), [`parse`](Self::parse)) that a server can
/// put in its 426 for clients to read by machine instead of by prose.
///
/// ```
/// use protoswitch::upgrade::MissingUpgrade;
///
/// for missing in [
///     MissingUpgrade::Http10,
///     MissingUpgrade::NoUpgrade,
///     MissingUpgrade::NoConnectionUpgrade,
///     MissingUpgrade::OtherProtocol,
/// ] {
///     assert_eq!(MissingUpgrade::parse(missing.as_str()), Some(missing));
/// }
/// assert_eq!(MissingUpgrade::Http10.as_str(), "http-1.0");
/// assert_eq!(MissingUpgrade::parse("No-Upgrade"), Some(MissingUpgrade::NoUpgrade));
/// assert_eq!(MissingUpgrade::parse("arrived without"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissingUpgrade {
    /// `http-1.0`: an HTTP/1.0 request, which cannot switch protocols
    /// (RFC 9110 §7.8): a hop on the way speaks HTTP/1.0 to the server.
    Http10,
    /// `no-upgrade`: no `Upgrade` field (or one naming no protocol): an
    /// intermediary removed it (it is hop-by-hop), or the client sent none.
    NoUpgrade,
    /// `no-connection-upgrade`: `Upgrade` without `upgrade` in `Connection`,
    /// so the offer does not count: an intermediary rewrote `Connection`.
    NoConnectionUpgrade,
    /// `other-protocol`: a valid upgrade offer, but not of WebSocket.
    OtherProtocol,
}

impl MissingUpgrade {
    /// The token: lowercase ASCII letters, digits, `-` and `.`, valid as a
    /// field value and a line of text.
    pub const fn as_str(self) -> &'static str {
        match self {
            MissingUpgrade::Http10 => "http-1.0",
            MissingUpgrade::NoUpgrade => "no-upgrade",
            MissingUpgrade::NoConnectionUpgrade => "no-connection-upgrade",
            MissingUpgrade::OtherProtocol => "other-protocol",
        }
    }

    /// The reason a token names, ignoring ASCII case; `None` for anything
    /// else (surrounding whitespace included: trim it first).
    pub fn parse(token: &str) -> Option<Self> {
        [
            MissingUpgrade::Http10,
            MissingUpgrade::NoUpgrade,
            MissingUpgrade::NoConnectionUpgrade,
            MissingUpgrade::OtherProtocol,
        ]
        .into_iter()
        .find(|m| eq_ignore_case(m.as_str().as_bytes(), token.as_bytes()))
    }
}

impl core::fmt::Display for MissingUpgrade {
    /// The token.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The application's choice to switch: the protocol (as offered), and for
/// WebSocket the subprotocol and extensions, plus any extra headers.
///
/// ```
/// use protoswitch::{Header, upgrade::Accept};
/// let extra = [Header::new("Set-Cookie", b"session=1")];
/// let accept = Accept::new("websocket").subprotocol("chat").headers(&extra);
/// # let _ = accept;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accept<'a> {
    protocol: &'a str,
    subprotocol: Option<&'a str>,
    extensions: Option<&'a str>,
    headers: &'a [Header<'a>],
}

impl<'a> Accept<'a> {
    /// Switch to `protocol`, which must be one of the client's offers.
    pub const fn new(protocol: &'a str) -> Self {
        Accept {
            protocol,
            subprotocol: None,
            extensions: None,
            headers: &[],
        }
    }
    /// Select a WebSocket subprotocol the client offered.
    pub const fn subprotocol(mut self, name: &'a str) -> Self {
        self.subprotocol = Some(name);
        self
    }
    /// The `Sec-WebSocket-Extensions` value to answer with; every extension
    /// named must have been offered.
    pub const fn extensions(mut self, value: &'a str) -> Self {
        self.extensions = Some(value);
        self
    }
    /// Extra headers for the 101 response.
    pub const fn headers(mut self, headers: &'a [Header<'a>]) -> Self {
        self.headers = headers;
        self
    }
}

/// A choice to switch, checked against the request by [`Request::switch`]:
/// what [`ServerHandshake::accept`] writes in the 101 (for WebSocket, with
/// the `Sec-WebSocket-Accept` the request's key implies). Borrows only the
/// [`Accept`]'s strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch<'a> {
    accept: Accept<'a>,
    /// `accept`'s protocol, parsed.
    protocol: Protocol<'a>,
    /// `protocol.kind()`, kept from the checks for the switch.
    kind: ProtocolKind,
    ws_accept: Option<[u8; 28]>,
}

impl<'a> Switch<'a> {
    /// What the 101 agrees: the protocol, and for WebSocket the subprotocol
    /// and extensions.
    pub fn negotiation(&self) -> Negotiation<'a> {
        Negotiation {
            role: Role::Server,
            protocol: self.protocol,
            subprotocol: self.accept.subprotocol,
            extensions: ExtensionList::Value(self.accept.extensions.unwrap_or("").as_bytes()),
        }
    }
}

/// How a response body is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body<'a> {
    Bytes(&'a [u8]),
    /// Only `Content-Length`; the caller writes the bytes after the head.
    Length(u64),
}

/// A final response other than 101: any status from 200 to 599.
///
/// ```
/// use protoswitch::{Header, upgrade::Response};
/// let h = [Header::new("WWW-Authenticate", b"Bearer")];
/// let r = Response::new(401).headers(&h).body(b"log in first\n");
/// let r426 = Response::upgrade_required(&["websocket"]);
/// # let _ = (r, r426);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    status: u16,
    headers: &'a [Header<'a>],
    body: Body<'a>,
    upgrade: &'a [&'a str],
}

const TEXT_PLAIN: &[Header<'static>] = &[Header::new("Content-Type", b"text/plain; charset=utf-8")];

impl<'a> Response<'a> {
    /// A response with `status` and no body.
    pub const fn new(status: u16) -> Self {
        Response {
            status,
            headers: &[],
            body: Body::Bytes(&[]),
            upgrade: &[],
        }
    }

    /// `426 Upgrade Required` listing the protocols the server supports. When
    /// `websocket` is among them, `Sec-WebSocket-Version: 13` is added
    /// (RFC 6455 §4.4).
    pub const fn upgrade_required(protocols: &'a [&'a str]) -> Self {
        Response::new(426).upgrade(protocols)
    }

    /// The response a peer error implies: its status, and its diagnosis as
    /// a plain-text body. A WebSocket version mismatch gives 426 with
    /// `Upgrade: websocket` and `Sec-WebSocket-Version: 13`.
    // A call on 32-bit targets: the firmware's own error replies and the
    // one `poll_transmit` owes each built it (.text 17,096 -> 17,000 B).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub fn for_error(error: &PeerError) -> Response<'static> {
        let status = error.status().unwrap_or(400);
        let r = Response::new(status)
            .headers(TEXT_PLAIN)
            .body(error.message().as_bytes());
        if status == 426 {
            r.upgrade(&["websocket"])
        } else {
            r
        }
    }

    /// Extra headers (not `Content-Length`, `Transfer-Encoding`,
    /// `Connection` or `Upgrade`: the machine writes those).
    pub const fn headers(mut self, headers: &'a [Header<'a>]) -> Self {
        self.headers = headers;
        self
    }

    /// The body, copied after the head; `Content-Length` is set from it.
    pub const fn body(mut self, body: &'a [u8]) -> Self {
        self.body = Body::Bytes(body);
        self
    }

    /// Only announce a body of `len` bytes: the head ends with
    /// `Content-Length: len` and the caller writes the body itself.
    pub const fn body_len(mut self, len: u64) -> Self {
        self.body = Body::Length(len);
        self
    }

    /// Protocols to list in `Upgrade` (with `Connection: upgrade`).
    pub const fn upgrade(mut self, protocols: &'a [&'a str]) -> Self {
        self.upgrade = protocols;
        self
    }

    /// The status.
    pub const fn status(&self) -> u16 {
        self.status
    }
}

const RESPONSE_RESERVED: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
];
const ACCEPT_RESERVED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// The server handshake machine. See the [module docs](self) for the
/// transition table and [`crate`] for the I/O loop.
///
/// ```
/// use protoswitch::upgrade::{Accept, ServerEvent, ServerHandshake, ServerState};
///
/// let mut server = ServerHandshake::new(Default::default());
/// let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let got = server.receive(request).unwrap();
/// assert_eq!(got.consumed, request.len());
/// let Some(ServerEvent::Request(req)) = got.event else { panic!() };
/// assert!(req.websocket().unwrap().is_some());
///
/// let switch = req.switch(&Accept::new("websocket")).unwrap();
/// let mut out = [0u8; 256];
/// let n = server.accept(&switch, &mut out).unwrap();
/// assert_eq!(
///     &out[..n],
///     &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"[..]
/// );
/// assert_eq!(server.state(), ServerState::Switched);
/// ```
#[derive(Debug, Clone)]
pub struct ServerHandshake {
    config: ServerConfig,
    state: ServerState,
    head_reader: HeadReader,
    body: BodyDecoder,
    head_request: bool,
    http10: bool,
    expect_continue: bool,
    continue_sent: bool,
    client_keep_alive: bool,
    keep_alive: bool,
    /// The client offered WebSocket: a 426 names the version it needs.
    offered_websocket: bool,
    /// The request is a CONNECT: `tunnel` may answer it, and a refusal
    /// closes the connection (RFC 9931).
    connect: bool,
    /// The status `respond` wrote.
    responded: u16,
    /// What `accept` switched to.
    switched_to: Option<ProtocolKind>,
    error: Option<PeerErrorKind>,
    /// How much of the error response `poll_transmit` handed out (the
    /// response is written again from `error` at each call, not stored).
    reply_sent: usize,
}

impl ServerHandshake {
    /// A machine waiting for a request head.
    pub fn new(config: ServerConfig) -> Self {
        ServerHandshake {
            config,
            state: ServerState::ReadingHead,
            head_reader: HeadReader::default(),
            body: BodyDecoder::new(Framing::None),
            head_request: false,
            http10: false,
            expect_continue: false,
            continue_sent: false,
            client_keep_alive: false,
            keep_alive: false,
            offered_websocket: false,
            connect: false,
            responded: 0,
            switched_to: None,
            error: None,
            reply_sent: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// After a 101: the kind of protocol switched to. What was agreed is
    /// the caller's [`Switch`] (see [`Switch::negotiation`]): the machine
    /// does not copy it.
    pub fn switched_to(&self) -> Option<ProtocolKind> {
        self.switched_to
    }

    /// After a final response: `true` when the connection may carry another
    /// request (the body was read, and neither side asked to close). Start a
    /// new `ServerHandshake` on the unconsumed bytes.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The peer error that put the machine in `Failed`.
    pub fn error(&self) -> Option<PeerError> {
        self.error.map(|kind| PeerError::new(kind, Role::Server))
    }

    /// The status of the final response this machine wrote, for logging
    /// without re-reading the bytes: 101 after [`accept`](Self::accept)
    /// (what was agreed is the caller's [`Switch`]), the
    /// status given to [`respond`](Self::respond), or the status of the
    /// error reply it queued after a peer error.
    pub fn response_status(&self) -> Option<u16> {
        match self.state {
            ServerState::Switched => Some(101),
            ServerState::Responded => Some(self.responded),
            ServerState::Failed => self.error().and_then(|e| e.status()),
            ServerState::ReadingHead
            | ServerState::HeadReceived
            | ServerState::ReadingBody
            | ServerState::RequestReceived => None,
        }
    }

    /// Follows the table's edge for `input`; without one, the state stays
    /// and the call is a wrong-state error (see [`crate::table`]).
    fn go(&mut self, input: ServerInput, operation: &'static str) -> Result<(), LocalError> {
        match table::next(TRANSITIONS, self.state, input) {
            Some(next) => {
                self.state = next;
                Ok(())
            }
            None => Err(self.wrong_state(operation)),
        }
    }

    /// [`go`](Self::go) for an input whose edge is known to exist: one
    /// the machine derives from the peer's bytes (every state that reads
    /// has their edges), or one [`check`](Self::check) allowed at the
    /// start of the call (the state has not changed since). A miss is a
    /// bug, and there is no error to build (firmware .text 18,712 ->
    /// 18,480 B, .rodata 2,712 -> 2,600 B, against a second fallible `go`).
    // A call on 32-bit targets, where `go` was inlined into its four
    // sites (firmware .text 16,236 -> 16,164 B); 64-bit targets inline it.
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn follow(&mut self, input: ServerInput) {
        let followed = self.go(input, "receive");
        debug_assert!(followed.is_ok(), "no edge for {input:?}: {followed:?}");
    }

    fn wrong_state(&self, operation: &'static str) -> LocalError {
        LocalError::WrongState {
            operation,
            state: self.state.name(),
        }
    }

    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn check(&self, input: ServerInput, operation: &'static str) -> Result<(), LocalError> {
        match table::next(TRANSITIONS, self.state, input) {
            Some(_) => Ok(()),
            None => Err(self.wrong_state(operation)),
        }
    }

    /// Feeds received bytes. Consumes a prefix of `buf` (`consumed`) and
    /// returns at most one event borrowing `buf`. `event: None` means more
    /// bytes are needed: keep the unconsumed bytes, append more, call again.
    ///
    /// On a peer error the machine is `Failed` and `poll_transmit` holds the
    /// error response. Without the `request-body` feature a request that
    /// announces a body is such an error
    /// ([`PeerErrorKind::RequestBodyUnsupported`], 413).
    pub fn receive<'b>(&mut self, buf: &'b [u8]) -> Result<Received<ServerEvent<'b>>, Error> {
        let result = match self.state {
            ServerState::ReadingHead => self.read_head(buf),
            // Without the feature no request with a body is accepted, so
            // the machine never gets here (and the decoder is not linked).
            #[cfg(feature = "request-body")]
            ServerState::ReadingBody => self.read_body(buf),
            _ => return Err(self.wrong_state("receive").into()),
        };
        result.map_err(|kind| self.fail(kind).into())
    }

    /// The transport reached end of stream: a peer error while a head or
    /// a body is being read ([`PeerErrorKind::ClosedBeforeHead`],
    /// [`PeerErrorKind::ClosedInBody`]), nothing otherwise. A request body
    /// never ends with the transport, so this never yields an event; the
    /// shape is the one every machine's `receive_eof` has.
    pub fn receive_eof(&mut self) -> Result<Option<ServerEvent<'static>>, Error> {
        let kind = match self.state {
            ServerState::ReadingHead => PeerErrorKind::ClosedBeforeHead,
            ServerState::ReadingBody => PeerErrorKind::ClosedInBody,
            _ => return Ok(None),
        };
        Err(self.fail(kind).into())
    }

    fn fail(&mut self, kind: PeerErrorKind) -> PeerError {
        self.follow(ServerInput::PeerError);
        self.error = Some(kind);
        self.reply_sent = 0;
        PeerError::new(kind, Role::Server)
    }

    /// The error response owed in `Failed` (none for an error without a
    /// status, such as the transport ending).
    fn write_error_reply(&self, w: &mut Writer<'_>) {
        let Some(error) = self.error() else {
            return;
        };
        if error.status().is_none() {
            return;
        }
        let answering = Answering {
            keep_alive: false,
            http10: self.http10,
            head_request: false,
            offered_websocket: self.offered_websocket,
        };
        write_response(w, &Response::for_error(&error), answering);
    }

    fn read_head<'b>(&mut self, buf: &'b [u8]) -> Result<Received<ServerEvent<'b>>, PeerErrorKind> {
        let limits = self.config.limits;
        // A match, not `?` and `let else`: `?` moved the whole result into
        // a temporary first, on 32-bit targets an 8-aligned copy (see
        // `http1::head::parse_found_request`) that linked `__aeabi_memcpy8`.
        let (end, head, facts) = match self.head_reader.read_request(buf, &limits) {
            Ok(Some((_, end, head, facts))) => (end, head, facts),
            Ok(None) => return Ok(Received::nothing()),
            Err(kind) => return Err(kind),
        };
        let headers = head.headers();
        // RFC 9110 §7.8: an Upgrade counts only in HTTP/1.1 with
        // `Connection: upgrade`.
        let upgrade_counts = head.minor_version() == 1 && facts.conn_upgrade;
        let (mut websocket, mut h2c) = (Offer::None, Offer::None);
        if upgrade_counts {
            // The checks are pure: a repeated offer gets the same answer.
            let mut offered = |kind| match kind {
                ProtocolKind::WebSocket if websocket == Offer::None => {
                    websocket = match websocket::check_offer(&head) {
                        Ok(()) => Offer::Valid,
                        Err(kind) => Offer::Invalid(kind),
                    };
                }
                // Without the feature h2c offers are ignored: never
                // checked, so never switched to.
                ProtocolKind::H2c if cfg!(feature = "h2c") && h2c == Offer::None => {
                    h2c = match h2c::check_offer(headers, facts.conn_http2_settings) {
                        Ok(_) => Offer::Valid,
                        Err(kind) => Offer::Invalid(kind),
                    };
                }
                _ => {}
            };
            for value in headers.values(Field::Upgrade) {
                // `websocket` alone: a token without a version.
                if is_only_element(value, b"websocket") {
                    offered(ProtocolKind::WebSocket);
                    continue;
                }
                for element in ListElements::new(value) {
                    // Only the kind is needed: no strings made of the parts.
                    let (name, version) =
                        split_protocol(element).ok_or(PeerErrorKind::BadUpgradeToken)?;
                    offered(ProtocolKind::of(name, version.is_some()));
                }
            }
        }
        self.offered_websocket = websocket != Offer::None;
        let framing = request_framing(&facts);
        self.head_request = same_str(head.method(), "HEAD");
        self.connect = same_str(head.method(), "CONNECT");
        self.http10 = head.minor_version() == 0;
        self.expect_continue = facts.expect_continue && head.minor_version() == 1;
        self.client_keep_alive =
            !facts.conn_close && (head.minor_version() == 1 || facts.conn_keep_alive);
        self.body = BodyDecoder::new(framing);
        if !self.body.is_done() && !cfg!(feature = "request-body") {
            return Err(PeerErrorKind::RequestBodyUnsupported);
        }
        let input = if self.body.is_done() {
            ServerInput::HeadWithoutBody
        } else {
            ServerInput::HeadWithBody
        };
        self.follow(input);
        let request = Request {
            head,
            upgrade_counts,
            websocket,
            h2c,
            expect_continue: self.expect_continue,
            framing,
        };
        Ok(Received {
            consumed: end,
            event: Some(ServerEvent::Request(request)),
        })
    }

    #[cfg(feature = "request-body")]
    fn read_body<'b>(&mut self, buf: &'b [u8]) -> Result<Received<ServerEvent<'b>>, PeerErrorKind> {
        let (consumed, step) = self.body.decode(buf, &self.config.limits)?;
        let event = match step {
            None => None,
            Some(BodyStep::Data(d)) => Some(ServerEvent::Body(d)),
            Some(BodyStep::End) => {
                self.follow(ServerInput::BodyEnd);
                Some(ServerEvent::BodyEnd)
            }
        };
        Ok(Received { consumed, event })
    }

    /// Reads the request body: writes `HTTP/1.1 100 Continue` into `out`
    /// when the client expects it (returns 0 otherwise). Allowed in
    /// `HeadReceived`, which only the `request-body` feature reaches
    /// (without it, a wrong-state error).
    pub fn continue_body(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        self.check(ServerInput::ContinueBody, "continue_body")?;
        let send = self.expect_continue && !self.continue_sent;
        let n = emit(out, |w| {
            if send {
                write_continue(w);
            }
        })?;
        self.continue_sent |= send;
        self.follow(ServerInput::ContinueBody);
        Ok(n)
    }

    /// Switches protocols: writes the 101 for `switch` (preceded by
    /// `100 Continue` if the client expected one and none was sent, RFC
    /// 9110 §7.8) into `out`. Allowed once the whole request is received.
    /// `switch` must come from [`Request::switch`] on this machine's
    /// request: it carries the checked choice and the accept key.
    pub fn accept(&mut self, switch: &Switch<'_>, out: &mut [u8]) -> Result<usize, Error> {
        self.check(ServerInput::Accept, "accept")?;
        if self.connect {
            // A CONNECT is answered by `tunnel` or `respond`, never a 101.
            return Err(LocalError::InvalidConnect.into());
        }
        let send_continue = self.expect_continue && !self.continue_sent;
        let n = emit_counted(out, switch_len(switch, send_continue), |w| {
            write_switch(w, switch, send_continue);
        })?;
        self.switched_to = Some(switch.kind);
        self.follow(ServerInput::Accept);
        Ok(n)
    }

    /// Answers a CONNECT request (RFC 9110 §9.3.6) with `200 Connection
    /// Established` and `headers`, and writes it into `out`: the
    /// connection is now a tunnel to [`Request::connect_target`], and the
    /// bytes after the request head are the tunnel's. Refuse a CONNECT
    /// with [`respond`](Self::respond) (403, 407 with
    /// `Proxy-Authenticate`, ...): the connection then closes.
    ///
    /// ```
    /// use protoswitch::upgrade::{ServerEvent, ServerHandshake, ServerState};
    /// let mut server = ServerHandshake::new(Default::default());
    /// let got = server.receive(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").unwrap();
    /// let Some(ServerEvent::Request(request)) = got.event else { panic!() };
    /// assert_eq!(request.connect_target(), Some("example.com:443"));
    /// let mut out = [0u8; 64];
    /// let n = server.tunnel(&[], &mut out).unwrap();
    /// assert_eq!(&out[..n], b"HTTP/1.1 200 Connection Established\r\n\r\n");
    /// assert_eq!(server.state(), ServerState::Switched);
    /// ```
    pub fn tunnel(&mut self, headers: &[Header<'_>], out: &mut [u8]) -> Result<usize, Error> {
        self.check(ServerInput::Tunnel, "tunnel")?;
        if !self.connect {
            return Err(LocalError::NotConnect.into());
        }
        check_headers(headers, RESPONSE_RESERVED)?;
        let n = emit(out, |w| {
            w.put(b"HTTP/1.1 200 Connection Established\r\n");
            for h in headers {
                w.header(h.name, h.value);
            }
            w.put(b"\r\n");
        })?;
        self.switched_to = Some(ProtocolKind::Tunnel);
        self.follow(ServerInput::Tunnel);
        Ok(n)
    }

    /// Answers with a final status other than 101 and writes it into `out`.
    /// Allowed after the head (the body is then not read and the connection
    /// must close), while reading the body, or after it.
    pub fn respond(&mut self, response: &Response<'_>, out: &mut [u8]) -> Result<usize, Error> {
        self.check(ServerInput::Respond, "respond")?;
        let status = response.status;
        if !(200..=599).contains(&status) {
            return Err(LocalError::InvalidStatus(status).into());
        }
        // A 426 names what it requires (RFC 9110 §15.5.22); a 2xx to
        // CONNECT is the tunnel ([`tunnel`](Self::tunnel)), which has no
        // content fields (RFC 9110 §9.3.6) and is not followed by a close.
        if status == 426 && response.upgrade.is_empty()
            || self.connect && (200..300).contains(&status)
        {
            return Err(LocalError::InvalidStatus(status).into());
        }
        // Each must be `name[/version]` of tokens: split, not parsed into
        // strings that would not be used.
        if response
            .upgrade
            .iter()
            .any(|p| split_protocol(p.as_bytes()).is_none())
        {
            return Err(LocalError::InvalidToken.into());
        }
        check_headers(response.headers, RESPONSE_RESERVED)?;
        // A refused CONNECT closes (RFC 9931): bytes the client sent after
        // its request may be meant for the tunnel, never for us.
        let keep_alive =
            self.state == ServerState::RequestReceived && self.client_keep_alive && !self.connect;
        let answering = Answering {
            keep_alive,
            http10: self.http10,
            head_request: self.head_request,
            offered_websocket: self.offered_websocket,
        };
        let n = emit(out, |w| write_response(w, response, answering))?;
        self.keep_alive = keep_alive;
        self.responded = status;
        self.follow(ServerInput::Respond);
        Ok(n)
    }

    /// Copies the error response the machine owes (after a peer error) into
    /// `out`; returns how many bytes were copied, 0 when nothing is pending.
    /// Call until it returns 0.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let n = emit_window(out, self.reply_sent, |w| self.write_error_reply(w));
        self.reply_sent += n;
        n
    }
}

/// The 101 for `switch`, after a 100 when `send_continue`.
fn write_switch(w: &mut Writer<'_>, switch: &Switch<'_>, send_continue: bool) {
    let accept = &switch.accept;
    if send_continue {
        write_continue(w);
    }
    w.status_line(101);
    w.header("Upgrade", accept.protocol.as_bytes());
    w.header("Connection", b"Upgrade");
    if let Some(key) = &switch.ws_accept {
        w.header("Sec-WebSocket-Accept", key);
        if let Some(sp) = accept.subprotocol {
            w.header("Sec-WebSocket-Protocol", sp.as_bytes());
        }
        if let Some(ext) = accept.extensions {
            w.header("Sec-WebSocket-Extensions", ext.as_bytes());
        }
    }
    for h in accept.headers {
        w.header(h.name, h.value);
    }
    w.put(b"\r\n");
}

/// The length of what [`write_switch`] writes, line by line, so that the
/// 101 is written in one pass (a test compares it with the writer's
/// count for every kind of line).
fn switch_len(switch: &Switch<'_>, send_continue: bool) -> usize {
    let accept = &switch.accept;
    let mut n = if send_continue {
        CONTINUE_LINE.len() + 2
    } else {
        0
    };
    n += SWITCHING_LINE.len()
        + header_len("Upgrade", accept.protocol.as_bytes())
        + header_len("Connection", b"Upgrade");
    if let Some(key) = &switch.ws_accept {
        n += header_len("Sec-WebSocket-Accept", key);
        if let Some(sp) = accept.subprotocol {
            n += header_len("Sec-WebSocket-Protocol", sp.as_bytes());
        }
        if let Some(ext) = accept.extensions {
            n += header_len("Sec-WebSocket-Extensions", ext.as_bytes());
        }
    }
    for h in accept.headers {
        n += header_len(h.name, h.value);
    }
    n + 2
}

fn write_continue(w: &mut Writer<'_>) {
    w.status_line(100);
    w.put(b"\r\n");
}

/// What a final response depends on besides the [`Response`] itself.
#[derive(Debug, Clone, Copy)]
struct Answering {
    /// The connection stays open after the response.
    keep_alive: bool,
    /// The request was HTTP/1.0: keeping the connection needs an explicit
    /// `Connection: keep-alive` (RFC 9112 §9.3), or a 1.0 client closes.
    http10: bool,
    /// The request was HEAD: no body bytes.
    head_request: bool,
    /// The client offered WebSocket: a 426 names the version it needs.
    offered_websocket: bool,
}

/// Writes a final response head (and body bytes, unless it is a HEAD).
fn write_response(w: &mut Writer<'_>, r: &Response<'_>, a: Answering) {
    w.status_line(r.status);
    // Both lists are slices of strings, through one copy of the list
    // writer (a filtered list of three took one of its own).
    fn bytes<'s>(s: &&'s str) -> &'s [u8] {
        s.as_bytes()
    }
    w.list("Upgrade", r.upgrade.iter().map(bytes));
    // `Connection`: `Upgrade` when protocols are listed, then `close`, or
    // `keep-alive` for an HTTP/1.0 client kept open (or nothing more).
    let connection = ["Upgrade", if a.keep_alive { "keep-alive" } else { "close" }];
    let from = usize::from(r.upgrade.is_empty());
    let to = if a.keep_alive && !a.http10 { 1 } else { 2 };
    w.list(
        "Connection",
        connection[from..to.max(from)].iter().map(bytes),
    );
    let lists_ws = r
        .upgrade
        .iter()
        .any(|p| eq_ignore_case(p.as_bytes(), b"websocket"));
    if r.status == 426 && (lists_ws || a.offered_websocket) {
        w.header(
            "Sec-WebSocket-Version",
            websocket::WEBSOCKET_VERSION.as_bytes(),
        );
    }
    for h in r.headers {
        w.header(h.name, h.value);
    }
    let len = match r.body {
        Body::Bytes(b) => b.len() as u64,
        Body::Length(n) => n,
    };
    if r.status != 204 && r.status != 304 {
        w.put(b"Content-Length: ");
        w.put_dec(len);
        w.put(b"\r\n");
    }
    w.put(b"\r\n");
    if let (Body::Bytes(b), false) = (r.body, a.head_request) {
        if r.status != 204 && r.status != 304 {
            w.put(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Upgrade` and `Connection` lines of a final response for every
    /// combination: protocols listed or not, kept open or not, HTTP/1.0
    /// or 1.1.
    #[test]
    fn connection_tokens_of_a_final_response() {
        for upgrade in [&[][..], &["websocket", "h2c"][..]] {
            for keep_alive in [false, true] {
                for http10 in [false, true] {
                    let answering = Answering {
                        keep_alive,
                        http10,
                        head_request: false,
                        offered_websocket: false,
                    };
                    let r = Response::new(400).upgrade(upgrade);
                    let mut out = [0u8; 256];
                    let n = emit(&mut out, |w| write_response(w, &r, answering)).unwrap();
                    let head = std::str::from_utf8(&out[..n]).unwrap();
                    let mut want = std::vec::Vec::new();
                    if !upgrade.is_empty() {
                        want.push("Upgrade");
                    }
                    if !keep_alive {
                        want.push("close");
                    } else if http10 {
                        want.push("keep-alive");
                    }
                    let line = |name: &str, tokens: &[&str]| match tokens {
                        [] => std::string::String::new(),
                        _ => std::format!("{name}: {}\r\n", tokens.join(", ")),
                    };
                    let lines = line("Upgrade", upgrade) + &line("Connection", &want);
                    let start = head.find("\r\n").unwrap() + 2;
                    assert!(head[start..].starts_with(&lines), "{head:?}");
                    assert!(
                        !head[start + lines.len()..].contains("Connection"),
                        "{head:?}"
                    );
                }
            }
        }
    }

    /// The 101's length worked out line by line is what its writer
    /// writes, for every line it may have.
    #[test]
    fn switch_length_is_what_is_written() {
        let extra = [Header::new("X-A", b"1"), Header::new("Server", b"p s")];
        for protocol in ["websocket", "h2c", "echo/1"] {
            for ws_accept in [None, Some(*b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")] {
                for subprotocol in [None, Some("chat")] {
                    for extensions in [None, Some("permessage-deflate; x")] {
                        for headers in [&extra[..0], &extra[..1], &extra[..]] {
                            let mut accept = Accept::new(protocol).headers(headers);
                            accept.subprotocol = subprotocol;
                            accept.extensions = extensions;
                            let protocol = Protocol::parse(protocol.as_bytes()).unwrap();
                            let switch = Switch {
                                accept,
                                protocol,
                                kind: protocol.kind(),
                                ws_accept,
                            };
                            for send_continue in [false, true] {
                                let mut out = [0u8; 512];
                                let counted = emit(&mut out, |w| {
                                    write_switch(w, &switch, send_continue);
                                });
                                assert_eq!(
                                    counted,
                                    Ok(switch_len(&switch, send_continue)),
                                    "{switch:?} {send_continue}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// Everything `poll_transmit` owes, through `size`-byte buffers.
    fn drain_in(s: &mut ServerHandshake, size: usize) -> std::vec::Vec<u8> {
        let mut all = std::vec::Vec::new();
        let mut piece = std::vec![0u8; size];
        loop {
            let n = s.poll_transmit(&mut piece);
            if n == 0 {
                return all;
            }
            all.extend_from_slice(&piece[..n]);
        }
    }

    /// A WebSocket upgrade announcing a body: `Content-Length: 5` or
    /// chunked, with the body's bytes after the head.
    const UPGRADES_WITH_BODY: [&[u8]; 2] = [
        b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Content-Length: 5\r\n\r\nhello",
        b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ];

    /// With `request-body` the body is read: `Request`, then (after
    /// `continue_body`) `Body` and `BodyEnd`, and the upgrade can be
    /// accepted.
    #[cfg(feature = "request-body")]
    #[test]
    fn a_request_body_is_read_with_the_feature() {
        for request in UPGRADES_WITH_BODY {
            let mut s = ServerHandshake::new(ServerConfig::default());
            let got = s.receive(request).unwrap();
            assert!(matches!(got.event, Some(ServerEvent::Request(_))));
            assert_eq!(s.state(), ServerState::HeadReceived);
            let mut rest = &request[got.consumed..];
            let mut out = [0u8; 64];
            assert_eq!(s.continue_body(&mut out), Ok(0));
            let mut body = std::vec::Vec::new();
            loop {
                let got = s.receive(rest).unwrap();
                rest = &rest[got.consumed..];
                match got.event {
                    Some(ServerEvent::Body(data)) => body.extend_from_slice(data),
                    Some(ServerEvent::BodyEnd) => break,
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(body, b"hello");
            assert!(rest.is_empty());
            assert_eq!(s.state(), ServerState::RequestReceived);
        }
    }

    /// Without `request-body` a request announcing a body is refused, not
    /// read: 413 with `Connection: close`, and the machine fails. A
    /// `Content-Length: 0` is no body: that request is received.
    #[cfg(not(feature = "request-body"))]
    #[test]
    fn a_request_body_is_refused_without_the_feature() {
        for request in UPGRADES_WITH_BODY {
            let mut s = ServerHandshake::new(ServerConfig::default());
            let Err(Error::Peer(e)) = s.receive(request) else {
                panic!("a body was accepted");
            };
            assert_eq!(e.kind(), PeerErrorKind::RequestBodyUnsupported);
            assert_eq!(e.status(), Some(413));
            assert_eq!(s.state(), ServerState::Failed);
            let reply = drain_in(&mut s, 4096);
            assert!(reply.starts_with(b"HTTP/1.1 413 Content Too Large\r\n"));
            let reply = core::str::from_utf8(&reply).unwrap();
            assert!(reply.contains("\r\nConnection: close\r\n"), "{reply}");
            assert!(reply.ends_with(e.message()), "{reply}");
            let mut out = [0u8; 64];
            assert!(s.continue_body(&mut out).is_err());
        }
        let empty = b"GET /chat HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
        let mut s = ServerHandshake::new(ServerConfig::default());
        let got = s.receive(empty).unwrap();
        assert!(matches!(got.event, Some(ServerEvent::Request(_))));
        assert_eq!(got.consumed, empty.len());
        assert_eq!(s.state(), ServerState::RequestReceived);
    }

    /// A valid h2c offer (with a WebSocket one beside it).
    const H2C_OFFER: &[u8] = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c, websocket\r\n\
        Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

    /// With `h2c` the offer is checked and can be accepted; without it the
    /// server ignores it (and refuses to switch to it). The WebSocket
    /// offer beside it is the same either way.
    #[test]
    fn h2c_offers_are_recognised_only_with_the_feature() {
        let mut s = ServerHandshake::new(ServerConfig::default());
        let Some(ServerEvent::Request(request)) = s.receive(H2C_OFFER).unwrap().event else {
            panic!("no request");
        };
        assert!(matches!(request.websocket(), Ok(Some(_))));
        assert!(request.switch(&Accept::new("websocket")).is_ok());
        let switch = request.switch(&Accept::new("h2c"));
        if cfg!(feature = "h2c") {
            let offer = request.h2c().unwrap().expect("an h2c offer");
            assert!(offer.settings().eq([(3, 100), (4, 65535)]));
            assert!(switch.is_ok());
        } else {
            assert_eq!(request.h2c(), Ok(None));
            assert_eq!(switch.err(), Some(LocalError::NotOffered));
        }
    }

    /// Without `diagnostics` an error reply has the same status and an
    /// empty body.
    #[cfg(not(feature = "diagnostics"))]
    #[test]
    fn without_diagnostics_an_error_reply_has_an_empty_body() {
        let mut s = ServerHandshake::new(ServerConfig::default());
        assert!(s.receive(b"GET  / HTTP/1.1\r\n\r\n").is_err());
        assert_eq!(
            drain_in(&mut s, 4096),
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\
              Content-Type: text/plain; charset=utf-8\r\nContent-Length: 0\r\n\r\n"
        );
    }

    /// The error reply is written again at each call, not stored: any
    /// buffer size gets the same bytes, the longest reply included.
    #[test]
    fn the_error_reply_is_a_byte_stream_for_any_buffer() {
        use PeerErrorKind::*;
        for kind in [
            HeadTooLarge { limit: usize::MAX },
            BadStartLine,
            WebSocketVersionUnsupported,
            ExpectedContinuation,
            UnsupportedTransferCoding,
        ] {
            let failed = || {
                let mut s = ServerHandshake::new(ServerConfig::default());
                s.offered_websocket = true;
                s.fail(kind);
                s
            };
            let whole = drain_in(&mut failed(), 4096);
            let error = PeerError::new(kind, Role::Server);
            let Some(status) = error.status() else {
                assert!(whole.is_empty(), "{kind:?}");
                continue;
            };
            let status_line = std::format!("HTTP/1.1 {status} ");
            assert!(whole.starts_with(status_line.as_bytes()), "{kind:?}");
            assert!(whole.ends_with(error.message().as_bytes()), "{kind:?}");
            for size in 1..=whole.len() + 1 {
                assert_eq!(drain_in(&mut failed(), size), whole, "{kind:?}, {size}");
            }
        }
    }

    /// Feeds `input` in reads of `step` bytes (the buffer grows; consumed
    /// bytes are dropped) and returns the head search's work.
    fn work_to_read(input: &[u8], step: usize, limits: Limits) -> usize {
        let mut server = ServerHandshake::new(ServerConfig::new().limits(limits));
        let mut buf = std::vec::Vec::new();
        crate::http1::work::take();
        for piece in input.chunks(step) {
            buf.extend_from_slice(piece);
            let got = server.receive(&buf).unwrap();
            let (consumed, done) = (got.consumed, got.event.is_some());
            buf.drain(..consumed);
            if done {
                break;
            }
        }
        assert_eq!(server.state(), ServerState::RequestReceived);
        crate::http1::work::take()
    }

    /// RFC 9112 §2.2 empty lines, many fields, long values: a maximal
    /// head fed one byte per read costs at most a constant times the work
    /// of reading it whole (one parse). Each call before the head is
    /// complete re-reads at most 3 bytes of the end search and looks at
    /// one byte for more empty lines, so 6 per byte is a bound, not a
    /// measurement; the call that completes it parses it once more: 7.
    #[test]
    fn reading_a_head_is_linear_however_it_is_split() {
        use std::string::String;
        let limit = 1 << 16;
        let limits = Limits::new().max_head_bytes(limit).max_headers(128);
        let request = |filler: &str| {
            let mut r = String::from(filler);
            r.push_str("GET / HTTP/1.1\r\nHost: h\r\n");
            r
        };
        let end = "\r\n";
        let mut empty_lines = request(&"\r\n".repeat((limit - 64) / 2));
        empty_lines.push_str(end);
        let mut bare_lf = request(&"\n".repeat(limit - 64));
        bare_lf.push_str(end);
        let mut many_fields = request("");
        for i in 0..120 {
            many_fields.push_str(&std::format!("X-{i}: v\r\n"));
        }
        many_fields.push_str(end);
        let mut long_value = request("");
        long_value.push_str(&std::format!("X: {}\r\n", "v".repeat(limit - 64)));
        long_value.push_str(end);
        for head in [empty_lines, bare_lf, many_fields, long_value] {
            assert!(head.len() <= limit);
            let whole = work_to_read(head.as_bytes(), head.len(), limits);
            let bytewise = work_to_read(head.as_bytes(), 1, limits);
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
            include_str!("server.rs"),
            TRANSITIONS,
            ServerState::name,
            ServerInput::describe,
        );
    }
}
