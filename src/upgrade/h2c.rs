//! The h2c upgrade rules (RFC 7540 §3.2, §3.2.1).
//!
//! `HTTP2-Settings` carries an HTTP/2 SETTINGS payload: 6-byte entries
//! (16-bit identifier, 32-bit value), base64url-encoded without padding. As
//! 6 bytes are exactly 8 base64 characters, both directions work one entry
//! at a time with no buffer.

use super::base64::{Alphabet, decode_exact, encode};
use crate::error::PeerErrorKind;
use crate::http1::{Field, Headers, write::Writer};

/// Encodes settings as an `HTTP2-Settings` value into `w`.
pub(crate) fn write_settings(settings: &[(u16, u32)], w: &mut Writer<'_>) {
    for &(id, value) in settings {
        let mut raw = [0u8; 6];
        raw[..2].copy_from_slice(&id.to_be_bytes());
        raw[2..].copy_from_slice(&value.to_be_bytes());
        let mut enc = [0u8; 8];
        let n = encode(&raw, Alphabet::UrlNoPad, &mut enc);
        w.put(&enc[..n]);
    }
}

fn decode_entry(chars: &[u8]) -> Option<(u16, u32)> {
    let raw = decode_exact::<6>(chars, Alphabet::UrlNoPad)?;
    Some((
        u16::from_be_bytes([raw[0], raw[1]]),
        u32::from_be_bytes([raw[2], raw[3], raw[4], raw[5]]),
    ))
}

/// The SETTINGS of an h2c offer, decoded lazily from the borrowed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct H2cOffer<'b> {
    value: &'b [u8],
}

impl<'b> H2cOffer<'b> {
    /// The raw `HTTP2-Settings` value.
    pub fn raw(&self) -> &'b [u8] {
        self.value
    }

    /// `(identifier, value)` pairs, in order.
    pub fn settings(&self) -> impl Iterator<Item = (u16, u32)> + use<'b> {
        self.value.chunks(8).filter_map(decode_entry)
    }
}

/// Validates an h2c offer (RFC 7540 §3.2.1): one `HTTP2-Settings`, listed in
/// `Connection`, base64url without padding of whole 6-byte entries, at
/// least one.
pub(crate) fn check_offer<'b>(
    headers: &Headers<'b>,
    connection_lists_it: bool,
) -> Result<H2cOffer<'b>, PeerErrorKind> {
    let mut values = headers.values(Field::Http2Settings);
    let value = match (values.next(), values.next()) {
        (Some(v), None) => v,
        _ => return Err(PeerErrorKind::H2cSettingsMissingOrRepeated),
    };
    if !connection_lists_it {
        return Err(PeerErrorKind::H2cSettingsNotInConnection);
    }
    // token68: not empty (RFC 7540 §3.2.1).
    if value.is_empty()
        || value.len() % 8 != 0
        || !value.chunks(8).all(|c| decode_entry(c).is_some())
    {
        return Err(PeerErrorKind::H2cSettingsInvalid);
    }
    Ok(H2cOffer { value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::write::emit;

    #[test]
    fn roundtrip() {
        let mut out = [0u8; 64];
        let settings = [(3u16, 100u32), (4, 65535)];
        let n = emit(&mut out, |w| write_settings(&settings, w)).unwrap();
        assert_eq!(&out[..n], b"AAMAAABkAAQAAP__");
        let offer = H2cOffer { value: &out[..n] };
        assert!(offer.settings().eq(settings));
    }

    /// Runs the real check on a request with `fields`.
    fn check(fields: &str, listed: bool) -> Result<usize, PeerErrorKind> {
        let head = std::format!("GET / HTTP/1.1\r\nHost: h\r\n{fields}\r\n");
        let (request, _, _) =
            crate::http1::parse_request(head.as_bytes(), &crate::http1::Limits::new()).unwrap();
        check_offer(request.headers(), listed).map(|offer| offer.settings().count())
    }

    #[test]
    fn offer_rules() {
        use PeerErrorKind::*;
        assert_eq!(check("HTTP2-Settings: AAMAAABkAAQAAP__\r\n", true), Ok(2));
        // token68 is never empty.
        assert_eq!(check("HTTP2-Settings: \r\n", true), Err(H2cSettingsInvalid));
        for bad in ["AAMAAABk=", "AAMAAAB", "AAMAAAB+", "AAMAAABkAA", "AAMAAAB/"] {
            let field = std::format!("HTTP2-Settings: {bad}\r\n");
            assert_eq!(check(&field, true), Err(H2cSettingsInvalid), "{bad}");
        }
        assert_eq!(check("", true), Err(H2cSettingsMissingOrRepeated));
        assert_eq!(
            check(
                "HTTP2-Settings: AAMAAABk\r\nHTTP2-Settings: AAMAAABk\r\n",
                true
            ),
            Err(H2cSettingsMissingOrRepeated)
        );
        assert_eq!(
            check("HTTP2-Settings: AAMAAABk\r\n", false),
            Err(H2cSettingsNotInConnection)
        );
    }
}
