//! The checked driver of protoswitch's tests and fuzz targets (not
//! published). One copy of every oracle: the fuzz targets in
//! [`targets`] (each `fuzz/fuzz_targets/*.rs` is one line calling them, and
//! `cargo test` replays their seed corpora on stable), the checked
//! WebSocket receive loop in [`ws`], the in-memory client/server pair in
//! [`pair`], the counting allocator of the zero-allocation tests in
//! [`alloc`], and (feature `tracing`) the recording subscriber of the
//! adapters' tracing tests in `tracing`.
//!
//! Plumbing shared by the fuzz targets: how an input is laid out, the ways
//! of cutting the peer's byte stream into reads, the decisions the
//! application makes, and checked writes into output buffers.
//!
//! # Input layout
//!
//! | bytes            | meaning                                              |
//! |------------------|------------------------------------------------------|
//! | 0                | configuration / request selector (target specific)   |
//! | 1..5             | four decision bytes, cycled (see [`Decisions`])      |
//! | 5                | number of cut points `n` (low 3 bits: 0..=7)         |
//! | 6..6+n           | length of each read, 0..=255 (0: an empty read)     |
//! | rest             | the bytes the peer sends                             |
//!
//! A seed with header `00 00 00 00 00 00` feeds the stream in one read with
//! default limits and the first choice at every decision.
//!
//! The `connection` and `roundtrip` targets read their inputs with a
//! [`Cursor`] instead; the WebSocket helpers they share with
//! `frame_decoder` are in [`ws`].

use protoswitch::Error;

pub mod alloc;
pub mod pair;
pub mod relay;
pub mod targets;
#[cfg(feature = "tracing")]
pub mod tracing;
pub mod ws;

/// Bytes before the cut lengths.
pub const HEADER_LEN: usize = 6;

/// A decoded fuzz input.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Target-specific configuration byte.
    pub config: u8,
    /// Seeds of the application's decisions.
    pub decisions: [u8; 4],
    /// Length of each read before the last one.
    pub cuts: &'a [u8],
    /// What the peer sends.
    pub stream: &'a [u8],
}

/// How the stream is handed to the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Reads of the lengths the input names, then the remainder.
    AsCut,
    /// The whole stream in one read.
    Whole,
    /// One byte per read.
    Bytewise,
}

impl<'a> Input<'a> {
    /// Splits raw fuzz data; `None` when too short to mean anything.
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (header, rest) = data.split_first_chunk::<HEADER_LEN>()?;
        let n = usize::from(header[5] & 7).min(rest.len());
        let (cuts, stream) = rest.split_at(n);
        Some(Input {
            config: header[0],
            decisions: [header[1], header[2], header[3], header[4]],
            cuts,
            stream,
        })
    }

    /// The stream cut into reads. Every byte appears exactly once, in order.
    pub fn reads(&self, how: Reads) -> Vec<&'a [u8]> {
        match how {
            Reads::Whole => vec![self.stream],
            Reads::Bytewise => self.stream.chunks(1).collect(),
            Reads::AsCut => {
                let mut rest = self.stream;
                let mut reads = Vec::with_capacity(self.cuts.len() + 1);
                for &c in self.cuts {
                    let (read, after) = rest.split_at(usize::from(c).min(rest.len()));
                    reads.push(read);
                    rest = after;
                }
                reads.push(rest);
                reads
            }
        }
    }
}

/// Reads an input front to back; past the end every read gives zeros (or
/// nothing), so any input is a complete program.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    /// `true` once every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte, 0 past the end.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// The next four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// The next eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
}

/// The application's choices, drawn in order. Both runs of one input make
/// the same sequence of decisions as long as they see the same events.
#[derive(Debug, Clone)]
pub struct Decisions {
    bytes: [u8; 4],
    drawn: usize,
}

impl Decisions {
    /// Decisions seeded from the input.
    pub fn new(bytes: [u8; 4]) -> Self {
        Decisions { bytes, drawn: 0 }
    }

    /// The next choice: the four input bytes, then variations of them.
    pub fn draw(&mut self) -> u8 {
        let round = (self.drawn / 4) as u8;
        let b = self.bytes[self.drawn % 4] ^ round.wrapping_mul(0x9d);
        self.drawn += 1;
        b
    }
}

/// Output buffer sizes tried first; a `BufferTooSmall` is then retried with
/// the exact size the error names.
pub const OUT_SIZES: [usize; 8] = [4096, 0, 1, 19, 40, 64, 128, 256];

/// Calls `write` with an output buffer of `size` bytes and checks the
/// contract of every writing call of the crate:
///
/// * `BufferTooSmall { needed }` means `needed > size`, nothing written,
///   the state unchanged, and a retry with exactly `needed` bytes writes
///   exactly `needed` bytes;
/// * a local error leaves the state unchanged;
/// * a write never reports a peer error.
pub fn write_checked<M, S>(
    machine: &mut M,
    state: impl Fn(&M) -> S,
    size: usize,
    mut write: impl FnMut(&mut M, &mut [u8]) -> Result<usize, Error>,
) -> Result<Vec<u8>, Error>
where
    S: PartialEq + core::fmt::Debug,
{
    const FILL: u8 = 0xA5;
    let before = state(machine);
    let mut out = vec![FILL; size];
    match write(machine, &mut out) {
        Ok(n) => {
            assert!(n <= size, "wrote {n} bytes into {size}");
            out.truncate(n);
            Ok(out)
        }
        Err(Error::BufferTooSmall { needed }) => {
            assert!(
                needed > size,
                "BufferTooSmall {{ needed: {needed} }} for {size} bytes"
            );
            assert!(
                out.iter().all(|&b| b == FILL),
                "BufferTooSmall but bytes were written"
            );
            assert_eq!(state(machine), before, "BufferTooSmall changed the state");
            let mut exact = vec![FILL; needed];
            let n = write(machine, &mut exact)
                .unwrap_or_else(|e| panic!("retry with the {needed} bytes asked for: {e:?}"));
            assert_eq!(n, needed, "BufferTooSmall named {needed} bytes, wrote {n}");
            Ok(exact)
        }
        Err(e @ Error::Local(_)) => {
            assert_eq!(
                state(machine),
                before,
                "local error {e:?} changed the state"
            );
            Err(e)
        }
        Err(e) => panic!("a write reported {e:?}"),
    }
}

/// `true` when `inner` lies inside `outer` (same memory).
pub fn is_within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
    o.start <= i.start && i.end <= o.end
}

/// The crate's own helper: leading CRLF / LF lines a server skips.
pub use protoswitch::http1::leading_empty_lines;

/// What is left of the stream once the machine stops reading: the
/// unconsumed bytes of the buffer, then every read not yet made.
pub fn rest_of_stream(buf: &[u8], unread: &[&[u8]]) -> Vec<u8> {
    let mut rest = buf.to_vec();
    for r in unread {
        rest.extend_from_slice(r);
    }
    rest
}

/// Appends `data` to the log, merging it into a directly preceding body
/// entry so that the log does not depend on how the body was cut.
pub fn push_body<E>(
    log: &mut Vec<E>,
    data: &[u8],
    as_body: impl Fn(&mut E) -> Option<&mut Vec<u8>>,
    new: impl FnOnce(Vec<u8>) -> E,
) {
    if let Some(body) = log.last_mut().and_then(as_body) {
        body.extend_from_slice(data);
        return;
    }
    log.push(new(data.to_vec()));
}

/// `true` when `PROTOSWITCH_FUZZ_DEBUG` is set: the targets then print the
/// event log of each input (`cargo fuzz run <target> <file>` to inspect one).
pub fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("PROTOSWITCH_FUZZ_DEBUG").is_some())
}

/// Owned bytes that print as an escaped string in event logs.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl core::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "b\"{}\"", self.0.escape_ascii())
    }
}

/// Prints an event log one event a line.
pub fn print_log<E: core::fmt::Debug>(log: &[E]) {
    for e in log {
        eprintln!("  {e:?}");
    }
}

/// The split check every target makes: the run with the input's cuts, and
/// (for streams up to `bytewise_limit` bytes) one byte per read, must give
/// exactly what one read gave (`whole`).
pub fn assert_same_as_whole<L: PartialEq + core::fmt::Debug>(
    input: &Input<'_>,
    whole: &L,
    bytewise_limit: usize,
    run: impl Fn(&Input<'_>, Reads) -> L,
) {
    let cut = run(input, Reads::AsCut);
    if &cut != whole {
        let lens: Vec<usize> = input.reads(Reads::AsCut).iter().map(|r| r.len()).collect();
        panic!("reads of {lens:?} differ from one read:\n cut:   {cut:?}\n whole: {whole:?}");
    }
    if input.stream.len() <= bytewise_limit {
        let bytewise = run(input, Reads::Bytewise);
        if &bytewise != whole {
            panic!("bytewise reads differ from one read:\n bytes: {bytewise:?}\n whole: {whole:?}");
        }
    }
}
