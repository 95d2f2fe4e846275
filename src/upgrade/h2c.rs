//! The h2c upgrade rules (RFC 7540 §3.2, §3.2.1).
//!
//! `HTTP2-Settings` carries an HTTP/2 SETTINGS payload: 6-byte entries
//! (16-bit identifier, 32-bit value), base64url-encoded without padding. As
//! 6 bytes are exactly 8 base64 characters, both directions work one entry
//! at a time with no buffer.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::PeerErrorKind;
use crate::http1::{Headers, write::Writer};

/// Encodes settings as an `HTTP2-Settings` value into `w`.
pub(crate) fn write_settings(settings: &[(u16, u32)], w: &mut Writer<'_>) {
    for &(id, value) in settings {
        let mut raw = [0u8; 6];
        raw[..2].copy_from_slice(&id.to_be_bytes());
        raw[2..].copy_from_slice(&value.to_be_bytes());
        let mut enc = [0u8; 8];
        let n = URL_SAFE_NO_PAD.encode_slice(raw, &mut enc).unwrap_or(0);
        w.put(&enc[..n]);
    }
}

fn decode_entry(chars: &[u8]) -> Option<(u16, u32)> {
    let mut raw = [0u8; 8];
    match URL_SAFE_NO_PAD.decode_slice(chars, &mut raw) {
        Ok(6) => Some((
            u16::from_be_bytes([raw[0], raw[1]]),
            u32::from_be_bytes([raw[2], raw[3], raw[4], raw[5]]),
        )),
        _ => None,
    }
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
/// `Connection`, base64url without padding of whole 6-byte entries.
pub(crate) fn check_offer<'b>(
    headers: Headers<'b>,
    connection_lists_it: bool,
) -> Result<H2cOffer<'b>, PeerErrorKind> {
    let mut values = headers.get_all("http2-settings");
    let value = match (values.next(), values.next()) {
        (Some(v), None) => v,
        _ => return Err(PeerErrorKind::H2cSettingsMissingOrRepeated),
    };
    if !connection_lists_it {
        return Err(PeerErrorKind::H2cSettingsNotInConnection);
    }
    if value.len() % 8 != 0 || !value.chunks(8).all(|c| decode_entry(c).is_some()) {
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

    #[test]
    fn invalid_values() {
        for bad in [&b"AAMAAABk="[..], b"AAMAAAB", b"AAMAAAB+", b"AAMAAABkAA"] {
            assert!(
                bad.len() % 8 != 0 || !bad.chunks(8).all(|c| decode_entry(c).is_some()),
                "{bad:?}"
            );
        }
    }
}
