//! WebSocket frames: RFC 6455 §5.7 examples byte for byte, one table row
//! per rule with its close code, limits, UTF-8, sending.

use protoswitch::ws::{Config, Connection, MessageKind, NoMask, State};
use protoswitch::{Error, Instant, LocalError, PeerErrorKind as K, Reply};
use protoswitch_testkit::Bytes;
use protoswitch_testkit::ws::{WsEv, feed};

const RFC_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn server() -> Connection<NoMask> {
    Connection::server(Config::default(), Instant::ZERO)
}

fn client() -> Connection<impl FnMut() -> [u8; 4] + Clone> {
    Connection::client(Config::default(), Instant::ZERO, || RFC_KEY)
}

/// Masks `payload` with `key` into a client frame.
fn masked(first: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = vec![first];
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=65535 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

#[test]
fn rfc_5_7_examples() {
    // A single-frame unmasked text message (server to client).
    let (ev, _) = feed(&mut client(), b"\x81\x05\x48\x65\x6c\x6c\x6f", &[]);
    assert_eq!(
        ev,
        [WsEv::Message(MessageKind::Text, Bytes(b"Hello".to_vec()))]
    );
    // A single-frame masked text message (client to server).
    let (ev, _) = feed(
        &mut server(),
        b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
        &[],
    );
    assert_eq!(
        ev,
        [WsEv::Message(MessageKind::Text, Bytes(b"Hello".to_vec()))]
    );
    // A fragmented unmasked text message.
    let (ev, _) = feed(&mut client(), b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f", &[]);
    assert_eq!(
        ev,
        [WsEv::Message(MessageKind::Text, Bytes(b"Hello".to_vec()))]
    );
    // Unmasked Ping, and the masked Pong a client answers with.
    let mut c = client();
    let (ev, wire) = feed(&mut c, b"\x89\x05\x48\x65\x6c\x6c\x6f", &[]);
    assert_eq!(ev, [WsEv::Ping(Bytes(b"Hello".to_vec()))]);
    assert_eq!(wire, b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    // 256 bytes and 64 KiB binary messages in single unmasked frames.
    for (len, header) in [
        (256usize, &b"\x82\x7E\x01\x00"[..]),
        (65536, &b"\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00"[..]),
    ] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut out = vec![0u8; len + 10];
        let n = server().send_binary(&payload, &mut out).unwrap();
        assert_eq!(&out[..header.len()], header);
        assert_eq!(&out[header.len()..n], &payload[..]);
        let (ev, _) = feed(&mut client(), &out[..n], &[]);
        assert_eq!(ev, [WsEv::Message(MessageKind::Binary, Bytes(payload))]);
    }
    // A client's text frame is masked with its key source.
    let mut out = [0u8; 16];
    let n = client().send_text("Hello", &mut out).unwrap();
    assert_eq!(&out[..n], b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
}

#[test]
fn each_rule_fails_with_its_close_code() {
    let k = [1, 2, 3, 4];
    let long_ping = masked(0x89, &[0u8; 126], k);
    let cases: Vec<(&str, Vec<u8>, K, u16)> = vec![
        ("RSV1 set", masked(0xC1, b"x", k), K::ReservedBitsSet, 1002),
        ("RSV3 set", masked(0x91, b"x", k), K::ReservedBitsSet, 1002),
        (
            "reserved data opcode 3",
            masked(0x83, b"", k),
            K::ReservedOpcode,
            1002,
        ),
        (
            "reserved control opcode 11",
            masked(0x8B, b"", k),
            K::ReservedOpcode,
            1002,
        ),
        (
            "unmasked client frame",
            b"\x81\x01x".to_vec(),
            K::UnmaskedFrame,
            1002,
        ),
        (
            "control frame > 125",
            long_ping,
            K::ControlFrameTooLong,
            1002,
        ),
        (
            "fragmented ping",
            masked(0x09, b"", k),
            K::FragmentedControlFrame,
            1002,
        ),
        (
            "continuation without start",
            masked(0x80, b"x", k),
            K::UnexpectedContinuation,
            1002,
        ),
        (
            "new message inside fragmented",
            [masked(0x01, b"a", k), masked(0x81, b"b", k)].concat(),
            K::ExpectedContinuation,
            1002,
        ),
        (
            "close with one byte",
            masked(0x88, b"\x03", k),
            K::CloseTooShort,
            1002,
        ),
        (
            "close code 1005",
            masked(0x88, &1005u16.to_be_bytes(), k),
            K::InvalidCloseCode,
            1002,
        ),
        (
            "close code 999",
            masked(0x88, &999u16.to_be_bytes(), k),
            K::InvalidCloseCode,
            1002,
        ),
        (
            "close code 2000",
            masked(0x88, &2000u16.to_be_bytes(), k),
            K::InvalidCloseCode,
            1002,
        ),
        (
            "close code 5000",
            masked(0x88, &5000u16.to_be_bytes(), k),
            K::InvalidCloseCode,
            1002,
        ),
        (
            "close reason not UTF-8",
            masked(0x88, b"\x03\xe8\xff", k),
            K::InvalidUtf8,
            1007,
        ),
        (
            "text not UTF-8",
            masked(0x81, b"\xce\xba\xe1\xbd", k),
            K::InvalidUtf8,
            1007,
        ),
        (
            "64-bit length MSB",
            b"\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04".to_vec(),
            K::LengthMsbSet,
            1002,
        ),
    ];
    for (name, input, kind, code) in cases {
        let mut s = server();
        let (ev, wire) = feed(&mut s, &input, &[]);
        assert_eq!(ev.last(), Some(&WsEv::Error(kind)), "{name}");
        assert_eq!(s.state(), State::Closed, "{name}");
        // The Close frame with the code goes out, then the transport closes.
        assert_eq!(wire[0], 0x88, "{name}");
        assert_eq!(u16::from_be_bytes([wire[2], wire[3]]), code, "{name}");
        assert!(s.should_close_transport(), "{name}");
    }
    // A server frame that is masked fails a client.
    let mut c = client();
    let (ev, wire) = feed(&mut c, &masked(0x81, b"x", k), &[]);
    assert_eq!(ev, [WsEv::Error(K::MaskedFrame)]);
    assert_eq!(wire[0], 0x88);
    assert!(wire[1] & 0x80 != 0, "a client's Close is masked");
}

#[test]
fn utf8_fails_at_first_invalid_byte_not_at_message_end() {
    let k = [9, 8, 7, 6];
    // First fragment valid, second starts an invalid sequence; the message
    // never ends.
    let input = [
        masked(0x01, "κόσμε".as_bytes(), k),
        masked(0x00, b"\xf4\x90\x80\x80", k),
    ]
    .concat();
    let mut s = server();
    let mut buf = input.clone();
    let first = s.receive(&mut buf, Instant::ZERO).unwrap();
    assert!(matches!(first.event, Some(protoswitch::ws::Event::Data(_))));
    let consumed = first.consumed;
    let err = s.receive(&mut buf[consumed..], Instant::ZERO).unwrap_err();
    assert_eq!(err.peer().unwrap().reply(), Reply::CloseFrame(1007));
    // A character split across fragments is fine.
    let text = "Hello-µ@ßöäüàá-UTF-8!!".as_bytes();
    let input = [masked(0x01, &text[..7], k), masked(0x80, &text[7..], k)].concat();
    let (ev, _) = feed(&mut server(), &input, &[]);
    assert_eq!(ev, [WsEv::Message(MessageKind::Text, Bytes(text.to_vec()))]);
}

#[test]
fn limits_fail_with_1009() {
    let k = [1, 1, 1, 1];
    let config = Config::new()
        .max_frame_payload(10)
        .max_message_size(15)
        .max_fragments(3);
    let cases: [(Vec<u8>, K); 3] = [
        (masked(0x82, &[0; 11], k), K::FrameTooLarge { limit: 10 }),
        (
            [masked(0x02, &[0; 10], k), masked(0x80, &[0; 6], k)].concat(),
            K::MessageTooLarge { limit: 15 },
        ),
        (
            [
                masked(0x02, b"a", k),
                masked(0x00, b"b", k),
                masked(0x00, b"c", k),
                masked(0x80, b"d", k),
            ]
            .concat(),
            K::TooManyFragments { limit: 3 },
        ),
    ];
    for (input, kind) in cases {
        let mut s = Connection::server(config, Instant::ZERO);
        let (ev, wire) = feed(&mut s, &input, &[]);
        assert_eq!(ev.last(), Some(&WsEv::Error(kind)));
        assert_eq!(&wire[2..4], &1009u16.to_be_bytes());
        let reason = std::str::from_utf8(&wire[4..]).unwrap();
        assert!(
            reason.contains("larger than") || reason.contains("more fragments"),
            "{reason}"
        );
    }
    // At every limit exactly: accepted.
    let at_limits = [
        masked(0x82, &[7; 10], k),
        [masked(0x02, &[7; 10], k), masked(0x80, &[7; 5], k)].concat(),
        [
            masked(0x02, b"a", k),
            masked(0x00, b"b", k),
            masked(0x80, b"c", k),
        ]
        .concat(),
    ];
    for input in at_limits {
        let mut s = Connection::server(config, Instant::ZERO);
        let (ev, wire) = feed(&mut s, &input, &[]);
        assert!(matches!(ev[..], [WsEv::Message(..)]), "{ev:?}");
        assert!(wire.is_empty());
    }
}

#[test]
fn control_frames_interleave_and_latest_ping_is_answered() {
    let k = [5, 6, 7, 8];
    let input = [
        masked(0x01, b"ab", k),
        masked(0x89, b"one", k),
        masked(0x89, b"two", k),
        masked(0x8A, b"unsolicited", k),
        masked(0x80, b"cd", k),
    ]
    .concat();
    let mut s = server();
    let mut buf = input.clone();
    let mut events = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let got = s.receive(&mut buf[at..], Instant::ZERO).unwrap();
        at += got.consumed;
        events.push(format!("{:?}", got.event.unwrap()));
    }
    assert_eq!(events.len(), 5);
    let mut frame = [0u8; 139];
    let n = s.poll_transmit(&mut frame);
    assert_eq!(&frame[..n], b"\x8a\x03two", "one Pong, for the latest Ping");
    assert_eq!(s.poll_transmit(&mut frame), 0);
    // With auto_pong off, Pings are only reported.
    let mut s = Connection::server(Config::new().auto_pong(false), Instant::ZERO);
    let (ev, wire) = feed(&mut s, &masked(0x89, b"x", k), &[]);
    assert_eq!(ev, [WsEv::Ping(Bytes(b"x".to_vec()))]);
    assert!(wire.is_empty());
    let mut out = [0u8; 16];
    assert_eq!(s.send_pong(b"x", &mut out).unwrap(), 3);
}

#[test]
fn sending_rules() {
    let mut s = server();
    let mut out = [0u8; 300];
    // Fragmented message with a ping in between.
    assert_eq!(
        s.send_fragment(MessageKind::Text, b"Hel", false, &mut out)
            .unwrap(),
        5
    );
    assert_eq!(&out[..5], b"\x01\x03Hel");
    assert_eq!(
        s.send_binary(b"x", &mut out),
        Err(Error::Local(LocalError::FragmentationOrder))
    );
    assert_eq!(
        s.send_fragment(MessageKind::Binary, b"x", true, &mut out),
        Err(Error::Local(LocalError::FragmentationOrder))
    );
    assert_eq!(s.send_ping(b"", Instant::ZERO, &mut out).unwrap(), 2);
    assert_eq!(
        s.send_fragment(MessageKind::Text, b"lo", true, &mut out)
            .unwrap(),
        4
    );
    assert_eq!(&out[..4], b"\x80\x02lo");
    // Header only, for vectored writes.
    let (n, mask) = s
        .send_header(MessageKind::Binary, 70000, true, &mut out)
        .unwrap();
    assert_eq!(
        (&out[..n], mask),
        (&b"\x82\x7F\x00\x00\x00\x00\x00\x01\x11\x70"[..], None)
    );
    // The 64-bit length's top bit may not be set (RFC 6455 §5.2).
    assert_eq!(
        s.send_header(MessageKind::Binary, 1 << 63, true, &mut out),
        Err(Error::Local(LocalError::PayloadTooLarge))
    );
    // Limits on control frames and close codes.
    assert_eq!(
        s.send_ping(&[0; 126], Instant::ZERO, &mut out),
        Err(Error::Local(LocalError::ControlPayloadTooLong))
    );
    assert_eq!(
        s.send_close(Some(1005), "", Instant::ZERO, &mut out),
        Err(Error::Local(LocalError::InvalidCloseCode(1005)))
    );
    assert_eq!(
        s.send_close(None, "why", Instant::ZERO, &mut out),
        Err(Error::Local(LocalError::CloseReasonWithoutCode))
    );
    assert_eq!(
        s.send_close(Some(1000), &"x".repeat(124), Instant::ZERO, &mut out),
        Err(Error::Local(LocalError::ControlPayloadTooLong))
    );
    let mut tiny = [0u8; 3];
    assert_eq!(
        s.send_text("Hello", &mut tiny),
        Err(Error::BufferTooSmall { needed: 7 })
    );
    // After Close, data is a local error.
    let n = s
        .send_close(Some(1000), "bye", Instant::ZERO, &mut out)
        .unwrap();
    assert_eq!(&out[..n], b"\x88\x05\x03\xe8bye");
    assert_eq!(s.state(), State::CloseSent);
    assert!(matches!(
        s.send_text("late", &mut out),
        Err(Error::Local(LocalError::WrongState { .. }))
    ));
    assert!(matches!(
        s.send_ping(b"", Instant::ZERO, &mut out),
        Err(Error::Local(LocalError::WrongState { .. }))
    ));
}
