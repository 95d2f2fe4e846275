//! The receive side of a WebSocket connection, at the codec seam: frame
//! headers, in-place unmasking, fragmentation, UTF-8 of text messages and
//! the limits (RFC 6455 §5, §8). It knows nothing of closing: it tells the
//! connection what the bytes are, and the connection decides.

use super::close::is_valid_close_code;
use super::connection::FrameLimits;
use super::frame::{FrameHeader, OpCode};
use super::mask::apply_mask;
use super::types::MessageKind;
use super::utf8::{Utf8Validator, valid_utf8};
use crate::error::{PeerErrorKind, Role};

/// What one step of decoding found, by index (so the event can borrow the
/// buffer afterwards).
#[cfg_attr(test, derive(Debug, PartialEq))]
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
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct ChunkFlags {
    pub(crate) kind: MessageKind,
    /// The message is compressed (permessage-deflate): the payload is
    /// DEFLATE data, and its UTF-8 is checked after inflating.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) compressed: bool,
    pub(crate) frame_end: bool,
    pub(crate) message_end: bool,
}

/// A whole message in one frame, decoded in one go
/// ([`Decoder::whole_message`]): its payload, unmasked and (text) valid,
/// is `buf[start..end]`, and the frame ends at `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WholeMessage {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) kind: MessageKind,
}

impl WholeMessage {
    /// What the general path says of its payload: an uncompressed chunk
    /// that ends the frame and the message.
    #[inline(always)]
    pub(crate) fn chunk(self) -> ChunkFlags {
        ChunkFlags {
            kind: self.kind,
            compressed: false,
            frame_end: true,
            message_end: true,
        }
    }

    /// The step of the general path for it.
    fn step(self) -> Step {
        Step::Data {
            start: self.start,
            end: self.end,
            chunk: self.chunk(),
        }
    }
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
    /// negotiated: `Some(chunk)`), RSV1 marks a compressed message on its
    /// first frame (RFC 7692 §6.1), and a compressed step hands out at
    /// most `chunk` bytes (see [`compressed_chunk`]).
    #[inline]
    pub(crate) fn step(
        &mut self,
        buf: &mut [u8],
        role: Role,
        limits: &FrameLimits,
        hold_pings: bool,
        deflate: Option<usize>,
    ) -> Result<Step, PeerErrorKind> {
        // The one-go path where time matters more than flash.
        if crate::SHORTCUTS {
            if let Some(got) = self.whole_message(buf, role, limits) {
                return got.map(WholeMessage::step);
            }
        }
        self.step_any(buf, role, limits, hold_pings, deflate)
    }

    /// [`step`](Self::step) for every frame shape and every place in a
    /// frame or message; kept out of line, so that `step` (the one-go path
    /// and this call) inlines into the connection.
    #[inline(never)]
    fn step_any(
        &mut self,
        buf: &mut [u8],
        role: Role,
        limits: &FrameLimits,
        hold_pings: bool,
        deflate: Option<usize>,
    ) -> Result<Step, PeerErrorKind> {
        let mut pos = 0;
        if self.remaining == 0 {
            let rsv1 = if deflate.is_some() { RSV1 } else { 0 };
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
            self.check_data_frame(&h, limits)?;
            if limits.whole_frames && h.payload_len > (buf.len() - n) as u64 {
                // Whole frames: the header stays unread until the payload
                // is all here (it was checked; it is checked again then).
                return Ok(Step::NeedMore { consumed: 0 });
            }
            self.begin_data_frame(&h);
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
        if buf.len() == pos {
            return Ok(Step::NeedMore { consumed: pos });
        }
        // The inflater may use only part of a chunk, and what it leaves is
        // masked again: a bounded chunk bounds that work.
        let most = if self.compressed {
            deflate.unwrap_or(MAX_COMPRESSED_CHUNK)
        } else {
            usize::MAX
        };
        let (take, chunk) = self.take_payload(&mut buf[pos..], most)?;
        Ok(Step::Data {
            start: pos,
            end: pos + take,
            chunk,
        })
    }

    /// The next chunk of the current data frame's payload: as much of it
    /// as `buf` holds, at most `most` bytes, unmasked (and, for
    /// uncompressed text, checked) in place at the start of `buf`; its
    /// length and flags. The callers have read the frame's header
    /// (`remaining` is not 0) and give a `buf` and a `most` that are not
    /// empty.
    #[inline(always)]
    fn take_payload(
        &mut self,
        buf: &mut [u8],
        most: usize,
    ) -> Result<(usize, ChunkFlags), PeerErrorKind> {
        debug_assert!(self.remaining != 0 && !buf.is_empty() && most != 0);
        let available = buf.len().min(most);
        let take = usize::try_from(self.remaining).map_or(available, |r| r.min(available));
        let data = &mut buf[..take];
        if self.mask != [0; 4] {
            apply_mask(data, self.mask, u64::from(self.offset));
        }
        self.remaining -= take as u64;
        self.offset = ((usize::from(self.offset) + take) % 4) as u8;
        let frame_end = self.remaining == 0;
        let chunk = self.finish_chunk(data, frame_end, self.fin)?;
        Ok((take, chunk))
    }

    /// The common step inside a payload, in one go: the next chunk of an
    /// uncompressed data frame whose header was read, from the start of
    /// `buf`; `None`, before touching `buf`, between frames, in a
    /// compressed message, or when `buf` is empty. What
    /// [`step`](Self::step) returns for the same bytes, without its frame
    /// start's checks (a frame larger than a read is decoded this way
    /// from its second read on). The connection answers an empty buffer
    /// before asking; the empty test here keeps this method's own
    /// contract (no zero-length chunk) for any caller.
    #[inline(always)]
    pub(crate) fn payload_chunk(
        &mut self,
        buf: &mut [u8],
    ) -> Option<Result<(usize, ChunkFlags), PeerErrorKind>> {
        if self.remaining == 0 || self.compressed || buf.is_empty() {
            return None;
        }
        Some(self.take_payload(buf, usize::MAX))
    }

    /// The common frame, between messages, in one go: a whole text or
    /// binary message in one frame (FIN set, no RSV bit, a 7- or 16-bit
    /// length within the limits, masked as `role` requires) whose payload
    /// is all in `buf`. `None` for anything else, before touching `buf`:
    /// the general path then decodes it, and names the error if it breaks
    /// a rule. What this returns is what the general path returns for the
    /// same bytes (a test compares them on every header shape), leaving
    /// the decoder between messages as the general path does.
    #[inline(always)]
    pub(crate) fn whole_message(
        &mut self,
        buf: &mut [u8],
        role: Role,
        limits: &FrameLimits,
    ) -> Option<Result<WholeMessage, PeerErrorKind>> {
        if self.remaining != 0 || self.incoming.is_some() {
            return None;
        }
        let [b0, b1, ..] = *buf else { return None };
        let kind = match b0 {
            0x81 => MessageKind::Text,
            0x82 => MessageKind::Binary,
            _ => return None,
        };
        let masked = b1 & 0x80 != 0;
        if masked != (role == Role::Server) {
            return None;
        }
        let (len, at) = match b1 & 0x7F {
            127 => return None,
            126 => match buf.get(2..4) {
                Some(&[hi, lo]) => (usize::from(u16::from_be_bytes([hi, lo])), 4),
                _ => return None,
            },
            n => (usize::from(n), 2),
        };
        let start = if masked { at + 4 } else { at };
        let end = start + len;
        let size = len as u64;
        if end > buf.len()
            || size > limits.max_frame_payload
            || size > limits.max_message_size
            || limits.max_fragments == 0
        {
            return None;
        }
        let (head, payload) = buf[..end].split_at_mut(start);
        if masked {
            apply_mask(
                payload,
                [head[at], head[at + 1], head[at + 2], head[at + 3]],
                0,
            );
        }
        // The whole message is here: valid as a whole is what feeding it
        // and finishing would say.
        if kind == MessageKind::Text && !valid_utf8(payload) {
            return Some(Err(PeerErrorKind::InvalidUtf8));
        }
        self.compressed = false;
        Some(Ok(WholeMessage { start, end, kind }))
    }

    /// Fragmentation and limit rules for a new data frame (RFC 6455
    /// §5.4), checked before anything changes.
    #[inline]
    fn check_data_frame(&self, h: &FrameHeader, limits: &FrameLimits) -> Result<(), PeerErrorKind> {
        if h.payload_len > limits.max_frame_payload {
            return Err(PeerErrorKind::FrameTooLarge {
                limit: limits.max_frame_payload,
            });
        }
        // The message's size and fragments before this frame.
        let (size, fragments) = match (h.opcode, self.incoming) {
            (OpCode::Continuation, None) => return Err(PeerErrorKind::UnexpectedContinuation),
            (OpCode::Continuation, Some(_)) => (self.size, self.fragments),
            (_, Some(_)) => return Err(PeerErrorKind::ExpectedContinuation),
            (_, None) => (0, 0),
        };
        if size.saturating_add(h.payload_len) > limits.max_message_size {
            return Err(PeerErrorKind::MessageTooLarge {
                limit: limits.max_message_size,
            });
        }
        if fragments >= limits.max_fragments {
            return Err(PeerErrorKind::TooManyFragments {
                limit: limits.max_fragments,
            });
        }
        Ok(())
    }

    /// Counts a data frame that [`check_data_frame`](Self::check_data_frame)
    /// accepted: a new message on a Text or Binary frame, one more fragment.
    #[inline]
    fn begin_data_frame(&mut self, h: &FrameHeader) {
        if h.opcode != OpCode::Continuation {
            self.incoming = Some(if h.opcode == OpCode::Text {
                MessageKind::Text
            } else {
                MessageKind::Binary
            });
            self.compressed = h.rsv & RSV1 != 0;
            self.size = 0;
            self.fragments = 0;
            self.utf8 = Utf8Validator::new();
        }
        self.size = self.size.saturating_add(h.payload_len);
        self.fragments += 1;
    }

    /// UTF-8 for text, and the end of the message. A call on 32-bit
    /// targets, where its two copies in `step_any` cost flash (firmware
    /// .text 17,624 -> 17,476 B); 64-bit targets inline it.
    #[cfg_attr(target_pointer_width = "64", inline)]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
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

/// How much compressed payload a step hands out for an output buffer of
/// `out` bytes: what the inflater leaves of it is masked again, so a
/// chunk in proportion to the room (the inflater uses about as much input
/// as it writes, or less) keeps that work in proportion to the progress
/// (a review: a one-byte `out` re-masked 16 KiB a call), at least 512
/// bytes and at most 16 KiB.
#[cfg(feature = "deflate")]
pub(crate) fn compressed_chunk(out: usize) -> usize {
    out.saturating_mul(2).clamp(512, MAX_COMPRESSED_CHUNK)
}

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

#[cfg(test)]
mod tests {
    #[cfg(feature = "deflate")]
    #[test]
    fn compressed_chunks_follow_the_output_room() {
        // A one-byte output re-masks at most 511 bytes a call, not 16 KiB.
        assert_eq!(compressed_chunk(1), 512);
        assert_eq!(compressed_chunk(2048), 4096);
        assert_eq!(compressed_chunk(16 * 1024), MAX_COMPRESSED_CHUNK);
        assert_eq!(compressed_chunk(usize::MAX), MAX_COMPRESSED_CHUNK);
    }

    use super::*;
    use std::vec::Vec;

    /// A frame: the two header bytes `b0`, `b1` (its 7-bit length field
    /// included), the 16-bit length when that field is 126, the key when
    /// masked, then `payload` masked with it.
    fn frame(b0: u8, b1: u8, payload: &[u8]) -> Vec<u8> {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut f = std::vec![b0, b1];
        if b1 & 0x7F == 126 {
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        if b1 & 0x80 != 0 {
            f.extend_from_slice(&key);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        } else {
            f.extend_from_slice(payload);
        }
        f
    }

    /// The one-go path for a whole message in one frame returns what the
    /// general path returns — the same step or error, the same bytes
    /// unmasked, the decoder left between messages alike — for every
    /// first byte (opcodes, FIN, RSV bits), both mask bits and roles,
    /// 7-bit and 16-bit lengths (and the 64-bit form, which it leaves to
    /// the general path), valid, invalid and cut UTF-8, frames cut short
    /// and limits just below and at the frame's size.
    #[test]
    fn a_whole_message_in_one_go_is_what_the_general_path_says() {
        let payloads: [&[u8]; 6] = [
            b"",
            b"Hello",
            "h\u{e9}llo \u{20ac}".as_bytes(),
            b"bad \xff byte",
            b"cut \xe2\x82",
            &[b'x'; 300],
        ];
        let mut checked = 0;
        let mut one_go = 0;
        for role in [Role::Server, Role::Client] {
            for b0 in 0..=255u8 {
                for masked in [0, 0x80] {
                    for payload in payloads {
                        let len_field = match payload.len() {
                            n if n <= 125 => n as u8,
                            _ => 126,
                        };
                        let whole = frame(b0, masked | len_field, payload);
                        let size = payload.len() as u64;
                        let limits = [
                            (u64::MAX, u64::MAX, u32::MAX),
                            (size, size, 1),
                            (size.saturating_sub(1), u64::MAX, 1),
                            (u64::MAX, size.saturating_sub(1), 1),
                            (u64::MAX, u64::MAX, 0),
                        ];
                        let limits = limits.into_iter().flat_map(|l| [(l, false), (l, true)]);
                        for ((max_frame_payload, max_message_size, max_fragments), whole_frames) in
                            limits
                        {
                            let limits = FrameLimits {
                                max_frame_payload,
                                max_message_size,
                                max_fragments,
                                whole_frames,
                            };
                            // Cut short, or whole and followed by the next
                            // frame's first bytes (which must stay unread).
                            let next: &[u8] = b"\x89\x80\x00\x00\x00\x00\x82";
                            let ends =
                                [0, 1, whole.len() - 1, whole.len(), whole.len() + next.len()];
                            let mut followed = whole.clone();
                            followed.extend_from_slice(next);
                            for cut in ends {
                                for deflate in [None, Some(MAX_COMPRESSED_CHUNK)] {
                                    let mut a = followed[..cut].to_vec();
                                    let mut b = a.clone();
                                    let (mut fast, mut general) = (Decoder::new(), Decoder::new());
                                    // The shortcut itself, whatever `SHORTCUTS`
                                    // says (as `step` takes it on 64-bit).
                                    let got = match fast.whole_message(&mut a, role, &limits) {
                                        Some(got) => got.map(WholeMessage::step),
                                        None => {
                                            fast.step_any(&mut a, role, &limits, false, deflate)
                                        }
                                    };
                                    let want =
                                        general.step_any(&mut b, role, &limits, false, deflate);
                                    let case =
                                        (role, b0, masked, payload, limits.max_frame_payload, cut);
                                    assert_eq!(got, want, "{case:?}");
                                    assert_eq!(a, b, "{case:?}");
                                    if want.is_ok() {
                                        assert_eq!(fast.remaining, general.remaining, "{case:?}");
                                        assert_eq!(fast.incoming, general.incoming, "{case:?}");
                                        assert_eq!(fast.compressed, general.compressed, "{case:?}");
                                    }
                                    one_go += usize::from(
                                        Decoder::new()
                                            .whole_message(
                                                &mut followed[..cut].to_vec(),
                                                role,
                                                &limits,
                                            )
                                            .is_some(),
                                    );
                                    checked += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        // The one-go path took at least every whole text or binary frame
        // masked as its role wants under limits it fits, alone or followed:
        // 2 roles x 2 opcodes x 6 payloads x 2 limits x 2 deflate settings
        // x 2 ends.
        assert!(one_go >= 192, "{one_go} of {checked}");
    }
}
