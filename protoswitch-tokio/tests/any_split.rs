//! Any split gives the same events: however the transport cuts the bytes
//! it reads (one byte at a time, a frame and a half, everything at once),
//! the stream hands out the messages the peer sent, in order and intact,
//! and writes the same bytes (the 101, a Pong per Ping, the Close).
//!
//! This covers every way the receive step takes a message: split off the
//! buffer in one piece (its first question), kept in place across reads,
//! gathered from fragments or from a frame larger than the buffer,
//! inflated. The peer's frames come from the core's own client machine,
//! masked with changing keys (`support/scripted.rs`). The stream's unit
//! test `the_shortcut_matches_the_general_path` runs the same inputs with
//! the first question left out and compares the stream's state too.

#[path = "support/scripted.rs"]
mod scripted;

use futures_util::StreamExt;
use proptest::prelude::*;
use protoswitch::ws::MessageKind;
use protoswitch_tokio::{Accepted, DeflateParams, Message, Options, accept_with};
use scripted::{Scripted, peer_bytes, reads, step};

/// What the server hands out (as text) and writes for `input` read in
/// pieces of `reads`.
fn serve(input: &[u8], reads: &[usize], options: Options) -> (Vec<String>, Vec<u8>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let transport = Scripted::new(input, reads);
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_split_gives_the_same_messages_and_bytes(
        steps in prop::collection::vec(step(), 1..12),
        reads in reads(),
        small_buffer in any::<bool>(),
        deflate in any::<bool>(),
    ) {
        let (input, expected) = peer_bytes(&steps, deflate);
        let options = || {
            let options = Options::new().handshake_timeout(None);
            let options = if deflate { options } else { options.deflate(None) };
            // 1 KiB: frames larger than that stream out in chunks.
            if small_buffer { options.read_buffer_size(1024) } else { options }
        };
        let (items, written) = serve(&input, &reads, options());
        let (whole_items, whole_written) = serve(&input, &[usize::MAX], options());
        let mut want: Vec<String> = expected
            .into_iter()
            .map(|(kind, payload)| {
                let message = match kind {
                    MessageKind::Text => Message::text(String::from_utf8(payload).unwrap()),
                    MessageKind::Binary => Message::binary(payload),
                };
                format!("{:?}", Ok::<_, ()>(message))
            })
            .collect();
        want.push(
            "close frame Some(CloseFrame { code: Some(1000), reason: \"bye\" })".to_owned(),
        );
        prop_assert_eq!(&whole_items, &want);
        prop_assert_eq!(&items, &want);
        prop_assert_eq!(written, whole_written);
    }
}
