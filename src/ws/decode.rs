//! The receive side of a WebSocket connection, at the codec seam: frame
//! headers, in-place unmasking, fragmentation, UTF-8 of text messages and
//! the limits (RFC 6455 §5, §8). It knows nothing of closing: it tells the
//! connection what the bytes are, and the connection decides.

use super::close::is_valid_close_code;
use super::connection::FrameLimits;
use super::frame::{FrameHeader, OpCode};
use super::mask::apply_mask;
use super::types::MessageKind;
use super::utf8::Utf8Validator;
use crate::error::{PeerErrorKind, Role};

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
    /// The message is compressed (permessage-deflate): the payload is
    /// DEFLATE data, and its UTF-8 is checked after inflating.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) compressed: bool,
    pub(crate) frame_end: bool,
    pub(crate) message_end: bool,
}

/// The decoder: where it is in the current frame, and the message being
/// received. Flat, so that the connection stays within its size budget.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoder {
    /// Payload bytes of the current data frame not yet delivered: inside
    /// a payload when not 0, else waiting for a frame header.
    remaining: u64,
    /// The current frame's mask key; all zeros when unmasked (XOR with
    /// zeros changes nothing, so such a key is skipped either way).
    mask: [u8; 4],
    /// The payload offset modulo 4, where the mask key resumes.
    offset: u8,
    /// The current frame ends its message.
    fin: bool,
    /// The message being received: its kind (`None` between messages),
    /// size so far, fragments so far and UTF-8 state.
    incoming: Option<MessageKind>,
    /// The message has RSV1 set on its first frame (permessage-deflate).
    compressed: bool,
    size: u64,
    fragments: u32,
    utf8: Utf8Validator,
}

impl Decoder {
    pub(crate) const fn new() -> Self {
        Decoder {
            remaining: 0,
            mask: [0; 4],
            offset: 0,
            fin: false,
            incoming: None,
            compressed: false,
            size: 0,
            fragments: 0,
            utf8: Utf8Validator::new(),
        }
    }

    /// Decodes the next step; unmasks in place. With `hold_pings`, a Ping
    /// is left unconsumed (`NeedMore` before its header): the connection
    /// cannot store its Pong yet. With `deflate` (permessage-deflate
    /// negotiated), RSV1 marks a compressed message on its first frame
    /// (RFC 7692 §6.1).
    pub(crate) fn step(
        &mut self,
        buf: &mut [u8],
        role: Role,
        limits: &FrameLimits,
        hold_pings: bool,
        deflate: bool,
    ) -> Result<Step, PeerErrorKind> {
        let mut pos = 0;
        if self.remaining == 0 {
            let rsv1 = if deflate { RSV1 } else { 0 };
            let Some((h, n)) = FrameHeader::decode(buf, role, rsv1)? else {
                return Ok(Step::NeedMore { consumed: 0 });
            };
            if h.rsv & RSV1 != 0 && (h.opcode.is_control() || h.opcode == OpCode::Continuation) {
                return Err(PeerErrorKind::CompressedBitMisplaced);
            }
            if h.opcode.is_control() {
                if h.opcode == OpCode::Ping && hold_pings {
                    return Ok(Step::NeedMore { consumed: 0 });
                }
                // Control payloads are at most 125 bytes: wait for the
                // whole frame.
                let end = n + h.payload_len as usize;
                if end > buf.len() {
                    return Ok(Step::NeedMore { consumed: 0 });
                }
                if let Some(key) = h.mask {
                    apply_mask(&mut buf[n..end], key, 0);
                }
                return Ok(Step::Control {
                    opcode: h.opcode,
                    start: n,
                    end,
                });
            }
            self.begin_data_frame(&h, limits)?;
            pos = n;
            if h.payload_len == 0 {
                let chunk = self.finish_chunk(&[], true, h.fin)?;
                return Ok(Step::Data {
                    start: pos,
                    end: pos,
                    chunk,
                });
            }
            self.remaining = h.payload_len;
            self.mask = h.mask.unwrap_or([0; 4]);
            self.offset = 0;
            self.fin = h.fin;
        }
        let available = buf.len() - pos;
        if available == 0 {
            return Ok(Step::NeedMore { consumed: pos });
        }
        let mut take = usize::try_from(self.remaining).map_or(available, |r| r.min(available));
        if self.compressed {
            // The inflater may use only part of a chunk, and what it
            // leaves is masked again: a bounded chunk bounds that work.
            take = take.min(MAX_COMPRESSED_CHUNK);
        }
        let data = &mut buf[pos..pos + take];
        if self.mask != [0; 4] {
            apply_mask(data, self.mask, u64::from(self.offset));
        }
        self.remaining -= take as u64;
        self.offset = ((usize::from(self.offset) + take) % 4) as u8;
        let frame_end = self.remaining == 0;
        let chunk = self.finish_chunk(data, frame_end, self.fin)?;
        Ok(Step::Data {
            start: pos,
            end: pos + take,
            chunk,
        })
    }

    /// Fragmentation and limit rules for a new data frame (RFC 6455 §5.4).
    #[inline]
    fn begin_data_frame(
        &mut self,
        h: &FrameHeader,
        limits: &FrameLimits,
    ) -> Result<(), PeerErrorKind> {
        if h.payload_len > limits.max_frame_payload {
            return Err(PeerErrorKind::FrameTooLarge {
                limit: limits.max_frame_payload,
            });
        }
        match (h.opcode, self.incoming) {
            (OpCode::Continuation, None) => return Err(PeerErrorKind::UnexpectedContinuation),
            (OpCode::Continuation, Some(_)) => {}
            (_, Some(_)) => return Err(PeerErrorKind::ExpectedContinuation),
            (op, None) => {
                self.incoming = Some(if op == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                });
                self.compressed = h.rsv & RSV1 != 0;
                self.size = 0;
                self.fragments = 0;
                self.utf8 = Utf8Validator::new();
            }
        }
        let size = self.size.saturating_add(h.payload_len);
        if size > limits.max_message_size {
            return Err(PeerErrorKind::MessageTooLarge {
                limit: limits.max_message_size,
            });
        }
        if self.fragments >= limits.max_fragments {
            return Err(PeerErrorKind::TooManyFragments {
                limit: limits.max_fragments,
            });
        }
        self.size = size;
        self.fragments += 1;
        Ok(())
    }

    /// UTF-8 for text, and the end of the message.
    #[inline]
    fn finish_chunk(
        &mut self,
        data: &[u8],
        frame_end: bool,
        fin: bool,
    ) -> Result<ChunkFlags, PeerErrorKind> {
        let Some(kind) = self.incoming else {
            return Err(PeerErrorKind::UnexpectedContinuation);
        };
        let message_end = frame_end && fin;
        if kind == MessageKind::Text && !self.compressed {
            self.check_text(data, message_end)?;
        }
        if message_end {
            self.incoming = None;
        }
        Ok(ChunkFlags {
            kind,
            compressed: self.compressed,
            frame_end,
            message_end,
        })
    }

    /// Takes back the last `data.len()` bytes of the chunk just returned
    /// (of a message of `kind`): they are masked again, so the caller's
    /// buffer holds them as received, and the next step decodes them
    /// again. For a compressed message, whose inflater used only part of
    /// a chunk.
    #[cfg(feature = "deflate")]
    pub(crate) fn give_back(&mut self, data: &mut [u8], kind: MessageKind) {
        if data.is_empty() {
            return;
        }
        let n = data.len();
        let start = (usize::from(self.offset) + 4 - n % 4) % 4;
        if self.mask != [0; 4] {
            apply_mask(data, self.mask, start as u64);
        }
        self.offset = start as u8;
        self.remaining += n as u64;
        self.incoming = Some(kind);
    }

    /// Checks the next piece of a text message as UTF-8 (RFC 6455 §8.1),
    /// `end` when it ends the message: the payload of an uncompressed one,
    /// the inflated bytes of a compressed one.
    #[inline]
    pub(crate) fn check_text(&mut self, data: &[u8], end: bool) -> Result<(), PeerErrorKind> {
        self.utf8
            .feed(data)
            .map_err(|_| PeerErrorKind::InvalidUtf8)?;
        if end {
            self.utf8.finish().map_err(|_| PeerErrorKind::InvalidUtf8)?;
        }
        Ok(())
    }
}

/// The most compressed payload one step hands out (see `step`).
const MAX_COMPRESSED_CHUNK: usize = 16 * 1024;

/// RSV1 in [`FrameHeader::rsv`]: a compressed message (RFC 7692 §6).
const RSV1: u8 = 0b100;

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
