//! The opening handshakes: [`accept`] (server) and [`connect`] (client).

use std::io;
use std::time::Duration;

use protoswitch::upgrade::{
    Accept, ClientEvent, ClientHandshake, ClientRequest, ClientState, DeflateConfig, Diagnosis,
    Request, Response, ServerEvent, ServerHandshake, ServerState,
};
use protoswitch::ws::MaskSource;
use protoswitch::ws::{Config, Connection, RateLimit};
use protoswitch::{Backoff, Header, OsRandom, RecvBuffer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Error;
use crate::log::log;
use crate::sizing::INITIAL_READ;
use crate::stream::{Clock, Machine, Parts, WebSocketStream};

/// How a connection is set up and run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The connection's limits and timers (keepalive, close timeout).
    /// [`Config::whole_frames`] brings nothing here (the stream already
    /// keeps a one-frame message whole, within `read_buffer_size`) and
    /// lets the receive buffer grow to `max_frame_payload` for any frame.
    pub config: Config,
    /// permessage-deflate to offer (client) or accept (server); `None`
    /// turns it off. Default: [`DeflateConfig::new`].
    pub deflate: Option<DeflateConfig>,
    /// `poll_ready` is pending while more bytes than this are queued.
    /// Default 64 KiB.
    pub write_buffer_limit: usize,
    /// The largest the receive buffer grows to for data (and the inflate
    /// buffer, with permessage-deflate). Both start at 2 KiB (or this, if
    /// smaller), double while reads (inflated chunks) fill them, and the
    /// receive buffer halves again once the traffic drops; a handshake
    /// head or control frame larger than it still grows it. Default
    /// 64 KiB.
    pub read_buffer_size: usize,
    /// Close with 1001 (Going Away) after this long without a data
    /// message either way (Pings do not count). Default none.
    pub idle_timeout: Option<Duration>,
    /// Limits on incoming messages and bytes per second, and what to do
    /// over them (stop reading for a while, or close with 1008). Every
    /// data message counts at its end and every control frame (Ping,
    /// Pong, Close) as one message; bytes are what arrives on the wire,
    /// frame headers included (an inflated message counts its inflated
    /// size where that is more). A pause is not the peer's silence: the
    /// keepalive waits for the Pong it holds back, and the idle timeout
    /// counts from its end; our Close ends it. Default none.
    pub rate_limit: Option<RateLimit>,
    /// The longest a handshake ([`accept_with`], [`connect`], each attempt
    /// of [`connect_with_retry`] with its transport's opening) may take;
    /// past it, the stream is dropped and the handshake fails with
    /// [`Error::Io`] `TimedOut` (transient: retried). `None`: no limit.
    /// Default 30 s.
    pub handshake_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: Config::new(),
            deflate: Some(DeflateConfig::new()),
            write_buffer_limit: 64 * 1024,
            read_buffer_size: 64 * 1024,
            idle_timeout: None,
            rate_limit: None,
            handshake_timeout: Some(Duration::from_secs(30)),
        }
    }
}

impl Options {
    /// The defaults.
    pub fn new() -> Self {
        Options::default()
    }
    /// Sets [`Options::config`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }
    /// Sets [`Options::deflate`].
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }
    /// Sets [`Options::write_buffer_limit`].
    pub fn write_buffer_limit(mut self, bytes: usize) -> Self {
        self.write_buffer_limit = bytes;
        self
    }
    /// Sets [`Options::idle_timeout`].
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Sets [`Options::rate_limit`].
    pub fn rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.rate_limit = limit;
        self
    }
    /// Sets [`Options::handshake_timeout`].
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }
    /// Sets [`Options::read_buffer_size`] (at least 256 bytes).
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = bytes.max(256);
        self
    }
}

/// The server's yes, from the [`accept`] callback: a subprotocol the client
/// offered, and extra headers for the 101.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    subprotocol: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
}

impl Accepted {
    /// Switch with no subprotocol and no extra header.
    pub fn new() -> Self {
        Accepted::default()
    }
    /// Select `name`, which the client must have offered.
    pub fn subprotocol(mut self, name: &str) -> Self {
        self.subprotocol = Some(name.to_owned());
        self
    }
    /// An extra header in the 101.
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// The server's no, from the [`accept`] callback: any final response
/// other than 101 (a 401 with a body, a 403, a 426 naming protocols).
///
/// ```
/// use protoswitch_tokio::Rejected;
/// let unauthorized = Rejected::new(401)
///     .header("WWW-Authenticate", "Bearer")
///     .body("a token is required\n");
/// let upgrade = Rejected::upgrade_required(&["websocket"]);
/// # let _ = (unauthorized, upgrade);
/// ```
#[derive(Debug, Clone)]
pub struct Rejected {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    upgrade: Vec<String>,
}

impl Rejected {
    /// A response with `status` (200 to 599) and no body.
    pub fn new(status: u16) -> Self {
        Rejected {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            upgrade: Vec::new(),
        }
    }
    /// `426 Upgrade Required` listing `protocols`.
    pub fn upgrade_required(protocols: &[&str]) -> Self {
        let mut r = Rejected::new(426);
        r.upgrade = protocols.iter().map(|p| (*p).to_owned()).collect();
        r
    }
    /// An extra header (not `Content-Length`, `Connection` or `Upgrade`).
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    /// The body (`Content-Length` is set from it).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }
}

fn headers(owned: &[(String, Vec<u8>)]) -> Vec<Header<'_>> {
    owned.iter().map(|(n, v)| Header::new(n, v)).collect()
}

/// Runs `write` into `out`, growing it to the size the core asks for.
pub(crate) fn emit(
    out: &mut Vec<u8>,
    mut write: impl FnMut(&mut [u8]) -> Result<usize, protoswitch::Error>,
) -> Result<usize, Error> {
    if out.len() < 1024 {
        out.resize(1024, 0);
    }
    loop {
        match write(out) {
            Err(protoswitch::Error::BufferTooSmall { needed }) if needed > out.len() => {
                out.resize(needed, 0);
            }
            other => return Ok(other?),
        }
    }
}

/// [`accept_with`] with the default [`Options`] (permessage-deflate
/// accepted when offered).
pub async fn accept<S, F>(stream: S, decide: F) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
{
    accept_with(stream, Options::default(), decide).await
}

/// The server handshake: reads the request and, when it is a valid
/// WebSocket upgrade, asks `decide` (authentication, subprotocol choice,
/// extra headers — or any rejection, written as the response, and then
/// [`Error::Rejected`]). A request that is not a WebSocket upgrade gets
/// 426 (`Upgrade: websocket`); a malformed one the status its error
/// implies, with the diagnosis as the body ([`Error::Protocol`]).
///
/// Bounded by [`Options::handshake_timeout`]. Cancel safety: not cancel
/// safe (a half-read request is lost); drop the stream if you cancel it.
pub async fn accept_with<S, F>(
    stream: S,
    options: Options,
    decide: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
{
    let limit = options.handshake_timeout;
    within(limit, accept_unbounded(stream, options, decide)).await
}

/// `fut`, failing with `TimedOut` once `limit` has passed.
async fn within<T>(
    limit: Option<Duration>,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(limit) = limit else {
        return fut.await;
    };
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result,
        Err(_) => {
            log!(info, limit = ?limit, "handshake timed out");
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("protoswitch-tokio: the handshake took longer than {limit:?}"),
            )
            .into())
        }
    }
}

/// [`accept_with`] without its time limit.
async fn accept_unbounded<S, F>(
    mut stream: S,
    options: Options,
    decide: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
{
    let clock = Clock::new();
    let mut recv = RecvBuffer::with_capacity(INITIAL_READ.min(options.read_buffer_size));
    let mut server = ServerHandshake::new(Default::default());
    let mut out = Vec::new();
    let mut decide = Some(decide);
    loop {
        let outcome = match server.receive(recv.data()) {
            Ok(got) => {
                let consumed = got.consumed;
                let outcome = match got.event {
                    Some(ServerEvent::Request(request)) => {
                        let decide = decide.take().ok_or(Error::AlreadyClosed)?;
                        Some(answer(&mut server, &request, &options, decide, &mut out)?)
                    }
                    _ => None,
                };
                recv.consume(consumed);
                outcome
            }
            Err(protoswitch::Error::Peer(e)) => {
                log!(info, error = %e, "bad upgrade request");
                // The machine owes the error response (400, 431, ...).
                let n = emit(&mut out, |o| Ok(server.poll_transmit(o)))?;
                stream.write_all(&out[..n]).await?;
                let _ = stream.shutdown().await;
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        match outcome {
            Some(Answer::Switch {
                n,
                subprotocol,
                deflate,
            }) => {
                stream.write_all(&out[..n]).await?;
                let conn = Connection::from_server_handshake(server, options.config, clock.now())?;
                let parts = Parts {
                    machine: Machine::Server(conn),
                    clock,
                    recv: crate::sizing::from_handshake(&recv),
                    deflate,
                    subprotocol,
                    write_limit: options.write_buffer_limit,
                    read_max: options.read_buffer_size,
                    idle_timeout: options.idle_timeout,
                    rate_limit: options.rate_limit,
                };
                return Ok(WebSocketStream::new(stream, parts));
            }
            Some(Answer::Respond { n, error }) => {
                stream.write_all(&out[..n]).await?;
                let _ = stream.shutdown().await;
                return Err(error);
            }
            None if decide.is_some() => {}
            // A request with a body was answered at its head.
            None => return Err(Error::Rejected { status: 400 }),
        }
        if recv.is_full() {
            let grow = recv.capacity();
            recv.reserve(grow);
        }
        let n = stream.read(recv.spare_mut()).await?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        recv.filled(n);
    }
}

/// What the server answered.
pub(crate) enum Answer {
    Switch {
        n: usize,
        subprotocol: Option<String>,
        deflate: Option<(DeflateConfig, protoswitch::upgrade::DeflateParams)>,
    },
    Respond {
        n: usize,
        error: Error,
    },
}

/// Answers `request` (see [`decide_answer`]) and logs the outcome.
pub(crate) fn answer(
    server: &mut ServerHandshake,
    request: &Request<'_>,
    options: &Options,
    decide: impl FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
    out: &mut Vec<u8>,
) -> Result<Answer, Error> {
    let answered = decide_answer(server, request, options, decide, out);
    #[cfg(feature = "tracing")]
    match &answered {
        Ok(Answer::Switch {
            subprotocol,
            deflate,
            ..
        }) => log!(
            info,
            method = request.method(),
            target = request.target(),
            subprotocol = ?subprotocol,
            deflate = ?deflate.as_ref().map(|(_, params)| params),
            "upgrade accepted: 101 Switching Protocols"
        ),
        Ok(Answer::Respond { error, .. }) => log!(
            info,
            method = request.method(),
            target = request.target(),
            %error,
            "upgrade refused"
        ),
        Err(error) => log!(
            warn,
            method = request.method(),
            target = request.target(),
            %error,
            "upgrade failed"
        ),
    }
    answered
}

/// The core's answer to a request, after `decide` when it is a valid
/// WebSocket upgrade: the 101 or a refusal, written into `out`.
fn decide_answer(
    server: &mut ServerHandshake,
    request: &Request<'_>,
    options: &Options,
    decide: impl FnOnce(&Request<'_>) -> Result<Accepted, Rejected>,
    out: &mut Vec<u8>,
) -> Result<Answer, Error> {
    let respond = |server: &mut ServerHandshake, r: &Response<'_>, out: &mut Vec<u8>, error| {
        let n = emit(out, |o| server.respond(r, o))?;
        Ok(Answer::Respond { n, error })
    };
    let offer = match request.websocket() {
        Err(e) => return respond(server, &Response::for_error(&e), out, e.into()),
        Ok(None) => {
            let r = Response::upgrade_required(&["websocket"]);
            return respond(server, &r, out, Error::Rejected { status: 426 });
        }
        Ok(Some(offer)) => offer,
    };
    if server.state() != ServerState::RequestReceived {
        let r = Response::new(400).body(b"an upgrade request with a body is not supported\n");
        return respond(server, &r, out, Error::Rejected { status: 400 });
    }
    match decide(request) {
        Err(rejected) => {
            let extra = headers(&rejected.headers);
            let upgrade: Vec<&str> = rejected.upgrade.iter().map(String::as_str).collect();
            let r = Response::new(rejected.status)
                .headers(&extra)
                .body(&rejected.body)
                .upgrade(&upgrade);
            let status = rejected.status;
            respond(server, &r, out, Error::Rejected { status })
        }
        Ok(accepted) => {
            let agreed = options.deflate.as_ref().and_then(|d| d.accept(&offer));
            let extra = headers(&accepted.headers);
            let mut accept = Accept::new("websocket").headers(&extra);
            if let Some(name) = &accepted.subprotocol {
                accept = accept.subprotocol(name);
            }
            if let Some(agreed) = &agreed {
                accept = accept.extensions(agreed.response());
            }
            let switch = request.switch(&accept)?;
            let n = emit(out, |o| server.accept(&switch, o))?;
            Ok(Answer::Switch {
                n,
                subprotocol: accepted.subprotocol,
                deflate: options
                    .deflate
                    .zip(agreed)
                    .map(|(config, agreed)| (config, agreed.params)),
            })
        }
    }
}

/// What [`connect`] asks for: the `Host` and target, subprotocols, extra
/// headers, `Origin`, and the [`Options`].
///
/// ```
/// use protoswitch_tokio::Connect;
/// let request = Connect::new("example.com", "/chat")
///     .subprotocol("chat")
///     .header("Authorization", "Bearer abc");
/// # let _ = request;
/// ```
#[derive(Debug, Clone)]
pub struct Connect {
    host: String,
    target: String,
    subprotocols: Vec<String>,
    headers: Vec<(String, Vec<u8>)>,
    origin: Option<String>,
    options: Options,
}

impl Connect {
    /// `GET target` with `Host: host`.
    pub fn new(host: &str, target: &str) -> Self {
        Connect {
            host: host.to_owned(),
            target: target.to_owned(),
            subprotocols: Vec::new(),
            headers: Vec::new(),
            origin: None,
            options: Options::default(),
        }
    }
    /// Offers a subprotocol (in preference order over repeated calls).
    pub fn subprotocol(mut self, name: &str) -> Self {
        self.subprotocols.push(name.to_owned());
        self
    }
    /// An extra request header.
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    /// `Origin`.
    pub fn origin(mut self, origin: &str) -> Self {
        self.origin = Some(origin.to_owned());
        self
    }
    /// The connection's [`Options`].
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }
}

/// The client handshake over `stream` (already connected; TLS, if any,
/// already established): offers permessage-deflate unless
/// [`Options::deflate`] is `None`. A server that declines gives
/// [`Error::Declined`] with its status, the core's diagnosis and the
/// response body.
///
/// Bounded by [`Options::handshake_timeout`]. Cancel safety: not cancel
/// safe; drop the stream if you cancel it.
pub async fn connect<S>(stream: S, request: Connect) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    within(
        request.options.handshake_timeout,
        connect_unbounded(stream, request),
    )
    .await
}

/// [`connect`] without its time limit.
async fn connect_unbounded<S>(mut stream: S, request: Connect) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let clock = Clock::new();
    let options = &request.options;
    let mut masks = OsRandom::new().map_err(|e| io::Error::other(e.to_string()))?;
    let offer = options.deflate.as_ref().map(DeflateConfig::offer);
    let offers: Vec<&str> = offer.iter().map(|o| o.as_str()).collect();
    let subprotocols: Vec<&str> = request.subprotocols.iter().map(String::as_str).collect();
    let extra = headers(&request.headers);
    let mut client_request =
        ClientRequest::new("GET", &request.target, &request.host, &["websocket"])
            .websocket_key(masks.nonce())
            .subprotocols(&subprotocols)
            .extensions(&offers)
            .headers(&extra);
    if let Some(origin) = &request.origin {
        client_request = client_request.origin(origin);
    }
    let mut out = vec![0; 1024];
    let (mut client, n) = loop {
        match ClientHandshake::start(&client_request, Default::default(), clock.now(), &mut out) {
            Err(protoswitch::Error::BufferTooSmall { needed }) => out.resize(needed, 0),
            other => break other?,
        }
    };
    stream.write_all(&out[..n]).await?;
    let mut recv = RecvBuffer::with_capacity(INITIAL_READ.min(options.read_buffer_size));
    let mut declined: Option<(u16, Diagnosis, Vec<u8>)> = None;
    loop {
        let got = client.receive(recv.data())?;
        let consumed = got.consumed;
        let had_event = got.event.is_some();
        let mut switched = None;
        let mut declined_done = false;
        match got.event {
            Some(ClientEvent::Switched { negotiation, .. }) => {
                let subprotocol = negotiation.subprotocol().map(str::to_owned);
                let deflate = options
                    .deflate
                    .and_then(|d| Some((d, d.agreed(&negotiation)?)));
                switched = Some((subprotocol, deflate));
            }
            Some(ClientEvent::Declined {
                response,
                diagnosis,
            }) => declined = Some((response.status(), diagnosis, Vec::new())),
            Some(ClientEvent::Body(bytes)) => {
                if let Some((_, _, body)) = &mut declined {
                    body.extend_from_slice(bytes);
                }
            }
            Some(ClientEvent::BodyEnd) => declined_done = true,
            _ => {}
        }
        recv.consume(consumed);
        if let Some((subprotocol, deflate)) = switched {
            log!(
                info,
                host = %request.host,
                target = %request.target,
                subprotocol = ?subprotocol,
                deflate = ?deflate.as_ref().map(|(_, params)| params),
                "connected: 101 Switching Protocols"
            );
            let conn =
                Connection::from_client_handshake(client, options.config, clock.now(), masks)?;
            let parts = Parts {
                machine: Machine::Client(Box::new(conn)),
                clock,
                recv: crate::sizing::from_handshake(&recv),
                deflate,
                subprotocol,
                write_limit: options.write_buffer_limit,
                read_max: options.read_buffer_size,
                idle_timeout: options.idle_timeout,
                rate_limit: options.rate_limit,
            };
            return Ok(WebSocketStream::new(stream, parts));
        }
        if declined.is_some() && (declined_done || client.state() == ClientState::Done) {
            return Err(declined_error(declined));
        }
        if !had_event {
            // More bytes are needed.
            if recv.is_full() {
                let grow = recv.capacity();
                recv.reserve(grow);
            }
            let n = stream.read(recv.spare_mut()).await?;
            if n == 0 {
                // A body delimited by the end of the stream ends here; a
                // body cut short still leaves the response declined (its
                // status says why, the body holds what came).
                let last = client.receive_eof();
                if declined.is_some() {
                    return Err(declined_error(declined));
                }
                last?;
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            recv.filled(n);
        }
    }
}

/// [`connect`] over a fresh transport from `open` (a TCP connect, a TLS
/// connect, ...), retried with `backoff` while the failure is transient
/// ([`Error::is_transient`]: the transport failed, or the server answered
/// 408, 429, 500, 502, 503 or 504). A refusal that retrying cannot change
/// (401, 403, 426, a broken 101, ...) returns at once; so does the last
/// error when the backoff gives up. Each attempt, opening included, is
/// bounded by the request's [`Options::handshake_timeout`] (a server that
/// accepts and stays silent is retried). Call [`Backoff::reset`] yourself
/// before reusing one after a connection that worked. The jitter comes
/// from the operating system.
///
/// ```no_run
/// use std::time::Duration;
/// use protoswitch_tokio::{Backoff, Connect, connect_with_retry};
///
/// # async fn run() -> Result<(), protoswitch_tokio::Error> {
/// let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30))
///     .max_attempts(Some(10));
/// let ws = connect_with_retry(
///     || tokio::net::TcpStream::connect("127.0.0.1:9002"),
///     Connect::new("127.0.0.1:9002", "/"),
///     backoff,
/// )
/// .await?;
/// # let _ = ws;
/// # Ok(())
/// # }
/// ```
pub async fn connect_with_retry<S, F, Fut>(
    mut open: F,
    request: Connect,
    mut backoff: Backoff,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<S>>,
{
    let mut entropy = OsRandom::new().map_err(|e| io::Error::other(e.to_string()))?;
    let limit = request.options.handshake_timeout;
    loop {
        // Each attempt (the transport's opening, then the handshake) is
        // bounded as one: a server that accepts and stays silent is retried.
        let attempt = within(limit, async {
            let stream = open().await.map_err(Error::Io)?;
            connect_unbounded(stream, request.clone()).await
        });
        let error = match attempt.await {
            Ok(ws) => return Ok(ws),
            Err(e) => e,
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
        tokio::time::sleep(delay).await;
    }
}

fn declined_error(declined: Option<(u16, Diagnosis, Vec<u8>)>) -> Error {
    match declined {
        Some((status, diagnosis, body)) => {
            log!(warn, status, %diagnosis, "upgrade declined");
            Error::Declined {
                status,
                diagnosis,
                body,
            }
        }
        None => Error::AlreadyClosed,
    }
}
