//! Tokens and comma-separated lists (RFC 9110 §5.6).

/// `tchar` of RFC 9110 §5.6.2.
pub const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// `true` when `s` is a non-empty `token` (RFC 9110 §5.6.2).
///
/// ```
/// assert!(protoswitch::http1::is_token(b"websocket"));
/// assert!(!protoswitch::http1::is_token(b"web socket"));
/// assert!(!protoswitch::http1::is_token(b""));
/// ```
// A call on 32-bit targets: its loop was inlined at five call sites of the
// firmware (.text 24,064 -> 23,840 B); 64-bit targets inline it as before.
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| tchar(b))
}

/// The length of the token at the start of `s`: where its first byte
/// that is not a `tchar` is, or its length. A call on 32-bit targets
/// (three copies of the loop in the firmware's extension parsing); 64-bit
/// targets inline it.
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
pub(crate) fn token_len(s: &[u8]) -> usize {
    s.iter().position(|&b| !tchar(b)).unwrap_or(s.len())
}

/// [`is_tchar`] by table lookup (for loops over many bytes).
#[inline]
pub(crate) fn tchar(b: u8) -> bool {
    TCHAR.contains(b)
}

/// `is_tchar` for every byte, looked up instead of matched.
const TCHAR: ByteSet = byte_set_where!(c => is_tchar(c));

/// The [`ByteSet`] of the bytes `c` for which `pred` (an expression in
/// `c`) holds, built at compile time: `byte_set_where!(c => is_tchar(c))`.
/// (A macro: a `const fn` cannot call a predicate passed to it.)
macro_rules! byte_set_where {
    ($c:ident => $pred:expr) => {{
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let $c = b as u8;
            table[b] = $pred;
            b += 1;
        }
        $crate::http1::ByteSet::of(&table)
    }};
}
pub(crate) use byte_set_where;

/// A set of byte values, for loops over bytes. On 32-bit targets 256 bits
/// in 32 bytes of read-only data (a `[bool; 256]` takes 256; the firmware
/// has several), as eight 32-bit words: a lookup is a word load, a shift
/// and a mask (64-bit words needed a two-register shift at every lookup on
/// Cortex-M; firmware .text 27,256 -> 26,772 B); on 64-bit targets the `[bool; 256]` itself: one load a
/// lookup instead of a word load and a shift (about 60 lookups a
/// handshake; cachegrind, per handshake: server 9,470 -> 9,219
/// instructions, client 7,915 -> 7,780).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByteSet(Members);

#[cfg(target_pointer_width = "64")]
type Members = [bool; 256];
#[cfg(not(target_pointer_width = "64"))]
type Members = [u32; 8];

impl ByteSet {
    /// The bytes `b` for which `table[b]` (built at compile time).
    pub(crate) const fn of(table: &[bool; 256]) -> Self {
        #[cfg(target_pointer_width = "64")]
        let members = *table;
        #[cfg(not(target_pointer_width = "64"))]
        let members = bits_of(table);
        ByteSet(members)
    }

    /// `true` when `b` is in the set. A call on 32-bit targets, where the
    /// lookup is a few instructions more than a load and was inlined at
    /// five sites (firmware .text 16,336 -> 16,316 B).
    #[cfg_attr(target_pointer_width = "64", inline)]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub(crate) const fn contains(&self, b: u8) -> bool {
        #[cfg(target_pointer_width = "64")]
        let found = self.0[b as usize];
        #[cfg(not(target_pointer_width = "64"))]
        let found = bit_of(&self.0, b);
        found
    }
}

/// `table` as 256 bits, bit `b & 31` of word `b >> 5` for byte `b` (the
/// 32-bit [`ByteSet`]; built on every target for its test).
#[cfg(any(test, not(target_pointer_width = "64")))]
const fn bits_of(table: &[bool; 256]) -> [u32; 8] {
    let mut words = [0u32; 8];
    let mut b = 0;
    while b < 256 {
        if table[b] {
            words[b >> 5] |= 1 << (b & 31);
        }
        b += 1;
    }
    words
}

/// Bit `b` of `words` ([`bits_of`]).
#[cfg(any(test, not(target_pointer_width = "64")))]
#[inline]
const fn bit_of(words: &[u32; 8], b: u8) -> bool {
    words[(b >> 5) as usize] >> (b & 31) & 1 != 0
}

/// A byte of a field value or reason phrase (RFC 9110 §5.5, RFC 9112
/// §4): HTAB, SP, a visible character or obs-text.
pub(crate) const fn is_field_char(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff)
}

/// [`is_field_char`] by table lookup: one lookup a byte instead of four
/// range tests (a reason phrase is checked on every response).
#[inline]
pub(crate) fn field_char(b: u8) -> bool {
    FIELD_CHAR.contains(b)
}

/// `is_field_char` for every byte, looked up instead of matched.
const FIELD_CHAR: ByteSet = byte_set_where!(c => is_field_char(c));

/// `true` when `v` may be sent as a field value: visible characters, SP,
/// HTAB and obs-text, with no leading or trailing whitespace.
pub fn is_field_value(v: &[u8]) -> bool {
    let ok = v.iter().all(|&b| field_char(b));
    let trimmed =
        !matches!(v.first(), Some(b' ' | b'\t')) && !matches!(v.last(), Some(b' ' | b'\t'));
    ok && trimmed
}

/// Removes optional whitespace (SP, HTAB) on both sides.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The elements of a comma-separated list (RFC 9110 §5.6.1), trimmed of
/// whitespace, with empty elements skipped. Commas inside quoted strings do
/// not split.
///
/// ```
/// use protoswitch::http1::ListElements;
/// let v: Vec<&[u8]> = ListElements::new(b" keep-alive, ,Upgrade ").collect();
/// assert_eq!(v, [&b"keep-alive"[..], &b"Upgrade"[..]]);
/// ```
#[derive(Debug, Clone)]
pub struct ListElements<'a> {
    rest: &'a [u8],
}

impl<'a> ListElements<'a> {
    /// Iterates over the list in `value`.
    pub const fn new(value: &'a [u8]) -> Self {
        ListElements { rest: value }
    }
}

impl<'a> Iterator for ListElements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = if crate::SHORTCUTS {
                element_end(self.rest)
            } else {
                end_outside_quotes(self.rest)
            };
            // (The tests that prove the work linear count list elements.)
            #[cfg(test)]
            super::work::step();
            let element = trim_ows(&self.rest[..end]);
            self.rest = if end < self.rest.len() {
                &self.rest[end + 1..]
            } else {
                &[]
            };
            if !element.is_empty() {
                return Some(element);
            }
        }
    }
}

/// Whether the list in `value` is the one element `token` (ASCII case
/// ignored), known without splitting it: `value` equals `token`, which has
/// no comma, quote or whitespace, so [`ListElements`] would yield `value`
/// alone. For the usual values of an upgrade's list fields
/// (`Connection: Upgrade`, `Upgrade: websocket`): the split, a call a
/// byte, was about a tenth of a server handshake (issue 9). A shortcut
/// ([`crate::SHORTCUTS`]): without it always `false`, and the caller
/// splits the value.
#[inline]
pub(crate) fn is_only_element(value: &[u8], token: &[u8]) -> bool {
    crate::SHORTCUTS && eq_ignore_case(value, token)
}

/// [`end_outside_quotes`] for the usual element, which has no quoted
/// string: up to the first comma unless a quote comes first. A shortcut
/// ([`crate::SHORTCUTS`]; a test checks the two agree).
fn element_end(rest: &[u8]) -> usize {
    match rest.iter().position(|&b| LIST_STOP.contains(b)) {
        Some(i) if rest[i] == b',' => i,
        Some(_) => end_outside_quotes(rest),
        None => rest.len(),
    }
}

/// `,` and `"`, where an element may end ([`ListElements`]): one lookup
/// a byte instead of two comparisons.
const LIST_STOP: ByteSet = {
    let mut table = [false; 256];
    table[b',' as usize] = true;
    table[b'"' as usize] = true;
    ByteSet::of(&table)
};

/// Where the element at the start of `rest` ends: the first comma outside
/// a quoted string (with its escapes), or the end.
fn end_outside_quotes(rest: &[u8]) -> usize {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, &b) in rest.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if in_quote && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            in_quote = !in_quote;
        } else if b == b',' && !in_quote {
            return i;
        }
    }
    rest.len()
}

/// `true` when the list in `value` has an element equal to `token`, ignoring
/// ASCII case.
pub(crate) fn list_contains(value: &[u8], token: &[u8]) -> bool {
    ListElements::new(value).any(|e| eq_ignore_case(e, token))
}

/// `a == b`, for the method names and the `*` target the machines look
/// for.
#[cfg_attr(target_pointer_width = "64", inline(always))]
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
pub(crate) fn same_str(a: &str, b: &str) -> bool {
    same_str_in(a, b, crate::SHORTCUTS)
}

/// [`same_str`] with `==` when `memcmp` ([`crate::SHORTCUTS`]; the tests
/// run both ways), else a byte loop: `==` on strings calls `memcmp`,
/// which the firmware linked for these few short comparisons alone (with
/// the loop, out of line: firmware .text 16,316 -> 16,236 B).
#[inline(always)]
fn same_str_in(a: &str, b: &str, memcmp: bool) -> bool {
    if memcmp {
        return a == b;
    }
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// `a == b` ignoring ASCII case: the crate's one copy of
/// `eq_ignore_ascii_case`. On 32-bit targets this and the two
/// comparisons below are calls (their length test and call were inlined
/// at every site: firmware .text -68 B); 64-bit targets inline them.
#[cfg_attr(target_pointer_width = "64", inline)]
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && same_ignoring_case(a, b)
}

/// [`eq_ignore_case`] for slices of equal length, eight bytes at a time
/// (issue 9: the byte loop of `eq_ignore_ascii_case` took about 100
/// instructions for `websocket`, a tenth of the handshake). The last word
/// overlaps the one before when the length is not a multiple of eight;
/// four to seven bytes are two overlapping halves of one word.
///
/// Inlined: a dozen calls per handshake, 10 % of its time when called
/// (x86_64); on 32-bit targets it is `same_bytes`, behind the calls of
/// [`eq_ignore_case`].
#[inline]
fn same_ignoring_case(a: &[u8], b: &[u8]) -> bool {
    same_words(a, b, lowercase, lowercase)
}

/// `a == lower` ignoring ASCII case, where `lower` has no ASCII capitals
/// (a name from a table of lowercase names): only `a` is folded, half the
/// work of [`eq_ignore_case`] when `lower` is not a constant the compiler
/// folds itself (`Field::of`, seven calls per handshake: the server
/// handshake 10,914 -> 10,795 instructions, cachegrind).
#[cfg_attr(target_pointer_width = "64", inline)]
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
pub(crate) fn eq_lowercase(a: &[u8], lower: &[u8]) -> bool {
    debug_assert!(!lower.iter().any(u8::is_ascii_uppercase), "{lower:?}");
    a.len() == lower.len() && same_words(a, lower, lowercase, |w| w)
}

/// `a == lower` ignoring ASCII case, where `a` has no ASCII control
/// character (a token, or a field name as `scan_fields` reads it: bytes
/// `0x21..=0x7E`) and `lower` has only small letters, digits and `-`.
/// Setting bit 5 of each byte of `a` is then exact: it makes capitals
/// small, and the only other bytes it maps onto a letter, digit or `-`
/// are controls (`\r` onto `-`, 0x10–0x19 onto digits). One OR a word
/// instead of [`lowercase`]'s six operations: `Field::of_visible` on
/// every field line received.
#[cfg_attr(target_pointer_width = "64", inline)]
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
pub(crate) fn eq_visible_lowercase(a: &[u8], lower: &[u8]) -> bool {
    debug_assert!(!a.iter().any(u8::is_ascii_control), "{a:?}");
    debug_assert!(
        lower
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
        "{lower:?}"
    );
    const BIT5: u64 = u64::from_ne_bytes([0x20; 8]);
    a.len() == lower.len() && same_words(a, lower, |w| w | BIT5, |w| w)
}

/// The comparison of [`same_ignoring_case`] on 32-bit targets: one byte
/// loop shared by every caller, whatever the folds. Exact for all three
/// comparisons, as each of them equals `eq_ignore_ascii_case` (their tests
/// check it): the folds only make the 64-bit words cheaper. On the Cortex-M
/// firmware, where 64-bit word arithmetic takes register pairs and the
/// compared names are short, the words cost more flash than they save
/// time (firmware .text 26,772 -> 26,052 B).
#[cfg(not(target_pointer_width = "64"))]
#[inline]
fn same_words(
    a: &[u8],
    b: &[u8],
    _fold_a: impl Fn(u64) -> u64,
    _fold_b: impl Fn(u64) -> u64,
) -> bool {
    same_bytes(a, b)
}

/// `a == b` ignoring ASCII case, for slices of equal length, a byte at a
/// time ([`same_words`] on 32-bit targets; built on every target for its
/// test).
#[cfg(any(test, not(target_pointer_width = "64")))]
#[inline(never)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

/// The comparison of [`same_ignoring_case`] with `fold_a` and `fold_b`
/// applied to the words of `a` and `b`.
#[cfg(target_pointer_width = "64")]
#[inline]
fn same_words(
    a: &[u8],
    b: &[u8],
    fold_a: impl Fn(u64) -> u64,
    fold_b: impl Fn(u64) -> u64,
) -> bool {
    fn word4(s: &[u8], at: usize) -> u64 {
        let mut w = [0; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u64::from(u32::from_ne_bytes(w))
    }
    fn word8(s: &[u8], at: usize) -> u64 {
        let mut w = [0; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_ne_bytes(w)
    }
    let n = a.len();
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y)),
        4..8 => {
            let halves = |s: &[u8]| word4(s, 0) | word4(s, n - 4) << 32;
            fold_a(halves(a)) == fold_b(halves(b))
        }
        _ => {
            let mut at = 0;
            while at + 8 < n {
                if fold_a(word8(a, at)) != fold_b(word8(b, at)) {
                    return false;
                }
                at += 8;
            }
            fold_a(word8(a, n - 8)) == fold_b(word8(b, n - 8))
        }
    }
}

/// The eight bytes of `word` with ASCII capitals made small, every other
/// byte (non-ASCII included) unchanged: a byte is a capital when adding
/// `0x80 - b'A'` to its low seven bits carries into bit 7 and adding
/// `0x80 - b'Z' - 1` does not, and its own bit 7 is clear.
fn lowercase(word: u64) -> u64 {
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    const TO_A: u64 = u64::from_ne_bytes([0x80 - b'A'; 8]);
    const PAST_Z: u64 = u64::from_ne_bytes([0x80 - b'Z' - 1; 8]);
    let low = word & LOW7;
    let at_least_a = low + TO_A;
    let past_z = low + PAST_Z;
    let capital = at_least_a & !past_z & !word & HIGH;
    word | capital >> 2
}

/// Skips a `quoted-string` (RFC 9110 §5.6.4) at the start of `s` and
/// returns what follows it; `None` when there is none or it is malformed.
pub(crate) fn skip_quoted_string(s: &[u8]) -> Option<&[u8]> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let qdtext = |c: u8| c == b'\t' || (c >= 0x20 && c != 0x7f);
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(&s[i + 1..]),
            b'\\' if s.get(i + 1).is_some_and(|&c| qdtext(c)) => i += 2,
            c if qdtext(c) && c != b'\\' => i += 1,
            _ => return None,
        }
    }
    None
}

/// Splits `name[/version]` and checks that both parts are tokens
/// (RFC 9110 §7.8 `protocol`).
pub(crate) fn split_protocol(element: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    match element.iter().position(|&b| b == b'/') {
        None => is_token(element).then_some((element, None)),
        Some(i) => {
            let (name, version) = (&element[..i], &element[i + 1..]);
            (is_token(name) && is_token(version)).then_some((name, Some(version)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `is_only_element` claims of the values its callers give it,
    /// which is what makes the general path give the same: every spelling
    /// of `upgrade` and `websocket` (each letter in either case) is a list
    /// of itself alone, and `websocket` the WebSocket protocol without a
    /// version; values that merely start or end like them are not taken.
    #[test]
    fn only_element_is_the_whole_list() {
        for token in [&b"upgrade"[..], b"websocket"] {
            for case in 0u32..1 << token.len() {
                let value: std::vec::Vec<u8> = (token.iter().enumerate())
                    .map(|(i, &b)| {
                        if case >> i & 1 == 1 {
                            b.to_ascii_uppercase()
                        } else {
                            b
                        }
                    })
                    .collect();
                assert_eq!(is_only_element(&value, token), crate::SHORTCUTS);
                let elements: std::vec::Vec<&[u8]> = ListElements::new(&value).collect();
                assert_eq!(elements, [&value[..]]);
                assert_eq!(split_protocol(&value), Some((&value[..], None)));
                let kind = crate::upgrade::ProtocolKind::of(&value, false);
                let websocket = kind == crate::upgrade::ProtocolKind::WebSocket;
                assert_eq!(websocket, token == b"websocket", "{value:?}");
            }
        }
        for other in [
            &b"websocket/13"[..],
            b"websocket,h2c",
            b"websockets",
            b"websocke",
            b"\"websocket\"",
            b"upgrade,close",
            b"upgrad",
            b"",
        ] {
            assert!(!is_only_element(other, b"websocket"), "{other:?}");
            assert!(!is_only_element(other, b"upgrade"), "{other:?}");
        }
    }

    /// The byte loop of `same_str` agrees with `==`: words of equal
    /// length differing at each position (the last included), of other
    /// lengths, empty, non-ASCII.
    #[test]
    fn same_str_agrees_with_eq() {
        let mut words = std::vec![
            "", "*", "GET", "GE", "GETS", "get", "HEAD", "CONNECT", "OPTIONS", "é", "è",
        ];
        // Each differs from a method in one byte only, at every position.
        words.extend([
            "XET", "GXT", "GEX", "GEt", "XEAD", "HXAD", "HEXD", "HEAX", "CONNECX", "CONNEXT",
            "OPTIONZ", "OPTIONs",
        ]);
        for a in &words {
            for b in &words {
                assert_eq!(same_str_in(a, b, false), a == b, "{a:?} {b:?}");
            }
        }
        // And `same_str` itself, whichever way this target compares.
        for (a, b) in [("GET", "GET"), ("GET", "GEX"), ("HEAD", "HEAX"), ("", "")] {
            assert_eq!(same_str(a, b), a == b, "{a:?} {b:?}");
        }
    }

    /// The word-at-a-time comparison agrees with `eq_ignore_ascii_case`
    /// for every pair of byte values at every position and length.
    #[test]
    fn case_blind_comparison_agrees_with_std() {
        let base = b"Sec-WebSocket-Extensions";
        for len in 0..=base.len() {
            let a = &base[..len];
            for i in 0..len {
                for x in 0..=255u8 {
                    for y in [
                        x,
                        x ^ 0x20,
                        a[i],
                        a[i] ^ 0x20,
                        b'@',
                        b'[',
                        b'`',
                        b'{',
                        0xc1,
                        0xe1,
                    ] {
                        let (mut p, mut q) = (a.to_vec(), a.to_vec());
                        p[i] = x;
                        q[i] = y;
                        assert_eq!(
                            eq_ignore_case(&p, &q),
                            p.eq_ignore_ascii_case(&q),
                            "{p:?} {q:?}"
                        );
                    }
                }
            }
        }
    }

    /// The one-sided comparison agrees with `eq_ignore_ascii_case` for
    /// every byte value at every position and length, against a lowercase
    /// name.
    #[test]
    fn comparison_with_a_lowercase_name_agrees_with_std() {
        let lower = b"sec-websocket-extensions";
        for len in 0..=lower.len() {
            let b = &lower[..len];
            for i in 0..len {
                for x in 0..=255u8 {
                    let mut a = b.to_vec();
                    a[i] = x;
                    assert_eq!(eq_lowercase(&a, b), a.eq_ignore_ascii_case(b), "{a:?}");
                    assert!(!eq_lowercase(&a, &lower[..len.saturating_sub(1)]));
                }
            }
        }
    }

    /// The comparison of a name without controls with a lowercase name
    /// agrees with `eq_ignore_ascii_case` for every byte but the controls
    /// (tokens, and the visible bytes and non-ASCII of `scan_fields`'s
    /// names) at every position of names made of every byte such a name
    /// may have.
    #[test]
    fn visible_comparison_agrees_with_std() {
        let lower = b"abcdefghijklmnopqrstuvwxyz-0123456789-sec-websocket";
        for len in 1..=lower.len() {
            for start in [0, lower.len() - len] {
                let b = &lower[start..start + len];
                for i in 0..len {
                    for x in (0..=255u8).filter(|x| !x.is_ascii_control()) {
                        let mut a = b.to_vec();
                        a[i] = x;
                        assert_eq!(
                            eq_visible_lowercase(&a, b),
                            a.eq_ignore_ascii_case(b),
                            "{a:?} {b:?}"
                        );
                    }
                }
            }
        }
    }

    /// The byte loop of 32-bit targets agrees with `eq_ignore_ascii_case`
    /// for every pair of byte values at every position and length.
    #[test]
    fn byte_comparison_agrees_with_std() {
        let base = b"Sec-WebSocket-Key";
        for len in 0..=base.len() {
            let a = &base[..len];
            for i in 0..len {
                for x in 0..=255u8 {
                    for y in [x, x ^ 0x20, a[i], a[i] ^ 0x20, b'@', b'[', 0xc1, 0xe1] {
                        let (mut p, mut q) = (a.to_vec(), a.to_vec());
                        p[i] = x;
                        q[i] = y;
                        assert_eq!(
                            same_bytes(&p, &q),
                            p.eq_ignore_ascii_case(&q),
                            "{p:?} {q:?}"
                        );
                    }
                }
            }
        }
    }

    /// The 32-bit form of a byte set holds exactly the bytes of its table,
    /// for tables of every density and pattern.
    #[test]
    fn bit_sets_hold_exactly_their_bytes() {
        let tables: [fn(u8) -> bool; 6] = [
            |_| false,
            |_| true,
            is_tchar,
            is_field_char,
            |b| b % 3 == 0,
            |b| b.count_ones() == 1 || b == 63 || b == 64 || b == 191,
        ];
        for rule in tables {
            let mut table = [false; 256];
            for b in 0..=255u8 {
                table[usize::from(b)] = rule(b);
            }
            let bits = bits_of(&table);
            for b in 0..=255u8 {
                assert_eq!(bit_of(&bits, b), rule(b), "{b}");
            }
        }
    }

    #[test]
    fn byte_sets_hold_exactly_their_bytes() {
        for b in 0..=255u8 {
            assert_eq!(tchar(b), is_tchar(b), "{b}");
            assert_eq!(field_char(b), is_field_char(b), "{b}");
            assert_eq!(LIST_STOP.contains(b), b == b',' || b == b'"', "{b}");
            // The definition, as the checks it replaces wrote it.
            let listed = b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80;
            assert_eq!(is_field_char(b), listed, "{b}");
        }
    }

    /// The shortcut to an element's end agrees with the full search on
    /// every string of up to seven characters that matter.
    #[test]
    fn element_end_shortcut_agrees() {
        for s in crate::strings_over(b"a, \"\\", 7) {
            assert_eq!(element_end(&s), end_outside_quotes(&s), "{s:?}");
        }
    }

    #[test]
    fn quoted_commas_do_not_split() {
        let v: std::vec::Vec<&[u8]> = ListElements::new(br#"a; p="x,y", b"#).collect();
        assert_eq!(v, [&br#"a; p="x,y""#[..], &b"b"[..]]);
    }

    #[test]
    fn token_prefix_length() {
        assert_eq!(token_len(b""), 0);
        assert_eq!(token_len(b"deflate"), 7);
        assert_eq!(token_len(b"server_max_window_bits=10"), 22);
        assert_eq!(token_len(b"a b"), 1);
        assert_eq!(token_len(b";x"), 0);
        assert_eq!(token_len(b"ab\xc3\xa9"), 2);
    }

    #[test]
    fn protocol_split() {
        assert_eq!(split_protocol(b"h2c"), Some((&b"h2c"[..], None)));
        assert_eq!(
            split_protocol(b"echo/1"),
            Some((&b"echo"[..], Some(&b"1"[..])))
        );
        assert_eq!(split_protocol(b"echo/"), None);
        assert_eq!(split_protocol(b"/1"), None);
        assert_eq!(split_protocol(b"a b"), None);
    }

    #[test]
    fn quoted_string() {
        assert_eq!(skip_quoted_string(br#""a\"b" x"#), Some(&b" x"[..]));
        assert_eq!(skip_quoted_string(br#""a\\" x"#), Some(&b" x"[..]));
        assert_eq!(skip_quoted_string(br#""abc\"" x"#), Some(&b" x"[..]));
        assert_eq!(skip_quoted_string(b"\"\t \x80\" x"), Some(&b" x"[..]));
        assert_eq!(skip_quoted_string(br#""""#), Some(&b""[..]));
        assert_eq!(skip_quoted_string(br#""open"#), None);
        assert_eq!(skip_quoted_string(br#"x"a""#), None);
        assert_eq!(
            skip_quoted_string(br#""a"#),
            None,
            "an escape with nothing after"
        );
        assert_eq!(
            skip_quoted_string(b"\"a\\\x01\""),
            None,
            "an escaped control"
        );
        assert_eq!(
            skip_quoted_string(b"\"a\x01\""),
            None,
            "a control character"
        );
        assert_eq!(skip_quoted_string(b"\"a\x7f\""), None, "DEL");
    }

    #[test]
    fn field_values_to_send() {
        assert!(is_field_value(b"a b\tc\x80"));
        assert!(is_field_value(b""));
        for bad in [
            &b" a"[..],
            b"a ",
            b"\ta",
            b"a\t",
            b"a\r\nb",
            b"a\x00",
            b"a\x7f",
        ] {
            assert!(!is_field_value(bad), "{bad:?}");
        }
    }
}
