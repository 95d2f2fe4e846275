//! The `echo_server` example on the blocking adapter: every message comes
//! back as it came, permessage-deflate when offered, and `GET /` without
//! an upgrade serves the echo page.
//!
//! ```text
//! cargo run --release -p protoswitch-blocking --example blocking_echo -- 127.0.0.1:9001
//! ```

use std::net::{TcpListener, TcpStream};

use protoswitch::Header;
use protoswitch::upgrade::Response;
use protoswitch_blocking::{Decision, Error};

const PAGE: &[u8] = include_bytes!("../../examples/support/echo_page.html");
const HTML: &[Header<'static>] = &[Header::new("Content-Type", b"text/html; charset=utf-8")];

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || match serve(stream) {
            Ok(()) | Err(Error::Responded { cause: None, .. }) => {}
            Err(e) => eprintln!("connection: {e}"),
        });
    }
    Ok(())
}

fn serve(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut ws = protoswitch_blocking::accept(stream, |request| {
        let upgrade = request.websocket().is_ok_and(|offer| offer.is_some());
        if !upgrade && request.method() == "GET" && request.target() == "/" {
            return Decision::respond(Response::new(200).headers(HTML).body(PAGE));
        }
        Decision::accept()
    })?;
    loop {
        match ws.read() {
            Ok(message) => ws.send(message)?,
            Err(e) if e.is_closed() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
