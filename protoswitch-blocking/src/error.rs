//! The adapter's error: what happened, and what was sent about it.

use std::fmt;
use std::io;

use protoswitch::PeerError;
use protoswitch::upgrade::Diagnosis;

/// Everything [`accept`](crate::accept), [`connect`](crate::connect), the
/// raw switches and [`WebSocket`](crate::WebSocket) can report.
///
/// Each variant says what was already sent: the adapter has answered the
/// peer (an error response, a Close frame) before returning it, so the
/// caller only logs it and drops the stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (a read, a write, a timeout setting).
    Io(io::Error),
    /// The protocol machine reported an error. A peer error
    /// ([`protoswitch::Error::Peer`]) was answered as it implies: an
    /// HTTP error response during a handshake (see also
    /// [`Error::Responded`]), a Close frame with its code on a WebSocket;
    /// the transport ending without a Close is
    /// [`PeerErrorKind::ClosedWithoutCloseFrame`](protoswitch::PeerErrorKind::ClosedWithoutCloseFrame)
    /// (the 1006 of RFC 6455). A local error is the caller's mistake
    /// (a close code that may not be sent, a subprotocol the client did not
    /// offer); nothing was sent for it.
    Protocol(protoswitch::Error),
    /// Server: the handshake ended with this response instead of a 101,
    /// and it was written. `cause` is the peer error behind it (a
    /// malformed request: 400, a WebSocket version other than 13: 426),
    /// `None` when the decision chose the response (a 401, the page served
    /// at `GET /`) or the request did not offer WebSocket (426).
    Responded {
        /// The status written.
        status: u16,
        /// Why, when the request was at fault.
        cause: Option<PeerError>,
    },
    /// Client: the server answered with a final status other than 101.
    Declined {
        /// The response's status.
        status: u16,
        /// The likely cause, as the client machine reads the response.
        diagnosis: Diagnosis,
        /// The response body (at most [`MAX_DECLINED_BODY`](crate::MAX_DECLINED_BODY) bytes kept).
        body: Vec<u8>,
    },
    /// The closing handshake completed, whoever started it: the normal end
    /// of a WebSocket, not a failure. `code` and `reason` are the peer's
    /// Close (`None` for an empty Close). [`WebSocket::read`](crate::WebSocket::read)
    /// returns it once every message before the Close was read, and again
    /// on every later call; [`Error::is_closed`] tells it apart.
    Closed {
        /// The peer's close code.
        code: Option<u16>,
        /// The peer's close reason.
        reason: String,
    },
    /// The keepalive's Ping got no Pong in time: the peer is gone
    /// ([`ws::Config::keepalive`](protoswitch::ws::Config::keepalive)).
    /// The transport was shut down without a Close.
    PeerUnresponsive,
    /// After our Close, the peer did not complete the closing handshake
    /// within [`ws::Config::close_timeout`](protoswitch::ws::Config::close_timeout).
    /// The transport was shut down.
    CloseTimedOut,
    /// No data message either way for [`Config::idle_timeout`](crate::Config::idle_timeout):
    /// a Close 1001 was sent. Returned once by
    /// [`WebSocket::read`](crate::WebSocket::read); keep reading to
    /// complete the closing handshake.
    IdleTimeout,
    /// The peer went over [`Config::rate_limit`](crate::Config::rate_limit)
    /// (with [`OnExceeded::Close`](protoswitch::ws::OnExceeded::Close)):
    /// a Close 1008 was sent. Returned once by
    /// [`WebSocket::read`](crate::WebSocket::read); keep reading to
    /// complete the closing handshake.
    RateLimited,
}

impl Error {
    /// `true` for [`Error::Closed`]: the connection ended cleanly.
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Closed { .. })
    }

    /// `true` when trying again may work: the transport failed (refused,
    /// reset, timed out), or the server answered 408, 429, 500, 502, 503
    /// or 504. What [`connect_with_retry`](crate::connect_with_retry)
    /// retries.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Io(_) => true,
            Error::Declined { status, .. } => protoswitch::Backoff::is_transient_status(*status),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "transport error: {e}"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::Responded {
                status,
                cause: Some(cause),
            } => write!(f, "answered {status} instead of switching: {cause}"),
            Error::Responded {
                status,
                cause: None,
            } => write!(f, "answered {status} instead of switching"),
            Error::Declined {
                status, diagnosis, ..
            } => write!(
                f,
                "the server declined the upgrade with {status}: {diagnosis}"
            ),
            Error::Closed {
                code: Some(code),
                reason,
            } if reason.is_empty() => {
                write!(f, "the connection closed with code {code}")
            }
            Error::Closed {
                code: Some(code),
                reason,
            } => {
                write!(f, "the connection closed with code {code}: {reason}")
            }
            Error::Closed { code: None, .. } => f.write_str("the connection closed (no code)"),
            Error::PeerUnresponsive => {
                f.write_str("the peer did not answer the keepalive Ping in time")
            }
            Error::CloseTimedOut => {
                f.write_str("the peer did not complete the closing handshake in time")
            }
            Error::IdleTimeout => {
                f.write_str("no data message within the idle timeout: closed with 1001")
            }
            Error::RateLimited => f.write_str("the peer exceeded the rate limit: closed with 1008"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Responded {
                cause: Some(cause), ..
            } => Some(cause),
            Error::Responded { cause: None, .. }
            | Error::Declined { .. }
            | Error::Closed { .. }
            | Error::PeerUnresponsive
            | Error::CloseTimedOut
            | Error::IdleTimeout
            | Error::RateLimited => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<protoswitch::Error> for Error {
    fn from(e: protoswitch::Error) -> Self {
        Error::Protocol(e)
    }
}

impl From<PeerError> for Error {
    fn from(e: PeerError) -> Self {
        Error::Protocol(e.into())
    }
}

impl From<protoswitch::LocalError> for Error {
    fn from(e: protoswitch::LocalError) -> Self {
        Error::Protocol(e.into())
    }
}
