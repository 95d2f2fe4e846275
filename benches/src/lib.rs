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
    vec![0u8; receive_buffer_len(read_size, offset)]
}

/// The length of [`receive_buffer`]`(read_size, offset)`, for buffers
/// placed elsewhere ([`Placements`]).
pub fn receive_buffer_len(read_size: usize, offset: usize) -> usize {
    offset + read_size + 64
}

/// Where (modulo 4 KiB) the caller-owned receive buffers start after the
/// input they read, one placement per call: every implementation that
/// takes the caller's buffer (ours, floor, embedded-websocket) gets the
/// same placements in turn ([`Placements`]).
///
/// Where a buffer lies changes how fast the same code runs over it, so a
/// single placement measures luck: when the simulated `recv`'s
/// destination starts a few bytes after its source modulo 4 KiB, the
/// copy's loads wait on its own earlier stores to the same low twelve
/// address bits ("4K aliasing"), and the decoders' own state can collide
/// with the buffer alike. Measured on the AMD EPYC of the README: in
/// `bin_16KiB`, protoswitch took 1.13x tokio-websockets' time with its
/// buffer 16 bytes after the input and 0.91x with it 2,048 bytes after;
/// `read4K_bin_64KiB` took 0.98x to 1.31x the floor's depending on which
/// workloads had run before (the allocator's choice). Seven placements
/// half a kilobyte apart, none within 512 bytes of the input's own,
/// taken in turn, make every implementation's median a median over the
/// same placements.
pub const SKEWS: [usize; 7] = [512, 1024, 1536, 2048, 2560, 3072, 3584];

/// Receive buffers of one length at the [`SKEWS`] after an input, handed
/// out in turn by [`Placements::next`].
pub struct Placements {
    buffers: Vec<(Vec<u8>, usize)>,
    len: usize,
    turn: usize,
}

impl Placements {
    /// Buffers of `len` zeroed bytes, each starting one of the [`SKEWS`]
    /// after `input`'s first byte, modulo 4 KiB. `input` is the input's
    /// whole allocation, so that a buffer used at `offset` meets the
    /// input at `offset` alike.
    pub fn after(input: &[u8], len: usize) -> Self {
        let from = input.as_ptr() as usize % 4096;
        let buffers = SKEWS
            .iter()
            .map(|skew| {
                let storage = vec![0u8; len + 4096];
                let at = storage.as_ptr() as usize % 4096;
                let start = (from + skew + 4096 - at) % 4096;
                (storage, start)
            })
            .collect();
        Placements {
            buffers,
            len,
            turn: 0,
        }
    }

    /// The next buffer (the first again after the last).
    pub fn take_turn(&mut self) -> &mut [u8] {
        let i = self.turn % self.buffers.len();
        self.turn += 1;
        let (storage, start) = &mut self.buffers[i];
        &mut storage[*start..*start + self.len]
    }
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
