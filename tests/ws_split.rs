//! proptest: encode → decode gives the messages back for arbitrary
//! messages, fragmentation, masks and chunking; the same bytes split
//! anywhere give the same events and replies; nothing panics.

use proptest::prelude::*;
use protoswitch::ws::{Config, Connection, Event, MaskSource, MessageKind};
use protoswitch::{Instant, Role};
use protoswitch_testkit::Bytes;
use protoswitch_testkit::ws::{WsEv, feed};

#[derive(Debug, Clone)]
enum Item {
    Message {
        kind: MessageKind,
        payload: Vec<u8>,
        pieces: Vec<usize>,
    },
    Ping(Vec<u8>),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (any::<bool>(), any::<String>(), prop::collection::vec(any::<u8>(), 0..300), prop::collection::vec(0usize..64, 0..4))
            .prop_map(|(text, s, bytes, pieces)| {
                if text {
                    Item::Message { kind: MessageKind::Text, payload: s.into_bytes(), pieces }
                } else {
                    Item::Message { kind: MessageKind::Binary, payload: bytes, pieces }
                }
            }),
        1 => prop::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Ping),
    ]
}

fn cuts(max: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..max, 0..16).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

/// Encodes the items as `sender` would: a client masks with keys from
/// `seed`, a server does not mask.
fn encode(items: &[Item], seed: u32, sender: Role) -> (Vec<u8>, Vec<WsEv>) {
    let mut state = seed | 1;
    let keys = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state.to_le_bytes()
    };
    match sender {
        Role::Client => encode_with(
            Connection::client(Config::default(), Instant::ZERO, keys),
            items,
        ),
        Role::Server => encode_with(Connection::server(Config::default(), Instant::ZERO), items),
    }
}

fn encode_with<M: MaskSource>(mut sender: Connection<M>, items: &[Item]) -> (Vec<u8>, Vec<WsEv>) {
    let client = &mut sender;
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    let mut out = vec![0u8; 1024];
    for item in items {
        match item {
            Item::Ping(p) => {
                let n = client.send_ping(p, Instant::ZERO, &mut out).unwrap();
                wire.extend_from_slice(&out[..n]);
                expected.push(WsEv::Ping(Bytes(p.clone())));
            }
            Item::Message {
                kind,
                payload,
                pieces,
            } => {
                // Split at the given sizes (fragments of any byte length,
                // text included: the receiver validates across them).
                let mut rest = &payload[..];
                let mut bounds: Vec<usize> = pieces
                    .iter()
                    .map(|p| p.min(&rest.len()).to_owned())
                    .collect();
                bounds.push(usize::MAX);
                for (i, size) in bounds.iter().enumerate() {
                    let last = i + 1 == bounds.len();
                    let take = if last {
                        rest.len()
                    } else {
                        (*size).min(rest.len())
                    };
                    let (head, tail) = rest.split_at(take);
                    let (n, mask) = client
                        .send_header(*kind, head.len() as u64, last, &mut out)
                        .unwrap();
                    wire.extend_from_slice(&out[..n]);
                    let mut payload = head.to_vec();
                    if let Some(key) = mask {
                        protoswitch::ws::apply_mask(&mut payload, key, 0);
                    }
                    wire.extend_from_slice(&payload);
                    rest = tail;
                }
                expected.push(WsEv::Message(*kind, Bytes(payload.clone())));
            }
        }
    }
    (wire, expected)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn roundtrip_any_fragmentation_and_chunking(items in prop::collection::vec(item(), 0..8), seed in any::<u32>(), cuts in cuts(4000)) {
        let (wire, expected) = encode(&items, seed, Role::Client);
        let mut server = Connection::server(Config::default(), Instant::ZERO);
        let (events, _) = feed(&mut server, &wire, &cuts);
        prop_assert_eq!(events, expected);
        // And the other way: a server's unmasked frames to a client.
        let (wire, expected) = encode(&items, seed, Role::Server);
        let mut client = Connection::client(Config::default(), Instant::ZERO, || [1, 2, 3, 4]);
        let (events, _) = feed(&mut client, &wire, &cuts);
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn same_bytes_any_split_same_events(items in prop::collection::vec(item(), 0..6), seed in any::<u32>(),
                                        flip in any::<Option<(prop::sample::Index, u8)>>(), cuts in cuts(3000)) {
        for role in [Role::Server, Role::Client] {
            // Frames as the peer of `role` sends them, one byte maybe changed.
            let (mut wire, _) = encode(&items, seed, role.peer());
            if let (Some((at, b)), false) = (flip, wire.is_empty()) {
                let i = at.index(wire.len());
                wire[i] = b;
            }
            let (whole, split) = match role {
                Role::Server => (
                    feed(&mut Connection::server(Config::default(), Instant::ZERO), &wire, &[]),
                    feed(&mut Connection::server(Config::default(), Instant::ZERO), &wire, &cuts),
                ),
                Role::Client => (
                    feed(&mut Connection::client(Config::default(), Instant::ZERO, || [1, 2, 3, 4]), &wire, &[]),
                    feed(&mut Connection::client(Config::default(), Instant::ZERO, || [1, 2, 3, 4]), &wire, &cuts),
                ),
            };
            prop_assert_eq!(whole, split);
        }
    }

    /// `whole_frames`: any split gives the events of the default mode,
    /// and every data chunk is a whole frame (one chunk per data frame).
    #[test]
    fn whole_frames_any_split_one_chunk_per_frame(items in prop::collection::vec(item(), 0..6), seed in any::<u32>(), cuts in cuts(3000)) {
        let whole = Config::new().whole_frames(true);
        let (wire, _) = encode(&items, seed, Role::Client);
        prop_assert_eq!(
            feed(&mut Connection::server(whole, Instant::ZERO), &wire, &cuts),
            feed(&mut Connection::server(Config::default(), Instant::ZERO), &wire, &cuts)
        );
        // `encode_with` sends one frame per piece, then one with the rest.
        let data_frames: usize = items.iter().map(|item| match item {
            Item::Message { pieces, .. } => pieces.len() + 1,
            Item::Ping(_) => 0,
        }).sum();
        let mut server = Connection::server(whole, Instant::ZERO);
        let (mut buf, mut chunks, mut start) = (Vec::new(), 0, 0);
        for end in cuts.iter().copied().chain([wire.len()]) {
            let end = end.clamp(start, wire.len());
            buf.extend_from_slice(&wire[start..end]);
            start = end;
            loop {
                let got = server.receive(&mut buf, Instant::ZERO).expect("valid frames");
                let consumed = got.consumed;
                let (event, whole_frame) = match got.event {
                    None => (false, false),
                    Some(Event::Data(c)) => (true, c.frame_end),
                    Some(_) => (true, true),
                };
                prop_assert!(whole_frame || !event, "a data chunk that is not a whole frame");
                chunks += usize::from(event);
                buf.drain(..consumed);
                let _ = server.poll_transmit(&mut [0u8; 256]);
                if !event {
                    break;
                }
            }
        }
        let pings = items.iter().filter(|i| matches!(i, Item::Ping(_))).count();
        prop_assert_eq!(chunks, data_frames + pings);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), cuts in cuts(600)) {
        let small = Config::new().max_frame_payload(100).max_message_size(200).max_fragments(4);
        let a = feed(&mut Connection::server(small, Instant::ZERO), &bytes, &[]);
        let b = feed(&mut Connection::server(small, Instant::ZERO), &bytes, &cuts);
        prop_assert_eq!(a, b);
    }
}
