//! The Autobahn Testsuite's fuzzingserver cases through the tokio adapter,
//! as an echo client.
//!
//! ```text
//! wstest -m fuzzingserver   # Autobahn, listening on ws://127.0.0.1:9001
//! cargo run --release -p protoswitch-tokio --example tokio_autobahn_client -- ws://127.0.0.1:9001
//! ```
//!
//! Asks `/getCaseCount`, runs `/runCase?case=N&agent=protoswitch` for
//! each case (echoing every message until the server closes; every case
//! offers permessage-deflate), then `/updateReports`.

use futures_util::{SinkExt, StreamExt};
use protoswitch_tokio::{Connect, Error, Message, WebSocketStream, connect};
use tokio::net::TcpStream;

// The agent name .ci/autobahn.sh grades.
const AGENT: &str = "protoswitch";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    if let Err(e) = run(base.trim_end_matches('/')).await {
        eprintln!("tokio_autobahn_client: {e}");
        std::process::exit(1);
    }
}

async fn run(base: &str) -> Result<(), Error> {
    let mut counter = open(base, "/getCaseCount").await?;
    let count: u32 = match counter.next().await {
        Some(Ok(Message::Text(t))) => t.trim().parse().map_err(std::io::Error::other)?,
        other => return Err(std::io::Error::other(format!("case count: {other:?}")).into()),
    };
    // The server closes after sending the count.
    while counter.next().await.is_some() {}
    eprintln!("{count} cases");
    for case in 1..=count {
        match open(base, &format!("/runCase?case={case}&agent={AGENT}")).await {
            // Every message echoed until the server closes; how the case
            // ended is Autobahn's to grade.
            Ok(mut ws) => {
                while let Some(Ok(message)) = ws.next().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            }
            Err(e) => eprintln!("case {case}: {e}"),
        }
    }
    let mut report = open(base, &format!("/updateReports?agent={AGENT}")).await?;
    report
        .close(protoswitch_tokio::protoswitch::ws::code::NORMAL, "")
        .await?;
    eprintln!("reports updated");
    Ok(())
}

/// Connects to `base` (`ws://host:port`) at `target`, offering
/// permessage-deflate (the adapter's default).
async fn open(base: &str, target: &str) -> Result<WebSocketStream<TcpStream>, Error> {
    let authority = base
        .strip_prefix("ws://")
        .ok_or_else(|| std::io::Error::other(format!("{base}: only ws:// URLs")))?;
    let tcp = TcpStream::connect(authority).await?;
    tcp.set_nodelay(true)?;
    // The defaults: messages up to 64 MiB (Autobahn's 9.* send 16 MiB).
    connect(tcp, Connect::new(authority, target)).await
}
