//! The inflater for the peer's compressed messages (RFC 1951 DEFLATE,
//! raw, as permessage-deflate carries it; RFC 7692 §7.2.2), feature
//! `deflate`: written here so that the work per input byte is bounded
//! whatever the blocks (the library used before rebuilt its fixed-code
//! tables for every block: a stream of empty blocks cost 1.7 µs of CPU a
//! byte and produced nothing), the peer's window is enforced, and the
//! state is allocated on the heap without passing through the stack.
//!
//! Work: every block header and code is read once; a dynamic block's
//! tables cost at most about 1,600 table writes, against the 50-odd bits
//! its header takes at least; the fixed codes' tables are built at
//! compile time. Output is bounded by the caller's buffer.
//!
//! Resumable anywhere: input may end in the middle of any code (the bits
//! read so far wait in a 64-bit buffer: one step needs at most 48) and
//! output may fill in the middle of a match (the rest is copied at the
//! next call).

use alloc::boxed::Box;
use alloc::vec;

/// Bits looked up at once; longer codes are read bit by bit from there.
const FAST_BITS: u32 = 9;
const FAST_SIZE: usize = 1 << FAST_BITS;
const FAST_MASK: u64 = FAST_SIZE as u64 - 1;
/// Output room [`Inflater::codes_fast`] needs: the longest match and the
/// 8-byte pieces it is copied in.
const FAST_ROOM: usize = 258 + 8;

/// Lengths of the literal/length symbols 257..=285 (RFC 1951 §3.2.5).
const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distances of the distance symbols 0..=29 (RFC 1951 §3.2.5).
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order the code length code's lengths come in (RFC 1951 §3.2.7).
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Why the input is not DEFLATE (each is `InflateFailed` for the peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// Block type 3, a stored block's length not matching its
    /// complement, too many symbols, a code length repeat with nothing to
    /// repeat or past the end, no end-of-block code.
    BadHeader,
    /// An over-subscribed code, or an incomplete one (zlib's rule: only a
    /// single code of one bit may leave codes unused).
    BadCode,
    /// A code that the block's code does not have, a length or distance
    /// symbol outside the tables.
    BadSymbol,
    /// A distance farther back than the window or the output so far.
    TooFarBack,
}

/// A canonical Huffman code (RFC 1951 §3.2.2): the symbols by code, how
/// many codes of each length, and a table for the first [`FAST_BITS`]
/// bits as they are read (the code's first bit lowest).
#[derive(Clone)]
struct Code<const N: usize> {
    /// Codes of each length 1..=15 (`count[0]` unused).
    count: [u16; 16],
    /// The symbols in code order (by length, then by symbol).
    symbol: [u16; N],
    /// `length << 9 | symbol` for every code of at most [`FAST_BITS`]
    /// bits, at each index whose low bits are that code; 0 elsewhere.
    fast: [u16; FAST_SIZE],
    /// Where [`Self::decode_long`] starts, past the lengths the table
    /// covers: the first code of `FAST_BITS + 1` bits, and the index in
    /// `symbol` of its symbol.
    long_first: u16,
    long_index: u16,
}

/// What a code's next symbol is, from the bits at hand.
enum Decoded {
    /// The symbol and its code's length.
    Symbol(u16, u32),
    /// More bits are needed to tell.
    NeedBits,
    /// No code of this code starts with these bits.
    Invalid,
}

impl<const N: usize> Code<N> {
    const EMPTY: Self = Code {
        count: [0; 16],
        symbol: [0; N],
        fast: [0; FAST_SIZE],
        long_first: 0,
        long_index: 0,
    };

    /// The code whose symbol `s` has length `lengths[s]` (0: none), built
    /// at compile time for the fixed codes.
    const fn build(lengths: &[u8]) -> Result<Self, InflateError> {
        let mut code = Self::EMPTY;
        match code.rebuild(lengths) {
            Ok(()) => Ok(code),
            Err(e) => Err(e),
        }
    }

    /// Makes this the code whose symbol `s` has length `lengths[s]` (0:
    /// none), in place (a dynamic block's codes: no copy of the tables).
    /// Over-subscribed or (beyond a single one-bit code) incomplete codes
    /// are refused; an empty code (no symbol) is allowed.
    const fn rebuild(&mut self, lengths: &[u8]) -> Result<(), InflateError> {
        let code = self;
        code.count = [0; 16];
        code.fast = [0; FAST_SIZE];
        let mut i = 0;
        while i < lengths.len() {
            code.count[lengths[i] as usize] += 1;
            i += 1;
        }
        code.count[0] = 0;
        // Kraft: codes left unused at each length.
        let mut left: i32 = 1;
        let mut max = 0;
        let mut len = 1;
        while len < 16 {
            left = (left << 1) - code.count[len] as i32;
            if left < 0 {
                return Err(InflateError::BadCode);
            }
            if code.count[len] != 0 {
                max = len;
            }
            len += 1;
        }
        // Incomplete: allowed for no code at all, and for a single code of
        // one bit (zlib's rule; a distance code with one distance).
        if left > 0 && max > 1 {
            return Err(InflateError::BadCode);
        }
        let mut offset = [0u16; 16];
        let mut len = 1;
        while len < 15 {
            offset[len + 1] = offset[len] + code.count[len];
            len += 1;
        }
        let mut s = 0;
        while s < lengths.len() {
            let l = lengths[s] as usize;
            if l != 0 {
                code.symbol[offset[l] as usize] = s as u16;
                offset[l] += 1;
            }
            s += 1;
        }
        // Canonical codes of each length follow the shorter ones (§3.2.2):
        // the first code and the first symbol past the table's lengths.
        let (mut first, mut index) = (0u16, 0u16);
        let mut len = 1;
        while len <= FAST_BITS as usize {
            first = (first + code.count[len]) << 1;
            index += code.count[len];
            len += 1;
        }
        code.long_first = first;
        code.long_index = index;
        // The fast table: each code of at most FAST_BITS bits, reversed
        // (its first bit is read first, and lands lowest), at every index
        // it starts.
        let mut next: u32 = 0;
        let mut index = 0;
        let mut len = 1;
        while len <= FAST_BITS as usize {
            let mut k = 0;
            while k < code.count[len] {
                let entry = ((len as u16) << 9) | code.symbol[index];
                let mut at = reverse(next, len as u32) as usize;
                while at < FAST_SIZE {
                    code.fast[at] = entry;
                    at += 1 << len;
                }
                next += 1;
                index += 1;
                k += 1;
            }
            next <<= 1;
            len += 1;
        }
        Ok(())
    }

    /// Every code of up to 15 bits is used (Kraft's sum is one).
    fn is_complete(&self) -> bool {
        let mut sum = 0u32;
        for len in 1..16 {
            sum += u32::from(self.count[len]) << (15 - len);
        }
        sum == 1 << 15
    }

    /// The symbol the low bits of `bits` start with (`available` of them
    /// are real; the ones above are zero).
    #[inline(always)]
    fn decode(&self, bits: u64, available: u32) -> Decoded {
        let entry = self.fast[(bits & FAST_MASK) as usize];
        if entry != 0 {
            let len = u32::from(entry >> 9);
            return match len <= available {
                true => Decoded::Symbol(entry & 0x1ff, len),
                false => Decoded::NeedBits,
            };
        }
        self.decode_long(bits, available)
    }

    /// [`Self::decode`] with at least 15 bits at hand, so that a code is
    /// always whole: the symbol and its code's length, or `None` for bits
    /// no code starts with.
    #[inline(always)]
    fn decode_whole(&self, bits: u64, available: u32) -> Option<(u16, u32)> {
        match self.fast[(bits & FAST_MASK) as usize] {
            0 => match self.decode_long(bits, available) {
                Decoded::Symbol(symbol, len) => Some((symbol, len)),
                Decoded::NeedBits | Decoded::Invalid => None,
            },
            entry => Some((entry & 0x1ff, u32::from(entry >> 9))),
        }
    }

    /// [`Self::decode`] for codes longer than the table (or none): one bit
    /// at a time from `FAST_BITS + 1` bits on (the table had no code of
    /// fewer for these bits), counting the codes of each length (RFC 1951
    /// §3.2.2's canonical order). Reading from the first bit again, as it
    /// did, made each 10- to 15-bit code cost as much as ten short ones.
    #[inline(never)]
    fn decode_long(&self, bits: u64, available: u32) -> Decoded {
        let (mut first, mut index) = (i32::from(self.long_first), i32::from(self.long_index));
        // The table's bits as a code, first bit highest, one place up.
        let table_bits = (bits & FAST_MASK) as u16;
        let mut code = i32::from(table_bits.reverse_bits() >> (16 - FAST_BITS)) << 1;
        let mut len = FAST_BITS + 1;
        while len <= 15 {
            if len > available {
                return Decoded::NeedBits;
            }
            code |= ((bits >> (len - 1)) & 1) as i32;
            let count = i32::from(self.count[len as usize]);
            // Below `first` cannot happen for a code `rebuild` accepted
            // (a shorter code would have matched); compared unsigned, it
            // would read as no code of this length.
            if ((code - first) as u32) < count as u32 {
                let symbol = self.symbol[(index + code - first) as usize];
                return Decoded::Symbol(symbol, len);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
            len += 1;
        }
        Decoded::Invalid
    }
}

/// The first 8 bytes of `bytes` (which has them: the callers check), as
/// one load: a fixed-size copy, where `copy_from_slice` of a computed
/// range called `memcpy` for each 8 bytes.
#[inline(always)]
fn eight(bytes: &[u8]) -> [u8; 8] {
    let mut piece = [0; 8];
    if let Some(first) = bytes.first_chunk::<8>() {
        piece = *first;
    }
    piece
}

/// The low `len` bits of `code`, in reverse order.
const fn reverse(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

/// The fixed literal/length code (RFC 1951 §3.2.6).
static FIXED_LITERALS: Code<288> = {
    let mut lengths = [0u8; 288];
    let mut s = 0;
    while s < 288 {
        lengths[s] = match s {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
        s += 1;
    }
    match Code::build(&lengths) {
        Ok(code) => code,
        Err(_) => panic!("the fixed code is complete"),
    }
};

/// The fixed distance code: 32 codes of 5 bits (30 and 31 unused).
static FIXED_DISTANCES: Code<32> = match Code::build(&[5; 32]) {
    Ok(code) => code,
    Err(_) => panic!("the fixed code is complete"),
};

/// Where in the stream the inflater is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a block's 3-bit header.
    BlockHeader,
    /// A stored block: its length and complement next.
    StoredLength,
    /// Inside a stored block, this many bytes left.
    Stored(u16),
    /// A dynamic block: the numbers of codes next.
    DynamicCounts,
    /// Reading the code length code's lengths: this many read.
    CodeLengthLengths(u8),
    /// Reading the literal/length and distance codes' lengths: this many
    /// read.
    Lengths(u16),
    /// Inside a block's codes (fixed or dynamic).
    Codes,
}

/// The peer's stream: window, bit buffer, block state and codes. Boxed
/// (about 4.2 KiB plus the window).
#[derive(Clone)]
pub(crate) struct Inflater {
    /// The last bytes handed out, `window.len()` (2^bits) at most: what
    /// distances reach back into.
    window: Box<[u8]>,
    /// Where the next byte goes in `window`.
    window_at: usize,
    /// How many bytes of `window` are history.
    window_filled: usize,
    /// Bits read from the input and not used yet (the next lowest).
    bits: u64,
    bit_count: u32,
    state: State,
    /// The current block has BFINAL set.
    final_block: bool,
    /// The last block was final, and nothing has been read after it.
    after_final: bool,
    /// The current block uses the fixed codes.
    fixed: bool,
    /// A match not yet copied out (the caller's buffer filled): bytes
    /// left, distance.
    copy_left: u16,
    copy_distance: u16,
    /// The dynamic block being read: its counts of codes.
    literal_count: u16,
    distance_count: u8,
    code_length_count: u8,
    /// Code lengths read so far (code length code first, then the
    /// literal/length and distance codes).
    lengths: [u8; 320],
    code_lengths: Code<19>,
    literals: Code<288>,
    distances: Code<32>,
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater")
            .field("window", &self.window.len())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What one call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Input bytes read (all of them unless `out` filled first).
    pub(crate) consumed: usize,
    /// Bytes written to `out`.
    pub(crate) written: usize,
}

impl Inflater {
    /// An inflater whose peer compresses with a window of `window_bits`
    /// (8 to 15; 8 is taken as 9, which zlib uses when asked for 8).
    pub(crate) fn new_boxed(window_bits: u8) -> Box<Self> {
        let bits = window_bits.clamp(9, 15);
        Box::new(Inflater {
            window: vec![0u8; 1 << bits].into_boxed_slice(),
            window_at: 0,
            window_filled: 0,
            bits: 0,
            bit_count: 0,
            state: State::BlockHeader,
            final_block: false,
            after_final: false,
            fixed: false,
            copy_left: 0,
            copy_distance: 0,
            literal_count: 0,
            distance_count: 0,
            code_length_count: 0,
            lengths: [0; 320],
            code_lengths: Code::EMPTY,
            literals: Code::EMPTY,
            distances: Code::EMPTY,
        })
    }

    /// Forgets the history (the peer resets its compressor after every
    /// message: `*_no_context_takeover`), so that a distance into an
    /// earlier message is refused.
    pub(crate) fn forget_history(&mut self) {
        self.window_filled = 0;
    }

    /// Nothing is half read: the next bit would start a block, and no
    /// match waits to be copied.
    pub(crate) fn at_block_boundary(&self) -> bool {
        self.state == State::BlockHeader && self.bit_count == 0 && self.copy_left == 0
    }

    /// The stream so far ends exactly where a final block ended (its
    /// padding dropped): nothing is half read.
    pub(crate) fn after_final_block(&self) -> bool {
        self.after_final && self.bit_count == 0
    }

    /// Takes bytes of `input` into the bit buffer until it holds at least
    /// `want` bits (at most 48) or the input is used up; `false` then.
    #[inline(always)]
    fn fill(&mut self, input: &[u8], at: &mut usize, want: u32) -> bool {
        while self.bit_count < want {
            let Some(&byte) = input.get(*at) else {
                return false;
            };
            self.bits |= u64::from(byte) << self.bit_count;
            self.bit_count += 8;
            *at += 1;
        }
        true
    }

    /// Fills the bit buffer to 56 bits or more (63 at most), unless the
    /// input ends.
    #[inline(always)]
    fn fill_all(&mut self, input: &[u8], at: &mut usize) {
        while self.bit_count < 56 {
            let Some(&byte) = input.get(*at) else {
                return;
            };
            self.bits |= u64::from(byte) << self.bit_count;
            self.bit_count += 8;
            *at += 1;
        }
    }

    #[inline(always)]
    fn drop_bits(&mut self, n: u32) {
        self.bits >>= n;
        self.bit_count -= n;
    }

    /// Inflates `input` into `out`: stops when the input is used up (the
    /// bits of a code cut short wait for the next call) or `out` is full.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<Progress, InflateError> {
        let mut at = 0;
        let mut written = 0;
        let result = self.run(input, &mut at, out, &mut written);
        self.remember(&out[..written]);
        result.map(|()| Progress {
            consumed: at,
            written,
        })
    }

    /// Keeps the last bytes handed out as the window.
    fn remember(&mut self, output: &[u8]) {
        let size = self.window.len();
        let output = &output[output.len().saturating_sub(size)..];
        let first = output.len().min(size - self.window_at);
        self.window[self.window_at..self.window_at + first].copy_from_slice(&output[..first]);
        let rest = &output[first..];
        self.window[..rest.len()].copy_from_slice(rest);
        self.window_at = (self.window_at + output.len()) % size;
        self.window_filled = (self.window_filled + output.len()).min(size);
    }

    fn run(
        &mut self,
        input: &[u8],
        at: &mut usize,
        out: &mut [u8],
        written: &mut usize,
    ) -> Result<(), InflateError> {
        loop {
            match self.state {
                State::BlockHeader => {
                    if !self.fill(input, at, 3) {
                        return Ok(());
                    }
                    self.after_final = false;
                    self.final_block = self.bits & 1 == 1;
                    let kind = (self.bits >> 1) & 3;
                    self.drop_bits(3);
                    self.state = match kind {
                        0 => {
                            // To the byte boundary.
                            self.drop_bits(self.bit_count % 8);
                            State::StoredLength
                        }
                        1 => {
                            self.fixed = true;
                            State::Codes
                        }
                        2 => State::DynamicCounts,
                        _ => return Err(InflateError::BadHeader),
                    };
                }
                State::StoredLength => {
                    if !self.fill(input, at, 32) {
                        return Ok(());
                    }
                    let len = self.bits as u16;
                    let complement = (self.bits >> 16) as u16;
                    if len != !complement {
                        return Err(InflateError::BadHeader);
                    }
                    self.drop_bits(32);
                    self.state = State::Stored(len);
                }
                State::Stored(left) => {
                    if left == 0 {
                        self.end_block();
                        continue;
                    }
                    if *written == out.len() {
                        return Ok(());
                    }
                    // Whole bytes already in the bit buffer first.
                    if self.bit_count >= 8 {
                        out[*written] = self.bits as u8;
                        *written += 1;
                        self.drop_bits(8);
                        self.state = State::Stored(left - 1);
                        continue;
                    }
                    let n = usize::from(left)
                        .min(out.len() - *written)
                        .min(input.len() - *at);
                    if n == 0 {
                        return Ok(());
                    }
                    out[*written..*written + n].copy_from_slice(&input[*at..*at + n]);
                    *written += n;
                    *at += n;
                    self.state = State::Stored(left - n as u16);
                }
                State::DynamicCounts => {
                    if !self.fill(input, at, 14) {
                        return Ok(());
                    }
                    self.literal_count = 257 + (self.bits & 0x1f) as u16;
                    self.distance_count = 1 + ((self.bits >> 5) & 0x1f) as u8;
                    self.code_length_count = 4 + ((self.bits >> 10) & 0xf) as u8;
                    self.drop_bits(14);
                    if self.literal_count > 286 || self.distance_count > 30 {
                        return Err(InflateError::BadHeader);
                    }
                    self.lengths[..19].fill(0);
                    self.state = State::CodeLengthLengths(0);
                }
                State::CodeLengthLengths(read) => {
                    if read == self.code_length_count {
                        #[cfg(test)]
                        tests::count_build(1);
                        self.code_lengths.rebuild(&self.lengths[..19])?;
                        // The code length code must be complete (zlib).
                        if !self.code_lengths.is_complete() {
                            return Err(InflateError::BadCode);
                        }
                        self.state = State::Lengths(0);
                        continue;
                    }
                    if !self.fill(input, at, 3) {
                        return Ok(());
                    }
                    self.lengths[CODE_LENGTH_ORDER[usize::from(read)]] = (self.bits & 7) as u8;
                    self.drop_bits(3);
                    self.state = State::CodeLengthLengths(read + 1);
                }
                State::Lengths(read) => {
                    self.read_lengths(input, at, read)?;
                    if self.state != State::Codes {
                        return Ok(());
                    }
                }
                State::Codes => {
                    if self.copy_left > 0 && !self.copy_match(out, written) {
                        return Ok(());
                    }
                    if !self.codes(input, at, out, written)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// A block ended: the next header follows (after a final block, at
    /// the next byte: RFC 7692 §7.2.3.4 lets a message go on with a new
    /// stream, the window kept).
    fn end_block(&mut self) {
        self.state = State::BlockHeader;
        if self.final_block {
            self.drop_bits(self.bit_count % 8);
            self.after_final = true;
        }
    }

    /// Reads the code lengths of a dynamic block from `read` on; builds
    /// its codes once all are in (state `Codes`), else leaves the state
    /// where the input ran out.
    fn read_lengths(
        &mut self,
        input: &[u8],
        at: &mut usize,
        mut read: u16,
    ) -> Result<(), InflateError> {
        let total = self.literal_count + u16::from(self.distance_count);
        while read < total {
            // A code length symbol (7 bits at most) and its extra bits (7
            // at most), taken together or not at all.
            self.fill_all(input, at);
            let (symbol, len) = match self.code_lengths.decode(self.bits, self.bit_count) {
                Decoded::Symbol(s, l) => (s, l),
                Decoded::NeedBits => {
                    self.state = State::Lengths(read);
                    return Ok(());
                }
                Decoded::Invalid => return Err(InflateError::BadSymbol),
            };
            let (extra, base) = match symbol {
                16 => (2, 3),
                17 => (3, 3),
                18 => (7, 11),
                _ => (0, 0),
            };
            if len + extra > self.bit_count {
                self.state = State::Lengths(read);
                return Ok(());
            }
            let repeat = base + ((self.bits >> len) & ((1 << extra) - 1)) as u16;
            self.drop_bits(len + extra);
            let at_ = usize::from(read);
            let value = match symbol {
                0..=15 => {
                    self.lengths[at_] = symbol as u8;
                    read += 1;
                    continue;
                }
                16 if read == 0 => return Err(InflateError::BadHeader),
                16 => self.lengths[at_ - 1],
                _ => 0,
            };
            if read + repeat > total {
                return Err(InflateError::BadHeader);
            }
            self.lengths[at_..at_ + usize::from(repeat)].fill(value);
            read += repeat;
        }
        let literals = usize::from(self.literal_count);
        if self.lengths[256] == 0 {
            // No end-of-block code: the block could not end.
            return Err(InflateError::BadHeader);
        }
        #[cfg(test)]
        tests::count_build(2);
        self.literals.rebuild(&self.lengths[..literals])?;
        self.distances
            .rebuild(&self.lengths[literals..usize::from(total)])?;
        self.fixed = false;
        self.state = State::Codes;
        Ok(())
    }

    /// Copies what fits of the pending match; `true` when it is all out.
    fn copy_match(&mut self, out: &mut [u8], written: &mut usize) -> bool {
        let room = out.len() - *written;
        let n = usize::from(self.copy_left).min(room);
        self.copy(out, written, usize::from(self.copy_distance), n);
        self.copy_left -= n as u16;
        self.copy_left == 0
    }

    /// Appends `len` bytes from `distance` back (checked by the caller).
    #[inline(always)]
    fn copy(&self, out: &mut [u8], written: &mut usize, distance: usize, len: usize) {
        let w = *written;
        if distance <= w {
            let from = w - distance;
            if distance >= len {
                out.copy_within(from..from + len, w);
            } else if distance == 1 {
                let byte = out[from];
                out[w..w + len].fill(byte);
            } else {
                // Overlapping: the bytes just written repeat.
                for i in 0..len {
                    out[w + i] = out[from + i];
                }
            }
        } else {
            // Starts in the window (before this call's output), in at most
            // two pieces (it is a ring), then goes on in this call's
            // output if longer than the distance into the window.
            let size = self.window.len();
            let back = distance - w;
            let from_window = back.min(len);
            let start = (self.window_at + size - back) & (size - 1);
            let first = from_window.min(size - start);
            out[w..w + first].copy_from_slice(&self.window[start..start + first]);
            out[w + first..w + from_window].copy_from_slice(&self.window[..from_window - first]);
            for i in from_window..len {
                out[w + i] = out[i - back];
            }
        }
        *written = w + len;
    }

    /// The common case of [`Self::codes`], while at least 16 input bytes
    /// and [`FAST_ROOM`] bytes of room remain: the bit buffer refilled 8
    /// bytes at a time when a step may need more than it holds, no room
    /// check per symbol, matches copied 8 bytes at a time. `true` when the block
    /// ended; otherwise [`Self::codes`] goes on one step at a time.
    #[inline(always)]
    fn codes_fast(
        &mut self,
        input: &[u8],
        at: &mut usize,
        out: &mut [u8],
        written: &mut usize,
    ) -> Result<bool, InflateError> {
        let this: &Self = self;
        let (literals, distances) = match this.fixed {
            true => (&FIXED_LITERALS, &FIXED_DISTANCES),
            false => (&this.literals, &this.distances),
        };
        let (mut bits, mut count, mut pos, mut w) = (this.bits, this.bit_count, *at, *written);
        let reach = this.window.len();
        // Refills the bit buffer to 56 bits or more from 8 input bytes
        // (the caller checked there are 8). The bits above `count` are the
        // input's next bits, whole bytes counted in `pos` only (masked off
        // on the way out).
        let refill = |bits: &mut u64, count: &mut u32, pos: &mut usize| {
            *bits |= u64::from_le_bytes(eight(&input[*pos..])) << *count;
            *pos += ((63 - *count) >> 3) as usize;
            *count |= 56;
        };
        let result = loop {
            // Room for two refills: one before the symbol, one inside a
            // match (which cannot stop half-read).
            if pos + 16 > input.len() || out.len() - w < FAST_ROOM {
                break Ok(false);
            }
            // A literal/length code: 15 bits at most.
            if count < 15 {
                refill(&mut bits, &mut count, &mut pos);
            }
            let Some((symbol, len)) = literals.decode_whole(bits, count) else {
                break Err(InflateError::BadSymbol);
            };
            bits >>= len;
            count -= len;
            if symbol < 256 {
                out[w] = symbol as u8;
                w += 1;
                continue;
            }
            if symbol == 256 {
                break Ok(true);
            }
            let index = usize::from(symbol - 257);
            if index >= LENGTH_BASE.len() {
                break Err(InflateError::BadSymbol);
            }
            // Length extra bits, distance code and its extra bits: 33 at
            // most.
            if count < 33 {
                refill(&mut bits, &mut count, &mut pos);
            }
            let extra = u32::from(LENGTH_EXTRA[index]);
            let length = usize::from(LENGTH_BASE[index]) + (bits & ((1 << extra) - 1)) as usize;
            bits >>= extra;
            count -= extra;
            let Some((symbol, len)) = distances.decode_whole(bits, count) else {
                break Err(InflateError::BadSymbol);
            };
            bits >>= len;
            count -= len;
            let index = usize::from(symbol);
            if index >= DIST_BASE.len() {
                break Err(InflateError::BadSymbol);
            }
            let extra = u32::from(DIST_EXTRA[index]);
            let distance = usize::from(DIST_BASE[index]) + (bits & ((1 << extra) - 1)) as usize;
            bits >>= extra;
            count -= extra;
            if distance > reach || distance > this.window_filled + w {
                break Err(InflateError::TooFarBack);
            }
            if distance > w {
                this.copy(out, &mut w, distance, length);
            } else if distance >= 8 {
                // Each 8-byte piece reads bytes already final (at least 8
                // back); the last may write past the match, into room that
                // later output overwrites.
                let from = w - distance;
                let mut i = 0;
                while i < length {
                    let piece = eight(&out[from + i..]);
                    out[w + i..w + i + 8].copy_from_slice(&piece);
                    i += 8;
                }
                w += length;
            } else if distance == 1 {
                let byte = out[w - 1];
                out[w..w + length].fill(byte);
                w += length;
            } else {
                // Closer than 8: the match repeats the last `distance`
                // bytes, so it also repeats with any multiple of that
                // period; one of at least 8 lets it go in 8-byte pieces
                // after its first few bytes.
                let step = distance * 8usize.div_ceil(distance);
                let from = w - distance;
                let head = (step - distance).min(length);
                for i in 0..head {
                    out[w + i] = out[from + i];
                }
                let mut i = head;
                while i < length {
                    let piece = eight(&out[w + i - step..]);
                    out[w + i..w + i + 8].copy_from_slice(&piece);
                    i += 8;
                }
                w += length;
            }
        };
        self.bits = bits & ((1 << count) - 1);
        self.bit_count = count;
        *at = pos;
        *written = w;
        if let Ok(true) = result {
            self.end_block();
        }
        result
    }

    /// Decodes literals and matches until the block ends (`true`: the
    /// state has moved on), the input runs out or `out` fills (`false`).
    fn codes(
        &mut self,
        input: &[u8],
        at: &mut usize,
        out: &mut [u8],
        written: &mut usize,
    ) -> Result<bool, InflateError> {
        if self.codes_fast(input, at, out, written)? {
            return Ok(true);
        }
        let window = self.window.len();
        loop {
            self.fill_all(input, at);
            let (literals, distances) = match self.fixed {
                true => (&FIXED_LITERALS, &FIXED_DISTANCES),
                false => (&self.literals, &self.distances),
            };
            let (symbol, len) = match literals.decode(self.bits, self.bit_count) {
                Decoded::Symbol(s, l) => (s, l),
                Decoded::NeedBits => return Ok(false),
                Decoded::Invalid => return Err(InflateError::BadSymbol),
            };
            if symbol < 256 {
                if *written == out.len() {
                    return Ok(false);
                }
                out[*written] = symbol as u8;
                *written += 1;
                self.drop_bits(len);
                continue;
            }
            if symbol == 256 {
                self.drop_bits(len);
                self.end_block();
                return Ok(true);
            }
            let index = usize::from(symbol - 257);
            if index >= LENGTH_BASE.len() {
                return Err(InflateError::BadSymbol);
            }
            // Length, its extra bits, distance, its extra bits: 48 bits at
            // most, taken together or not at all.
            let extra = u32::from(LENGTH_EXTRA[index]);
            let mut used = len + extra;
            if used > self.bit_count {
                return Ok(false);
            }
            let length = LENGTH_BASE[index] + ((self.bits >> len) & ((1 << extra) - 1)) as u16;
            let (symbol, len) = match distances.decode(self.bits >> used, self.bit_count - used) {
                Decoded::Symbol(s, l) => (s, l),
                Decoded::NeedBits => return Ok(false),
                Decoded::Invalid => return Err(InflateError::BadSymbol),
            };
            let index = usize::from(symbol);
            if index >= DIST_BASE.len() {
                return Err(InflateError::BadSymbol);
            }
            let extra = u32::from(DIST_EXTRA[index]);
            if used + len + extra > self.bit_count {
                return Ok(false);
            }
            let distance = usize::from(DIST_BASE[index])
                + ((self.bits >> (used + len)) & ((1 << extra) - 1)) as usize;
            used += len + extra;
            if distance > window || distance > self.window_filled + *written {
                return Err(InflateError::TooFarBack);
            }
            self.drop_bits(used);
            let n = usize::from(length).min(out.len() - *written);
            self.copy(out, written, distance, n);
            if n < usize::from(length) {
                self.copy_left = length - n as u16;
                self.copy_distance = distance as u16;
                return Ok(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use core::cell::Cell;
    use proptest::prelude::*;

    std::thread_local! {
        static BUILDS: Cell<usize> = const { Cell::new(0) };
    }

    /// Counts run-time code builds (each about 1,100 table writes at most).
    pub(super) fn count_build(n: usize) {
        BUILDS.with(|b| b.set(b.get() + n));
    }

    fn builds() -> usize {
        BUILDS.with(|b| b.replace(0))
    }

    /// Inflates `input` fed in pieces cut at `cuts` into `out_size` sized
    /// outputs; the bytes, or the first error.
    fn inflate_all(
        inflater: &mut Inflater,
        input: &[u8],
        cuts: &[usize],
        out_size: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut got = Vec::new();
        let mut out = vec![0u8; out_size];
        let mut from = 0;
        for &to in cuts.iter().chain([&input.len()]) {
            let to = to.clamp(from, input.len());
            let mut piece = &input[from..to];
            loop {
                let p = inflater.inflate(piece, &mut out)?;
                got.extend_from_slice(&out[..p.written]);
                piece = &piece[p.consumed..];
                if p.consumed + p.written == 0 {
                    break;
                }
            }
            assert!(piece.is_empty(), "input left while output had room");
            from = to;
        }
        Ok(got)
    }

    fn message(inflater: &mut Inflater, compressed: &[u8]) -> Result<Vec<u8>, InflateError> {
        let mut input = compressed.to_vec();
        input.extend_from_slice(&super::super::deflate::TAIL);
        inflate_all(inflater, &input, &[], 4096)
    }

    /// Codes of every length from 1 to 15 bits (one symbol each, two of
    /// 15), each decoded from its bits as the stream holds them, with all
    /// of them at hand and with one bit too few: the table's lengths and
    /// the longer ones `decode_long` reads.
    #[test]
    fn codes_of_every_length_decode() {
        let mut lengths = [0u8; 16];
        for (s, l) in lengths.iter_mut().enumerate() {
            *l = (s + 1).min(15) as u8;
        }
        let code = Code::<16>::build(&lengths).expect("a complete code");
        // §3.2.2 again, independently: the canonical code of each symbol.
        let mut next = 0u32;
        for (symbol, &len) in lengths.iter().enumerate() {
            let len = u32::from(len);
            if symbol > 0 && len > u32::from(lengths[symbol - 1]) {
                next <<= 1;
            }
            // The stream holds a code first bit first, from the lowest bit.
            let stream = u64::from(reverse(next, len));
            for noise in [0u64, !0] {
                let bits = stream | noise << len;
                match code.decode(bits & ((1 << 20) - 1), 20) {
                    Decoded::Symbol(s, l) => assert_eq!((s, l), (symbol as u16, len)),
                    _ => panic!("symbol {symbol} not decoded"),
                }
                let short = bits & ((1 << (len - 1)) - 1);
                assert!(
                    matches!(code.decode(short, len - 1), Decoded::NeedBits),
                    "symbol {symbol} with {} bits",
                    len - 1
                );
            }
            next += 1;
        }
        // An incomplete code (one of one bit): the other half is no code.
        let code = Code::<2>::build(&[1, 0]).expect("a single one-bit code");
        assert!(matches!(code.decode(0, 15), Decoded::Symbol(0, 1)));
        assert!(matches!(code.decode(1, 15), Decoded::Invalid));
        assert!(matches!(code.decode(0x7fff, 15), Decoded::Invalid));
    }

    #[test]
    fn the_state_is_small() {
        // The codes' tables and lengths; the window is apart (2^bits).
        let size = core::mem::size_of::<Inflater>();
        assert!(size <= 4608, "{size} bytes");
    }

    #[test]
    fn rfc7692_examples() {
        // §7.2.3.1: "Hello", one compressed message.
        let mut i = Inflater::new_boxed(15);
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(message(&mut i, &hello).unwrap(), b"Hello");
        // §7.2.3.2: the same message again, with context takeover: a
        // match into the first message.
        assert_eq!(
            message(&mut i, &[0xf2, 0x00, 0x11, 0x00, 0x00]).unwrap(),
            b"Hello"
        );
        // §7.2.3.3: a stored block.
        let mut i = Inflater::new_boxed(15);
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
        ];
        assert_eq!(message(&mut i, &stored).unwrap(), b"Hello");
        // §7.2.3.4: a final block, then nothing (no tail to complete).
        let mut i = Inflater::new_boxed(15);
        let final_block = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(
            inflate_all(&mut i, &final_block, &[], 64).unwrap(),
            b"Hello"
        );
        assert!(i.after_final_block());
    }

    #[test]
    fn the_second_hello_needs_the_first_one() {
        // Without context takeover the same bytes reach before the
        // message: refused, not inflated from a zeroed window.
        let mut i = Inflater::new_boxed(15);
        message(&mut i, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]).unwrap();
        i.forget_history();
        assert_eq!(
            message(&mut i, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
            Err(InflateError::TooFarBack)
        );
        let mut fresh = Inflater::new_boxed(15);
        assert_eq!(
            message(&mut fresh, &[0xf2, 0x00, 0x11, 0x00, 0x00]),
            Err(InflateError::TooFarBack)
        );
    }

    #[test]
    fn a_distance_past_the_agreed_window_is_refused() {
        // 600 distinct bytes, then a 600-byte-back match: fine in a 32 KiB
        // window, too far in a 512-byte one (9 bits, what 8 becomes too).
        let mut seed = 0x2545_f491u32;
        let mut data: Vec<u8> = (0..600)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                b"0123456789abcdef"[(seed % 16) as usize]
            })
            .collect();
        data.extend_from_within(..50);
        // Hex digits: compressible, so coded (a stored block would have
        // no distance), with the 50 bytes as one match 600 back.
        let mut compressor = super::super::compress::Compressor::new(15, 8);
        let mut compressed = vec![0u8; super::super::compress::bound(data.len())];
        let n = compressor.compress(&data, &mut compressed);
        compressed.truncate(n);
        let mut wide = Inflater::new_boxed(15);
        assert_eq!(
            inflate_all(&mut wide, &compressed, &[], 4096).unwrap(),
            data
        );
        for bits in [8, 9] {
            let mut narrow = Inflater::new_boxed(bits);
            assert_eq!(
                inflate_all(&mut narrow, &compressed, &[], 4096),
                Err(InflateError::TooFarBack)
            );
        }
    }

    #[test]
    fn malformed_blocks_are_refused() {
        let cases: [(&[u8], InflateError); 4] = [
            // BTYPE 3.
            (&[0x07], InflateError::BadHeader),
            // A stored block whose NLEN is not LEN's complement.
            (&[0x01, 0x05, 0x00, 0xfa, 0xfe], InflateError::BadHeader),
            // Fixed code (header 1, 1, 0), then length symbol 286
            // (11000110, first bit first).
            (&[0x1b, 0x03, 0x00], InflateError::BadSymbol),
            // Dynamic (header 1, 0, 1): 287 literal/length codes (HLIT 30).
            (&[0xf5, 0x00, 0x00], InflateError::BadHeader),
        ];
        for (input, error) in cases {
            let mut i = Inflater::new_boxed(15);
            assert_eq!(
                inflate_all(&mut i, input, &[], 64),
                Err(error),
                "{input:02x?}"
            );
        }
    }

    #[test]
    fn empty_fixed_blocks_build_no_table() {
        // The review's input: four empty fixed-code blocks every five
        // bytes, 900 KB of them. The fixed codes' tables are constants:
        // nothing is built, nothing comes out, all is read.
        let input: Vec<u8> = [0x02, 0x08, 0x20, 0x80, 0x00].repeat(180_000);
        builds();
        let mut i = Inflater::new_boxed(15);
        assert_eq!(inflate_all(&mut i, &input, &[], 4096).unwrap(), b"");
        assert_eq!(builds(), 0);
    }

    #[test]
    fn dynamic_blocks_build_their_codes_once_each() {
        // Many small dynamic blocks (a full flush every 300 bytes):
        // three codes built per block, no more.
        let mut c = miniz_oxide::deflate::core::CompressorOxide::new(
            miniz_oxide::deflate::core::create_comp_flags_from_zip_params(9, -15, 0),
        );
        let data: Vec<u8> = (0..30_000u32)
            .map(|i| b"abcdefghij"[(i * i % 7) as usize])
            .collect();
        let mut compressed = Vec::new();
        let mut out = vec![0u8; 1 << 16];
        let mut blocks = 0;
        for chunk in data.chunks(300) {
            let (_, _, n) = miniz_oxide::deflate::core::compress(
                &mut c,
                chunk,
                &mut out,
                miniz_oxide::deflate::core::TDEFLFlush::Sync,
            );
            compressed.extend_from_slice(&out[..n]);
            blocks += 1;
        }
        builds();
        let mut i = Inflater::new_boxed(15);
        assert_eq!(inflate_all(&mut i, &compressed, &[], 1000).unwrap(), data);
        let built = builds();
        assert!(built <= 3 * blocks, "{built} builds for {blocks} blocks");
        assert!(built > 0);
    }

    fn data_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..3000),
            // Repetitive: matches, long and overlapping.
            (proptest::collection::vec(any::<u8>(), 1..20), 0..4000usize)
                .prop_map(|(unit, n)| { unit.iter().cycle().take(n).copied().collect() }),
            proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 0..5000),
        ]
    }

    proptest! {
        /// Whatever miniz_oxide's compressor made (every level: stored,
        /// fixed and dynamic blocks), cut anywhere, inflated into outputs
        /// of any size: the data back.
        #[test]
        fn inflates_what_a_reference_compressor_made(
            data in data_strategy(),
            level in 0u8..=10,
            mut cuts in proptest::collection::vec(0usize..6000, 0..6),
            out_size in prop_oneof![1usize..300, 300usize..8000],
        ) {
            let compressed = miniz_oxide::deflate::compress_to_vec(&data, level);
            cuts.sort_unstable();
            let mut i = Inflater::new_boxed(15);
            prop_assert_eq!(inflate_all(&mut i, &compressed, &cuts, out_size).unwrap(), data);
            prop_assert!(i.after_final_block());
        }

        /// Garbage: an error or some output, never a panic, and never more
        /// than the output buffers had room for.
        #[test]
        fn garbage_ends_cleanly(
            input in proptest::collection::vec(any::<u8>(), 0..400),
            bits in 8u8..=15,
            out_size in 1usize..300,
        ) {
            let mut i = Inflater::new_boxed(bits);
            let mut out = vec![0u8; out_size];
            let mut rest = &input[..];
            for _ in 0..10_000 {
                match i.inflate(rest, &mut out) {
                    Ok(p) => {
                        prop_assert!(p.written <= out_size);
                        rest = &rest[p.consumed..];
                        if p.consumed + p.written == 0 {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    }
}
