//! Upgrade tokens (`name[/version]`, RFC 9110 §7.8, §16.7) and the small
//! fixed-capacity storage the machines keep them in.

use core::fmt;

use crate::http1::{ListElements, split_protocol};

/// One element of an `Upgrade` list: a protocol name and optional version.
///
/// ```
/// use protoswitch::upgrade::{Protocol, ProtocolKind};
/// let p = Protocol::parse(b"WebSocket").unwrap();
/// assert_eq!(p.kind(), ProtocolKind::WebSocket);
/// let p = Protocol::parse(b"echo/1").unwrap();
/// assert_eq!((p.name(), p.version()), ("echo", Some("1")));
/// assert!(Protocol::parse(b"bad token").is_none());
/// // Tokens compare ignoring ASCII case, as `matches` does.
/// assert_eq!(Protocol::parse(b"Echo/1"), Protocol::parse(b"echo/1"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Protocol<'a> {
    name: &'a str,
    version: Option<&'a str>,
}

/// Equal when [`Protocol::matches`]: tokens are case-insensitive
/// (RFC 9110 §7.8).
impl PartialEq for Protocol<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other)
    }
}

impl Eq for Protocol<'_> {}

/// Hashes the lowercase form, consistent with `PartialEq`.
impl core::hash::Hash for Protocol<'_> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        for b in self.name.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
        if let Some(v) = self.version {
            state.write_u8(b'/');
            for b in v.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

/// Protocols this crate knows the rules of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolKind {
    /// `websocket` (RFC 6455).
    WebSocket,
    /// `h2c`: HTTP/2 over cleartext TCP (RFC 7540 §3.2).
    H2c,
    /// `TLS/x.y` (RFC 2817).
    Tls,
    /// Any other token: the application owns its rules.
    Other,
}

impl<'a> Protocol<'a> {
    /// Parses `name[/version]`; both parts must be tokens.
    pub fn parse(element: &'a [u8]) -> Option<Self> {
        let (name, version) = split_protocol(element)?;
        // Tokens are ASCII, so these conversions cannot fail.
        Some(Protocol {
            name: core::str::from_utf8(name).ok()?,
            version: match version {
                Some(v) => Some(core::str::from_utf8(v).ok()?),
                None => None,
            },
        })
    }

    /// The name, e.g. `websocket`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The version, e.g. `1` in `echo/1`.
    pub fn version(&self) -> Option<&'a str> {
        self.version
    }

    /// Which rule set applies.
    pub fn kind(&self) -> ProtocolKind {
        if self.name.eq_ignore_ascii_case("websocket") && self.version.is_none() {
            ProtocolKind::WebSocket
        } else if self.name.eq_ignore_ascii_case("h2c") && self.version.is_none() {
            ProtocolKind::H2c
        } else if self.name.eq_ignore_ascii_case("tls") {
            ProtocolKind::Tls
        } else {
            ProtocolKind::Other
        }
    }

    /// Equality ignoring ASCII case of name and version.
    pub fn matches(&self, other: &Protocol<'_>) -> bool {
        self.name.eq_ignore_ascii_case(other.name)
            && match (self.version, other.version) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

impl fmt::Display for Protocol<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        if let Some(v) = self.version {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

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
    }
}
