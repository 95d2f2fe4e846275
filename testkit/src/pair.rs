//! An in-memory client↔server pair and helpers that drive the handshake
//! machines the way a real I/O loop does: a growing receive buffer,
//! consumed bytes dropped, `receive` called until it needs more, every
//! write checked against the buffer contract (`BufferTooSmall` writes
//! nothing and names the exact size).

use protoswitch::upgrade::{
    Accept, ClientConfig, ClientEvent, ClientHandshake, ClientRequest, ClientState, Diagnosis,
    Response, ServerConfig, ServerEvent, ServerHandshake, ServerState,
};
use protoswitch::{Duration, Error, Instant, PeerErrorKind};

use crate::write_checked;

/// A comparable summary of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Request {
        method: String,
        target: String,
    },
    Body(Vec<u8>),
    BodyEnd,
    Interim(u16),
    Switched {
        protocol: String,
        subprotocol: Option<String>,
    },
    Declined {
        status: u16,
        diagnosis: Diagnosis,
    },
    Error(PeerErrorKind),
}

/// Appends an event, merging consecutive body pieces (their boundaries
/// depend on how the bytes were split).
pub fn push(events: &mut Vec<Ev>, ev: Ev) {
    if let (Some(Ev::Body(prev)), Ev::Body(more)) = (events.last_mut(), &ev) {
        prev.extend_from_slice(more);
        return;
    }
    events.push(ev);
}

pub fn server_event(ev: &ServerEvent<'_>) -> Ev {
    match ev {
        ServerEvent::Request(r) => Ev::Request {
            method: r.method().into(),
            target: r.target().into(),
        },
        ServerEvent::Body(b) => Ev::Body(b.to_vec()),
        ServerEvent::BodyEnd => Ev::BodyEnd,
        other => panic!("an event the tests do not know: {other:?}"),
    }
}

pub fn client_event(ev: &ClientEvent<'_>) -> Ev {
    match ev {
        ClientEvent::Interim(h) => Ev::Interim(h.status()),
        ClientEvent::Switched { negotiation, .. } => Ev::Switched {
            protocol: negotiation.protocol().to_string(),
            subprotocol: negotiation.subprotocol().map(str::to_string),
        },
        ClientEvent::Declined {
            response,
            diagnosis,
        } => Ev::Declined {
            status: response.status(),
            diagnosis: *diagnosis,
        },
        ClientEvent::Body(b) => Ev::Body(b.to_vec()),
        ClientEvent::BodyEnd => Ev::BodyEnd,
        other => panic!("an event the tests do not know: {other:?}"),
    }
}

/// Feeds `input` to a fresh server in the pieces given by `cuts` (sorted
/// offsets). On a head with a body, reads the body. Stops at the end of the
/// request or at an error. Returns the events, the unconsumed bytes and
/// what `poll_transmit` produced.
pub fn feed_server(
    input: &[u8],
    cuts: &[usize],
    config: ServerConfig,
) -> (Vec<Ev>, Vec<u8>, Vec<u8>) {
    let mut server = ServerHandshake::new(config);
    let mut events = Vec::new();
    let mut buf = Vec::new();
    let mut wire = Vec::new();
    let mut out = [0u8; 64];
    let mut start = 0;
    let bounds = cuts.iter().copied().chain([input.len()]);
    'outer: for end in bounds {
        let end = end.clamp(start, input.len());
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match server.receive(&buf) {
                Ok(got) => {
                    assert!(got.consumed <= buf.len());
                    let Some(ev) = got.event else {
                        buf.drain(..got.consumed);
                        break;
                    };
                    push(&mut events, server_event(&ev));
                    buf.drain(..got.consumed);
                    match server.state() {
                        ServerState::HeadReceived => {
                            // A 1-byte buffer first: continue_body must say
                            // what it needs and write nothing.
                            let bytes =
                                write_checked(&mut server, ServerHandshake::state, 1, |s, o| {
                                    s.continue_body(o)
                                })
                                .unwrap_or_else(|e| panic!("continue_body: {e}"));
                            wire.extend_from_slice(&bytes);
                        }
                        ServerState::RequestReceived => break 'outer,
                        _ => {}
                    }
                }
                Err(Error::Peer(e)) => {
                    events.push(Ev::Error(e.kind()));
                    break 'outer;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }
    // Whatever was not fed yet is still unconsumed; after an error the
    // connection is dead and nothing is left over.
    buf.extend_from_slice(&input[start..]);
    if let Some(Ev::Error(_)) = events.last() {
        buf.clear();
    }
    loop {
        let n = server.poll_transmit(&mut out);
        if n == 0 {
            break;
        }
        wire.extend_from_slice(&out[..n]);
    }
    (events, buf, wire)
}

/// Starts a client with `request`, then feeds `response` in pieces. Sends
/// the body when asked (as a real loop would). Returns the events and the
/// unconsumed bytes.
pub fn feed_client<'a>(
    request: &ClientRequest<'a>,
    response: &[u8],
    cuts: &[usize],
) -> (Vec<Ev>, Vec<u8>, ClientHandshake<'a>) {
    let mut out = [0u8; 1024];
    let (mut client, _) =
        ClientHandshake::start(request, ClientConfig::default(), Instant::ZERO, &mut out).unwrap();
    let mut events = Vec::new();
    let mut buf = Vec::new();
    let mut start = 0;
    let bounds = cuts.iter().copied().chain([response.len()]);
    'outer: for end in bounds {
        let end = end.clamp(start, response.len());
        buf.extend_from_slice(&response[start..end]);
        start = end;
        loop {
            if client.state() == ClientState::SendingBody {
                client.body_sent().unwrap();
            }
            match client.receive(&buf) {
                Ok(got) => {
                    assert!(got.consumed <= buf.len());
                    let Some(ev) = got.event else {
                        buf.drain(..got.consumed);
                        break;
                    };
                    push(&mut events, client_event(&ev));
                    buf.drain(..got.consumed);
                    if matches!(client.state(), ClientState::Switched | ClientState::Done) {
                        break 'outer;
                    }
                }
                Err(Error::Peer(e)) => {
                    events.push(Ev::Error(e.kind()));
                    break 'outer;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }
    buf.extend_from_slice(&response[start..]);
    if let Some(Ev::Error(_)) = events.last() {
        buf.clear();
    }
    (events, buf, client)
}

/// What the server application decides once the request is complete.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'a> {
    Accept(Accept<'a>),
    Respond(Response<'a>),
    /// Answer right after the head, without reading the body.
    RespondAtHead(Response<'a>),
    /// Answer with what the WebSocket offer's error implies, else 426.
    WebSocketOrError,
}

/// Everything that happened in one simulated exchange.
#[derive(Debug, Default)]
pub struct Transcript {
    pub client_events: Vec<Ev>,
    pub server_events: Vec<Ev>,
    pub client_states: Vec<ClientState>,
    pub server_states: Vec<ServerState>,
    /// Bytes the client sent (request head, body, trailing).
    pub to_server: Vec<u8>,
    /// Bytes the server sent.
    pub to_client: Vec<u8>,
    /// Bytes left for the new protocol on each side.
    pub server_leftover: Vec<u8>,
    pub client_leftover: Vec<u8>,
    /// Time the client spent waiting for 100 Continue.
    pub waited: Duration,
}

/// The in-memory pair: runs a client request against a server policy with
/// a simulated clock. `client_after` is sent right behind the request (the
/// first bytes of the new protocol); `server_after` right behind the 101.
/// `server_silent_on_expect` makes the server ignore `Expect` (as old
/// servers do), so the client's timer fires.
pub struct Pair<'a> {
    pub request: ClientRequest<'a>,
    pub body: &'a [u8],
    pub client_after: &'a [u8],
    pub server_after: &'a [u8],
    pub decision: Decision<'a>,
    pub server_silent_on_expect: bool,
}

impl<'a> Pair<'a> {
    pub fn new(request: ClientRequest<'a>, decision: Decision<'a>) -> Self {
        Pair {
            request,
            body: b"",
            client_after: b"",
            server_after: b"",
            decision,
            server_silent_on_expect: false,
        }
    }

    pub fn run(&self) -> Transcript {
        let mut t = Transcript::default();
        let mut out = vec![0u8; 4096];
        let start = Instant::from_millis(1000);
        let mut now = start;
        let (mut client, n) =
            ClientHandshake::start(&self.request, ClientConfig::default(), now, &mut out).unwrap();
        let mut server = ServerHandshake::new(ServerConfig::default());
        let mut c2s = out[..n].to_vec();
        t.to_server.extend_from_slice(&out[..n]);
        if !matches!(
            client.state(),
            ClientState::WaitingForContinue | ClientState::SendingBody
        ) {
            c2s.extend_from_slice(self.client_after);
            t.to_server.extend_from_slice(self.client_after);
        }
        let mut s2c: Vec<u8> = Vec::new();
        let note_c = |t: &mut Transcript, s: ClientState| {
            if t.client_states.last() != Some(&s) {
                t.client_states.push(s)
            }
        };
        let note_s = |t: &mut Transcript, s: ServerState| {
            if t.server_states.last() != Some(&s) {
                t.server_states.push(s)
            }
        };
        note_c(&mut t, client.state());
        note_s(&mut t, server.state());
        let mut switch = None;
        for _round in 0..20 {
            // Client: send the body when allowed.
            if client.state() == ClientState::SendingBody {
                c2s.extend_from_slice(self.body);
                c2s.extend_from_slice(self.client_after);
                t.to_server.extend_from_slice(self.body);
                t.to_server.extend_from_slice(self.client_after);
                client.body_sent().unwrap();
                note_c(&mut t, client.state());
            }
            // A server that ignored Expect reads the body once it comes (and
            // its machine still sends the 100 first, which is allowed).
            if server.state() == ServerState::HeadReceived
                && self.server_silent_on_expect
                && !c2s.is_empty()
            {
                let n = server.continue_body(&mut out).unwrap();
                s2c.extend_from_slice(&out[..n]);
                t.to_client.extend_from_slice(&out[..n]);
                note_s(&mut t, server.state());
            }
            // Server: read what is there.
            loop {
                if !matches!(
                    server.state(),
                    ServerState::ReadingHead | ServerState::ReadingBody
                ) {
                    break;
                }
                match server.receive(&c2s) {
                    Ok(got) => {
                        let ev = got.event.as_ref().map(server_event);
                        let req_ws_error = match got.event {
                            Some(ServerEvent::Request(r)) => {
                                // Decide at the head; `accept` writes the
                                // 101 once the whole request is in.
                                if let Decision::Accept(a) = self.decision {
                                    switch = Some(r.switch(&a).unwrap());
                                }
                                Some(r.websocket().map(|_| ()))
                            }
                            _ => None,
                        };
                        c2s.drain(..got.consumed);
                        let Some(ev) = ev else { break };
                        push(&mut t.server_events, ev);
                        note_s(&mut t, server.state());
                        let n = match (server.state(), self.decision) {
                            (ServerState::HeadReceived, Decision::RespondAtHead(r)) => {
                                server.respond(&r, &mut out).unwrap()
                            }
                            (ServerState::HeadReceived, _) if self.server_silent_on_expect => 0,
                            (ServerState::HeadReceived, _) => {
                                server.continue_body(&mut out).unwrap()
                            }
                            (ServerState::RequestReceived, Decision::Accept(_)) => server
                                .accept(&switch.expect("switch() at the head"), &mut out)
                                .unwrap(),
                            (
                                ServerState::RequestReceived,
                                Decision::Respond(r) | Decision::RespondAtHead(r),
                            ) => server.respond(&r, &mut out).unwrap(),
                            (ServerState::RequestReceived, Decision::WebSocketOrError) => {
                                let response = match req_ws_error {
                                    Some(Err(e)) => Response::for_error(&e),
                                    _ => Response::upgrade_required(&["websocket"]),
                                };
                                server.respond(&response, &mut out).unwrap()
                            }
                            _ => 0,
                        };
                        s2c.extend_from_slice(&out[..n]);
                        t.to_client.extend_from_slice(&out[..n]);
                        if server.state() == ServerState::Switched {
                            s2c.extend_from_slice(self.server_after);
                            t.to_client.extend_from_slice(self.server_after);
                        }
                        note_s(&mut t, server.state());
                    }
                    Err(Error::Peer(e)) => {
                        push(&mut t.server_events, Ev::Error(e.kind()));
                        note_s(&mut t, server.state());
                        let mut chunk = [0u8; 100];
                        loop {
                            let n = server.poll_transmit(&mut chunk);
                            if n == 0 {
                                break;
                            }
                            s2c.extend_from_slice(&chunk[..n]);
                            t.to_client.extend_from_slice(&chunk[..n]);
                        }
                        break;
                    }
                    Err(e) => panic!("server: {e}"),
                }
            }
            // Client: read what is there.
            loop {
                if !matches!(
                    client.state(),
                    ClientState::WaitingForContinue
                        | ClientState::SendingBody
                        | ClientState::AwaitingResponse
                        | ClientState::ReadingBody
                ) {
                    break;
                }
                if client.state() == ClientState::SendingBody {
                    break;
                }
                match client.receive(&s2c) {
                    Ok(got) => {
                        let ev = got.event.as_ref().map(|e| client_event(e));
                        s2c.drain(..got.consumed);
                        let Some(ev) = ev else { break };
                        push(&mut t.client_events, ev);
                        note_c(&mut t, client.state());
                    }
                    Err(Error::Peer(e)) => {
                        push(&mut t.client_events, Ev::Error(e.kind()));
                        note_c(&mut t, client.state());
                        break;
                    }
                    Err(e) => panic!("client: {e}"),
                }
            }
            if client.state() == ClientState::ReadingBody
                && server.state() == ServerState::Responded
                && s2c.is_empty()
            {
                // A body delimited by close.
                if let Ok(Some(ev)) = client.receive_eof() {
                    push(&mut t.client_events, client_event(&ev));
                    note_c(&mut t, client.state());
                }
            }
            // Time passes when the client waits for 100 Continue.
            if client.state() == ClientState::WaitingForContinue
                && let Some(deadline) = client.poll_timeout()
            {
                now = deadline;
                client.handle_timeout(now);
                t.waited = now.saturating_duration_since(start);
                note_c(&mut t, client.state());
            }
            let client_done = matches!(
                client.state(),
                ClientState::Switched | ClientState::Done | ClientState::Failed
            );
            let server_done = matches!(
                server.state(),
                ServerState::Switched | ServerState::Responded | ServerState::Failed
            );
            if client_done && server_done {
                break;
            }
        }
        if server.state() == ServerState::Switched {
            t.server_leftover = c2s.clone();
        }
        if client.state() == ClientState::Switched {
            t.client_leftover = s2c.clone();
        }
        t
    }
}
