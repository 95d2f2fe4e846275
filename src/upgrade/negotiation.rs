//! What a handshake negotiates, shared by both roles: the offers a client
//! makes (which the server checks `accept` against and the client checks
//! the 101 against), the selection rules, and the [`Negotiation`] both
//! machines hand to the code that speaks the new protocol.

use core::fmt;

use super::protocol::Protocol;
use super::websocket::Extension;
use crate::error::{Error, LocalError, PeerErrorKind, Role};
use crate::http1::ListElements;

/// A comma-separated list of tokens in a fixed array: what a machine must
/// remember of an offer after the caller's buffer is gone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct InlineList<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> InlineList<N> {
    pub(crate) const fn new() -> Self {
        InlineList {
            bytes: [0; N],
            len: 0,
        }
    }

    /// Appends one element; `false` when it does not fit.
    pub(crate) fn push(&mut self, element: &[u8]) -> bool {
        let sep = usize::from(self.len > 0);
        if self.len + sep + element.len() > N {
            return false;
        }
        if sep == 1 {
            self.bytes[self.len] = b',';
        }
        self.bytes[self.len + sep..self.len + sep + element.len()].copy_from_slice(element);
        self.len += sep + element.len();
        true
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub(crate) fn iter(&self) -> ListElements<'_> {
        ListElements::new(self.as_bytes())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn contains_ignore_case(&self, element: &[u8]) -> bool {
        self.iter().any(|e| e.eq_ignore_ascii_case(element))
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only tokens and ',' are ever pushed.
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl<const N: usize> fmt::Debug for InlineList<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Bytes of storage for remembered `Upgrade` offers.
pub const OFFER_CAPACITY: usize = 256;
/// Bytes of storage for remembered subprotocol offers.
pub const SUBPROTOCOL_CAPACITY: usize = 256;
/// Bytes of storage for remembered extension names.
pub const EXTENSION_CAPACITY: usize = 256;

/// The outcome of a handshake that switched protocols: what both roles hand
/// to the code that speaks the new protocol. `Copy`, no borrow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiation {
    pub(crate) role: crate::error::Role,
    pub(crate) protocol: InlineList<OFFER_CAPACITY>,
    pub(crate) subprotocol: InlineList<SUBPROTOCOL_CAPACITY>,
    pub(crate) extensions: InlineList<EXTENSION_CAPACITY>,
}

impl Negotiation {
    /// The side this machine played.
    pub fn role(&self) -> crate::error::Role {
        self.role
    }

    /// The protocol now spoken, as the 101 named it.
    pub fn protocol(&self) -> Protocol<'_> {
        // Stored only after a successful parse.
        Protocol::parse(self.protocol.as_bytes()).unwrap_or(Protocol {
            name: "",
            version: None,
        })
    }

    /// The WebSocket subprotocol selected, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        (!self.subprotocol.is_empty()).then(|| self.subprotocol.as_str())
    }

    /// Names of the WebSocket extensions in use, in the order the 101
    /// listed them (none when no extension was agreed).
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        self.extensions
            .iter()
            .map(|e| core::str::from_utf8(e).unwrap_or(""))
    }
}

/// What the client offered, remembered by both machines: the `Upgrade`
/// protocols (as the client spelled them), and for WebSocket the accept key
/// its `Sec-WebSocket-Key` implies, the subprotocols and the extension names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Offers {
    protocols: InlineList<OFFER_CAPACITY>,
    pub(crate) ws_accept: Option<[u8; 28]>,
    subprotocols: InlineList<SUBPROTOCOL_CAPACITY>,
    extensions: InlineList<EXTENSION_CAPACITY>,
}

/// Why a selection is not among the offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotOffered {
    Protocol,
    Subprotocol,
    Extension,
    ExtensionRepeated,
    /// An extension element that is not `name *( ";" param )`.
    BadExtension,
}

/// A server's `accept` that selects what was not offered: the caller's
/// mistake.
impl From<NotOffered> for LocalError {
    fn from(e: NotOffered) -> Self {
        match e {
            NotOffered::Protocol => LocalError::NotOffered,
            NotOffered::Subprotocol => LocalError::SubprotocolNotOffered,
            NotOffered::Extension => LocalError::ExtensionNotOffered,
            NotOffered::ExtensionRepeated => LocalError::ExtensionRepeated,
            NotOffered::BadExtension => LocalError::InvalidToken,
        }
    }
}

impl From<NotOffered> for Error {
    fn from(e: NotOffered) -> Self {
        Error::Local(e.into())
    }
}

/// A 101 that selects what was not offered: the server's fault.
impl From<NotOffered> for PeerErrorKind {
    fn from(e: NotOffered) -> Self {
        match e {
            NotOffered::Protocol => PeerErrorKind::SwitchedToUnofferedProtocol,
            NotOffered::Subprotocol => PeerErrorKind::SubprotocolNotOffered,
            NotOffered::Extension => PeerErrorKind::ExtensionNotOffered,
            NotOffered::ExtensionRepeated => PeerErrorKind::ExtensionRepeated,
            NotOffered::BadExtension => PeerErrorKind::WebSocketBadNegotiationHeader,
        }
    }
}

impl Offers {
    pub(crate) const fn new() -> Self {
        Offers {
            protocols: InlineList::new(),
            ws_accept: None,
            subprotocols: InlineList::new(),
            extensions: InlineList::new(),
        }
    }

    /// Remembers an offered protocol element; `false` when storage is full.
    pub(crate) fn push_protocol(&mut self, element: &[u8]) -> bool {
        self.protocols.push(element)
    }

    /// Remembers an offered subprotocol; `false` when storage is full.
    pub(crate) fn push_subprotocol(&mut self, name: &[u8]) -> bool {
        self.subprotocols.push(name)
    }

    /// Remembers an offered extension's name; `false` when storage is full.
    pub(crate) fn push_extension(&mut self, name: &[u8]) -> bool {
        self.extensions.push(name)
    }

    /// The offer `chosen` selects (RFC 9110 §7.8: tokens compare
    /// case-insensitively), as the client spelled it.
    pub(crate) fn find_protocol(&self, chosen: &Protocol<'_>) -> Result<&[u8], NotOffered> {
        self.protocols
            .iter()
            .find(|o| Protocol::parse(o).is_some_and(|p| p.matches(chosen)))
            .ok_or(NotOffered::Protocol)
    }

    /// `name` is one of the subprotocols offered (RFC 6455 §4.1: compared
    /// exactly).
    pub(crate) fn check_subprotocol(&self, name: &[u8]) -> Result<(), NotOffered> {
        match self.subprotocols.iter().any(|o| o == name) {
            true => Ok(()),
            false => Err(NotOffered::Subprotocol),
        }
    }

    /// The names of the extensions in `elements` (one `Sec-WebSocket-
    /// Extensions` list, possibly over several field lines), each offered
    /// and named once (RFC 6455 §9.1).
    pub(crate) fn select_extensions<'e>(
        &self,
        elements: impl Iterator<Item = &'e [u8]>,
    ) -> Result<InlineList<EXTENSION_CAPACITY>, NotOffered> {
        let mut names = InlineList::new();
        for element in elements {
            let e = Extension::parse(element).ok_or(NotOffered::BadExtension)?;
            let name = e.name().as_bytes();
            if names.contains_ignore_case(name) {
                return Err(NotOffered::ExtensionRepeated);
            }
            if !self.extensions.contains_ignore_case(name) || !names.push(name) {
                return Err(NotOffered::Extension);
            }
        }
        Ok(names)
    }

    /// The negotiated outcome: `protocol` (an offered element), the
    /// subprotocol and the extension names selected.
    pub(crate) fn agree(
        role: Role,
        protocol: &[u8],
        subprotocol: Option<&[u8]>,
        extensions: InlineList<EXTENSION_CAPACITY>,
    ) -> Negotiation {
        let mut agreed = Negotiation {
            role,
            protocol: InlineList::new(),
            subprotocol: InlineList::new(),
            extensions,
        };
        // Both were checked against stored offers of the same capacity.
        let _ = agreed.protocol.push(protocol);
        if let Some(sp) = subprotocol {
            let _ = agreed.subprotocol.push(sp);
        }
        agreed
    }
}

/// The elements of a list value given as one string.
pub(crate) fn list_of(value: &str) -> ListElements<'_> {
    ListElements::new(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_list_bounds() {
        let mut l = InlineList::<8>::new();
        assert!(l.push(b"abc"));
        assert!(l.push(b"defg"));
        assert!(!l.push(b"x"));
        assert_eq!(l.as_str(), "abc,defg");
        assert!(l.contains_ignore_case(b"ABC"));
        assert_eq!(std::format!("{l:?}"), "\"abc,defg\"");
        // One byte over, counting the separator: refused, nothing changed.
        let mut l = InlineList::<8>::new();
        assert!(l.push(b"abc"));
        assert!(!l.push(b"defgh"));
        assert_eq!(l.as_str(), "abc");
    }

    #[test]
    fn selections_are_checked_against_the_offers() {
        let mut offers = Offers::new();
        assert!(offers.push_protocol(b"WebSocket"));
        assert!(offers.push_protocol(b"echo/1"));
        assert!(offers.push_subprotocol(b"chat"));
        assert!(offers.push_extension(b"permessage-deflate"));
        let p = |s: &'static [u8]| Protocol::parse(s).unwrap();
        assert_eq!(
            offers.find_protocol(&p(b"websocket")),
            Ok(&b"WebSocket"[..])
        );
        assert_eq!(offers.find_protocol(&p(b"ECHO/1")), Ok(&b"echo/1"[..]));
        assert_eq!(
            offers.find_protocol(&p(b"echo/2")),
            Err(NotOffered::Protocol)
        );
        assert_eq!(offers.check_subprotocol(b"chat"), Ok(()));
        assert_eq!(
            offers.check_subprotocol(b"Chat"),
            Err(NotOffered::Subprotocol)
        );
        let ext = |v: &'static str| {
            offers
                .select_extensions(list_of(v))
                .map(|l| l.as_str().len())
        };
        assert_eq!(ext("permessage-deflate; client_max_window_bits"), Ok(18));
        assert_eq!(ext("x-other"), Err(NotOffered::Extension));
        assert_eq!(
            ext("permessage-deflate, PERMESSAGE-DEFLATE"),
            Err(NotOffered::ExtensionRepeated)
        );
        assert_eq!(ext("bad token"), Err(NotOffered::BadExtension));
    }
}
