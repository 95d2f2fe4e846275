//! Feature `tracing`: the handshake and close events a subscriber sees
//! (a recording subscriber of the test's own; any subscriber works).
#![cfg(feature = "tracing")]

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use protoswitch_tokio::{Accepted, Connect, Error, Options, Rejected, accept_with, connect};
use tokio::io::duplex;
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

fn lines(recorder: &Recorder) -> Vec<String> {
    recorder.0.lock().unwrap().clone()
}

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

    let lines = lines(&recorder);
    let has = |want: &str| {
        assert!(
            lines.iter().any(|l| l.contains(want)),
            "no event with {want:?} in {lines:#?}"
        )
    };
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
