//! RFC 9112 framing rules, each with its violating and valid forms, fed
//! whole and split at every point, with the exact reply bytes.

use protoswitch::http1::Limits;
use protoswitch::upgrade::{
    Accept, ClientRequest, ClientState, Diagnosis, Response, ServerConfig, ServerEvent,
    ServerHandshake, ServerState,
};
use protoswitch::{LocalError, PeerErrorKind as K};
use protoswitch_testkit::pair::{Ev, feed_client, feed_server};

/// Feeds `input` whole, byte by byte and cut once at every point; all runs
/// must agree. Returns the events, the leftover and the reply bytes.
fn server_run(input: &[u8], config: ServerConfig) -> (Vec<Ev>, Vec<u8>, Vec<u8>) {
    let whole = feed_server(input, &[], config);
    let bytewise: Vec<usize> = (1..input.len()).collect();
    assert_eq!(feed_server(input, &bytewise, config), whole, "byte by byte");
    for cut in 1..input.len() {
        assert_eq!(feed_server(input, &[cut], config), whole, "cut at {cut}");
    }
    whole
}

/// The reply a server owes for a peer error: status, `Connection: close`
/// and the diagnosis as the body.
fn error_reply(status: &str, message: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\n\r\n{message}",
        message.len()
    )
    .into_bytes()
}

/// Asserts that `input` fails with `kind` and exactly `reply` on the wire.
fn assert_refused(input: &[u8], kind: K, reply: &[u8]) {
    assert_refused_with(input, kind, reply, ServerConfig::default());
}

fn assert_refused_with(input: &[u8], kind: K, reply: &[u8], config: ServerConfig) {
    let (events, rest, wire) = server_run(input, config);
    let shown = String::from_utf8_lossy(input);
    assert_eq!(events.last(), Some(&Ev::Error(kind)), "{shown}");
    assert!(rest.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&wire),
        String::from_utf8_lossy(reply),
        "{shown}"
    );
}

/// Asserts that `input` is one complete request (with `body`, if any) and
/// nothing was replied.
fn assert_request(input: &[u8], target: &str, body: Option<&[u8]>) {
    let (events, rest, wire) = server_run(input, ServerConfig::default());
    let shown = String::from_utf8_lossy(input);
    let mut expected = vec![Ev::Request {
        method: String::from_utf8_lossy(input.split(|&b| b == b' ').next().unwrap())
            .trim_start()
            .to_string(),
        target: target.to_string(),
    }];
    if let Some(body) = body {
        if !body.is_empty() {
            expected.push(Ev::Body(body.to_vec()));
        }
        expected.push(Ev::BodyEnd);
    }
    assert_eq!(events, expected, "{shown}");
    assert!(rest.is_empty(), "{shown}");
    assert!(wire.is_empty(), "{shown}");
}

fn with_host(host: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

// ---- 1. HTTP/1.0 with Transfer-Encoding (RFC 9112 §6.1) ----

#[test]
fn http10_request_with_transfer_encoding_is_refused() {
    let bad = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.0\r\n\r\n";
    assert_refused(
        bad,
        K::TransferEncodingInHttp10,
        &error_reply(
            "400 Bad Request",
            "an HTTP/1.0 message with Transfer-Encoding has faulty framing",
        ),
    );
    // Valid: the same body framed by Content-Length in 1.0, or chunked in 1.1.
    assert_request(
        b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
        "/",
        Some(b"abc"),
    );
    assert_request(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "/",
        Some(b"abc"),
    );
}

#[test]
fn http10_response_with_transfer_encoding_is_read_until_close_and_not_reused() {
    let request = ClientRequest::new("GET", "/", "h", &["echo/1"]);
    let response = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.0 200 OK\r\n\r\n";
    let all_cuts: Vec<usize> = (1..response.len()).collect();
    let (events, rest, client) = feed_client(&request, response, &[]);
    let (split_events, split_rest, _) = feed_client(&request, response, &all_cuts);
    assert_eq!((&events, &rest), (&split_events, &split_rest));
    assert_eq!(
        events,
        [
            Ev::Declined {
                status: 200,
                diagnosis: Diagnosis::Http10Peer
            },
            // Not decoded as chunks: everything up to the close is body.
            Ev::Body(response[47..].to_vec()),
        ]
    );
    let mut client = client;
    assert!(matches!(
        client.receive_eof(),
        Ok(Some(protoswitch::upgrade::ClientEvent::BodyEnd))
    ));
    assert!(!client.keep_alive());
    // Valid: the same response in HTTP/1.1 is decoded and reusable.
    let ok = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let (events, _, client) = feed_client(&request, ok, &[]);
    assert_eq!(events[1..], [Ev::Body(b"abc".to_vec()), Ev::BodyEnd]);
    assert!(client.keep_alive());
}

// ---- 2. Host syntax (RFC 9112 §3.2, RFC 3986 §3.2.2) ----

#[test]
fn invalid_host_values_get_400() {
    let reply = error_reply("400 Bad Request", "the Host value is not host[:port]");
    for host in [
        "a b",
        "user@example.com",
        "user:pw@example.com",
        "a.example,b.example",
        "a.example, b.example",
        "example.com/path",
        "example.com?q",
        "example.com:80x",
        "example.com:http",
        "[::1",
        "::1",
        "[::1]x",
        "[::g]",
        "[1:2:3:4:5:6:7:8:9]",
        "[1:2:3:4:5:6:7]",
        "[1::2::3]",
        "[::1.2.3.256]",
        "[1.2.3.4::]",
        "[v1]",
        // `,` is a sub-delim RFC 3986 allows, refused: a list of hosts to
        // an intermediary that splits at commas.
        "a.example,b.example",
        "[v1.a,b]",
        "exa%2mple.com",
        "ex\"ample.com",
    ] {
        assert_refused(&with_host(host), K::InvalidHost, &reply);
    }
}

#[test]
fn valid_host_values_are_delivered() {
    for host in [
        "example.com",
        "example.com:8080",
        "example.com:",
        "127.0.0.1:80",
        "[::1]",
        "[::1]:443",
        "[2001:db8::7]",
        "[1:2:3:4:5:6:7:8]",
        "[::ffff:192.0.2.1]",
        "[v7.fe80::1]",
        "xn--bcher-kva.example",
        "a%20b.example",
        "under_score.example",
        "",
    ] {
        assert_request(&with_host(host), "/", None);
    }
    // HTTP/1.0 without Host is fine; with an invalid one it is not.
    assert_request(b"GET / HTTP/1.0\r\n\r\n", "/", None);
    assert_refused(
        b"GET / HTTP/1.0\r\nHost: a b\r\n\r\n",
        K::InvalidHost,
        &error_reply("400 Bad Request", "the Host value is not host[:port]"),
    );
}

// ---- 3. Trailer lines are field lines (RFC 9112 §7.1.2, §5.1) ----

fn chunked_with_trailer(trailer: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n{trailer}\r\n"
    )
    .into_bytes()
}

#[test]
fn trailer_lines_must_be_field_lines() {
    let reply = error_reply(
        "400 Bad Request",
        "a trailer line is not a valid field line",
    );
    for trailer in [
        "no colon\r\n",
        "NoColon\r\n",
        "Name : value\r\n",
        "Name\t: value\r\n",
        ": value\r\n",
        "Na(me): value\r\n",
        " folded: value\r\n",
        "Ok: 1\r\n\tfolded\r\n",
        "Name: a\x7fb\r\n",
        "Name: value\n",
    ] {
        assert_refused(&chunked_with_trailer(trailer), K::BadTrailer, &reply);
    }
    for trailer in [
        "",
        "Name: value\r\n",
        "A:1\r\nB: two words \r\n",
        "Empty:\r\n",
    ] {
        assert_request(&chunked_with_trailer(trailer), "/", Some(b"x"));
    }
}

#[test]
fn chunk_extension_and_trailer_limits_reply_413_and_431() {
    let config = |limits: Limits| ServerConfig::new().limits(limits);
    let body = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a=b\r\nx\r\n0;c\r\nT: 1\r\nU: 2\r\n\r\n";
    // Extensions ";a=b" and ";c" make 6 bytes; the trailer 12 bytes, 2 fields.
    let exact = Limits::new()
        .max_chunk_extension_bytes(6)
        .max_trailer_bytes(12)
        .max_trailer_fields(2);
    let (events, _, wire) = server_run(body, config(exact));
    assert_eq!(events.last(), Some(&Ev::BodyEnd));
    assert!(wire.is_empty());
    assert_refused_with(
        body,
        K::ChunkExtensionsTooLarge { limit: 5 },
        &error_reply(
            "413 Content Too Large",
            "the chunk extensions are larger than the configured limit",
        ),
        config(exact.max_chunk_extension_bytes(5)),
    );
    assert_refused_with(
        body,
        K::TrailersTooLarge { limit: 11 },
        &error_reply(
            "431 Request Header Fields Too Large",
            "the trailer section is larger than the configured limit",
        ),
        config(exact.max_trailer_bytes(11)),
    );
    assert_refused_with(
        body,
        K::TooManyTrailers { limit: 1 },
        &error_reply(
            "431 Request Header Fields Too Large",
            "the trailer section has more fields than the configured limit",
        ),
        config(exact.max_trailer_fields(1)),
    );
}

// ---- 4. Content-Length lists (RFC 9110 §8.6, RFC 9112 §6.3 item 5) ----

fn with_length(value: &str) -> Vec<u8> {
    format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {value}\r\n\r\nabc").into_bytes()
}

#[test]
fn content_length_lists_need_identical_non_empty_elements() {
    let reply = error_reply(
        "400 Bad Request",
        "Content-Length is invalid or has conflicting values",
    );
    for value in [
        "3,", ",3", "3,,3", "3, ,3", "3, 4", "", "3 3", "-3", "0x3", "3;",
    ] {
        assert_refused(&with_length(value), K::BadContentLength, &reply);
    }
    for value in ["3", "3,3", "3, 3", "3 ,\t3"] {
        assert_request(&with_length(value), "/", Some(b"abc"));
    }
}

// ---- 5. Leading zeros (1*DIGIT, 1*HEXDIG, last-chunk = 1*"0") ----

#[test]
fn leading_zeros_do_not_count_towards_overflow() {
    let zeros = "0".repeat(30);
    assert_request(&with_length(&format!("{zeros}3")), "/", Some(b"abc"));
    let chunked = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{zeros}3\r\nabc\r\n{zeros}\r\n\r\n"
    );
    assert_request(chunked.as_bytes(), "/", Some(b"abc"));
    // The largest 64-bit length, with zeros in front, is a valid head.
    let max = with_length(&format!("{zeros}18446744073709551615"));
    let mut server = ServerHandshake::new(ServerConfig::default());
    let got = server.receive(&max).unwrap();
    assert!(matches!(got.event, Some(ServerEvent::Request(_))));
    // One more overflows.
    assert_refused(
        &with_length(&format!("{zeros}18446744073709551616")),
        K::BadContentLength,
        &error_reply(
            "400 Bad Request",
            "Content-Length is invalid or has conflicting values",
        ),
    );
    let too_big = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{zeros}10000000000000000\r\n"
    );
    assert_refused(
        too_big.as_bytes(),
        K::BadChunk,
        &error_reply("400 Bad Request", "the chunked body framing is malformed"),
    );
}

// ---- Versions and target forms (RFC 9112 §2.3, §3.2) ----

#[test]
fn higher_http1_minor_versions_are_handled_as_http11() {
    let req = b"GET /chat HTTP/1.7\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let mut server = ServerHandshake::new(ServerConfig::default());
    let got = server.receive(req).unwrap();
    let Some(ServerEvent::Request(r)) = got.event else {
        panic!("no request")
    };
    assert_eq!(r.head().minor_version(), 1);
    assert!(r.websocket().unwrap().is_some());
    let mut out = [0u8; 256];
    let switch = r.switch(&Accept::new("websocket")).unwrap();
    let n = server.accept(&switch, &mut out).unwrap();
    assert!(out[..n].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    // HTTP/1.1 needs Host in any 1.x above 0.
    assert_refused(
        b"GET / HTTP/1.2\r\n\r\n",
        K::HostMissingOrRepeated,
        &error_reply(
            "400 Bad Request",
            "an HTTP/1.1 request needs exactly one Host header",
        ),
    );
    for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.1"] {
        assert_refused(
            format!("GET / {version}\r\nHost: h\r\n\r\n").as_bytes(),
            K::BadVersion,
            &error_reply(
                "505 HTTP Version Not Supported",
                "the HTTP major version is not 1",
            ),
        );
    }
    for version in [
        "HTTP/1",
        "HTTP/1.",
        "HTTP/11",
        "HTTP/1.1.1",
        "http/1.1",
        "HTTP/1.x",
    ] {
        assert_refused(
            format!("GET / {version}\r\nHost: h\r\n\r\n").as_bytes(),
            K::BadStartLine,
            &error_reply(
                "400 Bad Request",
                "the request line or status line is malformed",
            ),
        );
    }
    // A client takes a 101 in HTTP/1.3 as HTTP/1.1.
    let request = ClientRequest::new("GET", "/", "h", &["echo/1"]);
    let (events, _, _) = feed_client(
        &request,
        b"HTTP/1.3 101 Switching Protocols\r\nUpgrade: echo/1\r\nConnection: upgrade\r\n\r\n",
        &[],
    );
    assert_eq!(
        events,
        [Ev::Switched {
            protocol: "echo/1".into(),
            subprotocol: None
        }]
    );
}

#[test]
fn target_forms_follow_the_method() {
    let reply = error_reply(
        "400 Bad Request",
        "the request target's form does not fit the method, or it has a #fragment",
    );
    for line in [
        "GET *",
        "POST *",
        "GET /a#frag",
        "GET /#",
        "GET http://h/a#b",
        "GET example.com",
        "CONNECT /x",
        "CONNECT example.com",
        "CONNECT example.com:",
        "CONNECT :443",
        "CONNECT user@example.com:443",
        "OPTIONS *x",
    ] {
        assert_refused(
            format!("{line} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes(),
            K::BadTarget,
            &reply,
        );
    }
    for (line, target) in [
        ("OPTIONS *", "*"),
        ("GET /a?b=c", "/a?b=c"),
        ("GET http://h/a?b", "http://h/a?b"),
        ("GET ws+x.y-z://h", "ws+x.y-z://h"),
        ("CONNECT example.com:443", "example.com:443"),
        ("CONNECT [::1]:443", "[::1]:443"),
    ] {
        assert_request(
            format!("{line} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes(),
            target,
            None,
        );
    }
}

// ---- Keep-alive with HTTP/1.0 clients (RFC 9112 §9.3) ----

fn respond_to(request: &[u8]) -> (Vec<u8>, bool) {
    let mut server = ServerHandshake::new(ServerConfig::default());
    let got = server.receive(request).unwrap();
    assert!(matches!(got.event, Some(ServerEvent::Request(_))));
    assert_eq!(server.state(), ServerState::RequestReceived);
    let mut out = [0u8; 256];
    let n = server
        .respond(&Response::new(200).body(b"hi"), &mut out)
        .unwrap();
    (out[..n].to_vec(), server.keep_alive())
}

#[test]
fn http10_keep_alive_is_said_explicitly() {
    assert_eq!(
        respond_to(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        (
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi".to_vec(),
            true
        )
    );
    assert_eq!(
        respond_to(b"GET / HTTP/1.0\r\n\r\n"),
        (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi".to_vec(),
            false
        )
    );
    assert_eq!(
        respond_to(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".to_vec(),
            true
        )
    );
}

// ---- The same extension twice in a 101 ----

#[test]
fn an_extension_named_twice_is_refused_on_both_sides() {
    let request = ClientRequest::new("GET", "/", "h", &["websocket"])
        .websocket_key(*b"the sample nonce")
        .extensions(&["permessage-deflate", "x-other"]);
    let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
    for (extensions, want) in [
        (
            "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate\r\n",
            Some(K::ExtensionRepeated),
        ),
        (
            "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: PERMESSAGE-DEFLATE\r\n",
            Some(K::ExtensionRepeated),
        ),
        (
            "Sec-WebSocket-Extensions: permessage-deflate, x-unknown\r\n",
            Some(K::ExtensionNotOffered),
        ),
        (
            "Sec-WebSocket-Extensions: permessage-deflate, x-other\r\n",
            None,
        ),
    ] {
        let response = format!("{head}{extensions}\r\n");
        let (events, _, _) = feed_client(&request, response.as_bytes(), &[]);
        match want {
            Some(kind) => assert_eq!(events, [Ev::Error(kind)], "{extensions}"),
            None => assert!(matches!(events[..], [Ev::Switched { .. }]), "{events:?}"),
        }
    }
    // The server refuses to name one twice.
    let req = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate, x-other\r\n\r\n";
    let mut server = ServerHandshake::new(ServerConfig::default());
    let got = server.receive(req).unwrap();
    let Some(ServerEvent::Request(r)) = got.event else {
        panic!("no request")
    };
    assert_eq!(
        r.switch(&Accept::new("websocket").extensions("x-other, X-Other")),
        Err(LocalError::ExtensionRepeated)
    );
    let switch = r
        .switch(&Accept::new("websocket").extensions("x-other, permessage-deflate"))
        .unwrap();
    let mut out = [0u8; 512];
    assert!(server.accept(&switch, &mut out).is_ok());
}

// ---- Responses without a body (RFC 9112 §6.3 items 1–2) ----

#[test]
fn responses_to_head_and_204_304_have_no_body_whatever_their_framing_says() {
    let get = ClientRequest::new("GET", "/", "h", &["echo/1"]);
    let head = ClientRequest::new("HEAD", "/", "h", &["echo/1"]);
    let next = b"NEXT";
    for (request, response) in [
        (
            &get,
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"[..],
        ),
        (
            &get,
            b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
        (&head, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"),
        (
            &head,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
    ] {
        let input = [response, &next[..]].concat();
        let (events, rest, client) = feed_client(request, &input, &[]);
        let shown = String::from_utf8_lossy(response);
        assert!(
            matches!(events[..], [Ev::Declined { .. }]),
            "{shown}: {events:?}"
        );
        assert_eq!(client.state(), ClientState::Done, "{shown}");
        assert!(client.keep_alive(), "{shown}");
        assert_eq!(rest, next, "{shown}: the next bytes are not a body");
    }
    // The same 200 to a GET has its body.
    let (events, rest, _) = feed_client(
        &get,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT",
        &[],
    );
    assert_eq!(events[1..], [Ev::Body(b"hello".to_vec()), Ev::BodyEnd]);
    assert_eq!(rest, next);
}
