//! The `deflate` program (issue 10): its inputs (JSON-like messages) and
//! its reference, `miniz_oxide` driven directly, the way the crate drives
//! it but without a WebSocket around it. protoswitch's side is in
//! [`crate::ours`].

use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress,
};
use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// The bytes a sync flush ends with (RFC 7692 §7.2.1 removes them from a
/// message, §7.2.2 appends them again before inflating).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What protoswitch's send path gives the compressor as output room for
/// `len` input bytes (`bound` in `src/ws/deflate.rs`); the reference gets
/// the same, so both drive the library the same way.
pub fn bound(len: usize) -> usize {
    len.saturating_add(len / 1024).saturating_add(64)
}

/// xorshift64*: the generator of the messages' values.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

const SYMBOLS: [&str; 12] = [
    "BTC-USD",
    "ETH-USD",
    "SOL-USD",
    "ADA-EUR",
    "DOT-EUR",
    "XRP-USD",
    "LTC-BTC",
    "AVAX-USD",
    "LINK-USD",
    "ATOM-EUR",
    "MATIC-USD",
    "ETH-BTC",
];
const STATUSES: [&str; 5] = ["open", "partially_filled", "filled", "cancelled", "expired"];
const KINDS: [&str; 3] = ["limit", "market", "stop_limit"];
const VENUES: [&str; 4] = ["api", "web", "ios", "android"];
const NAMES: [&str; 8] = [
    "amelie", "bruno", "chen", "dara", "emeka", "farida", "goran", "hiroko",
];

/// One order object (about 230 bytes) with random ids, prices, sizes and
/// times: the kind of record trading, chat and telemetry feeds send.
fn order(rng: &mut Rng, seq: u64, s: &mut String) {
    use std::fmt::Write;
    let price = rng.below(5_000_000);
    let qty = rng.below(100_000);
    let filled = qty * rng.below(3) / 2;
    let ms = rng.below(86_400_000);
    let _ = write!(
        s,
        r#"{{"id":"ord-{:08x}","seq":{seq},"symbol":"{}","side":"{}","type":"{}","price":"{}.{:02}","qty":"{}.{:04}","filled":"{}.{:04}","status":"{}","user":{{"id":{},"name":"{}_{}"}},"ts":"2026-11-30T{:02}:{:02}:{:02}.{:03}Z","via":"{}"}}"#,
        rng.next_u64() as u32,
        rng.pick(&SYMBOLS),
        if rng.below(2) == 0 { "buy" } else { "sell" },
        rng.pick(&KINDS),
        price / 100,
        price % 100,
        qty / 10_000,
        qty % 10_000,
        filled / 10_000,
        filled % 10_000,
        rng.pick(&STATUSES),
        100_000 + rng.below(900_000),
        rng.pick(&NAMES),
        rng.below(1000),
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000,
        rng.pick(&VENUES),
    );
}

/// `count` distinct JSON messages of about `size` bytes (at most `size`
/// when `size` is large): an event envelope around one order for small
/// sizes, a snapshot with as many orders as fit for large ones.
/// Deterministic for a given `seed`.
pub fn json_messages(count: usize, size: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut seq = 0;
    (0..count)
        .map(|i| {
            let mut s = String::with_capacity(size + 512);
            if size < 1024 {
                s.push_str(r#"{"type":"order.update","channel":"orders","data":"#);
                seq += 1;
                order(&mut rng, seq, &mut s);
                s.push('}');
            } else {
                s.push_str(&format!(
                    r#"{{"type":"orders.snapshot","page":{i},"items":["#
                ));
                let mut item = String::with_capacity(512);
                loop {
                    item.clear();
                    seq += 1;
                    order(&mut rng, seq, &mut item);
                    if s.len() + item.len() + 3 > size {
                        break;
                    }
                    if !s.ends_with('[') {
                        s.push(',');
                    }
                    s.push_str(&item);
                }
                s.push_str("]}");
            }
            s.into_bytes()
        })
        .collect()
}

/// A raw DEFLATE stream as a receiver inflates it: every message's
/// compressed payload followed by [`TAIL`], contiguous.
pub struct RawStream {
    pub data: Vec<u8>,
    /// End of each message's payload (where its tail starts) in `data`.
    pub payload_ends: Vec<usize>,
}

impl RawStream {
    /// The payloads of `wire`'s frames (one compressed message each,
    /// RSV1 set; unmasked here when masked), each followed by [`TAIL`].
    pub fn from_frames(wire: &[u8]) -> RawStream {
        let mut data = Vec::with_capacity(wire.len() + wire.len() / 8);
        let mut payload_ends = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let (payload, next) = frame(wire, at);
            data.extend_from_slice(&payload);
            payload_ends.push(data.len());
            data.extend_from_slice(&TAIL);
            at = next;
        }
        RawStream { data, payload_ends }
    }
}

/// The frame at `wire[at..]`, a whole compressed message: its payload
/// (unmasked) and where the next frame starts.
pub fn frame(wire: &[u8], at: usize) -> (Vec<u8>, usize) {
    let w = &wire[at..];
    assert_eq!(
        w[0] & 0xc0,
        0xc0,
        "FIN and RSV1: one compressed message per frame"
    );
    let (len, mut h) = match w[1] & 0x7f {
        126 => (usize::from(u16::from_be_bytes([w[2], w[3]])), 4),
        127 => (
            u64::from_be_bytes(w[2..10].try_into().unwrap()) as usize,
            10,
        ),
        n => (usize::from(n), 2),
    };
    let key = (w[1] & 0x80 != 0).then(|| {
        h += 4;
        [w[h - 4], w[h - 3], w[h - 2], w[h - 1]]
    });
    let mut payload = w[h..h + len].to_vec();
    if let Some(key) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    (payload, at + h + len)
}

/// Inflates `stream` message by message with one `InflateState` (context
/// takeover), into `out` (the same size as protoswitch's output buffer),
/// `MZFlush::None` as the crate uses. Each message's payload and tail
/// are one input slice ([`Feed::Whole`]), or as the crate feeds them.
/// `sink` gets every chunk and `true` at each message's end.
pub fn raw_inflate(
    stream: &RawStream,
    out: &mut [u8],
    feed: Feed,
    mut sink: impl FnMut(&[u8], bool),
) {
    let mut state = InflateState::new_boxed(DataFormat::Raw);
    let mut start = 0;
    for &payload_end in &stream.payload_ends {
        let end = payload_end + TAIL.len();
        match feed {
            Feed::Whole => inflate_all(&mut state, &stream.data[start..end], out, &mut sink),
            Feed::Crate => {
                inflate_all(&mut state, &stream.data[start..payload_end], out, &mut sink);
                inflate_all(&mut state, &stream.data[payload_end..end], out, &mut sink);
                // The crate's tail loop calls once more, with nothing.
                inflate_all(&mut state, &[], out, &mut sink);
            }
        }
        sink(&[], true);
        start = end;
    }
}

/// How [`raw_inflate`] feeds a message to the library.
#[derive(Clone, Copy, Debug)]
pub enum Feed {
    /// Payload and tail in one call.
    Whole,
    /// As protoswitch does: the payload, then the tail, then a call with
    /// empty input (its tail loop stops only when a call makes no
    /// progress).
    Crate,
}

/// Inflates all of `input` into `out`, as often as `out` fills.
#[inline]
fn inflate_all(
    state: &mut InflateState,
    mut input: &[u8],
    out: &mut [u8],
    sink: &mut impl FnMut(&[u8], bool),
) {
    loop {
        let r = inflate(state, input, out, MZFlush::None);
        match r.status {
            Ok(MZStatus::Ok) | Err(MZError::Buf) => {}
            other => panic!("raw inflate: {other:?}"),
        }
        input = &input[r.bytes_consumed..];
        if r.bytes_written > 0 {
            sink(&out[..r.bytes_written], false);
        }
        if input.is_empty() && r.bytes_written < out.len() {
            return;
        }
        assert!(r.bytes_consumed + r.bytes_written > 0, "raw inflate stuck");
    }
}

/// Compresses every message with one compressor (context takeover) at
/// `level`, window 15, sync flush per message, into `out[..out_len(len)]`;
/// `sink` gets each message's output (with the tail, which protoswitch
/// removes).
pub fn raw_compress(
    messages: &[Vec<u8>],
    level: u8,
    out: &mut [u8],
    out_len: impl Fn(usize) -> usize,
    mut sink: impl FnMut(&[u8]),
) {
    let mut c = Box::new(CompressorOxide::with_params(
        DataFormat::Raw,
        level,
        CompressionStrategy::Default,
        15,
    ));
    for m in messages {
        let room = out_len(m.len());
        let (status, used, n) = compress(&mut c, m, &mut out[..room], TDEFLFlush::Sync);
        assert!(status == TDEFLStatus::Okay && used == m.len(), "{status:?}");
        sink(&out[..n]);
    }
}

/// WebSocket frames carrying `messages` compressed by `miniz_oxide` at
/// `level` (context takeover, 15-bit window, sync flush per message, the
/// tail removed: what a zlib-based peer such as a browser sends, dynamic
/// Huffman codes included from level 2 on), one frame per message with
/// RSV1 set, binary or `text`; masked with xorshift keys from `seed`, or
/// unmasked (server frames) when `seed` is `None`.
pub fn foreign_frames(messages: &[Vec<u8>], level: u8, text: bool, seed: Option<u32>) -> Vec<u8> {
    let longest = messages.iter().map(Vec::len).max().unwrap_or(0);
    let room = bound(longest).max(MINIZ_OUT_BUF);
    let mut out = vec![0u8; room];
    let mut payloads = Vec::new();
    raw_compress(
        messages,
        level,
        &mut out,
        |_| room,
        |c| {
            assert!(c.ends_with(&TAIL), "a sync flush ends with the tail");
            payloads.push(c[..c.len() - TAIL.len()].to_vec());
        },
    );
    let mut state = seed.map(|s| s | 1);
    let mut wire = Vec::new();
    for p in payloads {
        wire.push(if text { 0xc1 } else { 0xc2 });
        let masked = if state.is_some() { 0x80 } else { 0 };
        match p.len() {
            n if n < 126 => wire.push(masked | n as u8),
            n if n <= 0xffff => {
                wire.push(masked | 126);
                wire.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                wire.push(masked | 127);
                wire.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match state.as_mut() {
            Some(x) => {
                *x ^= *x << 13;
                *x ^= *x >> 17;
                *x ^= *x << 5;
                let key = x.to_le_bytes();
                wire.extend_from_slice(&key);
                wire.extend(p.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
            }
            None => wire.extend_from_slice(&p),
        }
    }
    wire
}

/// The raw compressor writes straight into the caller's buffer when it
/// has at least this much room (miniz_oxide's `OUT_BUF_SIZE`), else into
/// its own buffer, then copies.
pub const MINIZ_OUT_BUF: usize = 85_196;

/// FNV-1a over `bytes`, continuing from `h` (start with
/// [`FNV_START`]): the payload check of the verification run.
pub fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}

pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;
