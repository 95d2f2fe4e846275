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
            // A message in one chunk (the usual case): in the buffer given
            // back by `recycle` when it fits without much to spare, else
            // one allocation of its size, no growth.
            if fits_snugly(self.bytes.capacity(), chunk.payload.len()) {
                let mut bytes = core::mem::take(&mut self.bytes);
                bytes.extend_from_slice(chunk.payload);
                bytes
            } else {
                chunk.payload.to_vec()
            }
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

    /// Gives a buffer back for the next message (say the payload of a
    /// message just sent, once copied out): the next message in one chunk
    /// whose payload fits it and fills at least half of it (less 64
    /// bytes) is built in it, without an allocation, so a received message
    /// never carries much more capacity than its size. The assembler keeps
    /// one such buffer (the larger, when given several) until a message
    /// takes it, and holds its memory meanwhile; while a message has bytes
    /// gathered, a buffer given back is dropped.
    ///
    /// ```
    /// use protoswitch::ws::{DataChunk, Message, MessageAssembler, MessageKind};
    ///
    /// let mut assembler = MessageAssembler::new();
    /// let sent = Vec::with_capacity(64);
    /// let storage = sent.as_ptr();
    /// assembler.recycle(sent);
    /// let chunk = DataChunk {
    ///     kind: MessageKind::Binary,
    ///     payload: b"echo",
    ///     frame_end: true,
    ///     message_end: true,
    /// };
    /// let Some(Message::Binary(received)) = assembler.push(&chunk) else { panic!() };
    /// assert_eq!(received, b"echo");
    /// assert_eq!(received.as_ptr(), storage);
    /// ```
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.bytes.is_empty() && buf.capacity() > self.bytes.capacity() {
            buf.clear();
            self.bytes = buf;
        }
    }
}

/// A buffer of `capacity` takes a payload of `len` bytes: it fits, and at
/// most `len + 64` bytes of it go unused.
fn fits_snugly(capacity: usize, len: usize) -> bool {
    capacity >= len && capacity - len <= len + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(payload: &[u8], message_end: bool) -> DataChunk<'_> {
        DataChunk {
            kind: MessageKind::Text,
            payload,
            frame_end: true,
            message_end,
        }
    }

    /// A buffer given back serves the next one-chunk message that fits it
    /// snugly; one too small or too roomy stays for later; the larger of
    /// two is kept; between the chunks of a message the assembler's own
    /// bytes are kept and the buffer given back is not used.
    #[test]
    fn recycled_buffers_serve_what_fits_and_never_mix_into_a_message() {
        let mut a = MessageAssembler::new();
        let spare = Vec::with_capacity(8);
        let at = spare.as_ptr();
        a.recycle(spare);
        // Too large for the spare: allocated, the spare kept.
        let big = a.push(&chunk(b"0123456789", true));
        assert_eq!(big, Some(Message::Text("0123456789".into())));
        let Some(Message::Text(small)) = a.push(&chunk(b"abc", true)) else {
            panic!("a message");
        };
        assert_eq!((small.as_str(), small.as_ptr()), ("abc", at));
        // A roomy buffer is not handed out with a small message (which is
        // allocated to its size); a smaller one given back later does not
        // replace it.
        a.recycle(Vec::with_capacity(1024));
        a.recycle(Vec::new());
        let Some(Message::Text(tiny)) = a.push(&chunk(b"x", true)) else {
            panic!("a message");
        };
        assert!(tiny.capacity() < 64, "{}", tiny.capacity());
        let Some(Message::Text(large)) = a.push(&chunk(&[b'y'; 600], true)) else {
            panic!("a message");
        };
        assert_eq!(
            large.capacity(),
            1024,
            "the kept buffer serves what fills it"
        );
        // A fragmented message: a buffer given back in the middle (with
        // bytes in it) changes nothing.
        assert_eq!(a.push(&chunk(b"He", false)), None);
        a.recycle(b"junk".to_vec());
        let whole = a.push(&chunk(b"llo", true));
        assert_eq!(whole, Some(Message::Text("Hello".into())));
    }
}
