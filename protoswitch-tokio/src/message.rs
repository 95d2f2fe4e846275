//! [`Message`]: the adapter's messages, payloads as [`Bytes`] (issue 11).
//!
//! A message received in one frame is not copied: its payload is split off
//! the connection's receive buffer (where the frame was unmasked in place)
//! and handed out as a [`Bytes`] that shares the buffer's storage; the
//! buffer takes its storage back once every such message is dropped. See
//! the crate docs' "The read path" for which messages are shared and which
//! are gathered.
//!
//! Text is [`Utf8Bytes`]: [`Bytes`] that are valid UTF-8, read as a `str`
//! without validating again. Every constructor keeps that true: from a
//! `String` or `&'static str` (already `str`), [`TryFrom<Bytes>`] (which
//! validates), and, inside the crate, text the core machine validated as
//! it received it (RFC 6455 §8.1; one SIMD pass over the message). Checking
//! that text a second time would cost more than the copy this type
//! removes, so `as_str` reads it with the crate's one `unsafe` block
//! (`core::str::from_utf8_unchecked`), whose safety rests on those
//! constructors; in debug builds the crate's own constructor checks again.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// Bytes that are valid UTF-8: the payload of a text [`Message`]. Cheap to
/// clone (a reference count), readable as a `str` ([`Deref`]).
///
/// ```
/// use bytes::Bytes;
/// use protoswitch_tokio::Utf8Bytes;
///
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text, "héllo");
/// assert_eq!(text.len(), 6); // str methods, through Deref
/// assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
/// let bytes: Bytes = text.into_bytes();
/// assert_eq!(bytes, "héllo".as_bytes());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Text the core machine received and validated (a whole text
    /// message): not validated again, except in debug builds.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(
            std::str::from_utf8(&bytes).is_ok(),
            "the core hands out validated text"
        );
        Utf8Bytes(bytes)
    }

    /// The text.
    #[inline]
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor keeps the bytes valid UTF-8: `From`
        // a `String` or `&'static str` (already `str`), `TryFrom<Bytes>`
        // (validated there), and `from_validated`, used only for text
        // messages the core machine received and validated (its UTF-8
        // check runs over every text message, whole or fragmented, before
        // the message's last chunk is handed out; compressed ones after
        // inflating). `Bytes` are immutable and the field is private.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The bytes, without a copy.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl From<String> for Utf8Bytes {
    /// Takes the string's buffer, without a copy.
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s.into_bytes()))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;

    /// Validates the bytes (no copy).
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// A complete WebSocket data message. Pings, Pongs and the Close are
/// handled by the stream (see [`WebSocketStream`](crate::WebSocketStream)).
///
/// ```
/// use protoswitch_tokio::Message;
///
/// let text = Message::text("hello");
/// assert!(text.is_text());
/// assert_eq!(text.as_text(), Some("hello"));
/// let binary = Message::binary(vec![1, 2, 3]);
/// assert_eq!(binary.as_bytes(), [1, 2, 3]);
/// assert_eq!(binary.len(), 3);
/// assert_eq!(binary.into_data(), [1, 2, 3].as_slice());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message: from a `String` or `&'static str` (no copy), or
    /// [`Utf8Bytes`].
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message: from a `Vec<u8>`, `&'static [u8]` (no copy), or
    /// [`Bytes`].
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// A text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t.as_str()),
            Message::Binary(_) => None,
        }
    }

    /// The payload (text as its UTF-8 bytes).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The payload, without a copy.
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The payload's size in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// The payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bytes_validates_what_it_is_not_told() {
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"ok \xe2\x82\xac")).is_ok());
        for bad in [&b"\xff"[..], b"\xe2\x82", b"a\xc0\xafb", b"\xed\xa0\x80"] {
            assert!(
                Utf8Bytes::try_from(Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn utf8_bytes_compares_as_text() {
        let t = Utf8Bytes::from(String::from("abc"));
        assert_eq!(t, "abc");
        assert_eq!(t, *"abc");
        assert_eq!(t, String::from("abc"));
        assert_eq!(t, Utf8Bytes::from("abc"));
        assert_eq!(format!("{t} {t:?}"), "abc \"abc\"");
        assert_eq!(t.as_ref() as &str, "abc");
    }

    #[test]
    fn from_string_and_vec_take_the_buffer() {
        let s = String::from("no copy");
        let at = s.as_ptr();
        assert_eq!(Message::text(s).as_bytes().as_ptr(), at);
        let v = vec![7u8; 100];
        let at = v.as_ptr();
        assert_eq!(Message::binary(v).into_data().as_ptr(), at);
    }
}
