//! What a handshake negotiates, shared by both roles: the rules that check
//! a selection against the offers (the server checks its own choice, the
//! client checks the 101), and the [`Negotiation`] both roles hand to the
//! code that speaks the new protocol. Nothing here copies: offers and
//! outcomes stay borrowed from the request, the response or the caller.

use super::deflate::{DeflateParams, PERMESSAGE_DEFLATE};
use super::protocol::Protocol;
use super::websocket::Extension;
use crate::error::{Error, LocalError, PeerErrorKind, Role};
use crate::http1::{Elements, Field, Headers, ListElements, eq_ignore_case, split_protocol};

/// The outcome of a handshake that switched protocols, borrowed: from the
/// server's [`Switch`](super::Switch), or from the 101 a client received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiation<'a> {
    pub(crate) role: Role,
    pub(crate) protocol: Protocol<'a>,
    pub(crate) subprotocol: Option<&'a str>,
    pub(crate) extensions: ExtensionList<'a>,
}

impl<'a> Negotiation<'a> {
    /// The side this machine played.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The protocol now spoken.
    pub fn protocol(&self) -> Protocol<'a> {
        self.protocol
    }

    /// The WebSocket subprotocol selected, if any.
    pub fn subprotocol(&self) -> Option<&'a str> {
        self.subprotocol
    }

    /// The WebSocket extensions in use with their parameters, in the order
    /// the 101 lists them (none when no extension was agreed).
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'a>> + use<'a> {
        self.extensions.elements().filter_map(Extension::parse)
    }

    /// The permessage-deflate parameters the 101 states, if it agreed to
    /// permessage-deflate (RFC 7692). A client that offered a
    /// `client_max_window_bits` value is also bound by it:
    /// [`DeflateConfig::agreed`](super::DeflateConfig::agreed) applies it.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.extensions()
            .find(|e| e.name().eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
            .and_then(|e| DeflateParams::from_response(&e))
    }
}

/// Where a `Sec-WebSocket-Extensions` list is: one value, or every such
/// field of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExtensionList<'a> {
    Value(&'a [u8]),
    Fields(Headers<'a>),
}

impl<'a> ExtensionList<'a> {
    pub(crate) fn elements(self) -> Elements<'a> {
        match self {
            ExtensionList::Value(v) => Elements::of_value(v),
            ExtensionList::Fields(h) => h.elements(Field::SecWebSocketExtensions),
        }
    }
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

/// A server's choice that selects what was not offered: the caller's
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

/// The offer `chosen` selects (RFC 9110 §7.8: tokens compare
/// case-insensitively).
pub(crate) fn find_protocol<'o>(
    mut offers: impl Iterator<Item = &'o [u8]>,
    chosen: &Protocol<'_>,
) -> Result<&'o [u8], NotOffered> {
    offers
        .find(|o| {
            split_protocol(o).is_some_and(|(name, version)| chosen.matches_parts(name, version))
        })
        .ok_or(NotOffered::Protocol)
}

/// `name` is one of the subprotocols offered (RFC 6455 §4.1: compared
/// exactly).
pub(crate) fn check_subprotocol<'o>(
    mut offered: impl Iterator<Item = &'o [u8]>,
    name: &[u8],
) -> Result<(), NotOffered> {
    match offered.any(|o| o == name) {
        true => Ok(()),
        false => Err(NotOffered::Subprotocol),
    }
}

/// Every extension in `selected` (one `Sec-WebSocket-Extensions` list,
/// possibly over several field lines) was offered (`offered(name)`) and
/// is named once (RFC 6455 §9.1). Linear in the offers times the list:
/// an element is checked against the offers first, so a repeat shows up
/// within one more element than there are offers.
pub(crate) fn check_extensions<'s>(
    selected: impl Iterator<Item = &'s [u8]> + Clone,
    offered: impl Fn(&str) -> bool,
) -> Result<(), NotOffered> {
    for (i, element) in selected.clone().enumerate() {
        let e = Extension::parse(element).ok_or(NotOffered::BadExtension)?;
        if !offered(e.name()) {
            return Err(NotOffered::Extension);
        }
        let repeated = selected
            .clone()
            .take(i)
            .filter_map(Extension::parse)
            .any(|earlier| eq_ignore_case(earlier.name().as_bytes(), e.name().as_bytes()));
        if repeated {
            return Err(NotOffered::ExtensionRepeated);
        }
    }
    Ok(())
}

/// The elements of a list value given as one string.
pub(crate) fn list_of(value: &str) -> ListElements<'_> {
    ListElements::new(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_are_checked_against_the_offers() {
        let protocols = || list_of("WebSocket, echo/1");
        let p = |s: &'static [u8]| Protocol::parse(s).unwrap();
        assert_eq!(
            find_protocol(protocols(), &p(b"websocket")),
            Ok(&b"WebSocket"[..])
        );
        assert_eq!(
            find_protocol(protocols(), &p(b"ECHO/1")),
            Ok(&b"echo/1"[..])
        );
        assert_eq!(
            find_protocol(protocols(), &p(b"echo/2")),
            Err(NotOffered::Protocol)
        );
        assert_eq!(check_subprotocol(list_of("a, chat"), b"chat"), Ok(()));
        assert_eq!(
            check_subprotocol(list_of("a, chat"), b"Chat"),
            Err(NotOffered::Subprotocol)
        );
        let offered = |name: &str| eq_ignore_case(name.as_bytes(), b"permessage-deflate");
        let ext = |v: &'static str| check_extensions(list_of(v), offered);
        assert_eq!(ext("permessage-deflate; client_max_window_bits"), Ok(()));
        assert_eq!(ext("x-other"), Err(NotOffered::Extension));
        assert_eq!(
            ext("permessage-deflate, PERMESSAGE-DEFLATE"),
            Err(NotOffered::ExtensionRepeated)
        );
        assert_eq!(ext("bad token"), Err(NotOffered::BadExtension));
    }
}
