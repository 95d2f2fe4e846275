//! Drives a `ServerHandshake` the way a real I/O loop does: bytes arrive in
//! reads of arbitrary sizes, consumed bytes are dropped, `receive` is called
//! until it has no event, and the application decides (read the body,
//! accept, answer) at each request and body end.
//!
//! Every input runs three times, with the stream cut as the input says, in
//! one read, and one byte per read. The machine must tell the same story
//! each time: any difference in the event log is a bug.

use crate::{
    Bytes, Decisions, Input, OUT_SIZES, Reads, assert_same_as_whole, debug, is_within,
    leading_empty_lines, print_log, push_body, rest_of_stream, write_checked,
};
use protoswitch::http1::{Framing, Limits};
use protoswitch::upgrade::{
    Accept, Protocol, Request, Response, ServerConfig, ServerEvent, ServerHandshake, ServerState,
    accept_key, is_valid_key,
};
use protoswitch::{Error, Header, LocalError, PeerError, PeerErrorKind, Role};

/// What happened, in a form that does not depend on how the stream was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Request {
        method: String,
        target: String,
        minor: u8,
        framing: Framing,
        expects_continue: bool,
        offers: Vec<String>,
    },
    /// Body bytes, consecutive pieces merged.
    Body(Bytes),
    BodyEnd,
    PeerError(PeerErrorKind),
    /// Bytes a decision wrote.
    Wrote(&'static str, Bytes),
    /// A decision the machine refused.
    Refused(&'static str, LocalError),
    /// The error response `poll_transmit` handed out.
    Reply(Bytes),
    /// A keep-alive response: a new machine reads the next request.
    NextRequest,
    /// The machine stopped reading after a 101 or a final response; `rest`
    /// is what it left of the stream (the new protocol's bytes, the next
    /// request or an unread body).
    Stopped {
        state: ServerState,
        keep_alive: bool,
        rest: Bytes,
    },
    /// The stream ended while the machine was still reading.
    Eof(Result<(), PeerErrorKind>),
}

/// What the application remembers of the request to decide after its body.
#[derive(Debug, Clone, Default)]
struct Known {
    first_offer: Option<String>,
    subprotocol: Option<String>,
    extension: Option<String>,
    ws_key: Option<Vec<u8>>,
    offer_error: Option<PeerError>,
    expects_continue: bool,
    client_keep_alive: bool,
    http10: bool,
}

impl Known {
    fn of(req: &Request<'_>) -> Self {
        let ws = req.websocket();
        let offer = ws.ok().flatten();
        let headers = req.headers();
        let minor = req.head().minor_version();
        Known {
            first_offer: req.upgrade_offers().next().map(|p| p.to_string()),
            subprotocol: offer.and_then(|o| o.subprotocols().next().map(str::to_owned)),
            extension: offer.and_then(|o| o.extensions().next().map(|e| e.name().to_owned())),
            ws_key: offer.map(|o| o.key().to_vec()),
            offer_error: ws.err().or_else(|| req.h2c().err()),
            expects_continue: req.expects_continue(),
            client_keep_alive: !headers.list_contains("connection", "close")
                && (minor == 1 || headers.list_contains("connection", "keep-alive")),
            http10: minor == 0,
        }
    }
}

enum Flow {
    /// The machine needs more bytes.
    More,
    /// The machine stopped reading (switched, responded or failed).
    Stop,
}

struct Run {
    config: ServerConfig,
    server: ServerHandshake,
    decisions: Decisions,
    transmit_chunk: usize,
    known: Known,
    /// The request head, kept as an application that decides after the
    /// body keeps it (the `Switch` is made from it again).
    head: Vec<u8>,
    requests: usize,
    log: Vec<Ev>,
}

const MAX_REQUESTS: usize = 8;

impl Run {
    fn new(input: &Input<'_>) -> Self {
        let c = input.config;
        let limits = Limits::new()
            .max_head_bytes([8192, 1024, 256, 64][usize::from(c & 3)])
            .max_headers([64, 128, 8, 1][usize::from(c >> 2 & 3)])
            .max_chunk_extension_bytes([4096, 16, 1, 0][usize::from(c >> 4 & 3)])
            .max_trailer_bytes([4096, 32, 8, 0][usize::from(c >> 6 & 3)])
            .max_trailer_fields([32, 2, 1, 0][usize::from(c >> 6 & 3)]);
        let config = ServerConfig::new().limits(limits);
        Run {
            config,
            server: ServerHandshake::new(config),
            decisions: Decisions::new(input.decisions),
            transmit_chunk: [1024, 1, 2, 7, 16, 64, 100, 384][usize::from(c >> 4 & 7)],
            known: Known::default(),
            head: Vec::new(),
            requests: 1,
            log: Vec::new(),
        }
    }

    /// Calls `receive` until it has no event or the machine stops reading.
    fn process(&mut self, buf: &mut Vec<u8>) -> Flow {
        // Each round consumes bytes or changes state; a bound catches loops.
        for _ in 0..4 * buf.len() + 64 {
            let before = self.server.state();
            assert!(
                matches!(before, ServerState::ReadingHead | ServerState::ReadingBody),
                "reading in {before:?}"
            );
            let got = match self.server.receive(buf) {
                Ok(got) => got,
                Err(Error::Peer(e)) => {
                    self.failed(e);
                    return Flow::Stop;
                }
                Err(e) => panic!("receive in {before:?}: {e:?}"),
            };
            let consumed = got.consumed;
            assert!(
                consumed <= buf.len(),
                "consumed {consumed} of {}",
                buf.len()
            );
            let had_event = got.event.is_some();
            match got.event {
                None => {
                    if before == ServerState::ReadingHead {
                        assert_eq!(consumed, 0, "consumed part of an incomplete head");
                    }
                    assert_eq!(self.server.state(), before);
                }
                Some(ServerEvent::Request(req)) => {
                    assert_eq!(before, ServerState::ReadingHead);
                    self.check_request(&req, &buf[..consumed]);
                    self.head = buf[..consumed].to_vec();
                    self.on_request(&req);
                }
                Some(ServerEvent::Body(data)) => {
                    assert_eq!(before, ServerState::ReadingBody);
                    assert!(!data.is_empty(), "empty Body event");
                    assert!(is_within(data, &buf[..consumed]), "Body outside consumed");
                    assert_eq!(self.server.state(), ServerState::ReadingBody);
                    push_body(
                        &mut self.log,
                        data,
                        |e| match e {
                            Ev::Body(b) => Some(&mut b.0),
                            _ => None,
                        },
                        |b| Ev::Body(Bytes(b)),
                    );
                }
                Some(ServerEvent::BodyEnd) => {
                    assert_eq!(before, ServerState::ReadingBody);
                    assert_eq!(self.server.state(), ServerState::RequestReceived);
                    self.log.push(Ev::BodyEnd);
                    self.decide_final();
                }
                Some(other) => panic!("an event the checker does not know: {other:?}"),
            }
            buf.drain(..consumed);
            assert!(self.transmit().is_empty(), "poll_transmit without error");
            match self.server.state() {
                ServerState::ReadingHead | ServerState::ReadingBody if had_event => {}
                ServerState::ReadingHead | ServerState::ReadingBody => return Flow::More,
                ServerState::Responded
                    if self.server.keep_alive() && self.requests < MAX_REQUESTS =>
                {
                    self.requests += 1;
                    self.log.push(Ev::NextRequest);
                    self.server = ServerHandshake::new(self.config);
                }
                ServerState::Switched | ServerState::Responded => return Flow::Stop,
                s => panic!("decisions left the machine in {s:?}"),
            }
        }
        panic!("receive loop does not progress");
    }

    /// The head was parsed: its parts are in the consumed bytes, and the
    /// state matches its framing.
    fn check_request(&self, req: &Request<'_>, head: &[u8]) {
        assert!(
            head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"),
            "consumed {head:?} is not a head"
        );
        let line = &head[leading_empty_lines(head)..];
        let (m, t) = (req.method().as_bytes(), req.target().as_bytes());
        assert!(!m.is_empty() && !t.is_empty());
        let mut expected = m.to_vec();
        expected.push(b' ');
        expected.extend_from_slice(t);
        expected.push(b' ');
        assert!(line.starts_with(&expected), "request line of {head:?}");
        let minor = req.head().minor_version();
        assert!(minor <= 1);
        let framing = req.framing();
        assert!(matches!(
            framing,
            Framing::None | Framing::Length(1..) | Framing::Chunked
        ));
        let expected_state = if framing == Framing::None {
            ServerState::RequestReceived
        } else {
            ServerState::HeadReceived
        };
        assert_eq!(self.server.state(), expected_state);
        if req.expects_continue() {
            assert_eq!(minor, 1);
        }
        if minor != 1 {
            assert_eq!(req.upgrade_offers().count(), 0, "HTTP/1.0 offers count");
        }
        for h in req.headers() {
            assert!(!h.name.is_empty(), "header without a name");
        }
        // RFC 9112 §6.1: an HTTP/1.0 request with Transfer-Encoding is refused.
        if minor == 0 {
            assert_eq!(req.headers().count("transfer-encoding"), 0);
        }
        // RFC 9112 §3.2: one Host (for HTTP/1.1), and a host[:port] value
        // without whitespace, userinfo, path or list.
        assert!(req.headers().count("host") <= 1);
        if let Some(host) = req.headers().get("host") {
            assert!(
                !host
                    .iter()
                    .any(|b| matches!(b, b' ' | b'\t' | b'@' | b'/' | b',' | b'?' | b'#')),
                "invalid Host {host:?} delivered"
            );
        }
        // RFC 9112 §3.2: the target's form fits the method.
        let target = req.target();
        assert!(!target.contains('#'), "a fragment in {target:?}");
        if target == "*" {
            assert_eq!(req.method(), "OPTIONS");
        }
        if req.method() == "CONNECT" {
            assert!(!target.starts_with('/') && target.contains(':'));
        } else {
            assert!(target.starts_with('/') || target == "*" || target.contains(':'));
        }
        if let Ok(Some(offer)) = req.websocket() {
            assert!(req.offers("websocket"));
            assert!(is_valid_key(offer.key()));
            for e in offer.extensions() {
                for (name, _) in e.params() {
                    assert!(!name.is_empty(), "extension parameter without a name");
                }
            }
        }
        if let Ok(Some(h2c)) = req.h2c() {
            assert!(req.offers("h2c"));
            assert_eq!(h2c.settings().count() * 8, h2c.raw().len());
        }
    }

    fn on_request(&mut self, req: &Request<'_>) {
        self.known = Known::of(req);
        self.log.push(Ev::Request {
            method: req.method().to_owned(),
            target: req.target().to_owned(),
            minor: req.head().minor_version(),
            framing: req.framing(),
            expects_continue: req.expects_continue(),
            offers: req.upgrade_offers().map(|p| p.to_string()).collect(),
        });
        if self.server.state() == ServerState::HeadReceived {
            let d = self.decisions.draw();
            if d % 4 == 3 {
                // Answer without reading the body.
                if self.respond(d) {
                    self.fallback();
                }
            } else {
                self.continue_body(d);
            }
        } else {
            self.decide_final();
        }
    }

    fn continue_body(&mut self, d: u8) {
        let size = OUT_SIZES[usize::from(d >> 5)];
        let bytes = write_checked(&mut self.server, ServerHandshake::state, size, |s, out| {
            s.continue_body(out)
        })
        .unwrap_or_else(|e| panic!("continue_body in HeadReceived: {e:?}"));
        if self.known.expects_continue {
            assert_eq!(bytes, b"HTTP/1.1 100 Continue\r\n\r\n");
        } else {
            assert!(bytes.is_empty(), "100 Continue nobody asked for");
        }
        assert_eq!(self.server.state(), ServerState::ReadingBody);
        self.log.push(Ev::Wrote("continue_body", Bytes(bytes)));
    }

    /// The whole request is in: switch or answer.
    fn decide_final(&mut self) {
        let d = self.decisions.draw();
        let refused = match d % 4 {
            0 => {
                let protocol = self.known.first_offer.clone();
                self.accept(d, protocol.as_deref().unwrap_or("websocket"))
            }
            1 => self.respond(d),
            2 => self.respond_to_offer(d),
            _ => self.accept(d, "h2c"),
        };
        if refused {
            self.fallback();
        }
    }

    /// After a refused decision the application answers with a plain 500,
    /// which the machine must take.
    fn fallback(&mut self) {
        let before = self.server.state();
        let bytes = write_checked(&mut self.server, ServerHandshake::state, 4096, |s, out| {
            s.respond(&Response::new(500), out)
        })
        .unwrap_or_else(|e| panic!("respond(500) in {before:?}: {e:?}"));
        assert!(bytes.starts_with(b"HTTP/1.1 500 Internal Server Error\r\n"));
        assert_eq!(self.server.state(), ServerState::Responded);
        self.log.push(Ev::Wrote("fallback", Bytes(bytes)));
    }

    /// Accepts `protocol` with what the input picks of the client's
    /// subprotocols and extensions. Returns `true` when refused.
    fn accept(&mut self, d: u8, protocol: &str) -> bool {
        let size = OUT_SIZES[usize::from(d >> 5)];
        let known = self.known.clone();
        let extra = [Header::new("X-Served-By", b"fuzz")];
        let reserved = [Header::new("Sec-WebSocket-Accept", b"x")];
        let mut accept = Accept::new(protocol);
        if d & 4 != 0 {
            accept = accept.subprotocol(known.subprotocol.as_deref().unwrap_or("chat"));
        }
        if d & 8 != 0 {
            accept = accept.extensions(known.extension.as_deref().unwrap_or("permessage-deflate"));
        }
        if d & 16 != 0 {
            accept = accept.headers(if d & 2 != 0 { &reserved } else { &extra });
        }
        // The choice is checked against the request: parse the kept head
        // again with the same configuration.
        let mut parser = ServerHandshake::new(self.config);
        let again = parser.receive(&self.head).expect("the head parses again");
        let Some(ServerEvent::Request(req)) = again.event else {
            panic!("the head parses again: {:?}", again.event);
        };
        let switch = match req.switch(&accept) {
            Ok(switch) => switch,
            Err(e) => {
                self.log.push(Ev::Refused("accept", e));
                return true;
            }
        };
        let result = write_checked(&mut self.server, ServerHandshake::state, size, |s, out| {
            s.accept(&switch, out)
        });
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(Error::Local(e)) => {
                self.log.push(Ev::Refused("accept", e));
                return true;
            }
            Err(e) => panic!("accept: {e:?}"),
        };
        assert_eq!(self.server.state(), ServerState::Switched);
        let status_line: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n";
        let after_continue = bytes
            .strip_prefix(&b"HTTP/1.1 100 Continue\r\n\r\n"[..])
            .unwrap_or(&bytes);
        assert!(after_continue.starts_with(status_line), "{bytes:?}");
        assert!(bytes.ends_with(b"\r\n\r\n"));
        let switch = switch.negotiation();
        assert_eq!(switch.role(), Role::Server);
        let chosen = Protocol::parse(protocol.as_bytes()).expect("accepted an invalid token");
        assert!(switch.protocol().matches(&chosen));
        assert_eq!(self.server.switched_to(), Some(chosen.kind()));
        if let (Some(key), true) = (
            &known.ws_key,
            switch.protocol().name().eq_ignore_ascii_case("websocket"),
        ) {
            let mut line = b"Sec-WebSocket-Accept: ".to_vec();
            line.extend_from_slice(&accept_key(key));
            assert!(
                bytes.windows(line.len()).any(|w| w == line),
                "accept key missing"
            );
        }
        self.log.push(Ev::Wrote("accept", Bytes(bytes)));
        false
    }

    /// Answers with a status the input picks. Returns `true` when refused.
    fn respond(&mut self, d: u8) -> bool {
        const STATUSES: [u16; 8] = [200, 204, 304, 404, 426, 500, 101, 600];
        let status = STATUSES[usize::from(d >> 2 & 7)];
        let mut response = Response::new(status);
        if d & 2 != 0 {
            response = response.upgrade(&["websocket", "h2c"]);
        }
        if d & 1 != 0 {
            response = response.body(b"no thanks\n");
        }
        if d & 0x80 != 0 {
            response = response.body_len(42);
        }
        self.respond_with(d, &response)
    }

    /// Answers the way an application answers an offer it will not take:
    /// the offer's own error when it is unusable, else 426.
    fn respond_to_offer(&mut self, d: u8) -> bool {
        let response = match self.known.offer_error {
            Some(e) => Response::for_error(&e),
            None => Response::upgrade_required(&["websocket"]),
        };
        self.respond_with(d, &response)
    }

    fn respond_with(&mut self, d: u8, response: &Response<'_>) -> bool {
        let size = OUT_SIZES[usize::from(d >> 5)];
        let before = self.server.state();
        let result = write_checked(&mut self.server, ServerHandshake::state, size, |s, out| {
            s.respond(response, out)
        });
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(Error::Local(e)) => {
                self.log.push(Ev::Refused("respond", e));
                return true;
            }
            Err(e) => panic!("respond: {e:?}"),
        };
        assert_eq!(self.server.state(), ServerState::Responded);
        let status = response.status();
        assert!((200..=599).contains(&status));
        assert!(bytes.starts_with(format!("HTTP/1.1 {status} ").as_bytes()));
        assert!(bytes.windows(4).any(|w| w == b"\r\n\r\n"));
        let keep_alive = before == ServerState::RequestReceived && self.known.client_keep_alive;
        assert_eq!(
            self.server.keep_alive(),
            keep_alive,
            "keep_alive after respond"
        );
        // A 1.0 client reuses the connection only when told so.
        let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
        let says_keep_alive = bytes[..head_end]
            .windows(10)
            .any(|w| w.eq_ignore_ascii_case(b"keep-alive"));
        assert_eq!(
            says_keep_alive,
            keep_alive && self.known.http10,
            "Connection: keep-alive in {bytes:?}"
        );
        self.log.push(Ev::Wrote("respond", Bytes(bytes)));
        false
    }

    /// The peer broke a rule: the machine failed, owes the reply the error
    /// names, and refuses to read further.
    fn failed(&mut self, e: PeerError) {
        assert_eq!(self.server.state(), ServerState::Failed);
        assert_eq!(self.server.error(), Some(e));
        assert_eq!(e.role(), Role::Server);
        assert!(!e.to_string().is_empty() && !Error::Peer(e).to_string().is_empty());
        self.log.push(Ev::PeerError(e.kind()));
        let reply = self.transmit();
        match e.status() {
            Some(status) => {
                assert!(
                    reply.starts_with(format!("HTTP/1.1 {status} ").as_bytes()),
                    "reply for {e:?}: {reply:?}"
                );
                assert!(reply.windows(4).any(|w| w == b"\r\n\r\n"));
            }
            None => assert!(reply.is_empty()),
        }
        assert!(self.transmit().is_empty(), "reply sent twice");
        assert!(matches!(
            self.server.receive(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Err(Error::Local(LocalError::WrongState { .. }))
        ));
        assert_eq!(self.server.state(), ServerState::Failed);
    }

    /// Drains `poll_transmit` in chunks; logs what it gave.
    fn transmit(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut chunk = vec![0u8; self.transmit_chunk];
        loop {
            let n = self.server.poll_transmit(&mut chunk);
            assert!(n <= chunk.len());
            if n == 0 {
                break;
            }
            all.extend_from_slice(&chunk[..n]);
            assert!(all.len() <= 1 << 16, "poll_transmit never ends");
        }
        if !all.is_empty() {
            self.log.push(Ev::Reply(Bytes(all.clone())));
        }
        all
    }
}

fn run(input: &Input<'_>, how: Reads) -> Vec<Ev> {
    let reads = input.reads(how);
    let mut run = Run::new(input);
    let mut buf = Vec::new();
    for (i, read) in reads.iter().enumerate() {
        buf.extend_from_slice(read);
        if let Flow::Stop = run.process(&mut buf) {
            let state = run.server.state();
            if state != ServerState::Failed {
                // A failed machine drops a varying part of what it read;
                // the others account for every byte.
                run.log.push(Ev::Stopped {
                    state,
                    keep_alive: run.server.keep_alive(),
                    rest: Bytes(rest_of_stream(&buf, &reads[i + 1..])),
                });
            }
            return run.log;
        }
    }
    let eof = match run.server.receive_eof() {
        // A request never ends with the transport: no event, ever.
        Ok(None) => Ok(()),
        Ok(Some(ev)) => panic!("receive_eof gave {ev:?}"),
        Err(Error::Peer(p)) => Err(p.kind()),
        Err(e) => panic!("receive_eof: {e:?}"),
    };
    run.log.push(Ev::Eof(eof));
    assert_eq!(run.server.state(), ServerState::Failed);
    run.transmit();
    run.log
}

/// Checks one input: the fuzz target, and the seed replay of `cargo test`.
pub fn check(data: &[u8]) {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let whole = run(&input, Reads::Whole);
    if debug() {
        print_log(&whole);
    }
    assert_same_as_whole(&input, &whole, 2048, run);
}
