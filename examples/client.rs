//! A blocking WebSocket client: each line of standard input is sent as a
//! text message, each message received is printed on its own line.
//!
//! ```text
//! cargo run --example client -- ws://127.0.0.1:9001/path [--protocol NAME]... [--quiet MS] [--deflate]
//!     [--proxy http://HOST:PORT] [--cafile FILE]
//! ```
//!
//! `wss://` URLs run TLS (rustls) trusting the system's roots or the PEM
//! certificates of `--cafile`. `--proxy` reaches the server through an
//! HTTP proxy: a CONNECT tunnel (RFC 9110 §9.3.6), then TLS and the
//! WebSocket handshake inside it.
//!
//! `--deflate` offers permessage-deflate (RFC 7692); what the server agreed
//! is printed on standard error (`permessage-deflate: ...`).
//!
//! At the end of input it waits for the replies still on their way — until
//! nothing has arrived for a quiet period (`--quiet`, default 500 ms) —
//! then closes with 1000 and exits 0 once the closing handshake is
//! complete. Closing at once would lose them: a server that receives our
//! Close answers it and sends nothing more.

#[path = "support/blocking_ws.rs"]
mod blocking_ws;

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use blocking_ws::Next;
use protoswitch::upgrade::DeflateConfig;
use protoswitch::ws::{CloseCause, Config, Message, code};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut url = None;
    let mut protocols = Vec::new();
    let mut quiet = Duration::from_millis(500);
    let mut deflate = None;
    let mut proxy = None;
    let mut cafile = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--protocol" => match args.next() {
                Some(p) => protocols.push(p),
                None => usage(),
            },
            "--quiet" => match args.next().and_then(|ms| ms.parse().ok()) {
                Some(ms) => quiet = Duration::from_millis(ms),
                None => usage(),
            },
            "--deflate" => deflate = Some(DeflateConfig::new()),
            "--proxy" => match args.next() {
                Some(p) => proxy = Some(p),
                None => usage(),
            },
            "--cafile" => match args.next() {
                Some(f) => cafile = Some(f),
                None => usage(),
            },
            _ if url.is_none() && (arg.starts_with("ws://") || arg.starts_with("wss://")) => {
                url = Some(arg)
            }
            _ => usage(),
        }
    }
    let Some(url) = url else { usage() };
    let via = (proxy.as_deref(), cafile.as_deref());
    match run(&url, via, &protocols, quiet, deflate.as_ref()) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("client: {e}");
            std::process::exit(1);
        }
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: client ws://host:port/path [--protocol NAME]... [--quiet MS] [--deflate] \
         [--proxy http://HOST:PORT] [--cafile FILE]"
    );
    std::process::exit(2);
}

/// `Ok(true)` after a clean close.
fn run(
    url: &str,
    (proxy, cafile): (Option<&str>, Option<&str>),
    protocols: &[String],
    quiet: Duration,
    deflate: Option<&DeflateConfig>,
) -> std::io::Result<bool> {
    let names: Vec<&str> = protocols.iter().map(String::as_str).collect();
    let mut ws = blocking_ws::connect_via(url, proxy, cafile, &names, Config::default(), deflate)?;
    if let Some(p) = ws.subprotocol() {
        eprintln!("subprotocol: {p}");
    }
    match ws.deflate() {
        Some(p) => eprintln!(
            "permessage-deflate: server_no_context_takeover={} client_no_context_takeover={} server_max_window_bits={} client_max_window_bits={}",
            p.server_no_context_takeover,
            p.client_no_context_takeover,
            p.server_max_window_bits,
            p.client_max_window_bits
        ),
        None if deflate.is_some() => eprintln!("permessage-deflate: declined"),
        None => {}
    }
    // Standard input on its own thread; lines arrive over a channel.
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let stdout = std::io::stdout();
    let mut input_open = true;
    // After the end of input: when the last reply arrived (or the input
    // ended), and whether our Close went out.
    let mut last_heard = Instant::now();
    let mut close_sent = false;
    loop {
        match ws.next(Duration::from_millis(20))? {
            Next::Message(m) => {
                last_heard = Instant::now();
                match m {
                    Message::Text(t) => writeln!(stdout.lock(), "{t}")?,
                    Message::Binary(b) => {
                        writeln!(stdout.lock(), "{}", String::from_utf8_lossy(&b))?
                    }
                }
            }
            Next::Closed => break,
            Next::Idle => {}
        }
        while input_open {
            match lines.try_recv() {
                Ok(line) => ws.send(&Message::Text(line))?,
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    input_open = false;
                    last_heard = Instant::now();
                }
            }
        }
        if !input_open && !close_sent && last_heard.elapsed() >= quiet {
            ws.close(code::NORMAL, "")?;
            close_sent = true;
        }
    }
    let cause = ws.connection().close_cause();
    let clean = matches!(cause, Some(CloseCause::Handshake { .. }));
    if !clean {
        eprintln!("client: connection ended: {cause:?}");
    }
    Ok(clean)
}
