//! The adapter's error: the core's errors, I/O, and how a connection ended.

use std::fmt;
use std::io;

use protoswitch::upgrade::Diagnosis;
use protoswitch::ws::CloseCause;

/// What went wrong in a handshake or on a connection.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// The core refused: a peer that broke a rule (the Close or error
    /// response it implies was sent), or a call the core does not allow.
    Protocol(protoswitch::Error),
    /// [`connect`](crate::connect): the server answered with a final status
    /// other than 101.
    Declined {
        /// The response's status.
        status: u16,
        /// Why, as far as the response tells.
        diagnosis: Diagnosis,
        /// The response body (a 401's explanation, a 426's text).
        body: Vec<u8>,
    },
    /// [`accept`](crate::accept) (or `http::upgrade`, feature `http`): the
    /// request was answered with this status instead of 101 (the callback's
    /// [`Rejected`](crate::Rejected), or a 426 / 400 for a request that was
    /// not a usable WebSocket upgrade).
    Rejected {
        /// The status sent.
        status: u16,
    },
    /// The connection ended without a clean closing handshake: the
    /// transport ended (1006), the peer did not answer our Close in time,
    /// or the keepalive found it unresponsive.
    Closed(CloseCause),
    /// Sending after the closing handshake started, or after the end.
    AlreadyClosed,
    /// [`Options::idle_timeout`](crate::Options::idle_timeout): no data
    /// message moved for that long; Close 1001 was sent. Reported once by
    /// the stream, which then completes the closing handshake.
    IdleTimeout,
    /// [`Options::rate_limit`](crate::Options::rate_limit) with
    /// [`OnExceeded::Close`](protoswitch::ws::OnExceeded::Close): the peer
    /// sent too fast; Close 1008 was sent. Reported once, then the
    /// closing handshake completes.
    RateLimited,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "i/o: {e}"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::Declined {
                status, diagnosis, ..
            } => write!(f, "the server answered {status}: {diagnosis}"),
            Error::Rejected { status } => write!(f, "the upgrade was answered with {status}"),
            Error::Closed(CloseCause::TransportEnded) => {
                f.write_str("the transport ended without a closing handshake (1006)")
            }
            Error::Closed(CloseCause::CloseTimedOut) => {
                f.write_str("the peer did not answer our Close in time")
            }
            Error::Closed(CloseCause::PeerUnresponsive) => {
                f.write_str("keepalive: no Pong arrived in time")
            }
            Error::Closed(cause) => write!(f, "the connection closed: {cause:?}"),
            Error::AlreadyClosed => f.write_str("the connection is closing or closed"),
            Error::IdleTimeout => f.write_str("idle timeout: closed with 1001"),
            Error::RateLimited => f.write_str("the peer exceeded the rate limit: closed with 1008"),
        }
    }
}

impl Error {
    /// A failure that trying again later may not meet: the transport
    /// failed, or the server declined with 408 (Request Timeout), 429 (Too
    /// Many Requests), 500, 502, 503 or 504. What
    /// [`connect_with_retry`](crate::connect_with_retry) retries.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Io(_) => true,
            Error::Declined { status, .. } => protoswitch::Backoff::is_transient_status(*status),
            _ => false,
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            _ => None,
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

impl From<protoswitch::PeerError> for Error {
    fn from(e: protoswitch::PeerError) -> Self {
        Error::Protocol(e.into())
    }
}

impl From<protoswitch::LocalError> for Error {
    fn from(e: protoswitch::LocalError) -> Self {
        Error::Protocol(e.into())
    }
}
