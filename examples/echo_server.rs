//! A blocking WebSocket echo server: every message comes back as it came.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:9001
//! ```
//!
//! One thread per connection. `GET /` without an upgrade serves a small
//! page whose JavaScript talks to the server; any path with a WebSocket
//! upgrade echoes. This is the server the Autobahn fuzzingclient tests.
//! It accepts permessage-deflate (RFC 7692) when offered, with the
//! defaults of [`DeflateConfig`], and compresses its echoes.

#[path = "support/blocking_ws.rs"]
mod blocking_ws;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use blocking_ws::WsStream;
use protoswitch::upgrade::{
    Accept, Agreed, DeflateConfig, Response, ServerEvent, ServerHandshake, ServerState,
};
use protoswitch::ws::{Config, Connection};
use protoswitch::{Error, Header, StdClock};

const PAGE: &[u8] = include_bytes!("support/echo_page.html");
const HTML: &[Header<'static>] = &[Header::new("Content-Type", b"text/html; charset=utf-8")];

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr).unwrap_or_else(|e| {
        eprintln!("cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    println!(
        "listening on {}",
        listener
            .local_addr()
            .map_or(addr.clone(), |a| a.to_string())
    );
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            if let Err(e) = serve(stream) {
                eprintln!("connection: {e}");
            }
        });
    }
}

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let clock = StdClock::new();
    let mut server = ServerHandshake::new(Default::default());
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut out = vec![0u8; 4096];
    let deflate = DeflateConfig::new();
    // The permessage-deflate agreement, if any (the switch borrows its
    // response element).
    let mut agreed: Option<Agreed> = None;
    // The opening handshake.
    loop {
        match server.receive(&buf) {
            Ok(got) => {
                // Decided at the head: a switch checked against the
                // request, or a response.
                let decision = match got.event {
                    Some(ServerEvent::Request(request)) => match request.websocket() {
                        Ok(Some(offer)) if server.state() == ServerState::RequestReceived => {
                            agreed = deflate.accept(&offer);
                            let mut accept = Accept::new("websocket");
                            if let Some(agreed) = &agreed {
                                accept = accept.extensions(agreed.response());
                            }
                            Ok(request
                                .switch(&accept)
                                .map_err(|e| blocking_ws::other(Error::from(e)))?)
                        }
                        Ok(Some(_)) => {
                            Err(Response::new(400).body(b"a WebSocket handshake has no body\n"))
                        }
                        Ok(None)
                            if request.method() == "GET"
                                && request.target().split('?').next() == Some("/") =>
                        {
                            Err(Response::new(200).headers(HTML).body(PAGE))
                        }
                        Ok(None) => Err(Response::upgrade_required(&["websocket"])),
                        Err(e) => Err(Response::for_error(&e)),
                    },
                    // Only a request with a body has other events, and it
                    // was answered at its head.
                    Some(_) => continue,
                    None => {
                        let n = stream.read(&mut chunk)?;
                        if n == 0 {
                            return Ok(());
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        continue;
                    }
                };
                buf.drain(..got.consumed);
                let switch = match decision {
                    Ok(switch) => switch,
                    Err(response) => {
                        let n = server
                            .respond(&response, &mut out)
                            .map_err(blocking_ws::other)?;
                        stream.write_all(&out[..n])?;
                        return Ok(());
                    }
                };
                let n = server
                    .accept(&switch, &mut out)
                    .map_err(blocking_ws::other)?;
                stream.write_all(&out[..n])?;
                break;
            }
            Err(Error::Peer(_)) => {
                let n = server.poll_transmit(&mut out);
                stream.write_all(&out[..n])?;
                return Ok(());
            }
            Err(e) => return Err(blocking_ws::other(e)),
        }
    }
    // After the 101: `buf` holds the first frames, if any arrived.
    let conn = Connection::from_server_handshake(server, Config::default(), clock.now())
        .map_err(blocking_ws::other)?;
    let mut ws = WsStream::new(stream, conn, clock, &buf);
    if let Some(agreed) = agreed {
        ws = ws.with_deflate(&deflate, agreed.params);
    }
    while let Some(message) = ws.read_message()? {
        ws.send(&message)?;
    }
    Ok(())
}
