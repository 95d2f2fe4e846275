//! Base64 (RFC 4648 §4) and base64url (§5), only in the shapes the
//! handshakes use: encoding whole inputs, and checking or decoding the
//! fixed-size values `Sec-WebSocket-Key` and `HTTP2-Settings` entries.
//!
//! The crate's own code instead of a dependency (issue 9: flash size);
//! decoding is strict like the `base64` crate's engines were: canonical
//! padding, no trailing bits set.

use crate::http1::ByteSet;

/// The standard alphabet; base64url replaces its last two characters.
const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// The URL-safe alphabet.
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Which alphabet and whether to pad.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alphabet {
    /// `+`, `/`, padded with `=` (RFC 4648 §4).
    Standard,
    /// `-`, `_`, no padding (RFC 4648 §5, as RFC 7540 §3.2.1 uses it).
    UrlNoPad,
}

impl Alphabet {
    /// The 64 characters.
    fn chars(self) -> &'static [u8; 64] {
        match self {
            Alphabet::Standard => STANDARD,
            Alphabet::UrlNoPad => URL,
        }
    }

    /// The 6-bit value of `c`, or `None` when `c` is not in the alphabet.
    fn value(self, c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' if self == Alphabet::Standard => 62,
            b'/' if self == Alphabet::Standard => 63,
            b'-' if self == Alphabet::UrlNoPad => 62,
            b'_' if self == Alphabet::UrlNoPad => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }
}

/// `true` when `c` is a character of the standard alphabet (not `=`).
pub(crate) fn is_standard_char(c: u8) -> bool {
    STANDARD_CHARS.contains(c)
}

const STANDARD_CHARS: ByteSet = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 64 {
        table[STANDARD[i] as usize] = true;
        i += 1;
    }
    ByteSet::of(&table)
};

/// Encodes `input` into the start of `out`, which must hold the encoding
/// (4 characters per 3 bytes, the last group padded to 4 with the standard
/// alphabet, cut short without padding with the URL one); returns its
/// length.
pub(crate) fn encode(input: &[u8], alphabet: Alphabet, out: &mut [u8]) -> usize {
    let chars = alphabet.chars();
    let char = |bits: u32, shift: u32| chars[(bits >> shift & 63) as usize];
    // Whole groups: three bytes in, four characters out, the output cut
    // into its quads up front so the loop has no bounds to check.
    let mut n = input.len() / 3 * 4;
    let mut groups = input.chunks_exact(3);
    for (group, quad) in (&mut groups).zip(out[..n].chunks_exact_mut(4)) {
        let bits = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        quad.copy_from_slice(&[char(bits, 18), char(bits, 12), char(bits, 6), char(bits, 0)]);
    }
    // One or two bytes left: two or three characters, then the padding.
    let rest = groups.remainder();
    if !rest.is_empty() {
        let bits = rest
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for (k, slot) in out[n..n + rest.len() + 1].iter_mut().enumerate() {
            *slot = char(bits, 18 - 6 * k as u32);
        }
        n += rest.len() + 1;
        if alphabet == Alphabet::Standard {
            for slot in &mut out[n..n + 3 - rest.len()] {
                *slot = b'=';
            }
            n += 3 - rest.len();
        }
    }
    n
}

/// Decodes exactly `N` bytes from `chars`, which must be exactly the
/// canonical encoding of `N` bytes (padded for the standard alphabet);
/// `None` otherwise.
pub(crate) fn decode_exact<const N: usize>(chars: &[u8], alphabet: Alphabet) -> Option<[u8; N]> {
    let data_chars = (N * 8).div_ceil(6);
    let pad = match alphabet {
        Alphabet::Standard => (4 - data_chars % 4) % 4,
        Alphabet::UrlNoPad => 0,
    };
    if chars.len() != data_chars + pad || chars[data_chars..].iter().any(|&c| c != b'=') {
        return None;
    }
    let mut out = [0u8; N];
    let mut acc = 0u32;
    let mut bits = 0;
    let mut n = 0;
    for &c in &chars[..data_chars] {
        acc = acc << 6 | alphabet.value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    // The bits of the last character beyond the data must be zero.
    if acc & ((1 << bits) - 1) != 0 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};

    fn enc(input: &[u8], alphabet: Alphabet) -> std::string::String {
        let mut out = [0u8; 64];
        let n = encode(input, alphabet, &mut out);
        std::string::String::from_utf8(out[..n].to_vec()).unwrap()
    }

    /// RFC 4648 §10.
    #[test]
    fn rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(enc(plain.as_bytes(), Alphabet::Standard), coded);
            assert_eq!(
                enc(plain.as_bytes(), Alphabet::UrlNoPad),
                coded.trim_end_matches('=')
            );
        }
        assert_eq!(
            decode_exact::<6>(b"Zm9vYmFy", Alphabet::Standard),
            Some(*b"foobar")
        );
        assert_eq!(
            decode_exact::<4>(b"Zm9vYg==", Alphabet::Standard),
            Some(*b"foob")
        );
        assert_eq!(
            decode_exact::<5>(b"Zm9vYmE=", Alphabet::Standard),
            Some(*b"fooba")
        );
        assert_eq!(
            decode_exact::<5>(b"Zm9vYmE", Alphabet::UrlNoPad),
            Some(*b"fooba")
        );
        assert_eq!(enc(&[0xfb, 0xff], Alphabet::Standard), "+/8=");
        assert_eq!(enc(&[0xfb, 0xff], Alphabet::UrlNoPad), "-_8");
    }

    /// A tiny deterministic generator for the comparisons below.
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// Against the `base64` crate: encoding of every length up to 40 with
    /// random bytes, and decoding of random near-valid strings.
    #[test]
    fn matches_base64_crate() {
        let mut seed = 0x2545_F491_4F6C_DD1D;
        for round in 0..2000 {
            let len = round % 41;
            let input: std::vec::Vec<u8> = (0..len).map(|_| next(&mut seed) as u8).collect();
            assert_eq!(enc(&input, Alphabet::Standard), B64.encode(&input));
            assert_eq!(enc(&input, Alphabet::UrlNoPad), B64URL.encode(&input));
        }
        // Keys: valid encodings with one character replaced (often by a
        // neighbour in the alphabet, to hit the trailing bits), or cut.
        let chars = b"AQgw+/-_=A0z9 Z\xff";
        for _ in 0..200_000 {
            let raw: [u8; 16] = core::array::from_fn(|_| next(&mut seed) as u8);
            let mut key = B64.encode(raw).into_bytes();
            let r = next(&mut seed);
            let at = (r % 24) as usize;
            match (r >> 8) % 4 {
                0 => {}
                1 => key[at] = chars[((r >> 16) % chars.len() as u64) as usize],
                2 => key[at] = key[at].wrapping_add(1),
                _ => key.truncate(at),
            }
            let mut buf = [0u8; 18];
            let want = matches!(B64.decode_slice(&key, &mut buf), Ok(16)).then_some(&buf[..16]);
            let got = decode_exact::<16>(&key, Alphabet::Standard);
            assert_eq!(got.as_ref().map(|g| &g[..]), want, "{key:?}");

            let raw6: [u8; 6] = core::array::from_fn(|_| next(&mut seed) as u8);
            let mut entry = B64URL.encode(raw6).into_bytes();
            let at = at % 8;
            match (r >> 8) % 4 {
                0 => {}
                1 => entry[at] = chars[((r >> 16) % chars.len() as u64) as usize],
                2 => entry[at] = entry[at].wrapping_add(1),
                _ => entry.truncate(at),
            }
            let mut buf = [0u8; 8];
            let want = matches!(B64URL.decode_slice(&entry, &mut buf), Ok(6)).then_some(&buf[..6]);
            let got = decode_exact::<6>(&entry, Alphabet::UrlNoPad);
            assert_eq!(got.as_ref().map(|g| &g[..]), want, "{entry:?}");
        }
    }
}
