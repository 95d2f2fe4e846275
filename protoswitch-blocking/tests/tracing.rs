//! Feature `tracing`: the handshake and close events a subscriber sees
//! (a recording subscriber of the test's own; any subscriber works).
#![cfg(feature = "tracing")]

use std::fmt::Debug;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

use protoswitch::Header;
use protoswitch::upgrade::{ClientRequest, Response};
use protoswitch_blocking::{Config, Decision, Error};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event as "LEVEL target: message field=value ...".
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}{}", self.0);
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        let meta = event.metadata();
        let text = format!("{} {}: {}", meta.level(), meta.target(), line.0);
        self.0.lock().unwrap().push(text);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

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

    let lines = recorder.0.lock().unwrap().clone();
    let has = |want: &str| {
        assert!(
            lines.iter().any(|l| l.contains(want)),
            "no event with {want:?} in {lines:#?}"
        )
    };
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
