//! Feature `tracing`: the handshake and close events a subscriber sees
//! (the recording subscriber of protoswitch-testkit; any subscriber works).
#![cfg(feature = "tracing")]

use std::net::{TcpListener, TcpStream};
use std::thread;

use protoswitch::Header;
use protoswitch::upgrade::{ClientRequest, Response};
use protoswitch_blocking::{Config, Decision, Error};
use protoswitch_testkit::tracing::Recorder;

#[test]
fn handshake_and_close_events_reach_the_subscriber() {
    let recorder = Recorder::default();
    tracing::subscriber::set_global_default(recorder.clone()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        // First connection: accepted and echoed until the client closes.
        let (stream, _) = listener.accept().unwrap();
        let mut ws =
            protoswitch_blocking::accept_with(stream, &Config::new(), |_| Decision::accept())
                .unwrap();
        while ws.read().is_ok() {}
        // Second: refused with a 401.
        let (stream, _) = listener.accept().unwrap();
        const TEXT: &[Header<'static>] = &[];
        let refused = protoswitch_blocking::accept_with(stream, &Config::new(), |_| {
            Decision::respond(Response::new(401).headers(TEXT).body(b"token?"))
        });
        assert!(refused.is_err());
    });
    let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
    let stream = TcpStream::connect(&host).unwrap();
    let mut ws = protoswitch_blocking::connect_with(stream, &request, &Config::new()).unwrap();
    ws.close(4000, "bye").unwrap();
    while ws.read().is_ok() {}
    let stream = TcpStream::connect(&host).unwrap();
    let declined = protoswitch_blocking::connect_with(stream, &request, &Config::new());
    assert!(matches!(declined, Err(Error::Declined { status: 401, .. })));
    server.join().unwrap();

    let has = |want: &str| recorder.assert_has(want);
    has(
        "INFO protoswitch_blocking: upgrade accepted: 101 Switching Protocols protocol=websocket subprotocol=None deflate=Some(",
    );
    has(
        "INFO protoswitch_blocking: connected: 101 Switching Protocols protocol=websocket subprotocol=None deflate=Some(",
    );
    has(r#"DEBUG protoswitch_blocking: the peer's Close code=Some(4000) reason="bye""#);
    has("INFO protoswitch_blocking: connection closed cause=Some(Handshake { code: Some(4000) })");
    has("INFO protoswitch_blocking: upgrade refused status=401");
    has("WARN protoswitch_blocking: upgrade declined status=401 diagnosis=");
}
