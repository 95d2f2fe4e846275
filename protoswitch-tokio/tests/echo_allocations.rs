//! An echo of small messages through the adapter allocates nothing per
//! message once warm: the received message is split off the receive
//! buffer (no copy), copied into the write queue when sent and dropped,
//! and the buffer takes its storage back; the write queue is reused.
//! Counted by the testkit's counting allocator, on a current-thread
//! runtime over an in-memory pipe.

use futures_util::{SinkExt, StreamExt};
use protoswitch_testkit::alloc::{Counting, allocated};
use protoswitch_tokio::WebSocketStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

mod support;

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One echo of `frame` (a 20-byte binary message) from the raw client.
async fn echo(ws: &mut WebSocketStream<DuplexStream>, raw: &mut DuplexStream, frame: &[u8]) {
    let mut back = [0u8; 22];
    raw.write_all(frame).await.unwrap();
    let message = ws.next().await.unwrap().unwrap();
    ws.send(message).await.unwrap();
    raw.read_exact(&mut back).await.unwrap();
    assert_eq!(back[..2], [0x82, 20]);
    assert_eq!(back[2..], [0x5A; 20]);
}

#[test]
fn small_echoes_allocate_nothing_once_warm() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let frame = support::frame(0x82, &[0x5A; 20]);
    let count = runtime.block_on(async {
        let (server, mut raw) = support::raw_pair("", support::plain()).await;
        let mut ws = server.await.unwrap().unwrap();
        for _ in 0..16 {
            echo(&mut ws, &mut raw, &frame).await;
        }
        let before = allocated();
        for _ in 0..200 {
            echo(&mut ws, &mut raw, &frame).await;
        }
        allocated() - before
    });
    assert_eq!(count, 0, "allocations in 200 echoes");
}
