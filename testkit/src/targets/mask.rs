//! The `mask` fuzz target: `apply_mask` (whose vector path is the crate's
//! one `unsafe` call) against the byte-by-byte definition of RFC 6455
//! §5.3, for any data, key, starting offset and split into pieces.
//!
//! Input: 4 bytes of key, 1 byte of starting offset, 1 byte `n` (cuts,
//! at most 7), `n` bytes of piece lengths (a length of 0 means 256), then
//! the data. Each piece is masked with the offset where it starts, as the
//! frame decoder does when a payload arrives in several reads.

/// Runs one input; panics when masking differs from the definition.
pub fn check(data: &[u8]) {
    let Some((&[k0, k1, k2, k3, start, cuts], rest)) = data.split_first_chunk::<6>() else {
        return;
    };
    let key = [k0, k1, k2, k3];
    let cuts = usize::from(cuts % 8).min(rest.len());
    let (lengths, payload) = rest.split_at(cuts);
    let start = u64::from(start);
    let expected: Vec<u8> = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[(i + start as usize) % 4])
        .collect();
    let mut masked = payload.to_vec();
    let mut at = 0;
    for &len in lengths {
        let len = if len == 0 { 256 } else { usize::from(len) };
        let end = (at + len).min(masked.len());
        protoswitch::ws::apply_mask(&mut masked[at..end], key, start + at as u64);
        at = end;
    }
    protoswitch::ws::apply_mask(&mut masked[at..], key, start + at as u64);
    assert_eq!(
        masked, expected,
        "key {key:?}, start {start}, cuts {lengths:?}"
    );
}
