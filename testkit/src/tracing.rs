//! A recording `tracing` subscriber (feature `tracing`): the adapters'
//! `tests/tracing.rs` install it and assert on the events their handshakes
//! and closes emit. Any subscriber works with the adapters; this one keeps
//! every event as one line of text.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records every event as `"LEVEL target: message field=value ..."`.
/// Clones share the record.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    /// The events recorded so far, one line each, in order.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Panics, listing every line, unless some line contains `want`.
    pub fn assert_has(&self, want: &str) {
        let lines = self.lines();
        assert!(
            lines.iter().any(|l| l.contains(want)),
            "no event with {want:?} in {lines:#?}"
        );
    }
}

/// One event's fields: the message first, then ` name=value` for the rest.
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
