//! A scripted peer for the split properties: its bytes (a request and
//! frames from the core's client machine) and a transport that reads them
//! in pieces of given sizes. Shared by `tests/any_split.rs` and the
//! stream's own unit test of its shortcut (`src/lib.rs` includes this
//! file), so it uses the core and tokio, not the adapter.
#![allow(dead_code)]

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use protoswitch::Instant;
use protoswitch::upgrade::{DeflateConfig, DeflateParams};
use protoswitch::ws::{Config, Connection, MessageKind};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the peer sends after the handshake.
#[derive(Debug, Clone)]
pub enum Step {
    Text(String),
    Binary(Vec<u8>),
    /// A message in fragments (each at least one byte for text: a
    /// character is not split, which is the core's business, not ours).
    Fragmented(MessageKind, Vec<Vec<u8>>),
    Ping(Vec<u8>),
}

/// A transport reading `input` in pieces of the sizes of `reads` (in
/// turn), then the end; everything written is kept.
pub struct Scripted {
    input: Vec<u8>,
    at: usize,
    reads: Vec<usize>,
    turn: usize,
    pub written: Vec<u8>,
}

impl Scripted {
    pub fn new(input: &[u8], reads: &[usize]) -> Self {
        Scripted {
            input: input.to_vec(),
            at: 0,
            reads: reads.to_vec(),
            turn: 0,
            written: Vec::new(),
        }
    }
}

impl AsyncRead for Scripted {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let size = this.reads[this.turn % this.reads.len()];
        this.turn += 1;
        let n = size.min(buf.remaining()).min(this.input.len() - this.at);
        buf.put_slice(&this.input[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().written.extend_from_slice(b);
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The request, then the frames of `steps` and a Close 1000 "bye", as
/// the core's client writes them (compressed when `deflate`, with
/// [`DeflateParams::new`]); with the messages the server is to hand out.
pub fn peer_bytes(steps: &[Step], deflate: bool) -> (Vec<u8>, Vec<(MessageKind, Vec<u8>)>) {
    let extension = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    } else {
        ""
    };
    let mut wire = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {extension}\r\n"
    )
    .into_bytes();
    let mut key = 0x9e37_79b9_u32;
    let masks = move || {
        key = key.rotate_left(5).wrapping_add(0x0101_0101);
        key.to_le_bytes()
    };
    let mut client = Connection::client(Config::new(), Instant::ZERO, masks);
    if deflate {
        client = client.with_deflate(&DeflateConfig::new(), DeflateParams::new());
    }
    let mut expected = Vec::new();
    let mut out = vec![0; 1 << 18];
    let mut put = |n: Result<usize, protoswitch::Error>, out: &[u8]| {
        wire.extend_from_slice(&out[..n.expect("the client writes the frame")]);
    };
    for step in steps {
        match step {
            Step::Text(t) => {
                put(client.send_text(t, &mut out), &out);
                expected.push((MessageKind::Text, t.clone().into_bytes()));
            }
            Step::Binary(b) => {
                put(client.send_binary(b, &mut out), &out);
                expected.push((MessageKind::Binary, b.clone()));
            }
            Step::Fragmented(kind, parts) => {
                for (i, part) in parts.iter().enumerate() {
                    let fin = i + 1 == parts.len();
                    put(client.send_fragment(*kind, part, fin, &mut out), &out);
                }
                expected.push((*kind, parts.concat()));
            }
            Step::Ping(p) => put(client.send_ping(p, Instant::ZERO, &mut out), &out),
        }
    }
    put(
        client.send_close(Some(1000), "bye", Instant::ZERO, &mut out),
        &out,
    );
    (wire, expected)
}

/// The peer's steps: sizes around the edges that matter (the 7-bit,
/// 16-bit and 64-bit lengths, the receive buffer's start of 2 KiB, the
/// 64 KiB read buffer), fragmented messages and Pings.
pub fn step() -> impl Strategy<Value = Step> {
    let size = prop_oneof![
        4 => 0usize..40,
        2 => 100usize..300,
        2 => 1900usize..2200,
        1 => 5000usize..9000,
        1 => 65_500usize..70_000,
    ];
    let bytes = size.prop_map(|n| (0..n).map(|i| (i * 7 + n) as u8).collect::<Vec<u8>>());
    prop_oneof![
        4 => bytes.clone().prop_map(Step::Binary),
        3 => "[a-zé€😀]{0,300}".prop_map(Step::Text),
        1 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 1..4)
            .prop_map(|parts| Step::Fragmented(MessageKind::Binary, parts)),
        1 => prop::collection::vec("[a-z€]{1,100}", 1..4)
            .prop_map(|parts| Step::Fragmented(
                MessageKind::Text,
                parts.into_iter().map(String::into_bytes).collect(),
            )),
        1 => prop::collection::vec(any::<u8>(), 0..126).prop_map(Step::Ping),
    ]
}

/// The sizes of the transport's reads, in turn: a byte or a few at a
/// time, a frame and a half, everything at once.
pub fn reads() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![1usize..4, 1usize..40, 100usize..3000, Just(usize::MAX)],
        1..6,
    )
}
