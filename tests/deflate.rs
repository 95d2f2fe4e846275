//! permessage-deflate (RFC 7692): the §7.2.3 examples byte for byte, the
//! negotiation table in both roles, the receive rules (RSV1, bad data,
//! UTF-8 after inflating, bombs), and the sending rules (context
//! takeover, uncompressed messages between compressed ones, refused
//! calls that leave the window untouched).
#![cfg(feature = "deflate")]

use protoswitch::upgrade::{
    Accept, ClientEvent, ClientHandshake, ClientRequest, DeflateConfig, DeflateParams, ServerEvent,
    ServerHandshake,
};
use protoswitch::ws::{Config, Connection, Event, MaskSource, MessageKind, NoMask};
use protoswitch::{Error, Instant, LocalError, PeerErrorKind};

/// Fixed mask keys, so client frames are reproducible.
#[derive(Clone, Copy)]
struct Keys(u32);

impl MaskSource for Keys {
    fn mask_key(&mut self) -> [u8; 4] {
        self.0 = self.0.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
        self.0.to_le_bytes()
    }
}

fn server(params: DeflateParams) -> Connection<NoMask> {
    Connection::server(Config::default(), Instant::ZERO).with_deflate(&DeflateConfig::new(), params)
}

fn client(params: DeflateParams) -> Connection<Keys> {
    Connection::client(Config::default(), Instant::ZERO, Keys(7))
        .with_deflate(&DeflateConfig::new(), params)
}

/// What a receive loop saw: whole messages, control frames, the error.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Error(PeerErrorKind),
}

/// Feeds `input` in reads of `read` bytes, inflating into a buffer of
/// `out_len` bytes; returns the messages and the bytes the connection
/// wrote (`poll_transmit`).
fn receive_all<M: MaskSource>(
    conn: &mut Connection<M>,
    input: &[u8],
    read: usize,
    out_len: usize,
) -> (Vec<Got>, Vec<u8>) {
    let mut log = Vec::new();
    let mut wire = Vec::new();
    let mut buf = Vec::new();
    let mut out = vec![0u8; out_len];
    let mut message: Option<(MessageKind, Vec<u8>)> = None;
    let mut reads = input.chunks(read.max(1));
    let drain = |conn: &mut Connection<M>, wire: &mut Vec<u8>| {
        let mut frame = [0u8; 139];
        loop {
            let n = conn.poll_transmit(&mut frame);
            if n == 0 {
                break;
            }
            wire.extend_from_slice(&frame[..n]);
        }
    };
    loop {
        let got = match conn.receive_into(&mut buf, &mut out, Instant::ZERO) {
            Ok(got) => got,
            Err(Error::Peer(e)) => {
                log.push(Got::Error(e.kind()));
                drain(conn, &mut wire);
                return (log, wire);
            }
            Err(e) => panic!("{e:?}"),
        };
        let consumed = got.consumed;
        let more = got.event.is_some();
        match got.event {
            Some(Event::Data(chunk)) => {
                let m = message.get_or_insert((chunk.kind, Vec::new()));
                assert_eq!(m.0, chunk.kind);
                m.1.extend_from_slice(chunk.payload);
                if chunk.message_end {
                    let (kind, data) = message.take().unwrap();
                    log.push(Got::Message(kind, data));
                }
            }
            Some(Event::Ping(p)) => log.push(Got::Ping(p.to_vec())),
            Some(_) | None => {}
        }
        buf.drain(..consumed);
        drain(conn, &mut wire);
        if !more {
            match reads.next() {
                Some(r) => buf.extend_from_slice(r),
                None => return (log, wire),
            }
        }
    }
}

/// The code of the Close frame at the start of `wire` (masked or not).
fn close_code(wire: &[u8]) -> u16 {
    assert_eq!(wire[0], 0x88, "a Close: {wire:02x?}");
    let (key, at) = if wire[1] & 0x80 != 0 {
        ([wire[2], wire[3], wire[4], wire[5]], 6)
    } else {
        ([0; 4], 2)
    };
    u16::from_be_bytes([wire[at] ^ key[0], wire[at + 1] ^ key[1]])
}

fn text(s: &str) -> Got {
    Got::Message(MessageKind::Text, s.as_bytes().to_vec())
}

/// Masks a server-bound frame: the RFC's examples are a server's frames;
/// a client's carry a mask key.
fn masked(frame: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![frame[0], frame[1] | 0x80];
    let header = if frame[1] & 0x7f == 126 { 4 } else { 2 };
    out.extend_from_slice(&frame[2..header]);
    out.extend_from_slice(&key);
    out.extend(
        frame[header..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4]),
    );
    out
}

// ---- RFC 7692 §7.2.3 ----------------------------------------------------

/// §7.2.3.1: "Hello" compressed, in one frame and in two fragments.
const HELLO: &[u8] = b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00";
const HELLO_FRAGMENT_1: &[u8] = b"\x41\x03\xf2\x48\xcd";
const HELLO_FRAGMENT_2: &[u8] = b"\x80\x04\xc9\xc9\x07\x00";
/// §7.2.3.2: the second "Hello" with the window shared.
const HELLO_AGAIN: &[u8] = b"\xc1\x05\xf2\x00\x11\x00\x00";
/// §7.2.3.3: a block with no compression.
const HELLO_STORED: &[u8] = b"\xc1\x0b\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00";
/// §7.2.3.4: a block with BFINAL set.
const HELLO_BFINAL: &[u8] = b"\xc1\x08\xf3\x48\xcd\xc9\xc9\x07\x00\x00";
/// §7.2.3.5: two blocks in one message.
const HELLO_TWO_BLOCKS: &[u8] = b"\xc1\x0d\xf2\x48\x05\x00\x00\x00\xff\xff\xca\xc9\xc9\x07\x00";

#[test]
fn rfc7692_examples_are_received_at_any_split_and_output_size() {
    let cases: [(&[&[u8]], Vec<Got>); 5] = [
        (&[HELLO, HELLO_AGAIN], vec![text("Hello"), text("Hello")]),
        (&[HELLO_FRAGMENT_1, HELLO_FRAGMENT_2], vec![text("Hello")]),
        (&[HELLO_STORED], vec![text("Hello")]),
        (&[HELLO_BFINAL, HELLO], vec![text("Hello"), text("Hello")]),
        (&[HELLO_TWO_BLOCKS], vec![text("Hello")]),
    ];
    for (frames, want) in cases {
        // As a client receives them (server frames are not masked)...
        let wire: Vec<u8> = frames.concat();
        // ...and as a server does (the same frames masked).
        let masked_wire: Vec<u8> = frames
            .iter()
            .flat_map(|f| masked(f, [0x37, 0xfa, 0x21, 0x3d]))
            .collect();
        for read in 1..=wire.len() {
            for out_len in [1, 2, 3, 5, 64] {
                let (got, _) = receive_all(&mut client(DeflateParams::new()), &wire, read, out_len);
                assert_eq!(got, want, "{frames:02x?} read {read} out {out_len}");
                let (got, _) = receive_all(
                    &mut server(DeflateParams::new()),
                    &masked_wire,
                    read,
                    out_len,
                );
                assert_eq!(got, want, "masked {frames:02x?} read {read} out {out_len}");
            }
        }
    }
}

#[test]
fn rfc7692_hello_is_sent_byte_for_byte() {
    let mut s = server(DeflateParams::new());
    let mut out = [0u8; 128];
    let n = s.send_text("Hello", &mut out).unwrap();
    assert_eq!(&out[..n], HELLO);
    // The window is shared: the second "Hello" is a back-reference.
    let n = s.send_text("Hello", &mut out).unwrap();
    assert!(n < HELLO.len(), "{:02x?}", &out[..n]);
    let (got, _) = receive_all(
        &mut client(DeflateParams::new()),
        &[HELLO, &out[..n]].concat(),
        100,
        64,
    );
    assert_eq!(got, [text("Hello"), text("Hello")]);

    // Without context takeover, every message is compressed alone.
    let params = DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::new()
    };
    let mut s = server(params);
    for _ in 0..3 {
        let n = s.send_text("Hello", &mut out).unwrap();
        assert_eq!(&out[..n], HELLO);
    }
}

// ---- negotiation ------------------------------------------------------------

/// The server's answer to a client's `Sec-WebSocket-Extensions` value.
fn server_answer(config: &DeflateConfig, offers: &str) -> Option<(String, DeflateParams)> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Extensions: {offers}\r\n\r\n"
    );
    let mut s = ServerHandshake::new(Default::default());
    let got = s.receive(request.as_bytes()).unwrap();
    let Some(ServerEvent::Request(req)) = got.event else {
        panic!("{:?}", got.event)
    };
    let offer = req.websocket().unwrap().unwrap();
    let agreed = config.accept(&offer)?;
    // The machine accepts its own answer, and the switch's outcome states
    // the same parameters.
    let switch = req
        .switch(&Accept::new("websocket").extensions(agreed.response()))
        .unwrap();
    let stated = switch.negotiation().deflate().unwrap();
    assert_eq!(
        (
            stated.server_no_context_takeover,
            stated.client_no_context_takeover,
            stated.server_max_window_bits
        ),
        (
            agreed.params.server_no_context_takeover,
            agreed.params.client_no_context_takeover,
            agreed.params.server_max_window_bits
        )
    );
    Some((agreed.response().to_owned(), agreed.params))
}

fn params(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: sbits,
        client_max_window_bits: cbits,
    }
}

#[test]
fn server_negotiation_table() {
    let d = DeflateConfig::new();
    type Row<'a> = (&'a DeflateConfig, &'a str, Option<(&'a str, DeflateParams)>);
    let table: &[Row] = &[
        (
            &d,
            "permessage-deflate",
            Some(("permessage-deflate", params(false, false, 15, 15))),
        ),
        // Chromium's offer.
        (
            &d,
            "permessage-deflate; client_max_window_bits",
            Some(("permessage-deflate", params(false, false, 15, 15))),
        ),
        (
            &d,
            "permessage-deflate; server_no_context_takeover",
            Some((
                "permessage-deflate; server_no_context_takeover",
                params(true, false, 15, 15),
            )),
        ),
        (
            &d,
            "permessage-deflate; client_no_context_takeover",
            Some((
                "permessage-deflate; client_no_context_takeover",
                params(false, true, 15, 15),
            )),
        ),
        // A requested window is granted and named; 8 included.
        (
            &d,
            "permessage-deflate; server_max_window_bits=8",
            Some((
                "permessage-deflate; server_max_window_bits=8",
                params(false, false, 8, 15),
            )),
        ),
        (
            &d,
            "permessage-deflate; server_max_window_bits=\"10\"",
            Some((
                "permessage-deflate; server_max_window_bits=10",
                params(false, false, 10, 15),
            )),
        ),
        // The client's promised window.
        (
            &d,
            "permessage-deflate; client_max_window_bits=9",
            Some(("permessage-deflate", params(false, false, 15, 9))),
        ),
        // Invalid offers are declined, the next one is taken.
        (
            &d,
            "permessage-deflate; server_max_window_bits, permessage-deflate",
            Some(("permessage-deflate", params(false, false, 15, 15))),
        ),
        (
            &d,
            "permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=16, \
             permessage-deflate; server_max_window_bits=08, permessage-deflate; client_max_window_bits=16, \
             permessage-deflate; foo, permessage-deflate; server_no_context_takeover=1, \
             permessage-deflate; client_no_context_takeover; client_no_context_takeover, \
             permessage-deflate; server_max_window_bits=12",
            Some((
                "permessage-deflate; server_max_window_bits=12",
                params(false, false, 12, 15),
            )),
        ),
        (&d, "permessage-deflate; x=1", None),
        (&d, "x-webkit-deflate-frame", None),
        // Our configuration: what we ask of clients, and our own window.
        (
            &DeflateConfig::new()
                .client_no_context_takeover(true)
                .client_max_window_bits(10)
                .server_max_window_bits(11),
            "permessage-deflate; client_max_window_bits",
            Some((
                "permessage-deflate; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10",
                params(false, true, 11, 10),
            )),
        ),
        (
            // A client that did not offer client_max_window_bits gets none.
            &DeflateConfig::new().client_max_window_bits(10),
            "permessage-deflate",
            Some(("permessage-deflate", params(false, false, 15, 15))),
        ),
        (
            // Never more than asked: min(12, 9).
            &DeflateConfig::new()
                .server_max_window_bits(12)
                .server_no_context_takeover(true),
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12",
            Some((
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=9",
                params(true, false, 9, 12),
            )),
        ),
    ];
    for (config, offers, want) in table {
        let got = server_answer(config, offers);
        let want = want.map(|(r, p)| (r.to_owned(), p));
        assert_eq!(got, want, "{offers}");
    }
}

/// The client side: our offers, a 101 with `response`; `Ok` with what
/// `agreed` gives, or the handshake's error.
fn client_answer(
    config: &DeflateConfig,
    offers: &[&str],
    response: Option<&str>,
) -> Result<Option<DeflateParams>, PeerErrorKind> {
    let request = ClientRequest::new("GET", "/", "h", &["websocket"])
        .websocket_key(*b"the sample nonce")
        .extensions(offers);
    let mut out = [0u8; 1024];
    let (mut c, _) =
        ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut out).unwrap();
    let ext = response.map_or(String::new(), |r| {
        format!("Sec-WebSocket-Extensions: {r}\r\n")
    });
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n{ext}\r\n"
    );
    match c.receive(head.as_bytes()) {
        Ok(got) => match got.event {
            Some(ClientEvent::Switched { negotiation, .. }) => Ok(config.agreed(&negotiation)),
            other => panic!("{other:?}"),
        },
        Err(e) => Err(e.peer().unwrap().kind()),
    }
}

#[test]
fn client_checks_the_response_against_its_offers() {
    let d = DeflateConfig::new();
    let offer = d.offer();
    let ours = [offer.as_str()];
    assert_eq!(ours[0], "permessage-deflate; client_max_window_bits");
    let bad = Err(PeerErrorKind::DeflateResponseInvalid);
    type Row<'a> = (
        &'a [&'a str],
        Option<&'a str>,
        Result<Option<DeflateParams>, PeerErrorKind>,
    );
    let table: &[Row] = &[
        (&ours, None, Ok(None)),
        (
            &ours,
            Some("permessage-deflate"),
            Ok(Some(params(false, false, 15, 15))),
        ),
        (
            &ours,
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            Ok(Some(params(true, true, 15, 15))),
        ),
        // The server may name its window unasked, and ours since we
        // offered the parameter.
        (
            &ours,
            Some("permessage-deflate; server_max_window_bits=10; client_max_window_bits=8"),
            Ok(Some(params(false, false, 10, 8))),
        ),
        // A value is required in a response.
        (
            &ours,
            Some("permessage-deflate; client_max_window_bits"),
            bad,
        ),
        (
            &ours,
            Some("permessage-deflate; server_max_window_bits"),
            bad,
        ),
        (
            &ours,
            Some("permessage-deflate; server_max_window_bits=16"),
            bad,
        ),
        (&ours, Some("permessage-deflate; unknown"), bad),
        (
            &ours,
            Some("permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
            bad,
        ),
        // client_max_window_bits only when offered.
        (
            &["permessage-deflate"],
            Some("permessage-deflate; client_max_window_bits=10"),
            bad,
        ),
        // A requested window must be granted, never larger.
        (
            &["permessage-deflate; server_max_window_bits=10"],
            Some("permessage-deflate"),
            bad,
        ),
        (
            &["permessage-deflate; server_max_window_bits=10"],
            Some("permessage-deflate; server_max_window_bits=11"),
            bad,
        ),
        (
            &["permessage-deflate; server_max_window_bits=10"],
            Some("permessage-deflate; server_max_window_bits=9"),
            Ok(Some(params(false, false, 9, 15))),
        ),
        // server_no_context_takeover asked must be granted.
        (
            &["permessage-deflate; server_no_context_takeover"],
            Some("permessage-deflate"),
            bad,
        ),
        // Several offers: the response may answer any of them.
        (
            &[
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate",
            ],
            Some("permessage-deflate"),
            Ok(Some(params(false, false, 15, 15))),
        ),
        // Named twice, or not offered at all.
        (
            &ours,
            Some("permessage-deflate, permessage-deflate"),
            Err(PeerErrorKind::ExtensionRepeated),
        ),
        (
            &[],
            Some("permessage-deflate"),
            Err(PeerErrorKind::ExtensionNotOffered),
        ),
    ];
    for (offers, response, want) in table {
        assert_eq!(
            &client_answer(&d, offers, *response),
            want,
            "{offers:?} → {response:?}"
        );
    }
    // A value we offered binds us even when the response names none.
    let small = DeflateConfig::new().client_max_window_bits(9);
    let offer = small.offer();
    assert_eq!(
        offer.as_str(),
        "permessage-deflate; client_max_window_bits=9"
    );
    assert_eq!(
        client_answer(&small, &[offer.as_str()], Some("permessage-deflate")),
        Ok(Some(params(false, false, 15, 9)))
    );
}

// ---- receiving -------------------------------------------------------------

#[test]
fn rsv1_only_on_a_first_data_frame_and_only_when_negotiated() {
    let cases: [(&[u8], PeerErrorKind); 4] = [
        // Ping and Close with RSV1.
        (b"\xc9\x00", PeerErrorKind::CompressedBitMisplaced),
        (b"\xc8\x00", PeerErrorKind::CompressedBitMisplaced),
        // A continuation with RSV1.
        (
            b"\x41\x03\xf2\x48\xcd\xc0\x04\xc9\xc9\x07\x00",
            PeerErrorKind::CompressedBitMisplaced,
        ),
        // RSV2.
        (b"\xa1\x00", PeerErrorKind::ReservedBitsSet),
    ];
    for (frames, want) in cases {
        let (got, wire) = receive_all(&mut client(DeflateParams::new()), frames, 64, 64);
        assert_eq!(got.last(), Some(&Got::Error(want)), "{frames:02x?}");
        assert_eq!(close_code(&wire), 1002, "{frames:02x?}");
    }
    // Without permessage-deflate, RSV1 is a reserved bit.
    let mut plain = Connection::client(Config::default(), Instant::ZERO, Keys(1));
    let mut buf = HELLO.to_vec();
    let e = plain.receive(&mut buf, Instant::ZERO).unwrap_err();
    assert_eq!(e.peer().unwrap().kind(), PeerErrorKind::ReservedBitsSet);
}

#[test]
fn bad_deflate_data_and_bad_inflated_text_fail_with_1007() {
    // A block type of 3 is invalid DEFLATE.
    let (got, wire) = receive_all(&mut client(DeflateParams::new()), b"\xc2\x01\xff", 64, 64);
    assert_eq!(got, [Got::Error(PeerErrorKind::InflateFailed)]);
    assert_eq!(close_code(&wire), 1007);
    // Invalid UTF-8 that only shows after inflating (a stored block of
    // 0xff, then the empty stored block's first byte, RFC 7692 §7.2.1),
    // in a text message.
    let (got, wire) = receive_all(
        &mut client(DeflateParams::new()),
        b"\xc1\x07\x00\x01\x00\xfe\xff\xff\x00",
        64,
        64,
    );
    assert_eq!(got, [Got::Error(PeerErrorKind::InvalidUtf8)]);
    assert_eq!(close_code(&wire), 1007);
    // The same bytes as binary are fine.
    let (got, _) = receive_all(
        &mut client(DeflateParams::new()),
        b"\xc2\x07\x00\x01\x00\xfe\xff\xff\x00",
        64,
        64,
    );
    assert_eq!(got, [Got::Message(MessageKind::Binary, vec![0xff])]);
    // Without that last byte the message ends inside a block (the tail is
    // read as the next block's start): 1007, not a message.
    let (got, wire) = receive_all(
        &mut client(DeflateParams::new()),
        b"\xc2\x06\x00\x01\x00\xfe\xff\xff",
        64,
        64,
    );
    assert_eq!(got.last(), Some(&Got::Error(PeerErrorKind::InflateFailed)));
    assert_eq!(close_code(&wire), 1007);
    // After a final block the next block follows the padding, with the
    // window kept (RFC 7692 §7.2.1): "Hel" with BFINAL, then "lo" in the
    // same message; then "Hello" again as a back-reference (§7.2.3.2),
    // which needs the window.
    for read in [1, 3, 64] {
        for out_len in [1, 4, 64] {
            let (got, _) = receive_all(
                &mut client(DeflateParams::new()),
                &[b"\xc1\x09\xf3\x48\xcd\x01\x00\xca\xc9\x07\x00", HELLO_AGAIN].concat(),
                read,
                out_len,
            );
            assert_eq!(
                got,
                [text("Hello"), text("Hello")],
                "read {read} out {out_len}"
            );
        }
    }
    // An empty compressed payload is an empty message, and leaves the
    // inflater as it was (no half-read block from the tail alone).
    let (got, _) = receive_all(
        &mut client(DeflateParams::new()),
        &[b"\xc1\x00", HELLO, b"\xc1\x01\x00", HELLO_AGAIN].concat(),
        64,
        64,
    );
    assert_eq!(got, [text(""), text("Hello"), text(""), text("Hello")]);
}

#[test]
fn receive_without_an_output_buffer_is_a_local_error() {
    let mut c = client(DeflateParams::new());
    let mut buf = HELLO.to_vec();
    assert_eq!(
        c.receive(&mut buf, Instant::ZERO),
        Err(Error::Local(LocalError::InflateNeedsOutput))
    );
    assert_eq!(buf, HELLO, "nothing consumed or unmasked");
    assert_eq!(
        c.receive_into(&mut buf, &mut [], Instant::ZERO),
        Err(Error::BufferTooSmall { needed: 1 })
    );
}

/// A compression bomb: 64 MiB of zeros in one small message, against a
/// 1 MiB message limit. Inflating stops with 1009 after at most the limit
/// plus one chunk of output, with no memory beyond the inflater's.
#[test]
fn a_bomb_is_refused_after_the_limit_plus_one_chunk() {
    const CHUNK: usize = 16 * 1024;
    let limit = 1 << 20;
    let mut sender = server(DeflateParams::new());
    let zeros = vec![0u8; 64 << 20];
    let mut frame = vec![0u8; zeros.len() + (1 << 20)];
    let n = sender.send_binary(&zeros, &mut frame).unwrap();
    let frame = &frame[..n];
    assert!(n < 512 * 1024, "64 MiB of zeros compress to {n} bytes");

    let mut c = Connection::client(
        Config::default().max_message_size(limit),
        Instant::ZERO,
        Keys(3),
    )
    .with_deflate(&DeflateConfig::new(), DeflateParams::new());
    let mut out = vec![0u8; CHUNK];
    let mut buf = frame.to_vec();
    let mut produced = 0u64;
    let mut calls = 0;
    let error = loop {
        calls += 1;
        match c.receive_into(&mut buf, &mut out, Instant::ZERO) {
            Ok(got) => {
                let consumed = got.consumed;
                if let Some(Event::Data(chunk)) = got.event {
                    produced += chunk.payload.len() as u64;
                    assert!(!chunk.message_end);
                }
                buf.drain(..consumed);
            }
            Err(e) => break e,
        }
    };
    assert_eq!(
        error.peer().map(|e| e.kind()),
        Some(PeerErrorKind::MessageTooLarge { limit })
    );
    assert!(produced <= limit, "{produced} bytes handed out");
    assert!(
        produced + CHUNK as u64 > limit,
        "{produced} bytes handed out"
    );
    println!(
        "bomb: {n} bytes in (64 MiB inflated), {produced} bytes handed out in {calls} calls before 1009 (limit {limit}, chunk {CHUNK})"
    );
}

// ---- sending -----------------------------------------------------------------

/// Client → server: whole messages and fragments, compressed, masked.
#[test]
fn client_messages_round_trip_with_and_without_context_takeover() {
    for no_takeover in [false, true] {
        let p = DeflateParams {
            client_no_context_takeover: no_takeover,
            ..DeflateParams::new()
        };
        let mut c = client(p);
        let mut wire = Vec::new();
        let mut out = vec![0u8; 4096];
        let json = br#"{"id":1,"name":"protoswitch","tags":["a","b","c"],"ok":true}"#;
        let mut sizes = Vec::new();
        for _ in 0..3 {
            let n = c.send_binary(json, &mut out).unwrap();
            sizes.push(n);
            wire.extend_from_slice(&out[..n]);
        }
        // A text message in three fragments, a character split between two.
        let s = "héllo wörld, héllo wörld";
        let b = s.as_bytes();
        for (piece, fin) in [(&b[..2], false), (&b[2..10], false), (&b[10..], true)] {
            let n = c
                .send_fragment(MessageKind::Text, piece, fin, &mut out)
                .unwrap();
            wire.extend_from_slice(&out[..n]);
        }
        if no_takeover {
            assert_eq!(sizes[0], sizes[1]);
        } else {
            assert!(sizes[1] < sizes[0], "{sizes:?}");
        }
        for read in [1, 7, 64, 4096] {
            let (got, _) = receive_all(&mut server(p), &wire, read, 13);
            let m = Got::Message(MessageKind::Binary, json.to_vec());
            assert_eq!(
                got,
                [
                    m,
                    Got::Message(MessageKind::Binary, json.to_vec()),
                    Got::Message(MessageKind::Binary, json.to_vec()),
                    text(s)
                ]
            );
        }
    }
}

/// Uncompressed messages between compressed ones stay out of the window
/// on both sides, and a refused send leaves the compressor untouched.
#[test]
fn uncompressed_and_refused_sends_keep_the_window_in_step() {
    let mut s = server(DeflateParams::new());
    let mut wire = Vec::new();
    let mut out = vec![0u8; 4096];
    let a = b"the same words again and again and again";
    let n = s.send_binary(a, &mut out).unwrap();
    wire.extend_from_slice(&out[..n]);
    // Too small a buffer: refused, with the bound; nothing compressed.
    let mut small = [0u8; 16];
    let Err(Error::BufferTooSmall { needed }) = s.send_binary(b"zzzzzzzzzzzz", &mut small) else {
        panic!()
    };
    assert!(needed > 16);
    // An uncompressed frame (send_header writes RSV1 0).
    let (h, mask) = s
        .send_header(MessageKind::Binary, 5, true, &mut out)
        .unwrap();
    assert_eq!(mask, None);
    assert_eq!(out[0], 0x82, "no RSV1");
    wire.extend_from_slice(&out[..h]);
    wire.extend_from_slice(b"plain");
    let n = s.send_binary(a, &mut out).unwrap();
    wire.extend_from_slice(&out[..n]);
    let (got, _) = receive_all(&mut client(DeflateParams::new()), &wire, 5, 8);
    let m = |d: &[u8]| Got::Message(MessageKind::Binary, d.to_vec());
    assert_eq!(got, [m(a), m(b"plain"), m(a)]);
}

/// A window of 9 bits for our side is honoured (the compressor's own
/// tests decode its output and check every distance); with `compress`
/// off, messages go uncompressed (RSV1 0).
#[test]
fn small_windows_and_compression_off() {
    let p = DeflateParams {
        server_max_window_bits: 9,
        ..DeflateParams::new()
    };
    let mut s = server(p);
    let mut out = vec![0u8; 4096];
    let text = "a window of nine bits, a window of nine bits, a window of nine bits";
    let n = s.send_text(text, &mut out).unwrap();
    assert_eq!(out[0], 0xc1, "compressed");
    assert!(n < text.len());
    let (got, _) = receive_all(&mut client(p), &out[..n], 3, 5);
    assert_eq!(got, [self::text(text)]);
    let mut s = Connection::server(Config::default(), Instant::ZERO)
        .with_deflate(&DeflateConfig::new().compress(false), DeflateParams::new());
    let n = s.send_text("Hello", &mut out).unwrap();
    assert_eq!(&out[..n], b"\x81\x05Hello");
}

/// A compressed message cannot be continued with `send_header`.
#[test]
fn a_compressed_message_continues_compressed() {
    let mut s = server(DeflateParams::new());
    let mut out = [0u8; 128];
    s.send_fragment(MessageKind::Text, b"Hel", false, &mut out)
        .unwrap();
    assert_eq!(out[0], 0x41, "RSV1 on the first frame");
    assert_eq!(
        s.send_header(MessageKind::Text, 2, true, &mut out),
        Err(Error::Local(LocalError::FragmentationOrder))
    );
    let n = s
        .send_fragment(MessageKind::Text, b"lo", true, &mut out)
        .unwrap();
    assert_eq!(out[0], 0x80, "no RSV1 on a continuation");
    assert!(n > 2);
}

// ---- split invariance ------------------------------------------------------

mod split {
    use super::*;
    use proptest::prelude::*;
    use protoswitch::Role;
    use protoswitch_testkit::Bytes;
    use protoswitch_testkit::ws::{Keys as KitKeys, WsEv, feed_into};

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
        // Compressible payloads: words from a small vocabulary, and bytes.
        let words = prop::collection::vec(
            prop::sample::select(vec!["héllo ", "wörld ", "{\"id\":", "42,", "ok", "\n"]),
            0..60,
        )
        .prop_map(|w| w.concat().into_bytes());
        prop_oneof![
            4 => (any::<bool>(), words, prop::collection::vec(any::<u8>(), 0..300), prop::collection::vec(0usize..64, 0..4))
                .prop_map(|(text, t, bytes, pieces)| if text {
                    Item::Message { kind: MessageKind::Text, payload: t, pieces }
                } else {
                    Item::Message { kind: MessageKind::Binary, payload: bytes, pieces }
                }),
            1 => prop::collection::vec(any::<u8>(), 0..=125).prop_map(Item::Ping),
            // Long enough for blocks with codes of their own (2 KiB and
            // more a call), whole or in fragments.
            1 => (prop::collection::vec(
                prop::sample::select(vec!["héllo ", "wörld ", "{\"id\":", "42,", "ok", "\n", "\u{1F600}"]),
                400..3000,
            ), prop::collection::vec(0usize..6000, 0..3))
                .prop_map(|(w, pieces)| Item::Message { kind: MessageKind::Text, payload: w.concat().into_bytes(), pieces }),
        ]
    }

    /// Writes the items with a `sender` that compresses: whole messages,
    /// or fragments (split anywhere: text is checked across them) with
    /// Pings between none of them.
    fn encode<M: MaskSource>(mut sender: Connection<M>, items: &[Item]) -> (Vec<u8>, Vec<WsEv>) {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        let mut out = vec![0u8; 64 * 1024];
        for item in items {
            match item {
                Item::Ping(p) => {
                    let n = sender.send_ping(p, Instant::ZERO, &mut out).unwrap();
                    wire.extend_from_slice(&out[..n]);
                    expected.push(WsEv::Ping(Bytes(p.clone())));
                }
                Item::Message {
                    kind,
                    payload,
                    pieces,
                } => {
                    if pieces.is_empty() {
                        let n = match kind {
                            MessageKind::Text => {
                                sender.send_text(core::str::from_utf8(payload).unwrap(), &mut out)
                            }
                            MessageKind::Binary => sender.send_binary(payload, &mut out),
                        }
                        .unwrap();
                        wire.extend_from_slice(&out[..n]);
                    } else {
                        let mut rest = &payload[..];
                        for &p in pieces {
                            let (piece, after) = rest.split_at(p.min(rest.len()));
                            let n = sender.send_fragment(*kind, piece, false, &mut out).unwrap();
                            wire.extend_from_slice(&out[..n]);
                            rest = after;
                        }
                        let n = sender.send_fragment(*kind, rest, true, &mut out).unwrap();
                        wire.extend_from_slice(&out[..n]);
                    }
                    expected.push(WsEv::Message(*kind, Bytes(payload.clone())));
                }
            }
        }
        (wire, expected)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Compressed messages come back whole and equal whatever the
        /// reads and the output buffer's size, in both directions and
        /// with or without context takeover.
        #[test]
        fn compressed_streams_decode_the_same_at_any_split(
            items in prop::collection::vec(item(), 0..12),
            client_sends in any::<bool>(),
            snct in any::<bool>(),
            cnct in any::<bool>(),
            seed in any::<u32>(),
            out_len in 1usize..200,
            cuts in prop::collection::vec(0usize..4000, 0..12),
        ) {
            let params = DeflateParams {
                server_no_context_takeover: snct,
                client_no_context_takeover: cnct,
                ..DeflateParams::new()
            };
            let d = DeflateConfig::new();
            let mut cuts = cuts;
            cuts.sort_unstable();
            let (wire, expected, events) = if client_sends {
                let sender = Connection::client(Config::default(), Instant::ZERO, KitKeys::new(seed))
                    .with_deflate(&d, params);
                let (wire, expected) = encode(sender, &items);
                let mut rx = Connection::server(Config::default(), Instant::ZERO).with_deflate(&d, params);
                let (events, _) = feed_into(&mut rx, &wire, &cuts, out_len);
                (wire, expected, events)
            } else {
                let sender = Connection::server(Config::default(), Instant::ZERO).with_deflate(&d, params);
                let (wire, expected) = encode(sender, &items);
                let mut rx = Connection::client(Config::default(), Instant::ZERO, KitKeys::new(seed))
                    .with_deflate(&d, params);
                let (events, _) = feed_into(&mut rx, &wire, &cuts, out_len);
                (wire, expected, events)
            };
            let _ = Role::Client;
            prop_assert_eq!(events, expected, "wire {:02x?}", wire);
        }
    }
}

/// Inflated bytes come out as soon as the input holding them is in: a
/// non-final fragment inflating to more than `out` is handed out whole
/// before any further byte arrives (the peer may be waiting for us).
#[test]
fn inflated_data_is_not_held_back_waiting_for_more_input() {
    let mut s = server(DeflateParams::new());
    let mut frame = vec![0u8; 4096];
    let text = "Hello".repeat(100);
    let n = s
        .send_fragment(MessageKind::Text, text.as_bytes(), false, &mut frame)
        .unwrap();
    let mut c = client(DeflateParams::new());
    let mut buf = frame[..n].to_vec();
    let mut out = [0u8; 64];
    let mut got = Vec::new();
    loop {
        let r = c.receive_into(&mut buf, &mut out, Instant::ZERO).unwrap();
        let consumed = r.consumed;
        let done = match r.event {
            Some(Event::Data(chunk)) => {
                assert!(!chunk.message_end);
                got.extend_from_slice(chunk.payload);
                false
            }
            Some(other) => panic!("{other:?}"),
            // Needs more bytes: what it consumed (the fragment's empty
            // stored block, read without output) is dropped all the same.
            None => true,
        };
        buf.drain(..consumed);
        if done {
            break;
        }
    }
    assert!(buf.is_empty());
    assert_eq!(got, text.as_bytes());
}

/// The bomb, masked, to a server: the same bound.
#[test]
fn a_masked_bomb_to_a_server_is_refused_at_the_limit() {
    let limit = 1 << 20;
    let mut sender = client(DeflateParams::new());
    let zeros = vec![0u8; 16 << 20];
    let mut frame = vec![0u8; zeros.len() + (1 << 20)];
    let n = sender.send_binary(&zeros, &mut frame).unwrap();
    let mut s = Connection::server(Config::default().max_message_size(limit), Instant::ZERO)
        .with_deflate(&DeflateConfig::new(), DeflateParams::new());
    let mut buf = frame[..n].to_vec();
    let mut out = vec![0u8; 4096];
    let mut produced = 0u64;
    let error = loop {
        match s.receive_into(&mut buf, &mut out, Instant::ZERO) {
            Ok(got) => {
                let consumed = got.consumed;
                if let Some(Event::Data(chunk)) = got.event {
                    produced += chunk.payload.len() as u64;
                }
                buf.drain(..consumed);
            }
            Err(e) => break e,
        }
    };
    assert_eq!(
        error.peer().map(|e| e.kind()),
        Some(PeerErrorKind::MessageTooLarge { limit })
    );
    assert!(produced <= limit && produced + 4096 > limit, "{produced}");
}

/// The configuration's fields are public: values set directly out of
/// range are clamped where they are used.
#[test]
fn out_of_range_config_fields_are_clamped() {
    let mut c = DeflateConfig::new();
    c.client_max_window_bits = 20;
    c.server_max_window_bits = 3;
    assert_eq!(
        c.offer().as_str(),
        "permessage-deflate; server_max_window_bits=8; client_max_window_bits"
    );
}

/// A message ended by a final block (RFC 7692 §7.2.3.4) into a one-byte
/// `out`: the block's end waits behind the full buffer, and the tail must
/// not be fed after it (it would begin a stored block the next message
/// then continues). Two such messages, each "Hello".
#[test]
fn a_final_block_behind_a_full_output_needs_no_tail() {
    let frame = [0xc1, 0x07, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut c = client(DeflateParams::new());
    let mut buf = [frame, frame].concat();
    let mut out = [0u8; 1];
    let (mut messages, mut current) = (Vec::new(), Vec::new());
    loop {
        let r = c.receive_into(&mut buf, &mut out, Instant::ZERO).unwrap();
        let consumed = r.consumed;
        let Some(Event::Data(chunk)) = r.event else {
            buf.drain(..consumed);
            break;
        };
        current.extend_from_slice(chunk.payload);
        if chunk.message_end {
            messages.push(std::mem::take(&mut current));
        }
        buf.drain(..consumed);
    }
    assert!(buf.is_empty());
    assert_eq!(messages, [b"Hello".to_vec(), b"Hello".to_vec()]);
}

/// Messages from another compressor (miniz_oxide, 32 KiB window) ending in
/// each way RFC 7692 allows: a sync flush (tail removed), a full flush
/// (tail removed), two flushes inside one message, or a final block (a
/// fresh stream, nothing removed); fed in reads of any size into outputs
/// of any size (one byte included), they come back equal.
mod other_compressor {
    use super::*;
    use miniz_oxide::deflate::core::{
        CompressorOxide, TDEFLFlush, compress, create_comp_flags_from_zip_params,
    };
    use proptest::prelude::*;

    fn compressor(level: u8) -> CompressorOxide {
        CompressorOxide::new(create_comp_flags_from_zip_params(i32::from(level), -15, 0))
    }

    fn run(c: &mut CompressorOxide, data: &[u8], flush: TDEFLFlush) -> Vec<u8> {
        let mut out = vec![0u8; data.len() * 2 + 64];
        let (_, _, n) = compress(c, data, &mut out, flush);
        out.truncate(n);
        out
    }

    /// Server frames (unmasked, RSV1) of `messages`, each ending as
    /// `ends` says (0 sync, 1 full, 2 two flushes, 3 final block).
    fn frames(messages: &[(Vec<u8>, u8)], level: u8) -> Vec<u8> {
        let mut c = compressor(level);
        let mut wire = Vec::new();
        for (data, end) in messages {
            let payload = match end {
                3 => {
                    // A fresh stream; the next messages from a fresh
                    // compressor too (the old one never saw this one).
                    c = compressor(level);
                    run(&mut compressor(level), data, TDEFLFlush::Finish)
                }
                2 => {
                    let half = data.len() / 2;
                    let mut p = run(&mut c, &data[..half], TDEFLFlush::Full);
                    p.extend(run(&mut c, &data[half..], TDEFLFlush::Sync));
                    p.truncate(p.len() - 4);
                    p
                }
                _ => {
                    let flush = if *end == 0 {
                        TDEFLFlush::Sync
                    } else {
                        TDEFLFlush::Full
                    };
                    let mut p = run(&mut c, data, flush);
                    assert!(p.ends_with(&[0, 0, 0xff, 0xff]));
                    p.truncate(p.len() - 4);
                    p
                }
            };
            wire.push(0xc2);
            match payload.len() {
                n if n < 126 => wire.push(n as u8),
                n if n < 65536 => {
                    wire.push(126);
                    wire.extend_from_slice(&(n as u16).to_be_bytes());
                }
                n => {
                    wire.push(127);
                    wire.extend_from_slice(&(n as u64).to_be_bytes());
                }
            }
            wire.extend_from_slice(&payload);
        }
        wire
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn any_ending_any_reads_any_output(
            messages in proptest::collection::vec(
                (proptest::collection::vec(prop_oneof![Just(b'x'), Just(b'y'), any::<u8>()], 0..2000), 0u8..4),
                1..8,
            ),
            level in 1u8..=9,
            read in 1usize..3000,
            out_size in prop_oneof![Just(1usize), 1usize..400, 400usize..20000],
        ) {
            let wire = frames(&messages, level);
            let mut c = client(DeflateParams::new());
            let mut out = vec![0u8; out_size];
            let (mut buf, mut fed) = (Vec::new(), 0);
            let (mut got, mut current) = (Vec::new(), Vec::new());
            loop {
                let r = c.receive_into(&mut buf, &mut out, Instant::ZERO).unwrap();
                let consumed = r.consumed;
                let more = match r.event {
                    Some(Event::Data(chunk)) => {
                        current.extend_from_slice(chunk.payload);
                        if chunk.message_end {
                            got.push(std::mem::take(&mut current));
                        }
                        false
                    }
                    Some(other) => panic!("{other:?}"),
                    None => true,
                };
                buf.drain(..consumed);
                if more {
                    if fed == wire.len() {
                        break;
                    }
                    let n = read.min(wire.len() - fed);
                    buf.extend_from_slice(&wire[fed..fed + n]);
                    fed += n;
                }
            }
            let expected: Vec<Vec<u8>> = messages.into_iter().map(|(m, _)| m).collect();
            prop_assert_eq!(got, expected);
        }
    }
}

/// A message cut inside its block ("Hello" without its end-of-block code
/// nor the empty stored block RFC 7692 §7.2.1 ends it with): the appended tail is read as data, so
/// what comes out is not the message. Failed with 1007, not handed out as
/// "Helh" (what zlib, used the same way, gives).
#[test]
fn a_message_cut_inside_a_block_fails() {
    let mut c = client(DeflateParams::new());
    let mut buf = vec![0xc1, 0x04, 0xf2, 0x48, 0xcd, 0xc9];
    let mut out = [0u8; 64];
    let mut got = Vec::new();
    let error = loop {
        match c.receive_into(&mut buf, &mut out, Instant::ZERO) {
            Ok(r) => {
                let consumed = r.consumed;
                match r.event {
                    Some(Event::Data(chunk)) => {
                        got.extend_from_slice(chunk.payload);
                        assert!(!chunk.message_end, "handed out as whole: {got:?}");
                    }
                    Some(other) => panic!("{other:?}"),
                    None => panic!("waits for more after a whole frame"),
                }
                buf.drain(..consumed);
            }
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            error,
            Error::Peer(ref p) if p.kind() == PeerErrorKind::InflateFailed
        ),
        "{error:?}"
    );
    // A Close (masked, as a client's) is owed.
    let mut close = [0u8; 64];
    let n = c.poll_transmit(&mut close);
    assert_eq!(close[0], 0x88, "{:02x?}", &close[..n]);
}
