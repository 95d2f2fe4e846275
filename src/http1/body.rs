//! Streaming body decoding (RFC 9112 §6, §7.1): Content-Length, chunked,
//! and until-close. Framing bytes are consumed as they arrive; data comes
//! out as slices of the caller's buffer.

use super::head::Framing;
use crate::error::PeerErrorKind;

/// One step of body decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyStep<'b> {
    /// Body bytes.
    Data(&'b [u8]),
    /// The body is complete.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Reading hex digits of a chunk size; `digits` read so far.
    Size { size: u64, digits: u8 },
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
    /// Inside a trailer line, up to CR.
    TrailerLine,
    /// Expecting LF after a trailer line's CR.
    TrailerLf,
    /// Expecting LF after the final empty line's CR.
    FinalLf,
}

/// Decodes one message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyDecoder {
    Length { remaining: u64 },
    Chunked(Chunk),
    UntilClose,
    Done,
}

impl BodyDecoder {
    pub(crate) fn new(framing: Framing) -> Self {
        match framing {
            Framing::None | Framing::Length(0) => BodyDecoder::Done,
            Framing::Length(n) => BodyDecoder::Length { remaining: n },
            Framing::Chunked => BodyDecoder::Chunked(Chunk::Size { size: 0, digits: 0 }),
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
            BodyDecoder::Chunked(state) => {
                let mut i = 0;
                while i < buf.len() {
                    let b = buf[i];
                    match *state {
                        Chunk::Data { remaining } => {
                            let n = clamp(remaining, buf.len() - i);
                            let remaining = remaining - n as u64;
                            *state = if remaining == 0 {
                                Chunk::DataCr
                            } else {
                                Chunk::Data { remaining }
                            };
                            return Ok((i + n, Some(BodyStep::Data(&buf[i..i + n]))));
                        }
                        Chunk::Size { size, digits } => {
                            if let Some(d) = hex_value(b) {
                                if digits >= 16 {
                                    return Err(PeerErrorKind::BadChunk);
                                }
                                *state = Chunk::Size {
                                    size: size << 4 | u64::from(d),
                                    digits: digits + 1,
                                };
                            } else if digits == 0 {
                                return Err(PeerErrorKind::BadChunk);
                            } else if b == b'\r' {
                                *state = Chunk::SizeLf { size };
                            } else if b == b';' || b == b' ' || b == b'\t' {
                                *state = Chunk::Extension { size };
                            } else {
                                return Err(PeerErrorKind::BadChunk);
                            }
                        }
                        Chunk::Extension { size } => {
                            if b == b'\r' {
                                *state = Chunk::SizeLf { size };
                            } else if b != b'\t' && (b < 0x20 || b == 0x7f) {
                                return Err(PeerErrorKind::BadChunk);
                            }
                        }
                        Chunk::SizeLf { size } => {
                            if b != b'\n' {
                                return Err(PeerErrorKind::BadChunk);
                            }
                            *state = if size == 0 {
                                Chunk::TrailerStart
                            } else {
                                Chunk::Data { remaining: size }
                            };
                        }
                        Chunk::DataCr => {
                            if b != b'\r' {
                                return Err(PeerErrorKind::BadChunk);
                            }
                            *state = Chunk::DataLf;
                        }
                        Chunk::DataLf => {
                            if b != b'\n' {
                                return Err(PeerErrorKind::BadChunk);
                            }
                            *state = Chunk::Size { size: 0, digits: 0 };
                        }
                        Chunk::TrailerStart => {
                            *state = match b {
                                b'\r' => Chunk::FinalLf,
                                b' ' | b'\t' | b'\n' => return Err(PeerErrorKind::BadChunk),
                                _ => Chunk::TrailerLine,
                            };
                        }
                        Chunk::TrailerLine => {
                            if b == b'\r' {
                                *state = Chunk::TrailerLf;
                            } else if b != b'\t' && (b < 0x20 || b == 0x7f) {
                                return Err(PeerErrorKind::BadChunk);
                            }
                        }
                        Chunk::TrailerLf => {
                            if b != b'\n' {
                                return Err(PeerErrorKind::BadChunk);
                            }
                            *state = Chunk::TrailerStart;
                        }
                        Chunk::FinalLf => {
                            if b != b'\n' {
                                return Err(PeerErrorKind::BadChunk);
                            }
                            *self = BodyDecoder::Done;
                            return Ok((i + 1, Some(BodyStep::End)));
                        }
                    }
                    i += 1;
                }
                Ok((i, None))
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
    use std::vec::Vec;

    fn decode_all(framing: Framing, input: &[u8], split: usize) -> Result<Vec<u8>, PeerErrorKind> {
        let mut d = BodyDecoder::new(framing);
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for piece in input.chunks(split.max(1)) {
            pending.extend_from_slice(piece);
            loop {
                let (n, step) = d.decode(&pending)?;
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

    #[test]
    fn chunked_any_split() {
        let body =
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n";
        for split in 1..body.len() {
            assert_eq!(
                decode_all(Framing::Chunked, body, split).unwrap(),
                b"Wikipedia in\r\n\r\nchunks."
            );
        }
    }

    #[test]
    fn chunked_errors() {
        for bad in [
            &b"x\r\n"[..],
            b"4\nWiki",
            b"4\r\nWikiX",
            b"11111111111111111\r\n",
            b"0\r\n folded\r\n\r\n",
        ] {
            assert_eq!(
                decode_all(Framing::Chunked, bad, 100),
                Err(PeerErrorKind::BadChunk),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn length() {
        assert_eq!(
            decode_all(Framing::Length(3), b"abcdef", 2).unwrap(),
            b"abc"
        );
    }
}
