//! The relay's rules (RFC 9110 §7.6.1, RFC 9931), each with its violating
//! and valid forms, as exact bytes out for bytes in; and split invariance.
//!
//! The driver is `protoswitch_testkit::relay`: it reads the client's
//! stream while the relay reads it, then the upstream's, and records every
//! head written, every body byte forwarded and every error reply.

use proptest::prelude::*;
use protoswitch::relay::{
    Declined, Event, Refusal, Relay, RelayConfig, RelayInput, RelayState, TRANSITIONS,
};
use protoswitch::{Error, PeerErrorKind, Reply};
use protoswitch_testkit::Bytes;
use protoswitch_testkit::relay::{Ev, Side, Transcript, run, run_whole};

const WS_REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
/// `WS_REQUEST` as the upstream receives it.
const WS_FORWARDED: &str = "GET /chat HTTP/1.1\r\nHost: app\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    Upgrade: websocket\r\nConnection: upgrade\r\n\r\n";
const WS_101: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
const WS_101_FORWARDED: &str = "HTTP/1.1 101 Switching Protocols\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
    Upgrade: websocket\r\nConnection: upgrade\r\n\r\n";
/// A masked empty text frame from the client; an unmasked "hi" from the server.
const CLIENT_FRAME: &[u8] = b"\x81\x80\x00\x00\x00\x00";
const SERVER_FRAME: &[u8] = b"\x81\x02hi";

fn relay(down: &[u8], up: &[u8]) -> Transcript {
    run_whole(RelayConfig::new(), down, up)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The failure of a transcript, if any.
fn failure(t: &Transcript) -> Option<(PeerErrorKind, Reply)> {
    t.log.iter().find_map(|e| match e {
        Ev::Failed(kind, reply, _) => Some((*kind, *reply)),
        _ => None,
    })
}

/// The upstream's broken rule behind a 502, if any.
fn cause(t: &Transcript) -> Option<PeerErrorKind> {
    t.log.iter().find_map(|e| match e {
        Ev::Failed(_, _, cause) => *cause,
        _ => None,
    })
}

/// The reply the relay queues for an error: status line, close, text body.
fn reply(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

// The causes, as the client machine words them (error.rs).
const UNOFFERED: &str =
    "the 101 response must name exactly one of the protocols the client offered";
const ACCEPT_MISMATCH: &str = "Sec-WebSocket-Accept does not match the key sent: the server \
    computed it wrongly or a proxy changed the request";
const ACCEPT_MISSING: &str = "the 101 response lacks Sec-WebSocket-Accept";
const NO_CONNECTION_UPGRADE: &str = "the 101 response lacks Connection: upgrade";
const SWITCH_IN_HTTP10: &str = "an HTTP/1.0 peer answered 101: it cannot switch protocols";
const BAD_SWITCH: &str = "the upstream's 101 cannot be tunnelled, so the relay answers 502 instead";
const NOT_REQUESTED: &str = "the upstream answered 101 to a request whose upgrade the relay did \
    not forward (a misbehaving or compromised upstream: RFC 9931); the relay refuses to tunnel";

// ---- hop-by-hop fields (RFC 9110 §7.6.1) ----

#[test]
fn hop_by_hop_and_nominated_fields_are_removed_both_ways() {
    let t = relay(
        b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Foo\r\nX-Foo: 1\r\n\
          Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Connection: keep-alive\r\n\
          Proxy-Authorization: Basic eDp5\r\nX-Bar: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: X-Up\r\nX-Up: 1\r\nContent-Length: 2\r\n\
          Keep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nUpgrade: websocket\r\n\
          HTTP2-Settings: AAMAAABk\r\n\r\nhi",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET /x HTTP/1.1\r\nHost: a\r\nX-Bar: 2\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
    );
    assert_eq!(t.end, RelayState::Closed);
    // Valid form: end-to-end fields pass unchanged, in order.
    let t = relay(
        b"GET /x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Foo: 1\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nX-Up: 1\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET /x HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nX-Foo: 1\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 204 No Content\r\nX-Up: 1\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn nominating_a_framing_field_does_not_remove_it() {
    // Removing Content-Length here would let the body be read upstream as
    // a second request: the relay keeps it.
    let t = relay(
        b"POST /x HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host, Transfer-Encoding\r\n\
          Content-Length: 4\r\n\r\nGET ",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nConnection: close\r\n\r\nGET "
    );
}

#[test]
fn via_is_added_to_both_heads_after_the_existing_ones() {
    let config = RelayConfig::new().via("edge");
    let t = run_whole(
        config,
        b"GET / HTTP/1.1\r\nHost: a\r\nVia: 1.1 cdn\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET / HTTP/1.1\r\nHost: a\r\nVia: 1.1 cdn\r\nConnection: close\r\nVia: 1.1 edge\r\n\r\n"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\nVia: 1.1 edge\r\n\r\n"
    );
    // The version each head was received in: an HTTP/1.0 client's
    // request, an HTTP/1.0 upstream's response.
    let t = run_whole(
        config,
        b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(
        text(&t.sent(Side::Up)).ends_with("\r\nVia: 1.0 edge\r\n\r\n"),
        "{}",
        text(&t.sent(Side::Up))
    );
    assert!(
        text(&t.sent(Side::Down)).ends_with("\r\nVia: 1.0 edge\r\n\r\n"),
        "{}",
        text(&t.sent(Side::Down))
    );
    // A pseudonym that is not a field value (or is a list) is not written.
    for bad in ["a,b", " a", "a\r\nX: 1", ""] {
        let t = run_whole(
            RelayConfig::new().via(bad),
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"",
        );
        assert!(!text(&t.sent(Side::Up)).contains("Via"), "{bad:?}");
    }
}

// ---- which upgrades are forwarded ----

#[test]
fn websocket_is_forwarded_and_tunnelled_on_a_verified_101() {
    let down = cat(&[WS_REQUEST.as_bytes(), CLIENT_FRAME]);
    let up = cat(&[WS_101.as_bytes(), SERVER_FRAME]);
    let t = relay(&down, &up);
    assert_eq!(text(&t.sent(Side::Up)), WS_FORWARDED);
    assert_eq!(text(&t.sent(Side::Down)), WS_101_FORWARDED);
    assert_eq!(t.end, RelayState::Tunnel);
    // The frame the client sent right after its head was held, and is the
    // tunnel's first bytes; the server's frame likewise.
    assert_eq!(t.down_rest, Bytes(CLIENT_FRAME.to_vec()));
    assert_eq!(t.up_rest, Bytes(SERVER_FRAME.to_vec()));
    assert!(t.events().contains(&Ev::Switched {
        protocol: "websocket".into(),
        head: Bytes(WS_101_FORWARDED.into()),
    }));
}

#[test]
fn bytes_after_an_upgrade_head_wait_for_the_answer() {
    let mut relay = Relay::new(RelayConfig::new());
    let down = cat(&[
        WS_REQUEST.as_bytes(),
        b"GET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
    ]);
    let got = relay.receive_downstream(&down).unwrap();
    assert!(matches!(got.event, Some(Event::Request(r)) if r.upgrades()));
    assert_eq!(got.consumed, WS_REQUEST.len());
    assert_eq!(relay.state(), RelayState::AwaitingSwitch);
    assert!(!relay.reads_downstream() && relay.reads_upstream());
    // However often asked, the relay takes nothing more from the client.
    for _ in 0..3 {
        let held = relay.receive_downstream(&down[got.consumed..]).unwrap();
        assert_eq!((held.consumed, held.event), (0, None));
    }
    // Part of the answer: still held.
    let got = relay.receive_upstream(b"HTTP/1.1 101 Switch").unwrap();
    assert_eq!((got.consumed, got.event), (0, None));
    assert_eq!(
        relay
            .receive_downstream(&down[WS_REQUEST.len()..])
            .unwrap()
            .consumed,
        0
    );
}

#[test]
fn h2c_is_not_forwarded_by_default_and_its_settings_go_with_it() {
    let h2c = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n\
        Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";
    let t = relay(h2c, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    );
    assert!(matches!(
        t.events()[0],
        Ev::Request {
            upgrades: false,
            refusal: Some(Refusal::NotAllowed),
            ..
        }
    ));
    // The smuggling attempt: an upstream that switches anyway.
    let t = relay(
        h2c,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    );
    assert_eq!(
        failure(&t),
        Some((
            PeerErrorKind::UpstreamSwitchNotRequested,
            Reply::HttpStatus(502)
        ))
    );
    // Valid form: h2c listed explicitly.
    let t = run_whole(
        RelayConfig::new().allow(&["h2c"]),
        h2c,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET / HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\
         Upgrade: h2c\r\nConnection: upgrade, HTTP2-Settings\r\n\r\n"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"
    );
    assert_eq!(t.end, RelayState::Tunnel);
    // An h2c offer without its settings is answered as an h2c server would.
    let t = run_whole(
        RelayConfig::new().allow(&["h2c"]),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
        b"",
    );
    assert_eq!(
        failure(&t),
        Some((
            PeerErrorKind::H2cSettingsMissingOrRepeated,
            Reply::HttpStatus(400)
        ))
    );
    assert!(t.sent(Side::Up).is_empty());
}

#[test]
fn only_the_allowed_tokens_of_an_offer_are_forwarded() {
    let offer = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, echo/2, websocket, ECHO/1\r\n\
        Connection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    let t = run_whole(
        RelayConfig::new().allow(&["websocket", "echo/1"]),
        offer.as_bytes(),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo/1\r\nConnection: upgrade\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nUpgrade: websocket, ECHO/1\r\nConnection: upgrade\r\n\r\n"
    );
    assert_eq!(t.end, RelayState::Tunnel);
    // A 101 to an offered token the relay did not forward: 502.
    let t = run_whole(
        RelayConfig::new().allow(&["websocket", "echo/1"]),
        offer.as_bytes(),
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo/2\r\nConnection: upgrade\r\n\r\n",
    );
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::BadUpstreamSwitch, Reply::HttpStatus(502)))
    );
    assert_eq!(cause(&t), Some(PeerErrorKind::SwitchedToUnofferedProtocol));
}

#[test]
fn upgrades_only_on_http11_get_without_a_body_unless_configured() {
    let cases: [(&str, Option<Refusal>); 5] = [
        (
            "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            Some(Refusal::Http10),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\r\n",
            Some(Refusal::NotInConnection),
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nUpgrade: echo/1\r\nConnection: upgrade\r\n\r\n",
            Some(Refusal::Method),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: echo/1\r\nConnection: upgrade\r\nContent-Length: 1\r\n\r\nx",
            Some(Refusal::Body),
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: echo/1\r\nConnection: upgrade\r\n\r\n",
            None,
        ),
    ];
    let config = RelayConfig::new().allow(&["websocket", "echo/1"]);
    for (request, refusal) in cases {
        let t = run_whole(config, request.as_bytes(), b"");
        let Ev::Request {
            upgrades,
            refusal: got,
            ..
        } = &t.events()[0]
        else {
            panic!("{request:?}: {t:?}");
        };
        assert_eq!(
            (*got, *upgrades),
            (refusal, refusal.is_none()),
            "{request:?}"
        );
        let up = text(&t.sent(Side::Up));
        assert_eq!(up.contains("Upgrade:"), refusal.is_none(), "{up}");
    }
    // The HTTP/1.0 request goes out as HTTP/1.1 with an empty Host and no
    // upgrade fields; the diagnosis names the HTTP/1.0 hop.
    let t = run_whole(config, cases[0].0.as_bytes(), b"");
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET / HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n"
    );
    assert!(
        Refusal::Http10
            .to_string()
            .contains("proxy_http_version 1.1")
    );
    // Valid forms once configured.
    let any = config.upgrade_any_method(true).upgrade_with_body(true);
    for (request, _) in &cases[2..] {
        let t = run_whole(any, request.as_bytes(), b"");
        assert!(
            matches!(t.events()[0], Ev::Request { upgrades: true, .. }),
            "{request:?}"
        );
    }
}

#[test]
fn an_unusable_websocket_offer_is_answered_as_a_websocket_server_would() {
    let no_key = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    let t = relay(no_key.as_bytes(), b"");
    assert_eq!(
        failure(&t),
        Some((
            PeerErrorKind::WebSocketKeyMissingOrRepeated,
            Reply::HttpStatus(400)
        ))
    );
    assert!(t.sent(Side::Up).is_empty(), "nothing reaches the upstream");
    assert_eq!(
        text(&t.sent(Side::Down)),
        reply(
            "400 Bad Request",
            "a WebSocket upgrade needs exactly one Sec-WebSocket-Key"
        )
    );
}

#[test]
fn a_malformed_upgrade_token_is_a_bad_request() {
    let t = relay(
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: web socket\r\nConnection: upgrade\r\n\r\n",
        b"",
    );
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::BadUpgradeToken, Reply::HttpStatus(400)))
    );
}

// ---- answers to an upgrade ----

#[test]
fn a_426_names_again_the_required_protocols_the_relay_allows() {
    let allow = ["websocket", "echo/1"];
    let config = RelayConfig::new().allow(&allow).keep_alive(true);
    let down = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let answer = |upgrade: &str| {
        format!(
            "HTTP/1.1 426 Upgrade Required\r\nUpgrade: {upgrade}\r\nConnection: upgrade\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    // Only the allowed ones, in the upstream's order; kept alive.
    let t = run_whole(
        config,
        down,
        answer("h2c, echo/1, WebSocket, tls/1.3").as_bytes(),
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\
         Upgrade: echo/1, WebSocket\r\nConnection: upgrade\r\n\r\n"
    );
    // None allowed: no Upgrade (the relay would not forward one).
    let t = run_whole(config, down, answer("h2c").as_bytes());
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n"
    );
    // An HTTP/1.0 client cannot upgrade: no Upgrade either.
    let t = run_whole(
        config,
        b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
        answer("websocket").as_bytes(),
    );
    assert!(!text(&t.sent(Side::Down)).contains("Upgrade:"));
}

#[test]
fn a_refused_upgrade_is_relayed_as_http_and_later_client_bytes_never_go_up() {
    let smuggled: &[u8] = b"GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n";
    for (status, answer) in [
        (
            426,
            "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n",
        ),
        (200, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"),
        (
            401,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n",
        ),
    ] {
        let down = cat(&[WS_REQUEST.as_bytes(), smuggled]);
        let t = relay(&down, answer.as_bytes());
        assert_eq!(text(&t.sent(Side::Up)), WS_FORWARDED, "{status}");
        assert_eq!(t.end, RelayState::Closed, "{status}");
        assert_eq!(
            t.down_rest,
            Bytes(smuggled.to_vec()),
            "{status}: dropped at the close"
        );
        assert!(t.events().iter().any(|e| matches!(
            e,
            Ev::Response { status: s, declined: Some(Declined::ByUpstream), closes: true, .. }
                if *s == status
        )));
        let down = text(&t.sent(Side::Down));
        if status == 426 {
            // RFC 9110 §15.5.22: a 426 names the protocols required; the
            // relay names again those it would forward an upgrade to.
            assert!(
                down.ends_with("\r\nUpgrade: websocket\r\nConnection: upgrade, close\r\n\r\n"),
                "{down}"
            );
        } else {
            assert!(
                down.ends_with("Connection: close\r\n\r\n") || down.ends_with("ok\n"),
                "{down}"
            );
            assert!(!down.contains("Upgrade:"), "{down}");
        }
    }
    // With keep-alive the next bytes are read as strict HTTP/1.1: a
    // WebSocket frame sent optimistically is no request (the relay waits
    // for a head that never comes), or a bad one; never a tunnel.
    let keep_alive = RelayConfig::new().keep_alive(true);
    let forbidden = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
    let down = cat(&[WS_REQUEST.as_bytes(), CLIENT_FRAME]);
    let t = run_whole(keep_alive, &down, forbidden);
    assert_eq!(text(&t.sent(Side::Up)), WS_FORWARDED);
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::ClosedBeforeHead, Reply::CloseTransport))
    );
    let down = cat(&[WS_REQUEST.as_bytes(), CLIENT_FRAME, b"\r\n\r\n"]);
    let t = run_whole(keep_alive, &down, forbidden);
    assert_eq!(text(&t.sent(Side::Up)), WS_FORWARDED);
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::BadStartLine, Reply::HttpStatus(400)))
    );
    assert!(text(&t.sent(Side::Down)).ends_with("the request line or status line is malformed"));
}

#[test]
fn an_http10_upstream_is_named_in_the_diagnosis() {
    let t = relay(
        WS_REQUEST.as_bytes(),
        b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(t.events().iter().any(|e| matches!(
        e,
        Ev::Response {
            status: 400,
            declined: Some(Declined::UpstreamHttp10),
            ..
        }
    )));
    assert!(Declined::UpstreamHttp10.to_string().contains("HTTP/1.0"));
    // A 1.0 101: 502.
    let t = relay(
        WS_REQUEST.as_bytes(),
        WS_101.replace("HTTP/1.1", "HTTP/1.0").as_bytes(),
    );
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::BadUpstreamSwitch, Reply::HttpStatus(502)))
    );
    assert_eq!(cause(&t), Some(PeerErrorKind::SwitchInHttp10));
    let body = format!("{BAD_SWITCH}: {SWITCH_IN_HTTP10}");
    assert_eq!(text(&t.sent(Side::Down)), reply("502 Bad Gateway", &body));
}

#[test]
fn a_101_nobody_asked_for_is_a_502() {
    let t = relay(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x00",
    );
    assert_eq!(
        failure(&t),
        Some((
            PeerErrorKind::UpstreamSwitchNotRequested,
            Reply::HttpStatus(502)
        ))
    );
    assert_eq!(t.end, RelayState::Failed);
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        reply("502 Bad Gateway", NOT_REQUESTED)
    );
}

#[test]
fn a_malformed_101_is_a_502() {
    let cases: [(String, &str); 6] = [
        (
            WS_101.replace(
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            ACCEPT_MISMATCH,
        ),
        (
            WS_101.replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""),
            ACCEPT_MISSING,
        ),
        (
            WS_101.replace("Connection: Upgrade\r\n", ""),
            NO_CONNECTION_UPGRADE,
        ),
        (
            WS_101.replace("Upgrade: websocket", "Upgrade: h2c"),
            UNOFFERED,
        ),
        (
            WS_101.replace("Upgrade: websocket", "Upgrade: websocket, websocket"),
            UNOFFERED,
        ),
        (WS_101.replace("Upgrade: websocket\r\n", ""), UNOFFERED),
    ];
    for (answer, cause) in cases {
        let down = cat(&[WS_REQUEST.as_bytes(), CLIENT_FRAME]);
        let t = relay(&down, answer.as_bytes());
        assert_eq!(
            failure(&t),
            Some((PeerErrorKind::BadUpstreamSwitch, Reply::HttpStatus(502))),
            "{answer}"
        );
        assert_eq!(t.end, RelayState::Failed);
        assert_eq!(
            text(&t.sent(Side::Up)),
            WS_FORWARDED,
            "the frame never went up"
        );
        let body = format!("{BAD_SWITCH}: {cause}");
        assert_eq!(text(&t.sent(Side::Down)), reply("502 Bad Gateway", &body));
    }
    let mut relay = Relay::new(RelayConfig::new());
    let _ = relay.receive_downstream(WS_REQUEST.as_bytes()).unwrap();
    let answer = WS_101.replace("s3pP", "s3pp");
    let Err(Error::Peer(e)) = relay.receive_upstream(answer.as_bytes()) else {
        panic!()
    };
    assert_eq!(
        e.to_string(),
        "the upstream's 101 cannot be tunnelled, so the relay answers 502 instead; reply 502"
    );
    assert_eq!(
        relay.cause().map(|c| c.kind()),
        Some(PeerErrorKind::AcceptMismatch)
    );
    assert_eq!(relay.cause().unwrap().message(), ACCEPT_MISMATCH);
}

#[test]
fn a_malformed_response_is_a_502_and_one_cut_short_closes() {
    let t = relay(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
    );
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::BadUpstreamResponse, Reply::HttpStatus(502)))
    );
    assert_eq!(cause(&t), Some(PeerErrorKind::BadStatus));
    assert_eq!(
        text(&t.sent(Side::Down)),
        reply(
            "502 Bad Gateway",
            "the upstream's response is not valid HTTP/1.1, so the relay answers 502 instead: \
             the status code is not three digits"
        )
    );
    let t = relay(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"HTTP/1.1 200 OK\r\n");
    assert_eq!(
        failure(&t),
        Some((
            PeerErrorKind::UpstreamClosedBeforeResponse,
            Reply::HttpStatus(502)
        ))
    );
    // Once the head went down, a short body can only be closed on.
    let t = relay(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
    );
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::ClosedInBody, Reply::CloseTransport))
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhel"
    );
    // Bytes from the upstream with no request outstanding.
    let t = relay(b"", b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::UpstreamUnsolicited, Reply::CloseTransport))
    );
}

#[test]
fn connect_is_not_relayed() {
    let t = relay(b"CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n", b"");
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::ConnectNotRelayed, Reply::HttpStatus(501)))
    );
    assert!(t.sent(Side::Up).is_empty());
}

// ---- bodies, interim responses ----

#[test]
fn a_content_length_list_or_repeat_goes_on_as_one_decimal() {
    // RFC 9110 §8.6: equal values in a list or on repeated lines may be
    // accepted, or replaced by one; a stricter next hop would refuse them.
    let t = relay(
        b"PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 005, 5\r\nX: 1\r\ncontent-length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2,2\r\nContent-Length: 02\r\n\r\nok",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: 1\r\nConnection: close\r\n\r\nhello"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
    // Different values stay an error (400 / 502), as before.
    let t = relay(
        b"PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello",
        b"",
    );
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::BadContentLength, Reply::HttpStatus(400)))
    );
    assert!(t.sent(Side::Up).is_empty());
}

#[test]
fn content_length_bodies_are_relayed_byte_for_byte() {
    let t = relay(
        b"PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 201 Created\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndone"
    );
    assert_eq!(
        t.events()
            .iter()
            .filter(|e| matches!(e, Ev::BodyEnd(_)))
            .count(),
        2
    );
}

#[test]
fn chunked_bodies_keep_their_framing_and_bad_framing_stops() {
    let body = "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n";
    let t = relay(
        format!("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{body}")
            .as_bytes(),
        format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{body}").as_bytes(),
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        format!(
            "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}"
        )
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{body}")
    );
    // Bad chunk framing from the client: 400, and what follows never goes up.
    let t = relay(
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWikiX\r\n0\r\n\r\n",
        b"",
    );
    assert_eq!(
        failure(&t),
        Some((PeerErrorKind::BadChunk, Reply::HttpStatus(400)))
    );
    assert!(!text(&t.sent(Side::Up)).contains("WikiX"));
    // A request with both framings is refused (RFC 9112 §6.1).
    let t = relay(
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        b"",
    );
    assert_eq!(
        failure(&t),
        Some((
            PeerErrorKind::ContentLengthWithTransferEncoding,
            Reply::HttpStatus(400)
        ))
    );
}

#[test]
fn an_http10_client_gets_no_interim_and_a_dechunked_body() {
    let t = relay(
        b"GET / HTTP/1.0\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n\
          HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nX: 1\r\nConnection: close\r\n\r\nhi"
    );
    assert_eq!(t.end, RelayState::Closed);
}

#[test]
fn expect_100_continue_is_relayed_before_the_body() {
    let mut relay = Relay::new(RelayConfig::new());
    let mut out = [0u8; 256];
    let request =
        b"POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    let got = relay.receive_downstream(request).unwrap();
    let Some(Event::Request(r)) = got.event else {
        panic!()
    };
    let n = r.write(&mut out).unwrap();
    assert_eq!(
        &out[..n],
        b"POST /u HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(relay.state(), RelayState::RequestBody);
    // The client waits; the upstream says go on; the relay passes it down.
    let got = relay.receive_downstream(b"").unwrap();
    assert_eq!(got.event, None);
    let got = relay
        .receive_upstream(b"HTTP/1.1 100 Continue\r\n\r\n")
        .unwrap();
    let Some(Event::Interim(interim)) = got.event else {
        panic!()
    };
    let n = interim.write(&mut out).unwrap();
    assert_eq!(&out[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(relay.state(), RelayState::RequestBody);
    let got = relay.receive_downstream(b"hello").unwrap();
    assert_eq!(
        got.event,
        Some(Event::Body {
            bytes: b"hello",
            end: true
        })
    );
    assert_eq!(relay.state(), RelayState::AwaitingResponse);
}

#[test]
fn an_early_final_answer_stops_the_request_body_and_closes() {
    let mut relay = Relay::new(RelayConfig::new().keep_alive(true));
    let got = relay
        .receive_downstream(b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello")
        .unwrap();
    assert!(matches!(got.event, Some(Event::Request(_))));
    let got = relay.receive_downstream(b"hello").unwrap();
    assert_eq!(
        got.event,
        Some(Event::Body {
            bytes: b"hello",
            end: false
        })
    );
    let got = relay
        .receive_upstream(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let Some(Event::Response(r)) = got.event else {
        panic!()
    };
    assert!(r.closes());
    assert_eq!(relay.state(), RelayState::Closed);
    assert!(matches!(
        relay.receive_downstream(b"world"),
        Err(Error::Local(_))
    ));
}

#[test]
fn keep_alive_reads_the_next_request_after_a_complete_exchange() {
    let t = run_whole(
        RelayConfig::new().keep_alive(true),
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2"
    );
    assert_eq!(
        t.end,
        RelayState::Closed,
        "the client ended between requests"
    );
    // A response delimited by the close ends the connection.
    let t = run_whole(
        RelayConfig::new().keep_alive(true),
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nuntil close",
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close"
    );
    assert_eq!(t.end, RelayState::Closed);
    assert_eq!(
        t.down_rest,
        Bytes(b"GET /2 HTTP/1.1\r\nHost: a\r\n\r\n".to_vec())
    );
}

// ---- the machine's contract ----

#[test]
fn a_head_write_into_a_small_buffer_names_the_size_and_writes_nothing() {
    let mut relay = Relay::new(RelayConfig::new());
    let got = relay.receive_downstream(WS_REQUEST.as_bytes()).unwrap();
    let Some(Event::Request(r)) = got.event else {
        panic!()
    };
    let mut small = [0xA5u8; 10];
    assert_eq!(
        r.write(&mut small),
        Err(Error::BufferTooSmall {
            needed: WS_FORWARDED.len()
        })
    );
    assert!(small.iter().all(|&b| b == 0xA5));
}

#[test]
fn calls_outside_the_table_are_local_errors() {
    let mut relay = Relay::new(RelayConfig::new());
    let _ = relay.receive_downstream(WS_REQUEST.as_bytes()).unwrap();
    let _ = relay.receive_upstream(WS_101.as_bytes()).unwrap();
    assert_eq!(relay.state(), RelayState::Tunnel);
    assert!(matches!(
        relay.receive_downstream(b"x"),
        Err(Error::Local(_))
    ));
    assert!(matches!(relay.receive_upstream(b"x"), Err(Error::Local(_))));
    assert_eq!(relay.receive_eof_downstream(), Ok(None));
    assert_eq!(relay.poll_transmit_downstream(&mut [0u8; 16]), 0);
}

#[test]
fn every_state_is_reached_by_some_edge() {
    use std::collections::HashSet;
    let reached: HashSet<RelayState> = TRANSITIONS.iter().map(|&(_, _, to)| to).collect();
    for state in [
        RelayState::RequestBody,
        RelayState::UpgradeBody,
        RelayState::AwaitingResponse,
        RelayState::AwaitingSwitch,
        RelayState::ResponseBody,
        RelayState::Tunnel,
        RelayState::Closed,
        RelayState::Failed,
        RelayState::RequestHead,
    ] {
        assert!(reached.contains(&state), "{state:?}");
    }
    assert!(TRANSITIONS.iter().any(|&(_, i, _)| i == RelayInput::Switch));
}

// ---- split invariance ----

/// The scenarios above, as (configuration byte, client bytes, upstream bytes).
fn scenarios() -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    let ws_down = cat(&[WS_REQUEST.as_bytes(), CLIENT_FRAME]);
    let chunked = b"4\r\nWiki\r\n5;e\r\npedia\r\n0\r\nT: 1\r\n\r\n";
    vec![
        (0, ws_down.clone(), cat(&[WS_101.as_bytes(), SERVER_FRAME])),
        (0, ws_down.clone(), b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nno".to_vec()),
        (1, ws_down.clone(), b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 No\r\nContent-Length: 0\r\n\r\n".to_vec()),
        (0, ws_down, WS_101.replace("s3p", "S3p").into_bytes()),
        (
            1,
            cat(&[
                b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
                chunked,
                b"GET /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok",
            ]),
            cat(&[
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                chunked,
                b"HTTP/1.1 204 No Content\r\n\r\n",
            ]),
        ),
        (
            0x20 | 0x10 | 4,
            b"POST /e HTTP/1.1\r\nHost: a\r\nUpgrade: echo/1\r\nConnection: upgrade\r\nContent-Length: 3\r\n\r\nabcxyz".to_vec(),
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo/1\r\nConnection: upgrade\r\n\r\nzyx".to_vec(),
        ),
        (
            2 | 8,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nPRI".to_vec(),
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n".to_vec(),
        ),
        (0, b"GET / HTTP/1.0\r\n\r\n".to_vec(), b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n".to_vec()),
        (0, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n".to_vec()),
    ]
}

fn cut_at(stream: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut reads = Vec::new();
    let mut rest = stream;
    for &c in cuts {
        let (read, after) = rest.split_at(c.min(rest.len()));
        reads.push(read.to_vec());
        rest = after;
    }
    reads.push(rest.to_vec());
    reads
}

#[test]
fn every_scenario_gives_the_same_story_in_one_read_and_byte_by_byte() {
    for (config, down, up) in scenarios() {
        let config = protoswitch_testkit::targets::relay::config(config);
        let whole = run_whole(config, &down, &up);
        protoswitch_testkit::targets::relay::check_rules(&whole);
        let d: Vec<&[u8]> = down.chunks(1).collect();
        let u: Vec<&[u8]> = up.chunks(1).collect();
        assert_eq!(run(config, &d, &u, 4096), whole, "{}", text(&down));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any split of either stream, and any output buffer size, gives the
    /// same events and the same bytes on both sides.
    #[test]
    fn any_split_gives_the_same_events_and_bytes(
        which in 0usize..9,
        down_cuts in proptest::collection::vec(0usize..40, 0..8),
        up_cuts in proptest::collection::vec(0usize..40, 0..8),
        out in 0usize..8,
    ) {
        let (config, down, up) = scenarios().swap_remove(which);
        let config = protoswitch_testkit::targets::relay::config(config);
        let whole = run_whole(config, &down, &up);
        let d = cut_at(&down, &down_cuts);
        let u = cut_at(&up, &up_cuts);
        let d: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
        let u: Vec<&[u8]> = u.iter().map(Vec::as_slice).collect();
        let cut = run(config, &d, &u, protoswitch_testkit::OUT_SIZES[out]);
        prop_assert_eq!(cut, whole);
    }

    /// Arbitrary bytes on both sides: never a panic, the same story for
    /// any split, and the relay's rules hold.
    #[test]
    fn arbitrary_streams_obey_the_rules(
        config in any::<u8>(),
        prefix in 0usize..9,
        down_tail in proptest::collection::vec(any::<u8>(), 0..64),
        up_tail in proptest::collection::vec(any::<u8>(), 0..64),
        cut in 1usize..7,
    ) {
        let (_, mut down, mut up) = scenarios().swap_remove(prefix);
        down.truncate(down.len() * cut / 6);
        up.truncate(up.len() * cut / 6);
        down.extend_from_slice(&down_tail);
        up.extend_from_slice(&up_tail);
        let mut data = vec![config, cut as u8, 0, 0];
        data.extend_from_slice(&(down.len() as u16).to_le_bytes());
        data.extend_from_slice(&down);
        data.extend_from_slice(&up);
        protoswitch_testkit::targets::relay::check(&data);
    }
}

#[test]
fn an_http10_client_is_answered_then_closed_and_its_expect_dropped() {
    let t = run_whole(
        RelayConfig::new().keep_alive(true),
        b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nHost: \r\nConnection: close\r\n\r\nx"
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    // An HTTP/1.0 upstream's Transfer-Encoding is faulty framing: its body
    // runs to the close, and the client is not told to decode chunks.
    let t = relay(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n2\r\nhi\r\n"
    );
    assert_eq!(t.end, RelayState::Closed);
}

#[test]
fn a_framing_error_tells_the_same_story_for_every_split() {
    // The framing before the error is forwarded, then the error: the same
    // bytes and the same error (the trailer limit, at the seventh trailer
    // byte) in one read and byte by byte.
    let config = RelayConfig::new().limits(protoswitch::http1::Limits::new().max_trailer_bytes(6));
    let down = b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nT: 1234\rX";
    let whole = run_whole(config, down, b"");
    let d: Vec<&[u8]> = down.chunks(1).collect();
    assert_eq!(run(config, &d, &[b""], 4096), whole);
    assert_eq!(
        failure(&whole),
        Some((
            PeerErrorKind::TrailersTooLarge { limit: 6 },
            Reply::HttpStatus(431)
        ))
    );
    assert!(text(&whole.sent(Side::Up)).ends_with("\r\n\r\n1\r\nx\r\n0\r\nT: 123"));
}

/// An absolute-form target names the host: the client's `Host` is
/// replaced by the target's authority, without userinfo (RFC 9112
/// §3.2.2), so that a proxy routing on `Host` and an upstream reading the
/// target agree; a target without an authority gets an empty `Host`.
#[test]
fn an_absolute_form_target_sets_the_host_it_is_forwarded_with() {
    let cases: [(&str, &str); 5] = [
        ("http://admin.internal/secret", "admin.internal"),
        (
            "http://user:pw@admin.internal:8080?q",
            "admin.internal:8080",
        ),
        ("HTTPS://[::1]:443/x", "[::1]:443"),
        ("http://h", "h"),
        ("urn:example:x", ""),
    ];
    for (target, host) in cases {
        let request = format!("GET {target} HTTP/1.1\r\nHost: public.example\r\nX: 1\r\n\r\n");
        let t = relay(request.as_bytes(), b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(
            text(&t.sent(Side::Up)),
            format!("GET {target} HTTP/1.1\r\nX: 1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
            "{target}"
        );
    }
    // The origin form keeps the client's Host.
    let t = relay(
        b"GET /x HTTP/1.1\r\nHost: public.example\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET /x HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n"
    );
}

/// A body after a response that has none (here a HEAD's, but a 204, a 304
/// or a Content-Length too short are alike) is unsolicited: a driver that
/// hands the relay the upstream's buffered bytes before reading the next
/// request (the documented order) gets `UpstreamUnsolicited`, and the
/// next request is never forwarded with those bytes waiting as its answer.
#[test]
fn bytes_after_a_complete_response_fail_before_the_next_request() {
    use protoswitch::PeerErrorKind;
    let mut relay = Relay::new(RelayConfig::new().keep_alive(true));
    let got = relay
        .receive_downstream(b"HEAD /1 HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert!(matches!(got.event, Some(Event::Request(_))));
    let up: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 29\r\n\r\nHTTP/1.1 200 OK\r\nX-Body: 1\r\n\r\n";
    let got = relay.receive_upstream(up).unwrap();
    assert!(matches!(got.event, Some(Event::Response(_))));
    assert_eq!(relay.state(), RelayState::RequestHead);
    let rest = &up[got.consumed..];
    assert!(rest.starts_with(b"HTTP/1.1 200 OK\r\nX-Body"));
    match relay.receive_upstream(rest) {
        Err(Error::Peer(e)) => assert_eq!(e.kind(), PeerErrorKind::UpstreamUnsolicited),
        other => panic!("{other:?}"),
    }
    assert_eq!(relay.state(), RelayState::Failed);
    assert!(!relay.reads_downstream());
}

/// No `Transfer-Encoding` reaches an HTTP/1.0 client (RFC 9112 §6.1): a
/// HEAD's response goes without it (there is no body to de-chunk or
/// decode), and a body in a coding the relay cannot undo is a 502. An
/// HTTP/1.1 client gets the coding as it came.
#[test]
fn no_transfer_encoding_reaches_an_http10_client() {
    let t = relay(
        b"HEAD / HTTP/1.0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nX: 1\r\nConnection: close\r\n\r\n"
    );
    let t = relay(
        b"GET / HTTP/1.0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxxxx",
    );
    let down = text(&t.sent(Side::Down));
    assert!(down.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{down}");
    assert!(!down.contains("xxxx"), "{down}");
    assert_eq!(t.end, RelayState::Failed);
    // Without a body there is nothing to undo: the field just goes.
    let t = relay(
        b"HEAD / HTTP/1.0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nX: 1\r\n\r\n",
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nX: 1\r\nConnection: close\r\n\r\n"
    );
    let t = relay(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxxxx",
    );
    assert_eq!(
        text(&t.sent(Side::Down)),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nxxxx"
    );
}

/// `Connection` may name at most `MAX_CONNECTION_OPTIONS` options (each
/// other field is checked against every one): one more is a 400 for a
/// request, a 502 for a response; the limit itself is relayed.
#[test]
fn connection_options_are_bounded() {
    use protoswitch::relay::MAX_CONNECTION_OPTIONS;
    let options = |n: usize| vec!["x-opt"; n].join(", ");
    let request = |n: usize| {
        format!(
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: {}\r\nX-Opt: 1\r\n\r\n",
            options(n)
        )
    };
    let ok = b"HTTP/1.1 204 No Content\r\n\r\n";
    let t = relay(request(MAX_CONNECTION_OPTIONS).as_bytes(), ok);
    assert_eq!(failure(&t), None);
    assert_eq!(
        text(&t.sent(Side::Up)),
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "the nominated field is removed"
    );
    let t = relay(request(MAX_CONNECTION_OPTIONS + 1).as_bytes(), ok);
    assert_eq!(
        failure(&t),
        Some((
            PeerErrorKind::TooManyConnectionOptions,
            Reply::HttpStatus(400)
        ))
    );
    assert!(t.sent(Side::Up).is_empty());
    let response = format!(
        "HTTP/1.1 200 OK\r\nConnection: {}\r\nContent-Length: 0\r\n\r\n",
        options(MAX_CONNECTION_OPTIONS + 1)
    );
    let t = relay(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", response.as_bytes());
    let down = text(&t.sent(Side::Down));
    assert!(down.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{down}");
}
