//! protoswitch-tokio's `chat_server` example written with tokio-tungstenite,
//! for the side-by-side comparison of issue 11 (`protoswitch-tokio/README.md`):
//! `Authorization: Bearer secret` or a 401 with a body, subprotocol `chat`
//! when offered, a Ping every 2 s, each handshake logged.
//!
//! ```text
//! cargo run --manifest-path benches/Cargo.toml --example tungstenite_chat -- 127.0.0.1:9003
//! ```

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{Message, http};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:9003".into());
    let listener = TcpListener::bind(&addr).await?;
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(async move {
            let decide = |request: &Request, mut response: Response| {
                eprintln!("{peer}: {} {}", request.method(), request.uri());
                let token = request.headers().get("authorization");
                if token.map(|t| t.as_bytes()) != Some(b"Bearer secret") {
                    let mut refusal =
                        ErrorResponse::new(Some("a bearer token is required\n".into()));
                    *refusal.status_mut() = http::StatusCode::UNAUTHORIZED;
                    return Err(refusal);
                }
                let offered = request.headers().get_all("sec-websocket-protocol");
                let offers = offered.iter().filter_map(|v| v.to_str().ok());
                if offers
                    .flat_map(|v| v.split(','))
                    .any(|p| p.trim() == "chat")
                {
                    let chat = http::HeaderValue::from_static("chat");
                    response
                        .headers_mut()
                        .insert("sec-websocket-protocol", chat);
                }
                Ok(response)
            };
            let mut ws = match tokio_tungstenite::accept_hdr_async(tcp, decide).await {
                Ok(ws) => ws,
                Err(e) => return eprintln!("{peer}: {e}"),
            };
            eprintln!("{peer}: switched");
            let mut pings = tokio::time::interval(Duration::from_secs(2));
            loop {
                tokio::select! {
                    message = ws.next() => match message {
                        Some(Ok(m)) if m.is_text() || m.is_binary() => {
                            if ws.send(m).await.is_err() {
                                break;
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                    _ = pings.tick() => {
                        if ws.send(Message::Ping(Default::default())).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
}
