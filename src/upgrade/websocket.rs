//! The WebSocket opening handshake rules (RFC 6455 §4, §11).

use super::base64::{Alphabet, encode, is_standard_char};
use super::sha1::sha1;
use crate::error::PeerErrorKind;
use crate::http1::{
    Field, Headers, ListElements, RequestHead, is_token, same_str, skip_quoted_string, trim_ows,
};

/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
pub const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only WebSocket version this crate speaks.
pub const WEBSOCKET_VERSION: &str = "13";

/// SHA-1 of `key` and the GUID. A valid key is 24 bytes (16 in base64):
/// with the shortcuts ([`crate::SHORTCUTS`]) its 60-byte message is hashed
/// at once ([`sha1_of_60`](super::sha1::sha1_of_60)); other keys (and
/// every key on 32-bit targets, for flash) as two parts.
fn key_digest(key: &[u8]) -> [u8; 20] {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64"))]
    if let (true, Ok(key)) = (crate::SHORTCUTS, <&[u8; 24]>::try_from(key)) {
        let mut message = [0u8; 60];
        message[..24].copy_from_slice(key);
        message[24..].copy_from_slice(WEBSOCKET_GUID);
        return super::sha1::sha1_of_60(&message);
    }
    sha1(&[key, WEBSOCKET_GUID])
}

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §1.3).
///
/// ```
/// let accept = protoswitch::upgrade::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(&accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let digest = key_digest(key);
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28 characters.
    let n = encode(&digest, Alphabet::Standard, &mut out);
    debug_assert_eq!(n, 28);
    out
}

/// Builds a `Sec-WebSocket-Key` from 16 random bytes the caller supplies
/// (RFC 6455 §4.1: a fresh nonce per connection).
///
/// ```
/// let key = protoswitch::upgrade::websocket_key([0x42; 16]);
/// assert_eq!(&key, b"QkJCQkJCQkJCQkJCQkJCQg==");
/// ```
pub fn websocket_key(entropy: [u8; 16]) -> [u8; 24] {
    let mut out = [0u8; 24];
    let n = encode(&entropy, Alphabet::Standard, &mut out);
    debug_assert_eq!(n, 24);
    out
}

/// `true` when `key` is base64 of exactly 16 bytes (RFC 6455 §4.2.1 item 5),
/// canonically encoded: 22 characters and `==`, the 22nd carrying two bits
/// of data and four zero bits (so `A`, `Q`, `g` or `w`).
pub fn is_valid_key(key: &[u8]) -> bool {
    match key {
        [data @ .., last, b'=', b'='] if data.len() == 21 => {
            data.iter().all(|&c| is_standard_char(c)) && matches!(last, b'A' | b'Q' | b'g' | b'w')
        }
        _ => false,
    }
}

/// A WebSocket offer in a request, validated, borrowed from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketOffer<'b> {
    headers: Headers<'b>,
}

impl<'b> WebSocketOffer<'b> {
    pub(crate) fn new(headers: Headers<'b>) -> Self {
        WebSocketOffer { headers }
    }

    /// `Sec-WebSocket-Key`.
    pub fn key(&self) -> &'b [u8] {
        self.headers
            .values(Field::SecWebSocketKey)
            .next()
            .unwrap_or(b"")
    }

    /// `Origin`, if sent (browsers always send it; RFC 6455 §10.2).
    pub fn origin(&self) -> Option<&'b str> {
        self.headers.get_str("origin")
    }

    /// The subprotocols offered, in the client's preference order.
    pub fn subprotocols(&self) -> impl Iterator<Item = &'b str> + use<'b> {
        self.headers
            .elements(Field::SecWebSocketProtocol)
            .map(|p| core::str::from_utf8(p).unwrap_or(""))
    }

    /// `true` when the client offered `name` (exact match: subprotocol
    /// names are case-sensitive, RFC 6455 §11.3.4).
    pub fn offers_subprotocol(&self, name: &str) -> bool {
        self.subprotocols().any(|p| p == name)
    }

    /// The extensions offered, in order, with their parameters.
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'b>> + use<'b> {
        self.headers
            .elements(Field::SecWebSocketExtensions)
            .filter_map(Extension::parse)
    }
}

/// One extension offer or selection: `name; param; param=value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'b> {
    name: &'b str,
    params: &'b [u8],
}

impl<'b> Extension<'b> {
    /// Parses one list element; `None` when malformed.
    pub fn parse(element: &'b [u8]) -> Option<Self> {
        let (name, params) = split_extension(element)?;
        Some(Extension {
            name: core::str::from_utf8(name).ok()?,
            params,
        })
    }

    /// The extension name, e.g. `permessage-deflate`.
    pub fn name(&self) -> &'b str {
        self.name
    }

    /// Parameters as `(name, value)`; a quoted value keeps its quotes.
    pub fn params(&self) -> impl Iterator<Item = (&'b str, Option<&'b str>)> + use<'b> {
        let mut rest = self.params;
        core::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let (name, value, after) = next_param(rest)?;
            rest = after;
            Some((name, value))
        })
    }
}

/// Splits a well-formed extension element into its name and its
/// parameters (every one validated once, so iteration can trust them: a
/// token name, a token or quoted-string value in UTF-8); `None` when
/// malformed.
fn split_extension(element: &[u8]) -> Option<(&[u8], &[u8])> {
    // `OWS token OWS` up to the first `;` (or the end), in one pass.
    let start = element
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(element.len());
    let name_len = crate::http1::token_len(&element[start..]);
    let name = &element[start..start + name_len];
    let after = trim_ows(&element[start + name_len..]);
    if name.is_empty() || !matches!(after.first(), None | Some(b';')) {
        return None;
    }
    let params = after;
    let mut rest = params;
    while !rest.is_empty() {
        let (_, value, after) = next_param_bytes(rest)?;
        // Names are tokens (ASCII); a quoted value may hold other bytes.
        if value.is_some_and(|v| !v.is_ascii() && core::str::from_utf8(v).is_err()) {
            return None;
        }
        rest = after;
    }
    Some((name, params))
}

/// The extension at the start of `s`, read in one pass (the shortcut of
/// [`extensions_valid`]): `OWS token
/// *(OWS ";" OWS token [OWS "=" OWS (token / quoted-string)]) OWS`
/// (RFC 6455 §9.1), up to the end of `s` or a `,`. Returns its name, its
/// parameters (from the first `;` to the end of the last one) and what
/// follows (empty, or from the `,` on); `None` when malformed, a quoted
/// value that is not UTF-8 included.
fn next_extension(s: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let s = skip_ows(s);
    let name_len = crate::http1::token_len(s);
    if name_len == 0 {
        return None;
    }
    let (name, after) = s.split_at(name_len);
    let params = skip_ows(after);
    let mut params_len = 0;
    let mut rest = params;
    loop {
        let [b';', param @ ..] = rest else {
            return match rest {
                [] | [b',', ..] => Some((name, &params[..params_len], rest)),
                _ => None,
            };
        };
        let param = skip_ows(param);
        let param_len = crate::http1::token_len(param);
        if param_len == 0 {
            return None;
        }
        let after_name = &param[param_len..];
        // Where the parameter ends: after its value, or its name.
        let end = match skip_ows(after_name) {
            [b'=', value @ ..] => {
                let value = skip_ows(value);
                if value.first() == Some(&b'"') {
                    let tail = skip_quoted_string(value)?;
                    let quoted = &value[..value.len() - tail.len()];
                    // Names and tokens are ASCII; a quoted value may hold
                    // other bytes.
                    if !quoted.is_ascii() && core::str::from_utf8(quoted).is_err() {
                        return None;
                    }
                    tail
                } else {
                    match crate::http1::token_len(value) {
                        0 => return None,
                        len => &value[len..],
                    }
                }
            }
            _ => after_name,
        };
        params_len = params.len() - end.len();
        rest = skip_ows(end);
    }
}

/// `true` when every element of the comma-separated list `value` is a
/// well-formed extension: [`split_extension`] of each element of
/// [`ListElements`]. With the shortcuts ([`crate::SHORTCUTS`]; a test
/// checks the two agree) in one pass over the bytes, each extension read
/// to its end by [`next_extension`] (empty elements skipped, as
/// `ListElements` does): for `permessage-deflate`, 413 -> 295
/// instructions of the server handshake's check of the offer
/// (callgrind), the bytes looked at once instead of twice.
fn extensions_valid(value: &[u8]) -> bool {
    extensions_valid_in(value, crate::SHORTCUTS)
}

/// [`extensions_valid`], in one pass when `one_pass`.
fn extensions_valid_in(mut value: &[u8], one_pass: bool) -> bool {
    if !one_pass {
        return ListElements::new(value).all(|e| split_extension(e).is_some());
    }
    loop {
        while let [b' ' | b'\t' | b',', rest @ ..] = value {
            value = rest;
        }
        if value.is_empty() {
            return true;
        }
        match next_extension(value) {
            Some((_, _, rest)) => value = rest,
            None => return false,
        }
    }
}

/// `s` without its leading whitespace (`OWS`).
fn skip_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// Parses `; name[=value]` at the start of `s` (after optional whitespace).
fn next_param(s: &[u8]) -> Option<(&str, Option<&str>, &[u8])> {
    let (name, value, rest) = next_param_bytes(s)?;
    let value = match value {
        Some(v) => Some(core::str::from_utf8(v).ok()?),
        None => None,
    };
    Some((core::str::from_utf8(name).ok()?, value, rest))
}

/// A parameter's name, its value if any, and the bytes after it.
type Param<'a> = (&'a [u8], Option<&'a [u8]>, &'a [u8]);

/// [`next_param`] on bytes: a token name, a token or quoted-string value
/// (quotes kept), and the rest.
fn next_param_bytes(s: &[u8]) -> Option<Param<'_>> {
    let s = trim_ows(s);
    let [b';', s @ ..] = s else { return None };
    let s = trim_ows(s);
    let name_end = crate::http1::token_len(s);
    let (name, mut rest) = s.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    rest = trim_ows(rest);
    let mut value = None;
    if let [b'=', after @ ..] = rest {
        let after = trim_ows(after);
        let (v, tail) = if after.first() == Some(&b'"') {
            let tail = skip_quoted_string(after)?;
            (&after[..after.len() - tail.len()], tail)
        } else {
            let end = crate::http1::token_len(after);
            if end == 0 {
                return None;
            }
            after.split_at(end)
        };
        value = Some(v);
        rest = trim_ows(tail);
    }
    if !rest.is_empty() && rest[0] != b';' {
        return None;
    }
    Some((name, value, rest))
}

/// Validates a WebSocket offer in a request (RFC 6455 §4.2.1), given that
/// the request lists `websocket` in `Upgrade` and `upgrade` in `Connection`.
pub(crate) fn check_offer(head: &RequestHead<'_>) -> Result<(), PeerErrorKind> {
    let headers = head.headers();
    if head.minor_version() != 1 {
        return Err(PeerErrorKind::WebSocketHttp10);
    }
    if !same_str(head.method(), "GET") {
        return Err(PeerErrorKind::WebSocketMethodNotGet);
    }
    let mut versions = headers.values(Field::SecWebSocketVersion);
    match (versions.next(), versions.next()) {
        (None, _) | (Some(_), Some(_)) => {
            return Err(PeerErrorKind::WebSocketVersionMissingOrRepeated);
        }
        (Some(v), None) if v != WEBSOCKET_VERSION.as_bytes() => {
            return Err(PeerErrorKind::WebSocketVersionUnsupported);
        }
        _ => {}
    }
    let mut keys = headers.values(Field::SecWebSocketKey);
    match (keys.next(), keys.next()) {
        (Some(k), None) if is_valid_key(k) => {}
        (Some(_), None) => return Err(PeerErrorKind::WebSocketKeyInvalid),
        _ => return Err(PeerErrorKind::WebSocketKeyMissingOrRepeated),
    }
    check_negotiation(headers)
}

/// Subprotocols must be tokens; extensions must parse.
pub(crate) fn check_negotiation(headers: &Headers<'_>) -> Result<(), PeerErrorKind> {
    // Many offers name no subprotocol: no lookup then.
    let protocols_ok = !headers.may_have(Field::SecWebSocketProtocol)
        || headers.elements(Field::SecWebSocketProtocol).all(is_token);
    let extensions_ok = headers
        .values(Field::SecWebSocketExtensions)
        .all(extensions_valid);
    if protocols_ok && extensions_ok {
        Ok(())
    } else {
        Err(PeerErrorKind::WebSocketBadNegotiationHeader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_vector() {
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZXg="));
    }

    /// The key check agrees with decoding exactly 16 bytes for every byte
    /// value at every position of a valid key, and for other lengths.
    #[test]
    fn key_check_agrees_with_decoding() {
        use super::super::base64::decode_exact;
        let valid = *b"dGhlIHNhbXBsZSBub25jZQ==";
        let decodes = |k: &[u8]| decode_exact::<16>(k, Alphabet::Standard).is_some();
        for i in 0..valid.len() {
            for c in 0..=255u8 {
                let mut key = valid;
                key[i] = c;
                assert_eq!(is_valid_key(&key), decodes(&key), "{key:?}");
            }
        }
        for len in 0..30 {
            let key: std::vec::Vec<u8> = valid.iter().copied().cycle().take(len).collect();
            assert_eq!(is_valid_key(&key), decodes(&key), "{key:?}");
        }
        assert!(is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAw=="));
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAB=="));
    }

    /// The one-pass name check agrees with "the part before the first `;`,
    /// trimmed, is a token" on every string of up to six characters over
    /// the characters that matter.
    #[test]
    fn extension_name_check_agrees_with_the_definition() {
        for element in crate::strings_over(b"a ;\t=\"x", 6) {
            let end = element
                .iter()
                .position(|&b| b == b';')
                .unwrap_or(element.len());
            let name_ok = is_token(trim_ows(&element[..end]));
            let got = split_extension(&element);
            if !name_ok {
                assert_eq!(got, None, "{element:?}");
            } else if let Some((name, _)) = got {
                assert_eq!(name, trim_ows(&element[..end]), "{element:?}");
            }
        }
    }

    /// The one-pass parser agrees with the general path (list elements,
    /// each split and its parameters checked one by one) on every string
    /// of up to seven bytes over the bytes that matter: separators,
    /// whitespace, quotes and escapes, a control, the two bytes of `é`
    /// (UTF-8 only in that order).
    #[test]
    fn one_pass_extension_parser_agrees_with_the_definition() {
        let alphabet = [b'a', b' ', b';', b'=', b'"', b',', b'\\', 0x01, 0xC3, 0xA9];
        let mut checked = 0;
        for value in crate::strings_over(&alphabet, 7) {
            let expected = extensions_valid_in(&value, false);
            assert_eq!(extensions_valid_in(&value, true), expected, "{value:?}");
            let one = next_extension(&value).and_then(|e| match e {
                (name, params, []) => Some((name, params)),
                _ => None,
            });
            assert_eq!(one, split_extension(&value), "{value:?}");
            checked += usize::from(expected);
        }
        // Not a vacuous agreement: thousands of lists are valid.
        assert!(checked > 3_000, "{checked}");
        // Real offers, valid and not.
        for (value, valid) in [
            (&b"permessage-deflate"[..], true),
            (b"permessage-deflate; client_max_window_bits", true),
            (
                b"permessage-deflate; client_max_window_bits=10, permessage-deflate",
                true,
            ),
            (b"x-webkit-deflate-frame, foo; bar=\"a,b\"", true),
            (b" , ,permessage-deflate ,", true),
            (b"", true),
            (b"permessage-deflate; client_max_window_bits=", false),
            (b"permessage-deflate;; x", false),
            (b"permessage deflate", false),
            (b"foo; bar=\"a,b", false),
            (b"foo; bar=\"\xff\"", false),
        ] {
            assert_eq!(extensions_valid_in(value, true), valid, "{value:?}");
            assert_eq!(extensions_valid_in(value, false), valid, "{value:?}");
        }
    }

    #[test]
    fn extension_params() {
        let e = Extension::parse(
            br#"permessage-deflate; client_max_window_bits; server_max_window_bits="10""#,
        )
        .unwrap();
        assert_eq!(e.name(), "permessage-deflate");
        let p: std::vec::Vec<_> = e.params().collect();
        assert_eq!(
            p,
            [
                ("client_max_window_bits", None),
                ("server_max_window_bits", Some("\"10\""))
            ]
        );
        assert!(Extension::parse(b"x; =1").is_none());
        assert!(Extension::parse(b"x; a=").is_none());
        assert!(Extension::parse(b"x y").is_none());
        // A quoted value may hold any UTF-8, nothing else.
        assert!(Extension::parse(b"x; a=\"\xc3\xa9\"").is_some());
        assert!(Extension::parse(b"x; a=\"\xff\"").is_none());
        assert!(Extension::parse(b"x; a=\"\xc3\"").is_none());
    }
}
