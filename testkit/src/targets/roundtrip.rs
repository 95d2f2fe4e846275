//! Encode, then decode: messages, Pings and Pongs built from the input are
//! written by one `Connection` and read back by a connection of the other
//! role through arbitrary cuts; what it reports must be exactly what was
//! sent, and its answers (a Pong per Ping, the Close echo) read back by the
//! sender must match too. Both directions: a client encodes (masked, with
//! keys from a seed) for a server, and a server (unmasked) for a client.
//!
//! Messages are written whole (`send_text` / `send_binary`), in fragments
//! (`send_fragment`, text split on character boundaries), as headers with
//! the payload masked by the caller in two pieces (`send_header` +
//! `apply_mask`, text split anywhere), or mixed; Pings may come between
//! fragments. An optional Close ends the list.
//!
//! Input layout, read with a `Cursor` (zeros past the end):
//!
//! | bytes     | meaning                                                  |
//! |-----------|----------------------------------------------------------|
//! | 0-3       | mask key seed (little-endian)                            |
//! | 4         | cuts: low 4 bits the count; bit 7: two-byte lengths      |
//! | ...       | the cut lengths (one byte, or two little-endian bytes)   |
//! | then      | items, each a tag byte and its fields (see `parse`)      |

use crate::ws::{Keys, Receiver, WsEv, parse_frames, parse_header};
use crate::{Bytes, Cursor, debug, print_log};
use protoswitch::ws::{
    CloseCause, Config, Connection, MaskSource, MessageKind, OpCode, State, apply_mask,
    is_valid_close_code,
};
use protoswitch::{Error, Instant, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Whole,
    Fragments,
    Headers,
    Mixed,
}

#[derive(Debug, Clone)]
enum Item {
    Message {
        kind: MessageKind,
        payload: Vec<u8>,
        method: Method,
        /// Fragment sizes; the last fragment takes the rest.
        pieces: Vec<usize>,
        /// Bit i: a Ping after fragment i (not after the last).
        pings: u8,
        /// Bit i: fragment i by `send_header` (`Mixed`); also where the
        /// caller splits its masking.
        choice: u8,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Debug)]
struct Plan {
    seed: u32,
    cuts: Vec<usize>,
    items: Vec<Item>,
    close: Option<(Option<u16>, String)>,
}

/// `s` cut to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn parse(data: &[u8]) -> Plan {
    let mut cur = Cursor::new(data);
    let seed = cur.u32();
    let c = cur.u8();
    let cuts = (0..c & 15)
        .map(|_| {
            if c & 0x80 != 0 {
                usize::from(cur.u16() % 4096)
            } else {
                usize::from(cur.u8())
            }
        })
        .collect();
    let mut items = Vec::new();
    let mut close = None;
    while !cur.is_empty() && items.len() < 64 {
        let tag = cur.u8();
        match tag & 7 {
            0 => {
                let n = cur.u8() % 126;
                items.push(Item::Ping(cur.bytes(usize::from(n)).to_vec()));
            }
            1 => {
                let n = cur.u8() % 126;
                items.push(Item::Pong(cur.bytes(usize::from(n)).to_vec()));
            }
            7 if tag & 0x80 != 0 => {
                let code = match tag >> 3 & 7 {
                    0 => None,
                    1 => Some(1000),
                    2 => Some(1001),
                    3 => Some(1011),
                    4 => Some(3000),
                    5 => Some(4999),
                    // 1000-1015, or none for those never sent.
                    _ => Some(1000 + u16::from(cur.u8() & 15)).filter(|&c| is_valid_close_code(c)),
                };
                let reason = match code {
                    Some(_) => {
                        let n = cur.u8();
                        let text = String::from_utf8_lossy(cur.bytes(usize::from(n)));
                        truncate(&text, 123).to_owned()
                    }
                    None => String::new(),
                };
                close = Some((code, reason));
                break;
            }
            _ => {
                let kind = if tag & 8 != 0 {
                    MessageKind::Binary
                } else {
                    MessageKind::Text
                };
                let method = [
                    Method::Whole,
                    Method::Fragments,
                    Method::Headers,
                    Method::Mixed,
                ][usize::from(tag >> 4 & 3)];
                let len = if tag & 0x40 != 0 {
                    usize::from(cur.u16() % 4096)
                } else {
                    usize::from(cur.u8())
                };
                let bytes = cur.bytes(len);
                let payload = match kind {
                    MessageKind::Text => String::from_utf8_lossy(bytes).into_owned().into_bytes(),
                    MessageKind::Binary => bytes.to_vec(),
                };
                let p = cur.u8();
                let pieces = (0..p & 7).map(|_| usize::from(cur.u8())).collect();
                let pings = if p & 8 != 0 { cur.u8() } else { 0 };
                let choice = cur.u8();
                items.push(Item::Message {
                    kind,
                    payload,
                    method,
                    pieces,
                    pings,
                    choice,
                });
            }
        }
    }
    Plan {
        seed,
        cuts,
        items,
        close,
    }
}

fn opcode(kind: MessageKind) -> OpCode {
    match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    }
}

/// Writes the items with `conn` and checks every frame it writes.
struct Encoder<M> {
    conn: Connection<M>,
    /// The client's keys, drawn alongside: every frame gets the next one.
    keys: Option<Keys>,
    out: Vec<u8>,
    wire: Vec<u8>,
    /// What the peer must report.
    expected: Vec<WsEv>,
    /// What the peer must answer.
    answers: Vec<WsEv>,
}

impl<M: MaskSource> Encoder<M> {
    fn new(conn: Connection<M>, keys: Option<Keys>) -> Self {
        Encoder {
            conn,
            keys,
            // Lossy text grows up to three times the 4095 input bytes.
            out: vec![0; 3 * 4096 + 14],
            wire: Vec::new(),
            expected: Vec::new(),
            answers: Vec::new(),
        }
    }

    fn role(&self) -> Role {
        self.conn.role()
    }

    fn check_key(&mut self, mask: Option<[u8; 4]>) {
        match &mut self.keys {
            Some(keys) => assert_eq!(mask, Some(keys.next_key()), "not the next key"),
            None => assert_eq!(mask, None, "a server masked"),
        }
    }

    /// The frame a send call wrote: one frame with this opcode, FIN and
    /// payload.
    fn frame(&mut self, written: Result<usize, Error>, op: OpCode, fin: bool, payload: &[u8]) {
        let n = written.unwrap_or_else(|e| panic!("sending {op:?}: {e:?}"));
        let frames = parse_frames(&self.out[..n], self.role());
        assert_eq!(frames.len(), 1, "wrote {frames:?}");
        let f = &frames[0];
        assert_eq!((f.header.opcode, f.header.fin), (op, fin), "{:?}", f.header);
        assert!(f.payload == payload, "sent {:?}", Bytes(f.payload.clone()));
        self.check_key(f.header.mask);
        self.wire.extend_from_slice(&self.out[..n]);
    }

    fn ping(&mut self, p: &[u8]) {
        let r = self.conn.send_ping(p, Instant::ZERO, &mut self.out);
        self.frame(r, OpCode::Ping, true, p);
        self.expected.push(WsEv::Ping(Bytes(p.to_vec())));
        self.answers.push(WsEv::Pong(Bytes(p.to_vec())));
    }

    fn pong(&mut self, p: &[u8]) {
        let r = self.conn.send_pong(p, &mut self.out);
        self.frame(r, OpCode::Pong, true, p);
        self.expected.push(WsEv::Pong(Bytes(p.to_vec())));
    }

    fn message(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        method: Method,
        pieces: &[usize],
        pings: u8,
        choice: u8,
    ) {
        if method == Method::Whole {
            let r = match kind {
                MessageKind::Text => {
                    let text = core::str::from_utf8(payload).expect("text items are UTF-8");
                    self.conn.send_text(text, &mut self.out)
                }
                MessageKind::Binary => self.conn.send_binary(payload, &mut self.out),
            };
            self.frame(r, opcode(kind), true, payload);
            self.expected
                .push(WsEv::Message(kind, Bytes(payload.to_vec())));
            return;
        }
        let text = match kind {
            MessageKind::Text => Some(core::str::from_utf8(payload).expect("text items are UTF-8")),
            MessageKind::Binary => None,
        };
        let mut rest = payload;
        let count = pieces.len() + 1;
        for i in 0..count {
            let last = i + 1 == count;
            let mut by_header = match method {
                Method::Headers => true,
                Method::Mixed => choice >> (i % 8) & 1 != 0,
                _ => false,
            };
            let mut take = if last {
                rest.len()
            } else {
                pieces[i].min(rest.len())
            };
            if let (Some(text), false) = (text, by_header) {
                // `send_fragment` text is a `&str`: it starts and ends on
                // character boundaries. After a header split one, only a
                // header can continue.
                let at = payload.len() - rest.len();
                if text.is_char_boundary(at) {
                    while !text.is_char_boundary(at + take) {
                        take -= 1;
                    }
                } else {
                    by_header = true;
                }
            }
            let (piece, after) = rest.split_at(take);
            let op = if i == 0 {
                opcode(kind)
            } else {
                OpCode::Continuation
            };
            if by_header {
                let (n, mask) = self
                    .conn
                    .send_header(kind, piece.len() as u64, last, &mut self.out)
                    .unwrap_or_else(|e| panic!("send_header: {e:?}"));
                let (h, len) = parse_header(&self.out[..n], self.role());
                assert_eq!(len, n, "send_header wrote more than a header");
                assert_eq!(
                    (h.opcode, h.fin, h.payload_len),
                    (op, last, piece.len() as u64)
                );
                assert_eq!(h.mask, mask, "send_header returned another key");
                self.check_key(mask);
                self.wire.extend_from_slice(&self.out[..n]);
                let mut masked = piece.to_vec();
                if let Some(key) = mask {
                    // Masked in two pieces, resuming at the offset.
                    let at = usize::from(choice) % (masked.len() + 1);
                    let (a, b) = masked.split_at_mut(at);
                    apply_mask(a, key, 0);
                    apply_mask(b, key, at as u64);
                }
                self.wire.extend_from_slice(&masked);
            } else {
                let r = self.conn.send_fragment(kind, piece, last, &mut self.out);
                self.frame(r, op, last, piece);
            }
            rest = after;
            if !last && pings >> (i % 8) & 1 != 0 {
                self.ping(&[i as u8; 3][..i % 4]);
            }
        }
        self.expected
            .push(WsEv::Message(kind, Bytes(payload.to_vec())));
    }

    fn close(&mut self, code: Option<u16>, reason: &str) {
        let mut payload = code.map_or(Vec::new(), |c| c.to_be_bytes().to_vec());
        payload.extend_from_slice(reason.as_bytes());
        let r = self
            .conn
            .send_close(code, reason, Instant::ZERO, &mut self.out);
        self.frame(r, OpCode::Close, true, &payload);
        assert_eq!(self.conn.state(), State::CloseSent);
        self.expected.push(WsEv::Close(code, reason.to_owned()));
        self.answers.push(WsEv::Close(code, String::new()));
    }

    fn encode(&mut self, plan: &Plan) {
        for item in &plan.items {
            match item {
                Item::Ping(p) => self.ping(p),
                Item::Pong(p) => self.pong(p),
                Item::Message {
                    kind,
                    payload,
                    method,
                    pieces,
                    pings,
                    choice,
                } => self.message(*kind, payload, *method, pieces, *pings, *choice),
            }
        }
        let end = match &plan.close {
            Some((code, reason)) => {
                self.close(*code, reason);
                WsEv::End {
                    state: State::Closed,
                    cause: Some(CloseCause::Handshake { code: *code }),
                }
            }
            None => WsEv::End {
                state: State::Open,
                cause: Some(CloseCause::TransportEnded),
            },
        };
        self.expected.push(end.clone());
        self.answers.push(end);
    }
}

/// `wire` in reads of the lengths `cuts` gives, then the rest.
fn reads<'a>(wire: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut rest = wire;
    let mut out = Vec::new();
    for &c in cuts {
        let (read, after) = rest.split_at(c.min(rest.len()));
        out.push(read);
        rest = after;
    }
    out.push(rest);
    out
}

/// Reads `wire` with `rx` in the given reads.
fn decode<M: MaskSource>(mut rx: Receiver<M>, reads: &[&[u8]]) -> (Vec<WsEv>, Vec<u8>) {
    for r in reads {
        rx.feed(r);
    }
    rx.finish()
}

fn receiver(role: Role) -> ReceiverAny {
    match role {
        Role::Server => ReceiverAny::Server(Receiver::new(
            Connection::server(Config::default(), Instant::ZERO),
            Instant::ZERO,
        )),
        Role::Client => ReceiverAny::Client(Receiver::new(
            Connection::client(Config::default(), Instant::ZERO, Keys::new(7)),
            Instant::ZERO,
        )),
    }
}

enum ReceiverAny {
    Server(Receiver<protoswitch::ws::NoMask>),
    Client(Receiver<Keys>),
}

impl ReceiverAny {
    fn decode(self, reads: &[&[u8]]) -> (Vec<WsEv>, Vec<u8>) {
        match self {
            ReceiverAny::Server(rx) => decode(rx, reads),
            ReceiverAny::Client(rx) => decode(rx, reads),
        }
    }
}

/// Encodes with `enc`, decodes with the other role in the plan's cuts and
/// in one read, then feeds the answers back to the encoder.
fn roundtrip<M: MaskSource>(mut enc: Encoder<M>, plan: &Plan) {
    enc.encode(plan);
    let role = enc.role();
    let peer = match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let (events, answers) = receiver(peer).decode(&reads(&enc.wire, &plan.cuts));
    if debug() {
        eprintln!("{role:?} -> {peer:?}, {} bytes:", enc.wire.len());
        print_log(&events);
    }
    assert_eq!(
        events, enc.expected,
        "decoded by the {peer:?} in cuts {:?}",
        plan.cuts
    );
    let (whole, whole_answers) = receiver(peer).decode(&[&enc.wire]);
    assert_eq!(whole, enc.expected, "decoded by the {peer:?} in one read");
    assert_eq!(whole_answers, answers, "answers depend on the cuts");

    let rx = Receiver::new(enc.conn, Instant::ZERO);
    let (mut back, _) = decode(rx, &[&answers]);
    // The echo's reason is the peer's choice.
    for e in &mut back {
        if let WsEv::Close(_, reason) = e {
            reason.clear();
        }
    }
    assert_eq!(
        back, enc.answers,
        "the {peer:?}'s answers read by the {role:?}"
    );
}

/// Checks one input: the fuzz target, and the seed replay of `cargo test`.
pub fn check(data: &[u8]) {
    let plan = parse(data);
    let keys = Keys::new(plan.seed);
    let client = Connection::client(Config::default(), Instant::ZERO, keys);
    roundtrip(Encoder::new(client, Some(keys)), &plan);
    let server = Connection::server(Config::default(), Instant::ZERO);
    roundtrip(Encoder::new(server, None), &plan);
}
