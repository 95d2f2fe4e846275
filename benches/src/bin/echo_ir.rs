//! `echo_ir`: the user-space work of one echo in each tokio server, over
//! an in-memory socket, for counting instructions (issue 11).
//!
//! ```text
//! cargo build --release --manifest-path benches/Cargo.toml --bin echo_ir
//! valgrind --tool=callgrind --toggle-collect='*measured*' \
//!     benches/target/release/echo_ir SERVER [MESSAGES] [SIZE]
//! ```
//!
//! SERVER: `protoswitch-tokio`, `tokio-websockets` or `fastwebsockets`.
//! Each reads MESSAGES masked binary messages of SIZE bytes (default
//! 100,000 of 20 bytes), a frame per read as with one message in flight
//! (a read given less room gets less, and never any of the next frame:
//! `Pieces::in_flight`), and echoes each, as the `e2e` servers do (same
//! calls). Only the echo loop counts (`--toggle-collect`, on `measured`);
//! instructions divided by MESSAGES is the user-space work per echo,
//! without the system calls `e2e` also pays. Deterministic, so it can be
//! measured on a busy machine where the timings of `e2e` cannot.

use futures_util::{SinkExt, StreamExt};
use protoswitch_bench::inputs::REQUEST;
use protoswitch_bench::ours;
use protoswitch_bench::peers::Pieces;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let server = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("protoswitch-tokio");
    let messages: usize = args
        .get(2)
        .map_or(100_000, |s| s.parse().expect("MESSAGES"));
    let size: usize = args.get(3).map_or(20, |s| s.parse().expect("SIZE"));
    let payload = vec![0xA5; size];
    let one = ours::client_frames(&payload, false, 1, 7).0;
    let frames = ours::client_frames(&payload, false, one.len() * messages, 7).0;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    // The benchmark request without its permessage-deflate offer: the
    // peers here do not compress, nor does `e2e`'s load without it.
    let request = std::str::from_utf8(REQUEST)
        .expect("ASCII")
        .replace("Sec-WebSocket-Extensions: permessage-deflate\r\n", "");
    let mut input = request.clone().into_bytes();
    input.extend_from_slice(&frames);
    let echoed = match server {
        "protoswitch-tokio" => {
            // The request in one read, then a frame per read.
            let io = Pieces::in_flight(&input, request.len(), one.len());
            let accept =
                protoswitch_tokio::accept(io, |_request| Ok(protoswitch_tokio::Accepted::new()));
            let ws = runtime.block_on(accept).expect("accept");
            measured(&runtime, echo_loop_protoswitch(ws))
        }
        "tokio-websockets" => {
            let ws = tokio_websockets::ServerBuilder::new().serve(Pieces::in_flight(
                &frames,
                0,
                one.len(),
            ));
            measured(&runtime, echo_loop_tokio_websockets(ws))
        }
        "fastwebsockets" => {
            let ws = fastwebsockets::WebSocket::after_handshake(
                Pieces::in_flight(&frames, 0, one.len()),
                fastwebsockets::Role::Server,
            );
            measured(&runtime, echo_loop_fastwebsockets(ws))
        }
        other => panic!("unknown server {other}"),
    };
    assert_eq!(echoed, messages, "every message echoed");
    println!("{server}: {echoed} echoes of {size} B");
}

/// Runs the echo loop: what `--toggle-collect='*measured*'` counts.
#[inline(never)]
fn measured(runtime: &tokio::runtime::Runtime, echo: impl Future<Output = usize>) -> usize {
    runtime.block_on(echo)
}

async fn echo_loop_protoswitch<S>(mut ws: protoswitch_tokio::WebSocketStream<S>) -> usize
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut n = 0;
    while let Some(Ok(message)) = ws.next().await {
        ws.send(message).await.expect("send");
        n += 1;
    }
    n
}

async fn echo_loop_tokio_websockets<S>(mut ws: tokio_websockets::WebSocketStream<S>) -> usize
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut n = 0;
    while let Some(Ok(message)) = ws.next().await {
        if message.is_binary() || message.is_text() {
            ws.send(message).await.expect("send");
            n += 1;
        }
    }
    n
}

async fn echo_loop_fastwebsockets<S>(ws: fastwebsockets::WebSocket<S>) -> usize
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut ws = fastwebsockets::FragmentCollector::new(ws);
    let mut n = 0;
    while let Ok(frame) = ws.read_frame().await {
        if matches!(
            frame.opcode,
            fastwebsockets::OpCode::Text | fastwebsockets::OpCode::Binary
        ) {
            ws.write_frame(frame).await.expect("write");
            n += 1;
        }
    }
    n
}
