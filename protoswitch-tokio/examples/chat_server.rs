//! A token-protected echo server: `Authorization: Bearer secret` or a 401
//! with a body, subprotocol `chat` when offered, a Ping every 2 s, each
//! handshake logged. The same server on tokio-tungstenite is
//! `benches/examples/tungstenite_chat.rs`; the two are compared in
//! `protoswitch-tokio/README.md`.
//!
//! ```text
//! cargo run -p protoswitch-tokio --example chat_server -- 127.0.0.1:9003
//! ```

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protoswitch_tokio::{Accepted, Config, Keepalive, Options, Rejected, accept_with};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9003".into());
    let listener = TcpListener::bind(&addr).await?;
    let pings = Keepalive::fixed(Duration::from_secs(2), Duration::from_secs(10));
    let options = Options::new().config(Config::new().keepalive(Some(pings)));
    loop {
        let (tcp, peer) = listener.accept().await?;
        let options = options.clone();
        tokio::spawn(async move {
            let accepted = accept_with(tcp, options, |request| {
                eprintln!("{peer}: {} {}", request.method(), request.target());
                if request.headers().get("authorization") != Some(b"Bearer secret") {
                    return Err(Rejected::new(401).body("a bearer token is required\n"));
                }
                let offer = request.websocket().ok().flatten();
                Ok(match offer.is_some_and(|o| o.offers_subprotocol("chat")) {
                    true => Accepted::new().subprotocol("chat"),
                    false => Accepted::new(),
                })
            });
            let mut ws = match accepted.await {
                Ok(ws) => ws,
                Err(e) => return eprintln!("{peer}: {e}"),
            };
            eprintln!("{peer}: switched, subprotocol {:?}", ws.subprotocol());
            while let Some(Ok(message)) = ws.next().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}
