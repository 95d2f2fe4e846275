//! Runs the Autobahn Testsuite fuzzingserver cases as an echo client.
//!
//! ```text
//! wstest -m fuzzingserver   # Autobahn, listening on ws://127.0.0.1:9001
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001
//! ```
//!
//! Asks `/getCaseCount`, runs `/runCase?case=N&agent=protoswitch` for each
//! case (echoing every message until the server closes), then
//! `/updateReports?agent=protoswitch`.

#[path = "support/blocking_ws.rs"]
mod blocking_ws;

use protoswitch::upgrade::DeflateConfig;
use protoswitch::ws::{Config, Message, code};

const AGENT: &str = "protoswitch";

fn main() {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let base = base.trim_end_matches('/');
    if let Err(e) = run(base) {
        eprintln!("autobahn_client: {e}");
        std::process::exit(1);
    }
}

fn run(base: &str) -> std::io::Result<()> {
    let mut counter = blocking_ws::connect(
        &format!("{base}/getCaseCount"),
        &[],
        Config::default(),
        None,
    )?;
    let count: u32 = match counter.read_message()? {
        Some(Message::Text(t)) => t.trim().parse().map_err(std::io::Error::other)?,
        other => {
            return Err(std::io::Error::other(format!(
                "unexpected case count: {other:?}"
            )));
        }
    };
    // The server closes after sending the count.
    while counter.read_message()?.is_some() {}
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        // Every case offers permessage-deflate; the server decides.
        match blocking_ws::connect(&url, &[], Config::default(), Some(&DeflateConfig::new())) {
            Ok(mut ws) => {
                while let Ok(Some(message)) = ws.read_message() {
                    if ws.send(&message).is_err() {
                        break;
                    }
                }
            }
            Err(e) => eprintln!("case {case}: {e}"),
        }
    }
    let mut report = blocking_ws::connect(
        &format!("{base}/updateReports?agent={AGENT}"),
        &[],
        Config::default(),
        None,
    )?;
    report.close(code::NORMAL, "")?;
    while report.read_message()?.is_some() {}
    eprintln!("reports updated");
    Ok(())
}
