//! Masking (RFC 6455 §5.3): XOR with a 4-byte key, in place, resumable at
//! any offset so a frame can be unmasked chunk by chunk.

/// 32-bit targets without vector registers (the firmware's Cortex-M among
/// them) mask with one loop of 32-bit words ([`xor_words`]), the smallest
/// code: the 64-bit lanes and 32-byte blocks are two registers wide there
/// and no faster (issue 9: firmware .text 22,652 -> 22,224 B). Where NEON,
/// simd128 or SSE2 can vectorize the blocks, they stay. (A constant, not
/// a `cfg`: both paths compile everywhere, one is left out.)
const WORD_LOOP: bool = cfg!(all(
    target_pointer_width = "32",
    not(any(
        target_feature = "neon",
        target_feature = "simd128",
        target_feature = "sse2"
    ))
));

/// XORs `data` with `key`, where `data` starts at byte `offset` of the
/// frame payload. Applying it twice restores the data.
///
/// ```
/// use protoswitch::ws::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
/// // In two pieces, resuming at offset 2:
/// let (a, b) = data.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let shift = (offset % 4) as u32;
    // The key as the payload meets it at `offset`: rotated by the phase.
    let word = u32::from_le_bytes(key).rotate_right(8 * shift);
    if WORD_LOOP {
        xor_words(data, word);
    } else if data.len() < 32 {
        xor_short(data, word);
    } else if !simd::xor_long(data, word) {
        xor_long(data, word);
    }
}

/// XORs `data` four bytes at a time with the key `word`, then the last
/// few one by one (the phase is unchanged after whole words): the masking
/// of [`WORD_LOOP`] targets.
fn xor_words(data: &mut [u8], word: u32) {
    let key = word.to_le_bytes();
    let native = u32::from_ne_bytes(key);
    let mut fours = data.chunks_exact_mut(4);
    for four in &mut fours {
        let xored = u32::from_ne_bytes([four[0], four[1], four[2], four[3]]) ^ native;
        four.copy_from_slice(&xored.to_ne_bytes());
    }
    for (d, k) in fours.into_remainder().iter_mut().zip(key) {
        *d ^= k;
    }
}

/// Fewer than 32 bytes (small frames, control frames, chunk edges): eight
/// at a time, the last few (under eight) as one more eight overlapping
/// the last whole one ([`xor_blocks_then_tail`]: no byte loop, 20 bytes
/// are three XORs, echo_ir 942 -> 928 instructions per 20-byte echo).
/// Under eight bytes, [`xor_words`]. Always inlined, as the decoder calls
/// it for every small frame and a call costs as much as the work.
#[inline(always)]
fn xor_short(data: &mut [u8], word: u32) {
    if data.len() < 8 {
        xor_words(data, word);
    } else {
        xor_blocks_then_tail::<8>(data, word, xor_eights);
    }
}

/// The key bytes twice over, as a native-endian word: XORed with eight
/// payload bytes read natively, each byte meets its key byte. Made by
/// arithmetic (a move, a shift, an or) so that vector code broadcasts it
/// in one instruction; built byte by byte, the compiler assembled it with
/// a dozen inserts on every call.
#[inline(always)]
fn lane(word: u32) -> u64 {
    let native = u64::from(u32::from_ne_bytes(word.to_le_bytes()));
    native << 32 | native
}

/// XORs every eight bytes of `data` (a multiple of eight bytes long) with
/// the key `word` repeated (one 64-bit lane, in a register), one flat
/// loop over words: the short path's blocks.
#[inline(always)]
fn xor_eights(data: &mut [u8], word: u32) {
    let lane = lane(word);
    for eight in data.chunks_exact_mut(8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(eight);
        eight.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ lane).to_ne_bytes());
    }
}

/// 32 bytes and more, with the compile-time target's vectors (what the
/// run-time dispatch of [`simd::xor_long`] did not take).
#[inline(never)]
fn xor_long(data: &mut [u8], word: u32) {
    xor_blocks_then_tail::<32>(data, word, xor_wide);
}

/// `N` bytes and more: the whole `N`-byte blocks with `blocks`, then the
/// last partial block (if any) as one more block overlapping the last
/// whole one — written again from the original bytes, so with the same
/// result — instead of a byte loop over up to `N - 1`. The long paths
/// (32-byte blocks) and the short one (eights).
#[inline(always)]
fn xor_blocks_then_tail<const N: usize>(
    data: &mut [u8],
    word: u32,
    blocks: impl Fn(&mut [u8], u32),
) {
    let len = data.len();
    let whole = len - len % N;
    if whole == len {
        blocks(data, word);
        return;
    }
    // The last N bytes as received, kept before the blocks change.
    let at = len - N;
    let mut last = [0; N];
    last.copy_from_slice(&data[at..]);
    blocks(&mut data[..whole], word);
    blocks(&mut last, word.rotate_right(8 * (at % 4) as u32));
    data[at..].copy_from_slice(&last);
}

/// XORs every 32-byte block of `data` (a multiple of 32 bytes long) with
/// the key `word` repeated: the portable loop, vectorized for the
/// compile-time target. The key is made here from the word, in registers
/// (built in memory by the caller, reading it back stalled on store
/// forwarding: half the time of a 1 KiB frame).
#[inline(always)]
fn xor_wide(data: &mut [u8], word: u32) {
    let lane = lane(word);
    for chunk in data.chunks_exact_mut(32) {
        for eight in chunk.chunks_exact_mut(8) {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(eight);
            eight.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ lane).to_ne_bytes());
        }
    }
}

/// The same loops compiled for AVX2 and (with rustc 1.89 or later, see
/// `build.rs`) AVX-512, chosen at run time (with `std`, on x86_64): two and
/// four times the width of the baseline SSE2. The one module of the crate
/// allowed `unsafe`: calling a function compiled for a CPU feature.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[allow(unsafe_code)]
mod simd {
    /// `xor_long` with the widest vectors the CPU has (`false`: not done,
    /// the caller's portable `xor_long` does it). Inlined into
    /// `apply_mask`: between the caller and the vector loop there is one
    /// call, to the function compiled for the feature (issue 9: with the
    /// feature check inside `xor_long` and a second call, a 1 KiB frame
    /// spent about 2.5 ns in calls on top of 6.5 ns of XOR, AMD EPYC).
    #[inline(always)]
    pub(super) fn xor_long(data: &mut [u8], word: u32) -> bool {
        // Short data is not worth the call and the feature check (the
        // baseline loop does 96 bytes in fewer instructions).
        if data.len() < 128 {
            return false;
        }
        // AVX-512 from 256 bytes (four 64-byte vectors a turn): below
        // that its aligned loop does little beside its first and last
        // vectors, and AVX2 does as well.
        #[cfg(protoswitch_avx512)]
        if data.len() >= 256 && std::is_x86_feature_detected!("avx512f") {
            // SAFETY: `xor_long_avx512` needs AVX-512F, which the CPU was
            // just found to have, and 64 bytes or more (256 here).
            unsafe { xor_long_avx512(data, word) };
            return true;
        }
        if !std::is_x86_feature_detected!("avx2") {
            return false;
        }
        // SAFETY: `xor_long_avx2` needs AVX2, and the CPU was just found
        // to have it; the function itself is safe code.
        unsafe { xor_long_avx2(data, word) };
        true
    }

    /// `xor_long` compiled for AVX2.
    ///
    /// # Safety
    ///
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn xor_long_avx2(data: &mut [u8], word: u32) {
        super::xor_blocks_then_tail::<32>(data, word, super::xor_wide);
    }

    /// At least 64 bytes with AVX-512, written with intrinsics so that
    /// nothing in it reads memory the loop may just have written: the
    /// compiler's form spilled registers around its loop and kept the
    /// last 32 bytes on the stack, and those loads after a kilobyte of
    /// stores stalled (as if dependent on them when their addresses agree
    /// modulo 4 KiB): a 1 KiB payload streamed through a 64 KiB buffer
    /// took 9.0 ns against 6.3 ns for this form (AMD EPYC).
    ///
    /// The loop stores at 64-byte boundaries: a payload rarely starts at
    /// one (frames follow each other in the buffer), and every unaligned
    /// 64-byte store straddles two cache lines, which costs two stores.
    /// The first and last 64 bytes are XORed apart from the loop, from
    /// registers loaded before it: where they overlap its blocks they are
    /// written again from the original bytes, so with the same result.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F, and `data` is at least 64 bytes long (the
    /// first and last 64 bytes are read whole; `xor_long` calls it from
    /// 256).
    #[cfg(protoswitch_avx512)]
    #[target_feature(enable = "avx512f")]
    // The AVX-512 intrinsics are stable since 1.89, as the target feature
    // is: `build.rs` sets `protoswitch_avx512` from that version on.
    #[allow(clippy::incompatible_msrv)]
    pub(super) unsafe fn xor_long_avx512(data: &mut [u8], word: u32) {
        use core::arch::x86_64::{
            __m512i, _mm512_load_si512, _mm512_loadu_si512, _mm512_set1_epi32, _mm512_store_si512,
            _mm512_storeu_si512, _mm512_xor_si512,
        };
        let len = data.len();
        // The contract above; checked here too (one comparison a call),
        // so that a wrong caller panics instead of reading out of bounds.
        assert!(len >= 64, "xor_long_avx512 needs 64 bytes or more");
        let p = data.as_mut_ptr();
        // The key bytes in memory order, repeated in every 32-bit lane,
        // as the payload meets it `at` bytes in.
        let key_at = |at: usize| {
            let word = word.rotate_right(8 * (at % 4) as u32);
            _mm512_set1_epi32(i32::from_ne_bytes(word.to_le_bytes()))
        };
        let last_at = len - 64;
        // SAFETY: `0 + 64 <= len` and `last_at + 64 == len`: inside
        // `data`; unaligned loads.
        let (first, last) = unsafe {
            (
                _mm512_loadu_si512(p.cast::<__m512i>()),
                _mm512_loadu_si512(p.add(last_at).cast::<__m512i>()),
            )
        };
        // The first 64-byte boundary after the start: 1 to 64 bytes in.
        let mut at = 64 - (p as usize) % 64;
        let key = key_at(at);
        // Four aligned vectors a turn, then one at a time.
        while at + 256 <= len {
            for v in 0..4 {
                // SAFETY: `at + 64 v + 64 <= at + 256 <= len`; `p + at` is
                // 64-byte aligned and `at + 64 v` stays so.
                unsafe {
                    let q = p.add(at + 64 * v).cast::<__m512i>();
                    _mm512_store_si512(q, _mm512_xor_si512(_mm512_load_si512(q), key));
                }
            }
            at += 256;
        }
        while at + 64 <= len {
            // SAFETY: `at + 64 <= len`; aligned as above.
            unsafe {
                let q = p.add(at).cast::<__m512i>();
                _mm512_store_si512(q, _mm512_xor_si512(_mm512_load_si512(q), key));
            }
            at += 64;
        }
        // The loop covered `[64 - p % 64, at)` with `len - at < 64`: the
        // first and last 64 bytes cover the rest.
        // SAFETY: as for the loads of `first` and `last`.
        unsafe {
            _mm512_storeu_si512(p.cast::<__m512i>(), _mm512_xor_si512(first, key_at(0)));
            _mm512_storeu_si512(
                p.add(last_at).cast::<__m512i>(),
                _mm512_xor_si512(last, key_at(last_at)),
            );
        }
    }
}

/// Without `std` (no run-time detection) or off x86_64, the compile-time
/// target's vectors only.
#[cfg(not(all(feature = "std", target_arch = "x86_64")))]
mod simd {
    #[inline(always)]
    pub(super) fn xor_long(_: &mut [u8], _: u32) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length and offset (the vector path starts at 128 bytes)
    /// against the byte-by-byte definition of RFC 6455 §5.3.
    #[test]
    fn every_length_and_offset_matches_bytewise() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let original: std::vec::Vec<u8> = (0..700u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..8 {
            for len in (0..300).chain([511, 512, 513, 640]) {
                for offset in 0..4u64 {
                    let mut data = original[start..start + len].to_vec();
                    apply_mask(&mut data, key, offset);
                    let expected: std::vec::Vec<u8> = original[start..start + len]
                        .iter()
                        .enumerate()
                        .map(|(i, b)| b ^ key[(i + offset as usize) % 4])
                        .collect();
                    assert_eq!(data, expected, "start {start} len {len} offset {offset}");
                }
            }
        }
    }

    /// Each long-data kernel this machine can run, called directly (the
    /// dispatch picks one per length and CPU), every length 32-700 and
    /// phase, at several alignments (every one around the block sizes),
    /// against the bytewise definition.
    #[test]
    // Calls the feature-compiled kernels as `simd::xor_long` does, after
    // the same checks.
    #[allow(unsafe_code)]
    fn every_long_kernel_matches_bytewise() {
        type Kernel = fn(&mut [u8], u32);
        // Without `std` (no run-time detection) only the portable one.
        #[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), allow(unused_mut))]
        let mut kernels: std::vec::Vec<(&str, Kernel)> = std::vec![("portable", xor_long)];
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                kernels.push(("avx2", |d, w| unsafe { simd::xor_long_avx2(d, w) }));
            }
            #[cfg(protoswitch_avx512)]
            if std::is_x86_feature_detected!("avx512f") {
                // Its contract is 64 bytes or more: shorter data (32-63
                // here) goes to the portable kernel.
                kernels.push(("avx512", |d, w| {
                    if d.len() < 64 {
                        return xor_long(d, w);
                    }
                    // SAFETY: the CPU has AVX-512F, and `d` is 64 bytes
                    // or more.
                    unsafe { simd::xor_long_avx512(d, w) }
                }));
            }
        }
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let original: std::vec::Vec<u8> = (0..720u32).map(|i| (i * 7 + 3) as u8).collect();
        // The data is placed at distances from a 64-byte boundary (the
        // AVX-512 kernel's loop starts at the first one): all 64 of them
        // for lengths around the kernels' block sizes, 0-3, 13 and 63 for
        // every other length.
        let mut scratch = std::vec![0u8; 720 + 128];
        let base = (64 - scratch.as_ptr() as usize % 64) % 64;
        let around_blocks = [
            32, 63, 64, 65, 127, 128, 129, 255, 256, 257, 319, 320, 321, 700,
        ];
        for (name, kernel) in kernels {
            for len in 32..=700 {
                let misalignments = if around_blocks.contains(&len) {
                    0..64
                } else {
                    0..4
                };
                for misaligned in misalignments
                    .chain([13, 63])
                    .collect::<std::collections::BTreeSet<_>>()
                {
                    for offset in 0..4u32 {
                        let at = base + misaligned;
                        let data = &mut scratch[at..at + len];
                        data.copy_from_slice(&original[..len]);
                        kernel(data, u32::from_le_bytes(key).rotate_right(8 * offset));
                        let expected: std::vec::Vec<u8> = original[..len]
                            .iter()
                            .enumerate()
                            .map(|(i, b)| b ^ key[(i + offset as usize) % 4])
                            .collect();
                        assert_eq!(
                            data, expected,
                            "{name} {misaligned} bytes past a 64-byte boundary, len {len}, offset {offset}"
                        );
                    }
                }
            }
        }
    }

    /// The 32-bit targets' loop, every length and phase, against the
    /// byte-by-byte definition.
    #[test]
    fn word_loop_matches_bytewise() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let original: std::vec::Vec<u8> = (0..70u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..original.len() {
            for offset in 0..4u32 {
                let mut data = original[..len].to_vec();
                xor_words(&mut data, u32::from_le_bytes(key).rotate_right(8 * offset));
                let expected: std::vec::Vec<u8> = original[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(i + offset as usize) % 4])
                    .collect();
                assert_eq!(data, expected, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn any_split_matches_bytewise() {
        let key = [1, 2, 3, 250];
        let original: std::vec::Vec<u8> = (0..200u8).collect();
        let expected: std::vec::Vec<u8> = original
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        for split in 0..original.len() {
            let mut data = original.clone();
            let (a, b) = data.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split as u64);
            assert_eq!(data, expected, "split {split}");
        }
    }
}
