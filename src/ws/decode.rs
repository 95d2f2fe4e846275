//! The receive side of a WebSocket connection, at the codec seam: frame
//! headers, in-place unmasking, fragmentation, UTF-8 of text messages and
//! the limits (RFC 6455 §5, §8). It knows nothing of closing: it tells the
//! connection what the bytes are, and the connection decides.

use super::close::is_valid_close_code;
use super::frame::{FrameHeader, OpCode};
use super::mask::apply_mask;
use super::types::{Config, MessageKind};
use super::utf8::Utf8Validator;
use crate::error::{PeerErrorKind, Role};

/// The receive side's position.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rx {
    /// Waiting for a frame header.
    Header,
    /// Inside a data frame's payload.
    Payload {
        remaining: u64,
        offset: u64,
        mask: Option<[u8; 4]>,
        fin: bool,
    },
}

/// The message being received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Incoming {
    kind: MessageKind,
    size: u64,
    fragments: u32,
    utf8: Utf8Validator,
}

/// What one step of decoding found, by index (so the event can borrow the
/// buffer afterwards).
pub(crate) enum Step {
    NeedMore {
        consumed: usize,
    },
    Control {
        opcode: OpCode,
        start: usize,
        end: usize,
    },
    Data {
        start: usize,
        end: usize,
        chunk: ChunkFlags,
    },
}

#[derive(Clone, Copy)]
pub(crate) struct ChunkFlags {
    pub(crate) kind: MessageKind,
    pub(crate) frame_end: bool,
    pub(crate) message_end: bool,
}

/// The decoder: where it is in the current frame, and the message being
/// received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoder {
    rx: Rx,
    incoming: Option<Incoming>,
}

impl Decoder {
    pub(crate) const fn new() -> Self {
        Decoder {
            rx: Rx::Header,
            incoming: None,
        }
    }

    /// Decodes the next step; unmasks in place.
    pub(crate) fn step(
        &mut self,
        buf: &mut [u8],
        role: Role,
        limits: &Config,
    ) -> Result<Step, PeerErrorKind> {
        let mut pos = 0;
        loop {
            match self.rx {
                Rx::Header => {
                    let Some((h, n)) = FrameHeader::decode(&buf[pos..], role, 0)? else {
                        return Ok(Step::NeedMore { consumed: pos });
                    };
                    if h.opcode.is_control() {
                        // Control payloads are at most 125 bytes: wait for
                        // the whole frame.
                        let end = pos + n + h.payload_len as usize;
                        if end > buf.len() {
                            return Ok(Step::NeedMore { consumed: pos });
                        }
                        let start = pos + n;
                        if let Some(key) = h.mask {
                            apply_mask(&mut buf[start..end], key, 0);
                        }
                        return Ok(Step::Control {
                            opcode: h.opcode,
                            start,
                            end,
                        });
                    }
                    self.begin_data_frame(&h, limits)?;
                    pos += n;
                    if h.payload_len == 0 {
                        let chunk = self.finish_chunk(&[], true, h.fin)?;
                        return Ok(Step::Data {
                            start: pos,
                            end: pos,
                            chunk,
                        });
                    }
                    self.rx = Rx::Payload {
                        remaining: h.payload_len,
                        offset: 0,
                        mask: h.mask,
                        fin: h.fin,
                    };
                }
                Rx::Payload {
                    remaining,
                    offset,
                    mask,
                    fin,
                } => {
                    let available = buf.len() - pos;
                    if available == 0 {
                        return Ok(Step::NeedMore { consumed: pos });
                    }
                    let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                    let data = &mut buf[pos..pos + take];
                    if let Some(key) = mask {
                        apply_mask(data, key, offset);
                    }
                    let remaining = remaining - take as u64;
                    self.rx = Rx::Payload {
                        remaining,
                        offset: offset + take as u64,
                        mask,
                        fin,
                    };
                    let frame_end = remaining == 0;
                    let chunk = self.finish_chunk(data, frame_end, fin)?;
                    if frame_end {
                        self.rx = Rx::Header;
                    }
                    return Ok(Step::Data {
                        start: pos,
                        end: pos + take,
                        chunk,
                    });
                }
            }
        }
    }

    /// Fragmentation and limit rules for a new data frame (RFC 6455 §5.4).
    fn begin_data_frame(&mut self, h: &FrameHeader, limits: &Config) -> Result<(), PeerErrorKind> {
        if h.payload_len > limits.max_frame_payload {
            return Err(PeerErrorKind::FrameTooLarge {
                limit: limits.max_frame_payload,
            });
        }
        let incoming = match (h.opcode, self.incoming) {
            (OpCode::Continuation, None) => return Err(PeerErrorKind::UnexpectedContinuation),
            (OpCode::Continuation, Some(m)) => m,
            (_, Some(_)) => return Err(PeerErrorKind::ExpectedContinuation),
            (op, None) => Incoming {
                kind: if op == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                },
                size: 0,
                fragments: 0,
                utf8: Utf8Validator::new(),
            },
        };
        let size = incoming.size.saturating_add(h.payload_len);
        if size > limits.max_message_size {
            return Err(PeerErrorKind::MessageTooLarge {
                limit: limits.max_message_size,
            });
        }
        if incoming.fragments >= limits.max_fragments {
            return Err(PeerErrorKind::TooManyFragments {
                limit: limits.max_fragments,
            });
        }
        self.incoming = Some(Incoming {
            size,
            fragments: incoming.fragments + 1,
            ..incoming
        });
        Ok(())
    }

    /// UTF-8 for text, and the end of the message.
    fn finish_chunk(
        &mut self,
        data: &[u8],
        frame_end: bool,
        fin: bool,
    ) -> Result<ChunkFlags, PeerErrorKind> {
        let Some(incoming) = self.incoming.as_mut() else {
            return Err(PeerErrorKind::UnexpectedContinuation);
        };
        let message_end = frame_end && fin;
        if incoming.kind == MessageKind::Text {
            incoming
                .utf8
                .feed(data)
                .map_err(|_| PeerErrorKind::InvalidUtf8)?;
            if message_end {
                incoming
                    .utf8
                    .finish()
                    .map_err(|_| PeerErrorKind::InvalidUtf8)?;
            }
        }
        let kind = incoming.kind;
        if message_end {
            self.incoming = None;
        }
        Ok(ChunkFlags {
            kind,
            frame_end,
            message_end,
        })
    }
}

/// Validates a Close payload (RFC 6455 §5.5.1, §7.4).
pub(crate) fn parse_close(payload: &[u8]) -> Result<(Option<u16>, &str), PeerErrorKind> {
    match payload {
        [] => Ok((None, "")),
        [_] => Err(PeerErrorKind::CloseTooShort),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(PeerErrorKind::InvalidCloseCode);
            }
            let reason = core::str::from_utf8(reason).map_err(|_| PeerErrorKind::InvalidUtf8)?;
            Ok((Some(code), reason))
        }
    }
}
