//! The `compare` program (issue 9).
//!
//! * [`ours`]: every call into protoswitch, in one small file.
//! * [`floor`]: a minimal hand-written Sans-IO decoder and handshake, the
//!   "how fast could it be" line every implementation is compared with.
//! * [`peers`]: tungstenite, tokio-websockets, fastwebsockets and
//!   embedded-websocket driven over the same in-memory input.
//! * [`inputs`]: the workloads' bytes (frames come from protoswitch's
//!   client, see [`ours::client_frames`]).
//!
//! `src/bin/compare.rs` is the harness: rounds, rotation, medians, tables.
//!
//! The `deflate` program (issue 10, `src/bin/deflate.rs`) measures
//! permessage-deflate against `miniz_oxide` itself: [`deflate`] has its
//! JSON-like messages and the raw library calls; protoswitch's calls are
//! in [`ours`] as well.

pub mod deflate;
pub mod floor;
pub mod inputs;
pub mod ours;
pub mod peers;
pub mod report;

/// What a decoder saw: every implementation must report the same totals
/// for the same input (the harness asserts it each round).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Complete messages (a fragmented message counts once).
    pub messages: u64,
    /// Sum of the payload lengths, after unmasking (and reassembly).
    pub bytes: u64,
}

impl Totals {
    /// `self` added `n` times (for runs repeated `n` times).
    pub fn times(self, n: u64) -> Totals {
        Totals {
            messages: self.messages * n,
            bytes: self.bytes * n,
        }
    }
    /// Adds another run's totals.
    pub fn add(&mut self, other: Totals) {
        self.messages += other.messages;
        self.bytes += other.bytes;
    }
}

/// The receive buffer of the Sans-IO decoders (ours, floor,
/// embedded-websocket): `offset` bytes of padding (to make the payloads
/// land at unaligned addresses), then room for one read plus a few bytes
/// of leftover (an incomplete frame header, at most 14 bytes, or an
/// incomplete UTF-8 character).
pub fn receive_buffer(read_size: usize, offset: usize) -> Vec<u8> {
    vec![0u8; offset + read_size + 64]
}

/// Simulated `recv`: compacts the unconsumed bytes `buf[start..end]` to
/// `offset`, then copies the next piece (at most `read_size` bytes) of
/// `input` after them. Returns the new `(start, end)` and advances `pos`.
/// Every caller-buffer implementation pays exactly this.
#[inline]
pub fn refill(
    buf: &mut [u8],
    offset: usize,
    start: usize,
    end: usize,
    input: &[u8],
    pos: &mut usize,
    read_size: usize,
) -> (usize, usize) {
    let mut end = end;
    if start == end {
        end = offset;
    } else if start != offset {
        buf.copy_within(start..end, offset);
        end = offset + (end - start);
    }
    let n = read_size.min(input.len() - *pos).min(buf.len() - end);
    buf[end..end + n].copy_from_slice(&input[*pos..*pos + n]);
    *pos += n;
    (offset, end + n)
}
