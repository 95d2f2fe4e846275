//! Any split gives the same events: however the transport cuts the bytes
//! it reads (one byte at a time, a frame and a half, everything at once),
//! the stream hands out the messages the peer sent, in order and intact,
//! and writes the same bytes (the 101, a Pong per Ping, the Close).
//!
//! This covers every way the reading loop takes a message: split off the
//! buffer in one piece (the loop's first question), kept in place across
//! reads, gathered from fragments or from a frame larger than the buffer,
//! inflated. The peer's frames come from the core's own client machine,
//! masked with changing keys.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::StreamExt;
use proptest::prelude::*;
use protoswitch::Instant;
use protoswitch::upgrade::DeflateConfig;
use protoswitch::ws::{Connection, MessageKind};
use protoswitch_tokio::{Accepted, Config, DeflateParams, Message, Options, accept_with};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the peer sends after the handshake.
#[derive(Debug, Clone)]
enum Step {
    Text(String),
    Binary(Vec<u8>),
    /// A message in fragments (each at least one byte for text: a
    /// character is not split, which is the core's business, not ours).
    Fragmented(MessageKind, Vec<Vec<u8>>),
    Ping(Vec<u8>),
}

/// A transport reading `input` in pieces of the sizes of `reads` (in
/// turn), then the end; everything written is kept.
struct Scripted {
    input: Vec<u8>,
    at: usize,
    reads: Vec<usize>,
    turn: usize,
    written: Vec<u8>,
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

/// The request, then the frames of `steps` and a Close 1000, as the
/// core's client writes them (compressed when `deflate`); with the
/// messages the server is to hand out.
fn peer_bytes(steps: &[Step], deflate: bool) -> (Vec<u8>, Vec<Message>) {
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
                expected.push(Message::text(t.clone()));
            }
            Step::Binary(b) => {
                put(client.send_binary(b, &mut out), &out);
                expected.push(Message::binary(b.clone()));
            }
            Step::Fragmented(kind, parts) => {
                for (i, part) in parts.iter().enumerate() {
                    let fin = i + 1 == parts.len();
                    put(client.send_fragment(*kind, part, fin, &mut out), &out);
                }
                let whole = parts.concat();
                expected.push(match kind {
                    MessageKind::Text => Message::text(String::from_utf8(whole).unwrap()),
                    MessageKind::Binary => Message::binary(whole),
                });
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

/// What the server hands out and writes for `input` read in pieces of
/// `reads`.
fn serve(input: &[u8], reads: &[usize], options: Options) -> (Vec<String>, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let transport = Scripted {
            input: input.to_vec(),
            at: 0,
            reads: reads.to_vec(),
            turn: 0,
            written: Vec::new(),
        };
        let mut ws = accept_with(transport, options, |_| Ok(Accepted::new()))
            .await
            .expect("the handshake");
        let mut items = Vec::new();
        while let Some(item) = ws.next().await {
            items.push(format!("{item:?}"));
        }
        items.push(format!("close frame {:?}", ws.close_frame()));
        if let Some(params) = ws.deflate() {
            // What `peer_bytes` compressed with.
            assert_eq!(params, DeflateParams::new());
        }
        (items, ws.get_ref().written.clone())
    })
}

fn step() -> impl Strategy<Value = Step> {
    // Sizes around the edges that matter: the 7-bit, 16-bit and 64-bit
    // lengths, the receive buffer's start (2 KiB) and the option below.
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_split_gives_the_same_messages_and_bytes(
        steps in prop::collection::vec(step(), 1..12),
        reads in prop::collection::vec(
            prop_oneof![1usize..4, 1usize..40, 100usize..3000, Just(usize::MAX)],
            1..6,
        ),
        small_buffer in any::<bool>(),
        deflate in any::<bool>(),
    ) {
        let (input, expected) = peer_bytes(&steps, deflate);
        let options = || {
            let options = Options::new().handshake_timeout(None);
            let options = if deflate { options } else { options.deflate(None) };
            // 1 KiB: frames of 2 KiB and more stream out in chunks.
            if small_buffer { options.read_buffer_size(1024) } else { options }
        };
        let (items, written) = serve(&input, &reads, options());
        let (whole_items, whole_written) = serve(&input, &[usize::MAX], options());
        let mut want: Vec<String> = expected.iter().map(|m| format!("{:?}", Ok::<_, ()>(m))).collect();
        want.push(
            "close frame Some(CloseFrame { code: Some(1000), reason: \"bye\" })".to_owned(),
        );
        prop_assert_eq!(&whole_items, &want);
        prop_assert_eq!(&items, &want);
        prop_assert_eq!(written, whole_written);
    }
}
