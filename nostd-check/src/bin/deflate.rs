//! `protoswitch` with permessage-deflate (RFC 7692), without `std`: a
//! server and a client negotiate compression through the real handshake
//! machines, then exchange compressed messages both ways.
//!
//! Compression is the crate's one feature that needs an allocator (the
//! inflater's and the compressor's state, allocated when first used), so
//! this binary brings its own: a bump allocator over a static arena,
//! defined below, which counts its peak use. It links no `std` (a second
//! `panic_impl` would clash with ours) and enables protoswitch's `deflate`
//! feature with `default-features = false`, so it proves that the feature
//! needs `alloc` and nothing more. The other binary, `nostd-check`, stays
//! the proof that the core needs no allocator at all.
//!
//! What it runs, checking every step (each failure has its own exit
//! status, listed in [`Fail`]):
//!
//! 1. the client offers `DeflateConfig::new().offer()`; the server accepts
//!    with `DeflateConfig::accept` and answers a 101 naming the agreed
//!    parameters; the client checks them with `DeflateConfig::agreed`;
//! 2. the server's first message, sent in the same write as the 101, is
//!    RFC 7692 §7.2.3.1's compressed "Hello", byte for byte; a second
//!    "Hello" is shorter (the window is shared);
//! 3. the client sends about 5 KB of repetitive text in three fragments
//!    (a character split between two) and a binary message; the server
//!    inflates them in 16-byte output chunks from 100-byte reads.
//!
//! Build and run (prints the arena's peak use; exit status 0 on success):
//!
//! ```text
//! cargo build --release --features deflate --bin nostd-deflate
//! ./target/release/nostd-deflate; echo $?
//! ```
//!
//! (`--bin` is needed: with the feature on, the `nostd-check` binary,
//! which has no allocator, would not link.)

#![no_std]
#![no_main]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicUsize, Ordering};

use protoswitch::Instant;
use protoswitch::upgrade::{
    Accept, ClientEvent, ClientHandshake, ClientRequest, DeflateConfig, DeflateParams, ServerEvent,
    ServerHandshake,
};
use protoswitch::ws::{Config, Connection, Event, MaskSource, MessageKind};

// ---- the allocator ---------------------------------------------------------

/// Size of the arena. What this run allocates (measured, miniz_oxide
/// 0.9.1, x86_64): per connection, 32 bytes of deflate state when
/// `with_deflate` is called, then on the first compressed message
/// received an inflater of 43,296 bytes, and on the first one sent a
/// compressor of 319,326 bytes in six blocks (85,196 output buffer, 65,712
/// LZ codes, 2 × 65,536 hash chains, 33,026 dictionary, 4,320 Huffman
/// tables): 725,308 bytes for the two connections, all live at the end.
const ARENA_BYTES: usize = 1 << 20;

/// A bump allocator over a static arena: allocation moves `next` up;
/// freeing the most recent block moves it back (so a block freed right
/// after it was allocated costs nothing), any other free is a leak inside
/// the arena. Enough for a connection's state, which lives as long as the
/// connection. Single-threaded use is all this binary needs, but `next`
/// moves by compare-and-swap so it would stay sound with threads.
struct Bump {
    arena: UnsafeCell<[u8; ARENA_BYTES]>,
    /// Offset of the first free byte.
    next: AtomicUsize,
    /// Highest `next` ever reached: the arena's peak use.
    peak: AtomicUsize,
    /// Bytes in blocks not yet freed, and their peak.
    live: AtomicUsize,
    live_peak: AtomicUsize,
    allocs: AtomicUsize,
    frees: AtomicUsize,
}

// SAFETY: the arena's bytes are only reached through pointers `alloc`
// hands out, and each byte range is handed out to one block at a time
// (`next` is claimed by compare-and-swap); all other fields are atomics.
unsafe impl Sync for Bump {}

impl Bump {
    const fn new() -> Self {
        Bump {
            arena: UnsafeCell::new([0; ARENA_BYTES]),
            next: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            live_peak: AtomicUsize::new(0),
            allocs: AtomicUsize::new(0),
            frees: AtomicUsize::new(0),
        }
    }
}

// SAFETY: `alloc` returns either null or a block of `layout.size()` bytes
// aligned to `layout.align()`, inside the arena and disjoint from every
// other live block (it starts at or after `next`, which only moves back
// over a block that was just freed); `dealloc` never hands out memory
// still in use.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.arena.get() as usize;
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            // Align the absolute address (`align` is a power of two).
            let Some(start) = (base + next).checked_add(layout.align() - 1) else {
                return core::ptr::null_mut();
            };
            let start = (start & !(layout.align() - 1)) - base;
            let end = match start.checked_add(layout.size()) {
                Some(end) if end <= ARENA_BYTES => end,
                _ => return core::ptr::null_mut(), // out of memory
            };
            match self
                .next
                .compare_exchange_weak(next, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(end, Ordering::Relaxed);
                    let live = self.live.fetch_add(layout.size(), Ordering::Relaxed);
                    self.live_peak
                        .fetch_max(live + layout.size(), Ordering::Relaxed);
                    self.allocs.fetch_add(1, Ordering::Relaxed);
                    // SAFETY: `start + size <= ARENA_BYTES`, so the pointer
                    // stays inside the arena (one past its end at most).
                    return unsafe { (base as *mut u8).add(start) };
                }
                Err(now) => next = now,
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let start = ptr as usize - self.arena.get() as usize;
        let end = start + layout.size();
        // The last block given out: take its bytes back. If another block
        // was allocated since, this fails and the bytes stay used.
        let _ = self
            .next
            .compare_exchange(end, start, Ordering::Relaxed, Ordering::Relaxed);
        self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        self.frees.fetch_add(1, Ordering::Relaxed);
    }
}

#[global_allocator]
static HEAP: Bump = Bump::new();

// ---- the run -------------------------------------------------------------

/// Why the run failed; the value is the exit status.
#[derive(Clone, Copy)]
#[repr(i32)]
enum Fail {
    /// The client handshake could not start (its request did not fit).
    ClientStart = 2,
    /// The request does not carry the deflate offer.
    OfferNotSent = 3,
    /// The server machine refused the request or gave no request event.
    ServerRequest = 4,
    /// The request's WebSocket offer is missing or invalid.
    WebSocketOffer = 5,
    /// `DeflateConfig::accept` declined the offer.
    NotAgreed = 6,
    /// The server could not write the 101.
    ServerAccept = 7,
    /// The 101 does not name permessage-deflate.
    ResponseWithoutDeflate = 8,
    /// The client machine refused the 101 or gave no `Switched` event.
    ClientSwitch = 9,
    /// `DeflateConfig::agreed` found no agreement, or a different one from
    /// the server's.
    ParamsDiffer = 10,
    /// The server's compressed "Hello" is not RFC 7692's bytes.
    HelloBytes = 11,
    /// A second "Hello" is not shorter (no shared window).
    NoContextTakeover = 12,
    /// A send failed.
    Send = 13,
    /// A receive failed (a peer error).
    Receive = 14,
    /// The client received other messages than the server sent.
    ClientGotWrong = 15,
    /// The server received other messages than the client sent.
    ServerGotWrong = 16,
    /// The client's text did not compress (or not by much).
    NotCompressed = 17,
    /// A fixed buffer of this program was too small.
    Buffer = 18,
}

/// Mask keys for the client (a device takes them from its hardware RNG):
/// xorshift32, fixed seed.
struct Keys(u32);

impl MaskSource for Keys {
    fn mask_key(&mut self) -> [u8; 4] {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0.to_le_bytes()
    }
}

/// RFC 7692 §7.2.3.1: "Hello" compressed, as a server sends it.
const HELLO: &[u8] = b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00";

/// The client's text: `LINES` numbered lines of one repeated sentence,
/// with non-ASCII characters (about 5 KB).
const LINES: usize = 64;
const TEXT_BYTES: usize = 8192;

fn client_text(buf: &mut [u8; TEXT_BYTES]) -> Result<usize, Fail> {
    let mut w = Cursor { buf, len: 0 };
    for i in 0..LINES {
        writeln!(
            w,
            "{i:04}: the quick brown fox jümps over the lazy dög; ünïcode ok"
        )
        .map_err(|_| Fail::Buffer)?;
    }
    Ok(w.len)
}

/// A fixed buffer as a `core::fmt::Write` target.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends `data` to `buf[*len..]`.
fn push(buf: &mut [u8], len: &mut usize, data: &[u8]) -> Result<(), Fail> {
    buf.get_mut(*len..*len + data.len())
        .ok_or(Fail::Buffer)?
        .copy_from_slice(data);
    *len += data.len();
    Ok(())
}

/// A received message, assembled in a fixed buffer.
struct Message {
    kind: MessageKind,
    bytes: [u8; TEXT_BYTES],
    len: usize,
}

/// Feeds `wire` to `conn` in reads of `read` bytes, inflating into an
/// output buffer of `OUT` bytes, the crate's loop (see its docs): receive,
/// drop what was consumed, handle the event, drain `poll_transmit`, and
/// read more only when the machine needs more. Calls `each` with every
/// whole message; returns how many there were.
fn receive_all<M: MaskSource, const OUT: usize>(
    conn: &mut Connection<M>,
    wire: &[u8],
    read: usize,
    mut each: impl FnMut(usize, &Message) -> Result<(), Fail>,
) -> Result<usize, Fail> {
    let mut rx = [0u8; 512];
    let mut filled = 0;
    let mut pos = 0;
    let mut out = [0u8; OUT];
    let mut message = Message {
        kind: MessageKind::Binary,
        bytes: [0; TEXT_BYTES],
        len: 0,
    };
    let mut count = 0;
    let mut tx = [0u8; 256];
    loop {
        let got = conn
            .receive_into(&mut rx[..filled], &mut out, Instant::ZERO)
            .map_err(|_| Fail::Receive)?;
        let consumed = got.consumed;
        let more = got.event.is_some();
        if let Some(Event::Data(chunk)) = got.event {
            if message.len == 0 {
                message.kind = chunk.kind;
            }
            push(&mut message.bytes, &mut message.len, chunk.payload)?;
            if chunk.message_end {
                each(count, &message)?;
                count += 1;
                message.len = 0;
            }
        }
        rx.copy_within(consumed..filled, 0);
        filled -= consumed;
        // Nothing is owed here (no Ping, no Close), but the loop drains.
        while conn.poll_transmit(&mut tx) > 0 {}
        if !more {
            if pos == wire.len() {
                return Ok(count);
            }
            let n = read.min(wire.len() - pos).min(rx.len() - filled);
            rx[filled..filled + n].copy_from_slice(&wire[pos..pos + n]);
            filled += n;
            pos += n;
        }
    }
}

fn run() -> Result<(), Fail> {
    let config = DeflateConfig::new();

    // 1. The handshake. The client offers permessage-deflate.
    let offer = config.offer();
    let offers = [offer.as_str()];
    let request = ClientRequest::new("GET", "/chat", "server.example.com", &["websocket"])
        .websocket_key(*b"the sample nonce")
        .extensions(&offers);
    let mut c2s = [0u8; 512];
    let (mut client_hs, n) =
        ClientHandshake::start(&request, Default::default(), Instant::ZERO, &mut c2s)
            .map_err(|_| Fail::ClientStart)?;
    let request_bytes = &c2s[..n];
    if !contains(
        request_bytes,
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
    ) {
        return Err(Fail::OfferNotSent);
    }

    // The server reads the request, accepts the offer, writes the 101.
    let mut server_hs = ServerHandshake::new(Default::default());
    let mut s2c = [0u8; 512];
    let got = server_hs
        .receive(request_bytes)
        .map_err(|_| Fail::ServerRequest)?;
    let Some(ServerEvent::Request(req)) = got.event else {
        return Err(Fail::ServerRequest);
    };
    let ws_offer = match req.websocket() {
        Ok(Some(offer)) => offer,
        _ => return Err(Fail::WebSocketOffer),
    };
    let agreed = config.accept(&ws_offer).ok_or(Fail::NotAgreed)?;
    let accept = Accept::new("websocket").extensions(agreed.response());
    let switch = req.switch(&accept).map_err(|_| Fail::ServerAccept)?;
    let mut s2c_len = server_hs
        .accept(&switch, &mut s2c)
        .map_err(|_| Fail::ServerAccept)?;
    if !contains(
        &s2c[..s2c_len],
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n",
    ) {
        return Err(Fail::ResponseWithoutDeflate);
    }
    let server_params = agreed.params;
    let mut server =
        Connection::server(Config::default(), Instant::ZERO).with_deflate(&config, server_params);

    // 2. The server's first message goes in the same write as the 101:
    //    RFC 7692's compressed "Hello", then a second one.
    let hello_at = s2c_len;
    s2c_len += server
        .send_text("Hello", &mut s2c[s2c_len..])
        .map_err(|_| Fail::Send)?;
    if &s2c[hello_at..s2c_len] != HELLO {
        return Err(Fail::HelloBytes);
    }
    let again_at = s2c_len;
    s2c_len += server
        .send_text("Hello", &mut s2c[s2c_len..])
        .map_err(|_| Fail::Send)?;
    if s2c_len - again_at >= HELLO.len() {
        return Err(Fail::NoContextTakeover);
    }

    // The client checks the 101 against its offer; the bytes after it
    // are already WebSocket frames.
    let got = client_hs
        .receive(&s2c[..s2c_len])
        .map_err(|_| Fail::ClientSwitch)?;
    let Some(ClientEvent::Switched { negotiation, .. }) = got.event else {
        return Err(Fail::ClientSwitch);
    };
    let client_params = config.agreed(&negotiation).ok_or(Fail::ParamsDiffer)?;
    if client_params != server_params || client_params != DeflateParams::new() {
        return Err(Fail::ParamsDiffer);
    }
    let frames = &s2c[got.consumed..s2c_len];
    let mut client = Connection::client(Config::default(), Instant::ZERO, Keys(0x2545_f491))
        .with_deflate(&config, client_params);
    // One byte per read and one byte of output at a time: the worst case.
    let n = receive_all::<_, 1>(&mut client, frames, 1, |_, m| {
        match m.kind == MessageKind::Text && &m.bytes[..m.len] == b"Hello" {
            true => Ok(()),
            false => Err(Fail::ClientGotWrong),
        }
    })?;
    if n != 2 {
        return Err(Fail::ClientGotWrong);
    }

    // 3. The client sends a text message in three fragments (the second
    //    cut splits a 'ü'), then a binary one; both compressed and masked.
    let mut text = [0u8; TEXT_BYTES];
    let text_len = client_text(&mut text)?;
    let text = &text[..text_len];
    let cut = 1000
        + text[1000..]
            .iter()
            .position(|&b| b == 0xc3)
            .ok_or(Fail::Buffer)?
        + 1;
    let pieces = [(&text[..1000], false), (&text[1000..cut], false)];
    let mut wire = [0u8; 2 * TEXT_BYTES];
    let mut wire_len = 0;
    for (piece, fin) in pieces {
        wire_len += client
            .send_fragment(MessageKind::Text, piece, fin, &mut wire[wire_len..])
            .map_err(|_| Fail::Send)?;
    }
    wire_len += client
        .send_fragment(MessageKind::Text, &text[cut..], true, &mut wire[wire_len..])
        .map_err(|_| Fail::Send)?;
    let binary = &text[..2000];
    wire_len += client
        .send_binary(binary, &mut wire[wire_len..])
        .map_err(|_| Fail::Send)?;
    if wire_len * 3 > text_len + binary.len() {
        return Err(Fail::NotCompressed);
    }

    let n = receive_all::<_, 16>(&mut server, &wire[..wire_len], 100, |i, m| {
        let want = match i {
            0 => (MessageKind::Text, text),
            _ => (MessageKind::Binary, binary),
        };
        match (m.kind, &m.bytes[..m.len]) == want {
            true => Ok(()),
            false => Err(Fail::ServerGotWrong),
        }
    })?;
    if n != 2 {
        return Err(Fail::ServerGotWrong);
    }

    report(format_args!(
        "nostd-deflate: client -> server {} B of text and {} B binary as {} B on the wire\n",
        text_len,
        binary.len(),
        wire_len
    ));
    Ok(())
}

/// `true` when `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

unsafe extern "C" {
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
}

/// Writes a line of at most 256 bytes to standard output.
fn report(args: core::fmt::Arguments<'_>) {
    let mut line = [0u8; 256];
    let mut w = Cursor {
        buf: &mut line,
        len: 0,
    };
    let _ = w.write_fmt(args);
    let len = w.len;
    print(&line[..len]);
}

/// Writes `bytes` to standard output (libc's `write`; no std here).
fn print(bytes: &[u8]) {
    // SAFETY: `bytes` is a valid slice for its length; `write` reads at
    // most `count` bytes from it. A short write only shortens the report.
    unsafe {
        write(1, bytes.as_ptr(), bytes.len());
    }
}

/// The C entry point: libc's start-up code calls it (we define no Rust
/// `main`, hence `#![no_main]`). Exit status 0 when every check passes,
/// else a [`Fail`] value.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    let status = match run() {
        Ok(()) => 0,
        Err(fail) => fail as i32,
    };
    report(format_args!(
        "nostd-deflate: peak heap {} B of a {} B arena ({} B live at most; {} allocations, {} frees)\n",
        HEAP.peak.load(Ordering::Relaxed),
        ARENA_BYTES,
        HEAP.live_peak.load(Ordering::Relaxed),
        HEAP.allocs.load(Ordering::Relaxed),
        HEAP.frees.load(Ordering::Relaxed),
    ));
    status
}

#[path = "../rt.rs"]
mod rt;
