//! HTTP CONNECT (RFC 9110 §9.3.6) in both machines, with RFC 9931's
//! rules: the client sends nothing before the proxy's 2xx, a refusal
//! closes the connection. Exact bytes in and out.

use proptest::prelude::*;
use protoswitch::upgrade::{
    ClientEvent, ClientHandshake, ClientRequest, ClientState, ProtocolKind, Response, ServerEvent,
    ServerHandshake, ServerState,
};
use protoswitch::{Error, Header, Instant, LocalError};

const AUTH: &[Header<'static>] = &[Header::new("Proxy-Authorization", b"Basic dTpw")];

/// The CONNECT request's bytes and its machine.
fn connect(request: &ClientRequest<'static>) -> (ClientHandshake<'static>, Vec<u8>) {
    let mut out = [0u8; 512];
    let (client, n) =
        ClientHandshake::start(request, Default::default(), Instant::ZERO, &mut out).unwrap();
    (client, out[..n].to_vec())
}

#[test]
fn the_client_writes_connect_with_host_and_its_headers_and_nothing_else() {
    let (client, wire) = connect(&ClientRequest::connect("example.com:443").headers(AUTH));
    assert_eq!(
        wire,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
          Proxy-Authorization: Basic dTpw\r\n\r\n"
    );
    assert_eq!(client.state(), ClientState::AwaitingResponse);
    let (_, wire) = connect(&ClientRequest::connect("[::1]:8080"));
    assert_eq!(
        wire,
        b"CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"
    );
}

#[test]
fn a_connect_without_host_and_port_or_with_an_offer_or_a_body_is_refused() {
    let mut out = [0u8; 512];
    for request in [
        ClientRequest::connect("example.com"),
        ClientRequest::connect("/path"),
        ClientRequest::connect(":443"),
        ClientRequest::connect("example.com:443").body(3),
        ClientRequest::new(
            "CONNECT",
            "example.com:443",
            "example.com:443",
            &["websocket"],
        )
        .websocket_key([1; 16]),
    ] {
        let got = ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut out);
        assert_eq!(
            got.err(),
            Some(Error::Local(LocalError::InvalidConnect)),
            "{request:?}"
        );
    }
}

#[test]
fn a_2xx_opens_the_tunnel_and_the_bytes_after_it_are_the_tunnels() {
    for response in [
        &b"HTTP/1.1 200 Connection Established\r\n\r\n"[..],
        b"HTTP/1.0 200 Connection established\r\nProxy-Agent: x\r\n\r\n",
        // A Content-Length on a 2xx to CONNECT is ignored (RFC 9110 §9.3.6).
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ] {
        let (mut client, _) = connect(&ClientRequest::connect("example.com:443"));
        let mut input = response.to_vec();
        input.extend_from_slice(b"\x16\x03\x01 tls bytes");
        let got = client.receive(&input).unwrap();
        assert_eq!(got.consumed, response.len());
        let Some(ClientEvent::Tunnel { response: head }) = got.event else {
            panic!("{:?}", got.event)
        };
        assert!((200..300).contains(&head.status()));
        assert_eq!(client.state(), ClientState::Switched);
        assert_eq!(client.switched_to(), Some(ProtocolKind::Tunnel));
        assert_eq!(&input[got.consumed..], b"\x16\x03\x01 tls bytes");
    }
}

#[test]
fn interim_responses_come_before_the_tunnel() {
    let (mut client, _) = connect(&ClientRequest::connect("example.com:443"));
    let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    let got = client.receive(input).unwrap();
    assert!(matches!(got.event, Some(ClientEvent::Interim(h)) if h.status() == 100));
    let rest = &input[got.consumed..];
    let got = client.receive(rest).unwrap();
    assert!(matches!(got.event, Some(ClientEvent::Tunnel { .. })));
}

#[test]
fn a_refused_connect_is_declined_with_its_body_and_the_connection_closes() {
    let (mut client, _) = connect(&ClientRequest::connect("example.com:443"));
    let input = b"HTTP/1.1 407 Proxy Authentication Required\r\n\
        Proxy-Authenticate: Basic realm=\"p\"\r\nContent-Length: 6\r\n\r\nlog in";
    let got = client.receive(input).unwrap();
    let Some(ClientEvent::Declined { response, .. }) = got.event else {
        panic!("{:?}", got.event)
    };
    assert_eq!(response.status(), 407);
    let got = client.receive(&input[got.consumed..]).unwrap();
    assert_eq!(got.event, Some(ClientEvent::Body(b"log in")));
    let got = client.receive(b"").unwrap();
    assert_eq!(got.event, Some(ClientEvent::BodyEnd));
    assert_eq!(client.state(), ClientState::Done);
    // Reusable for a GET, never after a refused CONNECT (RFC 9931).
    assert!(!client.keep_alive());
}

#[test]
fn a_101_to_connect_is_a_peer_error() {
    let (mut client, _) = connect(&ClientRequest::connect("example.com:443"));
    let got = client.receive(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    assert!(matches!(got, Err(Error::Peer(_))), "{got:?}");
    assert_eq!(client.state(), ClientState::Failed);
}

/// The server's request, decided by `decide`; the bytes it wrote.
fn serve(
    input: &[u8],
    decide: impl FnOnce(&mut ServerHandshake, Option<&str>, &mut [u8]) -> Result<usize, Error>,
) -> (ServerHandshake, Result<Vec<u8>, Error>, usize) {
    let mut server = ServerHandshake::new(Default::default());
    let got = server.receive(input).unwrap();
    let Some(ServerEvent::Request(request)) = got.event else {
        panic!("{:?}", got.event)
    };
    let target = request.connect_target().map(str::to_owned);
    let mut out = [0u8; 512];
    let written = decide(&mut server, target.as_deref(), &mut out).map(|n| out[..n].to_vec());
    (server, written, got.consumed)
}

#[test]
fn the_server_tunnels_a_connect_and_leaves_the_tunnels_bytes() {
    let head = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let mut input = head.to_vec();
    input.extend_from_slice(b"\x16\x03\x01");
    let via = [Header::new("Via", b"1.1 proxy")];
    let (server, wire, consumed) = serve(&input, |s, target, out| {
        assert_eq!(target, Some("example.com:443"));
        s.tunnel(&via, out)
    });
    assert_eq!(
        wire.unwrap(),
        b"HTTP/1.1 200 Connection Established\r\nVia: 1.1 proxy\r\n\r\n"
    );
    assert_eq!(consumed, head.len());
    assert_eq!(server.state(), ServerState::Switched);
    assert_eq!(server.switched_to(), Some(ProtocolKind::Tunnel));
}

#[test]
fn a_refused_connect_closes_the_connection() {
    let input = b"CONNECT example.com:25 HTTP/1.1\r\nHost: example.com:25\r\n\r\n";
    let (server, wire, _) = serve(input, |s, _, out| {
        s.respond(&Response::new(403).body(b"not allowed\n"), out)
    });
    assert_eq!(
        wire.unwrap(),
        b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 12\r\n\r\nnot allowed\n"
    );
    assert!(!server.keep_alive());
    // The same answer to a GET keeps the connection.
    let (server, _, _) = serve(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", |s, _, out| {
        s.respond(&Response::new(403), out)
    });
    assert!(server.keep_alive());
}

#[test]
fn tunnel_answers_only_connect_and_accept_never_answers_connect() {
    let (server, wire, _) = serve(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", |s, target, out| {
        assert_eq!(target, None);
        s.tunnel(&[], out)
    });
    assert_eq!(wire.err(), Some(Error::Local(LocalError::NotConnect)));
    assert_eq!(server.state(), ServerState::RequestReceived);
    // A CONNECT that also offers an upgrade is still not switched with 101.
    let input =
        b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\nConnection: upgrade\r\nUpgrade: echo/1\r\n\r\n";
    let mut server = ServerHandshake::new(Default::default());
    let got = server.receive(input).unwrap();
    let Some(ServerEvent::Request(request)) = got.event else {
        panic!()
    };
    let switch = request
        .switch(&protoswitch::upgrade::Accept::new("echo/1"))
        .unwrap();
    let mut out = [0u8; 256];
    assert_eq!(
        server.accept(&switch, &mut out).err(),
        Some(Error::Local(LocalError::InvalidConnect))
    );
}

#[test]
fn a_connect_in_origin_form_is_a_bad_request() {
    let mut server = ServerHandshake::new(Default::default());
    let got = server.receive(b"CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n");
    let Err(Error::Peer(e)) = got else {
        panic!("{got:?}")
    };
    assert_eq!(e.status(), Some(400));
}

proptest! {
    /// Any split of the proxy's answer and the tunnel's first bytes gives
    /// the same tunnel event at the same offset.
    #[test]
    fn any_split_of_the_answer_gives_the_same_tunnel(cuts in proptest::collection::vec(0usize..80, 0..6)) {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection Established\r\nX: y\r\n\r\ntunnel!";
        let (mut client, _) = connect(&ClientRequest::connect("example.com:443"));
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.sort_unstable();
        cuts.push(input.len());
        let (mut buf, mut fed, mut events) = (Vec::new(), 0, Vec::new());
        for cut in cuts {
            buf.extend_from_slice(&input[fed..cut.max(fed)]);
            fed = cut.max(fed);
            while client.state() != ClientState::Switched {
                let got = client.receive(&buf).unwrap();
                let Some(event) = got.event else { break };
                events.push(match event {
                    ClientEvent::Interim(h) => h.status(),
                    ClientEvent::Tunnel { response } => response.status(),
                    other => panic!("{other:?}"),
                });
                buf.drain(..got.consumed);
            }
        }
        prop_assert_eq!(events, vec![100, 200]);
        prop_assert_eq!(buf, b"tunnel!".to_vec());
    }
}

#[test]
fn a_2xx_ignores_its_framing_fields_even_malformed() {
    // RFC 9110 §9.3.6: a client MUST ignore Content-Length and
    // Transfer-Encoding in a 2xx to CONNECT.
    for fields in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked",
        "Content-Length: abc",
        "Content-Length: 1, 2",
        "Transfer-Encoding: gzip, chunked",
    ] {
        let (mut client, _) = connect(&ClientRequest::connect("a.example:443"));
        let response = format!("HTTP/1.1 200 OK\r\n{fields}\r\n\r\ntunnel");
        let got = client.receive(response.as_bytes()).unwrap();
        assert!(
            matches!(got.event, Some(ClientEvent::Tunnel { .. })),
            "{fields}: {got:?}"
        );
        assert_eq!(&response.as_bytes()[got.consumed..], b"tunnel", "{fields}");
    }
    // A refusal's framing is still checked (its body must be read).
    let (mut client, _) = connect(&ClientRequest::connect("a.example:443"));
    let refused = client.receive(b"HTTP/1.1 403 Forbidden\r\nContent-Length: abc\r\n\r\n");
    assert!(refused.is_err(), "{refused:?}");
    // And a GET's 200 too.
    let mut out = [0u8; 256];
    let request = ClientRequest::new("GET", "/", "h", &["echo/1"]);
    let (mut client, _) =
        ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut out).unwrap();
    assert!(
        client
            .receive(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n")
            .is_err()
    );
}

#[test]
fn respond_refuses_a_2xx_to_connect_which_is_the_tunnel() {
    let request = b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n";
    let mut server = ServerHandshake::new(Default::default());
    assert!(matches!(
        server.receive(request).unwrap().event,
        Some(ServerEvent::Request(_))
    ));
    let mut out = [0u8; 256];
    for status in [200, 204, 299] {
        assert_eq!(
            server.respond(&Response::new(status), &mut out),
            Err(Error::Local(LocalError::InvalidStatus(status)))
        );
    }
    assert_eq!(server.state(), ServerState::RequestReceived);
    // A refusal is a response; the tunnel is `tunnel`.
    let n = server.respond(&Response::new(403), &mut out).unwrap();
    assert!(out[..n].starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
}
