//! Streaming body decoding (RFC 9112 §6, §7.1): Content-Length, chunked,
//! and until-close. Framing bytes are consumed as they arrive; data comes
//! out as slices of the caller's buffer.
//!
//! The chunked decoder is strict: `chunk-size = 1*HEXDIG` (leading zeros
//! allowed, at most 16 significant digits), chunk extensions counted
//! against [`Limits::max_chunk_extension_bytes`] for the whole message, and
//! every trailer line parsed as a `field-line` (RFC 9112 §7.1.2, §5.1) and
//! counted against the trailer limits.

use super::head::{Framing, Limits};
use super::token::is_tchar;
use crate::error::PeerErrorKind;

/// One step of body decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyStep<'b> {
    /// Body bytes.
    Data(&'b [u8]),
    /// The body is complete.
    End,
}

/// Where the chunked decoder is inside the framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// At the start of a chunk-size line: no digit read yet.
    SizeStart,
    /// Reading hex digits of a chunk size; `significant` digits so far
    /// (leading zeros do not count).
    Size { size: u64, significant: u8 },
    /// Inside a chunk extension, up to CR.
    Extension { size: u64 },
    /// Expecting LF after the size line's CR.
    SizeLf { size: u64 },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// Expecting CR after chunk data.
    DataCr,
    /// Expecting LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field name, up to the colon.
    TrailerName,
    /// Inside a trailer field value, up to CR.
    TrailerValue,
    /// Expecting LF after a trailer line's CR.
    TrailerLf,
    /// Expecting LF after the final empty line's CR.
    FinalLf,
}

/// The chunked decoder: the framing state and what the limits count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunked {
    state: Chunk,
    extension_bytes: usize,
    trailer_bytes: usize,
    trailer_fields: usize,
}

/// Decodes one message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyDecoder {
    Length { remaining: u64 },
    Chunked(Chunked),
    UntilClose,
    Done,
}

impl BodyDecoder {
    pub(crate) fn new(framing: Framing) -> Self {
        match framing {
            Framing::None | Framing::Length(0) => BodyDecoder::Done,
            Framing::Length(n) => BodyDecoder::Length { remaining: n },
            Framing::Chunked => BodyDecoder::Chunked(Chunked {
                state: Chunk::SizeStart,
                extension_bytes: 0,
                trailer_bytes: 0,
                trailer_fields: 0,
            }),
            Framing::UntilClose => BodyDecoder::UntilClose,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self, BodyDecoder::Done)
    }

    /// Decodes from `buf`. Returns bytes consumed and at most one step;
    /// `None` means every byte was consumed or more bytes are needed.
    pub(crate) fn decode<'b>(
        &mut self,
        buf: &'b [u8],
        limits: &Limits,
    ) -> Result<(usize, Option<BodyStep<'b>>), PeerErrorKind> {
        match self {
            BodyDecoder::Done => Ok((0, Some(BodyStep::End))),
            BodyDecoder::UntilClose => {
                if buf.is_empty() {
                    Ok((0, None))
                } else {
                    Ok((buf.len(), Some(BodyStep::Data(buf))))
                }
            }
            BodyDecoder::Length { remaining } => {
                if buf.is_empty() {
                    return Ok((0, None));
                }
                let n = clamp(*remaining, buf.len());
                *remaining -= n as u64;
                if *remaining == 0 {
                    *self = BodyDecoder::Done;
                }
                Ok((n, Some(BodyStep::Data(&buf[..n]))))
            }
            BodyDecoder::Chunked(chunked) => {
                let (consumed, step) = chunked.decode(buf, limits)?;
                if step == Some(BodyStep::End) {
                    *self = BodyDecoder::Done;
                }
                Ok((consumed, step))
            }
        }
    }

    /// The transport reached end of stream.
    pub(crate) fn eof(&mut self) -> Result<BodyStep<'static>, PeerErrorKind> {
        match self {
            BodyDecoder::Done | BodyDecoder::UntilClose => {
                *self = BodyDecoder::Done;
                Ok(BodyStep::End)
            }
            _ => Err(PeerErrorKind::ClosedInBody),
        }
    }
}

impl Chunked {
    fn decode<'b>(
        &mut self,
        buf: &'b [u8],
        limits: &Limits,
    ) -> Result<(usize, Option<BodyStep<'b>>), PeerErrorKind> {
        use PeerErrorKind::{BadChunk, BadTrailer};
        let mut i = 0;
        while i < buf.len() {
            let b = buf[i];
            let before = self.state;
            self.state = match self.state {
                Chunk::Data { remaining } => {
                    let n = clamp(remaining, buf.len() - i);
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        Chunk::DataCr
                    } else {
                        Chunk::Data { remaining }
                    };
                    return Ok((i + n, Some(BodyStep::Data(&buf[i..i + n]))));
                }
                Chunk::SizeStart => match hex_value(b) {
                    Some(d) => Chunk::Size {
                        size: u64::from(d),
                        significant: u8::from(d != 0),
                    },
                    None => return Err(BadChunk),
                },
                Chunk::Size { size, significant } => match hex_value(b) {
                    Some(0) if size == 0 => Chunk::Size { size, significant },
                    Some(_) if significant >= 16 => return Err(BadChunk),
                    Some(d) => Chunk::Size {
                        size: size << 4 | u64::from(d),
                        significant: significant + 1,
                    },
                    None => match b {
                        b'\r' => Chunk::SizeLf { size },
                        b';' | b' ' | b'\t' => Chunk::Extension { size },
                        _ => return Err(BadChunk),
                    },
                },
                Chunk::Extension { size } => match b {
                    b'\r' => Chunk::SizeLf { size },
                    b'\t' => Chunk::Extension { size },
                    _ if b < 0x20 || b == 0x7f => return Err(BadChunk),
                    _ => Chunk::Extension { size },
                },
                Chunk::SizeLf { size } => match (b, size) {
                    (b'\n', 0) => Chunk::TrailerStart,
                    (b'\n', _) => Chunk::Data { remaining: size },
                    _ => return Err(BadChunk),
                },
                Chunk::DataCr if b == b'\r' => Chunk::DataLf,
                Chunk::DataLf if b == b'\n' => Chunk::SizeStart,
                Chunk::DataCr | Chunk::DataLf => return Err(BadChunk),
                Chunk::TrailerStart => match b {
                    b'\r' => Chunk::FinalLf,
                    _ if is_tchar(b) => {
                        self.trailer_fields += 1;
                        if self.trailer_fields > limits.max_trailer_fields {
                            return Err(PeerErrorKind::TooManyTrailers {
                                limit: limits.max_trailer_fields,
                            });
                        }
                        Chunk::TrailerName
                    }
                    // A line starting with whitespace (obsolete folding),
                    // an empty name, or a bare LF.
                    _ => return Err(BadTrailer),
                },
                Chunk::TrailerName => match b {
                    b':' => Chunk::TrailerValue,
                    _ if is_tchar(b) => Chunk::TrailerName,
                    // Whitespace before the colon (RFC 9112 §5.1) included.
                    _ => return Err(BadTrailer),
                },
                Chunk::TrailerValue => match b {
                    b'\r' => Chunk::TrailerLf,
                    b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff => Chunk::TrailerValue,
                    _ => return Err(BadTrailer),
                },
                Chunk::TrailerLf if b == b'\n' => Chunk::TrailerStart,
                Chunk::TrailerLf => return Err(BadTrailer),
                Chunk::FinalLf if b == b'\n' => return Ok((i + 1, Some(BodyStep::End))),
                Chunk::FinalLf => return Err(BadChunk),
            };
            self.count(before, limits)?;
            i += 1;
        }
        Ok((i, None))
    }

    /// Counts the byte just decoded (which moved the decoder from `before`
    /// to the current state) against the limits of the non-data parts:
    /// extension bytes are those from the `;` (or whitespace) after the
    /// size up to the CR; trailer bytes are the field lines with their
    /// CRLF.
    fn count(&mut self, before: Chunk, limits: &Limits) -> Result<(), PeerErrorKind> {
        match (before, self.state) {
            (_, Chunk::Extension { .. }) => {
                self.extension_bytes += 1;
                if self.extension_bytes > limits.max_chunk_extension_bytes {
                    return Err(PeerErrorKind::ChunkExtensionsTooLarge {
                        limit: limits.max_chunk_extension_bytes,
                    });
                }
            }
            (Chunk::TrailerName | Chunk::TrailerValue | Chunk::TrailerLf, _)
            | (_, Chunk::TrailerName) => {
                self.trailer_bytes += 1;
                if self.trailer_bytes > limits.max_trailer_bytes {
                    return Err(PeerErrorKind::TrailersTooLarge {
                        limit: limits.max_trailer_bytes,
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn clamp(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::vec::Vec;

    fn decode_with(
        framing: Framing,
        input: &[u8],
        split: usize,
        limits: &Limits,
    ) -> Result<Vec<u8>, PeerErrorKind> {
        let mut d = BodyDecoder::new(framing);
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for piece in input.chunks(split.max(1)) {
            pending.extend_from_slice(piece);
            loop {
                let (n, step) = d.decode(&pending, limits)?;
                let stop = matches!(step, None | Some(BodyStep::End));
                if let Some(BodyStep::Data(data)) = step {
                    out.extend_from_slice(data);
                }
                let done = matches!(step, Some(BodyStep::End));
                pending.drain(..n);
                if done {
                    return Ok(out);
                }
                if stop {
                    break;
                }
            }
        }
        Err(PeerErrorKind::ClosedInBody)
    }

    /// Decodes at every split size and checks that all agree.
    fn decode_all(
        framing: Framing,
        input: &[u8],
        limits: &Limits,
    ) -> Result<Vec<u8>, PeerErrorKind> {
        let whole = decode_with(framing, input, input.len(), limits);
        for split in 1..input.len() {
            assert_eq!(
                decode_with(framing, input, split, limits),
                whole,
                "split {split}"
            );
        }
        whole
    }

    fn chunked(input: &[u8]) -> Result<Vec<u8>, PeerErrorKind> {
        decode_all(Framing::Chunked, input, &Limits::new())
    }

    #[test]
    fn chunked_any_split() {
        let body =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(chunked(body).unwrap(), b"Wikipedia in\r\n\r\nchunks.");
    }

    #[test]
    fn chunk_sizes_in_either_case_and_with_leading_zeros() {
        assert_eq!(
            chunked(b"a\r\n0123456789\r\n0\r\n\r\n").unwrap(),
            b"0123456789"
        );
        assert_eq!(
            chunked(b"A\r\n0123456789\r\n0\r\n\r\n").unwrap(),
            b"0123456789"
        );
        assert_eq!(
            chunked(b"f\r\n0123456789abcde\r\n0\r\n\r\n").unwrap().len(),
            15
        );
        // chunk-size = 1*HEXDIG and last-chunk = 1*("0"): leading zeros are
        // not significant, however many.
        let zeros = "0".repeat(40);
        let body = format!("{zeros}3\r\nabc\r\n{zeros}\r\n\r\n");
        assert_eq!(chunked(body.as_bytes()).unwrap(), b"abc");
        // 16 significant digits fit in 64 bits; 17 do not.
        let max = format!("{zeros}ffffffffffffffff\r\n");
        assert_eq!(
            decode_with(Framing::Chunked, max.as_bytes(), 7, &Limits::new()),
            Err(PeerErrorKind::ClosedInBody)
        );
        assert_eq!(
            chunked(format!("{zeros}10000000000000000\r\n").as_bytes()),
            Err(PeerErrorKind::BadChunk)
        );
    }

    #[test]
    fn chunked_errors() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b";x\r\n",
            b"4\nWiki",
            b"4\r\nWikiX",
            b"4\r\nWiki\rX",
            b"4\r\nWiki\r\n\n",
            b"4 x\x01\r\n",
            b"11111111111111111\r\n",
            b"0\r\n\rX",
        ] {
            assert_eq!(chunked(bad), Err(PeerErrorKind::BadChunk), "{bad:?}");
        }
    }

    #[test]
    fn trailer_lines_are_field_lines() {
        let ok: [&[u8]; 4] = [
            b"0\r\nT: x\r\n\r\n",
            b"0\r\nT:x\r\nU: \t a b \r\n\r\n",
            b"0\r\nT:\r\n\r\n",
            b"0\r\nX-Obs: \xff\xfe\r\n\r\n",
        ];
        for body in ok {
            assert_eq!(chunked(body), Ok(Vec::new()), "{body:?}");
        }
        let bad: [&[u8]; 8] = [
            b"0\r\nno colon\r\n\r\n",
            b"0\r\nnocolon\r\n\r\n",
            b"0\r\nT : x\r\n\r\n",
            b"0\r\nT\t: x\r\n\r\n",
            b"0\r\n: x\r\n\r\n",
            b"0\r\nT(x): y\r\n\r\n",
            b"0\r\n folded\r\n\r\n",
            b"0\r\nT: a\x01b\r\n\r\n",
        ];
        for body in bad {
            assert_eq!(chunked(body), Err(PeerErrorKind::BadTrailer), "{body:?}");
        }
        assert_eq!(chunked(b"0\r\nT: x\n\r\n"), Err(PeerErrorKind::BadTrailer));
        assert_eq!(chunked(b"0\r\nT: x\r\r\n"), Err(PeerErrorKind::BadTrailer));
    }

    #[test]
    fn extension_and_trailer_limits() {
        // Extensions count across the whole message: ";ab" and ";c" make 5.
        let body = b"1;ab\r\nx\r\n1;c\r\ny\r\n0\r\n\r\n";
        let at = |n| Limits::new().max_chunk_extension_bytes(n);
        assert_eq!(decode_all(Framing::Chunked, body, &at(5)).unwrap(), b"xy");
        assert_eq!(
            decode_all(Framing::Chunked, body, &at(4)),
            Err(PeerErrorKind::ChunkExtensionsTooLarge { limit: 4 })
        );
        // Trailer bytes: "A: 1\r\n" + "B: 2\r\n" = 12.
        let body = b"0\r\nA: 1\r\nB: 2\r\n\r\n";
        let bytes = |n| Limits::new().max_trailer_bytes(n);
        assert!(decode_all(Framing::Chunked, body, &bytes(12)).is_ok());
        assert_eq!(
            decode_all(Framing::Chunked, body, &bytes(11)),
            Err(PeerErrorKind::TrailersTooLarge { limit: 11 })
        );
        let fields = |n| Limits::new().max_trailer_fields(n);
        assert!(decode_all(Framing::Chunked, body, &fields(2)).is_ok());
        assert_eq!(
            decode_all(Framing::Chunked, body, &fields(1)),
            Err(PeerErrorKind::TooManyTrailers { limit: 1 })
        );
    }

    #[test]
    fn extensions_may_hold_spaces_and_tabs() {
        assert_eq!(chunked(b"1; a=b\r\nx\r\n0\r\n\r\n").unwrap(), b"x");
        assert_eq!(chunked(b"1;\ta=\"b c\"\r\nx\r\n0\r\n\r\n").unwrap(), b"x");
        assert_eq!(chunked(b"1 ;a\r\nx\r\n0\r\n\r\n").unwrap(), b"x");
        assert_eq!(
            chunked(b"1;a\x1f\r\nx\r\n0\r\n\r\n"),
            Err(PeerErrorKind::BadChunk)
        );
        assert_eq!(
            chunked(b"1;a\x7f\r\nx\r\n0\r\n\r\n"),
            Err(PeerErrorKind::BadChunk)
        );
    }

    #[test]
    fn a_trailer_line_ends_in_crlf_not_a_bare_cr() {
        // A CR must be followed by LF: "XY: 1" is not a line of its own.
        assert_eq!(
            chunked(b"0\r\nT: x\rXY: 1\r\n\r\n"),
            Err(PeerErrorKind::BadTrailer)
        );
    }

    #[test]
    fn data_present_in_the_buffer_comes_out_in_one_piece() {
        let limits = Limits::new();
        let mut d = BodyDecoder::new(Framing::Chunked);
        assert_eq!(
            d.decode(b"5\r\nhello\r\n", &limits),
            Ok((8, Some(BodyStep::Data(b"hello"))))
        );
        let mut d = BodyDecoder::new(Framing::Length(5));
        assert_eq!(
            d.decode(b"hello, more", &limits),
            Ok((5, Some(BodyStep::Data(b"hello"))))
        );
        assert!(d.is_done());
    }

    #[test]
    fn length() {
        assert_eq!(
            decode_with(Framing::Length(3), b"abcdef", 2, &Limits::new()).unwrap(),
            b"abc"
        );
    }
}
