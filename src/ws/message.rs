//! Owned complete messages (feature `alloc`), built on the zero-copy core.

use alloc::string::String;
use alloc::vec::Vec;

use super::types::{DataChunk, MessageKind};

/// A complete message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (validated UTF-8).
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

/// Collects [`DataChunk`]s into owned messages. The connection already
/// enforced the limits (`max_message_size`, `max_fragments`) and UTF-8, so
/// the assembler only gathers bytes.
///
/// ```
/// use protoswitch::ws::{Connection, Message, MessageAssembler, Config, Event};
/// use protoswitch::Instant;
///
/// let mut conn = Connection::client(Config::default(), Instant::ZERO, || [0u8; 4]);
/// let mut assembler = MessageAssembler::new();
/// // RFC 6455 §5.7: a fragmented unmasked text message "Hel" + "lo".
/// let mut buf = *b"\x01\x03Hel\x80\x02lo";
/// let mut at = 0;
/// let mut messages = Vec::new();
/// while at < buf.len() {
///     let got = conn.receive(&mut buf[at..], Instant::ZERO).unwrap();
///     if let Some(Event::Data(chunk)) = got.event {
///         messages.extend(assembler.push(&chunk));
///     }
///     at += got.consumed;
/// }
/// assert_eq!(messages, [Message::Text("Hello".into())]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MessageAssembler {
    bytes: Vec<u8>,
}

impl MessageAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a chunk; returns the message when it is complete.
    pub fn push(&mut self, chunk: &DataChunk<'_>) -> Option<Message> {
        let bytes = if chunk.message_end && self.bytes.is_empty() {
            // A message in one chunk (the usual case): one allocation of
            // its size, no growth.
            chunk.payload.to_vec()
        } else {
            self.bytes.extend_from_slice(chunk.payload);
            if !chunk.message_end {
                return None;
            }
            core::mem::take(&mut self.bytes)
        };
        Some(match chunk.kind {
            // The connection validated the text; a failure here would be a
            // bug, reported as binary rather than a panic.
            MessageKind::Text => match String::from_utf8(bytes) {
                Ok(s) => Message::Text(s),
                Err(e) => Message::Binary(e.into_bytes()),
            },
            MessageKind::Binary => Message::Binary(bytes),
        })
    }
}
