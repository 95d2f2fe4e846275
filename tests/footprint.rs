//! The footprint budgets of DESIGN.md, asserted: the size of every machine's
//! state (printed, so CI shows them: `cargo test --test footprint -- --nocapture`)
//! and zero heap allocations per frame and per handshake, counted by a
//! global allocator.

use protoswitch::Instant;
use protoswitch::relay::{Event as RelayEvent, Relay, RelayConfig};
use protoswitch::upgrade::{
    Accept, ClientEvent, ClientHandshake, ClientRequest, ServerEvent, ServerHandshake,
};
use protoswitch::ws::{Config, Connection, Event, MessageKind};
use protoswitch_testkit::alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn state_sizes_are_within_budget() {
    let sizes = [
        ("ws::Connection", size_of::<Connection>(), 256),
        (
            "upgrade::ServerHandshake",
            size_of::<ServerHandshake>(),
            512,
        ),
        (
            "upgrade::ClientHandshake",
            size_of::<ClientHandshake>(),
            512,
        ),
        ("relay::Relay", size_of::<Relay<'static>>(), 512),
    ];
    for (name, size, budget) in sizes {
        println!("size_of::<{name}>() = {size} bytes (budget {budget})");
    }
    for (name, size, budget) in sizes {
        assert!(size <= budget, "{name}: {size} bytes, budget {budget}");
    }
}

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

#[test]
fn no_allocation_per_frame() {
    // Frames of every size class and kind, masked by a client.
    let mut client = Connection::client(Config::default(), Instant::ZERO, || KEY);
    let mut wire = Vec::new();
    let mut out = vec![0u8; 70_000];
    for len in [0, 1, 125, 126, 65_535, 65_536] {
        let n = client.send_binary(&vec![7; len], &mut out).unwrap();
        wire.extend_from_slice(&out[..n]);
    }
    let text = "Hello, мир! こんにちは 🌍".repeat(40);
    let n = client.send_text(&text, &mut out).unwrap();
    wire.extend_from_slice(&out[..n]);
    for (i, piece) in text.as_bytes().chunks(7).enumerate() {
        let fin = (i + 1) * 7 >= text.len();
        let n = client
            .send_fragment(MessageKind::Text, piece, fin, &mut out)
            .unwrap();
        wire.extend_from_slice(&out[..n]);
    }
    let n = client.send_ping(b"ping", Instant::ZERO, &mut out).unwrap();
    wire.extend_from_slice(&out[..n]);
    let n = client
        .send_close(Some(1000), "bye", Instant::ZERO, &mut out)
        .unwrap();
    wire.extend_from_slice(&out[..n]);

    let mut server = Connection::server(Config::default(), Instant::ZERO);
    let mut reply = [0u8; 256];
    let ((events, payload), count) = allocations(|| {
        let (mut events, mut payload, mut at) = (0, 0, 0);
        // Reads of 4 KiB, as a caller's loop would hand them.
        while at < wire.len() {
            let end = (at + 4096).min(wire.len());
            let mut start = at;
            loop {
                let got = server
                    .receive(&mut wire[start..end], Instant::ZERO)
                    .unwrap();
                start += got.consumed;
                let Some(event) = got.event else { break };
                events += 1;
                if let Event::Data(chunk) = event {
                    payload += chunk.payload.len();
                }
                while server.poll_transmit(&mut reply) > 0 {}
            }
            // What was not consumed is read again with the next piece; a
            // window of 4 KiB always holds a header or a control frame.
            if start == at {
                assert_eq!(end, wire.len(), "no progress at {at}");
                break;
            }
            at = start;
        }
        (events, payload)
    });
    assert_eq!(count, 0, "{count} allocations for {events} events");
    assert!(payload >= 131_000 + 2 * text.len(), "{payload} bytes seen");
    assert_eq!(server.state(), protoswitch::ws::State::Closed);
}

#[test]
fn no_allocation_per_handshake() {
    let mut out = [0u8; 1024];
    let request = ClientRequest::new("GET", "/chat", "example.com", &["websocket"])
        .websocket_key(*b"0123456789abcdef")
        .subprotocols(&["chat", "superchat"]);
    let ((), count) = allocations(|| {
        let (mut client, n) =
            ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut out).unwrap();
        let mut server = ServerHandshake::new(Default::default());
        let wire = out;
        let got = server.receive(&wire[..n]).unwrap();
        let Some(ServerEvent::Request(req)) = got.event else {
            panic!("{:?}", got.event)
        };
        let switch = req
            .switch(&Accept::new("websocket").subprotocol("chat"))
            .unwrap();
        let mut response = [0u8; 512];
        let m = server.accept(&switch, &mut response).unwrap();
        let got = client.receive(&response[..m]).unwrap();
        assert!(matches!(got.event, Some(ClientEvent::Switched { .. })));
        let _ = Connection::from_server_handshake(server, Config::default(), Instant::ZERO);
    });
    assert_eq!(count, 0);
}

#[test]
fn no_allocation_per_relayed_upgrade() {
    let request =
        b"GET /chat HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let response =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut out = [0u8; 512];
    let (written, count) = allocations(|| {
        let mut relay = Relay::new(RelayConfig::new().via("edge"));
        let mut written = 0;
        let got = relay.receive_downstream(request).unwrap();
        if let Some(RelayEvent::Request(r)) = got.event {
            written += r.write(&mut out).unwrap();
        }
        let got = relay.receive_upstream(response).unwrap();
        if let Some(RelayEvent::Switched(r)) = got.event {
            written += r.write(&mut out).unwrap();
        }
        assert_eq!(relay.state(), protoswitch::relay::RelayState::Tunnel);
        written
    });
    assert!(written > request.len());
    assert_eq!(count, 0);
}
