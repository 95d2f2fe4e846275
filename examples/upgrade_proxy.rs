//! A reverse proxy that relays HTTP/1.1 and protocol upgrades without
//! letting them smuggle anything (the crate's `relay` machine), or a
//! forward proxy that opens CONNECT tunnels to an allowlist.
//!
//! ```text
//! cargo run --example upgrade_proxy -- LISTEN UPSTREAM [--allow TOKEN]... [--allow-h2c] [--via NAME]
//! cargo run --example upgrade_proxy -- LISTEN --forward HOST:PORT...
//! ```
//!
//! Reverse mode: every connection to `LISTEN` gets its own connection to
//! `UPSTREAM`; requests go up and responses down with the hop-by-hop
//! fields removed; an upgrade (`websocket` by default, more with
//! `--allow`; h2c only with `--allow-h2c`) becomes a tunnel only on a
//! verified 101, and nothing the client sends after its upgrade request
//! reaches the upstream before that 101. After any other response the
//! connections close. Errors (a malformed request, a 101 nobody asked for)
//! get the relay's 4xx / 502.
//!
//! Forward mode: a connection's first request must be `CONNECT host:port`
//! for one of the listed destinations: 200 and a tunnel; any other
//! destination 403, another method 405, an unreachable one 502; the
//! connection closes after a refusal (RFC 9931).
//!
//! Each connection is logged on standard error with what the relay
//! decided. One tokio task per connection on a current-thread runtime.

use std::io;

use protoswitch::relay::{Event, Relay, RelayConfig, RelayState};
use protoswitch::upgrade::{Response, ServerEvent, ServerHandshake};
use protoswitch::{Error, Header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The caller-buffer loop shared with the other HTTP examples.
#[path = "support/emit.rs"]
mod emit;
use emit::emit;

const USAGE: &str =
    "usage: upgrade_proxy LISTEN UPSTREAM [--allow TOKEN]... [--allow-h2c] [--via NAME]
       upgrade_proxy LISTEN --forward HOST:PORT...";

/// What the proxy does, from the command line (leaked: it lives as long
/// as the process, and every connection's relay borrows it).
enum Mode {
    Reverse {
        upstream: String,
        config: RelayConfig<'static>,
    },
    Forward {
        allowed: Vec<String>,
    },
}

fn parse_args() -> Option<(String, Mode)> {
    let mut args = std::env::args().skip(1);
    let listen = args.next()?;
    let second = args.next()?;
    if second == "--forward" {
        let allowed: Vec<String> = args.collect();
        return (!allowed.is_empty()).then_some((listen, Mode::Forward { allowed }));
    }
    let mut allow = vec!["websocket".to_owned()];
    let mut via = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--allow" => allow.push(args.next()?),
            "--allow-h2c" => allow.push("h2c".to_owned()),
            "--via" => via = Some(args.next()?),
            _ => return None,
        }
    }
    let allow: Vec<&'static str> = allow
        .into_iter()
        .map(|t| &*Box::leak(t.into_boxed_str()))
        .collect();
    let mut config = RelayConfig::new().allow(Box::leak(allow.into_boxed_slice()));
    if let Some(via) = via {
        config = config.via(Box::leak(via.into_boxed_str()));
    }
    Some((
        listen,
        Mode::Reverse {
            upstream: second,
            config,
        },
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let Some((listen, mode)) = parse_args() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let mode: &'static Mode = Box::leak(Box::new(mode));
    let listener = TcpListener::bind(&listen).await?;
    eprintln!("upgrade_proxy: listening on {}", listener.local_addr()?);
    loop {
        let (down, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let outcome = match mode {
                Mode::Reverse { upstream, config } => reverse(down, upstream, *config).await,
                Mode::Forward { allowed } => forward(down, allowed).await,
            };
            match outcome {
                Ok(what) => eprintln!("{peer}: {what}"),
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}

/// [`emit`], with a local error (a bug in this file) as an I/O error that
/// drops the connection.
fn emit_io(write: impl FnMut(&mut [u8]) -> Result<usize, Error>) -> io::Result<Vec<u8>> {
    emit(write).map_err(|e| io::Error::other(e.to_string()))
}

/// Reads more bytes into `buf`; `false` at the end of the stream.
async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// One client connection through the relay; what happened, for the log.
async fn reverse(
    mut down: TcpStream,
    upstream: &str,
    config: RelayConfig<'static>,
) -> io::Result<String> {
    let mut up = TcpStream::connect(upstream).await?;
    let mut relay = Relay::new(config);
    let (mut dbuf, mut ubuf) = (Vec::new(), Vec::new());
    let mut log = Vec::new();
    loop {
        // Everything buffered that the relay reads, one event at a time.
        let mut progressed = true;
        while progressed && relay.reads_downstream() | relay.reads_upstream() {
            progressed = false;
            // Between requests, bytes the upstream already sent go to the
            // relay first: they answer no request (a body after a 204 or a
            // HEAD's response) and fail the connection, where reading the
            // next request first would relay them as its answer.
            let unsolicited = relay.state() == RelayState::RequestHead && !ubuf.is_empty();
            if relay.reads_downstream() && !dbuf.is_empty() && !unsolicited {
                match relay.receive_downstream(&dbuf) {
                    Ok(got) => {
                        let consumed = got.consumed;
                        match got.event {
                            Some(Event::Request(request)) => {
                                let head = request.head();
                                log.push(format!(
                                    "{} {}{}",
                                    head.method(),
                                    head.target(),
                                    match (request.upgrades(), request.refusal()) {
                                        (true, _) => " (upgrade forwarded)".to_owned(),
                                        (false, Some(why)) => format!(" (upgrade dropped: {why})"),
                                        (false, None) => String::new(),
                                    }
                                ));
                                up.write_all(&emit_io(|o| request.write(o))?).await?;
                            }
                            Some(Event::Body { bytes, .. }) => up.write_all(bytes).await?,
                            _ => {}
                        }
                        dbuf.drain(..consumed);
                        progressed = consumed > 0;
                    }
                    Err(e) => return failed(&mut relay, &mut down, e, log).await,
                }
            }
            if relay.reads_upstream() && !ubuf.is_empty() {
                match relay.receive_upstream(&ubuf) {
                    Ok(got) => {
                        let consumed = got.consumed;
                        match got.event {
                            Some(
                                Event::Interim(response)
                                | Event::Response(response)
                                | Event::Switched(response),
                            ) => {
                                let status = response.head().status();
                                log.push(match response.declined() {
                                    Some(why) => format!("{status} ({why})"),
                                    None => status.to_string(),
                                });
                                down.write_all(&emit_io(|o| response.write(o))?).await?;
                            }
                            Some(Event::Body { bytes, .. }) => down.write_all(bytes).await?,
                            _ => {}
                        }
                        ubuf.drain(..consumed);
                        progressed = consumed > 0;
                    }
                    Err(e) => return failed(&mut relay, &mut down, e, log).await,
                }
            }
        }
        match relay.state() {
            RelayState::Tunnel => {
                // What each side sent after the heads is the new
                // protocol's: pass it on, then copy both ways.
                up.write_all(&dbuf).await?;
                down.write_all(&ubuf).await?;
                let (a, b) = tokio::io::copy_bidirectional(&mut down, &mut up).await?;
                log.push(format!("tunnel closed ({a} bytes up, {b} down)"));
                return Ok(log.join("; "));
            }
            RelayState::Closed => {
                // Bytes the client sent after its request are dropped.
                let _ = down.shutdown().await;
                let _ = up.shutdown().await;
                if !dbuf.is_empty() {
                    log.push(format!("{} client bytes dropped", dbuf.len()));
                }
                log.push("closed".to_owned());
                return Ok(log.join("; "));
            }
            RelayState::Failed => unreachable!("errors return above"),
            _ => {}
        }
        // More bytes from the sides the relay reads.
        let (reads_down, reads_up) = (relay.reads_downstream(), relay.reads_upstream());
        tokio::select! {
            more = fill(&mut down, &mut dbuf), if reads_down => {
                if !more? {
                    if let Err(e) = relay.receive_eof_downstream() {
                        return failed(&mut relay, &mut down, e, log).await;
                    }
                    if relay.state() == RelayState::RequestHead {
                        return Ok(log.join("; "));
                    }
                }
            }
            more = fill(&mut up, &mut ubuf), if reads_up => {
                if !more? {
                    match relay.receive_eof_upstream() {
                        Ok(Some(Event::Body { bytes, .. })) => down.write_all(bytes).await?,
                        Ok(_) => {}
                        Err(e) => return failed(&mut relay, &mut down, e, log).await,
                    }
                }
            }
        }
    }
}

/// After a relay error: the reply it owes the client (4xx, 502), then
/// both connections close.
async fn failed(
    relay: &mut Relay<'_>,
    down: &mut TcpStream,
    error: Error,
    mut log: Vec<String>,
) -> io::Result<String> {
    let mut out = [0u8; 1024];
    loop {
        let n = relay.poll_transmit_downstream(&mut out);
        if n == 0 {
            break;
        }
        down.write_all(&out[..n]).await?;
    }
    let _ = down.shutdown().await;
    log.push(format!("refused: {error}"));
    Ok(log.join("; "))
}

/// One connection in forward mode: CONNECT to an allowed destination.
async fn forward(mut down: TcpStream, allowed: &[String]) -> io::Result<String> {
    let mut server = ServerHandshake::new(Default::default());
    let mut buf = Vec::new();
    let (target, consumed) = loop {
        match server.receive(&buf) {
            Ok(got) => match got.event {
                Some(ServerEvent::Request(request)) => {
                    let target = request.connect_target().map(str::to_owned);
                    let method = request.method().to_owned();
                    break (target.ok_or(method), got.consumed);
                }
                Some(_) => unreachable!("a request head comes first"),
                None => {}
            },
            Err(e) => {
                let mut out = [0u8; 1024];
                let n = server.poll_transmit(&mut out);
                down.write_all(&out[..n]).await?;
                return Ok(format!("refused: {e}"));
            }
        }
        if !fill(&mut down, &mut buf).await? {
            return Ok("closed before a request".to_owned());
        }
    };
    const TEXT: &[Header<'static>] = &[Header::new("Content-Type", b"text/plain")];
    let refuse = |status, body: &'static [u8]| Response::new(status).headers(TEXT).body(body);
    let target = match target {
        Err(method) => {
            let r = refuse(405, b"this proxy only opens CONNECT tunnels\n");
            down.write_all(&emit_io(|o| server.respond(&r, o))?).await?;
            return Ok(format!("{method}: 405"));
        }
        Ok(t) if !allowed.contains(&t) => {
            let r = refuse(403, b"this destination is not allowed\n");
            down.write_all(&emit_io(|o| server.respond(&r, o))?).await?;
            return Ok(format!("CONNECT {t}: 403 (not in the allowlist)"));
        }
        Ok(t) => t,
    };
    let mut up = match TcpStream::connect(&target).await {
        Ok(up) => up,
        Err(e) => {
            let r = refuse(502, b"the destination cannot be reached\n");
            down.write_all(&emit_io(|o| server.respond(&r, o))?).await?;
            return Ok(format!("CONNECT {target}: 502 ({e})"));
        }
    };
    down.write_all(&emit_io(|o| server.tunnel(&[], o))?).await?;
    // Bytes sent before the 200 (RFC 9931 says a client sends none) are
    // the tunnel's.
    up.write_all(&buf[consumed..]).await?;
    let (a, b) = tokio::io::copy_bidirectional(&mut down, &mut up).await?;
    Ok(format!(
        "CONNECT {target}: 200, tunnel closed ({a} bytes up, {b} down)"
    ))
}
