//! The WebSocket echo server on the tokio adapter (compare the crate's
//! `examples/tokio_echo_sans_io.rs`, which drives the core by hand).
//!
//! ```text
//! cargo run --release -p protoswitch-tokio --example tokio_echo -- 127.0.0.1:9002
//! ```

use futures_util::{SinkExt, StreamExt};
use protoswitch_tokio::{Accepted, Error, accept};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn serve(stream: TcpStream) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let mut ws = accept(stream, |_request| Ok(Accepted::new())).await?;
    while let Some(message) = ws.next().await {
        ws.send(message?).await?;
    }
    Ok(())
}
