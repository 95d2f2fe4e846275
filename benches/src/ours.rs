//! Every use of protoswitch's API in the `compare` program, and nothing
//! else: when the crate's API changes, this is the only file to adapt.
//!
//! Calls used (keep this list current, the report quotes it):
//! * `ws::Connection::client(Config::default(), Instant::ZERO, masks)`,
//!   `send_binary`, `send_text`, `send_fragment(MessageKind::Text, ..)`:
//!   the masked input frames (generation, not timed).
//! * `ws::Connection::server(Config::default(), Instant::ZERO)` and
//!   `receive(&mut buf[start..end], Instant::ZERO)` with
//!   `Received { consumed, event }` / `Event::Data(DataChunk { payload,
//!   message_end, .. })`: decoding; the same with
//!   `Config::new().whole_frames(true).max_frame_payload(frame)` and a
//!   buffer holding a frame ("protoswitch whole").
//! * `upgrade::ServerHandshake::new(Default::default())`, `receive(&buf)`
//!   → `ServerEvent::Request(req)`, `req.websocket()`,
//!   `req.switch(&Accept::new("websocket"))`, `accept(&switch, out)`: the
//!   server handshake.
//! * `upgrade::ClientRequest::new("GET", path, host, &["websocket"])
//!   .websocket_key(nonce)`, `ClientHandshake::start(&request,
//!   Default::default(), Instant::ZERO, out)`, `receive(response)` →
//!   `ClientEvent::Switched { .. }`: the client side.
//!
//! And in the `deflate` program (permessage-deflate, issue 10):
//! * `Connection::server(..)` / `Connection::client(..)` with
//!   `.with_deflate(&DeflateConfig::new().window_bits(15).memory_level(8),
//!   DeflateParams::new())` (context takeover both ways, 15-bit windows,
//!   the crate's own compressor at its largest hash table);
//! * `send_binary` / `send_text`: compressed frames (generation and the
//!   timed send);
//! * `receive_into(&mut buf[start..end], out, Instant::ZERO)`: the timed
//!   receive, inflating into `out`.

use protoswitch::upgrade::{
    Accept, ClientEvent, ClientHandshake, ClientRequest, Request, ServerEvent, ServerHandshake,
};
use protoswitch::upgrade::{DeflateConfig, DeflateParams};
use protoswitch::ws::{Config, Connection, Event, MaskSource, MessageKind, NoMask};
use protoswitch::{Instant, RecvBuffer};

use crate::{Totals, refill};

fn xorshift_masks(mut seed: u32) -> impl FnMut() -> [u8; 4] {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed.to_le_bytes()
    }
}

/// Masked client frames, one message of `payload` each (text when
/// `text`), until at least `target` bytes; random (xorshift) mask keys.
pub fn client_frames(payload: &[u8], text: bool, target: usize, seed: u32) -> (Vec<u8>, Totals) {
    let mut client = Connection::client(Config::default(), Instant::ZERO, xorshift_masks(seed));
    let mut out = vec![0u8; payload.len() + 14];
    let mut input = Vec::with_capacity(target + out.len());
    let mut totals = Totals::default();
    while input.len() < target {
        let n = if text {
            let s = std::str::from_utf8(payload).expect("text payload");
            client.send_text(s, &mut out).expect("send_text")
        } else {
            client.send_binary(payload, &mut out).expect("send_binary")
        };
        input.extend_from_slice(&out[..n]);
        totals.add(Totals {
            messages: 1,
            bytes: payload.len() as u64,
        });
    }
    (input, totals)
}

/// Masked client frames: text messages of `message`, each sent as
/// fragments cut at `cuts` (byte offsets, increasing), until at least
/// `target` bytes.
pub fn client_fragments(
    message: &str,
    cuts: &[usize],
    target: usize,
    seed: u32,
) -> (Vec<u8>, Totals) {
    let mut client = Connection::client(Config::default(), Instant::ZERO, xorshift_masks(seed));
    let mut out = vec![0u8; message.len() + 14];
    let mut input = Vec::with_capacity(target + message.len() + 64 * 14);
    let mut totals = Totals::default();
    let bytes = message.as_bytes();
    while input.len() < target {
        let mut from = 0;
        for (i, &to) in cuts.iter().chain([&bytes.len()]).enumerate() {
            let fin = i == cuts.len();
            let n = client
                .send_fragment(MessageKind::Text, &bytes[from..to], fin, &mut out)
                .expect("send_fragment");
            input.extend_from_slice(&out[..n]);
            from = to;
        }
        totals.add(Totals {
            messages: 1,
            bytes: bytes.len() as u64,
        });
    }
    (input, totals)
}

/// Decodes all of `input` as a server, fed `read_size` bytes at a time
/// into `buf` (from [`crate::receive_buffer`]) at `offset`; frames are
/// unmasked (and text validated) in place by protoswitch.
pub fn decode_all(input: &[u8], read_size: usize, offset: usize, buf: &mut [u8]) -> Totals {
    let mut conn = Connection::server(Config::default(), Instant::ZERO);
    let mut totals = Totals::default();
    let (mut start, mut end, mut pos) = (offset, offset, 0);
    loop {
        (start, end) = refill(buf, offset, start, end, input, &mut pos, read_size);
        loop {
            let got = conn
                .receive(&mut buf[start..end], Instant::ZERO)
                .expect("valid input");
            start += got.consumed;
            match got.event {
                Some(Event::Data(chunk)) => {
                    totals.bytes += chunk.payload.len() as u64;
                    totals.messages += u64::from(chunk.message_end);
                }
                Some(_) => {}
                None => break,
            }
        }
        if pos == input.len() {
            assert_eq!(start, end, "protoswitch left bytes unconsumed");
            return totals;
        }
    }
}

/// [`decode_all`] with `Config::whole_frames`: every frame (at most
/// `frame_max` payload bytes) is delivered whole. The reads (at most
/// `read_size` bytes, fewer when less room is left) go into a
/// `RecvBuffer` over `storage`, which holds a frame and a read; it moves
/// the unread bytes to the front when its end is full or they are few
/// (see `RecvBuffer::spare_mut`).
pub fn decode_all_whole(
    input: &[u8],
    read_size: usize,
    frame_max: usize,
    storage: &mut [u8],
) -> Totals {
    let config = Config::new()
        .whole_frames(true)
        .max_frame_payload(frame_max as u64);
    let mut conn = Connection::server(config, Instant::ZERO);
    let mut buf = RecvBuffer::new(storage);
    let mut totals = Totals::default();
    let mut pos = 0;
    loop {
        let spare = buf.spare_mut();
        let n = read_size.min(input.len() - pos).min(spare.len());
        spare[..n].copy_from_slice(&input[pos..pos + n]);
        buf.filled(n);
        pos += n;
        loop {
            let got = conn
                .receive(buf.data_mut(), Instant::ZERO)
                .expect("valid input");
            let consumed = got.consumed;
            let more = match got.event {
                Some(Event::Data(chunk)) => {
                    assert!(chunk.frame_end, "a frame in pieces");
                    totals.bytes += chunk.payload.len() as u64;
                    totals.messages += u64::from(chunk.message_end);
                    true
                }
                Some(_) => true,
                None => false,
            };
            buf.consume(consumed);
            if !more {
                break;
            }
        }
        if pos == input.len() {
            assert!(buf.is_empty(), "protoswitch left bytes unconsumed");
            return totals;
        }
        assert!(!buf.is_full(), "a frame larger than the buffer");
    }
}

/// The 101 for a WebSocket request: the choice checked against the
/// request, then written.
fn accept(server: &mut ServerHandshake, req: &Request<'_>, out: &mut [u8]) -> usize {
    let switch = req.switch(&Accept::new("websocket")).expect("switch");
    server.accept(&switch, out).expect("accept")
}

/// Feeds `buf[..len]` to the machine; `Some(101 length)` once the request
/// is complete, `None` when it needs more bytes.
fn server_step(server: &mut ServerHandshake, buf: &[u8], out: &mut [u8]) -> Option<usize> {
    let got = server.receive(buf).expect("valid request");
    match got.event {
        Some(ServerEvent::Request(req)) => {
            assert!(matches!(req.websocket(), Ok(Some(_))), "a WebSocket offer");
            Some(accept(server, &req, out))
        }
        Some(_) => panic!("unexpected server event"),
        None => {
            assert_eq!(got.consumed, 0, "the head is read whole");
            None
        }
    }
}

/// Server handshake on a request that arrives in one read: copy it into
/// `buf` (recv), parse + validate, write the 101 into `out`; returns its
/// length.
pub fn server_handshake(request: &[u8], buf: &mut [u8], out: &mut [u8]) -> usize {
    let mut server = ServerHandshake::new(Default::default());
    buf[..request.len()].copy_from_slice(request);
    server_step(&mut server, &buf[..request.len()], out).expect("complete request")
}

/// The same, the request arriving in two reads split at `split`.
pub fn server_handshake_split(
    request: &[u8],
    split: usize,
    buf: &mut [u8],
    out: &mut [u8],
) -> usize {
    let mut server = ServerHandshake::new(Default::default());
    buf[..split].copy_from_slice(&request[..split]);
    assert!(server_step(&mut server, &buf[..split], out).is_none());
    buf[split..request.len()].copy_from_slice(&request[split..]);
    server_step(&mut server, &buf[..request.len()], out).expect("complete request")
}

/// Client: write the upgrade request (key from `nonce`) into `out`, then
/// validate the server's 101 `response` (copied into `buf`, i.e. recv).
/// Returns the request length plus the bytes of the response consumed.
pub fn client_validate(
    host: &str,
    path: &str,
    nonce: [u8; 16],
    response: &[u8],
    buf: &mut [u8],
    out: &mut [u8],
) -> usize {
    let request = ClientRequest::new("GET", path, host, &["websocket"]).websocket_key(nonce);
    let (mut client, n) =
        ClientHandshake::start(&request, Default::default(), Instant::ZERO, out).expect("start");
    buf[..response.len()].copy_from_slice(response);
    let got = client.receive(&buf[..response.len()]).expect("valid 101");
    assert!(
        matches!(got.event, Some(ClientEvent::Switched { .. })),
        "switched"
    );
    n + got.consumed
}

// ---- permessage-deflate (the `deflate` program) ----------------------------

fn deflate_config() -> DeflateConfig {
    DeflateConfig::new().window_bits(15).memory_level(8)
}

/// A server connection with permessage-deflate agreed as a bare
/// `permessage-deflate` (context takeover, 15-bit windows).
pub fn deflate_server() -> Connection<NoMask> {
    Connection::server(Config::default(), Instant::ZERO)
        .with_deflate(&deflate_config(), DeflateParams::new())
}

/// The same for a client, with xorshift mask keys from `seed`.
pub fn deflate_client(seed: u32) -> Connection<impl MaskSource> {
    Connection::client(Config::default(), Instant::ZERO, xorshift_masks(seed))
        .with_deflate(&deflate_config(), DeflateParams::new())
}

/// Compressed frames, one per message, as `conn` sends them (binary, or
/// text when `text`): masked for a client, not for a server.
pub fn deflate_frames<M: MaskSource>(
    mut conn: Connection<M>,
    messages: &[Vec<u8>],
    text: bool,
) -> Vec<u8> {
    let longest = messages.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![0u8; 2 * longest + 256];
    let mut wire = Vec::new();
    for m in messages {
        let n = if text {
            let s = std::str::from_utf8(m).expect("text payload");
            conn.send_text(s, &mut out).expect("send_text")
        } else {
            conn.send_binary(m, &mut out).expect("send_binary")
        };
        wire.extend_from_slice(&out[..n]);
    }
    wire
}

/// Receives all of `input` with `conn` (permessage-deflate on), fed
/// `read_size` bytes at a time into `buf` (from
/// [`crate::receive_buffer`]), inflating into `out`; `sink` gets every
/// data chunk and whether it ends its message.
pub fn deflate_receive<M: MaskSource>(
    mut conn: Connection<M>,
    input: &[u8],
    read_size: usize,
    buf: &mut [u8],
    out: &mut [u8],
    mut sink: impl FnMut(&[u8], bool),
) {
    let (mut start, mut end, mut pos) = (0, 0, 0);
    loop {
        (start, end) = refill(buf, 0, start, end, input, &mut pos, read_size);
        loop {
            let got = conn
                .receive_into(&mut buf[start..end], out, Instant::ZERO)
                .expect("valid input");
            start += got.consumed;
            match got.event {
                Some(Event::Data(chunk)) => sink(chunk.payload, chunk.message_end),
                Some(_) => {}
                None => break,
            }
        }
        if pos == input.len() {
            assert_eq!(start, end, "protoswitch left bytes unconsumed");
            return;
        }
    }
}

/// Sends every message with `conn` (`send_binary`, compressed) into
/// `out`, which holds the largest frame; `sink` gets each frame.
pub fn deflate_send<M: MaskSource>(
    mut conn: Connection<M>,
    messages: &[Vec<u8>],
    out: &mut [u8],
    mut sink: impl FnMut(&[u8]),
) {
    for m in messages {
        let n = conn.send_binary(m, out).expect("send_binary");
        sink(&out[..n]);
    }
}
