//! The opening handshakes over a blocking stream, both roles: the
//! machines decide, this only moves bytes.

use std::io::{self, Read, Write};

use protoswitch::http1::Framing;
use protoswitch::upgrade::{
    Accept, Agreed, ClientConfig, ClientEvent, ClientHandshake, ClientRequest, ClientState,
    DeflateConfig, DeflateParams, Response, ServerConfig, ServerEvent, ServerHandshake,
    ServerState,
};
use protoswitch::{PeerError, StdClock};

use crate::Error;
use crate::log::log;

/// Bytes read per handshake read.
const CHUNK: usize = 4096;
/// The most of a declined response's body [`Error::Declined`] keeps.
pub const MAX_DECLINED_BODY: usize = 64 * 1024;

/// Writes what `f` puts in a buffer, growing it on `BufferTooSmall`.
pub(crate) fn write_with<S: Write>(
    stream: &mut S,
    mut f: impl FnMut(&mut [u8]) -> Result<usize, protoswitch::Error>,
) -> Result<(), Error> {
    let mut out = vec![0u8; 1024];
    loop {
        match f(&mut out) {
            Ok(n) => {
                stream.write_all(&out[..n])?;
                stream.flush()?;
                return Ok(());
            }
            Err(protoswitch::Error::BufferTooSmall { needed }) => out.resize(needed, 0),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Appends one read to `buf`; the number of bytes (0: end of stream).
fn read_more<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<usize> {
    let at = buf.len();
    buf.resize(at + CHUNK, 0);
    let n = loop {
        match stream.read(&mut buf[at..]) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    buf.truncate(at + n.as_ref().map_or(0, |n| *n));
    n
}

/// What the server's callback decided, in the form the loop applies.
pub(crate) enum Plan<'d> {
    /// Switch with `accept` (for WebSocket, plus permessage-deflate's answer).
    Switch {
        accept: Accept<'d>,
        agreed: Option<Agreed>,
    },
    /// Answer with `response`; `cause` when the request was at fault.
    Respond {
        response: Response<'d>,
        cause: Option<PeerError>,
    },
}

/// What a server's switch agreed.
pub(crate) struct ServerSwitched {
    pub handshake: ServerHandshake,
    pub leftover: Vec<u8>,
    pub protocol: String,
    pub subprotocol: Option<String>,
    pub agreed: Option<Agreed>,
    pub body: Vec<u8>,
}

const NO_BODY: &[u8] = b"a WebSocket opening handshake has no body\n";
const TOO_LARGE: &[u8] = b"the request body is larger than this server reads before switching\n";
const TEXT_PLAIN: &[protoswitch::Header<'static>] = &[protoswitch::Header::new(
    "Content-Type",
    b"text/plain; charset=utf-8",
)];

/// Reads the request, asks `plan`, writes the 101 or the response. A
/// request with a body is read (with `100 Continue` when expected) before
/// a switch when `max_body` allows one (413 past it), else answered 400.
pub(crate) fn serve<'d, S: Read + Write>(
    stream: &mut S,
    config: ServerConfig,
    max_body: Option<u64>,
    plan: impl FnOnce(&protoswitch::upgrade::Request<'_>) -> Plan<'d>,
) -> Result<ServerSwitched, Error> {
    let mut server = ServerHandshake::new(config);
    let mut buf = Vec::new();
    let mut plan = Some(plan);
    loop {
        let got = match server.receive(&buf) {
            Ok(got) => got,
            Err(e) => return Err(failed(stream, &mut server, e)),
        };
        let consumed = got.consumed;
        let request = match got.event {
            Some(ServerEvent::Request(request)) => request,
            // Only a request body has other events; it is read below.
            Some(_) => {
                buf.drain(..consumed);
                continue;
            }
            None => {
                buf.drain(..consumed);
                if read_more(stream, &mut buf)? == 0 {
                    let e = server.receive_eof().err().unwrap_or(
                        protoswitch::LocalError::WrongState {
                            operation: "read the request",
                            state: server.state().name(),
                        }
                        .into(),
                    );
                    return Err(failed(stream, &mut server, e));
                }
                continue;
            }
        };
        let Some(plan) = plan.take() else {
            // One request per handshake: the machine yields one head.
            return Err(protoswitch::LocalError::WrongState {
                operation: "decide twice",
                state: server.state().name(),
            }
            .into());
        };
        let has_body = server.state() != ServerState::RequestReceived;
        let (accept, agreed) = match plan(&request) {
            Plan::Switch { .. } if has_body && max_body.is_none() => {
                let response = Response::new(400).headers(TEXT_PLAIN).body(NO_BODY);
                return Err(respond(stream, &mut server, &response, None));
            }
            Plan::Switch { .. }
                if matches!(
                    (request.framing(), max_body),
                    (Framing::Length(n), Some(max)) if n > max
                ) =>
            {
                // Refused at its head: nothing of it is read.
                return Err(too_large(stream, &mut server));
            }
            Plan::Switch { accept, agreed } => (accept, agreed),
            Plan::Respond { response, cause } => {
                return Err(respond(stream, &mut server, &response, cause));
            }
        };
        let accept = match &agreed {
            Some(agreed) => accept.extensions(agreed.response()),
            None => accept,
        };
        let switch = match request.switch(&accept) {
            Ok(switch) => switch,
            Err(e) => {
                // The decision does not fit the request: the application's
                // mistake, reported as such after a 500.
                let _ = respond(stream, &mut server, &Response::new(500), None);
                return Err(e.into());
            }
        };
        let negotiation = switch.negotiation();
        let protocol = negotiation.protocol().to_string();
        let subprotocol = negotiation.subprotocol().map(String::from);
        buf.drain(..consumed);
        let mut body = Vec::new();
        if has_body {
            write_with(stream, |out| server.continue_body(out))?;
            let max = max_body.unwrap_or(0);
            read_body(stream, &mut server, &mut buf, &mut body, max)?;
        }
        write_with(stream, |out| server.accept(&switch, out))?;
        log!(
            info,
            protocol = %protocol,
            subprotocol = ?subprotocol,
            deflate = ?agreed.as_ref().map(|a| a.params),
            "upgrade accepted: 101 Switching Protocols"
        );
        return Ok(ServerSwitched {
            handshake: server,
            leftover: buf,
            protocol,
            subprotocol,
            agreed,
            body,
        });
    }
}

/// Reads a request body up to its end, at most `max` bytes (413 past it).
fn read_body<S: Read + Write>(
    stream: &mut S,
    server: &mut ServerHandshake,
    buf: &mut Vec<u8>,
    body: &mut Vec<u8>,
    max: u64,
) -> Result<(), Error> {
    loop {
        let got = match server.receive(buf) {
            Ok(got) => got,
            Err(e) => return Err(failed(stream, server, e)),
        };
        let consumed = got.consumed;
        let done = match got.event {
            Some(ServerEvent::Body(data)) => {
                if (body.len() + data.len()) as u64 > max {
                    return Err(too_large(stream, server));
                }
                body.extend_from_slice(data);
                false
            }
            Some(ServerEvent::BodyEnd) => true,
            Some(_) => false,
            None => {
                buf.drain(..consumed);
                if read_more(stream, buf)? == 0 {
                    if let Err(e) = server.receive_eof() {
                        return Err(failed(stream, server, e));
                    }
                }
                continue;
            }
        };
        buf.drain(..consumed);
        if done {
            return Ok(());
        }
    }
}

/// Answers a request body over the limit with 413 (the connection then
/// closes: the rest of the body is not read); the error to return.
fn too_large<S: Write>(stream: &mut S, server: &mut ServerHandshake) -> Error {
    let response = Response::new(413).headers(TEXT_PLAIN).body(TOO_LARGE);
    respond(stream, server, &response, None)
}

/// Writes the reply a peer error implies; the error to return.
fn failed<S: Write>(stream: &mut S, server: &mut ServerHandshake, e: protoswitch::Error) -> Error {
    let Some(peer) = e.peer() else {
        return e.into();
    };
    log!(info, error = %peer, "bad upgrade request");
    let mut out = [0u8; 1024];
    loop {
        let n = server.poll_transmit(&mut out);
        if n == 0 {
            break;
        }
        if let Err(e) = stream.write_all(&out[..n]) {
            return e.into();
        }
    }
    let _ = stream.flush();
    match peer.status() {
        Some(status) => Error::Responded {
            status,
            cause: Some(peer),
        },
        None => e.into(),
    }
}

/// Writes `response`; the error to return.
fn respond<S: Write>(
    stream: &mut S,
    server: &mut ServerHandshake,
    response: &Response<'_>,
    cause: Option<PeerError>,
) -> Error {
    log!(info, status = response.status(), "upgrade refused");
    match write_with(stream, |out| server.respond(response, out)) {
        Ok(()) => Error::Responded {
            status: response.status(),
            cause,
        },
        Err(e) => e,
    }
}

/// What a client's switch agreed.
pub(crate) struct ClientSwitched {
    pub leftover: Vec<u8>,
    pub protocol: String,
    pub subprotocol: Option<String>,
    pub deflate: Option<DeflateParams>,
}

/// Writes `request`, reads the response: the machine (switched) and what
/// it agreed, or [`Error::Declined`] with the body.
pub(crate) fn request<'r, S: Read + Write>(
    stream: &mut S,
    request: &ClientRequest<'r>,
    config: ClientConfig,
    deflate: Option<&DeflateConfig>,
    clock: &StdClock,
) -> Result<(ClientHandshake<'r>, ClientSwitched), Error> {
    let mut client = None;
    write_with(stream, |out| {
        let (machine, n) = ClientHandshake::start(request, config, clock.now(), out)?;
        client = Some(machine);
        Ok(n)
    })?;
    let Some(mut client) = client else {
        return Err(io::Error::other("the request was not written").into());
    };
    let mut buf = Vec::new();
    let mut declined = None;
    let mut body = Vec::new();
    loop {
        let got = client.receive(&buf)?;
        let consumed = got.consumed;
        match got.event {
            Some(ClientEvent::Switched { negotiation, .. }) => {
                let switched = ClientSwitched {
                    leftover: buf[consumed..].to_vec(),
                    protocol: negotiation.protocol().to_string(),
                    subprotocol: negotiation.subprotocol().map(String::from),
                    deflate: deflate.and_then(|d| d.agreed(&negotiation)),
                };
                log!(
                    info,
                    protocol = %switched.protocol,
                    subprotocol = ?switched.subprotocol,
                    deflate = ?switched.deflate,
                    "connected: 101 Switching Protocols"
                );
                return Ok((client, switched));
            }
            Some(ClientEvent::Declined {
                response,
                diagnosis,
            }) => {
                log!(warn, status = response.status(), %diagnosis, "upgrade declined");
                declined = Some((response.status(), diagnosis));
            }
            Some(ClientEvent::Body(data)) => {
                let room = MAX_DECLINED_BODY - body.len();
                body.extend_from_slice(&data[..data.len().min(room)]);
            }
            Some(_) => {}
            None => {
                buf.drain(..consumed);
                if read_more(stream, &mut buf)? == 0 {
                    // A body delimited by the end of the stream ends here;
                    // a body cut short still leaves the response declined
                    // (its status says why, the body holds what came).
                    let last = client.receive_eof();
                    return Err(match declined {
                        Some((status, diagnosis)) => Error::Declined {
                            status,
                            diagnosis,
                            body,
                        },
                        None => {
                            last?;
                            io::Error::from(io::ErrorKind::UnexpectedEof).into()
                        }
                    });
                }
                continue;
            }
        }
        buf.drain(..consumed);
        if client.state() == ClientState::Done {
            if let Some((status, diagnosis)) = declined {
                return Err(Error::Declined {
                    status,
                    diagnosis,
                    body,
                });
            }
        }
    }
}
