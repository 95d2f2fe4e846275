//! A blocking HTTP/1.1 server that shows every path of the server handshake:
//! WebSocket, a custom protocol (`echo/1`), h2c, `Expect: 100-continue`,
//! 426, 400, and plain responses.
//!
//! ```text
//! cargo run --example upgrade_server -- 127.0.0.1:8080
//! ```
//!
//! | request                                   | answer                                  |
//! |-------------------------------------------|-----------------------------------------|
//! | `GET /ws`, valid WebSocket offer          | 101 (subprotocol `chat` when offered), then echo |
//! | `GET /ws`, no WebSocket offer             | 426 `Upgrade: websocket`, what was missing |
//! | `GET /ws`, `Sec-WebSocket-Version` not 13 | 426 with `Sec-WebSocket-Version: 13`    |
//! | `GET /ws`, other broken handshake         | 400 with the reason                     |
//! | `Upgrade: echo/1`, any path               | 101, then every byte is echoed          |
//! | `Upgrade: h2c`, valid offer               | 101, then a minimal HTTP/2 answer       |
//! | `Upgrade: h2c`, broken offer              | answered as if not offered              |
//! | `POST` any path                           | 200 `received N bytes`                  |
//! | `GET /`                                   | 200 text page                           |
//! | anything else                             | 404                                     |
//!
//! The 426 for `/ws` without a WebSocket offer says what the request
//! lacked (HTTP/1.1, `Upgrade`, `upgrade` in `Connection`, or WebSocket
//! among the offers): as the core's `MissingUpgrade` token in the field
//! `Protoswitch-Missing-Upgrade`, for programs (`probe` reads it), and in
//! prose in the body, for people.
//!
//! `Expect: 100-continue` works everywhere: the body is read (after a
//! `100 Continue`) when the answer needs it, and the decision is carried out
//! once it is complete.
//!
//! Try it:
//!
//! ```text
//! curl -i http://127.0.0.1:8080/
//! curl --http2 http://127.0.0.1:8080/
//! nghttp -u -v http://127.0.0.1:8080/
//! curl -H 'Expect: 100-continue' --data-binary @Cargo.toml http://127.0.0.1:8080/upload
//! ```
//!
//! One thread per connection, std only: the crate does the HTTP/1.1 part,
//! this file does the sockets and the protocols switched to.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use protoswitch::upgrade::{
    Accept, MissingUpgrade, Protocol, ProtocolKind, Request, Response, ServerEvent,
    ServerHandshake, ServerState, Switch,
};
use protoswitch::ws::{Config, Connection};
use protoswitch::{Error, Header, PeerError};

#[path = "support/blocking_ws.rs"]
mod blocking_ws;
/// The caller-buffer loop shared with the other HTTP examples.
#[path = "support/emit.rs"]
mod emit;
/// Just enough HTTP/2 to answer the request that arrived over h2c.
#[path = "support/h2c.rs"]
mod h2c;
use emit::emit;

/// How long a connection may stay silent before it is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to keep reading (and discarding) after we are done writing, so
/// that closing does not reset the connection under the peer's last bytes.
const LINGER: Duration = Duration::from_secs(2);
/// The custom protocol: after the 101, every byte comes back.
const ECHO: &str = "echo/1";

const TEXT: &[Header<'static>] = &[Header::new("Content-Type", b"text/plain; charset=utf-8")];

const HOME_PAGE: &[u8] = b"protoswitch upgrade_server example\n\
\n\
GET /ws with a WebSocket upgrade  -> 101 (subprotocol chat when offered), then echo\n\
Upgrade: echo/1 on any path       -> 101, then raw echo\n\
Upgrade: h2c                      -> 101, then HTTP/2\n\
POST to any path                  -> byte count of the body\n";

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let listener = match TcpListener::bind(&addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let local = listener
        .local_addr()
        .map_or_else(|_| addr.clone(), |a| a.to_string());
    println!("listening on {local}");
    // Whoever started us may be waiting for this line through a pipe.
    let _ = io::stdout().flush();

    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let spawned = std::thread::Builder::new()
            .name("connection".into())
            .spawn(move || {
                let peer = stream.peer_addr().ok();
                if let Err(e) = serve(stream) {
                    match peer {
                        Some(p) => eprintln!("{p}: connection error: {e}"),
                        None => eprintln!("connection error: {e}"),
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("cannot start a thread: {e}");
        }
    }
}

/// What to do with a request, decided from its head alone (the head borrows
/// the read buffer, so the decision is owned: the buffer changes while the
/// body is read).
#[derive(Debug, Clone)]
enum Plan {
    /// Switch to WebSocket, selecting the `chat` subprotocol when offered.
    WebSocket { chat: bool },
    /// Switch to `echo/1`.
    Echo,
    /// Switch to h2c and answer the request as HTTP/2 stream 1.
    H2c {
        /// `HTTP2-Settings`: the client's first SETTINGS (RFC 7540 §3.2.1).
        settings: Vec<(u16, u32)>,
        /// A HEAD request gets no DATA frame.
        head_only: bool,
    },
    /// A plain HTTP/1.1 response.
    Page(Page),
}

#[derive(Debug, Clone, Copy)]
enum Page {
    Home,
    Upload,
    NotFound,
    /// `/ws` without a WebSocket offer: 426, saying what the request lacks
    /// (a token in a field, and prose in the body).
    UpgradeRequired(MissingUpgrade),
    /// The WebSocket handshake is broken: 400, or 426 for a wrong version.
    Refused(PeerError),
}

impl Plan {
    /// Whether the answer depends on the body (or is a switch, which must
    /// wait for the whole request, RFC 9110 §7.8). Refusals are sent at
    /// once, without reading the body, and the connection is closed.
    fn needs_body(&self) -> bool {
        !matches!(
            self,
            Plan::Page(Page::NotFound | Page::UpgradeRequired(_) | Page::Refused(_))
        )
    }

    /// The switch a switching plan makes.
    fn accept(&self) -> Option<Accept<'static>> {
        match self {
            Plan::WebSocket { chat: true } => Some(Accept::new("websocket").subprotocol("chat")),
            Plan::WebSocket { chat: false } => Some(Accept::new("websocket")),
            Plan::Echo => Some(Accept::new(ECHO)),
            Plan::H2c { .. } => Some(Accept::new("h2c")),
            Plan::Page(_) => None,
        }
    }
}

/// The request being handled.
struct Pending {
    method: String,
    target: String,
    plan: Plan,
    /// For a switching plan, the switch checked against the request while
    /// its head was at hand: it is written after the body.
    switch: Option<Result<Switch<'static>, Error>>,
    /// Something worth logging about the decision.
    note: Option<String>,
    body_bytes: u64,
}

/// The 426's body for a request to `/ws` without a WebSocket offer: what
/// a person behind proxies needs to hear, since hop-by-hop fields are what
/// intermediaries drop. (The same reason goes out as a token in the
/// `Protoswitch-Missing-Upgrade` field, for programs such as `probe`.)
fn explain(missing: MissingUpgrade) -> &'static str {
    match missing {
        MissingUpgrade::Http10 => {
            "this endpoint needs a WebSocket upgrade, but the request arrived as HTTP/1.0, \
             which cannot upgrade: a proxy on the way speaks HTTP/1.0 to this server \
             (nginx: proxy_http_version 1.1)\n"
        }
        MissingUpgrade::NoUpgrade => {
            "this endpoint needs a WebSocket upgrade, but the request arrived without an \
             Upgrade header: an intermediary removed it (Upgrade and Connection are \
             hop-by-hop; nginx: proxy_set_header Upgrade $http_upgrade; \
             proxy_set_header Connection \"upgrade\")\n"
        }
        MissingUpgrade::NoConnectionUpgrade => {
            "this endpoint needs a WebSocket upgrade, but the request's Connection header \
             arrived without \"upgrade\": an intermediary rewrote it \
             (nginx: proxy_set_header Connection \"upgrade\")\n"
        }
        MissingUpgrade::OtherProtocol => {
            "this endpoint needs a WebSocket upgrade; the request offered another protocol\n"
        }
        // A reason added to the crate after this example was written.
        _ => "this endpoint needs a WebSocket upgrade\n",
    }
}

/// The path of a request target, without query or fragment.
fn path_of(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

/// Decides from the head. Offers are tried in the client's order of
/// preference; an upgrade is always optional for the server.
fn plan_for(req: &Request<'_>) -> (Plan, Option<String>) {
    let path = path_of(req.target());
    let websocket = req.websocket();
    let h2c = req.h2c();
    let echo = Protocol::parse(ECHO.as_bytes());
    for offer in req.upgrade_offers() {
        match offer.kind() {
            ProtocolKind::WebSocket if path == "/ws" => {
                if let Ok(Some(ws)) = &websocket {
                    let chat = ws.offers_subprotocol("chat");
                    return (Plan::WebSocket { chat }, None);
                }
            }
            ProtocolKind::H2c => {
                if let Ok(Some(offer)) = &h2c {
                    let plan = Plan::H2c {
                        settings: offer.settings().collect(),
                        head_only: req.method() == "HEAD",
                    };
                    return (plan, None);
                }
            }
            ProtocolKind::Other if echo.is_some_and(|e| offer.matches(&e)) => {
                return (Plan::Echo, None);
            }
            _ => {}
        }
    }
    // RFC 7540 §3.2.1: a server must not upgrade on a broken h2c offer; it
    // answers the request as if no upgrade had been offered.
    let note = match &h2c {
        Err(e) => Some(format!("h2c offer ignored: {}", e.message())),
        Ok(_) => None,
    };
    if path == "/ws" {
        let page = match (websocket, req.missing_websocket_upgrade()) {
            (Err(e), _) => Page::Refused(e),
            (Ok(_), Some(missing)) => Page::UpgradeRequired(missing),
            // A usable offer of WebSocket at /ws was taken above.
            (Ok(_), None) => unreachable!("a usable WebSocket offer is switched to"),
        };
        return (Plan::Page(page), note);
    }
    let page = match (req.method(), path) {
        ("POST", _) => Page::Upload,
        ("GET" | "HEAD", "/") => Page::Home,
        _ => Page::NotFound,
    };
    (Plan::Page(page), note)
}

/// What became of a request once answered.
enum Done {
    /// A final response was written.
    Responded,
    /// A 101 was written: the connection now speaks another protocol. The
    /// size of the request body comes along (the h2c answer reports it).
    Switched(Plan, u64),
}

/// Carries out the decision: writes a 101 or a final response.
fn finish(
    server: &mut ServerHandshake,
    stream: &mut TcpStream,
    peer: SocketAddr,
    p: Pending,
) -> io::Result<Done> {
    let upload_text;
    let missing_headers;
    let mut accept = |switch: &Option<Result<Switch<'static>, Error>>| match switch {
        Some(Ok(switch)) => emit(|out| server.accept(switch, out)),
        Some(Err(e)) => Err(*e),
        None => unreachable!("a switching plan has a switch"),
    };
    let (written, outcome, done) = match &p.plan {
        Plan::WebSocket { chat } => {
            let outcome = if *chat {
                "101 websocket, subprotocol chat"
            } else {
                "101 websocket"
            };
            (
                accept(&p.switch),
                outcome.to_owned(),
                Done::Switched(p.plan.clone(), p.body_bytes),
            )
        }
        Plan::Echo => (
            accept(&p.switch),
            format!("101 {ECHO}"),
            Done::Switched(p.plan.clone(), p.body_bytes),
        ),
        Plan::H2c { .. } => (
            accept(&p.switch),
            "101 h2c".to_owned(),
            Done::Switched(p.plan.clone(), p.body_bytes),
        ),
        Plan::Page(page) => {
            let response = match page {
                Page::Home => Response::new(200).headers(TEXT).body(HOME_PAGE),
                Page::Upload => {
                    upload_text = format!("received {} bytes\n", p.body_bytes);
                    Response::new(200)
                        .headers(TEXT)
                        .body(upload_text.as_bytes())
                }
                Page::NotFound => Response::new(404).headers(TEXT).body(b"not found\n"),
                Page::UpgradeRequired(missing) => {
                    missing_headers = [
                        TEXT[0],
                        Header::new(
                            blocking_ws::MISSING_UPGRADE_FIELD,
                            missing.as_str().as_bytes(),
                        ),
                    ];
                    Response::upgrade_required(&["websocket"])
                        .headers(&missing_headers)
                        .body(explain(*missing).as_bytes())
                }
                Page::Refused(e) => Response::for_error(e),
            };
            let mut outcome = response.status().to_string();
            if let Page::Refused(e) = page {
                outcome.push_str(&format!(" ({})", e.message()));
            }
            if p.body_bytes > 0 {
                outcome.push_str(&format!(", body {} bytes", p.body_bytes));
            }
            (
                emit(|out| server.respond(&response, out)),
                outcome,
                Done::Responded,
            )
        }
    };
    let note = p
        .note
        .as_deref()
        .map(|n| format!("; {n}"))
        .unwrap_or_default();
    match written {
        Ok(bytes) => {
            eprintln!("{peer} {} {} -> {outcome}{note}", p.method, p.target);
            stream.write_all(&bytes)?;
            Ok(done)
        }
        // Only a bug in this file gets here (a local error): say so and
        // drop the connection rather than panic.
        Err(e) => {
            eprintln!("{peer} {} {} -> not answered: {e}", p.method, p.target);
            Err(io::Error::other(e.to_string()))
        }
    }
}

/// One connection: HTTP/1.1 until a switch, then the new protocol.
fn serve(mut stream: TcpStream) -> io::Result<()> {
    let peer = stream.peer_addr()?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let _ = stream.set_nodelay(true);

    let mut server = ServerHandshake::new(Default::default());
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut pending: Option<Pending> = None;

    loop {
        // Feed the machine until it needs more bytes.
        loop {
            let got = match server.receive(&buf) {
                Ok(got) => got,
                Err(e) => return refuse(&mut server, &mut stream, peer, pending.as_ref(), e),
            };
            let consumed = got.consumed;
            // Nothing complete and nothing used: the machine needs more bytes.
            let need_more = got.event.is_none() && consumed == 0;
            let mut done = None;
            match got.event {
                None => {}
                Some(ServerEvent::Request(req)) => {
                    let (plan, note) = plan_for(&req);
                    let switch = plan.accept().map(|a| req.switch(&a).map_err(Error::from));
                    let mut p = Pending {
                        method: req.method().to_owned(),
                        target: req.target().to_owned(),
                        plan,
                        switch,
                        note,
                        body_bytes: 0,
                    };
                    if server.state() == ServerState::HeadReceived && p.plan.needs_body() {
                        // Read the body; this writes `100 Continue` when the
                        // client waits for it (and nothing otherwise).
                        match emit(|out| server.continue_body(out)) {
                            Ok(bytes) => stream.write_all(&bytes)?,
                            Err(e) => {
                                eprintln!("{peer} {} {} -> failed: {e}", p.method, p.target);
                                return Ok(());
                            }
                        }
                        if req.expects_continue() {
                            p.note = Some(match p.note {
                                Some(n) => format!("{n}; sent 100 Continue"),
                                None => "sent 100 Continue".to_owned(),
                            });
                        }
                        pending = Some(p);
                    } else {
                        // No body, or a refusal sent without reading it.
                        done = Some(finish(&mut server, &mut stream, peer, p)?);
                    }
                }
                Some(ServerEvent::Body(data)) => {
                    if let Some(p) = pending.as_mut() {
                        p.body_bytes += data.len() as u64;
                    }
                }
                Some(ServerEvent::BodyEnd) => {
                    if let Some(p) = pending.take() {
                        done = Some(finish(&mut server, &mut stream, peer, p)?);
                    }
                }
                // Events a later version may add: nothing to do here.
                Some(_) => {}
            }
            buf.drain(..consumed);
            match done {
                None if need_more => break,
                None => {}
                Some(Done::Switched(plan, body_bytes)) => {
                    // Whatever the machine did not consume belongs to the
                    // new protocol: hand it over.
                    let leftover = std::mem::take(&mut buf);
                    return switched(server, stream, peer, plan, body_bytes, leftover);
                }
                Some(Done::Responded) => {
                    if !server.keep_alive() {
                        close_gracefully(&mut stream);
                        return Ok(());
                    }
                    // The next request starts with the bytes already read.
                    server = ServerHandshake::new(Default::default());
                }
            }
        }

        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => {
                if !buf.is_empty() || pending.is_some() {
                    eprintln!("{peer}: timed out in the middle of a request");
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            let idle = buf.is_empty() && server.state() == ServerState::ReadingHead;
            if let Err(e) = server.receive_eof() {
                if !idle {
                    return refuse(&mut server, &mut stream, peer, pending.as_ref(), e);
                }
            }
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// After a peer error: send the reply the machine queued (if any), close.
fn refuse(
    server: &mut ServerHandshake,
    stream: &mut TcpStream,
    peer: SocketAddr,
    pending: Option<&Pending>,
    error: Error,
) -> io::Result<()> {
    let (method, target) = pending.map_or(("-", "-"), |p| (&p.method, &p.target));
    let status = match error.peer().and_then(|e| e.status()) {
        Some(s) => s.to_string(),
        None => "closed".to_owned(),
    };
    eprintln!("{peer} {method} {target} -> {status} ({error})");
    let mut out = [0u8; 512];
    loop {
        let n = server.poll_transmit(&mut out);
        if n == 0 {
            break;
        }
        stream.write_all(&out[..n])?;
    }
    close_gracefully(stream);
    Ok(())
}

/// The connection switched protocols; `leftover` holds the bytes of the
/// new protocol that arrived together with the request.
fn switched(
    server: ServerHandshake,
    mut stream: TcpStream,
    peer: SocketAddr,
    plan: Plan,
    body_bytes: u64,
    leftover: Vec<u8>,
) -> io::Result<()> {
    match plan {
        Plan::WebSocket { .. } => {
            // The handshake becomes the connection; the leftover bytes are
            // its first frames. Every message is echoed.
            let clock = protoswitch::StdClock::new();
            let conn = Connection::from_server_handshake(server, Config::default(), clock.now())
                .map_err(|e| io::Error::other(e.to_string()))?;
            let mut ws = blocking_ws::WsStream::new(stream, conn, clock, &leftover);
            let mut echoed = 0u64;
            while let Some(message) = ws.read_message()? {
                ws.send(&message)?;
                echoed += 1;
            }
            eprintln!(
                "{peer} websocket: echoed {echoed} messages, {:?}",
                ws.connection().close_cause()
            );
            Ok(())
        }
        Plan::Echo => {
            let echoed = echo(&mut stream, &leftover)?;
            eprintln!("{peer} {ECHO}: echoed {echoed} bytes");
            Ok(())
        }
        Plan::H2c {
            settings,
            head_only,
        } => {
            // The request (on stream 1 now) had a body: say how big it was,
            // as the HTTP/1.1 POST answer does.
            let text = if body_bytes > 0 {
                format!("received {body_bytes} bytes over h2c\n")
            } else {
                "hello over h2c\n".to_owned()
            };
            let summary = h2c::serve(&mut stream, leftover, &settings, text.as_bytes(), head_only)?;
            eprintln!("{peer} h2c: {summary}");
            Ok(())
        }
        // `finish` only switches for the plans above.
        Plan::Page(_) => Ok(()),
    }
}

/// `echo/1`: sends back every byte until the client stops sending, starting
/// with the bytes that came in the same read as the request.
fn echo(stream: &mut TcpStream, leftover: &[u8]) -> io::Result<u64> {
    stream.write_all(leftover)?;
    let mut total = leftover.len() as u64;
    let mut chunk = [0u8; 8192];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if is_timeout(&e) => break,
            Err(e) => return Err(e),
        };
        stream.write_all(&chunk[..n])?;
        total += n as u64;
    }
    let _ = stream.shutdown(Shutdown::Write);
    Ok(total)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Half-closes, then reads and discards for a short while: closing a socket
/// with unread bytes makes the kernel send a reset, which can destroy the
/// response before the client has read it.
fn close_gracefully(stream: &mut TcpStream) {
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}
