//! Close codes (RFC 6455 §7.4, §11.7).

use super::MAX_CONTROL_PAYLOAD;
use crate::error::LocalError;

/// `true` when `code` may appear in a Close frame: 1000–1003, 1007–1014
/// and 3000–4999. 1004, 1005, 1006 and 1015 are never sent.
///
/// ```
/// use protoswitch::ws::is_valid_close_code;
/// assert!(is_valid_close_code(1000) && is_valid_close_code(4999));
/// assert!(!is_valid_close_code(1005) && !is_valid_close_code(2999));
/// ```
pub const fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Whether a Close with `code` and `reason` may be sent (RFC 6455 §5.5,
/// §7.4): a code [`is_valid_close_code`] allows and a reason that fits the
/// control payload with it (at most 123 bytes), or no code and no reason.
/// What [`Connection::send_close`](super::Connection::send_close) checks
/// before writing anything, for callers that hand a Close on to be sent
/// later.
///
/// ```
/// use protoswitch::ws::check_close;
/// assert!(check_close(Some(1000), "bye").is_ok() && check_close(None, "").is_ok());
/// assert!(check_close(Some(1005), "").is_err());
/// assert!(check_close(Some(1000), &"r".repeat(124)).is_err());
/// assert!(check_close(None, "why").is_err());
/// ```
pub fn check_close(code: Option<u16>, reason: &str) -> Result<(), LocalError> {
    match code {
        Some(c) if !is_valid_close_code(c) => Err(LocalError::InvalidCloseCode(c)),
        Some(_) if 2 + reason.len() > MAX_CONTROL_PAYLOAD => Err(LocalError::ControlPayloadTooLong),
        None if !reason.is_empty() => Err(LocalError::CloseReasonWithoutCode),
        _ => Ok(()),
    }
}

/// Some close codes by name.
pub mod code {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away.
    pub const GOING_AWAY: u16 = 1001;
    /// Protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// Data of a type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// No status code was present (never sent).
    pub const NO_STATUS: u16 = 1005;
    /// The connection closed without a Close frame (never sent).
    pub const ABNORMAL: u16 = 1006;
    /// Text that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation.
    pub const POLICY: u16 = 1008;
    /// A message too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// The client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// Unexpected condition on the server.
    pub const INTERNAL_ERROR: u16 = 1011;
}
