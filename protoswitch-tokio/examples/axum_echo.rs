//! A WebSocket echo on the route `/ws` of an axum 0.8 router, through
//! `protoswitch_tokio::http` (feature `http`): the handshake is the core's,
//! the same as `accept`'s; permessage-deflate is accepted when offered.
//!
//! ```text
//! cargo run -p protoswitch-tokio --features http --example axum_echo -- 127.0.0.1:9003
//! ```

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use protoswitch_tokio::{Accepted, Error, http};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".to_owned());
    let app = Router::new()
        .route("/ws", get(ws))
        .route("/", get(|| async { "WebSocket echo on /ws\n" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn ws(mut request: Request) -> Response {
    let (response, upgrade) = http::upgrade(&mut request, |_request| Ok(Accepted::new()));
    match upgrade {
        Ok(upgrade) => {
            tokio::spawn(async move {
                if let Err(e) = echo(upgrade).await {
                    eprintln!("ws: {e}");
                }
            });
        }
        Err(e) => eprintln!("no switch: {e}"),
    }
    response
}

async fn echo(upgrade: http::Upgrade) -> Result<(), Error> {
    let mut ws = upgrade.websocket().await?;
    while let Some(message) = ws.next().await {
        ws.send(message?).await?;
    }
    Ok(())
}
