//! Error types shared by every layer.
//!
//! Errors come in three families, so that a caller can tell at a glance who
//! is at fault and what to do:
//!
//! * [`PeerError`]: the bytes from the other side break a rule. It carries the
//!   [`Reply`] it implies (an HTTP status to answer with, or "close the
//!   connection") and a `Display` text that diagnoses the problem.
//! * [`LocalError`]: the caller asked for something the machine cannot do in
//!   its current state, or passed an invalid value. Nothing was sent.
//! * [`Error::BufferTooSmall`]: an output buffer was too small; nothing was
//!   written and the error names the size needed.

use core::fmt;

/// What the machine advises sending because of a [`PeerError`]. Three
/// different things, named so they cannot be confused: an HTTP response, a
/// WebSocket Close frame, or closing the transport with nothing sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reply {
    /// Answer with an HTTP response of this status (400, 413, 417, 426,
    /// 431, 501, 505), then close the connection.
    ///
    /// When the error came from `receive`, the server machine has already
    /// queued that response: drain `poll_transmit`, then close. When it
    /// came from an advisory check (`Request::websocket()`, `h2c()`),
    /// nothing is queued: answer with `respond(&Response::for_error(&e))`.
    HttpStatus(u16),
    /// Fail the WebSocket connection with a Close frame carrying this code
    /// (RFC 6455 §7.1.7): the connection machine has queued the frame in
    /// `poll_transmit`; send it, then close the transport.
    CloseFrame(u16),
    /// Nothing can be sent (the peer is a server, or the stream is broken):
    /// close the transport.
    CloseTransport,
}

/// What a peer did wrong. `Display` gives a diagnosing sentence (with the
/// `diagnostics` feature, on by default; without it, the kind's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerErrorKind {
    // ---- HTTP/1.1 message syntax (RFC 9112) ----
    /// The head is larger than the configured limit.
    HeadTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The head has more header fields than the configured limit.
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The request or status line is malformed.
    BadStartLine,
    /// The HTTP major version is not 1 (`HTTP/1.x` with x > 1 is handled
    /// as HTTP/1.1, RFC 9112 §2.3).
    BadVersion,
    /// The request target's form does not fit the method (RFC 9112 §3.2):
    /// `*` without OPTIONS, an authority without CONNECT, anything that is
    /// neither an absolute path nor an absolute URI, or a `#fragment`.
    BadTarget,
    /// A header field name contains a character outside `token`, or there is
    /// whitespace between the field name and the colon (RFC 9112 §5.1).
    BadHeaderName,
    /// A header field value contains a forbidden character (CR, LF, NUL or
    /// another control character).
    BadHeaderValue,
    /// A header line starts with whitespace: obsolete line folding, which a
    /// server must reject (RFC 9112 §5.2).
    ObsoleteLineFolding,
    /// A line ends in something other than CRLF or LF.
    BadLineEnding,
    /// The status code is not three digits.
    BadStatus,
    /// Both `Content-Length` and `Transfer-Encoding` are present
    /// (RFC 9112 §6.1: a request smuggling vector).
    ContentLengthWithTransferEncoding,
    /// `Content-Length` is not a decimal number, or several values disagree.
    BadContentLength,
    /// `Transfer-Encoding` does not end in `chunked` (RFC 9112 §6.3).
    ChunkedNotFinal,
    /// A transfer coding other than `chunked` (not supported here).
    UnsupportedTransferCoding,
    /// The chunked body framing is malformed.
    BadChunk,
    /// An HTTP/1.1 request without a `Host` header, or with several.
    HostMissingOrRepeated,
    /// The `Host` value is not `host [ ":" port ]` (RFC 9112 §3.2,
    /// RFC 3986 §3.2.2): whitespace, userinfo, a path, a list or a
    /// non-numeric port.
    InvalidHost,
    /// An HTTP/1.0 message with `Transfer-Encoding`: its framing is faulty
    /// (RFC 9112 §6.1), so a request is refused and the connection closed.
    TransferEncodingInHttp10,
    /// A trailer line is not a field line (RFC 9112 §7.1.2): no colon,
    /// whitespace before the colon, a name outside `token`, a control
    /// character in the value, or a line starting with whitespace.
    BadTrailer,
    /// The chunk extensions of one message exceed the configured limit.
    ChunkExtensionsTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The trailer section is larger than the configured limit.
    TrailersTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The trailer section has more fields than the configured limit.
    TooManyTrailers {
        /// The configured limit.
        limit: usize,
    },
    /// An `Expect` value other than `100-continue` (RFC 9110 §10.1.1).
    UnsupportedExpectation,
    /// An `Upgrade` list element is not `name[/version]` made of tokens.
    BadUpgradeToken,
    /// The connection ended before a complete head.
    ClosedBeforeHead,
    /// The connection ended inside a message body.
    ClosedInBody,
    /// A request announced a body (`Content-Length` above 0, or chunked)
    /// to a server built without the `request-body` feature, which does
    /// not read request bodies: refused with 413, and the connection
    /// closes (the unread body cannot be skipped).
    RequestBodyUnsupported,
    /// The transport ended before the WebSocket closing handshake (the
    /// abnormal closure, 1006, of RFC 6455 §7.1.5).
    ClosedWithoutCloseFrame,

    // ---- WebSocket opening handshake (RFC 6455 §4) ----
    /// A WebSocket upgrade with a method other than GET.
    WebSocketMethodNotGet,
    /// A WebSocket upgrade over HTTP/1.0.
    WebSocketHttp10,
    /// No `Sec-WebSocket-Key`, or more than one.
    WebSocketKeyMissingOrRepeated,
    /// `Sec-WebSocket-Key` does not decode to exactly 16 bytes.
    WebSocketKeyInvalid,
    /// `Sec-WebSocket-Version` is missing or repeated.
    WebSocketVersionMissingOrRepeated,
    /// `Sec-WebSocket-Version` is not 13: answer 426 with
    /// `Sec-WebSocket-Version: 13` (RFC 6455 §4.4).
    WebSocketVersionUnsupported,
    /// `Sec-WebSocket-Protocol` or `Sec-WebSocket-Extensions` is malformed.
    WebSocketBadNegotiationHeader,

    // ---- h2c (RFC 7540 §3.2) ----
    /// `HTTP2-Settings` is missing or repeated.
    H2cSettingsMissingOrRepeated,
    /// `HTTP2-Settings` is not base64url without padding, or does not decode
    /// to a multiple of 6 bytes.
    H2cSettingsInvalid,
    /// `Connection` does not list `HTTP2-Settings`.
    H2cSettingsNotInConnection,

    // ---- responses seen by a client ----
    /// A 101 arrived although the request offered no upgrade.
    SwitchNotOffered,
    /// The 101 names no protocol, several, or one that was not offered.
    SwitchedToUnofferedProtocol,
    /// The 101 lacks `Connection: upgrade`.
    SwitchWithoutConnectionUpgrade,
    /// The 101 lacks `Sec-WebSocket-Accept`.
    AcceptMissing,
    /// `Sec-WebSocket-Accept` does not match the key that was sent.
    AcceptMismatch,
    /// The server selected a subprotocol the client did not offer.
    SubprotocolNotOffered,
    /// The server selected an extension the client did not offer.
    ExtensionNotOffered,
    /// The server's 101 names the same extension more than once.
    ExtensionRepeated,
    /// The 101's permessage-deflate parameters answer none of the offers
    /// (RFC 7692 §7.1).
    DeflateResponseInvalid,
    /// A 101 arrived before the request body had been sent.
    SwitchBeforeBodySent,
    /// A 101 in an HTTP/1.0 response: such a peer cannot switch protocols.
    SwitchInHttp10,
    /// A 1xx response that is not allowed here (for example to HTTP/1.0).
    UnexpectedInterim,

    // ---- the relay between a downstream and an upstream (RFC 9110 §7.6.1, RFC 9931) ----
    /// The upstream's response head is malformed; the relay answers 502
    /// and closes both connections. `relay::Relay::cause` names the rule.
    BadUpstreamResponse,
    /// The upstream's 101 cannot be tunnelled: it names a protocol the
    /// relay did not forward, lacks `Connection: upgrade`, carries a wrong
    /// `Sec-WebSocket-Accept`, comes in HTTP/1.0 or before the request body
    /// was sent (`relay::Relay::cause` says which). The relay answers 502.
    BadUpstreamSwitch,
    /// The upstream answered 101 to a request whose upgrade the relay did
    /// not forward (RFC 9931: never tunnel on it). The relay answers 502.
    UpstreamSwitchNotRequested,
    /// The upstream closed the connection before a complete response head.
    UpstreamClosedBeforeResponse,
    /// The upstream sent bytes while no request was waiting for an answer
    /// (they would be taken for the answer to the next request): close.
    UpstreamUnsolicited,
    /// A CONNECT request reached the relay, which does not open tunnels to
    /// a destination the client names.
    ConnectNotRelayed,
    /// `Connection` names more options than the relay reads
    /// ([`MAX_CONNECTION_OPTIONS`](crate::relay::MAX_CONNECTION_OPTIONS)):
    /// every other field is checked against each of them, so their number
    /// bounds the relay's work on a head.
    TooManyConnectionOptions,

    // ---- WebSocket frames (RFC 6455 §5, §7, §8) ----
    /// RSV1-3 set without an extension that defines them.
    ReservedBitsSet,
    /// RSV1 (permessage-deflate's "compressed") on a control frame or a
    /// continuation frame (RFC 7692 §6.1).
    CompressedBitMisplaced,
    /// A compressed message is not valid DEFLATE data (RFC 7692 §7.2.2).
    InflateFailed,
    /// Opcode 3-7 or 11-15.
    ReservedOpcode,
    /// A client sent an unmasked frame (RFC 6455 §5.1).
    UnmaskedFrame,
    /// A server sent a masked frame (RFC 6455 §5.1).
    MaskedFrame,
    /// The most significant bit of a 64-bit payload length is set.
    LengthMsbSet,
    /// A control frame with more than 125 payload bytes.
    ControlFrameTooLong,
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A continuation frame with no message started.
    UnexpectedContinuation,
    /// A new text or binary frame inside a fragmented message.
    ExpectedContinuation,
    /// A Close payload of one byte.
    CloseTooShort,
    /// A close code that may not be sent (RFC 6455 §7.4).
    InvalidCloseCode,
    /// Text (or a close reason) that is not valid UTF-8.
    InvalidUtf8,
    /// A frame larger than the configured limit.
    FrameTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A message larger than the configured limit.
    MessageTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A message in more fragments than the configured limit.
    TooManyFragments {
        /// The limit.
        limit: u32,
    },
}

/// An error caused by the bytes the peer sent.
///
/// Small and `Copy`. [`PeerError::reply`] says what to send;
/// `Display` says what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerError {
    kind: PeerErrorKind,
    role: Role,
}

/// Which side of the connection a machine plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that sent the request.
    Client,
    /// The side that answers it.
    Server,
}

impl Role {
    /// The other side.
    ///
    /// ```
    /// use protoswitch::Role;
    /// assert_eq!(Role::Client.peer(), Role::Server);
    /// assert_eq!(Role::Server.peer(), Role::Client);
    /// ```
    pub const fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

impl PeerError {
    pub(crate) const fn new(kind: PeerErrorKind, role: Role) -> Self {
        PeerError { kind, role }
    }

    /// What went wrong.
    pub const fn kind(&self) -> PeerErrorKind {
        self.kind
    }

    /// The role of the machine that detected the error.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The HTTP status a server should answer with, if any.
    pub const fn status(&self) -> Option<u16> {
        match self.reply() {
            Reply::HttpStatus(s) => Some(s),
            _ => None,
        }
    }

    /// The WebSocket close code this error implies, for frame-level errors.
    pub const fn close_code(&self) -> Option<u16> {
        match self.answer() {
            Answer::CloseCode(code) => Some(code),
            Answer::Status(_) | Answer::CloseTransport => None,
        }
    }

    /// What to send because of this error. A client never answers with a
    /// status: where a server would, it closes the transport.
    pub const fn reply(&self) -> Reply {
        match (self.answer(), self.role) {
            (Answer::CloseCode(code), _) => Reply::CloseFrame(code),
            (Answer::Status(status), Role::Server) => Reply::HttpStatus(status),
            (Answer::Status(_), Role::Client) | (Answer::CloseTransport, _) => {
                Reply::CloseTransport
            }
        }
    }
}

/// The one table from error kind to what it implies and what it says:
/// every kind has a row, and there is no wildcard, so a new kind does not
/// compile until it is given an answer and a message.
///
/// It expands to two `match`es, `PeerError::answer` and
/// `PeerError::message`, each compiled to lookup tables (issue 9: one
/// `match` building `(Answer, &str)` pairs took 1,266 bytes of firmware
/// code).
macro_rules! peer_error_table {
    ($($kind:pat => ($answer:expr, $message:expr $(,)?),)*) => {
        impl PeerError {
            /// What the error implies, before the role is known.
            const fn answer(&self) -> Answer {
                use PeerErrorKind::*;
                match self.kind {
                    $($kind => $answer,)*
                }
            }

            /// A short diagnosing sentence (the same text as `Display`).
            /// Empty without the `diagnostics` feature (on by default),
            /// which leaves the sentences out of the binary.
            pub const fn message(&self) -> &'static str {
                #[cfg(feature = "diagnostics")]
                {
                    use PeerErrorKind::*;
                    match self.kind {
                        $($kind => $message,)*
                    }
                }
                #[cfg(not(feature = "diagnostics"))]
                {
                    ""
                }
            }
        }
    };
}

peer_error_table! {
    HeadTooLarge { .. } => (
        Answer::Status(431),
        "the message head is larger than the configured limit",
    ),
    TooManyHeaders { .. } => (
        Answer::Status(431),
        "the message head has more header fields than the configured limit",
    ),
    BadStartLine => (
        Answer::Status(400),
        "the request line or status line is malformed",
    ),
    BadVersion => (Answer::Status(505), "the HTTP major version is not 1"),
    BadTarget => (
        Answer::Status(400),
        "the request target's form does not fit the method, or it has a #fragment",
    ),
    BadHeaderName => (
        Answer::Status(400),
        "a header field name has a character outside token, or whitespace before the colon",
    ),
    BadHeaderValue => (
        Answer::Status(400),
        "a header field value contains a control character",
    ),
    ObsoleteLineFolding => (
        Answer::Status(400),
        "a header line starts with whitespace (obsolete line folding)",
    ),
    BadLineEnding => (Answer::Status(400), "a line does not end in CRLF"),
    BadStatus => (Answer::Status(400), "the status code is not three digits"),
    ContentLengthWithTransferEncoding => (
        Answer::Status(400),
        "the message has both Content-Length and Transfer-Encoding",
    ),
    BadContentLength => (
        Answer::Status(400),
        "Content-Length is invalid or has conflicting values",
    ),
    ChunkedNotFinal => (
        Answer::Status(400),
        "Transfer-Encoding does not end in chunked",
    ),
    UnsupportedTransferCoding => (
        Answer::Status(501),
        "a transfer coding other than chunked is not supported",
    ),
    BadChunk => (Answer::Status(400), "the chunked body framing is malformed"),
    HostMissingOrRepeated => (
        Answer::Status(400),
        "an HTTP/1.1 request needs exactly one Host header",
    ),
    InvalidHost => (Answer::Status(400), "the Host value is not host[:port]"),
    TransferEncodingInHttp10 => (
        Answer::Status(400),
        "an HTTP/1.0 message with Transfer-Encoding has faulty framing",
    ),
    BadTrailer => (
        Answer::Status(400),
        "a trailer line is not a valid field line",
    ),
    ChunkExtensionsTooLarge { .. } => (
        Answer::Status(413),
        "the chunk extensions are larger than the configured limit",
    ),
    TrailersTooLarge { .. } => (
        Answer::Status(431),
        "the trailer section is larger than the configured limit",
    ),
    TooManyTrailers { .. } => (
        Answer::Status(431),
        "the trailer section has more fields than the configured limit",
    ),
    UnsupportedExpectation => (
        Answer::Status(417),
        "the Expect header asks for something other than 100-continue",
    ),
    BadUpgradeToken => (
        Answer::Status(400),
        "an Upgrade element is not of the form name[/version]",
    ),
    ClosedBeforeHead => (
        Answer::CloseTransport,
        "the connection closed before a complete message head arrived",
    ),
    ClosedInBody => (
        Answer::CloseTransport,
        "the connection closed in the middle of a message body",
    ),
    RequestBodyUnsupported => (
        Answer::Status(413),
        "this server does not read request bodies (built without the request-body feature)",
    ),
    ClosedWithoutCloseFrame => (
        Answer::CloseTransport,
        "the connection closed without a WebSocket closing handshake (1006)",
    ),
    WebSocketMethodNotGet => (
        Answer::Status(400),
        "a WebSocket upgrade must use the GET method",
    ),
    WebSocketHttp10 => (Answer::Status(400), "a WebSocket upgrade needs HTTP/1.1"),
    WebSocketKeyMissingOrRepeated => (
        Answer::Status(400),
        "a WebSocket upgrade needs exactly one Sec-WebSocket-Key",
    ),
    WebSocketKeyInvalid => (
        Answer::Status(400),
        "Sec-WebSocket-Key must be base64 of exactly 16 bytes",
    ),
    WebSocketVersionMissingOrRepeated => (
        Answer::Status(400),
        "a WebSocket upgrade needs exactly one Sec-WebSocket-Version",
    ),
    WebSocketVersionUnsupported => (
        Answer::Status(426),
        "the WebSocket version is not 13: answer 426 with Sec-WebSocket-Version: 13",
    ),
    WebSocketBadNegotiationHeader => (
        Answer::Status(400),
        "Sec-WebSocket-Protocol or Sec-WebSocket-Extensions is malformed",
    ),
    H2cSettingsMissingOrRepeated => (
        Answer::Status(400),
        "an h2c upgrade needs exactly one HTTP2-Settings header",
    ),
    H2cSettingsInvalid => (
        Answer::Status(400),
        "HTTP2-Settings must be base64url without padding, decoding to a multiple of 6 bytes",
    ),
    H2cSettingsNotInConnection => (
        Answer::Status(400),
        "an h2c upgrade must list HTTP2-Settings in Connection",
    ),
    SwitchNotOffered => (
        Answer::CloseTransport,
        "the server answered 101 although no upgrade was offered",
    ),
    SwitchedToUnofferedProtocol => (
        Answer::CloseTransport,
        "the 101 response must name exactly one of the protocols the client offered",
    ),
    SwitchWithoutConnectionUpgrade => (
        Answer::CloseTransport,
        "the 101 response lacks Connection: upgrade",
    ),
    AcceptMissing => (
        Answer::CloseTransport,
        "the 101 response lacks Sec-WebSocket-Accept",
    ),
    AcceptMismatch => (
        Answer::CloseTransport,
        "Sec-WebSocket-Accept does not match the key sent: the server computed it wrongly or a proxy changed the request",
    ),
    SubprotocolNotOffered => (
        Answer::CloseTransport,
        "the server selected a subprotocol the client did not offer",
    ),
    ExtensionNotOffered => (
        Answer::CloseTransport,
        "the server selected an extension the client did not offer",
    ),
    ExtensionRepeated => (
        Answer::CloseTransport,
        "the server's response names the same extension twice",
    ),
    DeflateResponseInvalid => (
        Answer::CloseTransport,
        "the server's permessage-deflate parameters are invalid or answer none of the client's offers (RFC 7692 §7.1)",
    ),
    SwitchBeforeBodySent => (
        Answer::CloseTransport,
        "the server switched protocols before the request body was sent",
    ),
    SwitchInHttp10 => (
        Answer::CloseTransport,
        "an HTTP/1.0 peer answered 101: it cannot switch protocols",
    ),
    UnexpectedInterim => (
        Answer::CloseTransport,
        "an interim (1xx) response is not allowed here",
    ),
    BadUpstreamResponse => (
        Answer::Status(502),
        "the upstream's response is not valid HTTP/1.1, so the relay answers 502 instead",
    ),
    BadUpstreamSwitch => (
        Answer::Status(502),
        "the upstream's 101 cannot be tunnelled, so the relay answers 502 instead",
    ),
    UpstreamSwitchNotRequested => (
        Answer::Status(502),
        "the upstream answered 101 to a request whose upgrade the relay did not forward (a misbehaving or compromised upstream: RFC 9931); the relay refuses to tunnel",
    ),
    UpstreamClosedBeforeResponse => (
        Answer::Status(502),
        "the upstream closed the connection before a complete response head: is the upstream up, and does it speak HTTP/1.1 on that port?",
    ),
    UpstreamUnsolicited => (
        Answer::CloseTransport,
        "the upstream sent bytes while no request was waiting for an answer",
    ),
    ConnectNotRelayed => (
        Answer::Status(501),
        "the relay does not forward CONNECT requests",
    ),
    TooManyConnectionOptions => (
        Answer::Status(400),
        "Connection names more options than the relay reads",
    ),
    ReservedBitsSet => (
        Answer::CloseCode(1002),
        "a frame has RSV bits set that no negotiated extension defines",
    ),
    CompressedBitMisplaced => (
        Answer::CloseCode(1002),
        "RSV1 (compressed) is set on a control or continuation frame; only a message's first frame may carry it",
    ),
    InflateFailed => (
        Answer::CloseCode(1007),
        "a compressed message is not valid DEFLATE data",
    ),
    ReservedOpcode => (Answer::CloseCode(1002), "a frame uses a reserved opcode"),
    UnmaskedFrame => (
        Answer::CloseCode(1002),
        "a client sent an unmasked frame; client frames must be masked",
    ),
    MaskedFrame => (
        Answer::CloseCode(1002),
        "a server sent a masked frame; server frames must not be masked",
    ),
    LengthMsbSet => (
        Answer::CloseCode(1002),
        "the most significant bit of a 64-bit frame length is set",
    ),
    ControlFrameTooLong => (
        Answer::CloseCode(1002),
        "a control frame carries more than 125 bytes",
    ),
    FragmentedControlFrame => (
        Answer::CloseCode(1002),
        "a control frame is fragmented (FIN not set)",
    ),
    UnexpectedContinuation => (
        Answer::CloseCode(1002),
        "a continuation frame arrived with no message started",
    ),
    ExpectedContinuation => (
        Answer::CloseCode(1002),
        "a new data frame arrived inside a fragmented message; a continuation was expected",
    ),
    CloseTooShort => (
        Answer::CloseCode(1002),
        "a Close frame carries a single byte; a close code needs two",
    ),
    InvalidCloseCode => (
        Answer::CloseCode(1002),
        "a Close frame carries a close code that may not be sent",
    ),
    InvalidUtf8 => (
        Answer::CloseCode(1007),
        "a text message or close reason is not valid UTF-8",
    ),
    FrameTooLarge { .. } => (
        Answer::CloseCode(1009),
        "a frame is larger than the configured limit",
    ),
    MessageTooLarge { .. } => (
        Answer::CloseCode(1009),
        "a message is larger than the configured limit",
    ),
    TooManyFragments { .. } => (
        Answer::CloseCode(1009),
        "a message has more fragments than the configured limit",
    ),
}

/// What a peer error implies, before the role is known.
#[derive(Clone, Copy)]
enum Answer {
    /// An HTTP status (a server answers with it).
    Status(u16),
    /// A WebSocket close code.
    CloseCode(u16),
    /// Nothing to send: close the transport.
    CloseTransport,
}

/// Writes the diagnosing sentence of `error`; without the `diagnostics`
/// feature, which has none, the kind as `Debug` shows it (its limit
/// included). Returns whether the sentence was written.
fn write_diagnosis(f: &mut fmt::Formatter<'_>, error: &PeerError) -> Result<bool, fmt::Error> {
    if cfg!(feature = "diagnostics") {
        f.write_str(error.message())?;
        Ok(true)
    } else {
        write!(f, "{:?}", error.kind)?;
        Ok(false)
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !write_diagnosis(f, self)? {
            // The kind written shows its limit.
            return self.write_reply(f);
        }
        match self.kind {
            PeerErrorKind::HeadTooLarge { limit } => write!(f, " ({limit} bytes)")?,
            PeerErrorKind::TooManyHeaders { limit } => write!(f, " ({limit} fields)")?,
            PeerErrorKind::ChunkExtensionsTooLarge { limit } => write!(f, " ({limit} bytes)")?,
            PeerErrorKind::TrailersTooLarge { limit } => write!(f, " ({limit} bytes)")?,
            PeerErrorKind::TooManyTrailers { limit } => write!(f, " ({limit} fields)")?,
            PeerErrorKind::FrameTooLarge { limit } | PeerErrorKind::MessageTooLarge { limit } => {
                write!(f, " ({limit} bytes)")?
            }
            PeerErrorKind::TooManyFragments { limit } => write!(f, " ({limit} fragments)")?,
            _ => {}
        }
        self.write_reply(f)
    }
}

impl PeerError {
    /// The end of `Display`: what to send.
    fn write_reply(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reply() {
            Reply::HttpStatus(s) => write!(f, "; reply {s}"),
            Reply::CloseTransport => f.write_str("; close the connection"),
            Reply::CloseFrame(code) => write!(f, "; close with code {code}"),
        }
    }
}

/// A mistake of the caller: an operation not allowed in the current state,
/// or an invalid argument. Nothing was sent and the state did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LocalError {
    /// The operation is not allowed in the machine's current state.
    WrongState {
        /// The operation that was attempted.
        operation: &'static str,
        /// `Debug` name of the state the machine is in.
        state: &'static str,
    },
    /// The chosen protocol was not offered by the client.
    NotOffered,
    /// The chosen protocol's offer is not usable (see the request's
    /// `websocket()`/`h2c()` for the peer error that explains why).
    OfferInvalid(PeerErrorKind),
    /// The chosen subprotocol was not offered by the client.
    SubprotocolNotOffered,
    /// An extension in the response was not offered by the client.
    ExtensionNotOffered,
    /// The same extension is named twice in the response.
    ExtensionRepeated,
    /// A header name is not a token.
    InvalidHeaderName,
    /// A header value contains CR, LF, NUL or another control character.
    InvalidHeaderValue,
    /// This header is written by the machine itself and may not be given.
    ReservedHeader(&'static str),
    /// A protocol, subprotocol or extension is not a valid token.
    InvalidToken,
    /// The status code is not allowed for this operation.
    InvalidStatus(u16),
    /// A method or request target contains forbidden characters.
    InvalidRequestLine,
    /// The request offers no protocol.
    NoOffer,
    /// An offer needs this parameter (`websocket_key` for websocket,
    /// `h2c_settings` for h2c).
    MissingParameter(&'static str),
    /// A control frame payload (ping, pong, close code + reason) over 125
    /// bytes.
    ControlPayloadTooLong,
    /// A close code that may not be sent (RFC 6455 §7.4).
    InvalidCloseCode(u16),
    /// A close reason needs a close code (RFC 6455 §5.5.1).
    CloseReasonWithoutCode,
    /// Text to send is not valid UTF-8 (RFC 6455 §5.6); across fragments, a
    /// character may be split, but the message must end complete.
    InvalidUtf8,
    /// A text or binary frame while a fragmented message is being sent, or
    /// a continuation with none.
    FragmentationOrder,
    /// The handshake switched to a protocol other than WebSocket.
    NotWebSocket,
    /// A frame payload of 2^63 bytes or more cannot be sent (RFC 6455 §5.2).
    PayloadTooLarge,
    /// `poll_transmit` has handed out only part of a frame: drain it
    /// before sending, or the frames would interleave on the wire.
    TransmitPending,
    /// With permessage-deflate, messages are received with
    /// `receive_into`, which has room for the inflated bytes.
    InflateNeedsOutput,
    /// A CONNECT request names `host:port` (RFC 9110 §9.3.6) and carries
    /// no upgrade offer and no body: nothing goes before the tunnel
    /// (RFC 9931).
    InvalidConnect,
    /// `tunnel` answers only a CONNECT request.
    NotConnect,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::WrongState { operation, state } => {
                write!(f, "`{operation}` is not allowed in state {state}")
            }
            LocalError::NotOffered => f.write_str("the client did not offer this protocol"),
            LocalError::OfferInvalid(kind) => {
                f.write_str("the client's offer of this protocol is unusable: ")?;
                write_diagnosis(f, &PeerError::new(*kind, Role::Server)).map(|_| ())
            }
            LocalError::SubprotocolNotOffered => {
                f.write_str("the client did not offer this subprotocol")
            }
            LocalError::ExtensionNotOffered => {
                f.write_str("the client did not offer this extension")
            }
            LocalError::ExtensionRepeated => f.write_str("an extension is named twice"),
            LocalError::InvalidHeaderName => f.write_str("a header name is not a token"),
            LocalError::InvalidHeaderValue => {
                f.write_str("a header value contains a control character")
            }
            LocalError::ReservedHeader(name) => {
                write!(f, "the machine writes `{name}` itself; do not pass it")
            }
            LocalError::InvalidToken => f.write_str("not a valid token"),
            LocalError::InvalidStatus(s) => write!(f, "status {s} is not allowed here"),
            LocalError::InvalidRequestLine => {
                f.write_str("the method or target contains forbidden characters")
            }
            LocalError::NoOffer => f.write_str("the request offers no protocol to switch to"),
            LocalError::MissingParameter(p) => write!(f, "this offer needs `{p}`"),
            LocalError::ControlPayloadTooLong => {
                f.write_str("a control frame payload may not exceed 125 bytes")
            }
            LocalError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            LocalError::CloseReasonWithoutCode => {
                f.write_str("a close reason needs a close code")
            }
            LocalError::InvalidUtf8 => f.write_str("text to send is not valid UTF-8"),
            LocalError::TransmitPending => f.write_str(
                "poll_transmit has part of a frame left: drain it before sending",
            ),
            LocalError::PayloadTooLarge => f.write_str("a frame payload must be shorter than 2^63 bytes"),
            LocalError::NotWebSocket => f.write_str("the handshake switched to another protocol than WebSocket"),
            LocalError::InflateNeedsOutput => f.write_str(
                "with permessage-deflate, receive with `receive_into` and an output buffer",
            ),
            LocalError::FragmentationOrder => f.write_str(
                "finish the fragmented message before starting another, and start one before continuing it",
            ),
            LocalError::InvalidConnect => f.write_str(
                "a CONNECT request names host:port and carries no upgrade offer and no body",
            ),
            LocalError::NotConnect => f.write_str("only a CONNECT request can be tunnelled"),
        }
    }
}

/// Any error of this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke a rule; see [`PeerError::reply`] for what to send.
    Peer(PeerError),
    /// The caller made a mistake; nothing was sent.
    Local(LocalError),
    /// The output buffer is too small; nothing was written.
    BufferTooSmall {
        /// Bytes the output needs.
        needed: usize,
    },
}

impl Error {
    /// The peer error, if this is one.
    pub const fn peer(&self) -> Option<PeerError> {
        match self {
            Error::Peer(p) => Some(*p),
            _ => None,
        }
    }
}

impl From<PeerError> for Error {
    fn from(e: PeerError) -> Self {
        Error::Peer(e)
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Self {
        Error::Local(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Peer(e) => write!(f, "peer error: {e}"),
            Error::Local(e) => write!(f, "local error: {e}"),
            Error::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PeerError {}
#[cfg(feature = "std")]
impl std::error::Error for LocalError {}
#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[cfg(feature = "diagnostics")]
    #[test]
    fn display_says_what_happened_the_limit_and_what_to_send() {
        let server = |kind| PeerError::new(kind, Role::Server).to_string();
        let client = |kind| PeerError::new(kind, Role::Client).to_string();
        assert_eq!(
            server(PeerErrorKind::HeadTooLarge { limit: 8192 }),
            "the message head is larger than the configured limit (8192 bytes); reply 431"
        );
        assert_eq!(
            server(PeerErrorKind::TooManyTrailers { limit: 2 }),
            "the trailer section has more fields than the configured limit (2 fields); reply 431"
        );
        assert_eq!(
            server(PeerErrorKind::ChunkExtensionsTooLarge { limit: 9 }),
            "the chunk extensions are larger than the configured limit (9 bytes); reply 413"
        );
        assert_eq!(
            client(PeerErrorKind::AcceptMissing),
            "the 101 response lacks Sec-WebSocket-Accept; close the connection"
        );
        for (kind, unit) in [
            (PeerErrorKind::TooManyHeaders { limit: 5 }, "(5 fields)"),
            (
                PeerErrorKind::ChunkExtensionsTooLarge { limit: 5 },
                "(5 bytes)",
            ),
            (PeerErrorKind::TrailersTooLarge { limit: 5 }, "(5 bytes)"),
            (PeerErrorKind::FrameTooLarge { limit: 5 }, "(5 bytes)"),
            (PeerErrorKind::MessageTooLarge { limit: 5 }, "(5 bytes)"),
        ] {
            assert!(server(kind).contains(unit), "{kind:?}");
        }
        assert_eq!(
            server(PeerErrorKind::TooManyFragments { limit: 3 }),
            "a message has more fragments than the configured limit (3 fragments); close with code 1009"
        );
        assert_eq!(
            Error::BufferTooSmall { needed: 7 }.to_string(),
            "output buffer too small: 7 bytes needed"
        );
        assert_eq!(
            Error::Local(LocalError::TransmitPending).to_string(),
            "local error: poll_transmit has part of a frame left: drain it before sending"
        );
    }

    /// Without `diagnostics` there are no sentences: `message` is empty,
    /// and `Display` shows the kind (with its limit) and what to send.
    #[cfg(not(feature = "diagnostics"))]
    #[test]
    fn without_diagnostics_display_shows_the_kind() {
        let error = PeerError::new(PeerErrorKind::HeadTooLarge { limit: 8192 }, Role::Server);
        assert_eq!(error.message(), "");
        assert_eq!(error.to_string(), "HeadTooLarge { limit: 8192 }; reply 431");
        let error = PeerError::new(PeerErrorKind::InvalidUtf8, Role::Client);
        assert_eq!(error.to_string(), "InvalidUtf8; close with code 1007");
        assert_eq!(
            LocalError::OfferInvalid(PeerErrorKind::WebSocketKeyInvalid).to_string(),
            "the client's offer of this protocol is unusable: WebSocketKeyInvalid"
        );
    }

    #[test]
    fn a_client_never_replies_with_a_status() {
        for kind in [
            PeerErrorKind::HeadTooLarge { limit: 1 },
            PeerErrorKind::BadChunk,
            PeerErrorKind::UnsupportedTransferCoding,
        ] {
            let e = PeerError::new(kind, Role::Client);
            assert_eq!((e.reply(), e.status()), (Reply::CloseTransport, None));
            let e = PeerError::new(kind, Role::Server);
            assert!(matches!(e.reply(), Reply::HttpStatus(_)));
        }
        // Frame errors carry a close code in both roles.
        for role in [Role::Client, Role::Server] {
            let e = PeerError::new(PeerErrorKind::InvalidUtf8, role);
            assert_eq!(
                (e.reply(), e.close_code()),
                (Reply::CloseFrame(1007), Some(1007))
            );
        }
    }
}
