//! Masking (RFC 6455 §5.3): XOR with a 4-byte key, in place, resumable at
//! any offset so a frame can be unmasked chunk by chunk.

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
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    let key = [
        key[shift],
        key[(shift + 1) % 4],
        key[(shift + 2) % 4],
        key[(shift + 3) % 4],
    ];
    // 32 bytes of key: a fixed-size inner loop the compiler turns into
    // vector XORs.
    let mut wide = [0u8; 32];
    for (i, b) in wide.iter_mut().enumerate() {
        *b = key[i % 4];
    }
    let mut chunks = data.chunks_exact_mut(32);
    for chunk in &mut chunks {
        for (d, k) in chunk.iter_mut().zip(wide.iter()) {
            *d ^= k;
        }
    }
    for (i, d) in chunks.into_remainder().iter_mut().enumerate() {
        *d ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
