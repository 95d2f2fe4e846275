//! Parsing HTTP/1.1 message heads (RFC 9112 §2–§6): start lines, field
//! lines ([`scan_fields`], which indexes the known fields as it goes) and
//! the stricter checks of the message-level rules.

use super::token::{
    ByteSet, ListElements, byte_set_where, eq_ignore_case, eq_lowercase, eq_visible_lowercase,
    field_char, is_only_element, list_contains, same_str, token_len, trim_ows,
};
use crate::error::PeerErrorKind;

/// The most field lines a head may have: configured limits above this are
/// clamped to it (it was the parser's slots on the stack; the parser no
/// longer has any, the bound stays).
pub const MAX_HEADER_SLOTS: usize = 128;

/// Limits applied while reading a message: its head, and the parts of a
/// chunked body that are not data (chunk extensions, trailer section).
///
/// Over a head limit a server answers 431; over the chunk-extension limit
/// 413 (RFC 9112 §7.1.1 asks for "an appropriate 4xx"); over a trailer
/// limit 431, as for header fields. A client closes the connection.
///
/// ```
/// use protoswitch::http1::Limits;
/// let limits = Limits::new().max_head_bytes(4096).max_headers(32);
/// assert_eq!(limits.max_head_bytes, 4096);
/// assert_eq!(limits.max_trailer_fields, 32);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest head in bytes, empty lines before a request line, the
    /// request/status line and the final empty line included. Default 8192.
    pub max_head_bytes: usize,
    /// Most header fields. Default 64, at most [`MAX_HEADER_SLOTS`].
    pub max_headers: usize,
    /// Most bytes of chunk extensions (everything between a chunk size and
    /// its CRLF) in one message, all chunks together. Default 4096.
    pub max_chunk_extension_bytes: usize,
    /// Largest trailer section in bytes (field lines with their line
    /// endings). Default 4096.
    pub max_trailer_bytes: usize,
    /// Most trailer fields. Default 32.
    pub max_trailer_fields: usize,
}

impl Limits {
    /// The defaults.
    pub const fn new() -> Self {
        Limits {
            max_head_bytes: 8192,
            max_headers: 64,
            max_chunk_extension_bytes: 4096,
            max_trailer_bytes: 4096,
            max_trailer_fields: 32,
        }
    }
    /// Sets [`Limits::max_head_bytes`].
    pub const fn max_head_bytes(mut self, bytes: usize) -> Self {
        self.max_head_bytes = bytes;
        self
    }
    /// Sets [`Limits::max_headers`].
    pub const fn max_headers(mut self, fields: usize) -> Self {
        self.max_headers = fields;
        self
    }
    /// Sets [`Limits::max_chunk_extension_bytes`].
    pub const fn max_chunk_extension_bytes(mut self, bytes: usize) -> Self {
        self.max_chunk_extension_bytes = bytes;
        self
    }
    /// Sets [`Limits::max_trailer_bytes`].
    pub const fn max_trailer_bytes(mut self, bytes: usize) -> Self {
        self.max_trailer_bytes = bytes;
        self
    }
    /// Sets [`Limits::max_trailer_fields`].
    pub const fn max_trailer_fields(mut self, fields: usize) -> Self {
        self.max_trailer_fields = fields;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}

/// One header field: a name and its raw value (whitespace trimmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Field name as received (compare ignoring ASCII case).
    pub name: &'a str,
    /// Field value, bytes as received, surrounding whitespace removed.
    pub value: &'a [u8],
}

impl<'a> Header<'a> {
    /// A header from a name and a value.
    pub const fn new(name: &'a str, value: &'a [u8]) -> Self {
        Header { name, value }
    }
}

/// The fields the machines look up. Where each is in a head is noted in
/// the one pass that parses it ([`FieldIndex`]), so a lookup goes straight
/// to its line instead of reading the block again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Host,
    Upgrade,
    Connection,
    ContentLength,
    TransferEncoding,
    Expect,
    Origin,
    Http2Settings,
    SecWebSocketKey,
    SecWebSocketVersion,
    SecWebSocketProtocol,
    SecWebSocketExtensions,
    SecWebSocketAccept,
}

const FIELDS: [(Field, &str); 13] = [
    (Field::Host, "host"),
    (Field::Upgrade, "upgrade"),
    (Field::Connection, "connection"),
    (Field::ContentLength, "content-length"),
    (Field::TransferEncoding, "transfer-encoding"),
    (Field::Expect, "expect"),
    (Field::Origin, "origin"),
    (Field::Http2Settings, "http2-settings"),
    (Field::SecWebSocketKey, "sec-websocket-key"),
    (Field::SecWebSocketVersion, "sec-websocket-version"),
    (Field::SecWebSocketProtocol, "sec-websocket-protocol"),
    (Field::SecWebSocketExtensions, "sec-websocket-extensions"),
    (Field::SecWebSocketAccept, "sec-websocket-accept"),
];

impl Field {
    /// The known field called `name` (ASCII case ignored): the length and
    /// the first letter pick the one candidate, one comparison decides.
    fn of(name: &[u8]) -> Option<Field> {
        let (field, known) = Field::candidate(name)?;
        eq_lowercase(name, known.as_bytes()).then_some(field)
    }

    /// [`Field::of`] for a field name [`scan_fields`] read (bytes
    /// `0x21..=0x7E` but `:`, [`name_run`]): a cheaper comparison, exact
    /// for such bytes ([`eq_visible_lowercase`]). A name it finds is a
    /// token, as the table's are: `scan_fields` checks only the others.
    fn of_visible(name: &[u8]) -> Option<Field> {
        let (field, known) = Field::candidate(name)?;
        eq_visible_lowercase(name, known.as_bytes()).then_some(field)
    }

    /// The one field `name` may be, and its name, from its length and
    /// first letter: a slot of [`FIELD_SLOTS`] (a lookup instead of a
    /// match of thirteen arms: firmware .text 19,696 -> 19,572 B, .rodata
    /// +32 B). On 64-bit targets the slot holds the name too: one load
    /// less before the comparison, in the handshake's loop over field
    /// lines (issue 9); on others the name is read from [`FIELDS`] (the
    /// names in the slots took 352 B more of the firmware's .rodata).
    fn candidate(name: &[u8]) -> Option<(Field, &'static str)> {
        let first = *name.first()? | 0x20;
        let slot = field_slot(name.len(), first);
        #[cfg(target_pointer_width = "64")]
        let found = FIELD_SLOTS[slot];
        #[cfg(not(target_pointer_width = "64"))]
        let found = FIELD_SLOTS[slot].map(|field| FIELDS[field as usize]);
        found
    }
}

/// The slot of a name of `len` bytes starting with `first` (made small)
/// in [`FIELD_SLOTS`]: different for every known field.
const fn field_slot(len: usize, first: u8) -> usize {
    (len + (first >> 2) as usize) % 32
}

/// The known fields by [`field_slot`], with their names ([`NAMED_SLOTS`])
/// on 64-bit targets.
#[cfg(target_pointer_width = "64")]
const FIELD_SLOTS: [Option<(Field, &str)>; 32] = NAMED_SLOTS;
/// The known fields by [`field_slot`], without their names (read from
/// [`FIELDS`]) on 32-bit targets.
#[cfg(not(target_pointer_width = "64"))]
const FIELD_SLOTS: [Option<Field>; 32] = {
    let mut slots = [None; 32];
    let mut i = 0;
    while i < 32 {
        if let Some((field, _)) = NAMED_SLOTS[i] {
            slots[i] = Some(field);
        }
        i += 1;
    }
    slots
};

/// The known fields and their names by [`field_slot`] (each name is
/// compared whole after the lookup). Built at compile time, which fails
/// if two fields share a slot.
const NAMED_SLOTS: [Option<(Field, &str)>; 32] = {
    let mut slots = [None; 32];
    let mut i = 0;
    while i < FIELDS.len() {
        let (field, name) = FIELDS[i];
        let slot = field_slot(name.len(), name.as_bytes()[0]);
        assert!(slots[slot].is_none(), "two known fields share a slot");
        slots[slot] = Some((field, name));
        i += 1;
    }
    slots
};

/// Where the known fields are in a header block: the first value of each
/// (offset and length, trimmed as [`HeaderIter`] trims it) and how many
/// lines have its name (at most 255 counted; more are found by reading
/// on). Offsets are 16-bit: a block longer than 64 KiB is not indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldIndex {
    value_at: [u16; FIELDS.len()],
    value_len: [u16; FIELDS.len()],
    count: [u8; FIELDS.len()],
    /// Lookups read the whole block.
    unindexed: bool,
}

impl FieldIndex {
    const EMPTY: FieldIndex = FieldIndex {
        value_at: [0; FIELDS.len()],
        value_len: [0; FIELDS.len()],
        count: [0; FIELDS.len()],
        unindexed: false,
    };

    /// Notes a line of the known `field` whose value is the `len` bytes at
    /// `offset` in the block.
    // A call on 32-bit targets (firmware .text 16,980 -> 16,968 B).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn note(&mut self, field: Field, offset: usize, len: usize) {
        let i = field as usize;
        if self.count[i] == 0 {
            match (u16::try_from(offset), u16::try_from(len)) {
                (Ok(at), Ok(len)) => {
                    self.value_at[i] = at;
                    self.value_len[i] = len;
                }
                _ => self.unindexed = true,
            }
        }
        self.count[i] = self.count[i].saturating_add(1);
    }
}

/// The values of the fields called `name`: the first straight from the
/// index, the others (if any) by reading on from there.
#[derive(Debug, Clone)]
pub(crate) struct Values<'b, 'n> {
    first: Option<&'b [u8]>,
    rest: HeaderIter<'b>,
    name: &'n str,
    /// Values left after `first` (`usize::MAX`: read to the end).
    left: usize,
}

impl<'b, 'n> Values<'b, 'n> {
    /// Every line of `lines` called `name`, read one by one.
    fn reading_all(lines: HeaderIter<'b>, name: &'n str) -> Self {
        Values {
            first: None,
            rest: lines,
            name,
            left: usize::MAX,
        }
    }
}

impl<'b> Iterator for Values<'b, '_> {
    type Item = &'b [u8];
    fn next(&mut self) -> Option<&'b [u8]> {
        if let Some(first) = self.first.take() {
            return Some(first);
        }
        if self.left == 0 {
            return None;
        }
        loop {
            let (name, value) = self.rest.next_line()?;
            if eq_ignore_case(name, self.name.as_bytes()) {
                self.left -= 1;
                return Some(value);
            }
        }
    }
}

/// The list elements of a known field, every line of it in order
/// ([`Headers::elements`]), or of one value ([`Elements::of_value`]).
///
/// `values.flat_map(ListElements::new)` in one small loop: on 32-bit
/// targets a call, where `flat_map`'s adapters were inlined at each of
/// the firmware's lookups. 64-bit targets inline its `next` always
/// (`inline(always)`): with a plain hint the exact path's parse called it,
/// and the handshake in two reads took 5 % longer.
#[derive(Debug, Clone)]
pub(crate) struct Elements<'b> {
    values: Values<'b, 'static>,
    current: ListElements<'b>,
}

impl<'b> Elements<'b> {
    /// The elements of the list in `value` alone.
    pub(crate) fn of_value(value: &'b [u8]) -> Self {
        Elements {
            values: Values::reading_all(HeaderIter { rest: &[] }, ""),
            current: ListElements::new(value),
        }
    }
}

impl<'b> Iterator for Elements<'b> {
    type Item = &'b [u8];
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn next(&mut self) -> Option<&'b [u8]> {
        loop {
            if let Some(element) = self.current.next() {
                return Some(element);
            }
            self.current = ListElements::new(self.values.next()?);
        }
    }
}

/// The header section of a received head, borrowed from the caller's buffer.
/// Copy it freely; iterate it as often as needed. Looking up the fields of
/// the protocols this crate implements goes straight to their lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'b> {
    /// The field lines, each ending in LF (CRLF), and the final empty line
    /// (a line without a colon, which iteration skips).
    block: &'b [u8],
    index: FieldIndex,
}

impl<'b> Headers<'b> {
    /// Every field in order.
    pub fn iter(&self) -> HeaderIter<'b> {
        HeaderIter { rest: self.block }
    }

    /// The value of the first field called `name` (ASCII case ignored).
    pub fn get(&self, name: &str) -> Option<&'b [u8]> {
        self.get_all(name).next()
    }

    /// The value of the first field called `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&'b str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The values of every field called `name`.
    pub fn get_all<'n>(
        &self,
        name: &'n str,
    ) -> impl Iterator<Item = &'b [u8]> + Clone + use<'b, 'n> {
        match Field::of(name.as_bytes()) {
            Some(field) => self.values(field),
            None => Values::reading_all(self.iter(), name),
        }
    }

    /// `false` when the head has no `field` line (the index says so
    /// without a lookup): a caller skips what it would do with the values
    /// of a field most heads lack. A shortcut ([`crate::SHORTCUTS`]):
    /// without it always `true`, and the caller finds no values.
    #[inline]
    pub(crate) fn may_have(&self, field: Field) -> bool {
        !crate::SHORTCUTS || self.index.unindexed || self.index.count[field as usize] != 0
    }

    /// The values of the known field `field`: the first straight from the
    /// index, the others by reading on from there.
    ///
    /// Never inlined on 32-bit targets: its callers (a dozen lookups)
    /// each carried a copy (issue 9: 1.2 KiB of the firmware). Inlined on
    /// 64-bit ones: returned through memory, the iterator was read back
    /// wider than it was written, and each such load waited for the
    /// stores to retire (store forwarding fails).
    #[cfg_attr(target_pointer_width = "64", inline)]
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub(crate) fn values(&self, field: Field) -> Values<'b, 'static> {
        let name = FIELDS[field as usize].1;
        if self.index.unindexed {
            return Values::reading_all(self.iter(), name);
        }
        let i = field as usize;
        let (at, len) = (
            usize::from(self.index.value_at[i]),
            usize::from(self.index.value_len[i]),
        );
        match self.index.count[i] {
            0 => Values {
                first: None,
                rest: HeaderIter { rest: &[] },
                name,
                left: 0,
            },
            count => Values {
                first: self.block.get(at..at + len),
                // The rest of the first line has no field; the next lines
                // are read as usual.
                rest: HeaderIter {
                    rest: self.block.get(at + len..).unwrap_or(&[]),
                },
                name,
                left: match count {
                    u8::MAX => usize::MAX,
                    n => usize::from(n) - 1,
                },
            },
        }
    }

    /// The list elements of the known field `field` (every line of it).
    // A call on 32-bit targets, where it was inlined at five sites; 64-bit
    // targets inline it as before (with `skip_empty_lines`: firmware .text
    // 16,428 -> 16,336 B).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub(crate) fn elements(&self, field: Field) -> Elements<'b> {
        Elements {
            values: self.values(field),
            current: ListElements::new(&[]),
        }
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// The list elements of every field called `name`, in order
    /// (RFC 9110 §5.6.1: several field lines form one list).
    pub fn list<'n>(&self, name: &'n str) -> impl Iterator<Item = &'b [u8]> + Clone + use<'b, 'n> {
        self.get_all(name).flat_map(ListElements::new)
    }

    /// `true` when a list field `name` has the element `token` (case ignored).
    pub fn list_contains(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .any(|v| list_contains(v, token.as_bytes()))
    }
}

impl<'b> IntoIterator for Headers<'b> {
    type Item = Header<'b>;
    type IntoIter = HeaderIter<'b>;
    fn into_iter(self) -> HeaderIter<'b> {
        self.iter()
    }
}

impl<'b> IntoIterator for &Headers<'b> {
    type Item = Header<'b>;
    type IntoIter = HeaderIter<'b>;
    fn into_iter(self) -> HeaderIter<'b> {
        self.iter()
    }
}

/// Iterator over [`Headers`].
#[derive(Debug, Clone)]
pub struct HeaderIter<'b> {
    rest: &'b [u8],
}

impl<'b> HeaderIter<'b> {
    /// The next field line's name and value, as bytes: what `Values`
    /// compares needs no string (firmware .text 16,856 -> 16,824 B).
    fn next_line(&mut self) -> Option<(&'b [u8], &'b [u8])> {
        // The block was validated by `scan_fields`: every line
        // is `name:value` with a token name.
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = find_lf(self.rest).unwrap_or(self.rest.len());
            let mut line = &self.rest[..end];
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                return Some((&line[..colon], trim_ows(&line[colon + 1..])));
            }
        }
    }
}

impl<'b> Iterator for HeaderIter<'b> {
    type Item = Header<'b>;
    fn next(&mut self) -> Option<Header<'b>> {
        loop {
            let (name, value) = self.next_line()?;
            if let Ok(name) = core::str::from_utf8(name) {
                return Some(Header { name, value });
            }
        }
    }
}

/// How the body of a message is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (responses only).
    UntilClose,
}

/// Facts about a head that the machines need, gathered in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Facts {
    pub content_length: Option<u64>,
    /// `Transfer-Encoding` is present.
    pub transfer_encoding: bool,
    pub chunked: bool,
    /// `Transfer-Encoding` present but not ending in chunked.
    pub te_not_chunked: bool,
    pub expect_continue: bool,
    pub conn_upgrade: bool,
    pub conn_close: bool,
    pub conn_keep_alive: bool,
    pub conn_http2_settings: bool,
}

/// A parsed request head, borrowed from the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead<'b> {
    method: &'b str,
    target: &'b str,
    minor_version: u8,
    headers: Headers<'b>,
}

impl<'b> RequestHead<'b> {
    /// The method, e.g. `GET`.
    pub fn method(&self) -> &'b str {
        self.method
    }
    /// The request target, e.g. `/chat?room=1`.
    pub fn target(&self) -> &'b str {
        self.target
    }
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }
    /// The header fields, lent (`*head.headers()` is a copy of them,
    /// borrowing only the buffer).
    pub fn headers(&self) -> &Headers<'b> {
        &self.headers
    }
}

/// A parsed response head, borrowed from the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHead<'b> {
    status: u16,
    reason: &'b str,
    minor_version: u8,
    headers: Headers<'b>,
}

impl<'b> ResponseHead<'b> {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }
    /// The reason phrase (may be empty).
    pub fn reason(&self) -> &'b str {
        self.reason
    }
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub fn minor_version(&self) -> u8 {
        self.minor_version
    }
    /// The header fields, lent (`*head.headers()` is a copy of them,
    /// borrowing only the buffer).
    pub fn headers(&self) -> &Headers<'b> {
        &self.headers
    }
}

/// Finds complete heads in a growing receive buffer with work linear in
/// the bytes received, however they are split: the empty lines a server
/// skips before a request line (RFC 9112 §2.2) and the search for the end
/// of the head both resume where the previous call stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct HeadReader {
    /// Bytes of empty lines skipped before the head.
    skipped: usize,
    /// How far the search for the end of the head has looked, counted from
    /// `skipped`.
    scanned: usize,
}

impl HeadReader {
    /// Looks for a complete head at the start of `buf` (the same buffer as
    /// last time, possibly longer). Returns where the head starts (after
    /// skipped empty lines, when `skip_empty_lines`) and where it ends
    /// (after its final empty line), and forgets both for the next head.
    pub(crate) fn find(
        &mut self,
        buf: &[u8],
        skip_empty_lines: bool,
        limits: &Limits,
    ) -> Result<Option<(usize, usize)>, PeerErrorKind> {
        let start = self.skip_empty_lines(buf, skip_empty_lines);
        let too_large = PeerErrorKind::HeadTooLarge {
            limit: limits.max_head_bytes,
        };
        let Some(len) = find_head_end(&buf[start..], &mut self.scanned) else {
            if buf.len() >= limits.max_head_bytes {
                return Err(too_large);
            }
            return Ok(None);
        };
        if start + len > limits.max_head_bytes {
            return Err(too_large);
        }
        *self = HeadReader::default();
        Ok(Some((start, start + len)))
    }

    /// Where the head starts: after the empty lines before it, skipped
    /// (and remembered) when `skip_empty_lines`.
    // A call on 32-bit targets: `read_request` and `find` each had a copy
    // (see `elements` for the figure).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn skip_empty_lines(&mut self, buf: &[u8], skip_empty_lines: bool) -> usize {
        if skip_empty_lines {
            let more = leading_empty_lines(buf.get(self.skipped..).unwrap_or(&[]));
            if more > 0 {
                self.skipped += more;
                self.scanned = 0;
            }
        }
        self.skipped.min(buf.len())
    }

    /// Reads a complete request head at the start of `buf` (the same
    /// buffer as last time, possibly longer), after the empty lines a
    /// server skips: where it starts and ends, and what it says.
    ///
    /// The common case is a head that arrived whole with nothing after it
    /// ([`may_be_whole`]): the parser alone finds where it ends — one pass
    /// instead of a search for the end followed by the parse. Anything
    /// else (the buffer does not end with an empty line, is longer than a
    /// head may be, or does not parse) takes the exact path:
    /// [`HeadReader::find`], then the parse of exactly the head, which
    /// names the error. The one pass is a shortcut ([`crate::SHORTCUTS`]):
    /// without it every head takes the exact path.
    ///
    /// Inlined on 64-bit targets with the one-pass parse (into the server
    /// machine and the relay): the head is then built where its caller
    /// keeps it, instead of being returned through three calls (each copy
    /// read back wider than it was written, and such loads stall on store
    /// forwarding: issue 9). The exact path calls the out-of-line
    /// [`parse_found_request`].
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub(crate) fn read_request<'b>(
        &mut self,
        buf: &'b [u8],
        limits: &Limits,
    ) -> Result<Option<(usize, usize, RequestHead<'b>, Facts)>, PeerErrorKind> {
        let start = self.skip_empty_lines(buf, true);
        if crate::SHORTCUTS && may_be_whole(&buf[start..], buf.len(), limits) {
            if let Ok((head, facts, len)) = parse_request_inline(&buf[start..], limits) {
                *self = HeadReader::default();
                return Ok(Some((start, start + len, head, facts)));
            }
        }
        let Some((start, end)) = self.find(buf, true, limits)? else {
            return Ok(None);
        };
        parse_found_request(buf, start, end, limits)
    }

    /// Reads a complete response head at the start of `buf` (the same
    /// buffer as last time, possibly longer): its length and what it says
    /// (`to_connect`: see [`parse_response`]).
    pub(crate) fn read_response<'b>(
        &mut self,
        buf: &'b [u8],
        limits: &Limits,
        to_connect: bool,
    ) -> Result<Option<(usize, ResponseHead<'b>, Facts)>, PeerErrorKind> {
        // No empty line is skipped before a response: its head starts at 0.
        debug_assert_eq!(self.skipped, 0, "a response reader skips nothing");
        if may_be_whole(buf, buf.len(), limits) {
            if let Ok((head, facts, len)) = parse_response(buf, limits, to_connect) {
                *self = HeadReader::default();
                return Ok(Some((len, head, facts)));
            }
        }
        let Some((start, end)) = self.find(buf, false, limits)? else {
            return Ok(None);
        };
        let (head, facts, len) = parse_response(&buf[start..end], limits, to_connect)?;
        debug_assert_eq!(len, end - start, "the parser stops at the head's end");
        Ok(Some((end, head, facts)))
    }
}

/// `true` when `rest` (the buffer from the head's start; the whole buffer
/// is `buf_len` bytes) may be parsed in one pass, before any search for
/// the head's end: it ends with an empty line, so a complete head is there
/// (the parser stops at the first empty line, as `scan_fields` does), and
/// the buffer is not longer than a head may be.
#[inline]
fn may_be_whole(rest: &[u8], buf_len: usize, limits: &Limits) -> bool {
    let ends_with_empty_line = rest.ends_with(b"\n\n") || rest.ends_with(b"\n\r\n");
    // A head is then complete (its first empty line is at the latest the
    // one at the end), so this is tried at most once per head.
    let whole = ends_with_empty_line && buf_len <= limits.max_head_bytes;
    #[cfg(test)]
    if whole {
        work::steps(rest.len());
    }
    whole
}

/// Finds the end of a head incrementally. `scanned` is how far a previous
/// call looked; the search resumes just before it so each byte is looked at
/// a bounded number of times. Returns the head length including the final
/// empty line.
fn find_head_end(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    find_head_end_in(buf, scanned, crate::SHORTCUTS)
}

/// [`find_head_end`], eight bytes at a time first when `words` (a
/// shortcut, [`crate::SHORTCUTS`]; the tests run both ways).
fn find_head_end_in(buf: &[u8], scanned: &mut usize, words: bool) -> Option<usize> {
    // An empty line ends the head: a LF followed by LF or by CR LF. Eight
    // bytes at a time ([`lf_flags`]; each flag is checked, as one above a
    // LF may be another byte), one pass however many lines.
    let ends_head = |i: usize| match &buf[i + 1..] {
        [b'\n', ..] => Some(i + 2),
        [b'\r', b'\n', ..] => Some(i + 3),
        _ => None,
    };
    let mut i = scanned.saturating_sub(3);
    while words && i + 8 <= buf.len() {
        #[cfg(test)]
        work::steps(8);
        let mut flags = lf_flags(&buf[i..i + 8]);
        while flags != 0 {
            let at = i + (flags.trailing_zeros() / 8) as usize;
            if buf[at] == b'\n' {
                if let Some(end) = ends_head(at) {
                    return Some(end);
                }
            }
            flags &= flags - 1;
        }
        i += 8;
    }
    while i < buf.len() {
        #[cfg(test)]
        work::step();
        if buf[i] == b'\n' {
            if let Some(end) = ends_head(i) {
                return Some(end);
            }
        }
        i += 1;
    }
    *scanned = buf.len();
    None
}

/// Bit 7 of byte `k` set for every `\n` among the eight bytes of `chunk`
/// (byte `k` of the chunk is byte `k` of the word, so the lowest flag is
/// the first), by the classic zero-byte test on the word XOR `\n`: every
/// LF is flagged, and the lowest flag is always one; a flag above a LF may
/// be another byte (a borrow), so callers looking past the first check.
fn lf_flags(chunk: &[u8]) -> u64 {
    const LFS: u64 = u64::from_le_bytes([b'\n'; 8]);
    let mut word = [0; 8];
    word.copy_from_slice(chunk);
    let x = u64::from_le_bytes(word) ^ LFS;
    x.wrapping_sub(ONES) & !x & HIGH
}

/// The position of the first `\n` in `bytes`. Every byte looked at
/// counts as work.
#[inline]
fn find_lf(bytes: &[u8]) -> Option<usize> {
    find_lf_in(bytes, crate::SHORTCUTS)
}

/// [`find_lf`], eight bytes at a time first when `words` ([`lf_flags`]; a
/// shortcut, [`crate::SHORTCUTS`]; the tests run both ways).
// Inlined (a hint): as a call from its wrapper the client's check of a
// 101 took about 2 % longer (compare, hs_client_validate).
#[inline]
fn find_lf_in(bytes: &[u8], words: bool) -> Option<usize> {
    let mut at = 0;
    if words {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            #[cfg(test)]
            work::steps(8);
            let flags = lf_flags(chunk);
            if flags != 0 {
                return Some(at + (flags.trailing_zeros() / 8) as usize);
            }
            at += 8;
        }
    }
    let rest = &bytes[at..];
    #[cfg(test)]
    work::steps(rest.len());
    rest.iter().position(|&b| b == b'\n').map(|p| at + p)
}

/// Bytes of leading empty lines (CRLF or LF) a server skips before a
/// request line (RFC 9112 §2.2).
///
/// ```
/// assert_eq!(protoswitch::http1::leading_empty_lines(b"\r\n\nGET"), 3);
/// ```
pub fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        #[cfg(test)]
        work::step();
        match &buf[i..] {
            [b'\r', b'\n', ..] => i += 2,
            [b'\n', ..] => i += 1,
            _ => return i,
        }
    }
}

/// Whether a line of `fields` starts with whitespace (obsolete line
/// folding), to name the error `scan_fields` reports for it (a name
/// error): the first line too, as if a line ended before it.
fn has_folded_line(fields: &[u8]) -> bool {
    let mut after_lf = true;
    for &b in fields {
        if after_lf && matches!(b, b' ' | b'\t') {
            return true;
        }
        after_lf = b == b'\n';
    }
    false
}

/// Splits the first line off `head`: the line without its ending (CRLF or
/// a bare LF, RFC 9112 §2.2), and the rest. A CR left inside the line is
/// found by [`start_line_error`] when the line does not parse.
fn split_start_line(head: &[u8]) -> Result<(&[u8], &[u8]), PeerErrorKind> {
    let lf = find_lf(head).ok_or(PeerErrorKind::BadLineEnding)?;
    let line = match &head[..lf] {
        [line @ .., b'\r'] => line,
        line => line,
    };
    Ok((line, &head[lf + 1..]))
}

/// The error for a start line that did not parse with `error`: a CR inside
/// it is a bad line ending whatever else is wrong. No line with a CR
/// parses (no part of a request or status line may hold one), so this
/// is looked for only on failure: a search of every line cost about 100
/// instructions a head.
fn start_line_error(line: &[u8], error: PeerErrorKind) -> PeerErrorKind {
    if holds(line, b'\r') {
        PeerErrorKind::BadLineEnding
    } else {
        error
    }
}

/// The usual request line read at once: `GET`, an origin-form target
/// (`/` and visible characters, no `#`) and `HTTP/1.1`, ending in CRLF, at
/// the start of `head`: the target, and the bytes after the line. `None`
/// for anything else, which [`split_start_line`] and
/// [`parse_request_line`] then read (and name the error of); for a line
/// this takes they give the same (a test compares them). A shortcut
/// ([`crate::SHORTCUTS`]): without it always `None`. Issue 9: the general
/// reading (the line's end, its three parts, the method as a token, the
/// target's characters one by one, its form) was about 7 % of a server
/// handshake.
#[inline(always)]
fn usual_request_line(head: &[u8]) -> Option<(&str, &[u8])> {
    let [b'G', b'E', b'T', b' ', b'/', ..] = head else {
        return None;
    };
    if !crate::SHORTCUTS {
        return None;
    }
    let end = visible_run(head, 5);
    let rest = head[end..].strip_prefix(b" HTTP/1.1\r\n")?;
    let target = &head[4..end];
    if holds(target, b'#') {
        return None;
    }
    Some((core::str::from_utf8(target).ok()?, rest))
}

/// `HTTP/1.x` → the minor version the message is handled as: 0, or 1 for
/// any `x` ≥ 1 (RFC 9112 §2.3: a higher minor version of a major version
/// we implement is processed as the highest one we conform to). Another
/// major version is [`PeerErrorKind::BadVersion`].
fn parse_version(v: &[u8]) -> Result<u8, PeerErrorKind> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            match (major, minor) {
                (b'1', b'0') => Ok(0),
                (b'1', _) => Ok(1),
                _ => Err(PeerErrorKind::BadVersion),
            }
        }
        _ => Err(PeerErrorKind::BadStartLine),
    }
}

/// `request-line = method SP request-target SP HTTP-version` (RFC 9112 §3),
/// with the rules for the four target forms (§3.2): `*` only with OPTIONS,
/// authority-form only with CONNECT, no fragment (`#` is not allowed in
/// any form).
fn parse_request_line(line: &[u8]) -> Result<(&str, &str, u8), PeerErrorKind> {
    // Three parts; a space in the last (four or more parts) leaves a
    // version `parse_version` rejects as BadStartLine, the error a fourth
    // part was, and every check before it names that error too: the
    // version is not searched for a space.
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(PeerErrorKind::BadStartLine);
    };
    if !super::is_token(method) {
        return Err(PeerErrorKind::BadStartLine);
    }
    let minor = parse_version(version)?;
    if target.is_empty() || !target.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(PeerErrorKind::BadStartLine);
    }
    // Both are ASCII (checked above): one conversion for the two and the
    // space between them (a call of `core::str::from_utf8` is about 65
    // instructions for a line this short), split at that space.
    let both = core::str::from_utf8(&line[..method.len() + 1 + target.len()])
        .map_err(|_| PeerErrorKind::BadStartLine)?;
    let (method, space_target) = both
        .split_at_checked(method.len())
        .ok_or(PeerErrorKind::BadStartLine)?;
    let target = space_target.get(1..).ok_or(PeerErrorKind::BadStartLine)?;
    if !target_form_allowed(method, target) {
        return Err(PeerErrorKind::BadTarget);
    }
    Ok((method, target, minor))
}

/// `true` when `s` holds `byte`: a byte loop where `<[u8]>::contains`
/// would link core's `memchr` (148 B of flash) for the short slices
/// searched here (firmware .text 19,572 -> 19,328 B).
#[allow(clippy::manual_contains)]
fn holds(s: &[u8], byte: u8) -> bool {
    s.iter().any(|&b| b == byte)
}

/// RFC 9112 §3.2: which request-target form a method may use. CONNECT
/// takes only the authority-form `host:port` (RFC 9110 §9.3.6); OPTIONS
/// may use `*`; every method may use the origin-form (`/path?query`) and
/// the absolute-form (`scheme:…`).
pub(crate) fn target_form_allowed(method: &str, target: &str) -> bool {
    // A byte search ([`holds`]): `str::contains(char)` took a general
    // searcher.
    if holds(target.as_bytes(), b'#') {
        return false;
    }
    // The colons are found on bytes too: `str::split_once(char)` and
    // `rsplit_once` carried a general searcher each (firmware .text
    // 25,636 -> 25,404 B).
    let bytes = target.as_bytes();
    if same_str(method, "CONNECT") {
        return match bytes.iter().rposition(|&b| b == b':') {
            Some(colon) => colon > 0 && colon + 1 < bytes.len() && is_valid_host(bytes),
            None => false,
        };
    }
    if same_str(target, "*") {
        return same_str(method, "OPTIONS");
    }
    if target.starts_with('/') {
        return true;
    }
    // absolute-form: scheme ":" hier-part; scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
    match bytes.iter().position(|&b| b == b':') {
        Some(colon) => match &bytes[..colon] {
            [first, rest @ ..] => {
                first.is_ascii_alphabetic()
                    && rest
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            }
            [] => false,
        },
        None => false,
    }
}

/// `status-line = HTTP-version SP status-code SP [ reason-phrase ]`
/// (RFC 9112 §4). A missing SP after the code is tolerated, as most
/// clients do; the reason is returned as `""` when it is not UTF-8.
fn parse_status_line(line: &[u8]) -> Result<(u8, u16, &str), PeerErrorKind> {
    let (version, rest) = match line.iter().position(|&b| b == b' ') {
        Some(sp) => (&line[..sp], &line[sp + 1..]),
        None => return Err(PeerErrorKind::BadStartLine),
    };
    let minor = parse_version(version)?;
    let (code, reason) = match rest {
        [a, b, c] => ([*a, *b, *c], &[][..]),
        [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        _ => return Err(PeerErrorKind::BadStatus),
    };
    if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return Err(PeerErrorKind::BadStatus);
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !reason.iter().all(|&b| super::token::field_char(b)) {
        return Err(PeerErrorKind::BadStartLine);
    }
    Ok((minor, status, core::str::from_utf8(reason).unwrap_or("")))
}

/// Checks the field lines after the start line; returns the header block
/// (the field lines and the final empty line, which iteration skips).
///
/// Inlined on 64-bit targets, `scan_fields` kept out of line: its result
/// (the head's index, or a one-byte error) then comes back in a smaller
/// form than with the error already named, and the head is moved on with
/// fewer copies (issue 9: a server handshake 7 % faster, timed in one
/// process against the out-of-line form; inlining `scan_fields` too was
/// 5 % slower than that form).
#[cfg_attr(target_pointer_width = "64", inline(always))]
fn parse_fields<'b>(fields: &'b [u8], limits: &Limits) -> Result<Headers<'b>, PeerErrorKind> {
    let limit = limits.max_headers.min(MAX_HEADER_SLOTS);
    scan_fields(fields, limit).map_err(|e| {
        // A folded line is always an error here (a field name cannot
        // start with whitespace); say what it is.
        if has_folded_line(fields) {
            PeerErrorKind::ObsoleteLineFolding
        } else {
            e.kind(limits)
        }
    })
}

/// Why field lines did not parse (before [`has_folded_line`] looks for a
/// folded line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldsError {
    /// A field name is empty, holds a byte that is not a `tchar`, or is
    /// not followed by `:` (whitespace before the colon included).
    Name,
    /// A field value holds a control character (other than HTAB), or a
    /// CR not followed by LF.
    Value,
    /// A CR not followed by LF where the empty line should be, or the
    /// bytes end inside a line.
    LineEnding,
    /// More field lines than the limit.
    TooMany,
}

impl FieldsError {
    fn kind(self, limits: &Limits) -> PeerErrorKind {
        match self {
            FieldsError::Name => PeerErrorKind::BadHeaderName,
            FieldsError::Value => PeerErrorKind::BadHeaderValue,
            FieldsError::LineEnding => PeerErrorKind::BadLineEnding,
            FieldsError::TooMany => PeerErrorKind::TooManyHeaders {
                limit: limits.max_headers,
            },
        }
    }
}

/// Parses the field lines at the start of `fields` up to the first empty
/// line (at most `limit` of them; RFC 9112 §5: `field-name ":" OWS
/// field-value OWS`, lines ending in CRLF or a bare LF), noting where the
/// known fields are, in one pass: each name is read to its end (eight
/// bytes at a time: [`name_run`]) and looked up, and checked byte by byte
/// as a token unless it is a known one; each value is scanned to its
/// line's end (the same way: [`value_run`]) and trimmed.
///
/// What it accepts and rejects is what httparse's `parse_headers` does with
/// its default configuration, which the crate used before: a test compares
/// the two on generated field blocks. Written here because the two passes
/// (httparse, then indexing its slots) were a third of a server
/// handshake's time (issue 9).
///
/// Never inlined on 64-bit targets, where [`parse_fields`] is: see there.
#[cfg_attr(target_pointer_width = "64", inline(never))]
fn scan_fields(fields: &[u8], limit: usize) -> Result<Headers<'_>, FieldsError> {
    let mut index = FieldIndex::EMPTY;
    let mut lines = 0;
    let mut at = 0;
    loop {
        // The empty line ends the block.
        match fields.get(at..) {
            Some([b'\r', b'\n', ..]) => {
                at += 2;
                break;
            }
            Some([b'\n', ..]) => {
                at += 1;
                break;
            }
            Some([b'\r', ..]) => return Err(FieldsError::LineEnding),
            Some([_, ..]) => {}
            _ => return Err(FieldsError::LineEnding),
        }
        // The name runs to its first byte that cannot be in a name
        // without being seen ([`name_run`]); a known one is a token (it
        // equals a name of the table), any other is checked byte by byte.
        let name_at = at;
        at = name_run(fields, at);
        let name = &fields[name_at..at];
        let field = Field::of_visible(name);
        if field.is_none() && token_len(name) != name.len() {
            return Err(FieldsError::Name);
        }
        match fields.get(at) {
            Some(b':') if !name.is_empty() => at += 1,
            Some(_) => return Err(FieldsError::Name),
            None => return Err(FieldsError::LineEnding),
        }
        while let Some(b' ' | b'\t') = fields.get(at) {
            at += 1;
        }
        let value_at = at;
        at = value_run(fields, at);
        let mut value_end = at;
        match fields.get(at..) {
            Some([b'\n', ..]) => at += 1,
            Some([b'\r', b'\n', ..]) => at += 2,
            Some([] | [b'\r']) | None => return Err(FieldsError::LineEnding),
            Some(_) => return Err(FieldsError::Value),
        }
        if lines == limit {
            return Err(FieldsError::TooMany);
        }
        lines += 1;
        // Leading whitespace was skipped above; trailing whitespace goes.
        while let [.., b' ' | b'\t'] = fields[value_at..value_end] {
            value_end -= 1;
        }
        if let Some(field) = field {
            index.note(field, value_at, value_end - value_at);
        }
    }
    Ok(Headers {
        block: &fields[..at],
        index,
    })
}

/// Where the field name starting at `at` ends at the latest: the index of
/// the first `:`, or of the first byte outside `0x21..=0x7E` (whitespace,
/// a control, DEL, non-ASCII), or the length. Each of these ends a token
/// (none is a `tchar`); the visible bytes that are not `tchar` (`"(),/;`
/// and the like) are left to the caller's check.
#[inline]
fn name_run(bytes: &[u8], at: usize) -> usize {
    name_run_in(bytes, at, crate::SHORTCUTS)
}

/// [`name_run`], eight bytes at a time first when `words` (a shortcut,
/// [`crate::SHORTCUTS`]; the tests run both ways).
#[inline(always)]
fn name_run_in(bytes: &[u8], at: usize, words: bool) -> usize {
    let word_ends = |x: u64| {
        let outside = outside_visible(x);
        // A colon: the classic zero-byte test on the word XOR `:`, whose
        // lowest flag is exact (a flag above a colon may be wrong, which
        // `run_in` allows).
        let colons = x ^ (b':' as u64 * ONES);
        outside | (colons.wrapping_sub(ONES) & !colons & HIGH)
    };
    run_in(bytes, at, words, word_ends, |b| {
        matches!(b, 0x21..=0x7E) && b != b':'
    })
}

/// Where the run of visible characters (`0x21..=0x7E`) starting at `at`
/// ends: the index of the first other byte, or the length; eight bytes at
/// a time ([`run_in`]).
#[inline]
fn visible_run(bytes: &[u8], at: usize) -> usize {
    run_in(bytes, at, true, outside_visible, |b| {
        matches!(b, 0x21..=0x7E)
    })
}

/// The high bit of each byte of `x` outside `0x21..=0x7E` (exact for
/// every byte: no sum leaves its byte).
#[inline(always)]
const fn outside_visible(x: u64) -> u64 {
    // Bytes of 0x21 and more: the high bit set, or the low seven bits
    // plus 0x5F reach 0x80. Bytes of 0x7F and more: the high bit set,
    // or the low seven bits plus one reach 0x80.
    // So a byte outside 0x21..=0x7E: the high bit set, or the low
    // seven bits plus 0x5F do not reach 0x80, or plus one do.
    let low = x & !HIGH;
    (!(low + 0x5F * ONES) | (low + ONES) | x) & HIGH
}

/// Eight `0x01` bytes and eight `0x80` bytes, for the word-at-a-time
/// byte tests ([`lf_flags`], [`run_in`]'s callers).
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is zero, exactly (no carry
/// between bytes).
#[inline(always)]
const fn zero_bytes(x: u64) -> u64 {
    !(((x & !HIGH) + !HIGH) | x) & HIGH
}

/// Where the run of bytes `in_run` accepts, starting at `at`, ends: the
/// index of the first other byte, or the length. When `words`, eight bytes
/// at a time first: `word_ends` flags (high bit) bytes of a little-endian
/// word that `in_run` refuses, none when there is none, and its lowest
/// flag exactly on the first such byte (flags above it are not looked
/// at); the rest goes a byte at a time.
#[inline(always)]
fn run_in(
    bytes: &[u8],
    mut at: usize,
    words: bool,
    word_ends: impl Fn(u64) -> u64,
    in_run: impl Fn(u8) -> bool,
) -> usize {
    while let Some(eight) = bytes.get(at..at + 8).filter(|_| words) {
        let mut word = [0; 8];
        word.copy_from_slice(eight);
        let ends = word_ends(u64::from_le_bytes(word));
        if ends != 0 {
            return at + ends.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    while at < bytes.len() && in_run(bytes[at]) {
        at += 1;
    }
    at
}

/// Where the run of field-value bytes ([`field_char`]: HTAB, SP, visible
/// characters, obs-text) starting at `at` ends: the index of the first
/// other byte (a line ending or a control character), or the length.
#[inline]
fn value_run(bytes: &[u8], at: usize) -> usize {
    value_run_in(bytes, at, crate::SHORTCUTS)
}

/// [`value_run`], eight bytes at a time first when `words` (a shortcut,
/// [`crate::SHORTCUTS`]; the tests run both ways): a byte is outside the
/// set exactly when it is below 0x20 and not HTAB, or is DEL.
#[inline(always)]
fn value_run_in(bytes: &[u8], at: usize, words: bool) -> usize {
    let word_ends = |x: u64| {
        let low = x & !HIGH;
        // Bytes below 0x20: the high bit clear, and the low seven bits
        // plus 0x60 stay below 0x80. DEL: the high bit clear, and the low
        // seven bits plus one reach 0x80. (No sum leaves its byte.)
        let below_space = !((low + 0x60 * ONES) | x) & HIGH;
        let del = (low + ONES) & !x & HIGH;
        if below_space | del == 0 {
            // The usual word: no control at all, HTAB not looked for.
            return 0;
        }
        (below_space & !zero_bytes(x ^ (b'\t' as u64 * ONES))) | del
    };
    run_in(bytes, at, words, word_ends, field_char)
}

/// The length a `Content-Length` value (checked by the head's parse: one
/// decimal, or a list of equal ones) says: its first element.
pub(crate) fn content_length_value(value: &[u8]) -> Option<u64> {
    let first = value.split(|&b| b == b',').next().unwrap_or(value);
    parse_decimal(super::trim_ows(first))
}

/// `1*DIGIT` of any length: leading zeros do not count towards overflow.
fn parse_decimal(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// `Host = uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2–§3.2.3):
/// a reg-name, an IPv4 address or a bracketed IP literal, then an optional
/// numeric port. Userinfo (`@`), paths, whitespace and commas are invalid;
/// a comma would make the value a list of hosts, which RFC 9110 §5.3
/// treats like several Host lines. RFC 3986 allows `,` (a sub-delim) in a
/// reg-name and an IPvFuture literal; it is refused there too, brackets or
/// not: an intermediary that splits field values at commas would see two
/// hosts where this side saw one (a request smuggled past a host-based
/// route or check), and no deployed host name needs one (DNS names have
/// none, IPvFuture has no registered version). An empty value is valid (a
/// target without authority).
pub(crate) fn is_valid_host(v: &[u8]) -> bool {
    // Most hosts are a name alone: every byte a reg-name character other
    // than `%` (so no `[`, `:` or escape), one lookup each. What is not
    // takes the rules below, which accept such a name too (a test checks
    // the two agree): a shortcut taken where time matters more than
    // flash ([`crate::SHORTCUTS`]).
    (crate::SHORTCUTS && v.iter().all(|&b| REG_NAME.contains(b))) || is_valid_host_by_parts(v)
}

/// [`is_valid_host`] part by part: the literal or name, then the port.
fn is_valid_host_by_parts(v: &[u8]) -> bool {
    let (host, port) = if let Some(rest) = v.strip_prefix(b"[") {
        let Some(close) = rest.iter().position(|&b| b == b']') else {
            return false;
        };
        if !is_ip_literal(&rest[..close]) {
            return false;
        }
        match &rest[close + 1..] {
            [] => (&[][..], None),
            [b':', port @ ..] => (&[][..], Some(port)),
            _ => return false,
        }
    } else {
        match v.iter().rposition(|&b| b == b':') {
            Some(colon) => (&v[..colon], Some(&v[colon + 1..])),
            None => (v, None),
        }
    };
    let port_ok = port.is_none_or(|p| p.iter().all(u8::is_ascii_digit));
    port_ok && is_reg_name(host)
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`, without `,`
/// (see [`is_valid_host`]). An IPv4 address is a reg-name too.
fn is_reg_name(v: &[u8]) -> bool {
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'%' => {
                let hex = v.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if REG_NAME.contains(b) => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// The characters of a reg-name other than `%`: unreserved and
/// sub-delims but `,` (refused in any host, why at [`is_valid_host`]; one
/// lookup per byte: the host is checked on every request).
const REG_NAME: ByteSet = byte_set_where!(c => is_reg_name_char(c));

/// A reg-name character other than `%` ([`REG_NAME`]).
const fn is_reg_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b';'
                | b'='
        )
}

/// `IP-literal` without its brackets: `IPv6address / IPvFuture`.
fn is_ip_literal(v: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = v {
        // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail.iter().all(|&b| b == b':' || REG_NAME.contains(b));
    }
    is_ipv6(v)
}

/// RFC 3986 `IPv6address`: eight groups of 1–4 hex digits, `::` standing
/// for one or more zero groups at most once, the last 32 bits optionally
/// as a dotted IPv4 address.
///
/// One pass over the pieces between colons, counting groups (the IPv4
/// form counts two): a rarely taken path written for size (smaller in the
/// firmware than a search for `::` and a count on each side of it). A test
/// checks it against the `str` version it replaced on every short string.
fn is_ipv6(v: &[u8]) -> bool {
    let mut groups = 0;
    let mut elided = false;
    let mut at = 0;
    if v.starts_with(b"::") {
        elided = true;
        at = 2;
    }
    while at < v.len() || !elided {
        let end = v[at..]
            .iter()
            .position(|&b| b == b':')
            .map_or(v.len(), |p| at + p);
        let piece = &v[at..end];
        if end == v.len() && holds(piece, b'.') {
            // The IPv4 form may only end the address.
            if !is_ipv4(piece) {
                return false;
            }
            groups += 2;
        } else if (1..=4).contains(&piece.len()) && piece.iter().all(u8::is_ascii_hexdigit) {
            groups += 1;
        } else {
            return false;
        }
        if end == v.len() {
            break;
        }
        at = end + 1;
        if v.get(at) == Some(&b':') {
            // A second `::` is malformed.
            if elided {
                return false;
            }
            elided = true;
            at += 1;
        } else if at == v.len() {
            // A colon cannot end the address.
            return false;
        }
    }
    if elided { groups <= 7 } else { groups == 8 }
}

/// `IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet`:
/// four octets of 0 to 255 without a leading zero, in one pass (a second
/// digit after a `0` is a leading zero; three digits without one past 255
/// are too many, and so are four).
fn is_ipv4(s: &[u8]) -> bool {
    let (mut dots, mut digits, mut octet) = (0, 0, 0u16);
    for &b in s {
        match b {
            b'.' if digits > 0 => (dots, digits, octet) = (dots + 1, 0, 0),
            b'0'..=b'9' if digits == 0 || octet > 0 => {
                octet = octet * 10 + u16::from(b - b'0');
                digits += 1;
                if octet > 255 {
                    return false;
                }
            }
            _ => return false,
        }
    }
    dots == 3 && digits > 0
}

/// Gathers framing and connection facts, rejecting ambiguous framing.
pub(crate) fn gather_facts(headers: &Headers<'_>) -> Result<Facts, PeerErrorKind> {
    let mut f = Facts::default();
    let mut last_te_chunked = false;
    let mut other_coding = false;
    // Most heads have neither Content-Length nor Transfer-Encoding.
    if headers.may_have(Field::ContentLength) || headers.may_have(Field::TransferEncoding) {
        for value in headers.values(Field::ContentLength) {
            // `Content-Length = 1*DIGIT` (RFC 9110 §8.6); a list of identical
            // values may be tolerated (RFC 9112 §6.3 item 5), an empty element
            // may not.
            for element in value.split(|&b| b == b',') {
                let n = parse_decimal(super::trim_ows(element))
                    .ok_or(PeerErrorKind::BadContentLength)?;
                match f.content_length {
                    Some(prev) if prev != n => return Err(PeerErrorKind::BadContentLength),
                    _ => f.content_length = Some(n),
                }
            }
        }
        for value in headers.values(Field::TransferEncoding) {
            let mut any = false;
            for e in ListElements::new(value) {
                any = true;
                if last_te_chunked {
                    // chunked applied more than once, or not last.
                    other_coding = true;
                }
                last_te_chunked = eq_ignore_case(e, b"chunked");
                if !last_te_chunked {
                    other_coding = true;
                }
            }
            if !any {
                return Err(PeerErrorKind::UnsupportedTransferCoding);
            }
            f.transfer_encoding = true;
        }
    }
    for value in headers.values(Field::Connection) {
        if is_only_element(value, b"upgrade") {
            f.conn_upgrade = true;
            continue;
        }
        for e in ListElements::new(value) {
            if eq_ignore_case(e, b"upgrade") {
                f.conn_upgrade = true;
            } else if eq_ignore_case(e, b"close") {
                f.conn_close = true;
            } else if eq_ignore_case(e, b"keep-alive") {
                f.conn_keep_alive = true;
            } else if eq_ignore_case(e, b"http2-settings") {
                f.conn_http2_settings = true;
            }
        }
    }
    if f.transfer_encoding {
        if f.content_length.is_some() {
            return Err(PeerErrorKind::ContentLengthWithTransferEncoding);
        }
        if !last_te_chunked {
            f.te_not_chunked = true;
        } else if other_coding {
            return Err(PeerErrorKind::UnsupportedTransferCoding);
        } else {
            f.chunked = true;
        }
    }
    Ok(f)
}

/// Parses a complete request head at the start of `head` (which ends with
/// its first empty line, or goes on after it); returns its length too.
#[cfg(test)]
pub(crate) fn parse_request<'b>(
    head: &'b [u8],
    limits: &Limits,
) -> Result<(RequestHead<'b>, Facts, usize), PeerErrorKind> {
    parse_request_inline(head, limits)
}

/// The exact path of [`HeadReader::read_request`]: parses the head
/// [`HeadReader::find`] found at `buf[start..end]`, and returns what
/// `read_request` returns.
// Out of line: on 64-bit targets the parser's body is inlined into the
// one-pass read, and one more copy of it for the exact path would only
// cost code; on others (without the one-pass read) the call is smaller
// too. It returns `read_request`'s own type, which `read_request` passes
// on as it is: wrapping the parser's tuple there moved the head once more
// on 32-bit targets, an 8-aligned copy (the `Result` is 8-aligned for
// `PeerErrorKind`'s `u64` limits) that alone linked `__aeabi_memcpy8`
// (with the match in `ServerHandshake::read_head`: firmware .text
// 16,632 -> 16,428 B).
#[inline(never)]
fn parse_found_request<'b>(
    buf: &'b [u8],
    start: usize,
    end: usize,
    limits: &Limits,
) -> Result<Option<(usize, usize, RequestHead<'b>, Facts)>, PeerErrorKind> {
    let (head, facts, len) = parse_request_inline(&buf[start..end], limits)?;
    debug_assert_eq!(len, end - start, "the parser stops at the head's end");
    Ok(Some((start, end, head, facts)))
}

/// The request parser, inlined on 64-bit targets into the one-pass read
/// of [`HeadReader::read_request`]; its exact path calls
/// [`parse_found_request`].
#[cfg_attr(target_pointer_width = "64", inline(always))]
fn parse_request_inline<'b>(
    head: &'b [u8],
    limits: &Limits,
) -> Result<(RequestHead<'b>, Facts, usize), PeerErrorKind> {
    let (method, target, minor_version, fields) = match usual_request_line(head) {
        Some((target, fields)) => ("GET", target, 1, fields),
        None => {
            let (line, fields) = split_start_line(head)?;
            let (method, target, minor_version) =
                parse_request_line(line).map_err(|e| start_line_error(line, e))?;
            (method, target, minor_version, fields)
        }
    };
    let headers = parse_fields(fields, limits)?;
    let mut facts = gather_facts(&headers)?;
    // `Expect` is a request field (RFC 9110 §10.1.1); most heads have
    // none: not looked up then.
    if headers.may_have(Field::Expect) {
        for e in headers.elements(Field::Expect) {
            if eq_ignore_case(e, b"100-continue") {
                facts.expect_continue = true;
            } else {
                return Err(PeerErrorKind::UnsupportedExpectation);
            }
        }
    }
    if facts.transfer_encoding && minor_version == 0 {
        // RFC 9112 §6.1: the framing of an HTTP/1.0 message with
        // Transfer-Encoding is faulty; a server cannot know where the
        // request ends, so it answers 400 and closes.
        return Err(PeerErrorKind::TransferEncodingInHttp10);
    }
    if facts.te_not_chunked {
        return Err(PeerErrorKind::ChunkedNotFinal);
    }
    let mut hosts = headers.values(Field::Host);
    match (hosts.next(), hosts.next()) {
        (None, _) if minor_version == 0 => {}
        (Some(host), None) if is_valid_host(host) => {}
        (Some(_), None) => return Err(PeerErrorKind::InvalidHost),
        _ => return Err(PeerErrorKind::HostMissingOrRepeated),
    }
    let len = head.len() - fields.len() + headers.block.len();
    Ok((
        RequestHead {
            method,
            target,
            minor_version,
            headers,
        },
        facts,
        len,
    ))
}

/// Parses a complete response head at the start of `head` (which ends
/// with its first empty line, or goes on after it); returns its length too.
/// `to_connect`: it answers a CONNECT, and a 2xx then has no content
/// whatever its `Content-Length` and `Transfer-Encoding` say (RFC 9110
/// §9.3.6: a client MUST ignore them), malformed or not.
pub(crate) fn parse_response<'b>(
    head: &'b [u8],
    limits: &Limits,
    to_connect: bool,
) -> Result<(ResponseHead<'b>, Facts, usize), PeerErrorKind> {
    let (line, fields) = split_start_line(head)?;
    let (minor_version, status, reason) =
        parse_status_line(line).map_err(|e| start_line_error(line, e))?;
    let headers = parse_fields(fields, limits)?;
    let mut facts = match gather_facts(&headers) {
        Ok(facts) => facts,
        Err(
            PeerErrorKind::BadContentLength
            | PeerErrorKind::ContentLengthWithTransferEncoding
            | PeerErrorKind::UnsupportedTransferCoding,
        ) if to_connect && (200..300).contains(&status) => Facts::default(),
        Err(kind) => return Err(kind),
    };
    if facts.transfer_encoding && minor_version == 0 {
        // RFC 9112 §6.1: faulty framing. The response is read until the
        // connection closes (its bytes are not decoded as chunks), and the
        // connection is not reused.
        facts.chunked = false;
        facts.te_not_chunked = true;
        facts.conn_close = true;
    }
    let len = head.len() - fields.len() + headers.block.len();
    Ok((
        ResponseHead {
            status,
            reason,
            minor_version,
            headers,
        },
        facts,
        len,
    ))
}

/// Body framing of a request (RFC 9112 §6.3 items 5–7).
pub(crate) fn request_framing(facts: &Facts) -> Framing {
    if facts.chunked {
        Framing::Chunked
    } else {
        match facts.content_length {
            Some(0) | None => Framing::None,
            Some(n) => Framing::Length(n),
        }
    }
}

/// Body framing of a response to a request with `method` (RFC 9112 §6.3).
pub(crate) fn response_framing(status: u16, head_request: bool, facts: &Facts) -> Framing {
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return Framing::None;
    }
    if facts.te_not_chunked {
        Framing::UntilClose
    } else if facts.chunked {
        Framing::Chunked
    } else {
        match facts.content_length {
            Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    }
}

/// A count of the bytes the head search looks at, for the tests that prove
/// the work is linear in the input however it is split.
#[cfg(test)]
pub(crate) mod work {
    use core::cell::Cell;

    std::thread_local! {
        static STEPS: Cell<usize> = const { Cell::new(0) };
    }

    pub(crate) fn step() {
        steps(1);
    }

    pub(crate) fn steps(n: usize) {
        STEPS.with(|s| s.set(s.get() + n));
    }

    /// The steps since the last call.
    pub(crate) fn take() -> usize {
        STEPS.with(|s| s.replace(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field block's length and its (name, value) lines.
    type ParsedFields = (
        usize,
        std::vec::Vec<(std::string::String, std::vec::Vec<u8>)>,
    );

    /// What httparse (1.10, default configuration, the parser this crate
    /// used before [`scan_fields`]) makes of a field block with `limit`
    /// slots: the block's length and its (name, value) lines, or the
    /// error as `scan_fields` names it.
    fn httparse_fields(block: &[u8], limit: usize) -> Result<ParsedFields, FieldsError> {
        let mut slots = std::vec![httparse::EMPTY_HEADER; limit];
        match httparse::parse_headers(block, &mut slots) {
            Ok(httparse::Status::Complete((len, lines))) => Ok((
                len,
                lines
                    .iter()
                    .map(|h| (h.name.into(), trim_ows(h.value).to_vec()))
                    .collect(),
            )),
            Ok(httparse::Status::Partial) => Err(FieldsError::LineEnding),
            Err(httparse::Error::HeaderName | httparse::Error::Token) => Err(FieldsError::Name),
            Err(httparse::Error::HeaderValue) => Err(FieldsError::Value),
            Err(httparse::Error::NewLine) => Err(FieldsError::LineEnding),
            Err(httparse::Error::TooManyHeaders) => Err(FieldsError::TooMany),
            Err(e) => panic!("not a field-line error: {e:?}"),
        }
    }

    /// The same from [`scan_fields`]: its block, the lines its iteration
    /// reads back, and, for every known field, what the index finds
    /// (checked against the lines with that name).
    fn scanned_fields(block: &[u8], limit: usize) -> Result<ParsedFields, FieldsError> {
        let headers = scan_fields(block, limit)?;
        let lines: std::vec::Vec<_> = headers
            .iter()
            .map(|h| (std::string::String::from(h.name), h.value.to_vec()))
            .collect();
        for (field, name) in FIELDS {
            let indexed: std::vec::Vec<&[u8]> = headers.values(field).collect();
            let named: std::vec::Vec<&[u8]> = lines
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| &v[..])
                .collect();
            assert_eq!(indexed, named, "{name} in {}", block.escape_ascii());
            // The index, not `may_have` (which says yes to everything
            // without the shortcuts): a field it calls absent is.
            let indexed_absent =
                !headers.index.unindexed && headers.index.count[field as usize] == 0;
            assert!(!indexed_absent || named.is_empty(), "{name}");
        }
        Ok((headers.block.len(), lines))
    }

    /// Bytes that decide field-line parsing: token characters, the
    /// separators, whitespace, both line-ending bytes, control characters,
    /// DEL and obs-text.
    const FIELD_BYTES: &[u8] =
        b"aZ09-!~_:;, \t\r\n\"(@\x00\x01\x08\x0b\x0c\x1f\x7e\x7f\x80\x89\x8a\x8d\x9f\xa0\xff";

    /// How a generated block ends: as it is, with an empty line, or a CR.
    const BLOCK_ENDS: &[&[u8]] = &[b"", b"\r\n", b"\n", b"\r"];

    fn field_block() -> impl proptest::strategy::Strategy<Value = std::vec::Vec<u8>> {
        use proptest::prelude::*;
        // Mostly well-formed lines, with pieces of any of the bytes above
        // put anywhere.
        let piece = prop_oneof![
            3 => Just(&b"Host: a.example\r\n"[..]),
            3 => Just(&b"Upgrade: websocket\n"[..]),
            2 => Just(&b"x-Y:\t v  \r\n"[..]),
            2 => Just(&b"Sec-WebSocket-Key:dGhlIHNhbXBsZSBub25jZQ==\r\n"[..]),
            1 => Just(&b"Empty:\r\n"[..]),
            1 => Just(&b"\r\n"[..]),
            1 => Just(&b"\n"[..]),
        ]
        .prop_map(<[u8]>::to_vec);
        let noise = proptest::collection::vec(proptest::sample::select(FIELD_BYTES), 0..12);
        let part = prop_oneof![3 => piece, 2 => noise];
        proptest::collection::vec(part, 0..8).prop_map(|parts| parts.concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// `scan_fields` accepts, splits and rejects field blocks as
        /// httparse does (the same error class), at every limit, and its
        /// index agrees with its lines.
        #[test]
        fn scan_fields_agrees_with_httparse(
            block in field_block(),
            end in proptest::sample::select(BLOCK_ENDS),
            limit in 0usize..6,
        ) {
            let block = [&block[..], end].concat();
            let shown = std::format!("{}", block.escape_ascii());
            proptest::prop_assert_eq!(
                scanned_fields(&block, limit),
                httparse_fields(&block, limit),
                "{}",
                shown
            );
        }
    }

    /// Every byte value at every position of a value's first eight-byte
    /// words (the word-at-a-time scan, not only its byte-by-byte tail),
    /// against httparse.
    #[test]
    fn scan_fields_agrees_with_httparse_on_every_byte_in_every_lane() {
        for b in 0..=255u8 {
            for pos in 0..16 {
                let block = [
                    &b"Name: "[..],
                    &b"x".repeat(pos),
                    &[b],
                    &b"y".repeat(16),
                    b"\r\nHost: h\r\n\r\n",
                ]
                .concat();
                assert_eq!(
                    scanned_fields(&block, 4),
                    httparse_fields(&block, 4),
                    "{}",
                    block.escape_ascii()
                );
            }
        }
    }

    /// Every byte value at every position of every known field's name, and
    /// of names one byte longer or shorter, in both cases, against
    /// httparse: a name the table knows skips the byte-by-byte token check
    /// (`Field::of_visible`), so none may differ from it by a byte that is
    /// not a `tchar` and still pass.
    #[test]
    fn scan_fields_agrees_with_httparse_on_every_byte_of_known_names() {
        for (_, name) in FIELDS {
            let upper = name.to_ascii_uppercase();
            for base in [name.as_bytes(), upper.as_bytes()] {
                let longer = [base, b"x"].concat();
                let shorter = &base[..base.len() - 1];
                for base in [base, &longer, shorter] {
                    for pos in 0..base.len() {
                        for b in 0..=255u8 {
                            let mut field = base.to_vec();
                            field[pos] = b;
                            let block = [&field[..], b": v\r\nHost: h\r\n\r\n"].concat();
                            assert_eq!(
                                scanned_fields(&block, 4),
                                httparse_fields(&block, 4),
                                "{}",
                                block.escape_ascii()
                            );
                        }
                    }
                }
            }
        }
    }

    /// A block longer than the index's 16-bit offsets: the fields after
    /// 64 KiB are found by reading, the others straight from the index.
    #[test]
    fn fields_past_64_kib_are_found() {
        let filler = b"f".repeat(70 * 1024);
        let block = [
            &b"Upgrade: websocket\r\nX-Filler: "[..],
            &filler,
            b"\r\nHost: h.example\r\nConnection: a\r\nConnection: b\r\n\r\n",
        ]
        .concat();
        let headers = scan_fields(&block, 8).unwrap();
        assert_eq!(headers.get("host"), Some(&b"h.example"[..]));
        assert_eq!(headers.get("upgrade"), Some(&b"websocket"[..]));
        let connection: std::vec::Vec<_> = headers.values(Field::Connection).collect();
        assert_eq!(connection, [&b"a"[..], b"b"]);
        assert_eq!(headers.get("x-filler").map(<[u8]>::len), Some(filler.len()));
        assert_eq!(scanned_fields(&block, 8), httparse_fields(&block, 8));
    }

    /// Every byte value in a name, after the colon, inside a value and at
    /// a line's end, against httparse.
    #[test]
    fn scan_fields_agrees_with_httparse_on_every_byte() {
        for b in 0..=255u8 {
            let b = [b];
            let cases: [&[&[u8]]; 5] = [
                &[b"Na", &b, b"me: v\r\n\r\n"],
                &[&b, b": v\r\n\r\n"],
                &[b"Name:", &b, b"v\r\n\r\n"],
                &[b"Name: v", &b, b"w\r\n\r\n"],
                &[b"Name: v\r", &b, b"\r\n"],
            ];
            for case in cases {
                let block = case.concat();
                assert_eq!(
                    scanned_fields(&block, 4),
                    httparse_fields(&block, 4),
                    "{}",
                    block.escape_ascii()
                );
            }
        }
    }

    fn req(s: &str) -> Result<(RequestHead<'_>, Facts), PeerErrorKind> {
        let (head, facts, len) = parse_request(s.as_bytes(), &Limits::default())?;
        assert_eq!(len, s.len(), "a whole head is read to its end");
        Ok((head, facts))
    }

    #[test]
    fn known_names_match_in_any_case_and_nothing_else() {
        for (field, name) in FIELDS {
            let upper = name.to_ascii_uppercase();
            assert_eq!(Field::of(name.as_bytes()), Some(field));
            assert_eq!(Field::of(upper.as_bytes()), Some(field));
            assert_eq!(Field::of_visible(name.as_bytes()), Some(field));
            assert_eq!(Field::of_visible(upper.as_bytes()), Some(field));
            // One token character changed anywhere: not that field.
            for i in 0..name.len() {
                for other in [b'^', b'~', b'_', b'!', b'0', b'x'] {
                    let mut changed = name.as_bytes().to_vec();
                    if changed[i] == other {
                        continue;
                    }
                    changed[i] = other;
                    assert_ne!(Field::of(&changed), Some(field), "{changed:?}");
                    assert_ne!(Field::of_visible(&changed), Some(field), "{changed:?}");
                }
            }
        }
        assert_eq!(Field::of(b"hosts"), None);
        assert_eq!(Field::of(b""), None);
    }

    /// Every lookup through the index finds what reading every line finds:
    /// known fields in any case, repeated, interleaved with others, absent,
    /// and names the index does not know.
    #[test]
    fn indexed_lookups_match_a_full_read() {
        use std::string::String;
        use std::vec::Vec;
        let mut head = String::from("GET / HTTP/1.1\r\n");
        for (i, (field, name)) in FIELDS.iter().enumerate().skip(1) {
            // Values the framing rules accept (Transfer-Encoding would
            // conflict with Content-Length: left out).
            let value = match field {
                Field::ContentLength => String::from("0"),
                Field::Expect => String::from("100-continue"),
                Field::TransferEncoding => continue,
                _ => std::format!("a{i}"),
            };
            let upper = name.to_ascii_uppercase();
            head.push_str(&std::format!("{upper}: {value}\r\nX-Other-{i}: o\r\n"));
            if i % 2 == 0 {
                head.push_str(&std::format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("Origin:\r\nHost: h\r\nUpgrade: last \t \r\nConnection:   \r\n\r\n");
        let (parsed, _, _) = parse_request(head.as_bytes(), &Limits::default()).unwrap();
        let headers = parsed.headers();
        let names = FIELDS.iter().map(|(_, n)| *n).chain([
            "x-other-3",
            "X-OTHER-4",
            "absent",
            "hos",
            "hostt",
        ]);
        for name in names {
            let indexed: Vec<&[u8]> = headers.get_all(name).collect();
            let read: Vec<&[u8]> = headers
                .iter()
                .filter(|h| eq_ignore_case(h.name.as_bytes(), name.as_bytes()))
                .map(|h| h.value)
                .collect();
            assert_eq!(indexed, read, "{name}");
            assert_eq!(headers.count(name), read.len(), "{name}");
        }
        assert_eq!(headers.get_all("upgrade").count(), 2);
        assert_eq!(headers.get("sec-websocket-accept"), Some(&b"a12"[..]));
    }

    /// Where a field value starting at `at` ends, a byte at a time.
    fn value_end(bytes: &[u8], at: usize) -> usize {
        (at..bytes.len())
            .find(|&i| !field_char(bytes[i]))
            .unwrap_or(bytes.len())
    }

    /// Where a field name starting at `at` ends at the latest, a byte at
    /// a time.
    fn name_end(bytes: &[u8], at: usize) -> usize {
        (at..bytes.len())
            .find(|&i| !bytes[i].is_ascii_graphic() || bytes[i] == b':')
            .unwrap_or(bytes.len())
    }

    /// The word tests may flag bytes wrongly above a right flag (a borrow
    /// out of a colon; a HTAB is only looked for in a word with a control
    /// in it): every pair of byte values, in lanes one and two apart
    /// across a word, gives the byte-by-byte answer.
    #[test]
    fn runs_agree_with_bytes_on_every_pair_of_bytes() {
        for first in 0..=255u8 {
            for second in 0..=255u8 {
                for pos in 0..8 {
                    for gap in [1, 2] {
                        let mut buf = [b'x'; 16];
                        buf[pos] = first;
                        buf[pos + gap] = second;
                        assert_eq!(value_run_in(&buf, 0, true), value_end(&buf, 0));
                        assert_eq!(name_run_in(&buf, 0, true), name_end(&buf, 0));
                    }
                }
            }
        }
    }

    /// The word searches give the byte-by-byte answer with words and
    /// without (the shortcut, [`crate::SHORTCUTS`], and the path alone),
    /// for every byte value at every position of the first words and the
    /// tail, however the search for the end of a head is resumed.
    #[test]
    fn word_searches_agree_with_bytes_both_ways() {
        fn head_end(buf: &[u8]) -> Option<usize> {
            (0..buf.len()).find_map(|i| match &buf[i..] {
                [b'\n', b'\n', ..] => Some(i + 2),
                [b'\n', b'\r', b'\n', ..] => Some(i + 3),
                _ => None,
            })
        }
        fn resumed(buf: &[u8], step: usize, words: bool) -> Option<usize> {
            let mut scanned = 0;
            let mut n = 0;
            loop {
                n = (n + step).min(buf.len());
                if let Some(end) = find_head_end_in(&buf[..n], &mut scanned, words) {
                    return Some(end);
                }
                if n == buf.len() {
                    return None;
                }
            }
        }
        let fillers: [&[u8]; 3] = [b"x", b"\r", b"\n"];
        for b in 0..=255u8 {
            for filler in fillers {
                for len in 1..20 {
                    for pos in 0..len {
                        let mut buf = filler.repeat(len);
                        buf[pos] = b;
                        let shown = buf.escape_ascii();
                        let lf = buf.iter().position(|&c| c == b'\n');
                        let end = head_end(&buf);
                        for words in [false, true] {
                            assert_eq!(find_lf_in(&buf, words), lf, "{shown}");
                            for at in [0, 1, 3] {
                                let at = at.min(len);
                                assert_eq!(value_run_in(&buf, at, words), value_end(&buf, at));
                                assert_eq!(name_run_in(&buf, at, words), name_end(&buf, at));
                            }
                            for step in [1, 3, 7, len] {
                                assert_eq!(resumed(&buf, step, words), end, "{shown}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn head_end_resumes() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        let mut scanned = 0;
        for n in 0..buf.len() {
            if let Some(end) = find_head_end(&buf[..n], &mut scanned) {
                assert_eq!(end, buf.len() - 4);
                return;
            }
        }
        panic!("no end found");
    }

    /// What the exact path makes of `buf`: the head found by the search
    /// for its end, then parsed on exactly its bytes.
    fn read_exactly(
        buf: &[u8],
        request: bool,
        limits: &Limits,
    ) -> Result<Option<(usize, usize)>, PeerErrorKind> {
        let Some((start, end)) = HeadReader::default().find(buf, request, limits)? else {
            return Ok(None);
        };
        let len = if request {
            parse_request(&buf[start..end], limits)?.2
        } else {
            parse_response(&buf[start..end], limits, false)?.2
        };
        assert_eq!(len, end - start);
        Ok(Some((start, end)))
    }

    /// The one-pass read of a head that ends its buffer (the parser finds
    /// the end) agrees with the search-then-parse path on where the head
    /// starts and ends, what it holds and which error it is, whatever
    /// follows the head (more empty lines, a body, a second head) and
    /// whichever line endings it uses.
    #[test]
    fn reading_in_one_pass_agrees_with_the_exact_path() {
        let requests = [
            "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\nHost: h\nUpgrade: websocket\n\n",
            "\r\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\n",
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX : a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n",
            "GET /  HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            "POST /x HTTP/1.0\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n",
            "PUT * HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        ];
        let responses = [
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            "HTTP/1.1 100 Continue\n\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
        ];
        let after = [
            "",
            "\r\n",
            "\n",
            "body\r\n\r\n",
            "X: y\n\n",
            "GET / HTTP/1.1\r\n\r\n",
        ];
        for (heads, request) in [(&requests[..], true), (&responses[..], false)] {
            for head in heads {
                for (tail, max) in after.iter().flat_map(|tail| {
                    // The size limit at and around the buffer's length (the
                    // one-pass read's condition) and the head's (the exact
                    // path's), and none.
                    let (b, h) = (head.len() + tail.len(), head.len());
                    [usize::MAX, b, b - 1, h, h - 1].map(|max| (tail, max))
                }) {
                    let limits = Limits::new().max_head_bytes(max);
                    let buf = std::format!("{head}{tail}");
                    let buf = buf.as_bytes();
                    let exact = read_exactly(buf, request, &limits);
                    let mut reader = HeadReader::default();
                    let (one_pass, fields) = if request {
                        match reader.read_request(buf, &limits) {
                            Ok(Some((s, e, h, _))) => (Ok(Some((s, e))), Some(*h.headers())),
                            Ok(None) => (Ok(None), None),
                            Err(e) => (Err(e), None),
                        }
                    } else {
                        match reader.read_response(buf, &limits, false) {
                            Ok(Some((e, h, _))) => (Ok(Some((0, e))), Some(*h.headers())),
                            Ok(None) => (Ok(None), None),
                            Err(e) => (Err(e), None),
                        }
                    };
                    assert_eq!(one_pass, exact, "{buf:?} within {max}");
                    // And what both return in full: the head and its facts
                    // (method, target, version, fields, Content-Length,
                    // Connection close, ...), not only where it lies.
                    let found = HeadReader::default().find(buf, request, &limits);
                    if request {
                        let full = HeadReader::default().read_request(buf, &limits);
                        let parsed = found.and_then(|at| {
                            at.map(|(s, e)| {
                                parse_request(&buf[s..e], &limits).map(|(h, f, _)| (s, e, h, f))
                            })
                            .transpose()
                        });
                        assert_eq!(full, parsed, "{buf:?} within {max}");
                    } else {
                        let full = HeadReader::default().read_response(buf, &limits, false);
                        let parsed = found.and_then(|at| {
                            at.map(|(s, e)| {
                                parse_response(&buf[s..e], &limits, false)
                                    .map(|(h, f, _)| (e, h, f))
                            })
                            .transpose()
                        });
                        assert_eq!(full, parsed, "{buf:?} within {max}");
                    }
                    if request {
                        // The one-pass read itself, whatever `SHORTCUTS`
                        // says (`read_request` takes it on 64-bit only).
                        let start = HeadReader::default().skip_empty_lines(buf, true);
                        if may_be_whole(&buf[start..], buf.len(), &limits) {
                            if let Ok((_, _, len)) = parse_request_inline(&buf[start..], &limits) {
                                let got = Ok(Some((start, start + len)));
                                assert_eq!(got, exact, "{buf:?} within {max}");
                            }
                        }
                    }
                    if let (Some(headers), Ok(Some((start, end)))) = (fields, exact) {
                        let all: std::vec::Vec<_> = headers.iter().collect();
                        let limits = Limits::default();
                        let whole = &buf[start..end];
                        let expected: std::vec::Vec<_> = if request {
                            parse_request(whole, &limits)
                                .unwrap()
                                .0
                                .headers()
                                .iter()
                                .collect()
                        } else {
                            parse_response(whole, &limits, false)
                                .unwrap()
                                .0
                                .headers()
                                .iter()
                                .collect()
                        };
                        assert_eq!(all, expected, "{buf:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn strict_rules() {
        use PeerErrorKind::*;
        let cases: &[(&str, PeerErrorKind)] = &[
            (
                "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n  folded\r\n\r\n",
                ObsoleteLineFolding,
            ),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", BadHeaderName),
            ("GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", BadHeaderName),
            ("GET / HTTP/1.1\r\n\r\n", HostMissingOrRepeated),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                HostMissingOrRepeated,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                ContentLengthWithTransferEncoding,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                BadContentLength,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
                BadContentLength,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                ChunkedNotFinal,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                UnsupportedTransferCoding,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n",
                UnsupportedExpectation,
            ),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", BadStartLine),
        ];
        for (head, want) in cases {
            assert_eq!(req(head).err(), Some(*want), "{head:?}");
        }
    }

    // The `str` version of the IPv6 rules that `is_ipv6` replaced: the
    // reference it is checked against.
    /// RFC 3986 `IPv6address`: eight groups of 1–4 hex digits, `::` standing
    /// for one or more zero groups at most once, the last 32 bits optionally
    /// as a dotted IPv4 address.
    fn str_is_ipv6(v: &[u8]) -> bool {
        let Ok(s) = core::str::from_utf8(v) else {
            return false;
        };
        match s.split_once("::") {
            None => str_ipv6_groups(s) == Some(8),
            Some((head, tail)) => {
                // The IPv4 form may only end the address: not before the `::`.
                let head = if head.contains('.') {
                    None
                } else {
                    str_ipv6_groups(head)
                };
                match (head, str_ipv6_groups(tail)) {
                    // A second `::` in the tail is an empty group: malformed.
                    (Some(h), Some(t)) => h + t <= 7,
                    _ => false,
                }
            }
        }
    }

    /// How many 16-bit groups `part` (`h16 *( ":" h16 )`, possibly ending in
    /// an IPv4 address worth two) holds; `None` when it is malformed.
    fn str_ipv6_groups(part: &str) -> Option<usize> {
        if part.is_empty() {
            return Some(0);
        }
        let mut groups = 0;
        let mut pieces = part.split(':').peekable();
        while let Some(piece) = pieces.next() {
            if piece.contains('.') {
                if pieces.peek().is_some() || !str_is_ipv4(piece) {
                    return None;
                }
                groups += 2;
            } else if (1..=4).contains(&piece.len()) && piece.bytes().all(|b| b.is_ascii_hexdigit())
            {
                groups += 1;
            } else {
                return None;
            }
        }
        Some(groups)
    }

    /// `IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet`.
    fn str_is_ipv4(s: &str) -> bool {
        let mut n = 0;
        for octet in s.split('.') {
            n += 1;
            let ok = !octet.is_empty()
                && octet.len() <= 3
                && octet.bytes().all(|b| b.is_ascii_digit())
                && (octet.len() == 1 || !octet.starts_with('0'))
                && octet.parse::<u16>().is_ok_and(|v| v <= 255);
            if !ok {
                return false;
            }
        }
        n == 4
    }

    /// The byte-wise IPv6 check agrees with the `str` version it replaced
    /// on every string of up to seven characters from an alphabet that
    /// reaches every rule, and on longer ones built from groups.
    #[test]
    fn ipv6_check_agrees_with_the_str_version() {
        for s in crate::strings_over(b"0f1:.5g", 7) {
            assert_eq!(
                is_ipv6(&s),
                str_is_ipv6(&s),
                "{:?}",
                std::str::from_utf8(&s)
            );
        }
        let pieces = [
            "",
            "1",
            "ffff",
            "12345",
            "0",
            "1.2.3.4",
            "255.255.255.255",
            "256.1.1.1",
            "01.1.1.1",
            "1.2.3",
            "x",
            "\u{e9}",
        ];
        for a in pieces {
            for b in pieces {
                for sep in [":", "::"] {
                    for count in 1..=9 {
                        let mut s = std::string::String::new();
                        for i in 0..count {
                            s.push_str(if i % 2 == 0 { a } else { b });
                            if i + 1 < count {
                                s.push_str(if i == count / 2 { sep } else { ":" });
                            }
                        }
                        let s = s.as_bytes();
                        assert_eq!(is_ipv6(s), str_is_ipv6(s), "{:?}", std::str::from_utf8(s));
                    }
                }
            }
        }
    }

    /// The one-pass IPv4 check agrees with the `str` version on every
    /// string of up to eight characters over digits that reach every rule
    /// and the dot, and on octets around the limits.
    #[test]
    fn ipv4_check_agrees_with_the_str_version() {
        for s in crate::strings_over(b"01256.", 8) {
            let text = std::str::from_utf8(&s).unwrap();
            assert_eq!(is_ipv4(&s), str_is_ipv4(text), "{text}");
        }
        for octet in [
            "0", "00", "09", "99", "100", "199", "249", "255", "256", "260", "300", "999", "1000",
            "0255", "x", "",
        ] {
            for at in 0..4 {
                let mut parts = ["1"; 4];
                parts[at] = octet;
                let text = parts.join(".");
                assert_eq!(is_ipv4(text.as_bytes()), str_is_ipv4(&text), "{text}");
            }
        }
    }

    /// The byte-wise target-form check agrees with the `str` version it
    /// replaced for every method form on targets reaching every rule.
    #[test]
    fn target_form_check_agrees_with_the_str_version() {
        fn str_version(method: &str, target: &str) -> bool {
            if target.as_bytes().contains(&b'#') {
                return false;
            }
            if method == "CONNECT" {
                return match target.rsplit_once(':') {
                    Some((host, port)) => {
                        !host.is_empty() && !port.is_empty() && is_valid_host(target.as_bytes())
                    }
                    None => false,
                };
            }
            if target == "*" {
                return method == "OPTIONS";
            }
            if target.starts_with('/') {
                return true;
            }
            match target.split_once(':') {
                Some((scheme, _)) => {
                    let mut bytes = scheme.bytes();
                    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
                        && bytes
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                }
                None => false,
            }
        }
        let targets = [
            "",
            ":",
            "::",
            "a:",
            ":1",
            "a:1",
            "h:80",
            "h:8o",
            "a:b:c",
            "[::1]:443",
            "[::1]",
            "[::1]:",
            "*",
            "**",
            "/",
            "/x?y",
            "/a#b",
            "http://h/",
            "h+t-t.p:x",
            "1http:",
            "ht_tp://h/",
            "x",
            "a#:1",
            "caf\u{e9}:1",
            "h:\u{e9}",
            "%41:1",
            "a@b:1",
        ];
        for method in ["GET", "CONNECT", "OPTIONS", "connect"] {
            for target in targets {
                assert_eq!(
                    target_form_allowed(method, target),
                    str_version(method, target),
                    "{method} {target}"
                );
            }
        }
    }

    #[test]
    fn host_syntax() {
        for good in [
            "example.com",
            "example.com:8080",
            "%41%42.example",
            "a!$&'()*+;=b.example",
            "~_-.example",
            "[1:2:3:4:5:6:7:8]",
            "[1:2:3:4:5:6:1.2.3.4]",
            "[::1.2.3.4]",
            "[1::2:3:4:5:6:7]",
            "[::]",
            "[v1.x]",
            "[VaF.a:b!]",
            "[::1]:80",
        ] {
            assert!(is_valid_host(good.as_bytes()), "{good}");
        }
        for bad in [
            "%4",
            "%4g.example",
            "a,b",
            "a@b",
            "a b",
            "a/b",
            "a:8o",
            "[1::2:3:4:5:6:7:8]",
            "[1:2:3:4:5:6:7:8:9]",
            "[1:2:3:4:5:6:7]",
            "[1.2.3.4::]",
            "[1::2::3]",
            "[:::]",
            "[::01.2.3.4]",
            "[::1.2.3]",
            "[::1.2.3.4.5]",
            "[::1.2.3.256]",
            "[12345::]",
            "[v1.]",
            "[v.x]",
            "[vg.x]",
            "[v1]",
            "[v1.a/b]",
            "[v1.a,b]",
            "a,b:80",
            "[::1],b",
            "[::1]x",
            "[::1",
        ] {
            assert!(!is_valid_host(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn start_lines() {
        fn line(s: &str) -> Result<(&str, &str, u8), PeerErrorKind> {
            parse_request_line(s.as_bytes())
        }
        assert_eq!(line("GET / HTTP/1.1"), Ok(("GET", "/", 1)));
        assert_eq!(line("GET / HTTP/1.0"), Ok(("GET", "/", 0)));
        assert_eq!(line("GET / HTTP/1.9"), Ok(("GET", "/", 1)));
        assert_eq!(line("GET  HTTP/1.1"), Err(PeerErrorKind::BadStartLine));
        // More than three parts, whatever the version says.
        for extra in [
            "GET / HTTP/1.1 ",
            "GET / HTTP/1.1 x",
            "GET / HTTP/2.0 x",
            "GET / HTTP/2.0 ",
            "GET / HTTP/1.1  ",
            "GET / x HTTP/1.1",
            "GET / HTTP/1.1 HTTP/1.1",
        ] {
            assert_eq!(line(extra), Err(PeerErrorKind::BadStartLine), "{extra}");
        }
        assert_eq!(line("G(T / HTTP/1.1"), Err(PeerErrorKind::BadStartLine));
        assert_eq!(line("GET /\x7f HTTP/1.1"), Err(PeerErrorKind::BadStartLine));
        assert_eq!(
            line("GET 1http://h/ HTTP/1.1"),
            Err(PeerErrorKind::BadTarget)
        );
        assert_eq!(
            line("GET ht_tp://h/ HTTP/1.1"),
            Err(PeerErrorKind::BadTarget)
        );
        assert_eq!(line("GET :x HTTP/1.1"), Err(PeerErrorKind::BadTarget));
        let status = parse_status_line;
        assert_eq!(status(b"HTTP/1.1 200 OK"), Ok((1, 200, "OK")));
        assert_eq!(status(b"HTTP/1.1 204"), Ok((1, 204, "")));
        assert_eq!(
            status(b"HTTP/1.0 404 Not\tFound "),
            Ok((0, 404, "Not\tFound "))
        );
        // obs-text is allowed in a reason; not UTF-8, it reads as "".
        assert_eq!(status(b"HTTP/1.1 200 \xe9t\xe9"), Ok((1, 200, "")));
        assert_eq!(
            status(b"HTTP/1.1 200 caf\xc3\xa9"),
            Ok((1, 200, "caf\u{e9}"))
        );
        for bad in [
            &b"HTTP/1.1 099 X"[..],
            b"HTTP/1.1 20",
            b"HTTP/1.1 2000",
            b"HTTP/1.1 2x0 X",
        ] {
            assert_eq!(status(bad), Err(PeerErrorKind::BadStatus), "{bad:?}");
        }
        assert_eq!(
            status(b"HTTP/1.1 200 a\x01"),
            Err(PeerErrorKind::BadStartLine)
        );
        assert_eq!(status(b"HTTP/1.1"), Err(PeerErrorKind::BadStartLine));
        assert_eq!(status(b"HTTP/2.0 200 OK"), Err(PeerErrorKind::BadVersion));
        let (head, _, _) = parse_response(
            b"HTTP/1.1 101 Switching Protocols\r\nA: 1\r\n\r\n",
            &Limits::new(),
            false,
        )
        .unwrap();
        assert_eq!(head.reason(), "Switching Protocols");
    }

    /// Every field name `scan_fields` reads is a token, whatever byte is
    /// put at its start, middle or end: `Field::of_visible` relies on it.
    #[test]
    fn scan_fields_reads_token_names_only() {
        for x in 0..=255u8 {
            for (before, after) in [(&b""[..], &b"a"[..]), (b"X-", b"a"), (b"Xa", b"")] {
                let mut block = before.to_vec();
                block.push(x);
                block.extend_from_slice(after);
                block.extend_from_slice(b": 1\r\nHost: h\r\n\r\n");
                if let Ok(headers) = scan_fields(&block, 4) {
                    for h in headers.iter() {
                        assert!(super::super::is_token(h.name.as_bytes()), "{x}: {h:?}");
                    }
                }
            }
        }
    }

    /// The usual request line read at once gives what the general reading
    /// gives: for `GET /` and every string of up to five bytes over the
    /// bytes that matter (visible characters, `#`, space, HTAB, CR, LF,
    /// DEL, non-ASCII), then each of several line ends, versions and
    /// next lines, the shortcut either declines or returns the general
    /// reading's target and rest; and it takes the usual lines.
    #[test]
    fn the_usual_request_line_is_read_as_the_general_path_reads_it() {
        let ends: [&[u8]; 9] = [
            b" HTTP/1.1\r\nHost: a\r\n\r\n",
            b" HTTP/1.1\r\n",
            b" HTTP/1.1\n",
            b" HTTP/1.0\r\n",
            b" HTTP/1.12\r\n",
            b" HTTP/1.1 \r\n",
            b"  HTTP/1.1\r\n",
            b"\r\n",
            b"",
        ];
        let (mut taken, mut compared) = (0, 0);
        for middle in crate::strings_over(b"/a#: \t\r\n\x7f\x80", 5) {
            for end in ends {
                for start in [&b"GET /"[..], b"GET ", b"get /", b"GETS /"] {
                    let head = [start, &middle[..], end].concat();
                    compared += 1;
                    let Some((target, rest)) = usual_request_line(&head) else {
                        continue;
                    };
                    taken += 1;
                    let (line, general_rest) = split_start_line(&head).unwrap();
                    assert_eq!(general_rest, rest, "{}", head.escape_ascii());
                    assert_eq!(
                        parse_request_line(line),
                        Ok(("GET", target, 1)),
                        "{}",
                        head.escape_ascii()
                    );
                }
            }
        }
        // Targets longer than a word, with a byte at each position that
        // ends the run or not (`!` and `~` are the visible bounds).
        for k in 0..20 {
            for byte in [b'!', b'~', b'#', b' ', b'\t', b'\r', 0x20, 0x7f, 0x80, 0xff] {
                let mut head = b"GET /".to_vec();
                head.extend(core::iter::repeat_n(b'a', k));
                head.extend([byte, b'b']);
                head.extend(b" HTTP/1.1\r\n");
                let got = usual_request_line(&head);
                let visible = !matches!(byte, b'#' | b' ' | b'\t' | b'\r' | 0x7f | 0x80 | 0xff);
                assert_eq!(got.is_some(), visible && crate::SHORTCUTS, "{k} {byte}");
                if let Some((target, rest)) = got {
                    let (line, general_rest) = split_start_line(&head).unwrap();
                    assert_eq!((general_rest, rest), (&b""[..], &b""[..]));
                    assert_eq!(parse_request_line(line), Ok(("GET", target, 1)));
                }
            }
        }
        if crate::SHORTCUTS {
            // After `GET /`, every string of visible characters but `#`
            // (1 + 3 + 9 + 27 + 81 + 243 of them); after `GET `, those
            // that start with `/` (1 + 3 + 9 + 27 + 81); each followed by
            // the two ends with HTTP/1.1 and CRLF.
            assert_eq!(taken, 2 * (364 + 121), "of {compared}");
        } else {
            assert_eq!(taken, 0);
        }
    }

    /// A CR anywhere in a start line (but its end) is a bad line ending,
    /// as when it was looked for before the line was parsed: no line with
    /// one parses.
    #[test]
    fn a_cr_in_a_start_line_is_a_bad_line_ending() {
        let heads: [(&[u8], bool); 4] = [
            (b"GET /chat?a=1 HTTP/1.1\r\nHost: a\r\n\r\n", true),
            (b"OPTIONS * HTTP/1.0\r\n\r\n", true),
            (b"HTTP/1.1 101 Switching Protocols\r\nA: 1\r\n\r\n", false),
            (b"HTTP/1.0 200 \xc3\xa9\ta\r\n\r\n", false),
        ];
        for (head, request) in heads {
            let line_end = head.iter().position(|&b| b == b'\r').unwrap();
            for at in 0..=line_end {
                for cr in [&b"\r"[..], b"\r\r", b"\r "] {
                    let mut changed = head[..at].to_vec();
                    changed.extend_from_slice(cr);
                    changed.extend_from_slice(&head[at..]);
                    let error = if request {
                        parse_request(&changed, &Limits::new()).err()
                    } else {
                        parse_response(&changed, &Limits::new(), false).err()
                    };
                    assert_eq!(
                        error,
                        Some(PeerErrorKind::BadLineEnding),
                        "{}",
                        changed.escape_ascii()
                    );
                }
                // A CR that replaces a byte.
                if at < line_end {
                    let mut changed = head.to_vec();
                    changed[at] = b'\r';
                    let error = if request {
                        parse_request(&changed, &Limits::new()).err()
                    } else {
                        parse_response(&changed, &Limits::new(), false).err()
                    };
                    assert_eq!(error, Some(PeerErrorKind::BadLineEnding), "{at}");
                }
            }
        }
    }

    /// The shortcut for a plain name agrees with the rules part by part,
    /// for every string of one or two bytes and every string of three
    /// from the bytes that matter.
    #[test]
    fn host_shortcut_agrees_with_the_rules() {
        let check = |v: &[u8]| {
            assert_eq!(
                is_valid_host(v),
                is_valid_host_by_parts(v),
                "{}",
                v.escape_ascii()
            );
            // The shortcut itself, whatever `SHORTCUTS` says: a value it
            // accepts, the rules accept.
            if v.iter().all(|&b| REG_NAME.contains(b)) {
                assert!(is_valid_host_by_parts(v), "{}", v.escape_ascii());
            }
        };
        check(b"");
        for a in 0..=255u8 {
            check(&[a]);
            for b in 0..=255u8 {
                check(&[a, b]);
            }
        }
        let some = b"a0.-_~!$&'()*+;=%:[]@,/ \x80fF";
        for &a in some {
            for &b in some {
                for &c in some {
                    check(&[a, b, c]);
                }
            }
        }
    }

    #[test]
    fn field_lines() {
        let (h, _) = req("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nx: 2\r\n\r\n").unwrap();
        assert_eq!(h.headers().count("X"), 2);
        assert_eq!(h.headers().count("host"), 1);
        assert_eq!(h.headers().count("y"), 0);
        assert_eq!(
            h.headers().iter().count(),
            3,
            "the final empty line is not a field"
        );
        // A CR not followed by LF ends no line.
        assert_eq!(
            req("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\rY: 2\r\n\r\n").err(),
            Some(PeerErrorKind::BadHeaderValue)
        );
        assert_eq!(
            req("GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n").err(),
            Some(PeerErrorKind::BadHeaderName)
        );
        assert_eq!(
            req("GET / HTTP/1.1\r\nHost: a\r\n\rZ: 2\r\n\r\n").err(),
            Some(PeerErrorKind::BadLineEnding)
        );
        assert_eq!(
            req("GET / HTTP/1.1\r\n Host: a\r\n\r\n").err(),
            Some(PeerErrorKind::ObsoleteLineFolding)
        );
    }

    #[test]
    fn head_end_with_bare_lf_and_the_size_limit() {
        let mut reader = HeadReader::default();
        let head = b"GET / HTTP/1.1\nHost: h\n\nrest";
        assert_eq!(
            reader.find(head, true, &Limits::new()),
            Ok(Some((0, head.len() - 4)))
        );
        let head = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let exactly = Limits::new().max_head_bytes(head.len());
        assert_eq!(
            HeadReader::default().find(head, true, &exactly),
            Ok(Some((0, head.len())))
        );
        let one_less = Limits::new().max_head_bytes(head.len() - 1);
        assert_eq!(
            HeadReader::default().find(head, true, &one_less),
            Err(PeerErrorKind::HeadTooLarge {
                limit: head.len() - 1
            })
        );
        // Empty lines before the request line count toward the limit.
        let mut with_empty = b"\r\n".to_vec();
        with_empty.extend_from_slice(head);
        assert_eq!(
            HeadReader::default().find(&with_empty, true, &exactly),
            Err(PeerErrorKind::HeadTooLarge { limit: head.len() })
        );
        assert_eq!(
            HeadReader::default().find(&with_empty, true, &Limits::new()),
            Ok(Some((2, with_empty.len())))
        );
    }

    #[test]
    fn tolerated() {
        let (_, f) = req("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n").unwrap();
        assert_eq!(f.content_length, Some(5));
        let (h, f) =
            req("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n\r\n").unwrap();
        assert!(f.conn_upgrade && f.conn_keep_alive);
        assert_eq!(h.headers().get("HOST"), Some(&b"a"[..]));
    }
}
