//! Starts a `ClientHandshake` with one of a few fixed requests (picked by
//! the first input byte) and feeds the rest of the input as the server's
//! response, in reads of arbitrary sizes, like a real I/O loop. Between
//! events the application may let the 100-continue timer expire and
//! reports the body as sent.
//!
//! Every input runs three times, with the stream cut as the input says, in
//! one read, and one byte per read: the event logs must be identical.

use crate::{
    Bytes, Decisions, Input, Reads, assert_same_as_whole, debug, is_within, print_log, push_body,
    rest_of_stream,
};
use protoswitch::http1::Limits;
use protoswitch::upgrade::{
    ClientConfig, ClientEvent, ClientHandshake, ClientRequest, ClientState, Diagnosis, Protocol,
};
use protoswitch::{Duration, Error, Instant, LocalError, PeerError, PeerErrorKind, Role};

/// What happened, in a form that does not depend on how the stream was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Started(ClientState),
    Interim(u16),
    Switched {
        protocol: String,
        subprotocol: Option<String>,
        extensions: Vec<String>,
    },
    Declined {
        status: u16,
        minor: u8,
        diagnosis: Diagnosis,
    },
    /// Body bytes, consecutive pieces merged.
    Body(Bytes),
    BodyEnd,
    PeerError(PeerErrorKind),
    Timeout {
        at_ms: u64,
        state: ClientState,
    },
    BodySent(Result<(), LocalError>),
    /// The machine stopped reading; `rest` is what it left of the stream
    /// (the new protocol's bytes, or what follows a complete response).
    Stopped {
        state: ClientState,
        keep_alive: bool,
        rest: Bytes,
    },
    /// The stream ended while the machine was still reading.
    Eof(Result<bool, PeerErrorKind>),
}

/// The request a client sends, and what it offered.
struct Fixed {
    request: ClientRequest<'static>,
    offers: &'static [&'static str],
    subprotocols: &'static [&'static str],
    head_request: bool,
}

const CHAT: &[&str] = &["chat", "superchat"];
const DEFLATE: &[&str] = &["permessage-deflate; client_max_window_bits"];

fn fixed(selector: u8) -> Fixed {
    const WS: &[&str] = &["websocket"];
    const H2C: &[&str] = &["h2c"];
    const ECHO: &[&str] = &["echo/1"];
    const ECHO_WS: &[&str] = &["echo/1", "websocket"];
    const WS_H2C: &[&str] = &["websocket", "h2c"];
    let (request, offers, subprotocols) = match selector % 6 {
        // WebSocket with an all-zero nonce, subprotocols and an extension.
        0 => (
            ClientRequest::new("GET", "/chat", "server.example.com", WS)
                .websocket_key([0; 16])
                .subprotocols(CHAT)
                .extensions(DEFLATE)
                .origin("http://example.com"),
            WS,
            CHAT,
        ),
        // RFC 6455 §1.2: the key is base64("the sample nonce").
        1 => (
            ClientRequest::new("GET", "/chat", "server.example.com", WS)
                .websocket_key(*b"the sample nonce")
                .subprotocols(CHAT)
                .origin("http://example.com"),
            WS,
            CHAT,
        ),
        // h2c with two SETTINGS entries.
        2 => (
            ClientRequest::new("GET", "/", "example.com", H2C)
                .h2c_settings(&[(3, 100), (4, 65535)]),
            H2C,
            &[][..],
        ),
        // A custom token with a body that waits for 100 Continue.
        3 => (
            ClientRequest::new("POST", "/echo", "example.com", ECHO)
                .body(5)
                .expect_continue(),
            ECHO,
            &[][..],
        ),
        // Two offers and a body sent at once.
        4 => (
            ClientRequest::new("PUT", "/upload", "example.com", ECHO_WS)
                .websocket_key([0; 16])
                .body(5),
            ECHO_WS,
            &[][..],
        ),
        // HEAD: a declined response has no body whatever it says.
        _ => (
            ClientRequest::new("HEAD", "/", "example.com", WS_H2C)
                .websocket_key([0; 16])
                .h2c_settings(&[(4, 65535)]),
            WS_H2C,
            &[][..],
        ),
    };
    Fixed {
        request,
        offers,
        subprotocols,
        head_request: selector % 6 == 5,
    }
}

const CONTINUE_TIMEOUT_MS: u64 = 1000;

enum Flow {
    More,
    Stop,
}

struct Run {
    fixed: Fixed,
    client: ClientHandshake<'static>,
    decisions: Decisions,
    log: Vec<Ev>,
}

impl Run {
    fn new(input: &Input<'_>) -> Self {
        let c = input.config;
        let fixed = fixed(c & 7);
        let config = ClientConfig::new()
            .limits(
                Limits::new()
                    .max_head_bytes([8192, 1024, 256, 64][usize::from(c >> 3 & 3)])
                    .max_headers([64, 128, 8, 1][usize::from(c >> 5 & 3)]),
            )
            .continue_timeout(Duration::from_millis(CONTINUE_TIMEOUT_MS));
        // A small buffer first: `start` must say how much it needs.
        let mut out = vec![0xA5u8; if c & 0x80 != 0 { 40 } else { 1024 }];
        let (client, n) =
            match ClientHandshake::start(&fixed.request, config, Instant::ZERO, &mut out) {
                Ok(started) => started,
                Err(Error::BufferTooSmall { needed }) => {
                    assert!(needed > out.len());
                    assert!(
                        out.iter().all(|&b| b == 0xA5),
                        "BufferTooSmall but bytes were written"
                    );
                    out = vec![0xA5u8; needed];
                    let started =
                        ClientHandshake::start(&fixed.request, config, Instant::ZERO, &mut out)
                            .expect("start with the size asked for");
                    assert_eq!(started.1, needed);
                    started
                }
                Err(e) => panic!("start: {e:?}"),
            };
        let head = &out[..n];
        assert!(
            head.starts_with(b"GET ")
                || head.starts_with(b"POST ")
                || head.starts_with(b"PUT ")
                || head.starts_with(b"HEAD ")
        );
        assert!(head.ends_with(b"\r\n\r\n"));
        let log = vec![Ev::Started(client.state())];
        let mut run = Run {
            fixed,
            client,
            decisions: Decisions::new(input.decisions),
            log,
        };
        run.decide();
        run
    }

    fn check_timer(&self) {
        let waiting = self.client.state() == ClientState::WaitingForContinue;
        let expected = waiting.then(|| Instant::from_millis(CONTINUE_TIMEOUT_MS));
        assert_eq!(self.client.poll_timeout(), expected);
    }

    /// What the application does between events: maybe the timer fires,
    /// maybe it reports the body as written.
    fn decide(&mut self) {
        self.check_timer();
        let d = self.decisions.draw();
        if d & 1 != 0 {
            let before = self.client.state();
            let at_ms = if d & 2 != 0 {
                CONTINUE_TIMEOUT_MS - 1
            } else {
                CONTINUE_TIMEOUT_MS + u64::from(d >> 4)
            };
            self.client.handle_timeout(Instant::from_millis(at_ms));
            let state = self.client.state();
            if before == ClientState::WaitingForContinue && at_ms >= CONTINUE_TIMEOUT_MS {
                assert_eq!(state, ClientState::SendingBody);
            } else {
                assert_eq!(state, before, "handle_timeout at {at_ms} ms");
            }
            self.log.push(Ev::Timeout { at_ms, state });
            self.check_timer();
        }
        let before = self.client.state();
        if before == ClientState::SendingBody && d & 4 == 0 {
            let r = self.client.body_sent();
            assert_eq!(r, Ok(()));
            assert_eq!(self.client.state(), ClientState::AwaitingResponse);
            self.log.push(Ev::BodySent(r));
        } else if before != ClientState::SendingBody && d & 8 != 0 {
            let r = self.client.body_sent();
            assert!(
                matches!(r, Err(LocalError::WrongState { .. })),
                "body_sent in {before:?}: {r:?}"
            );
            assert_eq!(self.client.state(), before);
            self.log.push(Ev::BodySent(r));
        }
    }

    fn process(&mut self, buf: &mut Vec<u8>) -> Flow {
        for _ in 0..4 * buf.len() + 64 {
            let before = self.client.state();
            let reading_head = matches!(
                before,
                ClientState::WaitingForContinue
                    | ClientState::SendingBody
                    | ClientState::AwaitingResponse
            );
            assert!(
                reading_head || before == ClientState::ReadingBody,
                "reading in {before:?}"
            );
            let got = match self.client.receive(buf) {
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
            // The application decides after each event except body pieces,
            // whose number depends on how the stream was cut.
            let decides = had_event && !matches!(got.event, Some(ClientEvent::Body(_)));
            let state = self.client.state();
            match got.event {
                None => {
                    if reading_head {
                        assert_eq!(consumed, 0, "consumed part of an incomplete head");
                    }
                    assert_eq!(state, before);
                }
                Some(ClientEvent::Interim(head)) => {
                    assert!(reading_head);
                    let status = head.status();
                    assert!(
                        (100..200).contains(&status) && status != 101,
                        "interim {status}"
                    );
                    assert_eq!(head.minor_version(), 1);
                    if before == ClientState::WaitingForContinue && status == 100 {
                        assert_eq!(state, ClientState::SendingBody);
                    } else {
                        assert_eq!(state, before);
                    }
                    self.log.push(Ev::Interim(status));
                }
                Some(ClientEvent::Switched {
                    response,
                    negotiation: switch,
                }) => {
                    assert_eq!(before, ClientState::AwaitingResponse);
                    assert_eq!(state, ClientState::Switched);
                    assert_eq!(response.status(), 101);
                    assert_eq!(response.minor_version(), 1);
                    assert_eq!(self.client.switched_to(), Some(switch.protocol().kind()));
                    assert_eq!(switch.role(), Role::Client);
                    let protocol = switch.protocol();
                    assert!(
                        self.fixed
                            .offers
                            .iter()
                            .any(|o| Protocol::parse(o.as_bytes())
                                .is_some_and(|p| p.matches(&protocol))),
                        "switched to {protocol} which was not offered"
                    );
                    let subprotocol = switch.subprotocol().map(str::to_owned);
                    if let Some(sp) = &subprotocol {
                        assert!(self.fixed.subprotocols.contains(&sp.as_str()));
                    }
                    let extensions: Vec<String> =
                        switch.extensions().map(|e| e.name().to_owned()).collect();
                    for e in &extensions {
                        assert!(
                            e.eq_ignore_ascii_case("permessage-deflate"),
                            "extension {e}"
                        );
                    }
                    assert!(extensions.len() <= 1, "an extension selected twice");
                    self.log.push(Ev::Switched {
                        protocol: protocol.to_string(),
                        subprotocol,
                        extensions,
                    });
                }
                Some(ClientEvent::Declined {
                    response,
                    diagnosis,
                }) => {
                    assert!(reading_head);
                    let status = response.status();
                    assert!((200..=999).contains(&status), "declined with {status}");
                    assert!(!diagnosis.to_string().is_empty());
                    // RFC 9112 §6.1: faulty framing of an HTTP/1.0 message
                    // with Transfer-Encoding: never reuse the connection.
                    if response.minor_version() == 0
                        && response.headers().count("transfer-encoding") > 0
                    {
                        assert!(
                            !self.client.keep_alive(),
                            "kept an HTTP/1.0 + TE response alive"
                        );
                    }
                    if self.fixed.head_request {
                        assert_eq!(state, ClientState::Done);
                    } else {
                        assert!(matches!(
                            state,
                            ClientState::ReadingBody | ClientState::Done
                        ));
                    }
                    self.log.push(Ev::Declined {
                        status,
                        minor: response.minor_version(),
                        diagnosis,
                    });
                }
                Some(ClientEvent::Body(data)) => {
                    assert_eq!(before, ClientState::ReadingBody);
                    assert!(!data.is_empty(), "empty Body event");
                    assert!(is_within(data, &buf[..consumed]), "Body outside consumed");
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
                Some(ClientEvent::BodyEnd) => {
                    assert_eq!(before, ClientState::ReadingBody);
                    assert_eq!(state, ClientState::Done);
                    self.log.push(Ev::BodyEnd);
                }
                Some(other) => panic!("an event the checker does not know: {other:?}"),
            }
            buf.drain(..consumed);
            if decides {
                self.decide();
            }
            match self.client.state() {
                ClientState::Switched | ClientState::Done => return Flow::Stop,
                ClientState::Failed => panic!("failed without an error"),
                _ if had_event => {}
                _ => return Flow::More,
            }
        }
        panic!("receive loop does not progress");
    }

    fn failed(&mut self, e: PeerError) {
        assert_eq!(self.client.state(), ClientState::Failed);
        assert_eq!(self.client.error(), Some(e));
        assert_eq!(e.role(), Role::Client);
        assert_eq!(e.status(), None, "a client never answers");
        assert!(!e.to_string().is_empty());
        self.log.push(Ev::PeerError(e.kind()));
        assert!(matches!(
            self.client.receive(b"HTTP/1.1 200 OK\r\n\r\n"),
            Err(Error::Local(LocalError::WrongState { .. }))
        ));
        assert_eq!(self.client.state(), ClientState::Failed);
    }
}

fn run(input: &Input<'_>, how: Reads) -> Vec<Ev> {
    let reads = input.reads(how);
    let mut run = Run::new(input);
    let mut buf = Vec::new();
    for (i, read) in reads.iter().enumerate() {
        buf.extend_from_slice(read);
        if let Flow::Stop = run.process(&mut buf) {
            let state = run.client.state();
            if state != ClientState::Failed {
                // A failed machine drops a varying part of what it read;
                // the others account for every byte.
                run.log.push(Ev::Stopped {
                    state,
                    keep_alive: run.client.keep_alive(),
                    rest: Bytes(rest_of_stream(&buf, &reads[i + 1..])),
                });
            }
            assert_eq!(
                run.client.receive_eof(),
                Ok(None),
                "receive_eof after {state:?}"
            );
            return run.log;
        }
    }
    let eof = match run.client.receive_eof() {
        Ok(Some(ClientEvent::BodyEnd)) => Ok(true),
        Ok(other) => panic!("receive_eof while reading gave {other:?}"),
        Err(Error::Peer(p)) => Err(p.kind()),
        Err(e) => panic!("receive_eof: {e:?}"),
    };
    run.log.push(Ev::Eof(eof));
    let state = run.client.state();
    assert!(
        matches!(state, ClientState::Done | ClientState::Failed),
        "{state:?} after eof"
    );
    if state == ClientState::Done {
        assert!(
            !run.client.keep_alive(),
            "keep-alive after a body ended by close"
        );
    }
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
