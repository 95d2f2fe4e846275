//! Every handshake path, driven through the in-memory client↔server pair:
//! exact bytes on the wire, events, state transcripts, leftover bytes.

use protoswitch::upgrade::{
    Accept, ClientRequest, ClientState as C, Diagnosis, Response, ServerState as S,
};
use protoswitch::{Duration, Header};
use protoswitch_testkit::pair::{Decision, Ev, Pair};

const NONCE: [u8; 16] = *b"the sample nonce";

#[test]
fn websocket_101_with_leftover_bytes_on_both_sides() {
    let request = ClientRequest::new("GET", "/chat", "server.example.com", &["websocket"])
        .websocket_key(NONCE)
        .origin("http://example.com")
        .subprotocols(&["chat", "superchat"]);
    let mut pair = Pair::new(
        request,
        Decision::Accept(Accept::new("websocket").subprotocol("chat")),
    );
    pair.client_after = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"; // RFC 6455 §5.7 masked "Hello"
    pair.server_after = b"\x81\x05Hello";
    let t = pair.run();
    assert_eq!(
        t.to_server,
        [
            &b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
               Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n"[..],
            pair.client_after
        ]
        .concat()
    );
    assert_eq!(
        t.to_client,
        [
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"[..],
            pair.server_after
        ]
        .concat()
    );
    assert_eq!(
        t.client_events,
        [Ev::Switched {
            protocol: "websocket".into(),
            subprotocol: Some("chat".into())
        }]
    );
    assert_eq!(t.server_leftover, pair.client_after);
    assert_eq!(t.client_leftover, pair.server_after);
    assert_eq!(t.client_states, [C::AwaitingResponse, C::Switched]);
    assert_eq!(
        t.server_states,
        [S::ReadingHead, S::RequestReceived, S::Switched]
    );
}

#[test]
fn h2c_101_with_settings_and_preface() {
    let request =
        ClientRequest::new("GET", "/", "h", &["h2c"]).h2c_settings(&[(3, 100), (4, 65535)]);
    let mut pair = Pair::new(request, Decision::Accept(Accept::new("h2c")));
    pair.client_after = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    pair.server_after = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    let t = pair.run();
    assert_eq!(
        t.to_server,
        [
            &b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\
               HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"[..],
            pair.client_after
        ]
        .concat()
    );
    assert_eq!(
        t.to_client,
        [
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"[..],
            pair.server_after
        ]
        .concat()
    );
    assert_eq!(t.server_leftover, pair.client_after);
    assert_eq!(t.client_leftover, pair.server_after);
    assert_eq!(
        t.client_events,
        [Ev::Switched {
            protocol: "h2c".into(),
            subprotocol: None
        }]
    );
}

#[test]
fn custom_token_with_100_continue_body_then_101() {
    let request = ClientRequest::new("POST", "/upload", "h", &["echo/1"])
        .body(5)
        .expect_continue();
    let mut pair = Pair::new(request, Decision::Accept(Accept::new("ECHO/1")));
    pair.body = b"hello";
    pair.client_after = b"raw bytes";
    let t = pair.run();
    assert_eq!(
        t.to_server,
        [
            &b"POST /upload HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\n\
               Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"[..],
            b"hello",
            b"raw bytes"
        ]
        .concat()
    );
    // The 101 names the protocol as the server spelled it (tokens compare
    // ignoring case, RFC 9110 §7.8), and the client takes it.
    assert_eq!(
        t.to_client,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: ECHO/1\r\nConnection: Upgrade\r\n\r\n"
    );
    assert_eq!(
        t.server_events,
        [
            Ev::Request {
                method: "POST".into(),
                target: "/upload".into()
            },
            Ev::Body(b"hello".to_vec()),
            Ev::BodyEnd
        ]
    );
    assert_eq!(
        t.client_events,
        [
            Ev::Interim(100),
            Ev::Switched {
                protocol: "ECHO/1".into(),
                subprotocol: None
            }
        ]
    );
    assert_eq!(t.server_leftover, b"raw bytes");
    assert_eq!(t.waited, Duration::ZERO);
    assert_eq!(
        t.client_states,
        [
            C::WaitingForContinue,
            C::SendingBody,
            C::AwaitingResponse,
            C::Switched
        ]
    );
    assert_eq!(
        t.server_states,
        [
            S::ReadingHead,
            S::HeadReceived,
            S::ReadingBody,
            S::RequestReceived,
            S::Switched
        ]
    );
}

#[test]
fn client_sends_body_after_continue_timeout() {
    let request = ClientRequest::new("POST", "/", "h", &["echo/1"])
        .body(3)
        .expect_continue();
    let mut pair = Pair::new(request, Decision::Accept(Accept::new("echo/1")));
    pair.body = b"abc";
    pair.server_silent_on_expect = true;
    let t = pair.run();
    assert_eq!(t.waited, Duration::from_secs(1));
    assert_eq!(
        t.client_states,
        [
            C::WaitingForContinue,
            C::SendingBody,
            C::AwaitingResponse,
            C::Switched
        ]
    );
    assert!(t.server_events.contains(&Ev::Body(b"abc".to_vec())));
}

#[test]
fn body_never_sent_after_final_status() {
    let request = ClientRequest::new("POST", "/", "h", &["echo/1"])
        .body(3)
        .expect_continue();
    let mut pair = Pair::new(
        request,
        Decision::RespondAtHead(Response::new(403).body(b"no")),
    );
    pair.body = b"abc";
    let t = pair.run();
    assert!(!t.to_server.ends_with(b"abc"), "the body must not be sent");
    assert_eq!(
        t.to_client,
        b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"
    );
    assert_eq!(
        t.client_events,
        [
            Ev::Declined {
                status: 403,
                diagnosis: Diagnosis::NotAuthorized
            },
            Ev::Body(b"no".to_vec()),
            Ev::BodyEnd
        ]
    );
    assert_eq!(
        t.client_states,
        [C::WaitingForContinue, C::ReadingBody, C::Done]
    );
    assert_eq!(
        t.server_states,
        [S::ReadingHead, S::HeadReceived, S::Responded]
    );
}

#[test]
fn require_upgrade_426_when_offer_missing() {
    let request = ClientRequest::new("GET", "/ws", "h", &["echo/1"]);
    let t = Pair::new(request, Decision::WebSocketOrError).run();
    assert_eq!(
        t.to_client,
        b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        t.client_events,
        [Ev::Declined {
            status: 426,
            diagnosis: Diagnosis::UpgradeRequired
        }]
    );
    assert_eq!(t.client_states, [C::AwaitingResponse, C::Done]);
}

#[test]
fn declined_200_401_301() {
    let auth = [Header::new("WWW-Authenticate", b"Bearer")];
    let location = [Header::new("Location", b"/new")];
    let cases: [(Response<'_>, Diagnosis, &[u8]); 3] = [
        (
            Response::new(200).body(b"plain page"),
            Diagnosis::UpgradeIgnored,
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nplain page",
        ),
        (
            Response::new(401).headers(&auth),
            Diagnosis::NotAuthorized,
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n",
        ),
        (
            Response::new(301).headers(&location),
            Diagnosis::Redirected,
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n",
        ),
    ];
    for (response, diagnosis, wire) in cases {
        let request = ClientRequest::new("GET", "/ws", "h", &["websocket"]).websocket_key(NONCE);
        let t = Pair::new(request, Decision::Respond(response)).run();
        assert_eq!(t.to_client, wire);
        assert_eq!(
            t.client_events[0],
            Ev::Declined {
                status: response.status(),
                diagnosis
            }
        );
        if response.status() == 200 {
            assert_eq!(
                t.client_events[1..],
                [Ev::Body(b"plain page".to_vec()), Ev::BodyEnd]
            );
        } else {
            assert_eq!(t.client_events.len(), 1, "no body, no body events");
        }
        assert_eq!(
            t.client_states,
            [C::AwaitingResponse, C::ReadingBody, C::Done]
                .iter()
                .copied()
                .filter(|s| { *s != C::ReadingBody || response.status() == 200 })
                .collect::<Vec<_>>()
        );
        assert_eq!(
            t.server_states,
            [S::ReadingHead, S::RequestReceived, S::Responded]
        );
    }
}
