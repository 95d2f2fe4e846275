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
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| tchar(b))
}

/// [`is_tchar`] by table lookup (for loops over many bytes).
#[inline]
pub(crate) fn tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// `is_tchar` for every byte, looked up instead of matched.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_tchar(b as u8);
        b += 1;
    }
    table
};

/// `true` when `v` may be sent as a field value: visible characters, SP,
/// HTAB and obs-text, with no leading or trailing whitespace.
pub fn is_field_value(v: &[u8]) -> bool {
    let ok = v
        .iter()
        .all(|&b| b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80);
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
            // Most elements have no quoted string: up to the first comma
            // unless a quote comes first.
            let end = match self.rest.iter().position(|&b| b == b',' || b == b'"') {
                Some(i) if self.rest[i] == b',' => i,
                Some(_) => end_outside_quotes(self.rest),
                None => self.rest.len(),
            };
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

/// `a == b` ignoring ASCII case: the crate's one copy of
/// `eq_ignore_ascii_case`. The length test is inlined, the byte loop is not
/// (issue 9: inlined at its 20 call sites it took 1.2 KiB of the firmware).
#[inline]
pub(crate) fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && same_ignoring_case(a, b)
}

/// [`eq_ignore_case`] for slices of equal length.
#[inline(never)]
fn same_ignoring_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
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

    #[test]
    fn quoted_commas_do_not_split() {
        let v: std::vec::Vec<&[u8]> = ListElements::new(br#"a; p="x,y", b"#).collect();
        assert_eq!(v, [&br#"a; p="x,y""#[..], &b"b"[..]]);
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
