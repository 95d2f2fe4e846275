//! permessage-deflate on a connection (RFC 7692 §6, §7.2), feature
//! `deflate`: the inflater for the peer's messages (`inflate.rs`) and the
//! compressor for ours (`compress.rs`), both this crate's, each allocated
//! when first used.
//!
//! The inflater was `miniz_oxide`'s until a review found that it rebuilds
//! its tables for every block: 900 KB of empty fixed-code blocks took
//! 1.55 s to inflate to nothing (zlib: 11 ms), with no output for a size
//! limit to stop; it also let a distance reach past the agreed window and
//! into earlier messages under `*_no_context_takeover`, and built its
//! 43 KB state on the stack. `inflate.rs` has the fixed codes' tables at
//! compile time, enforces the peer's window and promise, and takes
//! 2^bits bytes of window (32 KiB for a peer that did not agree to less)
//! plus about 4.2 KiB.
//!
//! `miniz_oxide`'s compressor could not be used either: asked for a window
//! below 32 KiB, its output still reaches farther back (zlib rejected it
//! at 9 to 13 bits, "invalid distance too far back"), and it takes 319,326
//! bytes (boxed) whatever the settings. The crate's own compressor honours
//! every window from 8 to 15 bits and takes
//! `2^(window_bits + 1) + 2^(memory_level + 8)` bytes: 16 KiB with the
//! defaults ([`DeflateConfig`]: 12 bits, memory level 5).
//!
//! Memory per connection: nothing until a compressed message is received
//! (then the inflater) or sent (then 16 KiB with the defaults; a call
//! compressing 2 KiB or more also holds its symbols, 4 bytes each and at
//! most 64 KiB, while it runs, to give each block codes fitted to it); with
//! [`DeflateConfig::compress`] off the connection never compresses, so
//! only the inflater is ever allocated.

use alloc::boxed::Box;

use super::compress::Compressor;
use super::inflate::Inflater;
use super::types::{DataChunk, Event, MessageKind};
use crate::Received;
use crate::error::{PeerErrorKind, Role};
use crate::upgrade::{DeflateConfig, DeflateParams};

/// The bytes a sync flush ends with, which RFC 7692 §7.2.1 removes from
/// the end of a message and §7.2.2 appends again before inflating.
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Compression state of one connection.
#[derive(Clone)]
pub(crate) struct Deflate {
    inflater: Option<Box<Inflater>>,
    /// The peer's window, and whether it compresses every message
    /// without the previous ones (its `*_no_context_takeover`).
    receive_window_bits: u8,
    receive_no_context_takeover: bool,
    compressor: Option<Box<Compressor>>,
    /// Our direction: reset the compressor after every message.
    send_no_context_takeover: bool,
    /// Our compressor's window (what was agreed, at most the
    /// configuration's) and hash table.
    send_window_bits: u8,
    memory_level: u8,
    compress: bool,
    /// The message being received (`None` between messages): its kind,
    /// inflated bytes so far, how much of the tail has been fed, whether
    /// its last frame has been consumed.
    receiving: Option<MessageKind>,
    inflated: u64,
    tail_fed: u8,
    input_done: bool,
    /// Some compressed byte of the message has been fed.
    input_seen: bool,
    /// The last call filled the caller's buffer: more may be waiting.
    out_full: bool,
    /// The message being sent in fragments is compressed.
    pub(crate) sending_compressed: bool,
}

impl core::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflate")
            .field("inflater", &self.inflater.is_some())
            .field("compressor", &self.compressor.is_some())
            .field("send_no_context_takeover", &self.send_no_context_takeover)
            .field("send_window_bits", &self.send_window_bits)
            .field("memory_level", &self.memory_level)
            .field("compress", &self.compress)
            .finish_non_exhaustive()
    }
}

/// What one call to [`Deflate::inflate`] did, by length (so the event can
/// borrow the output buffer afterwards).
pub(crate) struct Inflated {
    /// Input bytes used.
    pub(crate) used: usize,
    /// Output bytes written.
    pub(crate) written: usize,
    /// The message is complete: its tail fed and every byte handed out.
    pub(crate) message_end: bool,
}

impl Inflated {
    /// What `receive_into` returns for it: a chunk of a `kind` message
    /// when bytes came out or the message ended (inflated data shows no
    /// frames: `frame_end` is `message_end`).
    pub(crate) fn received(
        self,
        kind: MessageKind,
        consumed: usize,
        out: &[u8],
    ) -> Received<Event<'_>> {
        let event = (self.written > 0 || self.message_end).then_some(Event::Data(DataChunk {
            kind,
            payload: &out[..self.written],
            frame_end: self.message_end,
            message_end: self.message_end,
        }));
        Received { consumed, event }
    }
}

impl Deflate {
    pub(crate) fn new(role: Role, config: &DeflateConfig, params: DeflateParams) -> Self {
        let (no_context_takeover, window_bits) = match role {
            Role::Server => (
                params.server_no_context_takeover,
                params.server_max_window_bits,
            ),
            Role::Client => (
                params.client_no_context_takeover,
                params.client_max_window_bits,
            ),
        };
        let (receive_no_context_takeover, receive_window_bits) = match role {
            Role::Server => (
                params.client_no_context_takeover,
                params.client_max_window_bits,
            ),
            Role::Client => (
                params.server_no_context_takeover,
                params.server_max_window_bits,
            ),
        };
        Deflate {
            inflater: None,
            receive_window_bits,
            receive_no_context_takeover,
            compressor: None,
            send_no_context_takeover: no_context_takeover,
            send_window_bits: window_bits
                .clamp(8, 15)
                .min(config.window_bits.clamp(8, 15)),
            memory_level: config.memory_level.clamp(1, 9),
            compress: config.compress,
            receiving: None,
            inflated: 0,
            tail_fed: 0,
            input_done: false,
            input_seen: false,
            out_full: false,
            sending_compressed: false,
        }
    }

    /// Our messages are compressed.
    pub(crate) fn compresses(&self) -> bool {
        self.compress
    }

    /// Inflated bytes may be waiting in the inflater: the message's last
    /// frame was used (its tail and output still to come), or the last
    /// call filled `out`. The message's kind, and whether its input is
    /// all in.
    pub(crate) fn draining(&self) -> Option<(MessageKind, bool)> {
        let kind = self.receiving?;
        (self.input_done || self.out_full).then_some((kind, self.input_done))
    }

    /// Inflates what it can of `input` (payload of the current message,
    /// unmasked; `last` when it ends the message) into `out`, counting the
    /// output against `limit`. Once the message's input is all used, the
    /// tail is fed and the output drained, over as many calls as `out`
    /// needs (with empty `input`); an empty `input` also hands out what
    /// the inflater holds.
    pub(crate) fn inflate(
        &mut self,
        kind: MessageKind,
        input: &[u8],
        last: bool,
        out: &mut [u8],
        limit: u64,
    ) -> Result<Inflated, PeerErrorKind> {
        let bits = self.receive_window_bits;
        let inflater = self
            .inflater
            .get_or_insert_with(|| Inflater::new_boxed(bits));
        if self.receiving.is_none() {
            // A compressed message begins.
            self.receiving = Some(kind);
            self.inflated = 0;
            self.tail_fed = 0;
            self.input_done = false;
            self.input_seen = false;
            if self.receive_no_context_takeover {
                // The peer promised not to refer to earlier messages.
                inflater.forget_history();
            }
        }
        let (mut used, mut written) = (0, 0);
        // The inflater made no progress on empty input: what it holds is
        // out, and whether the tail is needed can be told.
        let mut drained = false;
        loop {
            if last && used == input.len() {
                self.input_done = true;
            }
            // An empty message (RFC 7692 §7.2.3.6 sends it as one byte;
            // none at all is accepted too), or a stream ended by a final
            // block with nothing after it, has no block for the tail to
            // complete: feeding it would leave a stored block half read.
            // Known only once the inflater has used every bit it holds (a
            // final block's end may wait behind a full `out`).
            let skip_tail = !self.input_seen || inflater.after_final_block();
            let feed_tail = self.input_done
                && !skip_tail
                && self.tail_fed < 4
                && (drained || self.tail_fed > 0);
            let (src, tail) = if used < input.len() {
                (&input[used..], false)
            } else if feed_tail {
                (&TAIL[usize::from(self.tail_fed)..], true)
            } else {
                (&[][..], false)
            };
            let r = inflater
                .inflate(src, &mut out[written..])
                .map_err(|_| PeerErrorKind::InflateFailed)?;
            if tail {
                self.tail_fed += r.consumed as u8;
            } else {
                used += r.consumed;
                self.input_seen |= r.consumed > 0;
            }
            written += r.written;
            if written == out.len() {
                break;
            }
            if r.consumed + r.written == 0 {
                if src.is_empty() && !drained {
                    drained = true;
                    continue;
                }
                break;
            }
            drained = false;
        }
        if last && used == input.len() {
            // The message's input is all in, even when `out` filled up
            // first: the tail follows at the next call.
            self.input_done = true;
        }
        self.inflated += written as u64;
        if self.inflated > limit {
            return Err(PeerErrorKind::MessageTooLarge { limit });
        }
        // Done when the tail is in (or has no block to complete) and the
        // output did not fill up (the inflater stops only when it cannot
        // go on, or when `out` is full).
        let tail_done = self.tail_fed == 4 || !self.input_seen || inflater.after_final_block();
        let message_end = self.input_done && tail_done && written < out.len();
        if message_end && !inflater.at_block_boundary() {
            // The message stopped inside a block (its last block cut
            // short, or not ended by the empty stored block RFC 7692
            // §7.2.1 asks for): the tail was read as data, and what came
            // out is not the message. (zlib, used the same way, hands it
            // out and derails on the next message.)
            return Err(PeerErrorKind::InflateFailed);
        }
        self.out_full = written == out.len() && !message_end;
        if message_end {
            self.receiving = None;
            self.input_done = false;
        }
        Ok(Inflated {
            used,
            written,
            message_end,
        })
    }

    /// Compresses `data` as (part of) a message into `out`, which must hold
    /// [`compress::bound`](super::compress::bound) bytes; returns the length. With `fin`, the sync flush's
    /// tail is removed (RFC 7692 §7.2.1) and, without context takeover,
    /// the window is reset.
    pub(crate) fn compress(&mut self, data: &[u8], fin: bool, out: &mut [u8]) -> usize {
        let (bits, level) = (self.send_window_bits, self.memory_level);
        let c = self
            .compressor
            .get_or_insert_with(|| Box::new(Compressor::new(bits, level)));
        let mut n = c.compress(data, out);
        if fin {
            debug_assert!(out[..n].ends_with(&TAIL));
            n -= TAIL.len();
            if self.send_no_context_takeover {
                c.reset();
            }
        }
        n
    }
}
