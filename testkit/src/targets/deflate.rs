//! The `deflate` fuzz target: permessage-deflate (RFC 7692) on a
//! connection, two ways.
//!
//! * **Raw** (bit 7 of byte 0): the rest of the input is what the peer
//!   sends, fed through the checked receive loop ([`Receiver`]) to a
//!   connection with permessage-deflate on: arbitrary frames with RSV1,
//!   arbitrary DEFLATE data, bombs. Nothing may panic; every event obeys
//!   the receive loop's checks (inflated text is UTF-8, no message over the
//!   limit is handed out, a failure queues one Close with its code); the
//!   loop's progress bound holds, so a bomb costs at most the message
//!   limit.
//! * **Round trip**: messages built from the input are written by a
//!   compressing connection (whole, or in fragments split anywhere) and
//!   read back by the other role through arbitrary reads and output
//!   buffer sizes: the same messages must come back.
//! * **Other compressor** (round trip with bit 4 of byte 5): the same,
//!   whole messages compressed by `miniz_oxide` at level 1 to 8 (bits 5-7
//!   of byte 5) with a sync flush each, so the crate's inflater meets
//!   `miniz_oxide`'s dynamic Huffman blocks (the crate's compressor
//!   writes its own only for calls of 2 KiB or more: the round trip
//!   reaches them with long messages, see the `roundtrip_long_to_server`
//!   seed).
//!
//! Input layout, read with a `Cursor` (zeros past the end):
//!
//! | bytes | meaning                                                       |
//! |-------|---------------------------------------------------------------|
//! | 0     | bit 0: the receiver is a client; bits 1-2: server/client no   |
//! |       | context takeover; bit 3: tiny limits (4 KiB message);         |
//! |       | bits 4-6: output buffer size (`OUT`); bit 7: raw              |
//! | 1-4   | the client's mask key seed                                    |
//! | 5     | cuts: low 4 bits the count, then that many two-byte lengths;  |
//! |       | bit 4: other compressor, bits 5-7 its level less one          |
//! | then  | raw: the bytes; round trip: messages, each a tag byte (bit 0  |
//! |       | binary, bit 1 fragmented, bits 2-7 count of fragments), a     |
//! |       | two-byte length, the bytes, and the fragment sizes            |

use crate::ws::{Keys, Receiver, WsEv, feed_into};
use crate::{Bytes, Cursor, debug, print_log};
use protoswitch::Instant;
use protoswitch::upgrade::{DeflateConfig, DeflateParams};
use protoswitch::ws::{Config, Connection, MaskSource, MessageKind};

/// Output buffer sizes.
const OUT: [usize; 8] = [1, 2, 3, 7, 64, 256, 1024, 16384];

/// Runs one input; panics on a broken rule.
pub fn check(data: &[u8]) {
    let mut cur = Cursor::new(data);
    let flags = cur.u8();
    let seed = cur.u32();
    let c = cur.u8();
    let mut cuts: Vec<usize> = (0..c & 15).map(|_| usize::from(cur.u16())).collect();
    cuts.sort_unstable();
    let params = DeflateParams {
        server_no_context_takeover: flags & 2 != 0,
        client_no_context_takeover: flags & 4 != 0,
        ..DeflateParams::new()
    };
    let config = match flags & 8 {
        0 => Config::default(),
        _ => Config::default()
            .max_message_size(4096)
            .max_frame_payload(4096),
    };
    let out = OUT[usize::from(flags >> 4 & 7)];
    let receiver_is_client = flags & 1 != 0;
    let d = DeflateConfig::new();
    let server = || Connection::server(config, Instant::ZERO).with_deflate(&d, params);
    let client =
        || Connection::client(config, Instant::ZERO, Keys::new(seed)).with_deflate(&d, params);
    if flags & 0x80 != 0 {
        let input = cur.bytes(usize::MAX);
        if receiver_is_client {
            raw(client(), input, &cuts, out);
        } else {
            raw(server(), input, &cuts, out);
        }
        return;
    }
    // With the tiny limits, round-trip messages are cut to fit them (the
    // limits themselves are the raw mode's business): 4,000 bytes, so that
    // a whole message's frame (stored blocks at worst) and every fragment's
    // stay within 4,096 too.
    let longest = if flags & 8 != 0 { 4000 } else { usize::MAX };
    let messages = parse_messages(&mut cur, longest);
    let other = (c & 0x10 != 0).then_some(c >> 5);
    let (events, expected) = match (receiver_is_client, other) {
        (true, None) => {
            let wire = encode(server(), &messages);
            (feed_into(&mut client(), &wire, &cuts, out).0, messages)
        }
        (false, None) => {
            let wire = encode(client(), &messages);
            (feed_into(&mut server(), &wire, &cuts, out).0, messages)
        }
        (true, Some(level)) => {
            let fresh = params.server_no_context_takeover;
            let wire = encode_other(&messages, level + 1, fresh, None);
            (feed_into(&mut client(), &wire, &cuts, out).0, messages)
        }
        (false, Some(level)) => {
            let fresh = params.client_no_context_takeover;
            let wire = encode_other(&messages, level + 1, fresh, Some(seed));
            (feed_into(&mut server(), &wire, &cuts, out).0, messages)
        }
    };
    let expected: Vec<WsEv> = expected
        .into_iter()
        .map(|m| WsEv::Message(m.kind, Bytes(m.payload)))
        .collect();
    if events != expected && debug() {
        print_log(&events);
    }
    assert_eq!(events, expected, "round trip with {params:?}, out {out}");
}

/// Feeds `input` through the checked receive loop in the reads `cuts`
/// gives, then ends the transport.
fn raw<M: MaskSource>(conn: Connection<M>, input: &[u8], cuts: &[usize], out: usize) {
    let mut rx = Receiver::new(conn, Instant::ZERO).with_output(out);
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        let end = end.clamp(start, input.len());
        rx.feed(&input[start..end]);
        start = end;
    }
    let (log, _) = rx.finish();
    if debug() {
        print_log(&log);
    }
}

struct Message {
    kind: MessageKind,
    payload: Vec<u8>,
    /// Fragment sizes (empty: one `send_text`/`send_binary`); the last
    /// fragment takes the rest.
    pieces: Vec<usize>,
}

/// The messages of a round trip, each at most `longest` bytes (text cut
/// at a character boundary).
fn parse_messages(cur: &mut Cursor<'_>, longest: usize) -> Vec<Message> {
    let mut messages = Vec::new();
    while !cur.is_empty() && messages.len() < 32 {
        let tag = cur.u8();
        let len = usize::from(cur.u16() % 8192);
        let bytes = cur.bytes(len);
        let (kind, payload) = if tag & 1 != 0 {
            (
                MessageKind::Binary,
                bytes[..bytes.len().min(longest)].to_vec(),
            )
        } else {
            // Replacement characters may make the text longer than the bytes.
            let mut text = String::from_utf8_lossy(bytes).into_owned();
            let mut end = text.len().min(longest);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            (MessageKind::Text, text.into_bytes())
        };
        let pieces = if tag & 2 != 0 {
            (0..tag >> 2)
                .map(|_| usize::from(cur.u16() % 4096))
                .collect()
        } else {
            Vec::new()
        };
        messages.push(Message {
            kind,
            payload,
            pieces,
        });
    }
    messages
}

/// What `sender` writes for the messages (each call with room enough).
fn encode<M: MaskSource>(mut sender: Connection<M>, messages: &[Message]) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut out = vec![0u8; 3 * 8192 + 1024];
    for m in messages {
        if m.pieces.is_empty() {
            let n = match m.kind {
                MessageKind::Text => sender.send_text(
                    core::str::from_utf8(&m.payload).expect("lossy text is UTF-8"),
                    &mut out,
                ),
                MessageKind::Binary => sender.send_binary(&m.payload, &mut out),
            }
            .expect("a whole message with room");
            wire.extend_from_slice(&out[..n]);
            continue;
        }
        let mut rest = &m.payload[..];
        for &p in &m.pieces {
            let (piece, after) = rest.split_at(p.min(rest.len()));
            let n = sender
                .send_fragment(m.kind, piece, false, &mut out)
                .expect("a fragment with room");
            wire.extend_from_slice(&out[..n]);
            rest = after;
        }
        let n = sender
            .send_fragment(m.kind, rest, true, &mut out)
            .expect("the last fragment with room");
        wire.extend_from_slice(&out[..n]);
    }
    wire
}

/// The messages as another compressor writes them: each whole, compressed
/// by `miniz_oxide` at `level` (32 KiB window) with a sync flush whose
/// tail is removed (RFC 7692 §7.2.1), from a fresh compressor each when
/// `fresh` (no context takeover); in frames masked with keys from `mask`
/// (a client's) or unmasked (a server's).
fn encode_other(messages: &[Message], level: u8, fresh: bool, mask: Option<u32>) -> Vec<u8> {
    use miniz_oxide::deflate::core::{
        CompressorOxide, TDEFLFlush, compress, create_comp_flags_from_zip_params,
    };
    let new = || CompressorOxide::new(create_comp_flags_from_zip_params(i32::from(level), -15, 0));
    let mut compressor = new();
    let mut keys = Keys::new(mask.unwrap_or(0));
    let mut wire = Vec::new();
    let mut out = vec![0u8; 2 * 8192 + 1024];
    for m in messages {
        if fresh {
            compressor = new();
        }
        let (_, _, n) = compress(&mut compressor, &m.payload, &mut out, TDEFLFlush::Sync);
        let payload = &out[..n];
        let payload = payload.strip_suffix(&[0, 0, 0xff, 0xff]).unwrap_or(payload);
        let opcode = match m.kind {
            MessageKind::Text => 0x1,
            MessageKind::Binary => 0x2,
        };
        wire.push(0x80 | 0x40 | opcode);
        let masked = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => wire.push(masked | n as u8),
            n if n < 65536 => {
                wire.push(masked | 126);
                wire.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                wire.push(masked | 127);
                wire.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(_) => {
                let key = keys.mask_key();
                wire.extend_from_slice(&key);
                wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => wire.extend_from_slice(payload),
        }
    }
    wire
}
