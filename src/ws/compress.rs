//! The DEFLATE compressor of permessage-deflate (RFC 1951, RFC 7692
//! §7.2.1), feature `deflate`: greedy LZ77 matching over a window of
//! exactly the negotiated size, one hash candidate per position, a sync
//! flush at the end of every call. Calls of fewer than [`DYNAMIC_FROM`]
//! bytes write fixed Huffman codes as they match (no buffer, no table to
//! build: most WebSocket messages are small); longer ones gather up to
//! [`BLOCK_SYMBOLS`] symbols a block, then write each block with Huffman
//! codes fitted to it (RFC 1951 §3.2.7) or with the fixed ones, whichever
//! is smaller. Stored blocks replace the whole call when the codes would
//! be larger than the data.
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
use alloc::vec::Vec;

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
        if data.len() >= DYNAMIC_FROM {
            let mut block = Block {
                symbols: Vec::with_capacity(BLOCK_SYMBOLS.min(data.len())),
                bits: &mut bits,
                lit_freq: [0; LIT_SYMBOLS],
                dist_freq: [0; DIST_SYMBOLS],
                fitted: Fitted::EMPTY,
            };
            for piece in data.chunks(self.window_size) {
                self.compress_piece(piece, &mut block);
            }
            block.write();
        } else if !data.is_empty() {
            self.write_fixed_block(data, &mut bits);
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

    /// Writes `data` as one block with the fixed codes (BFINAL 0, BTYPE
    /// 01), each symbol as it is matched.
    fn write_fixed_block(&mut self, data: &[u8], bits: &mut BitWriter<'_>) {
        bits.put(0b010, 3);
        let mut fixed = Fixed(bits);
        for piece in data.chunks(self.window_size) {
            self.compress_piece(piece, &mut fixed);
        }
        bits.symbol(&FIXED.lit, END_OF_BLOCK);
    }

    /// Adds `piece` (at most a window) to the window and gives its
    /// symbols to `out`.
    fn compress_piece(&mut self, piece: &[u8], out: &mut impl Symbols) {
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
                out.literal(w[i]);
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
                out.literal(w[i]);
                i += 1;
                continue;
            }
            out.copy(len, distance);
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

    /// The code of `symbol` in `codes`.
    #[inline(always)]
    fn symbol(&mut self, codes: &[(u16, u8)], symbol: usize) {
        let (code, len) = codes[symbol];
        self.put(u32::from(code), u32::from(len));
    }

    /// A literal byte with `codes`.
    #[inline(always)]
    fn literal(&mut self, codes: &Codes, byte: u8) {
        self.symbol(&codes.lit, usize::from(byte));
    }

    /// A length/distance pair with `codes` (RFC 1951 §3.2.5).
    #[inline(always)]
    fn copy(&mut self, codes: &Codes, len: usize, distance: usize) {
        let (symbol, extra, extra_len) = length_symbol(len);
        self.symbol(&codes.lit, symbol);
        self.put(extra, extra_len);
        let (symbol, extra, extra_len) = distance_symbol(distance);
        self.symbol(&codes.dist, symbol);
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
    // `len` is 1 to 15: a shift of 1 to 15.
    code.reverse_bits() >> (16 - len as u32)
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

/// Literal/length and distance codes (reversed, with their lengths), as
/// [`BitWriter`] writes them.
struct Codes {
    lit: [(u16, u8); LIT_SYMBOLS],
    dist: [(u16, u8); DIST_SYMBOLS],
}

impl Codes {
    const EMPTY: Codes = Codes {
        lit: [(0, 0); LIT_SYMBOLS],
        dist: [(0, 0); DIST_SYMBOLS],
    };
}

/// The fixed codes (RFC 1951 §3.2.6): distances are 5-bit codes.
const FIXED: Codes = {
    let mut codes = Codes::EMPTY;
    let mut i = 0;
    while i < LIT_SYMBOLS {
        codes.lit[i] = fixed_code(i as u16);
        i += 1;
    }
    let mut i = 0;
    while i < DIST_SYMBOLS {
        codes.dist[i] = (reversed(i as u16, 5), 5);
        i += 1;
    }
    codes
};

/// The length symbol (257 to 285) of a match of 3 to 258 bytes, its extra
/// bits and their count (RFC 1951 §3.2.5).
#[inline(always)]
fn length_symbol(len: usize) -> (usize, u32, u32) {
    let v = (len - MIN_MATCH) as u32;
    if len == MAX_MATCH {
        (285, 0, 0)
    } else if v < 8 {
        (257 + v as usize, 0, 0)
    } else {
        let b = 31 - v.leading_zeros();
        (
            (257 + 4 * (b - 1) + (v >> (b - 2) & 3)) as usize,
            v & ((1 << (b - 2)) - 1),
            b - 2,
        )
    }
}

/// The distance symbol (0 to 29) of a distance of 1 to 32,768, its extra
/// bits and their count (RFC 1951 §3.2.5).
#[inline(always)]
fn distance_symbol(distance: usize) -> (usize, u32, u32) {
    let v = (distance - 1) as u32;
    if v < 4 {
        (v as usize, 0, 0)
    } else {
        let b = 31 - v.leading_zeros();
        (
            (2 * b + (v >> (b - 1) & 1)) as usize,
            v & ((1 << (b - 1)) - 1),
            b - 1,
        )
    }
}

// ---- blocks with codes of their own (RFC 1951 §3.2.7) --------------------

/// Calls at least this long gather their symbols into blocks and give
/// each block the codes that suit it (when smaller than the fixed ones);
/// shorter calls write fixed codes directly. Measured on the benchmark's
/// JSON messages (context takeover): fitted codes make 3 KiB messages 18 %
/// smaller for about a third more time, 1 KiB ones 11 % smaller for more
/// than twice the time (building three codes costs as much as
/// compressing a kilobyte), so small messages keep the fixed codes.
const DYNAMIC_FROM: usize = 2048;

/// Symbols gathered per block (4 bytes each, allocated for the call: a
/// call of 16 KiB or more takes 64 KiB while it runs, nothing after).
const BLOCK_SYMBOLS: usize = 16 * 1024;

/// Literal/length symbols (0 to 285: 286 and 287 never occur) and
/// distance symbols (0 to 29).
const LIT_SYMBOLS: usize = 286;
const DIST_SYMBOLS: usize = 30;
const END_OF_BLOCK: usize = 256;

/// Code-length symbols (0 to 15, then 16, 17, 18: repeats) and the order
/// their lengths are sent in (RFC 1951 §3.2.7).
const CL_SYMBOLS: usize = 19;
const CL_ORDER: [usize; CL_SYMBOLS] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// A match in a gathered symbol: the high bit set, the length at bit 16,
/// the distance below (at most 32,768, so 16 bits); a literal is its byte.
const MATCH: u32 = 1 << 31;

/// The length and distance of a gathered match (`s & MATCH` set).
#[inline(always)]
fn unpack_match(s: u32) -> (usize, usize) {
    ((s >> 16 & 0x1ff) as usize, (s & 0xffff) as usize)
}

/// Where LZ77's output goes: written at once with fixed codes
/// ([`Fixed`]), or gathered into a block ([`Block`]).
trait Symbols {
    fn literal(&mut self, byte: u8);
    fn copy(&mut self, len: usize, distance: usize);
}

/// Writes each symbol with the fixed codes as it comes.
struct Fixed<'w, 'o>(&'w mut BitWriter<'o>);

impl Symbols for Fixed<'_, '_> {
    #[inline]
    fn literal(&mut self, byte: u8) {
        self.0.literal(&FIXED, byte);
    }
    #[inline]
    fn copy(&mut self, len: usize, distance: usize) {
        self.0.copy(&FIXED, len, distance);
    }
}

/// Gathers symbols; every [`BLOCK_SYMBOLS`] of them (and at the end of
/// the call, [`Block::write`]) become a block.
struct Block<'w, 'o> {
    symbols: Vec<u32>,
    bits: &'w mut BitWriter<'o>,
    lit_freq: [u32; LIT_SYMBOLS],
    dist_freq: [u32; DIST_SYMBOLS],
    fitted: Fitted,
}

impl Symbols for Block<'_, '_> {
    #[inline]
    fn literal(&mut self, byte: u8) {
        self.push(u32::from(byte));
    }
    #[inline]
    fn copy(&mut self, len: usize, distance: usize) {
        // `len` is at most 258 and `distance` at most 32,768.
        self.push(MATCH | (len as u32) << 16 | distance as u32);
    }
}

impl Block<'_, '_> {
    #[inline]
    fn push(&mut self, symbol: u32) {
        self.symbols.push(symbol);
        if self.symbols.len() == BLOCK_SYMBOLS {
            self.write();
        }
    }

    /// Writes the gathered symbols as one block (none: nothing), with the
    /// codes fitted to them when that is smaller, fixed codes otherwise.
    fn write(&mut self) {
        if self.symbols.is_empty() {
            return;
        }
        let (lit_freq, dist_freq) = (&mut self.lit_freq, &mut self.dist_freq);
        lit_freq.fill(0);
        dist_freq.fill(0);
        lit_freq[END_OF_BLOCK] = 1;
        for &s in &self.symbols {
            if s & MATCH == 0 {
                lit_freq[s as usize] += 1;
            } else {
                let (len, distance) = unpack_match(s);
                lit_freq[length_symbol(len).0] += 1;
                dist_freq[distance_symbol(distance).0] += 1;
            }
        }
        let fitted = &mut self.fitted;
        fitted.fit(lit_freq, dist_freq);
        // Extra bits are the same either way: only codes are compared.
        let fixed_cost = cost(lit_freq, &FIXED.lit) + cost(dist_freq, &FIXED.dist);
        let fitted_cost = fitted.header_bits()
            + cost(lit_freq, &fitted.codes.lit)
            + cost(dist_freq, &fitted.codes.dist);
        let codes = if fitted_cost < fixed_cost {
            // BFINAL 0, BTYPE 10.
            self.bits.put(0b100, 3);
            fitted.write_header(self.bits);
            &fitted.codes
        } else {
            self.bits.put(0b010, 3);
            &FIXED
        };
        for &s in &self.symbols {
            if s & MATCH == 0 {
                self.bits.literal(codes, s as u8);
            } else {
                let (len, distance) = unpack_match(s);
                self.bits.copy(codes, len, distance);
            }
        }
        self.bits.symbol(&codes.lit, END_OF_BLOCK);
        self.symbols.clear();
    }
}

/// Bits the codes `codes` take for symbols of frequencies `freq`.
fn cost(freq: &[u32], codes: &[(u16, u8)]) -> u64 {
    freq.iter()
        .zip(codes)
        .map(|(&f, &(_, len))| u64::from(f) * u64::from(len))
        .sum()
}

/// A block's own codes and their description (RFC 1951 §3.2.7): the code
/// lengths of both codes, run-length coded, themselves Huffman coded.
struct Fitted {
    codes: Codes,
    /// Literal/length and distance codes described (HLIT + 257, HDIST + 1).
    lit_count: usize,
    dist_count: usize,
    /// The run-length coded lengths: a code-length symbol and its extra
    /// bits' value each.
    runs: [(u8, u8); LIT_SYMBOLS + DIST_SYMBOLS],
    run_count: usize,
    cl_codes: [(u16, u8); CL_SYMBOLS],
    /// Code-length code lengths sent (HCLEN + 4), in [`CL_ORDER`].
    cl_count: usize,
}

impl Fitted {
    const EMPTY: Fitted = Fitted {
        codes: Codes::EMPTY,
        lit_count: 0,
        dist_count: 0,
        runs: [(0, 0); LIT_SYMBOLS + DIST_SYMBOLS],
        run_count: 0,
        cl_codes: [(0, 0); CL_SYMBOLS],
        cl_count: 0,
    };

    /// Makes these the codes fitted to symbols of frequencies `lit_freq`
    /// and `dist_freq`, with their description (in place: the block's
    /// work stays off the stack of the call as far as it can).
    fn fit(&mut self, lit_freq: &[u32; LIT_SYMBOLS], dist_freq: &[u32; DIST_SYMBOLS]) {
        // Both length lists as one sequence: runs may cross from one to
        // the other.
        let mut lengths = [0u8; LIT_SYMBOLS + DIST_SYMBOLS];
        let (lit_len, dist_len) = lengths.split_at_mut(LIT_SYMBOLS);
        code_lengths(lit_freq, 15, lit_len);
        code_lengths(dist_freq, 15, dist_len);
        canonical(lit_len, &mut self.codes.lit);
        canonical(dist_len, &mut self.codes.dist);
        let used = |lens: &[u8]| lens.len() - lens.iter().rev().take_while(|&&l| l == 0).count();
        self.lit_count = used(lit_len).max(257);
        self.dist_count = used(dist_len).max(1);
        // The distance lengths follow the literal/length ones described.
        lengths.copy_within(LIT_SYMBOLS..LIT_SYMBOLS + self.dist_count, self.lit_count);
        self.run_count = run_lengths(&lengths[..self.lit_count + self.dist_count], &mut self.runs);
        let mut cl_freq = [0u32; CL_SYMBOLS];
        for &(symbol, _) in &self.runs[..self.run_count] {
            cl_freq[usize::from(symbol)] += 1;
        }
        let mut cl_len = [0u8; CL_SYMBOLS];
        code_lengths(&cl_freq, 7, &mut cl_len);
        canonical(&cl_len, &mut self.cl_codes);
        let sent = CL_ORDER
            .iter()
            .rev()
            .skip_while(|&&s| cl_len[s] == 0)
            .count();
        self.cl_count = sent.max(4);
    }

    /// Bits of the description: HLIT, HDIST, HCLEN, the code-length
    /// code's lengths, then the coded lengths with their extra bits.
    fn header_bits(&self) -> u64 {
        let runs: u64 = self.runs[..self.run_count]
            .iter()
            .map(|&(symbol, _)| {
                u64::from(self.cl_codes[usize::from(symbol)].1) + u64::from(repeat_bits(symbol))
            })
            .sum();
        14 + 3 * self.cl_count as u64 + runs
    }

    fn write_header(&self, bits: &mut BitWriter<'_>) {
        bits.put((self.lit_count - 257) as u32, 5);
        bits.put((self.dist_count - 1) as u32, 5);
        bits.put((self.cl_count - 4) as u32, 4);
        for &symbol in &CL_ORDER[..self.cl_count] {
            bits.put(u32::from(self.cl_codes[symbol].1), 3);
        }
        for &(symbol, extra) in &self.runs[..self.run_count] {
            bits.symbol(&self.cl_codes, usize::from(symbol));
            bits.put(u32::from(extra), repeat_bits(symbol));
        }
    }
}

/// Extra bits after a code-length symbol: 16 repeats the previous length
/// 3 to 6 times (2 bits), 17 writes 3 to 10 zeros (3 bits), 18 writes 11
/// to 138 zeros (7 bits).
fn repeat_bits(symbol: u8) -> u32 {
    match symbol {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// `lengths` run-length coded with the code-length symbols into `runs`:
/// each symbol with its extra bits' value; returns how many. Each symbol
/// stands for one length at least: `runs` as long as `lengths` suffices.
fn run_lengths(lengths: &[u8], runs: &mut [(u8, u8)]) -> usize {
    let mut n = 0;
    let mut push = |symbol: u8, extra: usize| {
        // `extra` fits its bits (at most 127).
        runs[n] = (symbol, extra as u8);
        n += 1;
    };
    let mut i = 0;
    while i < lengths.len() {
        let len = lengths[i];
        let run = lengths[i..].iter().take_while(|&&l| l == len).count();
        let mut left = run;
        if len == 0 {
            while left >= 11 {
                let r = left.min(138);
                push(18, r - 11);
                left -= r;
            }
            if left >= 3 {
                push(17, left - 3);
                left = 0;
            }
        } else {
            push(len, 0);
            left -= 1;
            while left >= 3 {
                let r = left.min(6);
                push(16, r - 3);
                left -= r;
            }
        }
        for _ in 0..left {
            push(len, 0);
        }
        i += run;
    }
    n
}

/// Huffman code lengths of at most `limit` bits for symbols of
/// frequencies `freq` (0: no code) into `lengths`. At least two symbols
/// get a code (a used one and the lowest unused ones), as zlib does: the
/// code is then complete, which every inflater accepts (a lone code of
/// one bit leaves half the codes unused).
fn code_lengths(freq: &[u32], limit: u8, lengths: &mut [u8]) {
    const MAX: usize = LIT_SYMBOLS;
    debug_assert!(freq.len() <= MAX && freq.len() == lengths.len());
    // A block counts at most 16,385 symbols: far below both bounds.
    debug_assert!(freq.iter().all(|&f| f < 1 << 23));
    debug_assert!(freq.iter().map(|&f| u64::from(f)).sum::<u64>() < 1 << 32);
    // The symbols with a code, as `frequency << 9 | symbol`: in order by
    // frequency (then symbol) as plain numbers.
    let mut leaves = [0u32; MAX];
    let mut n = 0;
    for (symbol, &f) in freq.iter().enumerate() {
        if f > 0 {
            leaves[n] = f << 9 | symbol as u32;
            n += 1;
        }
    }
    let mut symbol = 0;
    while n < 2 {
        if freq[symbol] == 0 {
            leaves[n] = symbol as u32;
            n += 1;
        }
        symbol += 1;
    }
    let leaves = &mut leaves[..n];
    leaves.sort_unstable();
    // Huffman's construction with two queues: the leaves in order, and
    // the inner nodes in the order they are made (their weights never
    // decrease). Node `k` is leaf `k` below `n`, inner node `k - n` above;
    // `tree` holds each node's parent.
    let mut weight = [0u32; MAX];
    let mut tree = [0u16; 2 * MAX];
    let (mut next_leaf, mut next_inner) = (0, 0);
    for made in 0..n - 1 {
        let mut pick = || {
            let leaf = leaves.get(next_leaf).map(|&l| l >> 9);
            match leaf {
                Some(w) if next_inner == made || w <= weight[next_inner] => {
                    next_leaf += 1;
                    (next_leaf - 1, w)
                }
                _ => {
                    next_inner += 1;
                    (n + next_inner - 1, weight[next_inner - 1])
                }
            }
        };
        let (a, wa) = pick();
        let (b, wb) = pick();
        weight[made] = wa + wb;
        tree[a] = (n + made) as u16;
        tree[b] = (n + made) as u16;
    }
    // Depths, in place of the parents, from the root (the last inner
    // node, depth 0) down: a parent is made after its children, so it
    // comes later and already holds its depth.
    tree[2 * n - 2] = 0;
    for node in (0..2 * n - 2).rev() {
        let parent = usize::from(tree[node]);
        tree[node] = tree[parent] + 1;
    }
    // Codes per length, the deepest folded into `limit`; then, while the
    // lengths over-fill the code (Kraft's sum above one), a code at
    // `limit` goes, and a shorter code splits into two one bit longer:
    // each turn takes one code's share at `limit` off the sum.
    let limit = usize::from(limit);
    let mut count = [0u32; 16];
    for &d in &tree[..n] {
        count[usize::from(d).min(limit)] += 1;
    }
    let mut total: u32 = (1..=limit).map(|l| count[l] << (limit - l)).sum();
    while total > 1 << limit {
        count[limit] -= 1;
        if let Some(l) = (1..limit).rev().find(|&l| count[l] != 0) {
            count[l] -= 1;
            count[l + 1] += 2;
        }
        total -= 1;
    }
    // The least frequent symbols get the longest codes.
    lengths.fill(0);
    let mut next = leaves.iter();
    for len in (1..=limit).rev() {
        for _ in 0..count[len] {
            if let Some(&leaf) = next.next() {
                lengths[(leaf & 0x1ff) as usize] = len as u8;
            }
        }
    }
}

/// The canonical code (RFC 1951 §3.2.2) of `lengths` into `codes`:
/// reversed codes with their lengths, `(0, 0)` for unused symbols.
fn canonical(lengths: &[u8], codes: &mut [(u16, u8)]) {
    let mut count = [0u16; 16];
    for &l in lengths {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for len in 1..16 {
        code = (code + count[len - 1]) << 1;
        next[len] = code;
    }
    for (symbol, &len) in lengths.iter().enumerate() {
        codes[symbol] = if len == 0 {
            (0, 0)
        } else {
            let l = usize::from(len);
            next[l] += 1;
            (reversed(next[l] - 1, len), len)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Decodes what [`Compressor::compress`] writes (stored, fixed-code
    /// and dynamic-code blocks, never a final one) and checks every
    /// distance against the window: an independent reading of RFC 1951,
    /// codes read bit by bit. Returns the block types in order.
    fn decode(stream: &[u8], history: &mut Vec<u8>, window: usize) -> Vec<u32> {
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
            /// The next symbol of `code` (from [`codes_of`]), read a bit
            /// at a time, most significant bit first.
            fn symbol(&mut self, code: &Code) -> usize {
                let mut bits = 0;
                for len in 1..=15u8 {
                    bits = bits << 1 | self.bit();
                    if let Some(&symbol) = code.get(&(len, bits)) {
                        return symbol;
                    }
                }
                panic!("no code");
            }
        }
        type Code = std::collections::HashMap<(u8, u32), usize>;
        /// The canonical code with `lengths` (§3.2.2: codes of each length
        /// counted up from the first code of that length): symbols by
        /// length and code.
        fn codes_of(lengths: &[u8]) -> Code {
            let mut bl_count = [0u32; 16];
            for &l in lengths {
                bl_count[usize::from(l)] += 1;
            }
            bl_count[0] = 0;
            let mut next_code = [0u32; 16];
            let mut code = 0;
            for bits in 1..16 {
                code = (code + bl_count[bits - 1]) << 1;
                next_code[bits] = code;
            }
            let mut codes = Code::new();
            for (symbol, &l) in lengths.iter().enumerate() {
                if l != 0 {
                    codes.insert((l, next_code[usize::from(l)]), symbol);
                    next_code[usize::from(l)] += 1;
                }
            }
            codes
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
        // §3.2.6.
        let fixed_lit: Vec<u8> = (0..288)
            .map(|s| match s {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            })
            .collect();
        let fixed_dist = [5u8; 30];
        let mut types = Vec::new();
        let mut b = Bits { s: stream, at: 0 };
        while b.at < stream.len() * 8 {
            assert_eq!(b.bit(), 0, "BFINAL");
            let block_type = b.bits(2);
            types.push(block_type);
            let (lit, dist) = match block_type {
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
                    continue;
                }
                1 => (codes_of(&fixed_lit), codes_of(&fixed_dist)),
                2 => {
                    // §3.2.7.
                    let hlit = b.bits(5) as usize + 257;
                    let hdist = b.bits(5) as usize + 1;
                    let hclen = b.bits(4) as usize + 4;
                    let order = [
                        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
                    ];
                    let mut cl = [0u8; 19];
                    for &i in &order[..hclen] {
                        cl[i] = b.bits(3) as u8;
                    }
                    let cl = codes_of(&cl);
                    let mut lengths = Vec::new();
                    while lengths.len() < hlit + hdist {
                        match b.symbol(&cl) {
                            l @ 0..=15 => lengths.push(l as u8),
                            16 => {
                                let last = *lengths.last().expect("a length to repeat");
                                for _ in 0..3 + b.bits(2) {
                                    lengths.push(last);
                                }
                            }
                            17 => lengths.extend(std::iter::repeat_n(0, 3 + b.bits(3) as usize)),
                            _ => lengths.extend(std::iter::repeat_n(0, 11 + b.bits(7) as usize)),
                        }
                    }
                    assert_eq!(lengths.len(), hlit + hdist, "a run past the lengths");
                    let dist = lengths.split_off(hlit);
                    (codes_of(&lengths), codes_of(&dist))
                }
                t => panic!("block type {t}"),
            };
            loop {
                let symbol = b.symbol(&lit);
                match symbol {
                    0..=255 => history.push(symbol as u8),
                    256 => break,
                    _ => {
                        let i = symbol - 257;
                        let len = LBASE[i] + b.bits(LEXTRA[i]);
                        let d = b.symbol(&dist);
                        let extra = if d < 4 { 0 } else { (d as u32 - 2) / 2 };
                        let dist = (DBASE[d] + b.bits(extra)) as usize;
                        assert!(dist <= window, "distance {dist} beyond the window {window}");
                        assert!(dist <= history.len(), "distance {dist} before the start");
                        for _ in 0..len {
                            history.push(history[history.len() - dist]);
                        }
                    }
                }
            }
        }
        types
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
            let (s, _, e) = length_symbol(len);
            assert_eq!((s, e), (symbol, extra_len), "length {len}");
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
            let (c, _, e) = distance_symbol(d);
            assert_eq!((c, e), (code, extra_len), "distance {d}");
            assert_eq!(FIXED.dist[c], (reversed(code as u16, 5), 5));
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

    /// `n` pseudo-random bytes (a linear congruential generator from
    /// `seed`): incompressible data.
    fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect()
    }

    #[test]
    fn incompressible_data_goes_stored_within_the_bound() {
        let data = noise(200_000, 1);
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

    /// What [`Compressor::compress`] writes for `data` when every block
    /// has the fixed codes (the path of short calls, taken for any
    /// length): the size blocks with codes of their own must beat.
    fn fixed_only(window_bits: u8, data: &[u8]) -> usize {
        let mut out = vec![0u8; 2 * data.len() + 64];
        let mut bits = BitWriter::new(&mut out);
        Compressor::new(window_bits, 8).write_fixed_block(data, &mut bits);
        bits.finish_with_sync_flush().unwrap()
    }

    #[test]
    fn long_calls_get_blocks_with_codes_of_their_own() {
        for (n, window_bits) in [(2048, 15), (5000, 12), (70_000, 15), (200_000, 9)] {
            let data = sample(n, n as u32);
            let mut c = Compressor::new(window_bits, 8);
            let mut out = vec![0u8; bound(n)];
            let len = c.compress(&data, &mut out);
            let mut history = Vec::new();
            let types = decode(&out[..len], &mut history, 1 << window_bits);
            assert_eq!(history, data);
            // Blocks of at most BLOCK_SYMBOLS symbols, each with its own
            // codes here (they are smaller for this data), then the flush.
            assert!(
                types.len() >= 2 && types[..types.len() - 1].iter().all(|&t| t == 2),
                "{n}: {types:?}"
            );
            assert_eq!(types.last(), Some(&0));
            let fixed = fixed_only(window_bits, &data);
            assert!(
                len * 100 < fixed * 90,
                "{n}: {len} against {fixed} with fixed codes"
            );
        }
        // 16,384 symbols a block: 200,000 bytes of this data make several.
        let data = sample(200_000, 1);
        let mut out = vec![0u8; bound(data.len())];
        let len = Compressor::new(15, 8).compress(&data, &mut out);
        let types = decode(&out[..len], &mut Vec::new(), 1 << 15);
        assert!(types.len() > 3, "{types:?}");
        // Where fixed codes are smaller (100 different bytes, then copies
        // of them: describing codes for 100 literals costs more than it
        // saves), a long call keeps them.
        let data: Vec<u8> = noise(100, 7).into_iter().cycle().take(4096).collect();
        let len = Compressor::new(15, 8).compress(&data, &mut out);
        let types = decode(&out[..len], &mut Vec::new(), 1 << 15);
        assert_eq!(types, [1, 0]);
        assert_eq!(len, fixed_only(15, &data));
    }

    /// Another inflater reads the blocks as this one writes them.
    #[test]
    fn miniz_oxide_inflates_the_blocks() {
        use miniz_oxide::inflate::stream::{InflateState, inflate};
        use miniz_oxide::{DataFormat, MZFlush};
        let mut c = Compressor::new(15, 8);
        let mut state = InflateState::new_boxed(DataFormat::Raw);
        for (i, n) in [3000usize, 70_000, 10, 40_000].into_iter().enumerate() {
            let data = sample(n, 31 * i as u32 + 5);
            let mut out = vec![0u8; bound(n)];
            let len = c.compress(&data, &mut out);
            let mut inflated = vec![0u8; n + 1];
            let r = inflate(&mut state, &out[..len], &mut inflated, MZFlush::Sync);
            assert_eq!(r.bytes_consumed, len, "{n}: {:?}", r.status);
            assert_eq!(&inflated[..r.bytes_written], &data[..], "{n}");
        }
    }

    /// Every code `code_lengths` makes is complete (Kraft's sum is one:
    /// no code left unused) and within its limit, gives every used symbol
    /// a code, and where the limit does not bind costs what Huffman's
    /// optimum costs.
    #[test]
    fn code_lengths_are_complete_limited_and_optimal() {
        fn optimum(freq: &[u32]) -> u64 {
            // A lone symbol still takes a bit.
            if freq.iter().filter(|&&f| f > 0).count() < 2 {
                return freq.iter().map(|&f| u64::from(f)).sum();
            }
            let mut heap: std::collections::BinaryHeap<core::cmp::Reverse<u64>> = freq
                .iter()
                .filter(|&&f| f > 0)
                .map(|&f| core::cmp::Reverse(u64::from(f)))
                .collect();
            let mut cost = 0;
            while heap.len() > 1 {
                let a = heap.pop().unwrap().0;
                let b = heap.pop().unwrap().0;
                cost += a + b;
                heap.push(core::cmp::Reverse(a + b));
            }
            cost
        }
        let mut x = 0x1234_5678u32;
        let mut cases: Vec<(Vec<u32>, u8)> = Vec::new();
        // Fibonacci frequencies: an unlimited code would be 29 deep.
        let mut fib = vec![1u32, 1];
        while fib.len() < 30 {
            fib.push(fib[fib.len() - 1] + fib[fib.len() - 2]);
        }
        cases.push((fib.clone(), 15));
        cases.push((fib[..19].to_vec(), 7));
        cases.push((vec![0; 30], 15));
        cases.push(((0..30).map(|i| u32::from(i == 7)).collect(), 15));
        cases.push(((0..19).map(|i| u32::from(i == 18) * 9).collect(), 7));
        for round in 0..300 {
            let (len, limit) = if round % 2 == 0 { (286, 15) } else { (19, 7) };
            let used = 1 + round % len;
            let f: Vec<u32> = (0..len)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    if i < used { x % (1 << (round % 16)) } else { 0 }
                })
                .collect();
            cases.push((f, limit));
        }
        for (freq, limit) in cases {
            let mut lengths = vec![0u8; freq.len()];
            code_lengths(&freq, limit, &mut lengths);
            let kraft: u64 = lengths
                .iter()
                .filter(|&&l| l > 0)
                .map(|&l| 1u64 << (15 - l))
                .sum();
            assert_eq!(kraft, 1 << 15, "{freq:?} -> {lengths:?}");
            assert!(lengths.iter().all(|&l| l <= limit), "{lengths:?}");
            assert!(freq.iter().zip(&lengths).all(|(&f, &l)| f == 0 || l > 0));
            let cost: u64 = freq
                .iter()
                .zip(&lengths)
                .map(|(&f, &l)| u64::from(f) * u64::from(l))
                .sum();
            let best = optimum(&freq);
            assert!(cost >= best);
            if lengths.iter().all(|&l| l < limit) {
                assert_eq!(cost, best, "{freq:?} -> {lengths:?}");
            }
        }
    }

    /// The run-length coding of code lengths gives back the lengths, with
    /// each repeat symbol inside its range.
    #[test]
    fn run_lengths_give_back_the_lengths() {
        let mut x = 99u32;
        for round in 0..2000 {
            let n = 258 + round % 58;
            let mut lengths = Vec::new();
            while lengths.len() < n {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let len = if x % 3 == 0 { 0 } else { (x >> 8) as u8 % 16 };
                let run = 1 + (x >> 16) as usize % [2, 8, 20, 160][round % 4];
                lengths.extend(std::iter::repeat_n(len, run.min(n - lengths.len())));
            }
            let mut runs = [(0, 0); LIT_SYMBOLS + DIST_SYMBOLS];
            let count = run_lengths(&lengths, &mut runs);
            let mut back: Vec<u8> = Vec::new();
            for &(symbol, extra) in &runs[..count] {
                match symbol {
                    0..=15 => {
                        assert_eq!(extra, 0);
                        back.push(symbol);
                    }
                    16 => {
                        assert!(extra <= 3);
                        let last = *back.last().unwrap();
                        back.extend(std::iter::repeat_n(last, 3 + usize::from(extra)));
                    }
                    17 => {
                        assert!(extra <= 7);
                        back.extend(std::iter::repeat_n(0, 3 + usize::from(extra)));
                    }
                    _ => {
                        assert!(extra <= 127);
                        back.extend(std::iter::repeat_n(0, 11 + usize::from(extra)));
                    }
                }
            }
            assert_eq!(back, lengths);
        }
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
