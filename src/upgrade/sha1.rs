//! SHA-1 (FIPS 180-4 §6.1), only for `Sec-WebSocket-Accept` (RFC 6455
//! §1.3), where it is a checksum, not a security measure.
//!
//! Where the processor may have SHA-1 instructions (x86 SHA extensions,
//! ARMv8 SHA), the `sha1` crate hashes: it detects them at run time and
//! falls back to software. Issue 9's handshake workload: the accept key
//! (key + GUID, two blocks) took 125 ns with it against 250 ns with
//! `sha1_smol` (x86_64 with SHA-NI, micro-benchmark); the server
//! handshake is about a fifth of that time faster.
//!
//! On every other target (the firmware's Cortex-M, but also wasm32,
//! RISC-V, 32-bit ARM Linux, ...) the crate's own code hashes instead of a
//! dependency, written for size: one loop of single rounds. On the issue
//! 9 firmware (Cortex-M4F, opt-level "s") it costs 1.5 KiB less flash
//! than four loops of five rounds did; the price is speed, about 45 %
//! slower than that form (measured on x86_64 when it was chosen: about
//! 360 ns against 250 ns for the accept key), which a handshake (two
//! blocks) pays once.

/// Hashes `parts` as one message, with the processor's SHA-1 instructions
/// when it has them.
#[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    // The crate's compression function on blocks padded here: its
    // buffering `Digest` copied each part through a block buffer and
    // stalled on the copies (issue 9: the accept key 79 -> 75 ns, server handshake -2 %).
    hash_with(parts, |state, block| {
        ::sha1::block_api::compress(state, core::slice::from_ref(block));
    })
}

/// Hashes `parts` as one message.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    software_sha1(parts)
}

/// [`sha1()`] of a 60-byte message (a WebSocket key and the GUID, RFC 6455
/// §1.3): its two padded blocks laid out at once, the second a constant
/// (zeros and the length), and hashed in one call, where `sha1` copies the
/// parts into a block in pieces (server handshake: 8,156 -> 8,038
/// instructions, callgrind).
#[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn sha1_of_60(message: &[u8; 60]) -> [u8; 20] {
    const LAST: [u8; 64] = {
        let mut block = [0; 64];
        let bits = (60u64 * 8).to_be_bytes();
        let mut i = 0;
        while i < 8 {
            block[56 + i] = bits[i];
            i += 1;
        }
        block
    };
    let mut blocks = [[0u8; 64], LAST];
    blocks[0][..60].copy_from_slice(message);
    blocks[0][60] = 0x80;
    let mut state = INITIAL_STATE;
    ::sha1::block_api::compress(&mut state, &blocks);
    digest_of(state)
}

/// Hashes `parts` as one message in software.
#[cfg_attr(
    all(
        not(test),
        any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
    ),
    allow(dead_code)
)]
fn software_sha1(parts: &[&[u8]]) -> [u8; 20] {
    hash_with(parts, compress)
}

/// Hashes `parts` as one message (no copy of the parts into one buffer),
/// `compress` applying the compression function to each padded block.
#[inline(always)]
fn hash_with(parts: &[&[u8]], mut compress: impl FnMut(&mut [u32; 5], &[u8; 64])) -> [u8; 20] {
    let mut state = INITIAL_STATE;
    let mut block = [0u8; 64];
    let mut filled = 0;
    let mut total: u64 = 0;
    for part in parts {
        total = total.wrapping_add(part.len() as u64);
        let mut rest = *part;
        while !rest.is_empty() {
            let take = rest.len().min(64 - filled);
            let (now, later) = rest.split_at(take);
            block[filled..filled + take].copy_from_slice(now);
            filled += take;
            rest = later;
            if filled == 64 {
                compress(&mut state, &block);
                filled = 0;
            }
        }
    }
    // Padding: 0x80, zeros, then the length in bits in the last 8 bytes.
    block[filled] = 0x80;
    block[filled + 1..].fill(0);
    if filled >= 56 {
        compress(&mut state, &block);
        block = [0; 64];
    }
    block[56..].copy_from_slice(&total.wrapping_mul(8).to_be_bytes());
    compress(&mut state, &block);
    digest_of(state)
}

/// The state SHA-1 starts from (FIPS 180-4 §5.3.1).
const INITIAL_STATE: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// The digest: the final state, big-endian.
#[inline(always)]
fn digest_of(state: [u32; 5]) -> [u8; 20] {
    let mut digest = [0u8; 20];
    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// Word `i` of the message schedule, kept in a ring of 16 words.
#[inline(always)]
fn schedule(w: &mut [u32; 16], i: usize) -> u32 {
    if i < 16 {
        return w[i];
    }
    let x = (w[(i + 13) & 15] ^ w[(i + 8) & 15] ^ w[(i + 2) & 15] ^ w[i & 15]).rotate_left(1);
    w[i & 15] = x;
    x
}

/// The round function of rounds 0-19.
#[inline(always)]
fn choose(b: u32, c: u32, d: u32) -> u32 {
    d ^ (b & (c ^ d))
}

/// The round function of rounds 20-39 and 60-79.
#[inline(always)]
fn parity(b: u32, c: u32, d: u32) -> u32 {
    b ^ c ^ d
}

/// The round function of rounds 40-59.
#[inline(always)]
fn majority(b: u32, c: u32, d: u32) -> u32 {
    (b & c) | (d & (b | c))
}

/// The compression function on one 64-byte block (see the module docs
/// for where it runs and why it is written for size).
fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
    let mut w = [0u32; 16];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let [mut a, mut b, mut c, mut d, mut e] = *state;
    // One loop of single rounds: the smallest form (see the module docs).
    for i in 0..80 {
        let (f, k) = match i / 20 {
            0 => (choose(b, c, d), 0x5A82_7999),
            1 => (parity(b, c, d), 0x6ED9_EBA1),
            2 => (majority(b, c, d), 0x8F1B_BCDC),
            _ => (parity(b, c, d), 0xCA62_C1D6),
        };
        let t = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(schedule(&mut w, i));
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = t;
    }
    for (s, x) in state.iter_mut().zip([a, b, c, d, e]) {
        *s = s.wrapping_add(x);
    }
}

#[cfg(test)]
mod tests {
    use super::{sha1, software_sha1};

    /// Both implementations: the one in use and the software one.
    const BOTH: [Hash; 2] = [sha1, software_sha1];

    /// A SHA-1 implementation.
    type Hash = fn(&[&[u8]]) -> [u8; 20];

    fn hex(d: [u8; 20]) -> std::string::String {
        d.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    /// The 60-byte form gives what the general one gives, on messages
    /// with bytes of each bit pattern that matters at every position (and
    /// the RFC 6455 example).
    #[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn sixty_bytes_at_once_is_sha1() {
        let mut message = *b"dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
        assert_eq!(
            hex(super::sha1_of_60(&message)),
            "b37a4f2cc0624f1690f64606cf385945b2bec4ea"
        );
        for at in 0..60 {
            for byte in [0x00, 0x01, 0x5a, 0x7f, 0x80, 0xa5, 0xfe, 0xff] {
                message[at] = byte;
                assert_eq!(
                    super::sha1_of_60(&message),
                    sha1(&[&message]),
                    "{at} {byte}"
                );
                assert_eq!(
                    super::sha1_of_60(&message),
                    super::software_sha1(&[&message[..at], &message[at..]])
                );
            }
        }
    }

    /// FIPS 180-2 appendix A and RFC 3174 §7.3 test vectors.
    #[test]
    fn standard_vectors() {
        for sha1 in BOTH {
            standard_vectors_of(sha1);
        }
    }

    fn standard_vectors_of(sha1: Hash) {
        assert_eq!(
            hex(sha1(&[b"abc"])),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(sha1(&[b""])),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
        assert_eq!(hex(sha1(&[])), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        let two_blocks = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            hex(sha1(&[two_blocks])),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        let a = [b'a'; 1000];
        let million: std::vec::Vec<&[u8]> = (0..1000).map(|_| &a[..]).collect();
        assert_eq!(
            hex(sha1(&million)),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
        let rfc3174_4 = b"0123456701234567012345670123456701234567012345670123456701234567";
        let ten: std::vec::Vec<&[u8]> = (0..10).map(|_| &rfc3174_4[..]).collect();
        assert_eq!(hex(sha1(&ten)), "dea356a2cddd90c7a7ecedc5ebb563934f460452");
    }

    /// Against `sha1_smol` for every length across three blocks, split at
    /// every point into two parts.
    #[test]
    fn matches_sha1_smol() {
        for sha1 in BOTH {
            matches_sha1_smol_of(sha1);
        }
    }

    fn matches_sha1_smol_of(sha1: Hash) {
        let data: std::vec::Vec<u8> = (0..200u32).map(|i| (i * 167 + 13) as u8).collect();
        for len in 0..data.len() {
            let msg = &data[..len];
            let want = sha1_smol::Sha1::from(msg).digest().bytes();
            assert_eq!(sha1(&[msg]), want, "len {len}");
            for cut in 0..=len {
                assert_eq!(
                    sha1(&[&msg[..cut], &msg[cut..]]),
                    want,
                    "len {len} cut {cut}"
                );
            }
        }
    }
}
