//! # protoswitch-blocking
//!
//! A blocking `std::io` driver for [`protoswitch`]'s machines: the I/O
//! loop of its crate docs written once, for both roles. It has no protocol
//! logic of its own: the handshakes, framing, Close, keepalive and
//! permessage-deflate are protoswitch's; this crate reads, writes and sets
//! read and write timeouts.
//!
//! * Server: [`accept`] reads the request, asks your callback for a
//!   [`Decision`] (accept, with a subprotocol and extra headers, or any
//!   response: a 401 with a body, a page, a 404), writes the 101 or the
//!   response, and returns a [`WebSocket`]. permessage-deflate is
//!   negotiated from [`Config::deflate`] (on by default).
//! * Client: [`connect`] writes the request (its key from the operating
//!   system's entropy), offers permessage-deflate, and returns a
//!   [`WebSocket`], or [`Error::Declined`] with the server's status, the
//!   diagnosis and the body. [`connect_with_retry`] retries transient
//!   failures with a [`Backoff`](protoswitch::Backoff).
//! * Policies for long-lived connections, off by default:
//!   [`Config::idle_timeout`] (Close 1001 after no data message) and
//!   [`Config::rate_limit`] (incoming messages and bytes per second; over
//!   it, `read` waits, or the connection closes with 1008).
//! * [`WebSocket`]: [`read`](WebSocket::read) the next message,
//!   [`send`](WebSocket::send) one, [`ping`](WebSocket::ping),
//!   [`close`](WebSocket::close). Keepalive and close timeout run on read
//!   and write timeouts (see [`Transport`]): a peer that stops reading is
//!   found by the keepalive, and the last bytes of a closing connection
//!   get the close timeout.
//! * Time limits of the handshake are the caller's: `accept` and `connect`
//!   read with the stream's own read timeout (none by default: set one,
//!   e.g. `TcpStream::set_read_timeout`, before handing the stream over). A
//!   peer that sends a byte per timeout keeps them reading up to the head
//!   limit; bound the whole handshake with a deadline of your own if that
//!   matters (a thread that gives up the connection after it). That read
//!   timeout stays on the `WebSocket` while none of its timers is due:
//!   clear it after the handshake if `read` should wait for messages
//!   without limit.
//! * Any other protocol (h2c, a custom token): [`accept_raw`] and
//!   [`connect_raw`] do the switch and hand back the stream with the bytes
//!   already read after the 101 ([`Upgraded`]).
//!
//! ## Echo server and client
//!
//! ```
//! use std::net::{TcpListener, TcpStream};
//! use std::thread;
//!
//! use protoswitch::Header;
//! use protoswitch::upgrade::{ClientRequest, Response};
//! use protoswitch::ws::Message;
//! use protoswitch_blocking::{Decision, Error};
//!
//! const CHALLENGE: &[Header] = &[Header::new("WWW-Authenticate", b"Bearer")];
//!
//! /// One connection: authenticate, pick the subprotocol, echo.
//! fn serve(stream: TcpStream) -> Result<(), Error> {
//!     let mut ws = protoswitch_blocking::accept(stream, |request| {
//!         if request.headers().get("Authorization") != Some(b"Bearer secret") {
//!             return Decision::respond(Response::new(401).headers(CHALLENGE).body(b"log in first\n"));
//!         }
//!         Decision::accept().subprotocol("chat")
//!     })?;
//!     loop {
//!         match ws.read() {
//!             Ok(message) => ws.send(message)?,
//!             Err(e) if e.is_closed() => return Ok(()),
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     thread::spawn(move || {
//!         for stream in listener.incoming().flatten() {
//!             thread::spawn(move || {
//!                 if let Err(e) = serve(stream) {
//!                     eprintln!("connection: {e}");
//!                 }
//!             });
//!         }
//!     });
//!
//!     let host = addr.to_string();
//!     let auth = [Header::new("Authorization", b"Bearer secret")];
//!     let request = ClientRequest::new("GET", "/", &host, &["websocket"])
//!         .subprotocols(&["chat"])
//!         .headers(&auth);
//!     let mut ws = protoswitch_blocking::connect(TcpStream::connect(addr)?, &request)?;
//!     assert_eq!(ws.subprotocol(), Some("chat"));
//!     assert!(ws.deflate().is_some()); // permessage-deflate, on both sides by default
//!     ws.send_text("hello")?;
//!     assert_eq!(ws.read()?, Message::Text("hello".into()));
//!     ws.close(1000, "bye")?;
//!     let end = ws.read().unwrap_err();
//!     assert!(matches!(end, Error::Closed { code: Some(1000), .. }));
//!
//!     // Without the token: a 401, body included.
//!     let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
//!     match protoswitch_blocking::connect(TcpStream::connect(addr)?, &request) {
//!         Err(Error::Declined { status: 401, body, .. }) => assert_eq!(body, b"log in first\n"),
//!         other => panic!("{other:?}"),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! ## Ends and errors
//!
//! Every failure is an [`Error`] that says what was already sent: a
//! malformed request was answered 400 (a wrong WebSocket version 426)
//! before [`Error::Responded`] came back; a peer breaking a WebSocket rule
//! was sent a Close with the code. A clean closing handshake ends
//! [`WebSocket::read`] with [`Error::Closed`] ([`Error::is_closed`]).
//!
//! ## Logging
//!
//! Feature `tracing`: the handshake (accepted with protocol, subprotocol
//! and permessage-deflate parameters; refused with its status; a bad
//! request; declined with the core's diagnosis) and the close (the peer's
//! Close, how the connection ended) as `tracing` events under the target
//! `protoswitch_blocking`. Installing a subscriber is the one line of
//! set-up.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod handshake;
mod log;
mod transport;
mod websocket;

use std::io::{self, Read, Write};
use std::time::Duration;

use protoswitch::upgrade::{
    Accept, ClientConfig, ClientRequest, DeflateConfig, Request, Response, ServerConfig,
};
use protoswitch::ws::{Connection, RateLimit};
use protoswitch::{Header, OsRandom, StdClock, ws};

pub use error::Error;
pub use handshake::MAX_DECLINED_BODY;
use handshake::Plan;
use log::log;
pub use transport::Transport;
use websocket::Agreement;
pub use websocket::WebSocket;

/// How the adapter runs the machines: their configurations, and
/// permessage-deflate.
///
/// ```
/// use std::time::Duration;
/// use protoswitch::ws::{self, Keepalive};
/// use protoswitch_blocking::Config;
///
/// let config = Config::new()
///     .websocket(ws::Config::new().keepalive(Some(Keepalive::idle(
///         Duration::from_secs(20),
///         Duration::from_secs(10),
///     ))))
///     .deflate(None); // no compression
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The WebSocket connection: limits, keepalive, close timeout.
    pub websocket: ws::Config,
    /// permessage-deflate: offered by [`connect`], accepted by [`accept`]
    /// when the client offers it. `None` turns it off. Default: the
    /// defaults of [`DeflateConfig`].
    pub deflate: Option<DeflateConfig>,
    /// The server handshake's limits.
    pub server: ServerConfig,
    /// The client handshake's limits and 100-continue timeout.
    pub client: ClientConfig,
    /// [`accept_raw`]: the largest request body read (and kept in memory)
    /// before the switch. A larger one is answered `413 Content Too Large`
    /// (at its head when `Content-Length` says so, else once that many
    /// bytes arrived; the connection then closes). Default: 1 MiB.
    pub max_request_body: u64,
    /// Close with 1001 (Going Away) after this long without a data
    /// message either way (Pings do not count: the keepalive finds dead
    /// peers, this ends silent ones); [`WebSocket::read`] returns
    /// [`Error::IdleTimeout`] once, then goes on with the closing
    /// handshake. Default none.
    pub idle_timeout: Option<Duration>,
    /// Limits on incoming messages and bytes per second, and what to do
    /// over them: stop reading until the rate is back (`read` waits; TCP
    /// backpressure does the rest), or close with 1008 ([`Error::RateLimited`]
    /// once, then the closing handshake). Every data message counts at its
    /// end and every control frame as one message; bytes are those on the
    /// wire, frame headers included (an inflated message counts its
    /// inflated size where that is more). A pause is not the peer's
    /// silence: the keepalive waits for the Pong it holds back, the idle
    /// timeout counts from its end, and our Close ends it. A read timeout
    /// of your own still bounds each `read` ([`Error::Io`] `TimedOut`
    /// while the pause lasts); a non-blocking stream's `read` waits the
    /// pause out (nothing is read meanwhile): use
    /// [`OnExceeded::Close`](protoswitch::ws::OnExceeded::Close) there.
    /// Default none.
    pub rate_limit: Option<RateLimit>,
}

impl Config {
    /// The defaults (permessage-deflate on).
    pub const fn new() -> Self {
        Config {
            websocket: ws::Config::new(),
            deflate: Some(DeflateConfig::new()),
            server: ServerConfig::new(),
            client: ClientConfig::new(),
            max_request_body: 1 << 20,
            idle_timeout: None,
            rate_limit: None,
        }
    }
    /// Sets [`Config::websocket`].
    pub const fn websocket(mut self, config: ws::Config) -> Self {
        self.websocket = config;
        self
    }
    /// Sets [`Config::deflate`].
    pub const fn deflate(mut self, config: Option<DeflateConfig>) -> Self {
        self.deflate = config;
        self
    }
    /// Sets [`Config::server`].
    pub const fn server(mut self, config: ServerConfig) -> Self {
        self.server = config;
        self
    }
    /// Sets [`Config::max_request_body`].
    pub const fn max_request_body(mut self, bytes: u64) -> Self {
        self.max_request_body = bytes;
        self
    }
    /// Sets [`Config::client`].
    pub const fn client(mut self, config: ClientConfig) -> Self {
        self.client = config;
        self
    }
    /// Sets [`Config::idle_timeout`].
    pub const fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Sets [`Config::rate_limit`].
    pub const fn rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.rate_limit = limit;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

/// What an [`accept`] callback decided about a request: switch to
/// WebSocket, or answer with any response. Strings are borrowed from the
/// callback's surroundings (or `'static`), not from the request.
///
/// ```
/// use protoswitch::Header;
/// use protoswitch::upgrade::Response;
/// use protoswitch_blocking::Decision;
///
/// let cookie = [Header::new("Set-Cookie", b"session=1")];
/// let yes = Decision::accept().subprotocol("chat").headers(&cookie);
/// let no = Decision::respond(Response::new(403).body(b"not you\n"));
/// # let _ = (yes, no);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a>(Choice<'a>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice<'a> {
    Accept {
        subprotocol: Option<&'a str>,
        headers: &'a [Header<'a>],
        deflate: bool,
    },
    Respond(Response<'a>),
}

impl<'a> Decision<'a> {
    /// Switch to WebSocket. When the request is not a WebSocket upgrade
    /// the adapter answers `426 Upgrade Required` instead; a request with
    /// a body gets 400.
    pub const fn accept() -> Self {
        Decision(Choice::Accept {
            subprotocol: None,
            headers: &[],
            deflate: true,
        })
    }

    /// Answer with `response` (any status from 200 to 599) and do not
    /// switch.
    pub const fn respond(response: Response<'a>) -> Self {
        Decision(Choice::Respond(response))
    }

    /// With the subprotocol `name`, which the client must have offered
    /// (else the adapter answers 500 and returns the local error).
    pub fn subprotocol(mut self, name: &'a str) -> Self {
        if let Choice::Accept { subprotocol, .. } = &mut self.0 {
            *subprotocol = Some(name);
        }
        self
    }

    /// With extra headers in the 101.
    pub fn headers(mut self, extra: &'a [Header<'a>]) -> Self {
        if let Choice::Accept { headers, .. } = &mut self.0 {
            *headers = extra;
        }
        self
    }

    /// Without permessage-deflate for this connection, even when offered.
    pub fn without_deflate(mut self) -> Self {
        if let Choice::Accept { deflate, .. } = &mut self.0 {
            *deflate = false;
        }
        self
    }
}

/// The server side of a WebSocket opening handshake, with the default
/// [`Config`]: see [`accept_with`].
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use std::io::{Read, Write};
/// use protoswitch_blocking::{Decision, Error};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let mut client = TcpStream::connect(listener.local_addr()?)?;
/// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?; // not an upgrade
/// let (stream, _) = listener.accept()?;
/// match protoswitch_blocking::accept(stream, |_| Decision::accept()) {
///     Err(Error::Responded { status: 426, .. }) => {}
///     other => panic!("{other:?}"),
/// }
/// let mut answer = String::new();
/// client.read_to_string(&mut answer)?;
/// assert!(answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept<'d, S, F>(stream: S, decide: F) -> Result<WebSocket<S>, Error>
where
    S: Read + Write + Transport,
    F: FnOnce(&Request<'_>) -> Decision<'d>,
{
    accept_with(stream, &Config::new(), decide)
}

/// The server side of a WebSocket opening handshake: reads the request,
/// calls `decide` with it, writes the 101 or the response.
///
/// * A malformed request is answered with the machine's error response
///   (400, 431, ...), and a WebSocket offer that is invalid (a version
///   other than 13: 426 with `Sec-WebSocket-Version: 13`) with
///   [`Response::for_error`], without calling `decide`; the error is
///   [`Error::Responded`] with the cause.
/// * [`Decision::respond`] writes that response; the error is
///   [`Error::Responded`] with `cause: None` (also for a page served at
///   `GET /`: that connection is done).
/// * [`Decision::accept`] switches, with permessage-deflate when the
///   client offered it and [`Config::deflate`] is set.
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use protoswitch::upgrade::{ClientRequest, Response};
/// use protoswitch_blocking::{Config, Decision, Error};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = std::thread::spawn(move || {
///     let (stream, _) = listener.accept().unwrap();
///     let config = Config::new().deflate(None);
///     protoswitch_blocking::accept_with(stream, &config, |request| {
///         match request.target() {
///             "/chat" => Decision::accept(),
///             _ => Decision::respond(Response::new(404).body(b"no such room\n")),
///         }
///     })
///     .map(|ws| ws.deflate())
/// });
/// let host = addr.to_string();
/// let request = ClientRequest::new("GET", "/chat", &host, &["websocket"]);
/// let ws = protoswitch_blocking::connect(TcpStream::connect(addr)?, &request)?;
/// assert_eq!(ws.deflate(), None); // the server turned it off
/// assert_eq!(server.join().unwrap()?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_with<'d, S, F>(
    mut stream: S,
    config: &Config,
    decide: F,
) -> Result<WebSocket<S>, Error>
where
    S: Read + Write + Transport,
    F: FnOnce(&Request<'_>) -> Decision<'d>,
{
    let clock = StdClock::new();
    let deflate = config.deflate.as_ref();
    let switched = handshake::serve(&mut stream, config.server, None, |request| {
        let offer = match request.websocket() {
            Ok(offer) => offer,
            Err(e) => {
                return Plan::Respond {
                    response: Response::for_error(&e),
                    cause: Some(e),
                };
            }
        };
        let (subprotocol, headers, use_deflate) = match decide(request).0 {
            Choice::Respond(response) => {
                return Plan::Respond {
                    response,
                    cause: None,
                };
            }
            Choice::Accept {
                subprotocol,
                headers,
                deflate,
            } => (subprotocol, headers, deflate),
        };
        let Some(offer) = offer else {
            return Plan::Respond {
                response: Response::upgrade_required(&["websocket"]),
                cause: None,
            };
        };
        let mut accept = Accept::new("websocket").headers(headers);
        if let Some(name) = subprotocol {
            accept = accept.subprotocol(name);
        }
        Plan::Switch {
            accept,
            agreed: deflate
                .filter(|_| use_deflate)
                .and_then(|d| d.accept(&offer)),
        }
    })?;
    let conn =
        Connection::from_server_handshake(switched.handshake, config.websocket, clock.now())?;
    let agreement = Agreement {
        leftover: &switched.leftover,
        subprotocol: switched.subprotocol,
        deflate: deflate.zip(switched.agreed.map(|a| a.params)),
        idle_timeout: config.idle_timeout,
        rate_limit: config.rate_limit,
    };
    Ok(WebSocket::server(stream, conn, clock, agreement))
}

/// The client side of a WebSocket opening handshake, with the default
/// [`Config`]: see [`connect_with`].
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use std::io::Write;
/// use protoswitch::upgrade::{ClientRequest, Diagnosis};
/// use protoswitch_blocking::Error;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// std::thread::spawn(move || {
///     let (mut stream, _) = listener.accept().unwrap();
///     stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\nnope\n").unwrap();
/// });
/// let host = addr.to_string();
/// let request = ClientRequest::new("GET", "/missing", &host, &["websocket"]);
/// match protoswitch_blocking::connect(TcpStream::connect(addr)?, &request) {
///     Err(Error::Declined { status, diagnosis, body }) => {
///         assert_eq!((status, diagnosis, body.as_slice()), (404, Diagnosis::NotFound, &b"nope\n"[..]));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect<S>(stream: S, request: &ClientRequest<'_>) -> Result<WebSocket<S>, Error>
where
    S: Read + Write + Transport,
{
    connect_with(stream, request, &Config::new())
}

/// The client side of a WebSocket opening handshake: writes `request`
/// with a `Sec-WebSocket-Key` from the operating system's entropy (and,
/// when [`Config::deflate`] is set, a permessage-deflate offer, which
/// replaces the request's own extensions), reads the response. A final
/// status other than 101 is [`Error::Declined`] with the machine's
/// diagnosis and the body; a 101 that does not match the request is a
/// peer [`Error::Protocol`].
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use protoswitch::upgrade::ClientRequest;
/// use protoswitch_blocking::{Config, Decision};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = std::thread::spawn(move || {
///     let (stream, _) = listener.accept().unwrap();
///     protoswitch_blocking::accept(stream, |_| Decision::accept()).map(|ws| ws.deflate())
/// });
/// let host = addr.to_string();
/// let request = ClientRequest::new("GET", "/", &host, &["websocket"]).origin("http://localhost");
/// let ws = protoswitch_blocking::connect_with(TcpStream::connect(addr)?, &request, &Config::new().deflate(None))?;
/// assert_eq!(ws.deflate(), None); // not offered
/// assert_eq!(server.join().unwrap()?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect_with<S>(
    mut stream: S,
    request: &ClientRequest<'_>,
    config: &Config,
) -> Result<WebSocket<S>, Error>
where
    S: Read + Write + Transport,
{
    let clock = StdClock::new();
    let mut random = OsRandom::new().map_err(|e| io::Error::other(e.to_string()))?;
    let offer = config.deflate.as_ref().map(DeflateConfig::offer);
    let offers: Vec<&str> = offer.iter().map(|o| o.as_str()).collect();
    let mut request = request.websocket_key(random.nonce());
    if !offers.is_empty() {
        request = request.extensions(&offers);
    }
    let deflate = config.deflate.as_ref();
    let (handshake, switched) =
        handshake::request(&mut stream, &request, config.client, deflate, &clock)?;
    let conn = Connection::from_client_handshake(handshake, config.websocket, clock.now(), random)?;
    let agreement = Agreement {
        leftover: &switched.leftover,
        subprotocol: switched.subprotocol,
        deflate: deflate.zip(switched.deflate),
        idle_timeout: config.idle_timeout,
        rate_limit: config.rate_limit,
    };
    Ok(WebSocket::client(stream, conn, clock, agreement))
}

/// [`connect_with`] over a fresh transport from `open` (a TCP connect, a
/// TLS connect, ...), retried with `backoff` while the failure is
/// transient ([`Error::is_transient`]: the transport failed or timed out,
/// or the server answered 408, 429, 500, 502, 503 or 504). A refusal that
/// retrying cannot change (401, 403, 426, a broken 101, ...) returns at
/// once; so does the last error when the backoff gives up. The jitter
/// comes from the operating system; between attempts the thread sleeps.
///
/// An attempt lasts as long as its stream lets it: give the stream a read
/// timeout in `open` (as below), so that a server that accepts and stays
/// silent is given up (`TimedOut`, transient) and retried. Call
/// [`Backoff::reset`](protoswitch::Backoff::reset) yourself before reusing
/// one after a connection that worked.
///
/// ```no_run
/// use std::net::TcpStream;
/// use std::time::Duration;
/// use protoswitch::Backoff;
/// use protoswitch::upgrade::ClientRequest;
/// use protoswitch_blocking::Config;
///
/// let request = ClientRequest::new("GET", "/", "127.0.0.1:9002", &["websocket"]);
/// let open = || {
///     let stream = TcpStream::connect("127.0.0.1:9002")?;
///     stream.set_read_timeout(Some(Duration::from_secs(10)))?;
///     Ok(stream)
/// };
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30))
///     .max_attempts(Some(10));
/// let mut ws = protoswitch_blocking::connect_with_retry(open, &request, &Config::new(), backoff)?;
/// // The handshake's read timeout stays (see `WebSocket`): clear it.
/// ws.get_mut().set_read_timeout(None)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn connect_with_retry<S, F>(
    mut open: F,
    request: &ClientRequest<'_>,
    config: &Config,
    mut backoff: protoswitch::Backoff,
) -> Result<WebSocket<S>, Error>
where
    S: Read + Write + Transport,
    F: FnMut() -> io::Result<S>,
{
    use protoswitch::ws::MaskSource;
    let mut entropy = OsRandom::new().map_err(|e| io::Error::other(e.to_string()))?;
    loop {
        let error = match open() {
            Ok(stream) => match connect_with(stream, request, config) {
                Ok(ws) => return Ok(ws),
                Err(e) => e,
            },
            Err(e) => Error::Io(e),
        };
        if !error.is_transient() {
            return Err(error);
        }
        let Some(delay) = backoff.next_delay(u32::from_le_bytes(entropy.mask_key())) else {
            return Err(error);
        };
        log!(
            info,
            attempt = backoff.attempts(),
            delay = ?delay,
            %error,
            "connect failed; retrying"
        );
        std::thread::sleep(delay);
    }
}

/// A raw protocol switch: the stream after the 101, and what came with it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Upgraded<S> {
    /// The stream, now speaking the new protocol.
    pub stream: S,
    /// Bytes of the new protocol already read after the 101 (client) or
    /// after the request (server): handle them before reading the stream.
    pub leftover: Vec<u8>,
    /// The protocol switched to, as in `Upgrade` (`h2c`, `foo/1`).
    pub protocol: String,
    /// Server: the request body, read before the switch (an h2c upgrade
    /// may carry one; RFC 7540 §3.2). Empty for a client.
    pub body: Vec<u8>,
}

/// The server side of a switch to any protocol (h2c, a custom token):
/// reads the request, calls `decide`, writes the 101 or the response.
/// `decide` returns the [`Accept`] (its protocol must be one of the
/// client's offers) or any [`Response`]. A request body is read (after
/// `100 Continue` when expected) before the 101. Errors as in
/// [`accept_with`].
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::{TcpListener, TcpStream};
/// use protoswitch::upgrade::{Accept, ClientRequest, Response};
/// use protoswitch_blocking::Config;
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = std::thread::spawn(move || -> Result<(), protoswitch_blocking::Error> {
///     let (stream, _) = listener.accept()?;
///     let mut up = protoswitch_blocking::accept_raw(stream, &Config::new(), |request| {
///         if request.offers("echo/1") { Ok(Accept::new("echo/1")) } else { Err(Response::new(400)) }
///     })?;
///     up.stream.write_all(b"hi from echo/1")?;
///     Ok(())
/// });
/// let host = addr.to_string();
/// let request = ClientRequest::new("GET", "/", &host, &["echo/1"]);
/// let up = protoswitch_blocking::connect_raw(TcpStream::connect(addr)?, &request, &Config::new())?;
/// assert_eq!(up.protocol, "echo/1");
/// let mut got = up.leftover;
/// let mut stream = up.stream;
/// stream.read_to_end(&mut got)?;
/// assert_eq!(got, b"hi from echo/1");
/// server.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_raw<'d, S, F>(mut stream: S, config: &Config, decide: F) -> Result<Upgraded<S>, Error>
where
    S: Read + Write,
    F: FnOnce(&Request<'_>) -> Result<Accept<'d>, Response<'d>>,
{
    let switched = handshake::serve(
        &mut stream,
        config.server,
        Some(config.max_request_body),
        |request| match decide(request) {
            Ok(accept) => Plan::Switch {
                accept,
                agreed: None,
            },
            Err(response) => Plan::Respond {
                response,
                cause: None,
            },
        },
    )?;
    Ok(Upgraded {
        stream,
        leftover: switched.leftover,
        protocol: switched.protocol,
        body: switched.body,
    })
}

/// The client side of a switch to any protocol: writes `request` as
/// given (for h2c, with [`ClientRequest::h2c_settings`]), reads the
/// response; the stream and the bytes after the 101, or
/// [`Error::Declined`]. See [`accept_raw`] for an example. A request
/// with a body ([`ClientRequest::body`]) is not supported here: the
/// adapter has no body to write, and the machine reports the local error.
pub fn connect_raw<S>(
    mut stream: S,
    request: &ClientRequest<'_>,
    config: &Config,
) -> Result<Upgraded<S>, Error>
where
    S: Read + Write,
{
    let clock = StdClock::new();
    let (_, switched) = handshake::request(&mut stream, request, config.client, None, &clock)?;
    Ok(Upgraded {
        stream,
        leftover: switched.leftover,
        protocol: switched.protocol,
        body: Vec::new(),
    })
}
