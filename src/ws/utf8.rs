//! Incremental UTF-8 validation across chunks and fragments, failing at the
//! first invalid sequence (RFC 6455 §8.1).

/// Validates a text message piece by piece.
///
/// ```
/// use protoswitch::ws::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// let text = "κόσμε".as_bytes();
/// assert!(v.feed(&text[..3]).is_ok()); // ends inside a character
/// assert!(v.feed(&text[3..]).is_ok());
/// assert!(v.finish().is_ok());
/// // Invalid as soon as the bad byte arrives, not at the end:
/// assert!(Utf8Validator::new().feed(&[0xce, 0xba, 0xf4, 0x90]).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Utf8Validator {
    /// The start of a character cut by the end of the last piece (at most
    /// three bytes: four would be a whole character).
    partial: [u8; 3],
    len: u8,
}

/// Text is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Utf8Error;

impl core::fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Utf8Error {}

/// Length of the sequence a lead byte starts (0 for an invalid lead).
const fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            partial: [0; 3],
            len: 0,
        }
    }

    /// Validates the next piece. A character may be split across pieces.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Utf8Error> {
        self.feed_in(data, crate::SHORTCUTS)
    }

    /// [`feed`](Self::feed), with the SIMD pass when `simd` (a shortcut,
    /// [`crate::SHORTCUTS`]; the tests run both ways), else one pass of
    /// `core::str::from_utf8`, which stops at the first invalid sequence
    /// or says where a character cut by the end starts (firmware .text
    /// 17,196 -> 17,108 B).
    fn feed_in(&mut self, mut data: &[u8], simd: bool) -> Result<(), Utf8Error> {
        if self.len > 0 {
            // Complete the cut character first (at most 3 more bytes).
            let have = usize::from(self.len);
            let need = sequence_len(self.partial[0]);
            let take = (need - have).min(data.len());
            let mut character = [0; 4];
            character[..3].copy_from_slice(&self.partial);
            character[have..have + take].copy_from_slice(&data[..take]);
            data = &data[take..];
            self.keep_cut(&character[..have + take])?;
            if self.len > 0 {
                // Still cut: the piece ended.
                return Ok(());
            }
        }
        if !simd {
            return match core::str::from_utf8(data) {
                Ok(_) => Ok(()),
                Err(e) if e.error_len().is_none() => self.keep_cut(&data[e.valid_up_to()..]),
                Err(_) => Err(Utf8Error),
            };
        }
        // One SIMD pass over everything but a character cut by the end of
        // the piece; that start (at most 3 bytes) is checked on its own and
        // kept for the next piece.
        let tail = incomplete_tail(data);
        let (whole, cut) = data.split_at(data.len() - tail);
        if !valid_utf8(whole) {
            return Err(Utf8Error);
        }
        self.keep_cut(cut)
    }

    /// Checks `piece`, a character or the start of one cut by the end of
    /// the data (at most four bytes): kept when it is a valid start, an
    /// error when it cannot be one. The one check of both cut ends of a
    /// piece.
    fn keep_cut(&mut self, piece: &[u8]) -> Result<(), Utf8Error> {
        match core::str::from_utf8(piece) {
            Ok(_) => self.len = 0,
            // A valid start of a character: wait for the rest.
            Err(e) if e.error_len().is_none() => {
                self.partial[..piece.len()].copy_from_slice(piece);
                self.len = piece.len() as u8;
            }
            Err(_) => return Err(Utf8Error),
        }
        Ok(())
    }

    /// The message ended: a character cut short is an error.
    pub fn finish(&self) -> Result<(), Utf8Error> {
        if self.len == 0 {
            Ok(())
        } else {
            Err(Utf8Error)
        }
    }
}

/// How many bytes at the end of `data` start a character that does not end
/// in `data` (0 to 3): the last lead byte within 3 bytes of the end, when
/// its sequence is longer than what follows it.
fn incomplete_tail(data: &[u8]) -> usize {
    for back in 1..=data.len().min(3) {
        let b = data[data.len() - back];
        if b & 0xC0 != 0x80 {
            // Not a continuation byte: ASCII (complete) or a lead byte.
            return if sequence_len(b) > back { back } else { 0 };
        }
    }
    0
}

/// Whether `data` is entirely valid UTF-8: `simdutf8`'s SIMD validation
/// (selected at run time with `std`, at compile time without), about 7×
/// `core::str::from_utf8` on mixed text on the benchmark machine.
pub(crate) fn valid_utf8(data: &[u8]) -> bool {
    simdutf8::basic::from_utf8(data).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_says_what_it_is() {
        use std::string::ToString;
        assert_eq!(Utf8Error.to_string(), "invalid UTF-8");
    }

    #[test]
    fn every_split_of_valid_text() {
        let text = "Hello-µ@ßöäüàá-UTF-8!! 𝄞 €".as_bytes();
        for simd in [true, false] {
            for a in 0..text.len() {
                for b in a..text.len() {
                    let mut v = Utf8Validator::new();
                    v.feed_in(&text[..a], simd).unwrap();
                    v.feed_in(&text[a..b], simd).unwrap();
                    v.feed_in(&text[b..], simd).unwrap();
                    v.finish().unwrap();
                }
            }
        }
    }

    /// Both paths (SIMD or not) agree with `core::str::from_utf8` on every
    /// way of cutting valid and invalid text in two, and never accept a
    /// piece whose bytes can no longer be completed.
    #[test]
    fn every_cut_agrees_with_the_standard_library() {
        for simd in [true, false] {
            every_cut_agrees(simd);
        }
    }

    fn every_cut_agrees(simd: bool) {
        let texts: [&[u8]; 8] = [
            "Hello-µ@ßöäüàá-UTF-8!! 𝄞 € κόσμε".as_bytes(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            b"\xf4\x90\x80\x80",
            b"abc\xe0\x80\xafdef",
            b"\xf0\x9f\x8c\x8d\xf0\x9f",
            b"\xc0\xaf",
            b"\x80\x80\x80\x80 continuation only",
            b"\xe2\x82\xac\xe2\x82",
        ];
        for text in texts {
            let whole = core::str::from_utf8(text);
            for cut in 0..=text.len() {
                let mut v = Utf8Validator::new();
                let result = v
                    .feed_in(&text[..cut], simd)
                    .and_then(|()| v.feed_in(&text[cut..], simd))
                    .and_then(|()| v.finish());
                assert_eq!(result.is_ok(), whole.is_ok(), "{text:?} cut at {cut}");
                // Failing fast: a first piece that cannot be completed
                // into valid text is refused at once.
                let first = core::str::from_utf8(&text[..cut]);
                let completable = match first {
                    Ok(_) => true,
                    Err(e) => e.error_len().is_none(),
                };
                assert_eq!(
                    Utf8Validator::new().feed_in(&text[..cut], simd).is_ok(),
                    completable,
                    "{text:?} first piece {cut}"
                );
            }
        }
    }

    #[test]
    fn fails_fast_on_split_invalid() {
        for simd in [true, false] {
            // 0xF4 0x90 is beyond U+10FFFF: invalid at the second byte.
            let mut v = Utf8Validator::new();
            v.feed_in(&[0xF4], simd).unwrap();
            assert_eq!(v.feed_in(&[0x90], simd), Err(Utf8Error));
            // Surrogates.
            let mut v = Utf8Validator::new();
            v.feed_in(&[0xED], simd).unwrap();
            assert_eq!(v.feed_in(&[0xA0, 0x80], simd), Err(Utf8Error));
            // Cut short at the end.
            let mut v = Utf8Validator::new();
            v.feed_in(&[0xE2, 0x82], simd).unwrap();
            assert_eq!(v.finish(), Err(Utf8Error));
        }
    }
}
