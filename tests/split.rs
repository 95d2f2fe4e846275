//! The same bytes split at any points give the same events, leftover bytes,
//! replies and errors, for both machines; no input panics.

use proptest::prelude::*;
use protoswitch::http1::Limits;
use protoswitch::upgrade::{ClientRequest, ServerConfig};
use protoswitch_testkit::pair::{feed_client, feed_server};

const REQUESTS: &[&[u8]] = &[
    b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
      Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
      Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
    b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"POST /u HTTP/1.1\r\nHost: h\r\nUpgrade: echo/1\r\nConnection: upgrade\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhelloECHO",
    b"POST /u HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\nnext",
    b"\r\nGET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWikiX\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n",
    b"GET / HTTP/1.1\nHost: h\n\n",
];

const RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n\x81\x05Hello",
    b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nContent-Length: 4\r\n\r\nnope",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n",
    b"HTTP/1.1 999 Odd\r\nContent-Length: 1\r\n\r\nx",
];

fn ws_request() -> ClientRequest<'static> {
    ClientRequest::new("GET", "/chat", "h", &["websocket"])
        .websocket_key(*b"the sample nonce")
        .subprotocols(&["chat"])
}

fn small_limits() -> ServerConfig {
    ServerConfig::new().limits(
        Limits::new()
            .max_head_bytes(64)
            .max_headers(4)
            .max_chunk_extension_bytes(3)
            .max_trailer_bytes(8)
            .max_trailer_fields(1),
    )
}

fn input_strategy(vectors: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A vector as is.
        (0..vectors.len()).prop_map(move |i| vectors[i].to_vec()),
        // A vector with one byte changed.
        (0..vectors.len(), any::<prop::sample::Index>(), any::<u8>()).prop_map(
            move |(i, at, b)| {
                let mut v = vectors[i].to_vec();
                let at = at.index(v.len());
                v[at] = b;
                v
            }
        ),
        // A vector cut short.
        (0..vectors.len(), any::<prop::sample::Index>()).prop_map(move |(i, at)| {
            let v = vectors[i];
            v[..at.index(v.len() + 1)].to_vec()
        }),
        // Anything.
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn cuts_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..400, 0..12).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn server_split_invariant(input in input_strategy(REQUESTS), cuts in cuts_strategy()) {
        for config in [ServerConfig::default(), small_limits()] {
            let whole = feed_server(&input, &[], config);
            let split = feed_server(&input, &cuts, config);
            prop_assert_eq!(whole, split);
        }
    }

    #[test]
    fn client_split_invariant(input in input_strategy(RESPONSES), cuts in cuts_strategy()) {
        let (we, wr, wc) = feed_client(&ws_request(), &input, &[]);
        let (se, sr, sc) = feed_client(&ws_request(), &input, &cuts);
        prop_assert_eq!(we, se);
        prop_assert_eq!(wr, sr);
        prop_assert_eq!(wc.state(), sc.state());
    }
}

#[test]
fn byte_by_byte_equals_whole() {
    for input in REQUESTS {
        let cuts: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            feed_server(input, &[], ServerConfig::default()),
            feed_server(input, &cuts, ServerConfig::default())
        );
    }
    for input in RESPONSES {
        let cuts: Vec<usize> = (1..input.len()).collect();
        let (a, b, _) = feed_client(&ws_request(), input, &[]);
        let (c, d, _) = feed_client(&ws_request(), input, &cuts);
        assert_eq!((a, b), (c, d), "{}", String::from_utf8_lossy(input));
    }
}
