//! The four echo servers under test, each written as its crate's docs
//! write a plain echo server (defaults everywhere, binary and text
//! messages echoed as they came). One runs per child process
//! (`e2e --serve NAME --cpu N`): a current-thread tokio runtime pinned to
//! one core, on 127.0.0.1 and a port the kernel picks, printed on stdout.

use std::io::Write;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};

/// The servers, in the order of the tables.
pub const SERVERS: [&str; 4] = [
    "protoswitch-tokio",
    "tokio-tungstenite",
    "tokio-websockets",
    "fastwebsockets",
];

/// Which servers accept permessage-deflate in their current release.
pub fn supports_deflate(name: &str) -> bool {
    name == "protoswitch-tokio"
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The child process: serves `name` until it is killed.
pub fn serve(name: &str, cpu: usize) -> ! {
    crate::sys::pin_to_cpu(cpu);
    crate::sys::raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let name = name.to_owned();
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local_addr").port();
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{port}").expect("stdout");
        stdout.flush().expect("stdout");
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue; // EMFILE and the like: try the next one
            };
            // The same for every server: echoes leave at once.
            let _ = tcp.set_nodelay(true);
            // Errors (the load generator drops its connections at the
            // end of a measurement) are not reported.
            match name.as_str() {
                "protoswitch-tokio" => drop(tokio::spawn(protoswitch_tokio(tcp))),
                "tokio-tungstenite" => drop(tokio::spawn(tokio_tungstenite(tcp))),
                "tokio-websockets" => drop(tokio::spawn(tokio_websockets(tcp))),
                "fastwebsockets" => drop(tokio::spawn(fastwebsockets(tcp))),
                other => panic!("unknown server {other}"),
            }
        }
    })
}

/// `accept` with a callback that takes every request, then `next()` /
/// `send()` (the adapter's README and `tokio_echo` example). Default
/// options: permessage-deflate accepted when the client offers it.
async fn protoswitch_tokio(tcp: TcpStream) -> Result<(), Failure> {
    use protoswitch_tokio::{Accepted, accept};
    let mut ws = accept(tcp, |_request| Ok(Accepted::new())).await?;
    while let Some(message) = ws.next().await {
        ws.send(message?).await?;
    }
    Ok(())
}

/// `accept_async`, then `next()` / `send()` of data messages (Pings are
/// answered by the crate; default `WebSocketConfig`).
async fn tokio_tungstenite(tcp: TcpStream) -> Result<(), Failure> {
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_binary() || message.is_text() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// `ServerBuilder::new().accept`, then `next()` / `send()` of data
/// messages (default config and limits).
async fn tokio_websockets(tcp: TcpStream) -> Result<(), Failure> {
    let (_request, mut ws) = tokio_websockets::ServerBuilder::new().accept(tcp).await?;
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_binary() || message.is_text() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// hyper's HTTP/1 server with upgrades; the request handler calls
/// `fastwebsockets::upgrade::upgrade`, answers its 101 and spawns the
/// WebSocket task: a `FragmentCollector` (whole messages) echoing data
/// frames with `read_frame` / `write_frame` (default settings: automatic
/// Pong and Close).
async fn fastwebsockets(tcp: TcpStream) -> Result<(), Failure> {
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn upgrade(
        mut request: Request<Incoming>,
    ) -> Result<Response<Empty<Bytes>>, fastwebsockets::WebSocketError> {
        let (response, upgraded) = fastwebsockets::upgrade::upgrade(&mut request)?;
        tokio::spawn(async move {
            let _ = echo(upgraded).await;
        });
        Ok(response)
    }

    async fn echo(
        upgraded: fastwebsockets::upgrade::UpgradeFut,
    ) -> Result<(), fastwebsockets::WebSocketError> {
        use fastwebsockets::OpCode;
        let mut ws = fastwebsockets::FragmentCollector::new(upgraded.await?);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => return Ok(()),
                OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                _ => {}
            }
        }
    }

    let io = hyper_util::rt::TokioIo::new(tcp);
    hyper::server::conn::http1::Builder::new()
        .serve_connection(io, hyper::service::service_fn(upgrade))
        .with_upgrades()
        .await?;
    Ok(())
}
