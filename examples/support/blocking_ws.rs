//! Blocking `std::net` glue for the examples: the I/O loop of the crate
//! docs, once, for both roles. Not part of the crate: runtime code lives
//! in examples.
#![allow(dead_code)]

use std::hash::{BuildHasher, Hasher};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use protoswitch::upgrade::{
    ClientEvent, ClientHandshake, ClientRequest, ClientState, DeflateConfig, DeflateParams,
};
use protoswitch::ws::{
    Config, Connection, Event, MIN_TRANSMIT_BUFFER, MaskSource, Message, MessageAssembler,
    MessageKind, State, apply_mask,
};
use protoswitch::{Error, RecvBuffer, StdClock};

/// The response field in which `upgrade_server` names, by the token of
/// `protoswitch::upgrade::MissingUpgrade`, what a request to its WebSocket
/// endpoint lacked; `probe` reads it from a 426. A field rather than a
/// line of the body: it arrives with the head (no body to wait for or to
/// cap), and the body stays prose for people.
pub const MISSING_UPGRADE_FIELD: &str = "Protoswitch-Missing-Upgrade";

/// Bytes read per `read` call.
const READ_CHUNK: usize = 64 * 1024;
/// How long to wait for bytes when no timer is due.
const IDLE: Duration = Duration::from_secs(60);
/// How long a wss:// client's TLS handshake may take.
const TLS_TIMEOUT: Duration = Duration::from_secs(10);

/// Masking keys for a client, from the standard library's randomly keyed
/// hasher. Good enough for examples; use a CSPRNG (e.g. `getrandom`) in
/// production.
#[derive(Debug, Clone, Default)]
pub struct StdMasks {
    counter: u64,
    keys: std::collections::hash_map::RandomState,
}

impl StdMasks {
    pub fn random_u64(&mut self) -> u64 {
        self.counter += 1;
        let mut h = self.keys.build_hasher();
        h.write_u64(self.counter);
        h.finish()
    }

    pub fn random_16(&mut self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.random_u64().to_le_bytes());
        out[8..].copy_from_slice(&self.random_u64().to_le_bytes());
        out
    }
}

impl MaskSource for StdMasks {
    fn mask_key(&mut self) -> [u8; 4] {
        let v = self.random_u64().to_le_bytes();
        [v[0], v[1], v[2], v[3]]
    }
}

/// What [`WsStream::next`] found.
#[derive(Debug)]
pub enum Next {
    /// A complete message.
    Message(Message),
    /// The connection is over.
    Closed,
    /// Nothing within the wait.
    Idle,
}

/// A WebSocket over a blocking `TcpStream`.
pub struct WsStream<M: MaskSource> {
    stream: Transport,
    conn: Connection<M>,
    clock: StdClock,
    /// What the transport delivered and the machine has not consumed.
    buf: RecvBuffer<Vec<u8>>,
    assembler: MessageAssembler,
    scratch: Vec<u8>,
    /// Inflated data of compressed messages (permessage-deflate).
    inflated: Vec<u8>,
    /// The last `receive_into` returned an event: call it again even
    /// with no new bytes (the end of a compressed message may still be
    /// coming out of the inflater).
    again: bool,
    /// The subprotocol the handshake agreed, if any.
    subprotocol: Option<String>,
    /// permessage-deflate is on: `send` compresses.
    compressed: bool,
    /// What permessage-deflate agreed, when it is on.
    deflate: Option<DeflateParams>,
}

impl<M: MaskSource> WsStream<M> {
    /// Wraps a connection; `leftover` are the bytes after the handshake.
    pub fn new(stream: TcpStream, conn: Connection<M>, clock: StdClock, leftover: &[u8]) -> Self {
        Self::new_on(Transport::Plain(stream), conn, clock, leftover)
    }

    /// [`new`](Self::new) over TCP or TLS.
    pub fn new_on(
        stream: Transport,
        conn: Connection<M>,
        clock: StdClock,
        leftover: &[u8],
    ) -> Self {
        let mut buf =
            RecvBuffer::with_capacity(READ_CHUNK.max(leftover.len()) + MIN_TRANSMIT_BUFFER);
        buf.spare_mut()[..leftover.len()].copy_from_slice(leftover);
        buf.filled(leftover.len());
        WsStream {
            stream,
            conn,
            clock,
            buf,

            assembler: MessageAssembler::new(),
            scratch: Vec::new(),
            inflated: vec![0; READ_CHUNK],
            again: false,
            subprotocol: None,
            compressed: false,
            deflate: None,
        }
    }

    /// What permessage-deflate agreed, when it is on.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// Turns permessage-deflate on with what the handshake agreed.
    pub fn with_deflate(mut self, config: &DeflateConfig, params: DeflateParams) -> Self {
        self.conn = self.conn.with_deflate(config, params);
        self.compressed = true;
        self.deflate = Some(params);
        self
    }

    pub fn connection(&self) -> &Connection<M> {
        &self.conn
    }

    /// The subprotocol the handshake agreed, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// Writes every frame the machine owes.
    fn flush_control(&mut self) -> io::Result<()> {
        let mut frame = [0u8; MIN_TRANSMIT_BUFFER];
        loop {
            let n = self.conn.poll_transmit(&mut frame);
            if n == 0 {
                return Ok(());
            }
            self.stream.write_all(&frame[..n])?;
        }
    }

    /// The next complete message, `Ok(None)` once the connection is over.
    /// Pings, Pongs and Close are handled on the way.
    pub fn read_message(&mut self) -> io::Result<Option<Message>> {
        loop {
            match self.next(IDLE)? {
                Next::Message(m) => return Ok(Some(m)),
                Next::Closed => return Ok(None),
                Next::Idle
                    if self.conn.state() == State::Open && self.conn.poll_timeout().is_none() =>
                {
                    return Err(ErrorKind::TimedOut.into());
                }
                Next::Idle => {}
            }
        }
    }

    /// Waits at most `max_wait` for the next complete message.
    pub fn next(&mut self, max_wait: Duration) -> io::Result<Next> {
        loop {
            self.flush_control()?;
            if self.conn.should_close_transport() {
                self.stream.shutdown();
                return Ok(Next::Closed);
            }
            if !self.buf.is_empty() || self.again {
                let now = self.clock.now();
                let input = self.buf.data_mut();
                match self.conn.receive_into(input, &mut self.inflated, now) {
                    Ok(got) => {
                        let consumed = got.consumed;
                        self.again = got.event.is_some();
                        // Copied out of the buffers before they move on.
                        let message = match got.event {
                            Some(Event::Data(chunk)) => self.assembler.push(&chunk),
                            _ => None,
                        };
                        self.buf.consume(consumed);
                        if let Some(message) = message {
                            return Ok(Next::Message(message));
                        }
                        if self.again {
                            continue;
                        }
                        // More bytes are needed.
                    }
                    // The machine queued the Close with the error's code;
                    // the next turn sends it and closes.
                    Err(Error::Peer(e)) => {
                        eprintln!("websocket: {e}");
                        continue;
                    }
                    Err(e) => return Err(other(e)),
                }
            }
            if !self.fill(max_wait)? {
                return Ok(Next::Idle);
            }
        }
    }

    /// Reads more bytes, or runs the timers when a deadline passes.
    /// `false` when `max_wait` passed with nothing to do.
    fn fill(&mut self, max_wait: Duration) -> io::Result<bool> {
        let timer = self.conn.poll_timeout().map(|deadline| {
            self.clock
                .to_std(deadline)
                .saturating_duration_since(std::time::Instant::now())
        });
        let wait = timer.map_or(max_wait, |t| t.min(max_wait));
        self.stream
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        if self.buf.is_full() {
            // A control frame is at most MIN_RECEIVE_BUFFER bytes, and the
            // buffer is larger: only an incomplete frame header or payload
            // chunk waits here, which the machine consumes as it goes.
            return Err(io::Error::other("receive buffer full"));
        }
        match self.stream.read(self.buf.spare_mut()) {
            Ok(0) => match self.conn.receive_eof() {
                // The transport ended before the closing handshake.
                Err(e) => Err(io::Error::new(ErrorKind::UnexpectedEof, e)),
                Ok(_) => Ok(true),
            },
            Ok(n) => {
                self.buf.filled(n);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                self.conn.handle_timeout(self.clock.now());
                Ok(timer.is_some_and(|t| t <= max_wait))
            }
            // A peer that resets instead of closing after a complete closing
            // handshake still ended the connection cleanly.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                match self.conn.receive_eof() {
                    Ok(_) => Ok(true),
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Sends a message as one frame. Compressed (permessage-deflate), the
    /// machine writes the frame into a scratch buffer; else the header
    /// comes from the machine and the payload is written untouched
    /// (server) or masked in a scratch copy (client).
    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        let (kind, payload) = match message {
            Message::Text(t) => (MessageKind::Text, t.as_bytes()),
            Message::Binary(b) => (MessageKind::Binary, b.as_slice()),
        };
        if self.compressed {
            loop {
                let sent = match message {
                    Message::Text(t) => self.conn.send_text(t, &mut self.scratch),
                    Message::Binary(b) => self.conn.send_binary(b, &mut self.scratch),
                };
                match sent {
                    Ok(n) => return self.stream.write_all(&self.scratch[..n]),
                    Err(Error::BufferTooSmall { needed }) => self.scratch.resize(needed, 0),
                    Err(e) => return Err(other(e)),
                }
            }
        }
        let mut header = [0u8; 14];
        let (n, mask) = self
            .conn
            .send_header(kind, payload.len() as u64, true, &mut header)
            .map_err(other)?;
        self.stream.write_all(&header[..n])?;
        match mask {
            None => self.stream.write_all(payload),
            Some(key) => {
                self.scratch.clear();
                self.scratch.extend_from_slice(payload);
                apply_mask(&mut self.scratch, key, 0);
                self.stream.write_all(&self.scratch)
            }
        }
    }

    /// Starts the closing handshake; `read_message`/`next` finish it.
    pub fn close(&mut self, code: u16, reason: &str) -> io::Result<()> {
        let mut frame = [0u8; MIN_TRANSMIT_BUFFER];
        let n = self
            .conn
            .send_close(Some(code), reason, self.clock.now(), &mut frame)
            .map_err(other)?;
        self.stream.write_all(&frame[..n])
    }
}

pub fn other(e: Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// The connection probed: TCP, or TLS over it (wss://).
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Transport {
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self {
            Transport::Plain(s) => s.set_read_timeout(timeout),
            Transport::Tls(s) => s.sock.set_read_timeout(timeout),
        }
    }
}

impl Transport {
    /// Shuts the connection down (TLS: close_notify first).
    pub fn shutdown(&mut self) {
        match self {
            Transport::Plain(s) => {
                let _ = s.shutdown(Shutdown::Both);
            }
            Transport::Tls(s) => {
                s.conn.send_close_notify();
                let _ = s.conn.complete_io(&mut s.sock);
                let _ = s.sock.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// Why [`tls_connect`] failed.
#[derive(Debug)]
pub enum TlsFailure {
    /// The `--cafile` could not be read.
    CaFile(String),
    /// The handshake failed (an untrusted certificate, not TLS, ...).
    Handshake(String),
    /// The handshake did not complete within the time given.
    TimedOut(Duration),
}

/// `host` of `host:port` (brackets of an IPv6 literal removed).
pub fn host_of(authority: &str) -> &str {
    authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']')
}

/// The TLS handshake for wss:// over `tcp` (rustls with ring), trusting
/// `cafile`'s PEM certificates or the system's roots; the whole handshake
/// within `timeout` (a server answering byte by byte cannot stretch it).
pub fn tls_connect(
    mut tcp: TcpStream,
    authority: &str,
    cafile: Option<&str>,
    timeout: Duration,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, TlsFailure> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    match cafile {
        Some(file) => {
            let certs = CertificateDer::pem_file_iter(file)
                .map_err(|e| TlsFailure::CaFile(format!("cannot read {file}: {e}")))?;
            for cert in certs.flatten() {
                let _ = roots.add(cert);
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFailure::Handshake(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let host = host_of(authority);
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| TlsFailure::Handshake(format!("{host} is not a valid TLS server name")))?;
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|e| TlsFailure::Handshake(e.to_string()))?;
    let deadline = std::time::Instant::now() + timeout;
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(TlsFailure::TimedOut(timeout));
        }
        let _ = tcp.set_read_timeout(Some(left));
        let _ = tcp.set_write_timeout(Some(left));
        conn.complete_io(&mut tcp).map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => TlsFailure::TimedOut(timeout),
            _ => TlsFailure::Handshake(e.to_string()),
        })?;
    }
    let _ = tcp.set_read_timeout(None);
    let _ = tcp.set_write_timeout(None);
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// `ws://` or `wss://host[:port]/path` → (TLS?, `host:port`, `/path`),
/// the port 80 or 443 by default.
pub fn split_url(url: &str) -> io::Result<(bool, String, String)> {
    match url.strip_prefix("wss://") {
        Some(rest) => {
            let (authority, path) = split_ws_url(&format!("ws://{rest}"))?;
            let explicit = rest.split('/').next().is_some_and(|a| a.contains(':'));
            let authority = match explicit {
                true => authority,
                false => authority.replacen(":80", ":443", 1),
            };
            Ok((true, authority, path))
        }
        None => {
            let (authority, path) = split_ws_url(url)?;
            Ok((false, authority, path))
        }
    }
}

/// `ws://host:port/path` → (`host:port`, `/path`).
pub fn split_ws_url(url: &str) -> io::Result<(String, String)> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "only ws:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((authority, path.to_owned()))
}

/// `http://host:port[/]` → `host:port` (port 80 when absent).
pub fn proxy_authority(url: &str) -> io::Result<String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        io::Error::new(
            ErrorKind::InvalidInput,
            "a proxy is given as http://host:port",
        )
    })?;
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "a proxy is given as http://host:port",
        ));
    }
    Ok(match authority.contains(':') {
        true => authority.to_owned(),
        false => format!("{authority}:80"),
    })
}

/// How a proxy answered a CONNECT it did not grant.
#[derive(Debug)]
pub struct TunnelRefused {
    pub status: u16,
    pub reason: String,
    pub body: Vec<u8>,
}

/// Asks the HTTP proxy on `stream` for a tunnel to `authority` (CONNECT,
/// RFC 9110 §9.3.6); nothing else is sent before its answer (RFC 9931).
/// `Ok(Ok(bytes))`: the tunnel is open, `bytes` already came through it.
pub fn open_tunnel(
    stream: &mut TcpStream,
    authority: &str,
) -> io::Result<Result<Vec<u8>, TunnelRefused>> {
    let request = ClientRequest::connect(authority);
    let mut out = [0u8; 512];
    let (mut client, n) = ClientHandshake::start(
        &request,
        Default::default(),
        StdClock::new().now(),
        &mut out,
    )
    .map_err(other)?;
    stream.write_all(&out[..n])?;
    let mut refused: Option<TunnelRefused> = None;
    let answer = read_answer(&mut client, stream, Vec::new(), |event, rest, state| {
        match event {
            ClientEvent::Tunnel { .. } => return Some(Ok(rest.to_vec())),
            ClientEvent::Declined { response, .. } => {
                refused = Some(TunnelRefused {
                    status: response.status(),
                    reason: response.reason().to_owned(),
                    body: Vec::new(),
                });
            }
            ClientEvent::Body(data) => {
                if let Some(r) = &mut refused {
                    r.body.extend_from_slice(data);
                }
            }
            _ => {}
        }
        // The refusal is complete (with its body, if it had one).
        match state {
            ClientState::Done => refused.take().map(Err),
            _ => None,
        }
    })?;
    if let Some(answer) = answer {
        return Ok(answer);
    }
    // The proxy closed the connection: a refusal whose body ran to the
    // end, or no answer at all.
    let _ = client.receive_eof();
    match refused {
        Some(r) => Ok(Err(r)),
        None => Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            "the proxy closed the connection without answering CONNECT",
        )),
    }
}

/// The one read loop over a client handshake's answer, for a CONNECT
/// ([`open_tunnel`]) and an upgrade ([`connect_via`]): feeds `client` the
/// bytes in `buf` (already received), then what `stream` delivers, and
/// hands every event to `on_event` with the bytes after it (a tunnel's or
/// the new protocol's first bytes) and the machine's state after it, until
/// `on_event` returns `Some`. `Ok(None)`: the stream ended first (the
/// caller tells the machine, `receive_eof`, and says what that means).
fn read_answer<T>(
    client: &mut ClientHandshake<'_>,
    stream: &mut impl Read,
    mut buf: Vec<u8>,
    mut on_event: impl FnMut(ClientEvent<'_>, &[u8], ClientState) -> Option<T>,
) -> io::Result<Option<T>> {
    let mut chunk = [0u8; 4096];
    loop {
        let got = client.receive(&buf).map_err(other)?;
        let consumed = got.consumed;
        let idle = got.event.is_none();
        if let Some(event) = got.event {
            if let Some(done) = on_event(event, &buf[consumed..], client.state()) {
                return Ok(Some(done));
            }
        }
        buf.drain(..consumed);
        // Nothing complete and nothing used: the machine needs more bytes.
        if idle && consumed == 0 {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Ok(None);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A TCP connection to `authority`, through the HTTP proxy `proxy`
/// (`http://host:port`) when given; and the bytes that already came
/// through the tunnel.
pub fn open(authority: &str, proxy: Option<&str>) -> io::Result<(TcpStream, Vec<u8>)> {
    let Some(proxy) = proxy else {
        return Ok((TcpStream::connect(authority)?, Vec::new()));
    };
    let mut stream = TcpStream::connect(proxy_authority(proxy)?)?;
    match open_tunnel(&mut stream, authority)? {
        Ok(early) => Ok((stream, early)),
        Err(r) => Err(io::Error::other(format!(
            "the proxy refused the tunnel to {authority}: {} {}: {}",
            r.status,
            r.reason,
            String::from_utf8_lossy(&r.body).trim()
        ))),
    }
}

/// Connects and performs the client handshake for `url`, offering
/// permessage-deflate with `deflate` when given.
pub fn connect(
    url: &str,
    subprotocols: &[&str],
    config: Config,
    deflate: Option<&DeflateConfig>,
) -> io::Result<WsStream<StdMasks>> {
    connect_via(url, None, None, subprotocols, config, deflate)
}

/// [`connect`] to a ws:// or wss:// URL (TLS trusting `cafile`'s
/// certificates, or the system's roots), through the HTTP proxy `proxy`
/// (`http://host:port`, a CONNECT tunnel) when given.
pub fn connect_via(
    url: &str,
    proxy: Option<&str>,
    cafile: Option<&str>,
    subprotocols: &[&str],
    config: Config,
    deflate: Option<&DeflateConfig>,
) -> io::Result<WsStream<StdMasks>> {
    let (tls, authority, path) = split_url(url)?;
    let (tcp, early) = open(&authority, proxy)?;
    tcp.set_nodelay(true)?;
    let mut stream = match tls {
        false => Transport::Plain(tcp),
        true if !early.is_empty() => {
            return Err(io::Error::other(
                "the proxy sent bytes before the TLS handshake",
            ));
        }
        true => Transport::Tls(Box::new(
            tls_connect(tcp, &authority, cafile, TLS_TIMEOUT).map_err(|e| match e {
                TlsFailure::CaFile(t) | TlsFailure::Handshake(t) => {
                    io::Error::other(format!("TLS: {t}"))
                }
                TlsFailure::TimedOut(d) => io::Error::new(
                    ErrorKind::TimedOut,
                    format!("TLS: no handshake within {} s", d.as_secs_f64()),
                ),
            })?,
        )),
    };
    let clock = StdClock::new();
    let mut masks = StdMasks::default();
    let offer = deflate.map(DeflateConfig::offer);
    let offers: Vec<&str> = offer.iter().map(|o| o.as_str()).collect();
    let request = ClientRequest::new("GET", &path, &authority, &["websocket"])
        .websocket_key(masks.random_16())
        .subprotocols(subprotocols)
        .extensions(&offers);
    let mut out = [0u8; 2048];
    let (mut client, n) =
        ClientHandshake::start(&request, Default::default(), clock.now(), &mut out)
            .map_err(other)?;
    stream.write_all(&out[..n])?;
    let answer = read_answer(
        &mut client,
        &mut stream,
        early,
        |event, rest, _| match event {
            ClientEvent::Switched { negotiation, .. } => {
                let subprotocol = negotiation.subprotocol().map(String::from);
                let agreed = deflate.and_then(|d| Some((d, d.agreed(&negotiation)?)));
                Some(Ok((rest.to_vec(), subprotocol, agreed)))
            }
            ClientEvent::Declined {
                response,
                diagnosis,
            } => Some(Err(io::Error::other(format!(
                "server answered {}: {diagnosis}",
                response.status()
            )))),
            _ => None,
        },
    )?;
    let Some(answer) = answer else {
        return Err(match client.receive_eof() {
            Err(e) => other(e),
            Ok(_) => ErrorKind::UnexpectedEof.into(),
        });
    };
    let (leftover, subprotocol, agreed) = answer?;
    let conn =
        Connection::from_client_handshake(client, config, clock.now(), masks).map_err(other)?;
    let mut ws = WsStream::new_on(stream, conn, clock, &leftover);
    ws.subprotocol = subprotocol;
    if let Some((deflate, params)) = agreed {
        ws = ws.with_deflate(deflate, params);
    }
    Ok(ws)
}
