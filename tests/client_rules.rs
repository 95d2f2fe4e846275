//! Client rules: request bytes, 101 verification, interim responses,
//! declined responses with bodies, diagnoses, timers.

use protoswitch::upgrade::{
    ClientConfig, ClientHandshake, ClientRequest, ClientState, Diagnosis, ProtocolKind,
};
use protoswitch::{Duration, Error, Header, Instant, LocalError, PeerErrorKind as K, Reply};
use protoswitch_testkit::pair::{Ev, feed_client};

const NONCE: [u8; 16] = *b"the sample nonce";

fn ws() -> ClientRequest<'static> {
    ClientRequest::new("GET", "/chat", "h", &["websocket"])
        .websocket_key(NONCE)
        .subprotocols(&["chat"])
}

const OK_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                      Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

fn switched(protocol: &str, sub: Option<&str>) -> Ev {
    Ev::Switched {
        protocol: protocol.into(),
        subprotocol: sub.map(Into::into),
    }
}

#[test]
fn verified_101_and_leftover() {
    let resp = format!("{OK_101}Sec-WebSocket-Protocol: chat\r\n\r\n\x01\x02hi");
    let (events, rest, client) = feed_client(&ws(), resp.as_bytes(), &[]);
    assert_eq!(events, [switched("websocket", Some("chat"))]);
    assert_eq!(rest, b"\x01\x02hi");
    assert_eq!(client.switched_to(), Some(ProtocolKind::WebSocket));
}

#[test]
fn bad_101s_are_peer_errors() {
    let cases: [(String, K); 9] = [
        (
            OK_101.replace(
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ) + "\r\n",
            K::AcceptMismatch,
        ),
        (
            OK_101.replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", "") + "\r\n",
            K::AcceptMissing,
        ),
        (
            OK_101.replace("Upgrade: websocket", "Upgrade: h2c") + "\r\n",
            K::SwitchedToUnofferedProtocol,
        ),
        (
            OK_101.replace("Upgrade: websocket\r\n", "") + "\r\n",
            K::SwitchedToUnofferedProtocol,
        ),
        (
            OK_101.replace("Upgrade: websocket", "Upgrade: websocket, h2c") + "\r\n",
            K::SwitchedToUnofferedProtocol,
        ),
        (
            OK_101.replace("Connection: Upgrade", "Connection: keep-alive") + "\r\n",
            K::SwitchWithoutConnectionUpgrade,
        ),
        (
            format!("{OK_101}Sec-WebSocket-Protocol: superchat\r\n\r\n"),
            K::SubprotocolNotOffered,
        ),
        (
            format!("{OK_101}Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
            K::ExtensionNotOffered,
        ),
        (
            OK_101.replace("HTTP/1.1", "HTTP/1.0") + "\r\n",
            K::SwitchInHttp10,
        ),
    ];
    for (resp, kind) in cases {
        let (events, _, client) = feed_client(&ws(), resp.as_bytes(), &[]);
        assert_eq!(events, [Ev::Error(kind)], "{resp}");
        assert_eq!(client.state(), ClientState::Failed);
        assert_eq!(client.error().unwrap().reply(), Reply::CloseTransport);
    }
}

#[test]
fn switch_before_body_is_refused() {
    let req = ClientRequest::new("POST", "/", "h", &["echo/1"])
        .body(4)
        .expect_continue();
    let resp =
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo/1\r\nConnection: upgrade\r\n\r\n";
    let mut out = [0u8; 512];
    let (mut c, _) =
        ClientHandshake::start(&req, ClientConfig::default(), Instant::ZERO, &mut out).unwrap();
    let err = c.receive(resp).unwrap_err();
    assert_eq!(err.peer().unwrap().kind(), K::SwitchBeforeBodySent);
}

#[test]
fn interim_responses_are_skipped() {
    let resp = format!(
        "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n{OK_101}\r\n"
    );
    let (events, rest, _) = feed_client(&ws(), resp.as_bytes(), &[]);
    assert_eq!(
        events,
        [
            Ev::Interim(102),
            Ev::Interim(103),
            switched("websocket", None)
        ]
    );
    assert!(rest.is_empty());
}

#[test]
fn declined_bodies_all_framings() {
    let cases: [(&[u8], Diagnosis, &[u8]); 5] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", Diagnosis::UpgradeIgnored, b"hello"),
        (b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nreason\r\n0\r\n\r\n", Diagnosis::Rejected, b"reason"),
        (b"HTTP/1.0 200 OK\r\n\r\nold server", Diagnosis::Http10Peer, b"old server"),
        (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad", Diagnosis::GatewayProblem, b"bad"),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx", Diagnosis::NotFound, b"x"),
    ];
    for (resp, diagnosis, body) in cases {
        let (mut events, _, mut client) = feed_client(&ws(), resp, &[]);
        if client.state() == ClientState::ReadingBody {
            // Until-close body: the transport's end ends it.
            let ev = client.receive_eof().unwrap().unwrap();
            events.push(protoswitch_testkit::pair::client_event(&ev));
        }
        let status = std::str::from_utf8(&resp[9..12])
            .unwrap()
            .parse::<u16>()
            .unwrap();
        assert_eq!(
            events,
            [
                Ev::Declined { status, diagnosis },
                Ev::Body(body.to_vec()),
                Ev::BodyEnd
            ],
            "{}",
            String::from_utf8_lossy(resp)
        );
        assert_eq!(client.state(), ClientState::Done);
    }
    assert!(
        Diagnosis::UpgradeIgnored
            .to_string()
            .contains("intermediary removed the hop-by-hop Upgrade/Connection headers")
    );
    assert!(Diagnosis::Http10Peer.to_string().contains("HTTP/1.0"));
}

#[test]
fn eof_before_response_and_inside_body() {
    let mut out = [0u8; 512];
    let (mut c, _) =
        ClientHandshake::start(&ws(), ClientConfig::default(), Instant::ZERO, &mut out).unwrap();
    assert_eq!(
        c.receive_eof().unwrap_err().peer().unwrap().kind(),
        K::ClosedBeforeHead
    );
    let (mut c, _) =
        ClientHandshake::start(&ws(), ClientConfig::default(), Instant::ZERO, &mut out).unwrap();
    let got = c
        .receive(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
        .unwrap();
    assert!(matches!(
        got.event,
        Some(protoswitch::upgrade::ClientEvent::Declined { .. })
    ));
    let _ = c
        .receive(&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"[got.consumed..])
        .unwrap();
    assert_eq!(
        c.receive_eof().unwrap_err().peer().unwrap().kind(),
        K::ClosedInBody
    );
}

#[test]
fn continue_timer() {
    let req = ClientRequest::new("PUT", "/", "h", &["echo/1"])
        .body(1)
        .expect_continue();
    let mut out = [0u8; 512];
    let config = ClientConfig::new().continue_timeout(Duration::from_millis(250));
    let t0 = Instant::from_millis(10_000);
    let (mut c, _) = ClientHandshake::start(&req, config, t0, &mut out).unwrap();
    assert_eq!(c.poll_timeout(), Some(Instant::from_millis(10_250)));
    c.handle_timeout(Instant::from_millis(10_249));
    assert_eq!(c.state(), ClientState::WaitingForContinue);
    c.handle_timeout(Instant::from_millis(10_250));
    assert_eq!(c.state(), ClientState::SendingBody);
    assert_eq!(c.poll_timeout(), None);
    c.body_sent().unwrap();
    assert!(matches!(
        c.body_sent(),
        Err(LocalError::WrongState {
            operation: "body_sent",
            ..
        })
    ));
}

#[test]
fn request_bytes_and_local_errors() {
    let extra = [Header::new("Authorization", b"Bearer t")];
    let req = ClientRequest::new("GET", "/ws", "example.com:8080", &["websocket", "echo/1"])
        .websocket_key([0; 16])
        .extensions(&["permessage-deflate; client_max_window_bits"])
        .headers(&extra);
    let mut out = [0u8; 512];
    let (_, n) =
        ClientHandshake::start(&req, ClientConfig::default(), Instant::ZERO, &mut out).unwrap();
    assert_eq!(
        std::str::from_utf8(&out[..n]).unwrap(),
        "GET /ws HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket, echo/1\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nAuthorization: Bearer t\r\n\r\n"
    );
    let mut small = [0u8; 10];
    assert_eq!(
        ClientHandshake::start(&req, ClientConfig::default(), Instant::ZERO, &mut small).err(),
        Some(Error::BufferTooSmall { needed: n })
    );
    let bad: [(ClientRequest<'_>, LocalError); 5] = [
        (
            ClientRequest::new("GET", "/", "h", &[]),
            LocalError::NoOffer,
        ),
        (
            ClientRequest::new("GET", "/", "h", &["websocket"]),
            LocalError::MissingParameter("websocket_key"),
        ),
        (
            ClientRequest::new("GET", "/", "h", &["h2c"]),
            LocalError::MissingParameter("h2c_settings"),
        ),
        (
            ClientRequest::new("GET", "/ x", "h", &["a"]),
            LocalError::InvalidRequestLine,
        ),
        (
            ClientRequest::new("GET", "/", "h", &["a b"]),
            LocalError::InvalidToken,
        ),
    ];
    for (r, want) in bad {
        assert_eq!(
            ClientHandshake::start(&r, ClientConfig::default(), Instant::ZERO, &mut out).err(),
            Some(Error::Local(want))
        );
    }
}

#[test]
fn each_status_class_has_its_diagnosis() {
    use protoswitch::upgrade::ClientEvent;
    for (status, want) in [
        (200, Diagnosis::UpgradeIgnored),
        (299, Diagnosis::UpgradeIgnored),
        (301, Diagnosis::Redirected),
        (304, Diagnosis::Other),
        (307, Diagnosis::Redirected),
        (400, Diagnosis::Rejected),
        (401, Diagnosis::NotAuthorized),
        (403, Diagnosis::NotAuthorized),
        (407, Diagnosis::NotAuthorized),
        (404, Diagnosis::NotFound),
        (417, Diagnosis::ExpectationFailed),
        // (A 426 naming nothing is a stripped offer: see below.)
        (426, Diagnosis::OfferStripped),
        (500, Diagnosis::Other),
        (502, Diagnosis::GatewayProblem),
        (503, Diagnosis::GatewayProblem),
        (504, Diagnosis::GatewayProblem),
        (505, Diagnosis::Other),
    ] {
        let mut out = [0u8; 256];
        let request = ClientRequest::new("GET", "/", "h", &["echo/1"]);
        let (mut c, _) =
            ClientHandshake::start(&request, ClientConfig::default(), Instant::ZERO, &mut out)
                .unwrap();
        let response = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
        let got = c.receive(response.as_bytes()).unwrap();
        let Some(ClientEvent::Declined { diagnosis, .. }) = got.event else {
            panic!("{status}")
        };
        assert_eq!(diagnosis, want, "{status}");
        assert!(!diagnosis.explain().is_empty());
    }
}

#[test]
fn expect_continue_only_with_a_non_empty_body() {
    let start = |request: ClientRequest<'_>| {
        let mut out = [0u8; 256];
        let (c, n) =
            ClientHandshake::start(&request, ClientConfig::default(), Instant::ZERO, &mut out)
                .unwrap();
        (String::from_utf8_lossy(&out[..n]).into_owned(), c.state())
    };
    let base = ClientRequest::new("PUT", "/", "h", &["echo/1"]);
    let head = "PUT / HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\n";
    assert_eq!(
        start(base.body(5).expect_continue()),
        (
            format!("{head}Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"),
            ClientState::WaitingForContinue
        )
    );
    assert_eq!(
        start(base.body(5)),
        (
            format!("{head}Content-Length: 5\r\n\r\n"),
            ClientState::SendingBody
        )
    );
    assert_eq!(
        start(base.body(0).expect_continue()),
        (
            format!("{head}Content-Length: 0\r\n\r\n"),
            ClientState::AwaitingResponse
        )
    );
}

#[test]
fn a_declined_connection_is_reused_only_when_every_condition_holds() {
    let keep = |request: ClientRequest<'_>, response: &[u8], body_sent: bool| {
        let mut out = [0u8; 256];
        let (mut c, _) =
            ClientHandshake::start(&request, ClientConfig::default(), Instant::ZERO, &mut out)
                .unwrap();
        if body_sent {
            c.body_sent().unwrap();
        }
        let mut rest = response;
        while !matches!(c.state(), ClientState::Done | ClientState::ReadingBody) {
            let got = c.receive(rest).unwrap();
            rest = &rest[got.consumed..];
        }
        while c.state() == ClientState::ReadingBody {
            match c.receive(rest).unwrap() {
                got if got.event.is_none() => {
                    let _ = c.receive_eof().unwrap();
                }
                got => rest = &rest[got.consumed..],
            }
        }
        c.keep_alive()
    };
    let get = ClientRequest::new("GET", "/", "h", &["echo/1"]);
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    assert!(keep(get, ok, false));
    assert!(!keep(
        get,
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
        false
    ));
    assert!(!keep(
        get,
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
        false
    ));
    assert!(keep(
        get,
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
        false
    ));
    assert!(!keep(get, b"HTTP/1.1 200 OK\r\n\r\nuntil close", false));
    // A final status before the body went out: the body is never sent, the
    // connection cannot carry another request.
    let put = ClientRequest::new("PUT", "/", "h", &["echo/1"]).body(3);
    assert!(!keep(put, ok, false));
    assert!(keep(put, ok, true));
}

/// A 426 that demands exactly what was offered means the offer never
/// reached the server (stripped hop-by-hop headers, an HTTP/1.0 hop);
/// one that demands something else is a genuine requirement.
#[test]
fn a_426_demanding_the_offer_is_a_stripped_offer() {
    use protoswitch::upgrade::ClientEvent;
    let rows: [(&[&str], &str, Diagnosis); 10] = [
        (
            &["websocket"],
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
            Diagnosis::OfferStripped,
        ),
        (
            &["websocket"],
            "Upgrade: WebSocket\r\n",
            Diagnosis::OfferStripped,
        ),
        (
            &["websocket"],
            "Upgrade: websocket\r\nSec-WebSocket-Version: 8, 13\r\n",
            Diagnosis::OfferStripped,
        ),
        (
            &["websocket"],
            "Upgrade: websocket\r\nSec-WebSocket-Version: 8\r\n",
            Diagnosis::UpgradeRequired,
        ),
        (&["h2c"], "Upgrade: h2c\r\n", Diagnosis::OfferStripped),
        (
            &["echo/1", "h2c"],
            "Upgrade: foo, h2c\r\n",
            Diagnosis::OfferStripped,
        ),
        (
            &["echo/1"],
            "Upgrade: echo/2\r\n",
            Diagnosis::UpgradeRequired,
        ),
        (&["echo/1"], "Upgrade: echo\r\n", Diagnosis::UpgradeRequired),
        // No `Upgrade` at all (which a 426 must have): Node's ws answers a
        // request that lost its upgrade headers so.
        (&["websocket"], "", Diagnosis::OfferStripped),
        (&["websocket"], "Upgrade: \r\n", Diagnosis::OfferStripped),
    ];
    for (offers, headers, want) in rows {
        let mut out = [0u8; 512];
        let request = ClientRequest::new("GET", "/", "h", offers)
            .websocket_key(*b"0123456789abcdef")
            .h2c_settings(&[(3, 100)]);
        let (mut c, _) =
            ClientHandshake::start(&request, ClientConfig::default(), Instant::ZERO, &mut out)
                .unwrap();
        let response =
            format!("HTTP/1.1 426 Upgrade Required\r\n{headers}Content-Length: 0\r\n\r\n");
        let got = c.receive(response.as_bytes()).unwrap();
        let Some(ClientEvent::Declined { diagnosis, .. }) = got.event else {
            panic!("{offers:?} {headers:?}")
        };
        assert_eq!(diagnosis, want, "{offers:?} {headers:?}");
    }
    assert!(
        Diagnosis::OfferStripped
            .to_string()
            .contains("proxy_http_version 1.1")
    );
}

#[test]
fn an_expect_field_in_a_response_means_nothing() {
    // `Expect` is a request field (RFC 9110 §10.1.1): a 101 carrying one
    // still switches.
    let resp = format!("{OK_101}Expect: x\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
    let (events, _, _) = feed_client(&ws(), resp.as_bytes(), &[]);
    assert_eq!(events, [switched("websocket", Some("chat"))]);
}

#[test]
fn an_empty_h2c_settings_list_is_refused() {
    // `HTTP2-Settings` is a token68 (RFC 7540 §3.2.1), never empty.
    let mut out = [0u8; 512];
    let request = ClientRequest::new("GET", "/", "h", &["h2c"]).h2c_settings(&[]);
    assert_eq!(
        ClientHandshake::start(&request, ClientConfig::default(), Instant::ZERO, &mut out)
            .map(|_| ()),
        Err(Error::Local(LocalError::MissingParameter("h2c_settings")))
    );
}
