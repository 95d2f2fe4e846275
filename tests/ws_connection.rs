//! The WebSocket connection end to end: hand-off from both handshakes with
//! leftover frames, the closing handshake, timeouts on a simulated clock,
//! keepalive.

use protoswitch::upgrade::{
    Accept, ClientEvent, ClientHandshake, ClientRequest, ServerEvent, ServerHandshake,
};
use protoswitch::ws::{CloseCause, Config, Connection, Event, Keepalive, MessageKind, State};
use protoswitch::{Duration, Error, Instant, LocalError, PeerErrorKind, Reply};
use protoswitch_testkit::Bytes;
use protoswitch_testkit::ws::{WsEv, feed};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn drain<M: protoswitch::ws::MaskSource>(c: &mut Connection<M>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut frame = [0u8; 139];
    loop {
        let n = c.poll_transmit(&mut frame);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&frame[..n]);
    }
}

#[test]
fn hand_off_with_leftover_frames_on_both_sides() {
    // Client request with a first frame pipelined behind it.
    let request = ClientRequest::new("GET", "/chat", "h", &["websocket"])
        .websocket_key(*b"the sample nonce")
        .subprotocols(&["chat"]);
    let mut out = [0u8; 1024];
    let (mut client, n) =
        ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut out).unwrap();
    let mut to_server = out[..n].to_vec();
    to_server.extend_from_slice(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");

    let mut server = ServerHandshake::new(Default::default());
    let got = server.receive(&to_server).unwrap();
    let Some(ServerEvent::Request(req)) = got.event else {
        panic!("{:?}", got.event)
    };
    let switch = req
        .switch(&Accept::new("websocket").subprotocol("chat"))
        .unwrap();
    let mut leftover = to_server[got.consumed..].to_vec();
    let n = server.accept(&switch, &mut out).unwrap();
    let mut to_client = out[..n].to_vec();
    to_client.extend_from_slice(b"\x81\x05Hello");

    // The outcome is the caller's switch (the machines keep none of it).
    assert_eq!(switch.negotiation().subprotocol(), Some("chat"));
    let mut server_ws =
        Connection::from_server_handshake(server, Config::default(), Instant::ZERO).unwrap();
    let (ev, _) = feed(&mut server_ws, &leftover, &[]);
    assert_eq!(
        ev,
        [WsEv::Message(MessageKind::Text, Bytes(b"Hello".to_vec()))]
    );

    let got = client.receive(&to_client).unwrap();
    let Some(ClientEvent::Switched { negotiation, .. }) = got.event else {
        panic!("{:?}", got.event)
    };
    assert_eq!(negotiation.subprotocol(), Some("chat"));
    leftover = to_client[got.consumed..].to_vec();
    let mut client_ws =
        Connection::from_client_handshake(client, Config::default(), Instant::ZERO, || KEY)
            .unwrap();
    let (ev, _) = feed(&mut client_ws, &leftover, &[]);
    assert_eq!(
        ev,
        [WsEv::Message(MessageKind::Text, Bytes(b"Hello".to_vec()))]
    );
}

#[test]
fn hand_off_refused_without_a_websocket_switch() {
    let server = ServerHandshake::new(Default::default());
    assert!(matches!(
        Connection::from_server_handshake(server, Config::default(), Instant::ZERO),
        Err(Error::Local(LocalError::WrongState { .. }))
    ));
    let mut server = ServerHandshake::new(Default::default());
    let got = server
        .receive(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\nConnection: upgrade\r\n\r\n")
        .unwrap();
    let Some(ServerEvent::Request(req)) = got.event else {
        panic!("{:?}", got.event)
    };
    let switch = req.switch(&Accept::new("echo/1")).unwrap();
    let mut out = [0u8; 256];
    server.accept(&switch, &mut out).unwrap();
    assert_eq!(
        Connection::from_server_handshake(server, Config::default(), Instant::ZERO).err(),
        Some(Error::Local(LocalError::NotWebSocket))
    );
}

/// Moves bytes between a client and a server connection until quiet.
fn pump<M: protoswitch::ws::MaskSource>(
    client: &mut Connection<M>,
    server: &mut Connection<protoswitch::ws::NoMask>,
    c2s: &mut Vec<u8>,
    s2c: &mut Vec<u8>,
    now: Instant,
) -> (Vec<String>, Vec<String>) {
    let mut client_events = Vec::new();
    let mut server_events = Vec::new();
    for _ in 0..10 {
        c2s.extend(drain(client));
        s2c.extend(drain(server));
        while !c2s.is_empty() {
            let got = server.receive(c2s, now).unwrap();
            if let Some(e) = got.event {
                server_events.push(describe(&e));
            }
            let consumed = got.consumed;
            c2s.drain(..consumed);
            if consumed == 0 {
                break;
            }
        }
        while !s2c.is_empty() {
            let got = client.receive(s2c, now).unwrap();
            if let Some(e) = got.event {
                client_events.push(describe(&e));
            }
            let consumed = got.consumed;
            s2c.drain(..consumed);
            if consumed == 0 {
                break;
            }
        }
    }
    (client_events, server_events)
}

fn describe(e: &Event<'_>) -> String {
    match e {
        Event::Data(d) => format!("data {}", String::from_utf8_lossy(d.payload)),
        Event::Ping(p) => format!("ping {}", p.len()),
        Event::Pong(p) => format!("pong {}", p.len()),
        Event::Close { code, reason } => format!("close {code:?} {reason}"),
        other => format!("{other:?}"),
    }
}

#[test]
fn closing_handshake_client_initiated() {
    let mut client = Connection::client(Config::default(), Instant::ZERO, || KEY);
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let mut out = [0u8; 139];
    let n = client
        .send_close(Some(1000), "bye", Instant::ZERO, &mut out)
        .unwrap();
    let mut c2s = out[..n].to_vec();
    let mut s2c = Vec::new();
    let (ce, se) = pump(&mut client, &mut server, &mut c2s, &mut s2c, Instant::ZERO);
    assert_eq!(se, ["close Some(1000) bye"]);
    assert_eq!(ce, ["close Some(1000) "]);
    // The server closes the transport first (RFC 6455 §7.1.1).
    assert_eq!(server.state(), State::Closed);
    assert!(server.should_close_transport());
    assert_eq!(client.state(), State::Closed);
    assert!(
        !client.should_close_transport(),
        "the client waits for the server to close"
    );
    assert_eq!(client.receive_eof(), Ok(None));
    assert!(client.should_close_transport());
    assert_eq!(
        client.close_cause(),
        Some(CloseCause::Handshake { code: Some(1000) })
    );
}

#[test]
fn closing_handshake_server_initiated_and_client_wait_timeout() {
    let mut client = Connection::client(Config::default(), Instant::ZERO, || KEY);
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let mut out = [0u8; 139];
    let n = server
        .send_close(Some(1001), "", Instant::ZERO, &mut out)
        .unwrap();
    assert_eq!(&out[..n], b"\x88\x02\x03\xe9");
    let mut s2c = out[..n].to_vec();
    let mut c2s = Vec::new();
    let t = Instant::from_millis(100);
    let (ce, se) = pump(&mut client, &mut server, &mut c2s, &mut s2c, t);
    assert_eq!(ce, ["close Some(1001) "]);
    assert_eq!(se, ["close Some(1001) "]);
    assert!(server.should_close_transport());
    // The server never closes the TCP connection: the client gives up after
    // the close timeout.
    assert_eq!(client.poll_timeout(), Some(t + Duration::from_secs(5)));
    client.handle_timeout(t + Duration::from_millis(4999));
    assert!(!client.should_close_transport());
    client.handle_timeout(t + Duration::from_secs(5));
    assert!(client.should_close_transport());
}

#[test]
fn close_timeout_when_peer_never_answers() {
    let mut server = Connection::server(
        Config::new().close_timeout(Duration::from_secs(2)),
        Instant::ZERO,
    );
    let mut out = [0u8; 139];
    server
        .send_close(None, "", Instant::from_millis(10), &mut out)
        .unwrap();
    assert_eq!(&out[..2], b"\x88\x00");
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(2010)));
    server.handle_timeout(Instant::from_millis(2010));
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.close_cause(), Some(CloseCause::CloseTimedOut));
    assert!(server.should_close_transport());
}

#[test]
fn keepalive_pings_and_detects_a_dead_peer() {
    let config = Config::new().keepalive(Some(Keepalive::idle(
        Duration::from_secs(30),
        Duration::from_secs(10),
    )));
    let mut server = Connection::server(config, Instant::ZERO);
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(30_000)));
    // Traffic postpones the ping.
    let mut frame = *b"\x8a\x80\x00\x00\x00\x00";
    let _ = server
        .receive(&mut frame, Instant::from_millis(20_000))
        .unwrap();
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(50_000)));
    server.handle_timeout(Instant::from_millis(50_000));
    let ping = drain(&mut server);
    assert_eq!(ping, b"\x89\x00", "an empty ping");
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(60_000)));
    // A Pong keeps the connection.
    let mut pong = vec![0x8a, 0x80, 0, 0, 0, 0];
    let _ = server
        .receive(&mut pong, Instant::from_millis(55_000))
        .unwrap();
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(85_000)));
    // Silence after the next Ping: the peer is dead.
    server.handle_timeout(Instant::from_millis(85_000));
    assert!(!drain(&mut server).is_empty());
    server.handle_timeout(Instant::from_millis(95_000));
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.close_cause(), Some(CloseCause::PeerUnresponsive));
    assert!(server.should_close_transport());
}

#[test]
fn transport_end_without_close_is_abnormal() {
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let err = server.receive_eof().unwrap_err().peer().unwrap();
    assert_eq!(err.kind(), PeerErrorKind::ClosedWithoutCloseFrame);
    assert_eq!(err.reply(), Reply::CloseTransport);
    assert_eq!(server.state(), State::Closed);
    assert_eq!(server.close_cause(), Some(CloseCause::TransportEnded));
    assert_eq!(server.error(), Some(err));
    // Once closed, the end of the transport is nothing new.
    assert_eq!(server.receive_eof(), Ok(None));
}

/// Everything `poll_transmit` owes, drained through `size`-byte buffers.
fn drain_in<M: protoswitch::ws::MaskSource>(c: &mut Connection<M>, size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut piece = vec![0u8; size];
    loop {
        let n = c.poll_transmit(&mut piece);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&piece[..n]);
    }
}

/// A server that received a Close ("bye", 1000): it owes the echo.
fn server_owing_echo() -> Connection {
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let mut close = *b"\x88\x85\x00\x00\x00\x00\x03\xe8bye";
    let _ = server.receive(&mut close, Instant::ZERO).unwrap();
    assert_eq!(server.state(), State::CloseReceived);
    server
}

#[test]
fn poll_transmit_is_a_byte_stream_for_any_buffer() {
    for size in 1..=140 {
        let mut server = server_owing_echo();
        assert_eq!(
            drain_in(&mut server, size),
            b"\x88\x02\x03\xe8",
            "{size}-byte buffer"
        );
        assert_eq!(server.state(), State::Closed);
        assert!(server.should_close_transport());
    }
    // An empty buffer gets nothing and loses nothing.
    let mut server = server_owing_echo();
    assert_eq!(server.poll_transmit(&mut []), 0);
    assert_eq!(drain_in(&mut server, 64), b"\x88\x02\x03\xe8");
}

#[test]
fn the_state_changes_when_the_last_byte_of_the_echo_is_out() {
    let mut server = server_owing_echo();
    let mut one = [0u8; 1];
    for expected in b"\x88\x02\x03" {
        assert_eq!(server.poll_transmit(&mut one), 1);
        assert_eq!(one[0], *expected);
        assert_eq!(server.state(), State::CloseReceived);
        assert!(!server.should_close_transport());
    }
    assert_eq!(server.poll_transmit(&mut one), 1);
    assert_eq!(one, [0xe8]);
    assert_eq!(server.state(), State::Closed);
    assert!(server.should_close_transport());
}

#[test]
fn sending_waits_for_a_frame_half_handed_out() {
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let mut ping = *b"\x89\x82\x00\x00\x00\x00hi";
    let _ = server.receive(&mut ping, Instant::ZERO).unwrap();
    let mut two = [0u8; 2];
    assert_eq!(server.poll_transmit(&mut two), 2);
    assert_eq!(&two, b"\x8a\x02");
    let mut out = [0u8; 64];
    let pending = Err(Error::Local(LocalError::TransmitPending));
    assert_eq!(server.send_text("x", &mut out), pending);
    assert_eq!(server.send_ping(b"", Instant::ZERO, &mut out), pending);
    assert_eq!(
        server.send_close(None, "", Instant::ZERO, &mut out),
        pending
    );
    assert_eq!(server.state(), State::Open);
    // The rest of the Pong, then sending works again.
    assert_eq!(drain_in(&mut server, 64), b"hi");
    assert_eq!(server.send_text("x", &mut out), Ok(3));
    assert_eq!(&out[..3], b"\x81\x01x");
}

#[test]
fn fixed_keepalive_pings_on_schedule_whatever_the_traffic() {
    let config = Config::new().keepalive(Some(Keepalive::fixed(
        Duration::from_secs(2),
        Duration::from_secs(5),
    )));
    let mut server = Connection::server(config, Instant::ZERO);
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(2_000)));
    // Traffic does not postpone a fixed-interval Ping (it would an idle one).
    let mut pong = *b"\x8a\x80\x00\x00\x00\x00";
    let _ = server
        .receive(&mut pong, Instant::from_millis(1_500))
        .unwrap();
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(2_000)));
    server.handle_timeout(Instant::from_millis(2_000));
    assert_eq!(drain_in(&mut server, 139), b"\x89\x00");
    // The Pong is due 5 s later.
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(7_000)));
    let mut pong = *b"\x8a\x80\x00\x00\x00\x00";
    let _ = server
        .receive(&mut pong, Instant::from_millis(2_100))
        .unwrap();
    // Answered: the next Ping is one period after the last.
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(4_000)));
}

#[test]
fn a_manual_ping_arms_the_dead_peer_timeout_only_with_a_keepalive() {
    let keepalive = Keepalive::idle(Duration::from_secs(30), Duration::from_secs(3));
    let mut with = Connection::server(Config::new().keepalive(Some(keepalive)), Instant::ZERO);
    let mut out = [0u8; 16];
    assert_eq!(
        with.send_ping(b"", Instant::from_millis(1_000), &mut out),
        Ok(2)
    );
    assert_eq!(with.poll_timeout(), Some(Instant::from_millis(4_000)));
    with.handle_timeout(Instant::from_millis(4_000));
    assert_eq!(with.state(), State::Closed);
    assert_eq!(with.close_cause(), Some(CloseCause::PeerUnresponsive));

    let mut without = Connection::server(Config::default(), Instant::ZERO);
    assert_eq!(
        without.send_ping(b"", Instant::from_millis(1_000), &mut out),
        Ok(2)
    );
    assert_eq!(without.poll_timeout(), None);
}

#[test]
fn an_earlier_now_never_moves_a_deadline_back_nor_panics() {
    let keepalive = Keepalive::idle(Duration::from_secs(10), Duration::from_secs(3));
    let mut server = Connection::server(Config::new().keepalive(Some(keepalive)), Instant::ZERO);
    let mut pong = *b"\x8a\x80\x00\x00\x00\x00";
    let _ = server
        .receive(&mut pong, Instant::from_millis(5_000))
        .unwrap();
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(15_000)));
    // A clock that went back: the deadline stays.
    let mut pong = *b"\x8a\x80\x00\x00\x00\x00";
    let _ = server.receive(&mut pong, Instant::ZERO).unwrap();
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(15_000)));
    server.handle_timeout(Instant::ZERO);
    assert_eq!(server.state(), State::Open);
    assert_eq!(drain_in(&mut server, 16), b"");
}

#[test]
fn text_fragments_are_checked_as_utf8_across_fragments() {
    let mut client = Connection::client(Config::default(), Instant::ZERO, || [0; 4]);
    let mut out = [0u8; 64];
    // "é" = C3 A9, split between two fragments: fine.
    assert!(
        client
            .send_fragment(MessageKind::Text, b"caf\xc3", false, &mut out)
            .is_ok()
    );
    assert!(
        client
            .send_fragment(MessageKind::Text, b"\xa9!", true, &mut out)
            .is_ok()
    );
    // Invalid bytes are refused, nothing is written, the message goes on.
    let mut fresh = [0xAAu8; 64];
    assert!(
        client
            .send_fragment(MessageKind::Text, b"ok", false, &mut out)
            .is_ok()
    );
    assert_eq!(
        client.send_fragment(MessageKind::Text, b"\xff", false, &mut fresh),
        Err(Error::Local(LocalError::InvalidUtf8))
    );
    assert!(fresh.iter().all(|&b| b == 0xAA));
    // A message may not end inside a character.
    assert_eq!(
        client.send_fragment(MessageKind::Text, b"\xe2\x82", true, &mut fresh),
        Err(Error::Local(LocalError::InvalidUtf8))
    );
    assert!(
        client
            .send_fragment(MessageKind::Text, b"\xe2\x82\xac", true, &mut out)
            .is_ok()
    );
    // Binary is never checked.
    assert!(
        client
            .send_fragment(MessageKind::Binary, b"\xff", true, &mut out)
            .is_ok()
    );
}

#[test]
fn the_end_of_the_transport_drops_what_is_owed_even_half_out() {
    let mut server = server_owing_echo();
    let mut two = [0u8; 2];
    assert_eq!(server.poll_transmit(&mut two), 2);
    assert_eq!(server.receive_eof(), Ok(None));
    assert_eq!(drain_in(&mut server, 64), b"");
    assert_eq!(server.state(), State::Closed);
    assert!(server.should_close_transport());
}

#[test]
fn after_a_failure_the_transport_closes_only_once_the_close_is_out() {
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    // An unmasked frame from a client: 1002, with the diagnosis as reason.
    let mut frame = *b"\x81\x01x";
    let err = server.receive(&mut frame, Instant::ZERO).unwrap_err();
    let message = err.peer().unwrap().message();
    assert_eq!(server.state(), State::Closed);
    assert!(!server.should_close_transport(), "the Close is still owed");
    let mut two = [0u8; 2];
    assert_eq!(server.poll_transmit(&mut two), 2);
    assert!(!server.should_close_transport(), "the Close is half out");
    let rest = drain_in(&mut server, 256);
    assert!(server.should_close_transport());
    let mut close = two.to_vec();
    close.extend_from_slice(&rest);
    let mut expected = vec![0x88, 2 + message.len() as u8, 0x03, 0xea];
    expected.extend_from_slice(message.as_bytes());
    assert_eq!(close, expected, "the whole diagnosis is the reason");
}

#[test]
fn the_longest_frame_error_diagnosis_fits_a_close_frame_whole() {
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    // A first fragment, then a new text frame inside the message: the
    // longest of the frame-error sentences.
    let mut frames = *b"\x01\x80\0\0\0\0\x81\x80\0\0\0\0";
    let got = server.receive(&mut frames, Instant::ZERO).unwrap();
    assert_eq!(got.consumed, 6);
    let err = server
        .receive(&mut frames[6..], Instant::ZERO)
        .unwrap_err()
        .peer()
        .unwrap();
    assert_eq!(err.kind(), PeerErrorKind::ExpectedContinuation);
    let close = drain_in(&mut server, 256);
    assert_eq!(&close[4..], err.message().as_bytes());
    assert!(err.message().len() > 62 && err.message().len() <= 123);
}

#[test]
fn keepalive_pings_are_empty_and_the_pong_deadline_is_not_early() {
    let keepalive = Keepalive::fixed(Duration::from_secs(1), Duration::from_secs(3));
    let mut server = Connection::server(Config::new().keepalive(Some(keepalive)), Instant::ZERO);
    server.handle_timeout(Instant::from_millis(1_000));
    let first = drain_in(&mut server, 139);
    assert_eq!(first, b"\x89\x00");
    // One millisecond before the deadline nothing happens.
    server.handle_timeout(Instant::from_millis(3_999));
    assert_eq!(server.state(), State::Open);
    let mut pong = *b"\x8a\x80\0\0\0\0";
    let _ = server
        .receive(&mut pong, Instant::from_millis(3_999))
        .unwrap();
    server.handle_timeout(Instant::from_millis(4_000));
    assert_eq!(server.state(), State::Open, "the Pong came in time");
    assert_eq!(drain_in(&mut server, 139), b"\x89\x00");
}

#[test]
fn several_owed_frames_come_out_through_a_small_buffer() {
    let keepalive = Keepalive::idle(Duration::from_secs(1), Duration::from_secs(3));
    let mut server = Connection::server(Config::new().keepalive(Some(keepalive)), Instant::ZERO);
    let mut ping = *b"\x89\x82\0\0\0\0hi";
    let _ = server.receive(&mut ping, Instant::ZERO).unwrap();
    server.handle_timeout(Instant::from_millis(1_000));
    // A Pong (4 bytes) and a keepalive Ping (2 bytes) through 3 bytes.
    assert_eq!(drain_in(&mut server, 3), b"\x8a\x02hi\x89\x00");
}

#[test]
fn control_frames_follow_the_state_and_the_125_byte_limit() {
    let mut out = [0u8; 256];
    // A Close with a 123-byte reason is the largest: 2 + 123 = 125.
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let reason = "r".repeat(123);
    assert_eq!(
        server.send_close(Some(1000), &reason, Instant::ZERO, &mut out),
        Ok(127)
    );
    // After a failure, before its Close is out, nothing else may be sent.
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let mut unmasked = *b"\x81\x01x";
    assert!(server.receive(&mut unmasked, Instant::ZERO).is_err());
    for result in [
        server.send_ping(b"", Instant::ZERO, &mut out),
        server.send_pong(b"", &mut out),
        server.send_text("x", &mut out),
    ] {
        assert!(
            matches!(result, Err(Error::Local(LocalError::WrongState { .. }))),
            "{result:?}"
        );
    }
}

#[test]
fn no_mask_on_a_client_means_the_zero_key() {
    use protoswitch::ws::{MIN_RECEIVE_BUFFER, MIN_TRANSMIT_BUFFER, NoMask};
    let mut client = Connection::client(Config::default(), Instant::ZERO, NoMask);
    let mut out = [0u8; 16];
    let n = client.send_text("hi", &mut out).unwrap();
    assert_eq!(&out[..n], b"\x81\x82\0\0\0\0hi");
    // The sizes that hold any control frame: a 14-byte header and 125 bytes.
    assert_eq!((MIN_RECEIVE_BUFFER, MIN_TRANSMIT_BUFFER), (139, 139));
}

#[test]
fn a_newer_ping_replaces_the_pong_not_yet_started() {
    // RFC 6455 §5.5.3: answering only the most recent Ping is allowed.
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let mut pings = *b"\x89\x82\0\0\0\0hi\x89\x83\0\0\0\0you";
    let first = server.receive(&mut pings, Instant::ZERO).unwrap();
    assert_eq!(first.event, Some(Event::Ping(b"hi")));
    let consumed = first.consumed;
    let second = server
        .receive(&mut pings[consumed..], Instant::ZERO)
        .unwrap();
    assert_eq!(second.event, Some(Event::Ping(b"you")));
    assert_eq!(drain(&mut server), b"\x8a\x03you");
}

#[test]
fn a_ping_waits_unconsumed_while_a_pong_is_half_handed_out() {
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let mut ping = *b"\x89\x82\0\0\0\0hi";
    let _ = server.receive(&mut ping, Instant::ZERO).unwrap();
    let mut three = [0u8; 3];
    assert_eq!(server.poll_transmit(&mut three), 3);
    assert_eq!(&three, b"\x8a\x02h");
    // The machine keeps one Pong payload, and half of it is out: the next
    // Ping stays in the buffer, nothing consumed, nothing unmasked.
    let masked_ping = *b"\x89\x83\x01\x02\x03\x04\x79\x6d\x76";
    let mut buf = masked_ping;
    let held = server.receive(&mut buf, Instant::ZERO).unwrap();
    assert_eq!((held.consumed, held.event), (0, None));
    assert_eq!(buf, masked_ping, "not unmasked twice");
    // Data frames before it still flow.
    let mut data_then_ping = b"\x82\x81\0\0\0\0z".to_vec();
    data_then_ping.extend_from_slice(&masked_ping);
    let got = server.receive(&mut data_then_ping, Instant::ZERO).unwrap();
    assert_eq!(got.consumed, 7);
    assert!(matches!(got.event, Some(Event::Data(_))));
    // Once the Pong is out, the Ping is taken and answered.
    assert_eq!(drain(&mut server), b"i");
    let got = server.receive(&mut buf, Instant::ZERO).unwrap();
    assert_eq!(got.consumed, 9);
    assert_eq!(got.event, Some(Event::Ping(b"xou")));
    assert_eq!(drain(&mut server), b"\x8a\x03xou");
}

#[test]
fn a_ping_waits_only_for_a_pong_half_out_not_for_a_close_or_ping() {
    // A keepalive Ping half handed out does not hold the peer's Ping back.
    let keepalive = Keepalive::idle(Duration::from_secs(1), Duration::from_secs(3));
    let mut server = Connection::server(Config::new().keepalive(Some(keepalive)), Instant::ZERO);
    server.handle_timeout(Instant::from_millis(1_000));
    let mut one = [0u8; 1];
    assert_eq!(server.poll_transmit(&mut one), 1);
    let mut ping = *b"\x89\x81\0\0\0\0p";
    let got = server
        .receive(&mut ping, Instant::from_millis(1_000))
        .unwrap();
    assert_eq!(got.event, Some(Event::Ping(b"p")));
    assert_eq!(drain(&mut server), b"\x00\x8a\x01p");
}

#[test]
fn the_configuration_is_kept_with_millisecond_timers() {
    let keepalive = Keepalive::fixed(Duration::from_micros(1_500), Duration::from_secs(3));
    let config = Config::new()
        .max_frame_payload(7)
        .max_message_size(9)
        .max_fragments(3)
        .auto_pong(false)
        .close_timeout(Duration::from_nanos(1))
        .keepalive(Some(keepalive))
        .whole_frames(true);
    let kept = Connection::server(config, Instant::ZERO).config();
    // Rounded up to whole milliseconds, never down to zero.
    let expected = config
        .close_timeout(Duration::from_millis(1))
        .keepalive(Some(Keepalive::fixed(
            Duration::from_millis(2),
            Duration::from_secs(3),
        )));
    assert_eq!(kept, expected);
    // Beyond about 49 days the timers saturate.
    let long = Config::new().close_timeout(Duration::from_secs(60 * 86_400));
    assert_eq!(
        Connection::server(long, Instant::ZERO)
            .config()
            .close_timeout,
        Duration::from_millis(u64::from(u32::MAX))
    );
}

/// An empty buffer, between frames and inside one (a frame's first bytes
/// consumed, its payload still to come), is "need more": nothing consumed,
/// no event, and the frame then decodes as if the empty calls never
/// happened (the state the documented loop's last call leaves).
#[test]
fn an_empty_buffer_between_and_inside_frames_needs_more() {
    let mut client = Connection::client(Config::default(), Instant::ZERO, || KEY);
    let mut wire = vec![0u8; 64];
    let n = client.send_binary(b"0123456789", &mut wire).unwrap();
    wire.truncate(n);
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let nothing = |server: &mut Connection| {
        let got = server.receive(&mut [], Instant::ZERO).unwrap();
        assert_eq!((got.consumed, got.event.is_none()), (0, true));
    };
    nothing(&mut server);
    // The header and four payload bytes: a first chunk.
    let (first, rest) = wire.split_at_mut(6 + 4);
    let got = server.receive(first, Instant::ZERO).unwrap();
    let Some(Event::Data(chunk)) = got.event else {
        panic!("a chunk")
    };
    assert_eq!((chunk.payload, chunk.message_end), (&b"0123"[..], false));
    nothing(&mut server);
    let got = server.receive(rest, Instant::ZERO).unwrap();
    let Some(Event::Data(chunk)) = got.event else {
        panic!("a chunk")
    };
    assert_eq!((chunk.payload, chunk.message_end), (&b"456789"[..], true));
    nothing(&mut server);
    assert_eq!(server.state(), State::Open);
}

/// `whole_frames`: the masked frame of `payload` (binary, or text) a client
/// sends with key `KEY`.
fn client_frame(payload: &[u8], text: bool) -> Vec<u8> {
    let mut client = Connection::client(Config::default(), Instant::ZERO, || KEY);
    let mut wire = vec![0u8; payload.len() + 14];
    let n = if text {
        client
            .send_header(MessageKind::Text, payload.len() as u64, true, &mut wire)
            .map(|(n, _)| n)
            .unwrap()
    } else {
        client.send_binary(payload, &mut wire).unwrap()
    };
    wire.truncate(n);
    if text {
        let mut masked = payload.to_vec();
        protoswitch::ws::apply_mask(&mut masked, KEY, 0);
        wire.extend_from_slice(&masked);
    }
    wire
}

/// Feeds `wire` one byte more at a time (the buffer holds every byte not
/// consumed) until the first event or error; returns how many bytes had
/// arrived then, how many were consumed before, and what came (payload,
/// `frame_end`, `message_end` of a data chunk; `None` for another event).
#[allow(clippy::type_complexity)]
fn first_event_growing(
    server: &mut Connection,
    wire: &[u8],
) -> (usize, usize, Result<Option<(Vec<u8>, bool, bool)>, Error>) {
    let mut start = 0;
    for end in 1..=wire.len() {
        let mut buf = wire[start..end].to_vec();
        match server.receive(&mut buf, Instant::ZERO) {
            Ok(got) => match got.event {
                None => start += got.consumed,
                Some(Event::Data(chunk)) => {
                    assert_eq!(start + got.consumed, end, "the chunk ends the buffer");
                    let data = (chunk.payload.to_vec(), chunk.frame_end, chunk.message_end);
                    return (end, start, Ok(Some(data)));
                }
                Some(_) => return (end, start, Ok(None)),
            },
            Err(e) => return (end, start, Err(e)),
        }
    }
    panic!("no event for {} bytes", wire.len())
}

/// `whole_frames`: a frame arriving a byte at a time comes out once, whole,
/// when its last byte is here; by default its first payload byte comes out
/// as soon as it arrives.
#[test]
fn whole_frames_deliver_a_frame_once_it_is_all_here() {
    let payload: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
    let wire = client_frame(&payload, false);
    assert_eq!(wire.len(), 4 + 4 + 300);
    let whole = Config::new().whole_frames(true);
    let mut server = Connection::server(whole, Instant::ZERO);
    let (seen, consumed, got) = first_event_growing(&mut server, &wire);
    assert_eq!((seen, consumed), (wire.len(), 0));
    assert_eq!(got.unwrap(), Some((payload.clone(), true, true)));
    // Default: the header is consumed, one payload byte is a first chunk.
    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let (seen, consumed, got) = first_event_growing(&mut server, &wire);
    assert_eq!((seen, consumed), (9, 8));
    assert_eq!(got.unwrap(), Some((payload[..1].to_vec(), false, false)));
}

/// `whole_frames`: a frame larger than `max_frame_payload` fails with 1009
/// on its header (it would never fit); one at the limit waits, then comes.
#[test]
fn whole_frames_refuse_a_too_large_frame_on_its_header() {
    let whole = Config::new().whole_frames(true).max_frame_payload(200);
    let over = client_frame(&[1; 201], false);
    let mut server = Connection::server(whole, Instant::ZERO);
    let (seen, _, got) = first_event_growing(&mut server, &over);
    assert_eq!(seen, 8, "the 16-bit length and the mask key");
    let err = got.unwrap_err();
    let peer = err.peer().expect("a peer error");
    assert_eq!(peer.kind(), PeerErrorKind::FrameTooLarge { limit: 200 });
    assert_eq!(peer.close_code(), Some(1009));
    let at = client_frame(&[1; 200], false);
    let mut server = Connection::server(whole, Instant::ZERO);
    let (seen, consumed, got) = first_event_growing(&mut server, &at);
    assert_eq!((seen, consumed), (at.len(), 0));
    assert_eq!(got.unwrap(), Some((vec![1; 200], true, true)));
}

/// `whole_frames`: fragmentation and message-size rules fail on the
/// header, without waiting for the payload; UTF-8 fails (1007) once the
/// frame is whole, and not before.
#[test]
fn whole_frames_check_headers_at_once_and_text_when_whole() {
    let whole = Config::new().whole_frames(true);
    // A continuation with no message begun.
    let mut lone = client_frame(&[0; 50], false);
    lone[0] = 0x80;
    let (seen, _, got) = first_event_growing(&mut Connection::server(whole, Instant::ZERO), &lone);
    assert_eq!(seen, 6);
    assert_eq!(
        got.unwrap_err().peer().map(|p| p.kind()),
        Some(PeerErrorKind::UnexpectedContinuation)
    );
    // A message over max_message_size, told by its second fragment's header.
    let small = whole.max_message_size(60);
    let mut server = Connection::server(small, Instant::ZERO);
    let mut first = client_frame(&[0; 40], false);
    first[0] = 0x02; // Binary, not FIN
    let got = server.receive(&mut first, Instant::ZERO).unwrap();
    assert!(matches!(got.event, Some(Event::Data(c)) if c.frame_end && !c.message_end));
    let mut second = client_frame(&[0; 40], false);
    second[0] = 0x80; // Continuation, FIN
    let (seen, _, got) = first_event_growing(&mut server, &second);
    assert_eq!(seen, 6);
    assert_eq!(
        got.unwrap_err().peer().map(|p| p.kind()),
        Some(PeerErrorKind::MessageTooLarge { limit: 60 })
    );
    // Invalid UTF-8 at the start of a text frame: by default it fails on
    // its first payload byte, with whole frames on its last.
    let mut bad = b"\xff".to_vec();
    bad.extend_from_slice(&[b'a'; 99]);
    let text = client_frame(&bad, true);
    for (config, at) in [(whole, text.len()), (Config::default(), 7)] {
        let (seen, _, got) =
            first_event_growing(&mut Connection::server(config, Instant::ZERO), &text);
        assert_eq!(seen, at);
        let err = got.unwrap_err();
        assert_eq!(err.peer().and_then(|p| p.close_code()), Some(1007));
    }
}

/// `whole_frames`: bytes of a frame still arriving keep an idle keepalive
/// quiet, though nothing is consumed.
#[test]
fn whole_frames_waiting_counts_as_activity() {
    let config = Config::new()
        .whole_frames(true)
        .keepalive(Some(Keepalive::idle(
            Duration::from_secs(2),
            Duration::from_secs(1),
        )));
    let mut server = Connection::server(config, Instant::ZERO);
    let wire = client_frame(&[5; 100], false);
    for (i, end) in (1..wire.len()).enumerate() {
        let now = Instant::from_millis(1_000 * i as u64);
        let mut buf = wire[..end].to_vec();
        let got = server.receive(&mut buf, now).unwrap();
        assert_eq!((got.consumed, got.event.is_none()), (0, true));
        assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(2)));
    }
    assert_eq!(server.state(), State::Open);
}

#[test]
fn a_reading_pause_holds_the_keepalive_and_extends_an_awaited_pong() {
    let ms = Instant::from_millis;
    let keepalive = Keepalive::idle(Duration::from_secs(30), Duration::from_secs(10));
    let mut server = Connection::server(Config::new().keepalive(Some(keepalive)), Instant::ZERO);
    // No Ping awaited: the next one is due an interval after the pause.
    server.pause_reading(ms(45_000), ms(5_000));
    assert_eq!(server.poll_timeout(), Some(ms(75_000)));
    server.handle_timeout(ms(74_999));
    assert!(
        drain(&mut server).is_empty(),
        "no Ping during or right after the pause"
    );
    server.handle_timeout(ms(75_000));
    assert_eq!(drain(&mut server), b"\x89\x00");
    // A Pong awaited (due at 85 s): a 20 s pause from 80 s moves it to 105 s.
    assert_eq!(server.poll_timeout(), Some(ms(85_000)));
    server.pause_reading(ms(100_000), ms(80_000));
    assert_eq!(server.poll_timeout(), Some(ms(105_000)));
    server.handle_timeout(ms(104_999));
    assert_eq!(server.state(), State::Open);
    let mut pong = vec![0x8a, 0x80, 0, 0, 0, 0];
    let _ = server.receive(&mut pong, ms(104_000)).unwrap();
    assert_eq!(server.poll_timeout(), Some(ms(134_000)));
    // Unanswered after a pause: still found dead, at the moved deadline.
    server.handle_timeout(ms(134_000));
    assert!(!drain(&mut server).is_empty());
    server.pause_reading(ms(140_000), ms(135_000));
    server.handle_timeout(ms(148_999));
    assert_eq!(server.state(), State::Open);
    server.handle_timeout(ms(149_000));
    assert_eq!(server.close_cause(), Some(CloseCause::PeerUnresponsive));
    // Once closing, a pause moves nothing (the close timeout runs on).
    let mut closing = Connection::server(Config::new().keepalive(Some(keepalive)), Instant::ZERO);
    let mut out = [0u8; 16];
    let _ = closing
        .send_close(Some(1000), "", Instant::ZERO, &mut out)
        .unwrap();
    let deadline = closing.poll_timeout();
    closing.pause_reading(ms(60_000), Instant::ZERO);
    assert_eq!(closing.poll_timeout(), deadline);
}
