//! Feature `tracing`: the handshake and close events a subscriber sees
//! (the recording subscriber of protoswitch-testkit; any subscriber works).
#![cfg(feature = "tracing")]

use futures_util::StreamExt;
use protoswitch_testkit::tracing::Recorder;
use protoswitch_tokio::{Accepted, Connect, Error, Options, Rejected, accept_with, connect};
use tokio::io::duplex;

#[tokio::test(flavor = "current_thread")]
async fn handshake_and_close_events_reach_the_subscriber() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    // Accepted, with a subprotocol, then closed by the client.
    let (a, b) = duplex(64 * 1024);
    let server = tokio::spawn(accept_with(a, Options::new(), |_| {
        Ok(Accepted::new().subprotocol("chat"))
    }));
    let mut client = connect(b, Connect::new("test", "/room").subprotocol("chat"))
        .await
        .unwrap();
    let mut server = server.await.unwrap().unwrap();
    let (closed, end) = tokio::join!(client.close(4000, "bye"), server.next());
    closed.unwrap();
    assert!(end.is_none());

    // Refused with a 401.
    let (a, b) = duplex(64 * 1024);
    let server = tokio::spawn(accept_with(a, Options::new(), |_| {
        Err(Rejected::new(401).body("token?"))
    }));
    let declined = connect(b, Connect::new("test", "/private")).await;
    assert!(matches!(declined, Err(Error::Declined { status: 401, .. })));
    assert!(server.await.unwrap().is_err());

    let has = |want: &str| recorder.assert_has(want);
    has(
        r#"INFO protoswitch_tokio: upgrade accepted: 101 Switching Protocols method="GET" target="/room" subprotocol=Some("chat") deflate=Some("#,
    );
    has(
        r#"INFO protoswitch_tokio: connected: 101 Switching Protocols host=test target=/room subprotocol=Some("chat")"#,
    );
    has(r#"DEBUG protoswitch_tokio: our Close queued code=4000 reason="bye""#);
    has(r#"DEBUG protoswitch_tokio: the peer's Close code=Some(4000) reason="bye""#);
    has("INFO protoswitch_tokio: connection closed cause=Some(Handshake { code: Some(4000) })");
    has(
        r#"INFO protoswitch_tokio: upgrade refused method="GET" target="/private" error=the upgrade was answered with 401"#,
    );
    has("WARN protoswitch_tokio: upgrade declined status=401 diagnosis=");
}
