//! The opening handshake on an [`http::Request`] and the WebSocket on the
//! connection hyper hands over after the 101 (feature `http`): for hyper 1
//! servers and the frameworks on them (axum).
//!
//! Nothing here decides anything about the protocol. The request's head
//! (method, target, version, headers) is written out as HTTP/1.1 bytes and
//! read by the core's [`ServerHandshake`] exactly as [`accept`](crate::accept)
//! reads it from a socket, with the same callback; the bytes the core
//! writes (a 101 with `Sec-WebSocket-Accept`, the subprotocol and the
//! agreed permessage-deflate, or a 426 / 4xx with its diagnosis, or your
//! [`Rejected`]) are read back into an [`http::Response`] for the server to
//! send. So a request gets the same answer here as from `accept`: an
//! HTTP/1.0 request or a missing `Connection: upgrade` gets 426, a method
//! other than GET or a missing key 400 with the reason, version 8 a 426
//! with `Sec-WebSocket-Version: 13`. WebSocket over HTTP/2 (RFC 8441) is
//! not supported: an HTTP/2 request's head reads as `HTTP/2.0`, which the
//! core answers with 505.
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use futures_util::{SinkExt, StreamExt};
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::server::conn::http1;
//! use hyper::service::service_fn;
//! use hyper_util::rt::TokioIo;
//! use protoswitch_tokio::{Accepted, Rejected};
//!
//! async fn handle(
//!     mut request: http::Request<Incoming>,
//! ) -> Result<http::Response<Full<Bytes>>, Infallible> {
//!     let (response, upgrade) = protoswitch_tokio::http::upgrade(&mut request, |req| {
//!         match req.headers().get("Authorization") {
//!             Some(_) => Ok(Accepted::new()),
//!             None => Err(Rejected::new(401).body("a token is required\n")),
//!         }
//!     });
//!     // Err: the request got the response above instead of a 101.
//!     if let Ok(upgrade) = upgrade {
//!         tokio::spawn(async move {
//!             let mut ws = upgrade.websocket().await?;
//!             while let Some(message) = ws.next().await {
//!                 ws.send(message?).await?;
//!             }
//!             Ok::<_, protoswitch_tokio::Error>(())
//!         });
//!     }
//!     Ok(response)
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     tokio::spawn(
//!         http1::Builder::new()
//!             .serve_connection(TokioIo::new(tcp), service_fn(handle))
//!             // Without this hyper never hands the connection over.
//!             .with_upgrades(),
//!     );
//! }
//! # }
//! ```
//!
//! The response body type is yours: any `R: From<Vec<u8>>`
//! (`http_body_util::Full<Bytes>`, `axum::body::Body`).
//!
//! With a server other than hyper, [`answer`] gives the response and a
//! [`Switched`], which turns any upgraded transport (and the bytes already
//! read from it after the request head) into a [`WebSocketStream`].

use std::io;

use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use protoswitch::upgrade::{
    DeflateConfig, DeflateParams, Request, Response, ServerEvent, ServerHandshake,
};
use protoswitch::ws::Connection;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::handshake::{Answer, answer as decide_on, emit};
use crate::stream::{Clock, Machine, Parts};
use crate::{Accepted, Error, Options, Rejected, WebSocketStream};

/// The WebSocket on the connection hyper hands over after the 101.
pub type WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// [`upgrade_with`] with the default [`Options`] (permessage-deflate
/// accepted when offered).
pub fn upgrade<B, R, F>(
    request: &mut ::http::Request<B>,
    decide: F,
) -> (::http::Response<R>, Result<Upgrade, Error>)
where
    R: From<Vec<u8>>,
    F: FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
{
    upgrade_with(request, Options::default(), decide)
}

/// Answers `request` as [`accept_with`](crate::accept_with) would: the
/// response to return from the handler, and, when it is the 101, the
/// [`Upgrade`] that becomes the WebSocket once hyper has sent it (it takes
/// hyper's upgrade handle out of the request's extensions).
///
/// `decide` is called only for a usable WebSocket upgrade, as by
/// `accept`; the `Err` says why there is no switch — [`Error::Rejected`]
/// (your [`Rejected`], or 426 for a request that offers no WebSocket),
/// [`Error::Protocol`] (a malformed offer, answered with its status and
/// diagnosis; or a choice the request does not allow, such as a
/// subprotocol it did not offer, answered with 500).
pub fn upgrade_with<B, R, F>(
    request: &mut ::http::Request<B>,
    options: Options,
    decide: F,
) -> (::http::Response<R>, Result<Upgrade, Error>)
where
    R: From<Vec<u8>>,
    F: FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
{
    let (response, switched) = answer(
        request.method(),
        request.uri(),
        request.version(),
        request.headers(),
        options,
        decide,
    );
    let upgrade = switched.map(|switched| Upgrade {
        on: hyper::upgrade::on(request),
        switched,
    });
    (response, upgrade)
}

/// The handshake on a request head given in parts (for servers other than
/// hyper, or a request already taken apart): the response, and when it is
/// the 101 the [`Switched`] outcome. See [`upgrade_with`].
pub fn answer<R, F>(
    method: &::http::Method,
    uri: &::http::Uri,
    version: ::http::Version,
    headers: &::http::HeaderMap,
    options: Options,
    decide: F,
) -> (::http::Response<R>, Result<Switched, Error>)
where
    R: From<Vec<u8>>,
    F: FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
{
    let head = request_head(method, uri, version, headers);
    let mut server = ServerHandshake::new(Default::default());
    let mut out = Vec::new();
    let (bytes, outcome) = match run(&mut server, &head, &options, decide, &mut out) {
        Ok(Answer::Switch {
            n,
            subprotocol,
            deflate,
        }) => {
            let switched = Switched {
                server,
                options,
                subprotocol,
                deflate,
            };
            (&out[..n], Ok(switched))
        }
        Ok(Answer::Respond { n, error }) => (&out[..n], Err(error)),
        Err(error) => {
            // A choice the request does not allow (or a failure of the
            // machine): the request is fine, the server is not.
            let r = Response::new(500);
            match emit(&mut out, |o| server.respond(&r, o)) {
                Ok(n) => (&out[..n], Err(error)),
                Err(_) => (
                    &b"HTTP/1.1 500 Internal Server Error\r\n\r\n"[..],
                    Err(error),
                ),
            }
        }
    };
    match http_response(bytes) {
        Ok(response) => (response, outcome),
        Err(e) => {
            let mut response = ::http::Response::new(R::from(Vec::new()));
            *response.status_mut() = ::http::StatusCode::INTERNAL_SERVER_ERROR;
            (response, Err(outcome.err().unwrap_or(e)))
        }
    }
}

/// Runs the core's server machine on a complete head, as `accept` does.
fn run(
    server: &mut ServerHandshake,
    head: &[u8],
    options: &Options,
    decide: impl FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
    out: &mut Vec<u8>,
) -> Result<Answer, Error> {
    let failed = match server.receive(head) {
        Ok(got) => match got.event {
            Some(ServerEvent::Request(request)) => {
                return decide_on(server, &request, options, decide, out);
            }
            // Not expected from a complete head: the core says what is
            // owed when the input ends here.
            _ => match server.receive_eof() {
                Err(protoswitch::Error::Peer(e)) => e,
                Err(e) => return Err(e.into()),
                Ok(_) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            },
        },
        // The head is not a request the core takes (a version it refuses,
        // an unknown transfer coding, a bad target or header).
        Err(protoswitch::Error::Peer(e)) => e,
        Err(e) => return Err(e.into()),
    };
    // The machine failed and queued its reply (400, 431, 505, ...).
    out.clear();
    let mut chunk = [0u8; 1024];
    loop {
        match server.poll_transmit(&mut chunk) {
            0 => break,
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
    let n = out.len();
    Ok(Answer::Respond {
        n,
        error: failed.into(),
    })
}

/// The request head as HTTP/1.1 bytes: `METHOD target HTTP/1.x`, the
/// headers in the map's order, the empty line.
fn request_head(
    method: &::http::Method,
    uri: &::http::Uri,
    version: ::http::Version,
    headers: &::http::HeaderMap,
) -> Vec<u8> {
    // A request hyper parsed has an origin-form target (or an absolute
    // one, kept whole); `*` and authority-form come back as they were.
    let target = match (uri.scheme(), uri.path_and_query()) {
        (None, Some(pq)) => pq.as_str().to_owned(),
        _ => uri.to_string(),
    };
    let version = match version {
        ::http::Version::HTTP_09 => "HTTP/0.9",
        ::http::Version::HTTP_10 => "HTTP/1.0",
        ::http::Version::HTTP_11 => "HTTP/1.1",
        ::http::Version::HTTP_2 => "HTTP/2.0",
        ::http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    };
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.push(b' ');
    head.extend_from_slice(version.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// A response the core wrote, as an [`http::Response`]: its status, its
/// headers but the framing ones (the server frames the body itself), its
/// body. An interim `100 Continue` before it (the request had `Expect:
/// 100-continue`) is left out: the server sends its own interim
/// responses, and a handler's response is the final one.
fn http_response<R: From<Vec<u8>>>(mut bytes: &[u8]) -> Result<::http::Response<R>, Error> {
    let bad = |what: &str| Error::Io(io::Error::other(format!("the core's response: {what}")));
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    let mut headers = vec![httparse::EMPTY_HEADER; lines];
    let (parsed, len) = loop {
        let mut parsed = httparse::Response::new(&mut headers);
        let len = match parsed.parse(bytes) {
            Ok(httparse::Status::Complete(len)) => len,
            _ => return Err(bad("not a complete head")),
        };
        match parsed.code {
            Some(code @ 100..=199) if code != 101 => bytes = &bytes[len..],
            _ => break (parsed, len),
        }
    };
    let mut builder = ::http::Response::builder().status(parsed.code.unwrap_or(500));
    for header in parsed.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length")
            || header.name.eq_ignore_ascii_case("transfer-encoding")
        {
            continue;
        }
        builder = builder.header(header.name, header.value);
    }
    builder
        .body(R::from(bytes[len..].to_vec()))
        .map_err(|e| bad(&e.to_string()))
}

/// What the handshake agreed, for a 101 on its way: turns the transport
/// the server hands over into the [`WebSocketStream`].
#[derive(Debug)]
pub struct Switched {
    /// The core's machine, switched to WebSocket.
    server: ServerHandshake,
    options: Options,
    subprotocol: Option<String>,
    deflate: Option<(DeflateConfig, DeflateParams)>,
}

impl Switched {
    /// The subprotocol selected, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// What permessage-deflate agreed, when it is on.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate.map(|(_, params)| params)
    }

    /// The server side of the WebSocket over `io`, the transport after the
    /// 101 was written; `read` is what was already read from it after the
    /// request head (the first frames), empty if nothing was.
    pub fn into_stream<S>(self, io: S, read: &[u8]) -> Result<WebSocketStream<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let clock = Clock::new();
        let initial = crate::sizing::INITIAL_READ.min(self.options.read_buffer_size);
        let recv = crate::sizing::from_read(read, initial);
        let conn =
            Connection::from_server_handshake(self.server, self.options.config, clock.now())?;
        let parts = Parts {
            machine: Machine::Server(conn),
            clock,
            recv,
            deflate: self.deflate,
            subprotocol: self.subprotocol,
            write_limit: self.options.write_buffer_limit,
            read_max: self.options.read_buffer_size,
            idle_timeout: self.options.idle_timeout,
            rate_limit: self.options.rate_limit,
        };
        Ok(WebSocketStream::new(io, parts))
    }
}

/// A 101 on its way: [`websocket`](Self::websocket) waits for hyper to
/// send it and hand the connection over.
#[derive(Debug)]
pub struct Upgrade {
    on: OnUpgrade,
    switched: Switched,
}

impl Upgrade {
    /// The subprotocol selected, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.switched.subprotocol()
    }

    /// What permessage-deflate agreed, when it is on.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.switched.deflate()
    }

    /// The WebSocket, once hyper has written the 101 and handed the
    /// connection over (bytes hyper read past the request head come first
    /// out of it). Fails with [`Error::Io`] if the connection was not
    /// served `with_upgrades()` or closed before the switch.
    ///
    /// Cancel safety: not cancel safe (the connection is lost with the
    /// future).
    pub async fn websocket(self) -> Result<WebSocket, Error> {
        let upgraded = self.on.await.map_err(io::Error::other)?;
        self.switched.into_stream(TokioIo::new(upgraded), &[])
    }
}
