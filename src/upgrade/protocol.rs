//! Upgrade tokens (`name[/version]`, RFC 9110 §7.8, §16.7) and the small
//! fixed-capacity storage the machines keep them in.

use core::fmt;

use crate::http1::{eq_ignore_case, eq_visible_lowercase, is_token, split_protocol};

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
    pub(crate) name: &'a str,
    pub(crate) version: Option<&'a str>,
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
    /// Not a token: a CONNECT tunnel (RFC 9110 §9.3.6), bytes relayed
    /// unchanged to the requested `host:port`.
    Tunnel,
}

impl ProtocolKind {
    /// The kind of the protocol `name` (a token), with a version or not:
    /// what [`Protocol::kind`] says, for a name that need not be a string.
    /// The token comparison is exact for a token against these names.
    pub(crate) fn of(name: &[u8], versioned: bool) -> ProtocolKind {
        if eq_visible_lowercase(name, b"websocket") && !versioned {
            ProtocolKind::WebSocket
        } else if eq_visible_lowercase(name, b"h2c") && !versioned {
            ProtocolKind::H2c
        } else if eq_visible_lowercase(name, b"tls") {
            ProtocolKind::Tls
        } else {
            ProtocolKind::Other
        }
    }
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
        ProtocolKind::of(self.name.as_bytes(), self.version.is_some())
    }

    /// [`Protocol::parse`] of a string: the same parts, without
    /// converting them back from bytes (`core::str::from_utf8` was about
    /// 100 instructions a call for `websocket`).
    pub(crate) fn parse_str(s: &'a str) -> Option<Self> {
        // A byte search: `split_once('/')` took a general searcher (about
        // 100 instructions).
        let (name, version) = match s.bytes().position(|b| b == b'/') {
            None => (s, None),
            Some(slash) => (s.get(..slash)?, Some(s.get(slash + 1..)?)),
        };
        let tokens = is_token(name.as_bytes()) && version.is_none_or(|v| is_token(v.as_bytes()));
        tokens.then_some(Protocol { name, version })
    }

    /// Equality ignoring ASCII case of name and version.
    pub fn matches(&self, other: &Protocol<'_>) -> bool {
        self.matches_parts(other.name.as_bytes(), other.version.map(str::as_bytes))
    }

    /// [`Protocol::matches`] with the protocol `name[/version]` given as
    /// bytes (the parts of [`split_protocol`]), which need not be made
    /// strings to be compared.
    pub(crate) fn matches_parts(&self, name: &[u8], version: Option<&[u8]>) -> bool {
        eq_ignore_case(self.name.as_bytes(), name)
            && match (self.version, version) {
                (None, None) => true,
                (Some(a), Some(b)) => eq_ignore_case(a.as_bytes(), b),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_ignores_case_and_hash_agrees() {
        use std::hash::{BuildHasher, RandomState};
        let (a, b) = (Protocol::parse(b"Echo/V1"), Protocol::parse(b"echo/v1"));
        assert_eq!(a, b);
        assert_ne!(a, Protocol::parse(b"echo/v2"));
        assert_ne!(a, Protocol::parse(b"echo"));
        let hasher = RandomState::new();
        assert_eq!(hasher.hash_one(a), hasher.hash_one(b));
        assert_ne!(
            hasher.hash_one(a),
            hasher.hash_one(Protocol::parse(b"echo/v2"))
        );
        assert_ne!(
            hasher.hash_one(a),
            hasher.hash_one(Protocol::parse(b"echov1"))
        );
    }

    /// `parse_str` finds the parts `parse` finds, for every string of up
    /// to four characters from those that matter.
    #[test]
    fn parsing_a_string_is_parsing_its_bytes() {
        let chars = ["a", "Z", "1", "/", " ", "é", ","];
        let mut strings = std::vec![std::string::String::new()];
        for _ in 0..4 {
            let longer: std::vec::Vec<_> = strings
                .iter()
                .flat_map(|s| chars.iter().map(move |c| std::format!("{s}{c}")))
                .collect();
            strings.extend(longer);
        }
        strings.sort();
        strings.dedup();
        for s in strings {
            assert_eq!(
                Protocol::parse_str(&s).map(|p| (p.name, p.version)),
                Protocol::parse(s.as_bytes()).map(|p| (p.name, p.version)),
                "{s:?}"
            );
        }
    }

    /// Matching the parts of an element is matching the element parsed.
    #[test]
    fn matching_parts_is_matching_protocols() {
        let elements: [&[u8]; 9] = [
            b"websocket",
            b"WebSocket",
            b"websocket/13",
            b"echo/1",
            b"ECHO/1",
            b"echo/2",
            b"echo",
            b"echo/",
            b"h2c",
        ];
        for a in elements {
            for b in elements {
                let (Some(p), Some((name, version))) = (Protocol::parse(a), split_protocol(b))
                else {
                    continue;
                };
                let q = Protocol::parse(b).unwrap();
                assert_eq!(p.matches_parts(name, version), p.matches(&q), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn parts_and_kinds() {
        let p = Protocol::parse(b"echo/1").unwrap();
        assert_eq!((p.name(), p.version()), ("echo", Some("1")));
        let p = Protocol::parse(b"h2c").unwrap();
        assert_eq!((p.name(), p.version()), ("h2c", None));
        for (token, kind) in [
            (&b"WebSocket"[..], ProtocolKind::WebSocket),
            (b"websocket/13", ProtocolKind::Other),
            (b"H2C", ProtocolKind::H2c),
            (b"h2c/1", ProtocolKind::Other),
            (b"TLS/1.2", ProtocolKind::Tls),
            (b"tls", ProtocolKind::Tls),
            (b"echo", ProtocolKind::Other),
        ] {
            assert_eq!(Protocol::parse(token).unwrap().kind(), kind, "{token:?}");
        }
    }
}
