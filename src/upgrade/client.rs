//! The client side of an HTTP/1.1 protocol switch.
//!
//! # Transition table
//!
//! Every state change is an edge of the [`TRANSITIONS`] array; this table
//! is the same list (a test compares them):
//!
//! | from                 | input                       | to                   |
//! |----------------------|-----------------------------|----------------------|
//! | `WaitingForContinue` | 100 Continue                | `SendingBody`        |
//! | `WaitingForContinue` | 100-continue timeout        | `SendingBody`        |
//! | `SendingBody`        | `body_sent`                 | `AwaitingResponse`   |
//! | `AwaitingResponse`   | 101 verified                | `Switched`           |
//! | `AwaitingResponse`   | 2xx to CONNECT              | `Switched`           |
//! | `WaitingForContinue`, `SendingBody`, `AwaitingResponse` | final status with body | `ReadingBody` |
//! | `WaitingForContinue`, `SendingBody`, `AwaitingResponse` | final status, no body | `Done` |
//! | `ReadingBody`        | body end                    | `Done`               |
//! | `WaitingForContinue`, `SendingBody`, `AwaitingResponse`, `ReadingBody` | peer error | `Failed` |
//!
//! Interim responses (1xx other than 101) keep the state, except 100 while
//! `WaitingForContinue`. The machine starts in `WaitingForContinue`
//! (body with `Expect: 100-continue`), `SendingBody` (body without it) or
//! `AwaitingResponse` (no body).
//!
//! State outside the table: the request sent (a copy of the
//! [`ClientRequest`], whose strings stay borrowed: what a 101 is checked
//! against), the 100-continue deadline, and whether the connection may be
//! reused after a declined response ([`ClientHandshake::keep_alive`]).

use core::time::Duration;

use crate::error::{Error, LocalError, PeerError, PeerErrorKind, Role};
use crate::http1::body::{BodyDecoder, BodyStep};
use crate::http1::write::{Writer, check_headers, dec_len, emit_counted, header_len, list_len};
use crate::http1::{
    Facts, Field, HeadReader, Header, Limits, ResponseHead, eq_ignore_case, is_token,
    response_framing, same_str,
};
use crate::time::Instant;

use super::deflate;
use super::h2c::write_settings;
use super::negotiation::{
    ExtensionList, Negotiation, check_extensions, check_subprotocol, find_protocol,
};
use super::protocol::{Protocol, ProtocolKind};
use super::websocket::{Extension, WEBSOCKET_VERSION, accept_key, websocket_key};
use crate::Received;
use crate::table;

/// Client configuration.
///
/// ```
/// use core::time::Duration;
/// use protoswitch::upgrade::ClientConfig;
/// let config = ClientConfig::new().continue_timeout(Duration::from_millis(500));
/// assert_eq!(config.continue_timeout, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Limits on response heads and the non-data parts of a chunked body.
    pub limits: Limits,
    /// How long to wait for `100 Continue` before sending the body anyway
    /// (RFC 9110 §10.1.1). Default 1 s.
    pub continue_timeout: Duration,
}

impl ClientConfig {
    /// The defaults.
    pub const fn new() -> Self {
        ClientConfig {
            limits: Limits::new(),
            continue_timeout: Duration::from_secs(1),
        }
    }
    /// Sets [`ClientConfig::limits`].
    pub const fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets [`ClientConfig::continue_timeout`].
    pub const fn continue_timeout(mut self, timeout: Duration) -> Self {
        self.continue_timeout = timeout;
        self
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig::new()
    }
}

/// Where the client handshake is. See the module docs for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientState {
    /// The head was sent with `Expect: 100-continue`; the body waits for
    /// `100 Continue` or the timeout.
    WaitingForContinue,
    /// Write the request body now, then call [`ClientHandshake::body_sent`].
    SendingBody,
    /// The request is sent; waiting for the response.
    AwaitingResponse,
    /// A final response other than 101 arrived; `receive` yields its body.
    ReadingBody,
    /// The server switched protocols. Bytes after the consumed 101 head
    /// belong to the new protocol. What it agreed came with [`ClientEvent::Switched`].
    Switched,
    /// The declined response is complete. See [`ClientHandshake::keep_alive`].
    Done,
    /// The response broke a rule. Close the connection.
    Failed,
}

impl ClientState {
    /// The state's name.
    pub const fn name(self) -> &'static str {
        match self {
            ClientState::WaitingForContinue => "WaitingForContinue",
            ClientState::SendingBody => "SendingBody",
            ClientState::AwaitingResponse => "AwaitingResponse",
            ClientState::ReadingBody => "ReadingBody",
            ClientState::Switched => "Switched",
            ClientState::Done => "Done",
            ClientState::Failed => "Failed",
        }
    }
}

/// What drives the client from one state to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientInput {
    /// A `100 Continue` arrived while waiting for it.
    Continue,
    /// The 100-continue wait timed out.
    ContinueTimeout,
    /// The application calls `body_sent`.
    BodySent,
    /// A 101 arrived and passed every check.
    SwitchVerified,
    /// A 2xx answered a CONNECT: the tunnel is open.
    TunnelEstablished,
    /// A final status other than 101, with a body.
    FinalWithBody,
    /// A final status other than 101, without a body.
    FinalWithoutBody,
    /// The declined response's body ended.
    BodyEnd,
    /// The response broke a rule (or the transport ended early).
    PeerError,
}

impl ClientInput {
    /// How the module docs' table names the input.
    pub const fn describe(self) -> &'static str {
        match self {
            ClientInput::Continue => "100 Continue",
            ClientInput::ContinueTimeout => "100-continue timeout",
            ClientInput::BodySent => "`body_sent`",
            ClientInput::SwitchVerified => "101 verified",
            ClientInput::TunnelEstablished => "2xx to CONNECT",
            ClientInput::FinalWithBody => "final status with body",
            ClientInput::FinalWithoutBody => "final status, no body",
            ClientInput::BodyEnd => "body end",
            ClientInput::PeerError => "peer error",
        }
    }
}

/// The whole transition table of the client machine, one edge a row: the same edges
/// as the module docs (a test compares them), for tools and fuzzers.
pub const TRANSITIONS: &[(ClientState, ClientInput, ClientState)] = {
    use ClientInput as I;
    use ClientState as S;
    &[
        (S::WaitingForContinue, I::Continue, S::SendingBody),
        (S::WaitingForContinue, I::ContinueTimeout, S::SendingBody),
        (S::SendingBody, I::BodySent, S::AwaitingResponse),
        (S::AwaitingResponse, I::SwitchVerified, S::Switched),
        (S::AwaitingResponse, I::TunnelEstablished, S::Switched),
        (S::WaitingForContinue, I::FinalWithBody, S::ReadingBody),
        (S::SendingBody, I::FinalWithBody, S::ReadingBody),
        (S::AwaitingResponse, I::FinalWithBody, S::ReadingBody),
        (S::WaitingForContinue, I::FinalWithoutBody, S::Done),
        (S::SendingBody, I::FinalWithoutBody, S::Done),
        (S::AwaitingResponse, I::FinalWithoutBody, S::Done),
        (S::ReadingBody, I::BodyEnd, S::Done),
        (S::WaitingForContinue, I::PeerError, S::Failed),
        (S::SendingBody, I::PeerError, S::Failed),
        (S::AwaitingResponse, I::PeerError, S::Failed),
        (S::ReadingBody, I::PeerError, S::Failed),
    ]
};

/// A request that offers one or more protocols.
///
/// ```
/// use protoswitch::upgrade::ClientRequest;
/// // WebSocket, with 16 random bytes from the caller for the key.
/// let ws = ClientRequest::new("GET", "/chat", "example.com", &["websocket"])
///     .websocket_key([7; 16])
///     .subprotocols(&["chat", "superchat"])
///     .origin("http://example.com");
/// // h2c with two SETTINGS entries.
/// let h2c = ClientRequest::new("GET", "/", "example.com", &["h2c"]).h2c_settings(&[(3, 100), (4, 65535)]);
/// // A custom protocol with a body that waits for 100 Continue.
/// let custom = ClientRequest::new("POST", "/", "example.com", &["echo/1"]).body(5).expect_continue();
/// # let _ = (ws, h2c, custom);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientRequest<'a> {
    method: &'a str,
    target: &'a str,
    host: &'a str,
    offers: &'a [&'a str],
    key: Option<[u8; 16]>,
    origin: Option<&'a str>,
    subprotocols: &'a [&'a str],
    extensions: &'a [&'a str],
    h2c_settings: Option<&'a [(u16, u32)]>,
    headers: &'a [Header<'a>],
    body_len: Option<u64>,
    expect_continue: bool,
}

impl<'a> ClientRequest<'a> {
    /// `method target HTTP/1.1` to `host`, offering `offers` in preference
    /// order (e.g. `["websocket"]`, `["h2c"]`, `["echo/1"]`).
    pub const fn new(
        method: &'a str,
        target: &'a str,
        host: &'a str,
        offers: &'a [&'a str],
    ) -> Self {
        ClientRequest {
            method,
            target,
            host,
            offers,
            key: None,
            origin: None,
            subprotocols: &[],
            extensions: &[],
            h2c_settings: None,
            headers: &[],
            body_len: None,
            expect_continue: false,
        }
    }
    /// `CONNECT authority HTTP/1.1` (RFC 9110 §9.3.6): asks a proxy for a
    /// tunnel to `authority` (`host:port`). No upgrade offer and no body;
    /// [`ClientHandshake::receive`] yields [`ClientEvent::Tunnel`] on a
    /// 2xx, after which the connection carries the tunnel. Extra headers
    /// (e.g. `Proxy-Authorization`) with [`headers`](Self::headers).
    ///
    /// ```
    /// use protoswitch::Instant;
    /// use protoswitch::upgrade::{ClientEvent, ClientHandshake, ClientRequest, ClientState};
    /// let request = ClientRequest::connect("example.com:443");
    /// let mut out = [0u8; 128];
    /// let (mut client, n) =
    ///     ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut out).unwrap();
    /// assert_eq!(&out[..n], b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    /// let got = client.receive(b"HTTP/1.1 200 Connection Established\r\n\r\n").unwrap();
    /// assert!(matches!(got.event, Some(ClientEvent::Tunnel { .. })));
    /// assert_eq!(client.state(), ClientState::Switched);
    /// ```
    pub const fn connect(authority: &'a str) -> Self {
        ClientRequest::new("CONNECT", authority, authority, &[])
    }
    /// 16 random bytes for `Sec-WebSocket-Key` (needed to offer websocket).
    pub const fn websocket_key(mut self, entropy: [u8; 16]) -> Self {
        self.key = Some(entropy);
        self
    }
    /// `Origin`.
    pub const fn origin(mut self, origin: &'a str) -> Self {
        self.origin = Some(origin);
        self
    }
    /// WebSocket subprotocols, in preference order.
    pub const fn subprotocols(mut self, names: &'a [&'a str]) -> Self {
        self.subprotocols = names;
        self
    }
    /// WebSocket extension offers, each `name; params`.
    pub const fn extensions(mut self, offers: &'a [&'a str]) -> Self {
        self.extensions = offers;
        self
    }
    /// h2c SETTINGS to send in `HTTP2-Settings` (needed to offer h2c).
    pub const fn h2c_settings(mut self, settings: &'a [(u16, u32)]) -> Self {
        self.h2c_settings = Some(settings);
        self
    }
    /// Extra headers.
    pub const fn headers(mut self, headers: &'a [Header<'a>]) -> Self {
        self.headers = headers;
        self
    }
    /// A body of `len` bytes (`Content-Length`). The caller writes the
    /// body when the state is `SendingBody`.
    pub const fn body(mut self, len: u64) -> Self {
        self.body_len = Some(len);
        self
    }
    /// Sends `Expect: 100-continue` with a non-empty body and waits for
    /// `100 Continue` (or [`ClientConfig::continue_timeout`]) before the
    /// body (RFC 9110 §10.1.1).
    pub const fn expect_continue(mut self) -> Self {
        self.expect_continue = true;
        self
    }
}

const REQUEST_RESERVED: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "http2-settings",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "origin",
    "content-length",
    "transfer-encoding",
    "expect",
];

/// Why a server declined to switch, as far as the response tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Diagnosis {
    /// An HTTP/1.0 response: the peer (or a proxy) cannot switch protocols.
    Http10Peer,
    /// 2xx instead of 101: the server ignored the upgrade, or an intermediary
    /// removed the hop-by-hop `Upgrade`/`Connection` headers.
    UpgradeIgnored,
    /// 3xx but 304: the resource moved; see `Location`.
    Redirected,
    /// 400: the server found the handshake malformed; its reason is usually
    /// in the body.
    Rejected,
    /// 401, 403 or 407: authentication or authorization failed.
    NotAuthorized,
    /// 404: no such endpoint.
    NotFound,
    /// 417: the server refused `Expect: 100-continue`.
    ExpectationFailed,
    /// 426: the server requires another protocol or version; see its
    /// `Upgrade` (and `Sec-WebSocket-Version`).
    UpgradeRequired,
    /// 426 naming a protocol the request offered (for WebSocket, with
    /// version 13 or no version), or naming none (no `Upgrade`, which a 426
    /// must have: what Node's `ws` answers a request that arrives without
    /// its upgrade): the server never saw the offer. An intermediary
    /// removed the hop-by-hop `Upgrade`/`Connection` headers, or forwarded
    /// the request as HTTP/1.0.
    OfferStripped,
    /// 502, 503 or 504: a proxy or gateway could not reach the server, or
    /// does not support upgrades.
    GatewayProblem,
    /// Any other status.
    Other,
}

impl Diagnosis {
    fn of(head: &ResponseHead<'_>, request: &ClientRequest<'_>) -> Self {
        match head.status() {
            _ if head.minor_version() == 0 => Diagnosis::Http10Peer,
            426 if demands_the_offer(head, request) => Diagnosis::OfferStripped,
            200..=299 => Diagnosis::UpgradeIgnored,
            // 304 Not Modified is no redirection (and has no Location).
            300..=303 | 305..=399 => Diagnosis::Redirected,
            400 => Diagnosis::Rejected,
            401 | 403 | 407 => Diagnosis::NotAuthorized,
            404 => Diagnosis::NotFound,
            417 => Diagnosis::ExpectationFailed,
            426 => Diagnosis::UpgradeRequired,
            502..=504 => Diagnosis::GatewayProblem,
            _ => Diagnosis::Other,
        }
    }

    /// A sentence that explains the likely cause.
    pub const fn explain(self) -> &'static str {
        match self {
            Diagnosis::Http10Peer => {
                "the server answered with HTTP/1.0, which cannot switch protocols"
            }
            Diagnosis::UpgradeIgnored => {
                "the server answered without switching protocols: it ignored the upgrade, or an intermediary removed the hop-by-hop Upgrade/Connection headers"
            }
            Diagnosis::Redirected => "the server redirected the request; see the Location header",
            Diagnosis::Rejected => {
                "the server rejected the handshake as malformed; its reason is usually in the body"
            }
            Diagnosis::NotAuthorized => {
                "the server refused the request: authentication or authorization failed"
            }
            Diagnosis::NotFound => "the server has no endpoint at this path",
            Diagnosis::ExpectationFailed => "the server refused Expect: 100-continue",
            Diagnosis::UpgradeRequired => {
                "the server requires a protocol or version listed in its Upgrade header"
            }
            Diagnosis::OfferStripped => {
                "the server requires exactly what was offered, so the offer never reached it: an intermediary removed the hop-by-hop Upgrade/Connection headers or forwarded the request as HTTP/1.0 (nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\")"
            }
            Diagnosis::GatewayProblem => {
                "a proxy or gateway failed to reach the server, or does not support protocol upgrades"
            }
            Diagnosis::Other => "the server declined to switch protocols",
        }
    }
}

/// A 426 whose `Upgrade` names a protocol `request` offered — and, when
/// that protocol is WebSocket, whose `Sec-WebSocket-Version` (if any)
/// lists the 13 the request sent — or names none at all.
fn demands_the_offer(head: &ResponseHead<'_>, request: &ClientRequest<'_>) -> bool {
    let headers = head.headers();
    if headers.list("upgrade").next().is_none() {
        return true;
    }
    // Read once, when first needed (linear in the head, however many
    // `websocket` elements `Upgrade` repeats).
    let mut version_13: Option<bool> = None;
    let mut lists_13 = || {
        *version_13.get_or_insert_with(|| {
            headers.get("sec-websocket-version").is_none()
                || headers.list("sec-websocket-version").any(|v| v == b"13")
        })
    };
    headers.list("upgrade").any(|required| {
        request.offers.iter().any(|offer| {
            eq_ignore_case(required, offer.as_bytes())
                && (!offer.eq_ignore_ascii_case("websocket") || lists_13())
        })
    })
}

impl core::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.explain())
    }
}

/// An event from [`ClientHandshake::receive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent<'b> {
    /// An interim 1xx response (100, 102, 103, ...). A 100 while
    /// `WaitingForContinue` moves to `SendingBody`.
    Interim(ResponseHead<'b>),
    /// The server switched protocols; the 101 was verified. Bytes after
    /// `consumed` belong to the new protocol.
    Switched {
        /// The 101 head.
        response: ResponseHead<'b>,
        /// What it agrees, borrowed from the head: read it now, the
        /// machine keeps only [`ClientHandshake::switched_to`].
        negotiation: Negotiation<'b>,
    },
    /// A proxy answered a CONNECT with a 2xx: the tunnel is open, and the
    /// bytes after `consumed` come from the requested destination.
    Tunnel {
        /// The 2xx head.
        response: ResponseHead<'b>,
    },
    /// The server answered with a final status other than 101 (426
    /// included): the upgrade did not happen. When the response has a body,
    /// `Body` events and `BodyEnd` follow; otherwise the state is `Done`.
    Declined {
        /// The response head.
        response: ResponseHead<'b>,
        /// The likely cause.
        diagnosis: Diagnosis,
    },
    /// A piece of the declined response's body.
    Body(&'b [u8]),
    /// The declined response is complete.
    BodyEnd,
}

/// The client handshake machine.
///
/// ```
/// use protoswitch::upgrade::{ClientEvent, ClientHandshake, ClientRequest, ClientState};
/// use protoswitch::Instant;
///
/// let request = ClientRequest::new("GET", "/chat", "example.com", &["websocket"])
///     .websocket_key(*b"the sample nonce");
/// let mut out = [0u8; 512];
/// let (mut client, n) =
///     ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut out).unwrap();
/// assert!(out[..n].starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
///
/// let response = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x00";
/// let got = client.receive(response).unwrap();
/// assert!(matches!(got.event, Some(ClientEvent::Switched { .. })));
/// assert_eq!(&response[got.consumed..], b"\x81\x00"); // the first WebSocket frame
/// assert_eq!(client.state(), ClientState::Switched);
/// ```
#[derive(Debug, Clone)]
pub struct ClientHandshake<'a> {
    /// The request sent: its offers, key, subprotocols and extensions are
    /// what a 101 is checked against.
    request: ClientRequest<'a>,
    /// `Sec-WebSocket-Key` as sent (the request's key encoded), kept so
    /// that the 101 is checked without encoding it again (24 bytes of
    /// state against about 120 instructions per handshake).
    sent_key: Option<[u8; 24]>,
    config: ClientConfig,
    state: ClientState,
    head_reader: HeadReader,
    continue_deadline: Option<Instant>,
    body: BodyDecoder,
    keep_alive: bool,
    switched_to: Option<ProtocolKind>,
    error: Option<PeerErrorKind>,
}

impl<'a> ClientHandshake<'a> {
    /// Writes the request head into `out` and returns the machine with the
    /// number of bytes written. `now` starts the 100-continue timer. The
    /// machine keeps a copy of `request` (its strings stay borrowed), to
    /// check the response against.
    pub fn start(
        request: &ClientRequest<'a>,
        config: ClientConfig,
        now: Instant,
        out: &mut [u8],
    ) -> Result<(Self, usize), Error> {
        let r = request;
        let line_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !is_token(r.method.as_bytes()) || !line_ok(r.target) || !line_ok(r.host) {
            return Err(LocalError::InvalidRequestLine.into());
        }
        let connect = same_str(r.method, "CONNECT");
        if connect {
            // RFC 9110 §9.3.6 (authority-form, no meaning for content)
            // and RFC 9931 (nothing sent before the proxy's answer).
            let authority_form = crate::http1::target_form_allowed("CONNECT", r.target);
            if !r.offers.is_empty() || r.body_len.is_some() || !authority_form {
                return Err(LocalError::InvalidConnect.into());
            }
        } else if r.offers.is_empty() {
            return Err(LocalError::NoOffer.into());
        }
        let mut ws = false;
        let mut h2c = false;
        for o in r.offers {
            let p = Protocol::parse_str(o).ok_or(LocalError::InvalidToken)?;
            let kind = p.kind();
            ws |= kind == ProtocolKind::WebSocket;
            h2c |= kind == ProtocolKind::H2c;
        }
        if ws && r.key.is_none() {
            return Err(LocalError::MissingParameter("websocket_key").into());
        }
        // `HTTP2-Settings` is a token68 (RFC 7540 §3.2.1): at least one
        // setting, or the field would be empty.
        if h2c && r.h2c_settings.is_none_or(|s| s.is_empty()) {
            return Err(LocalError::MissingParameter("h2c_settings").into());
        }
        for sp in r.subprotocols {
            if !is_token(sp.as_bytes()) {
                return Err(LocalError::InvalidToken.into());
            }
        }
        for e in r.extensions {
            Extension::parse(e.as_bytes()).ok_or(LocalError::InvalidToken)?;
        }
        if let Some(origin) = r.origin {
            if !crate::http1::is_field_value(origin.as_bytes()) {
                return Err(LocalError::InvalidHeaderValue.into());
            }
        }
        check_headers(r.headers, REQUEST_RESERVED)?;
        let key = r.key.map(websocket_key);
        let plan = Plan {
            connect,
            ws,
            h2c,
            key,
        };
        let n = emit_counted(out, request_len(r, &plan), |w| write_request(w, r, &plan))?;
        let has_body = r.body_len.is_some_and(|n| n > 0);
        let (state, continue_deadline) = match (has_body, r.expect_continue) {
            (false, _) => (ClientState::AwaitingResponse, None),
            (true, false) => (ClientState::SendingBody, None),
            (true, true) => (
                ClientState::WaitingForContinue,
                Some(now + config.continue_timeout),
            ),
        };
        let machine = ClientHandshake {
            request: *r,
            sent_key: key,
            config,
            state,
            head_reader: HeadReader::default(),
            continue_deadline,
            body: BodyDecoder::new(crate::http1::Framing::None),
            keep_alive: false,
            switched_to: None,
            error: None,
        };
        Ok((machine, n))
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// After a 101: the kind of protocol switched to. What was agreed came
    /// with [`ClientEvent::Switched`]; the machine does not copy it.
    pub fn switched_to(&self) -> Option<ProtocolKind> {
        self.switched_to
    }

    /// In `Done`: `true` when the connection may carry another request.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The peer error that put the machine in `Failed`.
    pub fn error(&self) -> Option<PeerError> {
        self.error.map(|kind| PeerError::new(kind, Role::Client))
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ClientState::WaitingForContinue => self.continue_deadline,
            _ => None,
        }
    }

    /// Advances timers: after the 100-continue timeout the state becomes
    /// `SendingBody` (send the body anyway, RFC 9110 §10.1.1).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(deadline) = self.poll_timeout() {
            if now >= deadline {
                self.follow(ClientInput::ContinueTimeout);
            }
        }
    }

    /// Tells the machine the whole body was written. Allowed in `SendingBody`.
    pub fn body_sent(&mut self) -> Result<(), LocalError> {
        self.go(ClientInput::BodySent, "body_sent")
    }

    /// Follows the table's edge for `input`; without one, the state stays
    /// and the call is a wrong-state error (see [`crate::table`]).
    fn go(&mut self, input: ClientInput, operation: &'static str) -> Result<(), LocalError> {
        match table::next(TRANSITIONS, self.state, input) {
            Some(next) => {
                self.state = next;
                Ok(())
            }
            None => Err(LocalError::WrongState {
                operation,
                state: self.state.name(),
            }),
        }
    }

    /// [`go`](Self::go) for inputs the machine derives from the peer's
    /// bytes or the clock: every state that produces them has their edges,
    /// so a miss is a bug.
    fn follow(&mut self, input: ClientInput) {
        let followed = self.go(input, "receive");
        debug_assert!(followed.is_ok(), "no edge for {input:?}: {followed:?}");
    }

    /// Feeds received bytes. Consumes a prefix of `buf` and returns at most
    /// one event borrowing `buf`; `event: None` means more bytes are needed.
    pub fn receive<'b>(&mut self, buf: &'b [u8]) -> Result<Received<ClientEvent<'b>>, Error> {
        let result = match self.state {
            ClientState::WaitingForContinue
            | ClientState::SendingBody
            | ClientState::AwaitingResponse => self.read_head(buf),
            ClientState::ReadingBody => self.read_body(buf),
            _ => {
                return Err(LocalError::WrongState {
                    operation: "receive",
                    state: self.state.name(),
                }
                .into());
            }
        };
        result.map_err(|kind| self.fail(kind).into())
    }

    /// The transport reached end of stream. Ends a body delimited by the
    /// close ([`ClientEvent::BodyEnd`]); while a head or another body is
    /// read it is a peer error; after the switch or the end, nothing.
    pub fn receive_eof(&mut self) -> Result<Option<ClientEvent<'static>>, Error> {
        match self.state {
            ClientState::ReadingBody => match self.body.eof() {
                Ok(_) => {
                    self.keep_alive = false;
                    self.follow(ClientInput::BodyEnd);
                    Ok(Some(ClientEvent::BodyEnd))
                }
                Err(kind) => Err(self.fail(kind).into()),
            },
            ClientState::Switched | ClientState::Done | ClientState::Failed => Ok(None),
            _ => Err(self.fail(PeerErrorKind::ClosedBeforeHead).into()),
        }
    }

    fn fail(&mut self, kind: PeerErrorKind) -> PeerError {
        self.follow(ClientInput::PeerError);
        self.error = Some(kind);
        PeerError::new(kind, Role::Client)
    }

    fn read_head<'b>(&mut self, buf: &'b [u8]) -> Result<Received<ClientEvent<'b>>, PeerErrorKind> {
        let limits = self.config.limits;
        let connect = same_str(self.request.method, "CONNECT");
        let Some((len, head, facts)) = self.head_reader.read_response(buf, &limits, connect)?
        else {
            return Ok(Received::nothing());
        };
        let status = head.status();
        let event = if connect && (200..300).contains(&status) {
            // RFC 9110 §9.3.6: a 2xx to CONNECT has no content (its
            // Content-Length or Transfer-Encoding is ignored); the bytes
            // after the head are the tunnel's. HTTP/1.0 proxies answer
            // CONNECT too ("HTTP/1.0 200 Connection established").
            self.switched_to = Some(ProtocolKind::Tunnel);
            self.follow(ClientInput::TunnelEstablished);
            ClientEvent::Tunnel { response: head }
        } else if status == 101 {
            let (negotiation, kind) = self.verify_switch(&head, &facts)?;
            self.switched_to = Some(kind);
            self.follow(ClientInput::SwitchVerified);
            ClientEvent::Switched {
                response: head,
                negotiation,
            }
        } else if status < 200 {
            if head.minor_version() == 0 {
                return Err(PeerErrorKind::UnexpectedInterim);
            }
            if status == 100 && self.state == ClientState::WaitingForContinue {
                self.follow(ClientInput::Continue);
            }
            ClientEvent::Interim(head)
        } else {
            let head_request = same_str(self.request.method, "HEAD");
            let framing = response_framing(status, head_request, &facts);
            self.body = BodyDecoder::new(framing);
            // The connection is reusable only if the request was completely
            // sent and the response body is delimited.
            // A refused CONNECT closes (RFC 9931): the proxy may have
            // taken bytes after the request as the tunnel's.
            self.keep_alive = self.state == ClientState::AwaitingResponse
                && !connect
                && framing != crate::http1::Framing::UntilClose
                && !facts.conn_close
                && (head.minor_version() == 1 || facts.conn_keep_alive);
            self.follow(if self.body.is_done() {
                ClientInput::FinalWithoutBody
            } else {
                ClientInput::FinalWithBody
            });
            ClientEvent::Declined {
                response: head,
                diagnosis: Diagnosis::of(&head, &self.request),
            }
        };
        Ok(Received {
            consumed: len,
            event: Some(event),
        })
    }

    fn verify_switch<'b>(
        &self,
        head: &ResponseHead<'b>,
        facts: &Facts,
    ) -> Result<(Negotiation<'b>, ProtocolKind), PeerErrorKind> {
        use PeerErrorKind as K;
        if head.minor_version() == 0 {
            return Err(K::SwitchInHttp10);
        }
        if self.state != ClientState::AwaitingResponse {
            // The server switched without the body it was told about
            // (RFC 9110 §7.8: a 100 must come before the 101).
            return Err(K::SwitchBeforeBodySent);
        }
        let r = &self.request;
        let headers = head.headers();
        let mut upgrade = headers.elements(Field::Upgrade);
        let (Some(element), None) = (upgrade.next(), upgrade.next()) else {
            return Err(K::SwitchedToUnofferedProtocol);
        };
        let chosen = Protocol::parse(element).ok_or(K::SwitchedToUnofferedProtocol)?;
        find_protocol(r.offers.iter().map(|o| o.as_bytes()), &chosen)?;
        // `Connection: upgrade`, found when the head was read.
        if !facts.conn_upgrade {
            return Err(K::SwitchWithoutConnectionUpgrade);
        }
        let mut agreed = Negotiation {
            role: Role::Client,
            protocol: chosen,
            subprotocol: None,
            extensions: ExtensionList::Value(b""),
        };
        // The kind is returned too: the caller keeps it.
        let kind = chosen.kind();
        if kind != ProtocolKind::WebSocket {
            return Ok((agreed, kind));
        }
        let expected = accept_key(&self.sent_key.ok_or(K::SwitchedToUnofferedProtocol)?);
        let mut accepts = headers.values(Field::SecWebSocketAccept);
        match (accepts.next(), accepts.next()) {
            (Some(a), None) if a == expected => {}
            (None, _) => return Err(K::AcceptMissing),
            _ => return Err(K::AcceptMismatch),
        }
        let mut protocols = headers.elements(Field::SecWebSocketProtocol);
        agreed.subprotocol = match (protocols.next(), protocols.next()) {
            (None, _) => None,
            (Some(p), None) => {
                check_subprotocol(r.subprotocols.iter().map(|s| s.as_bytes()), p)?;
                // Offered subprotocols are tokens: ASCII.
                core::str::from_utf8(p).ok()
            }
            (Some(_), Some(_)) => return Err(K::SubprotocolNotOffered),
        };
        // RFC 6455 §9.1: the server selects among the offers, each once.
        agreed.extensions = ExtensionList::Fields(*headers);
        if !headers.may_have(Field::SecWebSocketExtensions) {
            // No extension selected: both checks below pass on no
            // elements, so they are not run (about 100 instructions).
            return Ok((agreed, kind));
        }
        check_extensions(agreed.extensions.elements(), |name| {
            r.extensions.iter().any(|offer| {
                Extension::parse(offer.as_bytes())
                    .is_some_and(|e| eq_ignore_case(e.name().as_bytes(), name.as_bytes()))
            })
        })?;
        // RFC 7692 §7.1: permessage-deflate's parameters must answer one
        // of the offers.
        let offers = r.extensions.iter().map(|o| o.as_bytes());
        if !deflate::selection_answers_offers(agreed.extensions(), offers) {
            return Err(K::DeflateResponseInvalid);
        }
        Ok((agreed, kind))
    }

    fn read_body<'b>(&mut self, buf: &'b [u8]) -> Result<Received<ClientEvent<'b>>, PeerErrorKind> {
        let (consumed, step) = self.body.decode(buf, &self.config.limits)?;
        let event = match step {
            None => None,
            Some(BodyStep::Data(d)) => Some(ClientEvent::Body(d)),
            Some(BodyStep::End) => {
                self.follow(ClientInput::BodyEnd);
                Some(ClientEvent::BodyEnd)
            }
        };
        Ok(Received { consumed, event })
    }
}

/// What [`ClientHandshake::start`] decided about a request before writing
/// it.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// A CONNECT: no Upgrade, no Connection.
    connect: bool,
    /// websocket is offered: the WebSocket fields.
    ws: bool,
    /// h2c is offered: `HTTP2-Settings`.
    h2c: bool,
    /// `Sec-WebSocket-Key`.
    key: Option<[u8; 24]>,
}

/// The connection options sent with the offers.
fn connection_value(p: &Plan) -> &'static [u8] {
    if p.h2c {
        b"Upgrade, HTTP2-Settings"
    } else {
        b"Upgrade"
    }
}

/// Writes the request head `r` as planned by `p`.
fn write_request(w: &mut Writer<'_>, r: &ClientRequest<'_>, p: &Plan) {
    w.put_str(r.method);
    w.put(b" ");
    w.put_str(r.target);
    w.put(b" HTTP/1.1\r\n");
    w.header("Host", r.host.as_bytes());
    if !p.connect {
        w.list("Upgrade", r.offers.iter().map(|o| o.as_bytes()));
        w.header("Connection", connection_value(p));
    }
    if let (true, Some(settings)) = (p.h2c, r.h2c_settings) {
        w.put(b"HTTP2-Settings: ");
        write_settings(settings, w);
        w.put(b"\r\n");
    }
    if let (true, Some(key)) = (p.ws, p.key) {
        w.header("Sec-WebSocket-Key", &key);
        w.header("Sec-WebSocket-Version", WEBSOCKET_VERSION.as_bytes());
        if let Some(origin) = r.origin {
            w.header("Origin", origin.as_bytes());
        }
        w.list(
            "Sec-WebSocket-Protocol",
            r.subprotocols.iter().map(|p| p.as_bytes()),
        );
        w.list(
            "Sec-WebSocket-Extensions",
            r.extensions.iter().map(|e| e.as_bytes()),
        );
    }
    for h in r.headers {
        w.header(h.name, h.value);
    }
    if let Some(len) = r.body_len {
        w.put(b"Content-Length: ");
        w.put_dec(len);
        w.put(b"\r\n");
        if r.expect_continue && len > 0 {
            w.header("Expect", b"100-continue");
        }
    }
    w.put(b"\r\n");
}

/// The length of what [`write_request`] writes, line by line, so that the
/// request is written in one pass (a test compares it with the writer's
/// count for every kind of line).
fn request_len(r: &ClientRequest<'_>, p: &Plan) -> usize {
    let mut n = r.method.len() + 1 + r.target.len() + b" HTTP/1.1\r\n".len();
    n += header_len("Host", r.host.as_bytes());
    if !p.connect {
        n += list_len("Upgrade", r.offers.iter().map(|o| o.as_bytes()));
        n += header_len("Connection", connection_value(p));
    }
    if let (true, Some(settings)) = (p.h2c, r.h2c_settings) {
        // Each entry is six bytes, eight characters of unpadded base64.
        n += b"HTTP2-Settings: ".len() + 8 * settings.len() + 2;
    }
    if let (true, Some(key)) = (p.ws, p.key) {
        n += header_len("Sec-WebSocket-Key", &key);
        n += header_len("Sec-WebSocket-Version", WEBSOCKET_VERSION.as_bytes());
        if let Some(origin) = r.origin {
            n += header_len("Origin", origin.as_bytes());
        }
        n += list_len(
            "Sec-WebSocket-Protocol",
            r.subprotocols.iter().map(|p| p.as_bytes()),
        );
        n += list_len(
            "Sec-WebSocket-Extensions",
            r.extensions.iter().map(|e| e.as_bytes()),
        );
    }
    for h in r.headers {
        n += header_len(h.name, h.value);
    }
    if let Some(len) = r.body_len {
        n += b"Content-Length: ".len() + dec_len(len) + 2;
        if r.expect_continue && len > 0 {
            n += header_len("Expect", b"100-continue");
        }
    }
    n + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::write::emit;

    /// A 426 filling the head limit with `websocket` elements and
    /// versions that are not 13: reading it for the diagnosis is linear
    /// (list elements counted), not elements times versions: 8 times the
    /// head costs at most 10 times the work.
    #[test]
    fn the_426_diagnosis_reads_each_list_once() {
        let work = |max: usize| {
            let request = ClientRequest::new("GET", "/", "h", &["websocket"])
                .websocket_key(*b"the sample nonce");
            let config = ClientConfig::default().limits(Limits::new().max_head_bytes(max));
            let mut out = [0u8; 512];
            let (mut c, _) =
                ClientHandshake::start(&request, config, Instant::ZERO, &mut out).unwrap();
            let upgrades = "websocket,".repeat(max / 20 - 10);
            let versions = "8,".repeat(max / 4 - 50);
            let response = std::format!(
                "HTTP/1.1 426 X\r\nUpgrade: {upgrades}websocket\r\n\
                 Sec-WebSocket-Version: {versions}8\r\nContent-Length: 0\r\n\r\n"
            );
            crate::http1::work::take();
            let got = c.receive(response.as_bytes()).unwrap();
            let steps = crate::http1::work::take();
            let Some(ClientEvent::Declined { diagnosis, .. }) = got.event else {
                panic!("{got:?}")
            };
            // Version 8 only: the 13 offered is not what it requires.
            assert_eq!(diagnosis, Diagnosis::UpgradeRequired);
            steps
        };
        let (small, big) = (work(8 << 10), work(64 << 10));
        assert!(big <= small * 10, "8 KiB: {small} steps, 64 KiB: {big}");
    }

    /// What `verify_switch` skips when a 101 selects no extension: both
    /// checks pass on no elements, whatever was offered.
    #[test]
    fn no_extension_selected_passes_the_extension_checks() {
        let none = ExtensionList::Value(b"");
        assert_eq!(check_extensions(none.elements(), |_| false), Ok(()));
        let offers: [&[u8]; 2] = [b"permessage-deflate; client_max_window_bits", b"x"];
        assert!(deflate::selection_answers_offers(
            none.elements().filter_map(Extension::parse),
            offers.into_iter()
        ));
    }

    /// The request's length worked out line by line is what its writer
    /// writes, for every line it may have.
    #[test]
    fn request_length_is_what_is_written() {
        let extra = [Header::new("X-A", b"1"), Header::new("User-Agent", b"p s")];
        let settings = [(3, 100), (4, 65535)];
        let mut requests = std::vec![
            ClientRequest::connect("example.com:443"),
            ClientRequest::connect("example.com:443").headers(&extra),
            ClientRequest::new("GET", "/", "h", &["h2c"]).h2c_settings(&settings),
            ClientRequest::new("GET", "/", "h", &["h2c"]).h2c_settings(&[]),
            ClientRequest::new("GET", "/", "h", &["h2c", "websocket"])
                .h2c_settings(&settings[..1])
                .websocket_key([1; 16]),
        ];
        for offers in [&["websocket"][..], &["echo/1", "websocket"]] {
            for origin in [None, Some("http://example.com")] {
                for subprotocols in [&[][..], &["chat"], &["chat", "superchat"]] {
                    for extensions in [&[][..], &["permessage-deflate; x"], &["a", "b"]] {
                        let mut r = ClientRequest::new("GET", "/chat?x", "example.com", offers)
                            .websocket_key(*b"the sample nonce")
                            .subprotocols(subprotocols)
                            .extensions(extensions);
                        r.origin = origin;
                        requests.push(r);
                    }
                }
            }
        }
        for len in [0, 1, 9, 10, 99, 100, 12345, u64::MAX] {
            for expect in [false, true] {
                let mut r = ClientRequest::new("POST", "/", "h", &["echo/1"])
                    .body(len)
                    .headers(&extra);
                r.expect_continue = expect;
                requests.push(r);
            }
        }
        for r in requests {
            let connect = same_str(r.method, "CONNECT");
            let kinds = r
                .offers
                .iter()
                .map(|o| Protocol::parse_str(o).unwrap().kind());
            let plan = Plan {
                connect,
                ws: kinds.clone().any(|k| k == ProtocolKind::WebSocket),
                h2c: kinds.clone().any(|k| k == ProtocolKind::H2c),
                key: r.key.map(websocket_key),
            };
            let mut out = [0u8; 1024];
            let counted = emit(&mut out, |w| write_request(w, &r, &plan));
            assert_eq!(counted, Ok(request_len(&r, &plan)), "{r:?}");
        }
    }

    #[test]
    fn doc_table_is_the_table() {
        table::assert_doc_matches(
            include_str!("client.rs"),
            TRANSITIONS,
            ClientState::name,
            ClientInput::describe,
        );
    }
}
