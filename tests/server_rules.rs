//! Server rules, byte for byte: strict heads, offers, expectations, limits,
//! and every decision's exact response.

use protoswitch::http1::{Limits, reason_phrase};
use protoswitch::upgrade::{
    Accept, MissingUpgrade, ProtocolKind, Response, ServerConfig, ServerEvent, ServerHandshake,
    ServerState, Switch,
};
use protoswitch::{Error, Header, LocalError, PeerErrorKind as K, Reply};
use protoswitch_testkit::pair::{Ev, feed_server};

const RFC6455_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn ws_request(extra: &str, version: &str) -> Vec<u8> {
    format!(
        "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// Receives one complete request and returns the machine.
fn received(input: &[u8]) -> ServerHandshake {
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(input).unwrap();
    assert!(matches!(got.event, Some(ServerEvent::Request(_))));
    assert_eq!(got.consumed, input.len());
    s
}

/// Checks `accept` against the request in `input`, parsed by a machine of
/// its own (as an application that kept the head would).
fn switch<'a>(input: &[u8], accept: &Accept<'a>) -> Result<Switch<'a>, LocalError> {
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(input).unwrap();
    let Some(ServerEvent::Request(req)) = got.event else {
        panic!("no request in {:?}", String::from_utf8_lossy(input))
    };
    req.switch(accept)
}

fn error_of(input: &[u8], config: ServerConfig) -> (K, Vec<u8>) {
    let (events, _, wire) = feed_server(input, &[], config);
    match events.last() {
        Some(Ev::Error(k)) => (*k, wire),
        other => panic!(
            "expected an error for {:?}, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

#[test]
fn rfc6455_vector_exact_101() {
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(RFC6455_REQUEST).unwrap();
    let Some(ServerEvent::Request(req)) = got.event else {
        panic!()
    };
    let ws = req.websocket().unwrap().unwrap();
    assert_eq!(ws.key(), b"dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(ws.origin(), Some("http://example.com"));
    assert_eq!(ws.subprotocols().collect::<Vec<_>>(), ["chat", "superchat"]);
    assert!(req.offers("WebSocket"));
    let mut out = [0u8; 512];
    let switch = req
        .switch(&Accept::new("websocket").subprotocol("chat"))
        .unwrap();
    let n = s.accept(&switch, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
    assert_eq!(switch.negotiation().subprotocol(), Some("chat"));
    assert_eq!(s.switched_to(), Some(ProtocolKind::WebSocket));
    assert_eq!(s.state(), ServerState::Switched);
}

#[test]
fn accept_with_extensions_and_extra_headers() {
    let req = ws_request(
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-test\r\n",
        "13",
    );
    let mut s = received(&req);
    let extra = [Header::new("Set-Cookie", b"id=1")];
    let mut out = [0u8; 512];
    let switch = switch(
        &req,
        &Accept::new("websocket")
            .extensions("x-test")
            .headers(&extra),
    )
    .unwrap();
    let n = s.accept(&switch, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: x-test\r\n\
          Set-Cookie: id=1\r\n\r\n"
    );
    let names: Vec<_> = switch
        .negotiation()
        .extensions()
        .map(|e| e.name())
        .collect();
    assert_eq!(names, ["x-test"]);
}

#[test]
fn extension_offer_parameters_are_exposed() {
    let req = ws_request(
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=10\r\n",
        "13",
    );
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(&req).unwrap();
    let Some(ServerEvent::Request(r)) = got.event else {
        panic!()
    };
    let ext: Vec<_> = r.websocket().unwrap().unwrap().extensions().collect();
    assert_eq!(ext.len(), 1);
    assert_eq!(ext[0].name(), "permessage-deflate");
    assert_eq!(
        ext[0].params().collect::<Vec<_>>(),
        [
            ("client_max_window_bits", None),
            ("server_max_window_bits", Some("10"))
        ]
    );
}

#[test]
fn local_errors_leave_state_and_output_untouched() {
    let mut s = received(RFC6455_REQUEST);
    let mut out = [0xAAu8; 512];
    let cases: [(Accept<'_>, LocalError); 4] = [
        (Accept::new("h2c"), LocalError::NotOffered),
        (
            Accept::new("websocket").subprotocol("nope"),
            LocalError::SubprotocolNotOffered,
        ),
        (
            Accept::new("websocket").extensions("permessage-deflate"),
            LocalError::ExtensionNotOffered,
        ),
        (Accept::new("bad token"), LocalError::InvalidToken),
    ];
    for (accept, want) in cases {
        assert_eq!(switch(RFC6455_REQUEST, &accept), Err(want));
    }
    let reserved = [Header::new("connection", b"x")];
    assert_eq!(
        switch(
            RFC6455_REQUEST,
            &Accept::new("websocket").headers(&reserved)
        ),
        Err(LocalError::ReservedHeader("connection"))
    );
    let bad_value = [Header::new("X", b"a\r\nb")];
    assert_eq!(
        switch(
            RFC6455_REQUEST,
            &Accept::new("websocket").headers(&bad_value)
        ),
        Err(LocalError::InvalidHeaderValue)
    );
    // Too small a buffer: exact size named, nothing written.
    let websocket = switch(RFC6455_REQUEST, &Accept::new("websocket")).unwrap();
    let mut small = [0xAAu8; 20];
    assert_eq!(
        s.accept(&websocket, &mut small),
        Err(Error::BufferTooSmall { needed: 129 })
    );
    assert_eq!(small, [0xAA; 20]);
    assert!(out.iter().all(|&b| b == 0xAA));
    assert_eq!(s.state(), ServerState::RequestReceived);
    // Wrong state.
    assert!(matches!(
        s.continue_body(&mut out),
        Err(Error::Local(LocalError::WrongState { .. }))
    ));
    assert!(matches!(
        s.receive(b""),
        Err(Error::Local(LocalError::WrongState { .. }))
    ));
    assert_eq!(s.accept(&websocket, &mut out), Ok(129));
    assert!(matches!(
        s.respond(&Response::new(200), &mut out),
        Err(Error::Local(LocalError::WrongState { .. }))
    ));
}

#[test]
fn version_mismatch_gets_426_with_version_header() {
    let req = ws_request("", "8");
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(&req).unwrap();
    let Some(ServerEvent::Request(r)) = got.event else {
        panic!()
    };
    let err = r.websocket().unwrap_err();
    assert_eq!(err.kind(), K::WebSocketVersionUnsupported);
    assert_eq!(err.reply(), Reply::HttpStatus(426));
    let mut out = [0u8; 512];
    assert_eq!(
        r.switch(&Accept::new("websocket")),
        Err(LocalError::OfferInvalid(K::WebSocketVersionUnsupported))
    );
    let n = s.respond(&Response::for_error(&err), &mut out).unwrap();
    let body = err.message();
    let expected = format!(
        "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(String::from_utf8_lossy(&out[..n]), expected);
    assert!(s.keep_alive());
}

#[test]
fn malformed_websocket_offers_explain_themselves() {
    let cases: [(Vec<u8>, K, u16); 7] = [
        (
            ws_request("", "13").replace_all(b"GET /ws", b"PUT /ws"),
            K::WebSocketMethodNotGet,
            400,
        ),
        (
            ws_request("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "13"),
            K::WebSocketKeyMissingOrRepeated,
            400,
        ),
        (
            ws_request("", "13").replace_all(b"dGhlIHNhbXBsZSBub25jZQ==", b"c2hvcnQ="),
            K::WebSocketKeyInvalid,
            400,
        ),
        (
            ws_request("Sec-WebSocket-Version: 13\r\n", "13"),
            K::WebSocketVersionMissingOrRepeated,
            400,
        ),
        (
            ws_request("Sec-WebSocket-Protocol: a b\r\n", "13"),
            K::WebSocketBadNegotiationHeader,
            400,
        ),
        (
            ws_request("", "13").replace_all(b"Sec-WebSocket-Version: 13\r\n", b""),
            K::WebSocketVersionMissingOrRepeated,
            400,
        ),
        (ws_request("", "8"), K::WebSocketVersionUnsupported, 426),
    ];
    for (req, kind, status) in cases {
        let mut s = ServerHandshake::new(ServerConfig::default());
        let got = s.receive(&req).unwrap();
        let Some(ServerEvent::Request(r)) = got.event else {
            panic!()
        };
        let err = r.websocket().unwrap_err();
        assert_eq!(
            (err.kind(), err.status()),
            (kind, Some(status)),
            "{}",
            String::from_utf8_lossy(&req)
        );
        let mut out = [0u8; 512];
        let n = s.respond(&Response::for_error(&err), &mut out).unwrap();
        let line = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
        assert!(out[..n].starts_with(line.as_bytes()), "{line}");
        assert!(out[..n].ends_with(err.message().as_bytes()));
    }
}

trait ReplaceAll {
    fn replace_all(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}
impl ReplaceAll for Vec<u8> {
    fn replace_all(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        let s = String::from_utf8(self).unwrap();
        s.replace(
            std::str::from_utf8(from).unwrap(),
            std::str::from_utf8(to).unwrap(),
        )
        .into_bytes()
    }
}

#[test]
fn upgrade_counts_only_with_connection_upgrade_and_http11() {
    for req in [
        &b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\nConnection: keep-alive\r\n\r\n",
        b"GET / HTTP/1.0\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\n\r\n",
    ] {
        let mut s = ServerHandshake::new(ServerConfig::default());
        let got = s.receive(req).unwrap();
        let Some(ServerEvent::Request(r)) = got.event else {
            panic!()
        };
        assert_eq!(r.upgrade_offers().count(), 0);
        assert_eq!(
            r.switch(&Accept::new("echo/1")),
            Err(LocalError::NotOffered)
        );
    }
    // Comma lists, case-insensitive, several offers in order.
    let req = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: foo/2, Echo/1\r\nConnection: keep-alive, UPGRADE\r\n\r\n";
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(req).unwrap();
    let Some(ServerEvent::Request(r)) = got.event else {
        panic!()
    };
    let offers: Vec<String> = r.upgrade_offers().map(|p| p.to_string()).collect();
    assert_eq!(offers, ["foo/2", "Echo/1"]);
    let mut out = [0u8; 256];
    // Tokens compare ignoring case; the 101 names the protocol as the
    // server spelled it.
    let n = s
        .accept(&r.switch(&Accept::new("echo/1")).unwrap(), &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\n\r\n"
    );
}

/// `Request::missing_websocket_upgrade` of the head `input`, and whether
/// `Request::websocket` found an offer (usable or not).
fn missing_of(input: &[u8]) -> (Option<MissingUpgrade>, bool) {
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(input).unwrap();
    let Some(ServerEvent::Request(req)) = got.event else {
        panic!("no request in {:?}", String::from_utf8_lossy(input))
    };
    (
        req.missing_websocket_upgrade(),
        !matches!(req.websocket(), Ok(None)),
    )
}

#[test]
fn missing_websocket_upgrade_names_what_the_request_lacks() {
    use MissingUpgrade::*;
    const KEY: &str =
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    let cases: &[(&str, Option<MissingUpgrade>)] = &[
        // HTTP/1.0 cannot upgrade, whatever it carries.
        ("GET /ws HTTP/1.0\r\n\r\n", Some(Http10)),
        (
            &format!("GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{KEY}\r\n"),
            Some(Http10),
        ),
        // No Upgrade field, or one naming no protocol.
        ("GET /ws HTTP/1.1\r\nHost: h\r\n\r\n", Some(NoUpgrade)),
        (
            "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n",
            Some(NoUpgrade),
        ),
        (
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: \r\nConnection: Upgrade\r\n\r\n",
            Some(NoUpgrade),
        ),
        // Upgrade without `upgrade` in Connection: the offer does not count.
        (
            &format!("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n{KEY}\r\n"),
            Some(NoConnectionUpgrade),
        ),
        (
            &format!(
                "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n{KEY}\r\n"
            ),
            Some(NoConnectionUpgrade),
        ),
        (
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\nConnection: close\r\n\r\n",
            Some(NoConnectionUpgrade),
        ),
        // A valid upgrade offer, of other protocols only.
        (
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1, foo\r\nConnection: Upgrade\r\n\r\n",
            Some(OtherProtocol),
        ),
        // WebSocket offered: nothing missing, in any case or list position,
        // several Connection lines included.
        (
            &format!(
                "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{KEY}\r\n"
            ),
            None,
        ),
        (
            &format!(
                "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1, WebSocket\r\n\
                 Connection: keep-alive\r\nConnection: UPGRADE\r\n{KEY}\r\n"
            ),
            None,
        ),
        // Offered but unusable (no key, version 8): not missing; websocket()
        // says what is wrong.
        (
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            None,
        ),
        (
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            None,
        ),
    ];
    for (input, want) in cases {
        let (missing, offered) = missing_of(input.as_bytes());
        assert_eq!(missing, *want, "{input:?}");
        // Missing exactly when no WebSocket offer was found.
        assert_eq!(missing.is_none(), offered, "{input:?}");
    }
}

#[test]
fn missing_upgrade_tokens_are_stable_and_parse_back() {
    use MissingUpgrade::*;
    let all = [
        (Http10, "http-1.0"),
        (NoUpgrade, "no-upgrade"),
        (NoConnectionUpgrade, "no-connection-upgrade"),
        (OtherProtocol, "other-protocol"),
    ];
    for (missing, token) in all {
        assert_eq!(missing.as_str(), token);
        assert_eq!(missing.to_string(), token);
        assert_eq!(MissingUpgrade::parse(token), Some(missing));
        assert_eq!(
            MissingUpgrade::parse(&token.to_ascii_uppercase()),
            Some(missing)
        );
        // Usable as a field value: no whitespace, no control bytes.
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        );
    }
    for bad in [
        "",
        " no-upgrade",
        "no-upgrade ",
        "no_upgrade",
        "http10",
        "noupgrade",
        "no-upgrade-field",
        "arrived without",
    ] {
        assert_eq!(MissingUpgrade::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn continue_goes_out_before_101_when_not_sent() {
    let req = b"POST / HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\nConnection: upgrade\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n";
    let mut s = received(req);
    let mut out = [0u8; 256];
    let echo = switch(req, &Accept::new("echo/1")).unwrap();
    let n = s.accept(&echo, &mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\n\r\n"
    );
}

#[test]
fn chunked_body_then_switch() {
    let req = b"POST / HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\nConnection: upgrade\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nNEW";
    let (events, rest, wire) = feed_server(req, &[], ServerConfig::default());
    assert_eq!(events[1..], [Ev::Body(b"abc".to_vec()), Ev::BodyEnd]);
    assert_eq!(rest, b"NEW");
    assert!(wire.is_empty(), "no 100 without Expect");
}

#[test]
fn respond_without_reading_body_closes() {
    let req = b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n";
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(req).unwrap();
    assert!(matches!(got.event, Some(ServerEvent::Request(r)) if r.expects_continue()));
    assert_eq!(s.state(), ServerState::HeadReceived);
    let mut out = [0u8; 256];
    let echo = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n";
    assert!(matches!(
        s.accept(&switch(echo, &Accept::new("x")).unwrap(), &mut out),
        Err(Error::Local(LocalError::WrongState { .. }))
    ));
    let n = s.respond(&Response::new(413), &mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    assert!(!s.keep_alive());
}

#[test]
fn head_request_gets_no_body_bytes() {
    let mut s = received(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
    let mut out = [0u8; 256];
    let n = s
        .respond(&Response::new(200).body(b"hello"), &mut out)
        .unwrap();
    assert_eq!(&out[..n], b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    // Only HEAD itself: methods one byte away (at its end, its start, in
    // another case) get their body.
    for method in ["HEAX", "XEAD", "HEAd", "head"] {
        let request = format!("{method} / HTTP/1.1\r\nHost: h\r\n\r\n");
        let mut s = received(request.as_bytes());
        let n = s
            .respond(&Response::new(200).body(b"hello"), &mut out)
            .unwrap();
        assert_eq!(
            &out[..n],
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            "{method}"
        );
    }
}

#[test]
fn body_len_only_writes_head() {
    let mut s = received(b"GET / HTTP/1.0\r\n\r\n");
    let mut out = [0u8; 256];
    let n = s
        .respond(&Response::new(200).body_len(1000), &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n"
    );
}

#[test]
fn h2c_offer_rules() {
    let ok = b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(ok).unwrap();
    let Some(ServerEvent::Request(r)) = got.event else {
        panic!()
    };
    let settings: Vec<_> = r.h2c().unwrap().unwrap().settings().collect();
    assert_eq!(settings, [(3, 100), (4, 65535)]);
    let bad: [(&[u8], K); 4] = [
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n", K::H2cSettingsMissingOrRepeated),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n", K::H2cSettingsNotInConnection),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk=\r\n\r\n", K::H2cSettingsInvalid),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\nHTTP2-Settings: AAMAAABk\r\n\r\n", K::H2cSettingsMissingOrRepeated),
    ];
    for (req, kind) in bad {
        let mut s = ServerHandshake::new(ServerConfig::default());
        let got = s.receive(req).unwrap();
        let Some(ServerEvent::Request(r)) = got.event else {
            panic!()
        };
        assert_eq!(r.h2c().unwrap_err().kind(), kind);
        assert_eq!(
            r.switch(&Accept::new("h2c")),
            Err(LocalError::OfferInvalid(kind))
        );
    }
}

#[test]
fn expectation_failed_417() {
    let (kind, wire) = error_of(
        b"POST / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\nContent-Length: 1\r\n\r\n",
        ServerConfig::default(),
    );
    assert_eq!(kind, K::UnsupportedExpectation);
    let msg = "the Expect header asks for something other than 100-continue";
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        format!(
            "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{msg}",
            msg.len()
        )
    );
}

#[test]
fn limits_give_431() {
    let config = ServerConfig::new().limits(Limits::new().max_head_bytes(100).max_headers(3));
    let big = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n\r\n",
        "a".repeat(100)
    );
    let (kind, wire) = error_of(big.as_bytes(), config);
    assert_eq!(kind, K::HeadTooLarge { limit: 100 });
    assert!(wire.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    // Too large even before the head ends (a peer that never ends it).
    let (kind, _) = error_of(&big.as_bytes()[..120], config);
    assert_eq!(kind, K::HeadTooLarge { limit: 100 });
    let many = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let (kind, wire) = error_of(many, config);
    assert_eq!(kind, K::TooManyHeaders { limit: 3 });
    assert!(wire.starts_with(b"HTTP/1.1 431 "));
}

#[test]
fn strict_heads_give_400() {
    let cases: [(&[u8], K); 9] = [
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", K::ObsoleteLineFolding),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX : a\r\n\r\n", K::BadHeaderName),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX\x01: a\r\n\r\n", K::BadHeaderName),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n", K::BadHeaderValue),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", K::ContentLengthWithTransferEncoding),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", K::BadContentLength),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\n", K::BadContentLength),
        (b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", K::BadStartLine),
        (b"GET / HTTP/1.1\r\n\r\n", K::HostMissingOrRepeated),
    ];
    for (req, want) in cases {
        let (kind, wire) = error_of(req, ServerConfig::default());
        assert_eq!(kind, want, "{}", String::from_utf8_lossy(req));
        assert!(
            wire.starts_with(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"),
            "{}",
            String::from_utf8_lossy(&wire)
        );
    }
    let (kind, wire) = error_of(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        ServerConfig::default(),
    );
    assert_eq!(kind, K::UnsupportedTransferCoding);
    assert!(wire.starts_with(b"HTTP/1.1 501 Not Implemented\r\n"));
    let (kind, _) = error_of(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ServerConfig::default(),
    );
    assert_eq!(kind, K::BadChunk);
}

#[test]
fn leading_empty_line_is_ignored_and_eof_is_reported() {
    let (events, _, _) = feed_server(
        b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
        &[],
        ServerConfig::default(),
    );
    assert_eq!(
        events,
        [Ev::Request {
            method: "GET".into(),
            target: "/".into()
        }]
    );
    let mut s = ServerHandshake::new(ServerConfig::default());
    let _ = s.receive(b"GET / HT").unwrap();
    let err = s.receive_eof().unwrap_err();
    assert_eq!(err.peer().map(|e| e.reply()), Some(Reply::CloseTransport));
}

#[test]
fn receive_eof_after_the_answer_is_nothing() {
    let mut s = received(RFC6455_REQUEST);
    let mut out = [0u8; 512];
    let websocket = switch(RFC6455_REQUEST, &Accept::new("websocket")).unwrap();
    let _ = s.accept(&websocket, &mut out).unwrap();
    assert_eq!(s.receive_eof(), Ok(None));
    assert_eq!(s.state(), ServerState::Switched);
    let mut s = received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let _ = s.respond(&Response::new(204), &mut out).unwrap();
    assert_eq!(s.receive_eof(), Ok(None));
    assert_eq!(s.state(), ServerState::Responded);
    // In the middle of a body it is a peer error.
    let mut s = ServerHandshake::new(ServerConfig::default());
    let _ = s
        .receive(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n")
        .unwrap();
    let _ = s.continue_body(&mut out).unwrap();
    let err = s.receive_eof().unwrap_err().peer().unwrap();
    assert_eq!(err.kind(), K::ClosedInBody);
    assert_eq!(s.error(), Some(err));
}

#[test]
fn response_status_says_what_was_answered() {
    let mut out = [0u8; 512];
    let mut s = received(RFC6455_REQUEST);
    assert_eq!(s.response_status(), None);
    let websocket = switch(RFC6455_REQUEST, &Accept::new("websocket")).unwrap();
    let _ = s.accept(&websocket, &mut out).unwrap();
    assert_eq!(s.response_status(), Some(101));
    let mut s = received(RFC6455_REQUEST);
    let _ = s.respond(&Response::new(401), &mut out).unwrap();
    assert_eq!(s.response_status(), Some(401));
    let mut s = ServerHandshake::new(ServerConfig::default());
    let _ = s.receive(b"GET / HTTP/1.1\r\nExpect: magic\r\nHost: h\r\n\r\n");
    assert_eq!(s.response_status(), Some(417));
    let mut s = ServerHandshake::new(ServerConfig::default());
    let _ = s.receive(b"GET / HT").unwrap();
    let _ = s.receive_eof();
    assert_eq!(
        s.response_status(),
        None,
        "nothing is answered to a hang-up"
    );
}

#[test]
fn choices_are_checked_against_the_offers_of_their_protocol_only() {
    // Many long subprotocols: nothing is stored, so nothing overflows.
    let long: Vec<String> = (0..300).map(|i| format!("proto-{i:03}")).collect();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket, websocket, h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\
         HTTP2-Settings: AAMAAABk\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: {}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        long.join(", ")
    );
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(req.as_bytes()).unwrap();
    let Some(ServerEvent::Request(r)) = got.event else {
        panic!()
    };
    assert!(r.websocket().unwrap().is_some());
    assert!(r.h2c().unwrap().is_some());
    assert!(r.offers("h2c") && r.offers("WebSocket") && !r.offers("echo/1"));
    let mut out = [0u8; 1024];
    // WebSocket's subprotocols and extensions do not belong to h2c.
    assert_eq!(
        r.switch(&Accept::new("h2c").extensions("permessage-deflate")),
        Err(LocalError::ExtensionNotOffered)
    );
    assert_eq!(
        r.switch(&Accept::new("h2c").subprotocol("proto-001")),
        Err(LocalError::SubprotocolNotOffered)
    );
    let last = r
        .switch(&Accept::new("websocket").subprotocol("proto-299"))
        .unwrap();
    assert!(s.accept(&last, &mut out).is_ok());
}

#[test]
fn no_body_and_no_content_length_for_204_and_304() {
    for (status, line) in [(204, "204 No Content"), (304, "304 Not Modified")] {
        let mut s = received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        let mut out = [0u8; 256];
        let n = s
            .respond(&Response::new(status).body(b"ignored"), &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out[..n]),
            format!("HTTP/1.1 {line}\r\n\r\n")
        );
    }
}

#[test]
fn a_426_names_the_websocket_version_when_websocket_is_offered_or_listed() {
    let mut out = [0u8; 512];
    // Offered websocket, the 426 lists only h2c: the version is still said.
    let mut s = received(RFC6455_REQUEST);
    let n = s
        .respond(&Response::upgrade_required(&["h2c"]), &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"
    );
    // Nothing of WebSocket anywhere: no version.
    let mut s = received(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let n = s
        .respond(&Response::upgrade_required(&["echo/1"]), &mut out)
        .unwrap();
    assert_eq!(
        &out[..n],
        b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: echo/1\r\nConnection: Upgrade\r\n\
          Content-Length: 0\r\n\r\n"
    );
}

#[test]
fn reason_phrases_are_rfc_9110s() {
    let table = [
        (100, "Continue"),
        (101, "Switching Protocols"),
        (102, "Processing"),
        (103, "Early Hints"),
        (200, "OK"),
        (201, "Created"),
        (202, "Accepted"),
        (204, "No Content"),
        (301, "Moved Permanently"),
        (302, "Found"),
        (303, "See Other"),
        (304, "Not Modified"),
        (307, "Temporary Redirect"),
        (308, "Permanent Redirect"),
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (405, "Method Not Allowed"),
        (408, "Request Timeout"),
        (411, "Length Required"),
        (413, "Content Too Large"),
        (414, "URI Too Long"),
        (417, "Expectation Failed"),
        (426, "Upgrade Required"),
        (429, "Too Many Requests"),
        (431, "Request Header Fields Too Large"),
        (500, "Internal Server Error"),
        (501, "Not Implemented"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
        (504, "Gateway Timeout"),
        (505, "HTTP Version Not Supported"),
        (299, ""),
        (599, ""),
    ];
    for (status, phrase) in table {
        assert_eq!(reason_phrase(status), phrase, "{status}");
    }
}

#[test]
fn websocket_offer_views() {
    let req = ws_request(
        "Sec-WebSocket-Protocol: chat, Chat.v2\r\n\
         Sec-WebSocket-Extensions: x-a; p=\"q, r\"; s, x-b\r\n",
        "13",
    );
    let mut s = ServerHandshake::new(ServerConfig::default());
    let got = s.receive(&req).unwrap();
    let Some(ServerEvent::Request(r)) = got.event else {
        panic!()
    };
    let ws = r.websocket().unwrap().unwrap();
    // Subprotocols are case-sensitive (RFC 6455 §11.3.4).
    assert!(ws.offers_subprotocol("chat") && ws.offers_subprotocol("Chat.v2"));
    assert!(!ws.offers_subprotocol("Chat") && !ws.offers_subprotocol("chat.v2"));
    let ext: Vec<_> = ws.extensions().collect();
    assert_eq!(ext.len(), 2);
    assert_eq!(ext[0].name(), "x-a");
    assert_eq!(
        ext[0].params().collect::<Vec<_>>(),
        [("p", Some("\"q, r\"")), ("s", None)]
    );
    assert_eq!(ext[1].name(), "x-b");
}

#[test]
fn an_h2_token_is_never_switched_to() {
    // RFC 7540 §3.2: a server MUST ignore an `h2` token (HTTP/2 over TLS
    // is negotiated by ALPN).
    for token in ["h2", "H2"] {
        let request =
            format!("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: {token}\r\nConnection: Upgrade\r\n\r\n");
        assert_eq!(
            switch(request.as_bytes(), &Accept::new(token)).map(|_| ()),
            Err(LocalError::NotOffered),
            "{token}"
        );
    }
    // A versioned or other token is the application's to accept.
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2/x, h3\r\nConnection: Upgrade\r\n\r\n";
    assert!(switch(request, &Accept::new("h2/x")).is_ok());
    assert!(switch(request, &Accept::new("h3")).is_ok());
}

#[test]
fn an_empty_http2_settings_is_an_invalid_h2c_offer() {
    let request = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\
        Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: \r\n\r\n";
    let mut server = ServerHandshake::new(ServerConfig::default());
    let Some(ServerEvent::Request(request)) = server.receive(request).unwrap().event else {
        panic!()
    };
    assert_eq!(
        request.h2c().map(|_| ()).unwrap_err().kind(),
        K::H2cSettingsInvalid
    );
}
