//! The floor: the least work a correct Sans-IO server can do, written
//! for this bench only. Frame header parse (RFC 6455 §5.2 checks that cost
//! nothing: RSV bits, opcode, mask bit, continuation order, control frame
//! size), in-place unmask with a run-time-selected AVX-512 / AVX2 / u64
//! loop, streaming UTF-8 validation with `simdutf8`. Handshake: `httparse`
//! with a fixed header array, the key, `sha1_smol`, `base64`, the 101
//! written with copies. `unsafe` lives here only (the SIMD kernels).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{Totals, refill};

// ---------------------------------------------------------------------
// Unmasking
// ---------------------------------------------------------------------

/// The unmask kernel: the whole decoder is compiled once per kernel
/// (with the kernel's target features), so the kernel inlines into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Portable: u64 words.
    U64,
    /// 32-byte AVX2 registers.
    Avx2,
    /// 64-byte AVX-512 registers, masked tail.
    Avx512,
}

impl Kernel {
    /// The best kernel this CPU has (`FLOOR_UNMASK=u64|avx2|avx512`
    /// overrides, for comparison; a kernel the CPU lacks is refused).
    pub fn select() -> Kernel {
        let has_avx2 = cfg!(target_arch = "x86_64") && {
            #[cfg(target_arch = "x86_64")]
            let d = is_x86_feature_detected!("avx2");
            #[cfg(not(target_arch = "x86_64"))]
            let d = false;
            d
        };
        let has_avx512 = cfg!(target_arch = "x86_64") && {
            #[cfg(target_arch = "x86_64")]
            let d = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw");
            #[cfg(not(target_arch = "x86_64"))]
            let d = false;
            d
        };
        match std::env::var("FLOOR_UNMASK").as_deref() {
            Ok("u64") => Kernel::U64,
            Ok("avx2") if has_avx2 => Kernel::Avx2,
            Ok("avx512") if has_avx512 => Kernel::Avx512,
            Ok(other) => panic!("FLOOR_UNMASK={other}: not u64, or not on this CPU"),
            Err(_) if has_avx512 => Kernel::Avx512,
            Err(_) if has_avx2 => Kernel::Avx2,
            Err(_) => Kernel::U64,
        }
    }

    /// Its name for the report.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::U64 => "u64",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// `buf[i] ^= mask[i % 4]`, the mask given as a little-endian u32
    /// already rotated to the payload offset of `buf[0]` (for tests).
    pub fn unmask(self, buf: &mut [u8], mask: u32) {
        match self {
            Kernel::U64 => unmask_u64(buf, mask),
            // SAFETY: `select` only returns kernels the CPU has.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { unmask_avx2(buf, mask) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { unmask_avx512(buf, mask) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!(),
        }
    }
}

/// Portable: eight bytes at a time.
#[inline]
pub fn unmask_u64(buf: &mut [u8], mask: u32) {
    let wide = u64::from(mask) | (u64::from(mask) << 32);
    let mut words = buf.chunks_exact_mut(8);
    for w in &mut words {
        let v = u64::from_le_bytes(w.try_into().unwrap()) ^ wide;
        w.copy_from_slice(&v.to_le_bytes());
    }
    let key = mask.to_le_bytes();
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn unmask_avx2(buf: &mut [u8], mask: u32) {
    use std::arch::x86_64::*;
    let len = buf.len();
    let p = buf.as_mut_ptr();
    let m = _mm256_set1_epi32(mask as i32);
    let mut i = 0;
    while i + 128 <= len {
        // SAFETY: i + 128 <= len; unaligned loads and stores.
        unsafe {
            let a = _mm256_loadu_si256(p.add(i) as *const __m256i);
            let b = _mm256_loadu_si256(p.add(i + 32) as *const __m256i);
            let c = _mm256_loadu_si256(p.add(i + 64) as *const __m256i);
            let d = _mm256_loadu_si256(p.add(i + 96) as *const __m256i);
            _mm256_storeu_si256(p.add(i) as *mut __m256i, _mm256_xor_si256(a, m));
            _mm256_storeu_si256(p.add(i + 32) as *mut __m256i, _mm256_xor_si256(b, m));
            _mm256_storeu_si256(p.add(i + 64) as *mut __m256i, _mm256_xor_si256(c, m));
            _mm256_storeu_si256(p.add(i + 96) as *mut __m256i, _mm256_xor_si256(d, m));
        }
        i += 128;
    }
    while i + 32 <= len {
        // SAFETY: i + 32 <= len.
        unsafe {
            let a = _mm256_loadu_si256(p.add(i) as *const __m256i);
            _mm256_storeu_si256(p.add(i) as *mut __m256i, _mm256_xor_si256(a, m));
        }
        i += 32;
    }
    // i is a multiple of 4, so the mask phase is unchanged.
    unmask_u64(&mut buf[i..], mask);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn unmask_avx512(buf: &mut [u8], mask: u32) {
    use std::arch::x86_64::*;
    let len = buf.len();
    let p = buf.as_mut_ptr();
    let m = _mm512_set1_epi32(mask as i32);
    let mut i = 0;
    while i + 256 <= len {
        // SAFETY: i + 256 <= len; unaligned loads and stores.
        unsafe {
            let a = _mm512_loadu_si512(p.add(i) as *const _);
            let b = _mm512_loadu_si512(p.add(i + 64) as *const _);
            let c = _mm512_loadu_si512(p.add(i + 128) as *const _);
            let d = _mm512_loadu_si512(p.add(i + 192) as *const _);
            _mm512_storeu_si512(p.add(i) as *mut _, _mm512_xor_si512(a, m));
            _mm512_storeu_si512(p.add(i + 64) as *mut _, _mm512_xor_si512(b, m));
            _mm512_storeu_si512(p.add(i + 128) as *mut _, _mm512_xor_si512(c, m));
            _mm512_storeu_si512(p.add(i + 192) as *mut _, _mm512_xor_si512(d, m));
        }
        i += 256;
    }
    while i + 64 <= len {
        // SAFETY: i + 64 <= len.
        unsafe {
            let a = _mm512_loadu_si512(p.add(i) as *const _);
            _mm512_storeu_si512(p.add(i) as *mut _, _mm512_xor_si512(a, m));
        }
        i += 64;
    }
    let rest = len - i;
    if rest > 0 {
        // A masked load/store of the last < 64 bytes (i is a multiple of
        // 4, so the mask phase is unchanged).
        let k: __mmask64 = (1u64 << rest) - 1;
        // SAFETY: the mask limits both accesses to buf[i..len].
        unsafe {
            let a = _mm512_maskz_loadu_epi8(k, p.add(i) as *const i8);
            _mm512_mask_storeu_epi8(p.add(i) as *mut i8, k, _mm512_xor_si512(a, m));
        }
    }
}

// ---------------------------------------------------------------------
// Streaming UTF-8
// ---------------------------------------------------------------------

/// UTF-8 validation of a message that arrives in pieces: a character may
/// be split between pieces; up to 3 bytes are carried over.
#[derive(Debug, Default, Clone, Copy)]
pub struct Utf8Stream {
    carry: [u8; 4],
    carry_len: u8,
}

fn char_width(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4, // 0xF0..; invalid leads are caught by the validator
    }
}

impl Utf8Stream {
    /// Validates the next piece; `false` on invalid UTF-8.
    #[inline]
    pub fn feed(&mut self, mut piece: &[u8]) -> bool {
        if self.carry_len > 0 {
            let have = self.carry_len as usize;
            let need = char_width(self.carry[0]) - have;
            let take = need.min(piece.len());
            self.carry[have..have + take].copy_from_slice(&piece[..take]);
            self.carry_len += take as u8;
            piece = &piece[take..];
            if take < need {
                return true; // still incomplete; checked when complete
            }
            let width = self.carry_len as usize;
            self.carry_len = 0;
            if simdutf8::basic::from_utf8(&self.carry[..width]).is_err() {
                return false;
            }
        }
        // Split off an incomplete last character (a lead byte within the
        // last 3 bytes whose width goes past the end).
        let n = piece.len();
        let mut cut = n;
        for back in 1..=3.min(n) {
            let b = piece[n - back];
            if b & 0xC0 != 0x80 {
                if b >= 0xC0 && char_width(b) > back {
                    cut = n - back;
                }
                break;
            }
        }
        if simdutf8::basic::from_utf8(&piece[..cut]).is_err() {
            return false;
        }
        let tail = &piece[cut..];
        self.carry[..tail.len()].copy_from_slice(tail);
        self.carry_len = tail.len() as u8;
        true
    }

    /// The message ended: valid only if no character is left incomplete.
    #[inline]
    pub fn finish(&mut self) -> bool {
        let done = self.carry_len == 0;
        self.carry_len = 0;
        done
    }
}

// ---------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------

/// The floor decoder's state between reads.
#[derive(Debug, Clone, Copy)]
struct Frame {
    remaining: u64,
    mask: u32,
    fin: bool,
    control: bool,
}

/// Decodes all of `input` as a server, fed `read_size` bytes at a time
/// into `buf` at `offset`, unmasking in place with `kernel`; text is
/// validated across fragments and reads. Panics on a protocol error.
pub fn decode_all(
    input: &[u8],
    read_size: usize,
    offset: usize,
    buf: &mut [u8],
    kernel: Kernel,
) -> Totals {
    match kernel {
        Kernel::U64 => decode_body(input, read_size, offset, buf, unmask_u64),
        // SAFETY: `Kernel::select` only returns kernels the CPU has.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { decode_avx2(input, read_size, offset, buf) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => unsafe { decode_avx512(input, read_size, offset, buf) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => unreachable!(),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn decode_avx2(input: &[u8], read_size: usize, offset: usize, buf: &mut [u8]) -> Totals {
    // SAFETY (of the closure's call): this function has the feature.
    decode_body(input, read_size, offset, buf, |b, m| unsafe {
        unmask_avx2(b, m)
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn decode_avx512(input: &[u8], read_size: usize, offset: usize, buf: &mut [u8]) -> Totals {
    // SAFETY (of the closure's call): this function has the features.
    decode_body(input, read_size, offset, buf, |b, m| unsafe {
        unmask_avx512(b, m)
    })
}

/// The decoder, inlined into each kernel's wrapper.
#[inline(always)]
fn decode_body(
    input: &[u8],
    read_size: usize,
    offset: usize,
    buf: &mut [u8],
    unmask: impl Fn(&mut [u8], u32),
) -> Totals {
    let mut totals = Totals::default();
    let (mut start, mut end, mut pos) = (offset, offset, 0);
    let mut frame: Option<Frame> = None;
    // The message in progress: None between messages, Some(is_text).
    let mut message: Option<bool> = None;
    let mut utf8 = Utf8Stream::default();
    loop {
        (start, end) = refill(buf, offset, start, end, input, &mut pos, read_size);
        loop {
            match frame {
                None => {
                    let avail = &buf[start..end];
                    if avail.len() < 2 {
                        break;
                    }
                    let (b0, b1) = (avail[0], avail[1]);
                    assert!(b0 & 0x70 == 0, "RSV bits");
                    assert!(b1 & 0x80 != 0, "client frames are masked");
                    let opcode = b0 & 0x0F;
                    let fin = b0 & 0x80 != 0;
                    let control = opcode >= 8;
                    let (len, at) = match b1 & 0x7F {
                        126 => {
                            if avail.len() < 4 {
                                break;
                            }
                            (u64::from(u16::from_be_bytes([avail[2], avail[3]])), 4)
                        }
                        127 => {
                            if avail.len() < 10 {
                                break;
                            }
                            (u64::from_be_bytes(avail[2..10].try_into().unwrap()), 10)
                        }
                        n => (u64::from(n), 2),
                    };
                    if avail.len() < at + 4 {
                        break;
                    }
                    let mask = u32::from_le_bytes(avail[at..at + 4].try_into().unwrap());
                    match opcode {
                        0 => assert!(message.is_some(), "continuation without a message"),
                        1 | 2 => {
                            assert!(message.is_none(), "new message inside a fragmented one");
                            message = Some(opcode == 1);
                        }
                        8..=10 => assert!(fin && len <= 125, "control frame"),
                        _ => panic!("reserved opcode {opcode}"),
                    }
                    start += at + 4;
                    frame = Some(Frame {
                        remaining: len,
                        mask,
                        fin,
                        control,
                    });
                }
                Some(mut f) => {
                    let avail = end - start;
                    if f.control {
                        // Control frames are handled whole (not expected
                        // in these inputs; kept for correctness).
                        if (avail as u64) < f.remaining {
                            break;
                        }
                        let n = f.remaining as usize;
                        unmask(&mut buf[start..start + n], f.mask);
                        start += n;
                        frame = None;
                        continue;
                    }
                    let n = f.remaining.min(avail as u64) as usize;
                    if n == 0 && f.remaining > 0 {
                        break;
                    }
                    let payload = &mut buf[start..start + n];
                    unmask(payload, f.mask);
                    if message == Some(true) {
                        assert!(utf8.feed(payload), "invalid UTF-8");
                    }
                    std::hint::black_box(&*payload);
                    totals.bytes += n as u64;
                    start += n;
                    f.remaining -= n as u64;
                    // The next byte's mask phase.
                    f.mask = f.mask.rotate_right(8 * (n as u32 & 3));
                    if f.remaining == 0 {
                        frame = None;
                        if f.fin {
                            if message == Some(true) {
                                assert!(utf8.finish(), "text ends inside a character");
                            }
                            message = None;
                            totals.messages += 1;
                        }
                    } else {
                        frame = Some(f);
                    }
                }
            }
        }
        if pos == input.len() {
            assert!(start == end && frame.is_none(), "input ends inside a frame");
            return totals;
        }
    }
}

// ---------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------

/// RFC 6455 §1.3.
pub const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(sha1(key + GUID))`.
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut out = [0u8; 28];
    STANDARD
        .encode_slice(sha.digest().bytes(), &mut out)
        .expect("28 bytes");
    out
}

/// `token` is an element of the comma-separated `list` (ASCII case-insensitive).
fn has_token(list: &[u8], token: &[u8]) -> bool {
    list.split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Parses and validates a WebSocket upgrade request in `buf`; `None` when
/// incomplete. Writes the 101 into `out` and returns its length.
fn server_step(buf: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut headers = [httparse::EMPTY_HEADER; 24];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf).expect("valid HTTP") {
        httparse::Status::Partial => return None,
        httparse::Status::Complete(_) => {}
    }
    assert!(
        req.method == Some("GET") && req.version == Some(1),
        "GET HTTP/1.1"
    );
    let (mut upgrade, mut connection, mut version, mut key, mut host) =
        (false, false, false, None, false);
    for h in req.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade |= has_token(h.value, b"websocket");
        } else if name.eq_ignore_ascii_case(b"connection") {
            connection |= has_token(h.value, b"upgrade");
        } else if name.eq_ignore_ascii_case(b"sec-websocket-version") {
            version = h.value == b"13";
        } else if name.eq_ignore_ascii_case(b"sec-websocket-key") {
            key = Some(h.value);
        } else if name.eq_ignore_ascii_case(b"host") {
            host = true;
        }
    }
    let key = key.expect("Sec-WebSocket-Key");
    assert!(
        upgrade && connection && version && host && key.len() == 24,
        "WebSocket upgrade"
    );
    let accept = accept_key(key);
    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: ";
    let n = HEAD.len();
    out[..n].copy_from_slice(HEAD);
    out[n..n + 28].copy_from_slice(&accept);
    out[n + 28..n + 32].copy_from_slice(b"\r\n\r\n");
    Some(n + 32)
}

/// Server handshake, request in one read (copied into `buf`).
pub fn server_handshake(request: &[u8], buf: &mut [u8], out: &mut [u8]) -> usize {
    buf[..request.len()].copy_from_slice(request);
    server_step(&buf[..request.len()], out).expect("complete")
}

/// Server handshake, request in two reads; the head is parsed again from
/// its start after the second read (what a simple server does).
pub fn server_handshake_split(
    request: &[u8],
    split: usize,
    buf: &mut [u8],
    out: &mut [u8],
) -> usize {
    buf[..split].copy_from_slice(&request[..split]);
    assert!(server_step(&buf[..split], out).is_none());
    buf[split..request.len()].copy_from_slice(&request[split..]);
    server_step(&buf[..request.len()], out).expect("complete")
}

/// Client: write the request with `key` into `out`, then check the 101
/// (copied into `buf`): status, `Upgrade`, `Connection`, the accept value.
pub fn client_validate(
    host: &str,
    path: &str,
    key: &[u8; 24],
    response: &[u8],
    buf: &mut [u8],
    out: &mut [u8],
) -> usize {
    let mut n = 0;
    for part in [
        b"GET ".as_slice(),
        path.as_bytes(),
        b" HTTP/1.1\r\nHost: ",
        host.as_bytes(),
        b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
        key,
        b"\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ] {
        out[n..n + part.len()].copy_from_slice(part);
        n += part.len();
    }
    let expected = accept_key(key);
    buf[..response.len()].copy_from_slice(response);
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut res = httparse::Response::new(&mut headers);
    let consumed = match res.parse(&buf[..response.len()]).expect("valid HTTP") {
        httparse::Status::Complete(c) => c,
        httparse::Status::Partial => panic!("incomplete response"),
    };
    assert_eq!(res.code, Some(101));
    let (mut upgrade, mut connection, mut accept) = (false, false, false);
    for h in res.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade |= has_token(h.value, b"websocket");
        } else if name.eq_ignore_ascii_case(b"connection") {
            connection |= has_token(h.value, b"upgrade");
        } else if name.eq_ignore_ascii_case(b"sec-websocket-accept") {
            accept = h.value == expected;
        }
    }
    assert!(upgrade && connection && accept, "a valid 101");
    n + consumed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_agree() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [0, 1, 3, 4, 31, 32, 63, 64, 65, 127, 255, 256, 257, 999] {
            for off in 0..4 {
                let mask = 0xA1B2_C3D4u32.rotate_right(8 * off);
                let mut want = data[..len].to_vec();
                let key = mask.to_le_bytes();
                for (i, b) in want.iter_mut().enumerate() {
                    *b ^= key[i % 4];
                }
                let mut a = data[..len].to_vec();
                Kernel::select().unmask(&mut a, mask);
                let mut b = data[..len].to_vec();
                unmask_u64(&mut b, mask);
                assert_eq!(a, want);
                assert_eq!(b, want);
            }
        }
    }

    #[test]
    fn utf8_stream_splits() {
        let s = "Hello, мир! こんにちは 🌍 Ωμέγα ".repeat(5);
        let b = s.as_bytes();
        for cut in 0..b.len() {
            let mut v = Utf8Stream::default();
            assert!(
                v.feed(&b[..cut]) && v.feed(&b[cut..]) && v.finish(),
                "cut {cut}"
            );
        }
        let mut v = Utf8Stream::default();
        assert!(v.feed(&"мир".as_bytes()[..3]));
        assert!(!v.finish());
        let mut v = Utf8Stream::default();
        assert!(!v.feed(b"ab\xFFcd"));
        let mut v = Utf8Stream::default();
        assert!(v.feed(b"\xE3\x81") && !v.feed(b"x"));
    }

    #[test]
    fn accept_rfc_example() {
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
