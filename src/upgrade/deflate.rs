//! permessage-deflate negotiation (RFC 7692 §5, §7.1), both roles.
//!
//! Only the parameters live here: this module needs no allocator and is
//! always compiled. The compression itself is
//! [`ws::Connection::with_deflate`](crate::ws::Connection), behind the
//! `deflate` feature.
//!
//! | parameter                    | in a client's offer                     | in the server's response                          |
//! |------------------------------|-----------------------------------------|---------------------------------------------------|
//! | `server_no_context_takeover` | asks the server to reset its window     | required if offered; may be added                 |
//! | `client_no_context_takeover` | says the client will reset its window   | may be added: the client must then reset          |
//! | `server_max_window_bits=N`   | asks the server for a window ≤ 2^N      | required (≤ N) if offered; may be added           |
//! | `client_max_window_bits[=N]` | the client accepts a limit (uses ≤ 2^N) | only if offered: the client's window (≤ N)        |
//!
//! Values are integers 8 to 15 without leading zeros (quoted or not);
//! the two `no_context_takeover` parameters take no value; a parameter
//! may appear once. A server declines an offer that breaks these rules
//! and tries the next one; a client fails the connection when the 101
//! breaks them or does not answer any of its offers (RFC 7692 §7.1).

use super::negotiation::Negotiation;
use super::websocket::{Extension, WebSocketOffer};

/// The extension's name.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The parameters in force once both sides agreed, one set per direction
/// (RFC 7692 §7.1): who resets its window after every message, and the
/// largest LZ77 window (2^bits bytes) each side's compressor may use.
/// These are all the parameters RFC 7692 defines, so the fields are
/// public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server compresses every message without the previous ones.
    pub server_no_context_takeover: bool,
    /// The client compresses every message without the previous ones.
    pub client_no_context_takeover: bool,
    /// The server's window: 8 to 15.
    pub server_max_window_bits: u8,
    /// The client's window: 8 to 15.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        DeflateParams::new()
    }
}

impl DeflateParams {
    /// Context takeover both ways and 32 KiB windows: what a bare
    /// `permessage-deflate` agrees to.
    pub const fn new() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }

    /// The parameters an agreed `permessage-deflate` element states;
    /// `None` when it is not a valid response element (see the module
    /// docs). Absent window parameters mean 15.
    pub fn from_response(element: &Extension<'_>) -> Option<Self> {
        let p = Params::parse(element)?;
        Some(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover,
            server_max_window_bits: match p.server_max_window_bits {
                Some(Bits::Value(n)) => n,
                Some(Bits::Bare) => return None,
                None => 15,
            },
            client_max_window_bits: match p.client_max_window_bits {
                Some(Bits::Value(n)) => n,
                Some(Bits::Bare) => return None,
                None => 15,
            },
        })
    }
}

/// How a side negotiates permessage-deflate: what a client offers, what a
/// server accepts and asks for.
///
/// ```
/// use protoswitch::upgrade::DeflateConfig;
/// let config = DeflateConfig::new().server_max_window_bits(10);
/// assert_eq!(
///     config.offer().as_str(),
///     "permessage-deflate; server_max_window_bits=10; client_max_window_bits"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Client: ask the server to reset its window after every message.
    /// Server: always reset ours (and say so). Default `false`.
    pub server_no_context_takeover: bool,
    /// Client: reset ours after every message (and say so). Server: ask
    /// clients to reset theirs. Default `false`.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with, 8 to 15. Client:
    /// asked for when below 15. Server: our window, never more than the
    /// client asks for. Default 15.
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with, 8 to 15. Client:
    /// offered as a value when below 15, else the parameter is offered
    /// bare (the server may pick any window). Server: asked of clients
    /// that accept a limit, when below 15. Default 15.
    pub client_max_window_bits: u8,
    /// Compress our messages (default). Off, the connection still
    /// inflates the peer's but sends its own uncompressed, which RFC 7692
    /// allows, and holds no compressor.
    pub compress: bool,
    /// The window our compressor uses, 8 to 15 (never more than was
    /// agreed): `2^(bits + 1)` bytes of memory. Default 12 (8 KiB), as
    /// Python `websockets` uses on servers.
    pub window_bits: u8,
    /// The compressor's hash table: `2^(memory_level + 8)` bytes, 1 to 9,
    /// at most twice the window's bytes and 64 KiB (so 9 is 8). Default 5
    /// (8 KiB).
    pub memory_level: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig::new()
    }
}

impl DeflateConfig {
    /// The defaults: context takeover and 32 KiB windows negotiated; our
    /// compressor uses a 4 KiB window and an 8 KiB hash table.
    pub const fn new() -> Self {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            compress: true,
            window_bits: 12,
            memory_level: 5,
        }
    }
    /// Sets [`DeflateConfig::server_no_context_takeover`].
    pub const fn server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }
    /// Sets [`DeflateConfig::client_no_context_takeover`].
    pub const fn client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }
    /// Sets [`DeflateConfig::server_max_window_bits`] (clamped to 8..=15).
    pub const fn server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = clamp_bits(bits);
        self
    }
    /// Sets [`DeflateConfig::client_max_window_bits`] (clamped to 8..=15).
    pub const fn client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = clamp_bits(bits);
        self
    }
    /// Sets [`DeflateConfig::compress`].
    pub const fn compress(mut self, on: bool) -> Self {
        self.compress = on;
        self
    }
    /// Sets [`DeflateConfig::window_bits`] (clamped to 8..=15).
    pub const fn window_bits(mut self, bits: u8) -> Self {
        self.window_bits = clamp_bits(bits);
        self
    }
    /// Sets [`DeflateConfig::memory_level`] (clamped to 1..=9).
    pub const fn memory_level(mut self, level: u8) -> Self {
        self.memory_level = if level < 1 {
            1
        } else if level > 9 {
            9
        } else {
            level
        };
        self
    }

    /// The client's offer, for
    /// [`ClientRequest::extensions`](super::ClientRequest::extensions).
    pub fn offer(&self) -> ExtensionValue {
        let mut v = ExtensionValue::new();
        v.push(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            v.push("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            v.push("; client_no_context_takeover");
        }
        // The fields are public: a value set directly is clamped here.
        let server_bits = clamp_bits(self.server_max_window_bits);
        if server_bits < 15 {
            v.push_bits("; server_max_window_bits=", server_bits);
        }
        match clamp_bits(self.client_max_window_bits) {
            15 => v.push("; client_max_window_bits"),
            bits => v.push_bits("; client_max_window_bits=", bits),
        }
        v
    }

    /// Server: the first of the client's `permessage-deflate` offers this
    /// configuration can accept (offers with unknown, repeated or invalid
    /// parameters are declined), with the response element to put in
    /// [`Accept::extensions`](super::Accept::extensions). `None` when no
    /// offer is acceptable (or none was made): switch without it.
    pub fn accept(&self, offer: &WebSocketOffer<'_>) -> Option<Agreed> {
        offer
            .extensions()
            .filter(|e| e.name().eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
            .find_map(|e| self.accept_one(&Params::parse(&e)?))
    }

    fn accept_one(&self, offer: &Params) -> Option<Agreed> {
        // Offers name server_max_window_bits with a value, and the
        // client_max_window_bits they name is a value or bare.
        // The fields are public: values set directly are clamped here.
        let ours_server = clamp_bits(self.server_max_window_bits);
        let server_bits = match offer.server_max_window_bits {
            Some(Bits::Value(n)) => Some(n.min(ours_server)),
            Some(_) => return None,
            None => (ours_server < 15).then_some(ours_server),
        };
        let ours = clamp_bits(self.client_max_window_bits);
        let (client_window, client_named) = match offer.client_max_window_bits {
            None => (15, None),
            // The client uses at most n anyway; name ours only if smaller.
            Some(Bits::Value(n)) if ours < n => (ours, Some(ours)),
            Some(Bits::Value(n)) => (n, None),
            Some(Bits::Bare) if ours < 15 => (ours, Some(ours)),
            Some(Bits::Bare) => (15, None),
        };
        let params = DeflateParams {
            server_no_context_takeover: self.server_no_context_takeover
                || offer.server_no_context_takeover,
            client_no_context_takeover: self.client_no_context_takeover
                || offer.client_no_context_takeover,
            server_max_window_bits: server_bits.unwrap_or(15),
            client_max_window_bits: client_window,
        };
        let mut response = ExtensionValue::new();
        response.push(PERMESSAGE_DEFLATE);
        if params.server_no_context_takeover {
            response.push("; server_no_context_takeover");
        }
        if params.client_no_context_takeover {
            response.push("; client_no_context_takeover");
        }
        if let Some(bits) = server_bits {
            response.push_bits("; server_max_window_bits=", bits);
        }
        if let Some(bits) = client_named {
            response.push_bits("; client_max_window_bits=", bits);
        }
        Some(Agreed { params, response })
    }

    /// Client: the parameters a 101 agreed to, checked against this
    /// configuration's offer: `None` when the server did not accept
    /// permessage-deflate. The client machine has already failed a 101
    /// whose response answers none of the offers; this also caps our
    /// window by what we offered (RFC 7692 §7.1.2.2: a value in the offer
    /// binds the client even when the response names none).
    pub fn agreed(&self, negotiation: &Negotiation<'_>) -> Option<DeflateParams> {
        let mut params = negotiation.deflate()?;
        params.client_max_window_bits = params
            .client_max_window_bits
            .min(clamp_bits(self.client_max_window_bits));
        params.client_no_context_takeover |= self.client_no_context_takeover;
        Some(params)
    }
}

const fn clamp_bits(bits: u8) -> u8 {
    if bits < 8 {
        8
    } else if bits > 15 {
        15
    } else {
        bits
    }
}

/// The server's side of an agreement: the parameters, and the response
/// element that states them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    /// The parameters in force.
    pub params: DeflateParams,
    response: ExtensionValue,
}

impl Agreed {
    /// The `Sec-WebSocket-Extensions` element to answer with.
    pub fn response(&self) -> &str {
        self.response.as_str()
    }
}

/// A `Sec-WebSocket-Extensions` element built without an allocator (the
/// longest permessage-deflate element is 128 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExtensionValue {
    bytes: [u8; 128],
    len: u8,
}

impl core::fmt::Debug for ExtensionValue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl ExtensionValue {
    const fn new() -> Self {
        ExtensionValue {
            bytes: [0; 128],
            len: 0,
        }
    }

    /// The element.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    fn push(&mut self, s: &str) {
        let at = usize::from(self.len);
        // The callers push at most 128 bytes in all.
        self.bytes[at..at + s.len()].copy_from_slice(s.as_bytes());
        self.len += s.len() as u8;
    }

    fn push_bits(&mut self, name: &str, bits: u8) {
        self.push(name);
        let digits = [b'1', b'0' + bits % 10];
        let digits = if bits >= 10 {
            &digits[..]
        } else {
            &digits[1..]
        };
        self.push(core::str::from_utf8(digits).unwrap_or(""));
    }
}

/// A window parameter as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bits {
    /// Named without a value.
    Bare,
    /// Named with a valid value.
    Value(u8),
}

/// The parameters of one element, each at most once, values checked.
#[derive(Debug, Clone, Copy, Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<Bits>,
    client_max_window_bits: Option<Bits>,
}

impl Params {
    /// `None` for an unknown or repeated parameter, a value on a flag, or
    /// a window value that is not 8 to 15 without leading zeros.
    fn parse(element: &Extension<'_>) -> Option<Self> {
        let mut p = Params::default();
        for (name, value) in element.params() {
            let is = |n: &str| name.eq_ignore_ascii_case(n);
            if is("server_no_context_takeover") || is("client_no_context_takeover") {
                let flag = if is("server_no_context_takeover") {
                    &mut p.server_no_context_takeover
                } else {
                    &mut p.client_no_context_takeover
                };
                if *flag || value.is_some() {
                    return None;
                }
                *flag = true;
            } else if is("server_max_window_bits") || is("client_max_window_bits") {
                let slot = if is("server_max_window_bits") {
                    &mut p.server_max_window_bits
                } else {
                    &mut p.client_max_window_bits
                };
                if slot.is_some() {
                    return None;
                }
                *slot = Some(match value {
                    None => Bits::Bare,
                    Some(v) => Bits::Value(window_bits(v)?),
                });
            } else {
                return None;
            }
        }
        Some(p)
    }

    /// `response` is a valid answer to this offer (RFC 7692 §7.1): what
    /// the offer asked for is granted, nothing is named that the offer
    /// did not allow, no window is larger than offered.
    fn answered_by(&self, response: &Params) -> bool {
        let server_ok = match (self.server_max_window_bits, response.server_max_window_bits) {
            (Some(Bits::Value(asked)), Some(Bits::Value(got))) => got <= asked,
            (Some(_), _) => false,
            (None, Some(Bits::Value(_)) | None) => true,
            (None, Some(Bits::Bare)) => false,
        };
        let client_ok = match (self.client_max_window_bits, response.client_max_window_bits) {
            (_, None) => true,
            (None, Some(_)) | (_, Some(Bits::Bare)) => false,
            (Some(Bits::Value(offered)), Some(Bits::Value(got))) => got <= offered,
            (Some(_), Some(Bits::Value(_))) => true,
        };
        server_ok
            && client_ok
            && (!self.server_no_context_takeover || response.server_no_context_takeover)
    }
}

/// A window value: `8` to `15`, no leading zero; quoted, it is read
/// after unescaping (RFC 6455 §9.1: `"1\5"` is 15).
fn window_bits(value: &str) -> Option<u8> {
    let v = value.as_bytes();
    let mut digits = [0u8; 2];
    let mut n = 0;
    let v = match v {
        [b'"', inner @ .., b'"'] => {
            let mut escaped = false;
            for &b in inner {
                if b == b'\\' && !escaped {
                    escaped = true;
                    continue;
                }
                escaped = false;
                *digits.get_mut(n)? = b;
                n += 1;
            }
            if escaped {
                return None;
            }
            &digits[..n]
        }
        _ => v,
    };
    match *v {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// The `permessage-deflate` element of a selection (a 101's extensions, or
/// the server's `Accept`), if any, answers one of the `permessage-deflate`
/// offers in `offers` (elements as the client sent them; other extensions
/// are skipped). `true` when the selection has no such element.
pub(crate) fn selection_answers_offers<'s, 'o>(
    mut selected: impl Iterator<Item = Extension<'s>>,
    offers: impl Iterator<Item = &'o [u8]>,
) -> bool {
    let Some(response) = selected.find(|e| e.name().eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
    else {
        return true;
    };
    let Some(got) = Params::parse(&response) else {
        return false;
    };
    offers
        .filter_map(Extension::parse)
        .filter(|o| o.name().eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
        .filter_map(|o| Params::parse(&o))
        .any(|o| o.answered_by(&got))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(s: &str) -> Extension<'_> {
        Extension::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn window_values() {
        for (v, want) in [
            ("8", Some(8)),
            ("9", Some(9)),
            ("10", Some(10)),
            ("15", Some(15)),
            ("\"12\"", Some(12)),
            ("7", None),
            ("16", None),
            ("08", None),
            ("", None),
            ("1", None),
            ("\"\"", None),
            ("+9", None),
            ("\"1\\5\"", Some(15)),
            ("\"\\9\"", Some(9)),
            ("\"1\\\"", None),
            ("\"123\"", None),
        ] {
            assert_eq!(window_bits(v), want, "{v:?}");
        }
    }

    #[test]
    fn params_are_checked() {
        let ok = |s| Params::parse(&ext(s)).is_some();
        assert!(ok("permessage-deflate"));
        assert!(ok(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits"
        ));
        assert!(!ok("permessage-deflate; foo"));
        assert!(!ok("permessage-deflate; server_no_context_takeover=1"));
        assert!(!ok(
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover"
        ));
        assert!(!ok(
            "permessage-deflate; server_max_window_bits=9; server_max_window_bits=10"
        ));
        assert!(!ok("permessage-deflate; client_max_window_bits=16"));
    }

    #[test]
    fn value_formatting() {
        let c = DeflateConfig::new()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true)
            .server_max_window_bits(15)
            .client_max_window_bits(9);
        assert_eq!(
            c.offer().as_str(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9"
        );
        let mut longest = ExtensionValue::new();
        longest.push(PERMESSAGE_DEFLATE);
        longest.push("; server_no_context_takeover; client_no_context_takeover");
        longest.push_bits("; server_max_window_bits=", 15);
        longest.push_bits("; client_max_window_bits=", 15);
        assert_eq!(longest.as_str().len(), 128);
    }
}
