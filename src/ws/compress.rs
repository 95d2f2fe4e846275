//! The DEFLATE compressor of permessage-deflate (RFC 1951, RFC 7692
//! §7.2.1), feature `deflate`: greedy LZ77 matching over a window of
//! exactly the negotiated size, one hash candidate per position, fixed
//! Huffman codes (stored blocks when those would be larger), a sync flush
//! at the end of every call.
//!
//! Written here rather than taken from `miniz_oxide` (which inflates):
//! `miniz_oxide` compresses with a 32 KiB window whatever it is asked
//! (zlib rejected its output at 9 to 13 bits, "invalid distance too far
//! back") and needs 319,326 bytes (312 KiB) per compressor; this one never reaches back
//! further than `2^window_bits` bytes and needs `2^(window_bits + 1)` bytes
//! of window plus `2^(memory_level + 8)` bytes of hash table, at most
//! `2^(window_bits + 2)` and 64 KiB (16 KiB at 12 bits and memory level 5,
//! the defaults of a server).
//!
//! State between calls (context takeover): the last `2^window_bits` bytes
//! and the hash table. Every call ends byte-aligned with an empty stored
//! block (`00 00 ff ff`), so each call's output can be sent on its own.

use alloc::boxed::Box;
use alloc::vec;

/// Longest and shortest matches (RFC 1951 §3.2.5).
const MAX_MATCH: usize = 258;
const MIN_MATCH: usize = 3;
/// Most bytes in one stored block.
const MAX_STORED: usize = 65_535;

/// The compressor of one direction of one connection.
#[derive(Clone)]
pub(crate) struct Compressor {
    /// `2^window_bits`: no match reaches further back.
    window_size: usize,
    /// History, then the bytes being compressed: `2 * window_size` bytes.
    window: Box<[u8]>,
    /// Bytes of `window` in use.
    filled: usize,
    /// Last position (in `window`) of each hash of three bytes. Entries
    /// may be stale: a candidate is used only if its bytes match and it
    /// lies within the window.
    head: Box<[u16]>,
    hash_shift: u32,
}

impl Compressor {
    /// A compressor whose matches reach back at most `2^window_bits`
    /// bytes (8 to 15), with `2^(memory_level + 7)` hash entries (memory
    /// level 1 to 9), at most twice the window and 2^15: a larger table
    /// would only cost time at every slide, which walks it.
    pub(crate) fn new(window_bits: u8, memory_level: u8) -> Self {
        let window_bits = window_bits.clamp(8, 15);
        let window_size = 1usize << window_bits;
        let hash_bits = (u32::from(memory_level.clamp(1, 9)) + 7)
            .min(u32::from(window_bits) + 1)
            .min(15);
        Compressor {
            window_size,
            window: vec![0; 2 * window_size].into_boxed_slice(),
            filled: 0,
            head: vec![0; 1 << hash_bits].into_boxed_slice(),
            hash_shift: 32 - hash_bits,
        }
    }

    /// Forgets the history (no context takeover): the next call compresses
    /// as if it were the first. Stale hash entries point into the data of
    /// the next message or fail the checks, so they need no clearing.
    pub(crate) fn reset(&mut self) {
        self.filled = 0;
    }

    /// Heap bytes this compressor holds.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> usize {
        self.window.len() + 2 * self.head.len()
    }

    /// Compresses `data` into `out`, which must hold [`bound`]`(data.len())`
    /// bytes, ending with a sync flush (an empty stored block, whose
    /// `00 00 ff ff` the caller removes at the end of a message). Returns
    /// the length.
    pub(crate) fn compress(&mut self, data: &[u8], out: &mut [u8]) -> usize {
        let limit = bound(data.len()).min(out.len());
        let mut bits = BitWriter::new(&mut out[..limit]);
        if !data.is_empty() {
            // A block with fixed codes (BFINAL 0, BTYPE 01).
            bits.put(0b010, 3);
            for piece in data.chunks(self.window_size) {
                self.compress_piece(piece, &mut bits);
            }
            bits.put(0, 7); // end of block (symbol 256)
        }
        let n = match bits.finish_with_sync_flush() {
            Some(n) => n,
            // Fixed codes would be larger than the data: stored blocks
            // (the window already holds the data).
            None => write_stored(data, out),
        };
        debug_assert!(n <= limit, "{n} > bound {limit}");
        n
    }

    /// Adds `piece` (at most a window) to the window and writes its
    /// symbols.
    fn compress_piece(&mut self, piece: &[u8], bits: &mut BitWriter<'_>) {
        if self.filled + piece.len() > self.window.len() {
            self.slide();
        }
        let start = self.filled;
        let end = start + piece.len();
        self.window[start..end].copy_from_slice(piece);
        self.filled = end;
        let w = &self.window[..end];
        let mut i = start;
        while i < end {
            if i + MIN_MATCH > end {
                bits.literal(w[i]);
                i += 1;
                continue;
            }
            let h = self.hash(&w[i..]);
            let candidate = usize::from(self.head[h]);
            self.head[h] = i as u16;
            let distance = i.wrapping_sub(candidate);
            let len = if candidate < i && distance <= self.window_size {
                match_len(&w[candidate..], &w[i..end])
            } else {
                0
            };
            if len < MIN_MATCH {
                bits.literal(w[i]);
                i += 1;
                continue;
            }
            bits.copy(len, distance);
            // Later positions inside the match become candidates too.
            for j in i + 1..(i + len).min(end - MIN_MATCH + 1) {
                let h = self.hash(&w[j..]);
                self.head[h] = j as u16;
            }
            i += len;
        }
    }

    /// Keeps the last window of history at the front and moves the hash
    /// entries with it (those that fall off point at 0, which the checks
    /// reject or which holds history bytes that really match).
    fn slide(&mut self) {
        let keep = self.filled.min(self.window_size);
        let shift = self.filled - keep;
        self.window.copy_within(shift..self.filled, 0);
        self.filled = keep;
        // `shift` is below 2^16: the window is at most 64 KiB.
        let shift = shift as u16;
        for e in self.head.iter_mut() {
            *e = e.saturating_sub(shift);
        }
    }

    fn hash(&self, at: &[u8]) -> usize {
        let v = u32::from(at[0]) | u32::from(at[1]) << 8 | u32::from(at[2]) << 16;
        (v.wrapping_mul(0x9E37_79B1) >> self.hash_shift) as usize
    }
}

/// The most bytes [`Compressor::compress`] writes for `len` input bytes:
/// stored blocks (5 bytes each per 64 KiB) and the sync flush (5 bytes).
pub(crate) fn bound(len: usize) -> usize {
    len.saturating_add(5 * (len / MAX_STORED + 1))
        .saturating_add(5)
}

/// How many bytes of `cur` (at most 258) equal those at the start of
/// `earlier`, which may run into `cur` (an overlapping copy).
fn match_len(earlier: &[u8], cur: &[u8]) -> usize {
    let max = cur.len().min(MAX_MATCH);
    let mut n = 0;
    while n + 8 <= max {
        let a = u64::from_le_bytes(earlier[n..n + 8].try_into().unwrap_or([0; 8]));
        let b = u64::from_le_bytes(cur[n..n + 8].try_into().unwrap_or([0; 8]));
        let diff = a ^ b;
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && earlier[n] == cur[n] {
        n += 1;
    }
    n
}

/// Writes `data` as stored blocks and the sync flush.
fn write_stored(data: &[u8], out: &mut [u8]) -> usize {
    let mut at = 0;
    for block in data.chunks(MAX_STORED) {
        at = stored_header(out, at, block.len());
        out[at..at + block.len()].copy_from_slice(block);
        at += block.len();
    }
    stored_header(out, at, 0)
}

/// A stored block's header from a byte boundary: BFINAL 0, BTYPE 00 (in
/// one byte with the padding), LEN, NLEN.
fn stored_header(out: &mut [u8], at: usize, len: usize) -> usize {
    // `len` is at most 65,535.
    let len = len as u16;
    out[at] = 0;
    out[at + 1..at + 3].copy_from_slice(&len.to_le_bytes());
    out[at + 3..at + 5].copy_from_slice(&(!len).to_le_bytes());
    at + 5
}

/// Writes bits least significant first (RFC 1951 §3.1.1) into a slice;
/// past its end it only remembers that it overflowed.
struct BitWriter<'o> {
    out: &'o mut [u8],
    at: usize,
    acc: u64,
    n: u32,
    overflow: bool,
}

impl<'o> BitWriter<'o> {
    fn new(out: &'o mut [u8]) -> Self {
        BitWriter {
            out,
            at: 0,
            acc: 0,
            n: 0,
            overflow: false,
        }
    }

    #[inline]
    fn put(&mut self, bits: u32, count: u32) {
        self.acc |= u64::from(bits) << self.n;
        self.n += count;
        if self.n >= 32 {
            self.flush_bytes();
        }
    }

    #[inline]
    fn flush_bytes(&mut self) {
        while self.n >= 8 {
            match self.out.get_mut(self.at) {
                Some(b) => *b = self.acc as u8,
                None => self.overflow = true,
            }
            self.at += 1;
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    #[inline]
    fn literal(&mut self, byte: u8) {
        let (code, len) = LITERALS[usize::from(byte)];
        self.put(u32::from(code), u32::from(len));
    }

    /// A length/distance pair with fixed codes (RFC 1951 §3.2.5-6).
    #[inline]
    fn copy(&mut self, len: usize, distance: usize) {
        let (code, code_len, extra, extra_len) = length_code(len);
        self.put(u32::from(code), u32::from(code_len));
        self.put(extra, extra_len);
        let (code, extra, extra_len) = distance_code(distance);
        self.put(u32::from(code), 5);
        self.put(extra, extra_len);
    }

    /// Ends with an empty stored block (BFINAL 0, BTYPE 00, padding,
    /// `00 00 ff ff`); the length, or `None` when the output did not fit.
    fn finish_with_sync_flush(mut self) -> Option<usize> {
        self.put(0, 3);
        // Pad to a byte.
        self.n = self.n.div_ceil(8) * 8;
        self.flush_bytes();
        for b in [0x00, 0x00, 0xff, 0xff] {
            self.acc = b;
            self.n = 8;
            self.flush_bytes();
        }
        (!self.overflow).then_some(self.at)
    }
}

/// `code` in `len` bits, reversed: Huffman codes are sent most
/// significant bit first into a least-significant-first stream.
const fn reversed(code: u16, len: u8) -> u16 {
    let mut r = 0;
    let mut i = 0;
    while i < len {
        r |= ((code >> i) & 1) << (len - 1 - i);
        i += 1;
    }
    r
}

/// The fixed literal/length code of `symbol` (RFC 1951 §3.2.6), reversed,
/// with its length.
const fn fixed_code(symbol: u16) -> (u16, u8) {
    let (code, len) = match symbol {
        0..=143 => (0x30 + symbol, 8),
        144..=255 => (0x190 + symbol - 144, 9),
        256..=279 => (symbol - 256, 7),
        _ => (0xc0 + symbol - 280, 8),
    };
    (reversed(code, len), len)
}

/// The fixed codes of the 256 literals.
const LITERALS: [(u16, u8); 256] = {
    let mut t = [(0, 0); 256];
    let mut i = 0;
    while i < 256 {
        t[i] = fixed_code(i as u16);
        i += 1;
    }
    t
};

/// Symbol code (reversed) and its length, extra bits and their count for a
/// match length of 3 to 258 (RFC 1951 §3.2.5).
fn length_code(len: usize) -> (u16, u8, u32, u32) {
    let v = (len - MIN_MATCH) as u32;
    let (symbol, extra, extra_len) = if len == MAX_MATCH {
        (285, 0, 0)
    } else if v < 8 {
        (257 + v, 0, 0)
    } else {
        let b = 31 - v.leading_zeros();
        (
            257 + 4 * (b - 1) + (v >> (b - 2) & 3),
            v & ((1 << (b - 2)) - 1),
            b - 2,
        )
    };
    let (code, code_len) = fixed_code(symbol as u16);
    (code, code_len, extra, extra_len)
}

/// Distance code (reversed, 5 bits), extra bits and their count for a
/// distance of 1 to 32,768 (RFC 1951 §3.2.5).
fn distance_code(distance: usize) -> (u16, u32, u32) {
    let v = (distance - 1) as u32;
    let (code, extra, extra_len) = if v < 4 {
        (v, 0, 0)
    } else {
        let b = 31 - v.leading_zeros();
        (2 * b + (v >> (b - 1) & 1), v & ((1 << (b - 1)) - 1), b - 1)
    };
    (reversed(code as u16, 5), extra, extra_len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Decodes what [`Compressor::compress`] writes (fixed-code and
    /// stored blocks only) and checks every distance against the window:
    /// an independent reading of RFC 1951 for this subset.
    fn decode(stream: &[u8], history: &mut Vec<u8>, window: usize) {
        struct Bits<'a> {
            s: &'a [u8],
            at: usize,
        }
        impl Bits<'_> {
            fn bit(&mut self) -> u32 {
                let b = u32::from(self.s[self.at / 8] >> (self.at % 8) & 1);
                self.at += 1;
                b
            }
            fn bits(&mut self, n: u32) -> u32 {
                (0..n).fold(0, |acc, i| acc | self.bit() << i)
            }
            /// A Huffman code, most significant bit first.
            fn code(&mut self, n: u32) -> u32 {
                (0..n).fold(0, |acc, _| acc << 1 | self.bit())
            }
        }
        const LBASE: [u32; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99,
            115, 131, 163, 195, 227, 258,
        ];
        const LEXTRA: [u32; 29] = [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
        ];
        const DBASE: [u32; 30] = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025,
            1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        let mut b = Bits { s: stream, at: 0 };
        while b.at < stream.len() * 8 {
            assert_eq!(b.bit(), 0, "BFINAL");
            match b.bits(2) {
                0 => {
                    b.at = b.at.div_ceil(8) * 8;
                    let at = b.at / 8;
                    let len = usize::from(u16::from_le_bytes([stream[at], stream[at + 1]]));
                    let nlen = u16::from_le_bytes([stream[at + 2], stream[at + 3]]);
                    assert_eq!(nlen, !(len as u16));
                    history.extend_from_slice(&stream[at + 4..at + 4 + len]);
                    b.at = (at + 4 + len) * 8;
                    if len == 0 {
                        assert_eq!(b.at, stream.len() * 8, "sync flush last");
                    }
                }
                1 => loop {
                    let mut c = b.code(7);
                    let symbol = if c <= 0b0010111 {
                        c + 256
                    } else {
                        c = c << 1 | b.bit();
                        if (0x30..=0xbf).contains(&c) {
                            c - 0x30
                        } else if (0xc0..=0xc7).contains(&c) {
                            c - 0xc0 + 280
                        } else {
                            (c << 1 | b.bit()) - 0x190 + 144
                        }
                    };
                    match symbol {
                        0..=255 => history.push(symbol as u8),
                        256 => break,
                        _ => {
                            let i = (symbol - 257) as usize;
                            let len = LBASE[i] + b.bits(LEXTRA[i]);
                            let d = b.code(5) as usize;
                            let extra = if d < 4 { 0 } else { (d as u32 - 2) / 2 };
                            let dist = (DBASE[d] + b.bits(extra)) as usize;
                            assert!(dist <= window, "distance {dist} beyond the window {window}");
                            assert!(dist <= history.len(), "distance {dist} before the start");
                            for _ in 0..len {
                                history.push(history[history.len() - dist]);
                            }
                        }
                    }
                },
                t => panic!("block type {t}"),
            }
        }
    }

    fn sample(n: usize, seed: u32) -> Vec<u8> {
        let words: [&[u8]; 6] = [
            b"{\"id\":",
            b"12345",
            b",\"name\":\"",
            b"user",
            b"\"},",
            b"\n",
        ];
        let mut x = seed | 1;
        let mut v = Vec::new();
        while v.len() < n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if x % 5 == 0 {
                v.push(x as u8);
            } else {
                v.extend_from_slice(words[(x % 6) as usize]);
            }
        }
        v.truncate(n);
        v
    }

    #[test]
    fn codes_match_rfc1951() {
        // §3.2.6: literal 0 is 00110000, 144 is 110010000, 256 is 0000000,
        // 280 is 11000000 (sent reversed).
        assert_eq!(fixed_code(0), (reversed(0b0011_0000, 8), 8));
        assert_eq!(fixed_code(144), (reversed(0b1_1001_0000, 9), 9));
        assert_eq!(fixed_code(256), (0, 7));
        assert_eq!(fixed_code(280), (reversed(0b1100_0000, 8), 8));
        for (len, symbol, extra_len) in [
            (3, 257, 0),
            (10, 264, 0),
            (11, 265, 1),
            (13, 266, 1),
            (19, 269, 2),
            (227, 284, 5),
            (257, 284, 5),
            (258, 285, 0),
        ] {
            let (code, code_len, _, e) = length_code(len);
            assert_eq!((code, code_len), fixed_code(symbol), "length {len}");
            assert_eq!(e, extra_len, "length {len}");
        }
        for (d, code, extra_len) in [
            (1, 0, 0),
            (4, 3, 0),
            (5, 4, 1),
            (7, 5, 1),
            (9, 6, 2),
            (24577, 29, 13),
            (32768, 29, 13),
        ] {
            let (c, _, e) = distance_code(d);
            assert_eq!((c, e), (reversed(code, 5), extra_len), "distance {d}");
        }
    }

    #[test]
    fn output_decodes_and_stays_within_the_window() {
        for window_bits in [8u8, 9, 12, 15] {
            for memory_level in [1u8, 5, 9] {
                let mut c = Compressor::new(window_bits, memory_level);
                let mut history = Vec::new();
                let mut expected = Vec::new();
                for (i, n) in [0usize, 1, 3, 100, 5000, 70_000, 300]
                    .into_iter()
                    .enumerate()
                {
                    let data = sample(n, i as u32 + 7);
                    let mut out = vec![0u8; bound(n)];
                    let len = c.compress(&data, &mut out);
                    assert!(out[..len].ends_with(&[0, 0, 0xff, 0xff]));
                    decode(&out[..len], &mut history, 1 << window_bits);
                    expected.extend_from_slice(&data);
                    assert_eq!(
                        history, expected,
                        "bits {window_bits} level {memory_level} n {n}"
                    );
                }
                // Without context takeover: nothing refers to before.
                c.reset();
                let data = sample(2000, 99);
                let mut out = vec![0u8; bound(2000)];
                let len = c.compress(&data, &mut out);
                let mut fresh = Vec::new();
                decode(&out[..len], &mut fresh, 1 << window_bits);
                assert_eq!(fresh, data);
            }
        }
    }

    #[test]
    fn incompressible_data_goes_stored_within_the_bound() {
        let mut x = 1u32;
        let data: Vec<u8> = (0..200_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        let mut c = Compressor::new(15, 8);
        let mut out = vec![0u8; bound(data.len())];
        let len = c.compress(&data, &mut out);
        assert!(len <= bound(data.len()));
        let mut history = Vec::new();
        decode(&out[..len], &mut history, 1 << 15);
        assert_eq!(history, data);
        // An empty call is the sync flush alone; a message of it is 0x00.
        assert_eq!(c.compress(&[], &mut out), 5);
        assert_eq!(&out[..5], &[0, 0, 0, 0xff, 0xff]);
    }

    #[test]
    fn memory_follows_the_settings() {
        assert_eq!(Compressor::new(12, 5).memory(), 8192 + 8192);
        assert_eq!(Compressor::new(15, 8).memory(), 65536 + 65536);
        assert_eq!(Compressor::new(8, 1).memory(), 512 + 512);
        // The table is capped at twice the window's entries.
        assert_eq!(Compressor::new(8, 9).memory(), 512 + 1024);
    }
}
