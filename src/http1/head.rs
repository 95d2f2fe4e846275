//! Parsing HTTP/1.1 message heads (RFC 9112 §2–§6) with `httparse`, plus the
//! stricter checks `httparse` leaves to its caller.

use super::token::{ListElements, list_contains, trim_ows};
use crate::error::PeerErrorKind;

/// Header slots on the stack while a head is parsed. Configured limits above
/// this are clamped to it.
pub const MAX_HEADER_SLOTS: usize = 128;

/// Limits applied while reading a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Largest head in bytes, request/status line and final empty line
    /// included. Default 8192.
    pub max_head_bytes: usize,
    /// Most header fields. Default 64, at most [`MAX_HEADER_SLOTS`].
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_bytes: 8192,
            max_headers: 64,
        }
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

/// The header section of a received head, borrowed from the caller's buffer.
/// Copy it freely; iterate it as often as needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headers<'b> {
    /// The field lines, each ending in LF (CRLF), without the final empty line.
    block: &'b [u8],
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
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'b [u8]> + use<'b, 'n> {
        self.iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// The list elements of every field called `name`, in order
    /// (RFC 9110 §5.6.1: several field lines form one list).
    pub fn list<'n>(&self, name: &'n str) -> impl Iterator<Item = &'b [u8]> + use<'b, 'n> {
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

/// Iterator over [`Headers`].
#[derive(Debug, Clone)]
pub struct HeaderIter<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for HeaderIter<'b> {
    type Item = Header<'b>;
    fn next(&mut self) -> Option<Header<'b>> {
        // The block was validated by httparse and `check_lines`: every line
        // is `name:value` with a token name.
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = self
                .rest
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(self.rest.len());
            let mut line = &self.rest[..end];
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let Ok(name) = core::str::from_utf8(&line[..colon]) else {
                continue;
            };
            return Some(Header {
                name,
                value: trim_ows(&line[colon + 1..]),
            });
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
    /// The header fields.
    pub fn headers(&self) -> Headers<'b> {
        self.headers
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
    /// The header fields.
    pub fn headers(&self) -> Headers<'b> {
        self.headers
    }
}

/// Finds the end of a head incrementally. `scanned` is how far a previous
/// call looked; the search resumes just before it so each byte is looked at
/// a bounded number of times. Returns the head length including the final
/// empty line.
pub(crate) fn find_head_end(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    let start = scanned.saturating_sub(3);
    let mut i = start;
    while i < buf.len() {
        if buf[i] == b'\n' {
            match &buf[i + 1..] {
                [b'\n', ..] => return Some(i + 2),
                [b'\r', b'\n', ..] => return Some(i + 3),
                [] | [b'\r'] => break,
                _ => {}
            }
        }
        i += 1;
    }
    *scanned = buf.len();
    None
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
        match &buf[i..] {
            [b'\r', b'\n', ..] => i += 2,
            [b'\n', ..] => i += 1,
            _ => return i,
        }
    }
}

/// Rejects obsolete line folding before httparse sees it, so the error says
/// what is wrong.
fn check_lines(head: &[u8]) -> Result<(), PeerErrorKind> {
    for w in head.windows(2) {
        if w[0] == b'\n' && matches!(w[1], b' ' | b'\t') {
            return Err(PeerErrorKind::ObsoleteLineFolding);
        }
    }
    Ok(())
}

fn map_httparse(e: httparse::Error, limits: &HeadLimits) -> PeerErrorKind {
    match e {
        httparse::Error::HeaderName => PeerErrorKind::BadHeaderName,
        httparse::Error::HeaderValue => PeerErrorKind::BadHeaderValue,
        httparse::Error::NewLine => PeerErrorKind::BadLineEnding,
        httparse::Error::Status => PeerErrorKind::BadStatus,
        httparse::Error::Version => PeerErrorKind::BadVersion,
        httparse::Error::TooManyHeaders => PeerErrorKind::TooManyHeaders {
            limit: limits.max_headers,
        },
        _ => PeerErrorKind::BadStartLine,
    }
}

fn header_block(head: &[u8]) -> &[u8] {
    // After the start line, before the final empty line.
    let first = head
        .iter()
        .position(|&b| b == b'\n')
        .map_or(head.len(), |i| i + 1);
    let mut end = head.len();
    // strip final empty line: "\n" or "\r\n"
    if end > first && head[end - 1] == b'\n' {
        end -= 1;
        if end > first && head[end - 1] == b'\r' {
            end -= 1;
        }
    }
    &head[first.min(end)..end]
}

fn parse_u64_digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Gathers framing and connection facts, rejecting ambiguous framing.
pub(crate) fn gather_facts(headers: Headers<'_>) -> Result<Facts, PeerErrorKind> {
    let mut f = Facts::default();
    let mut te_seen = false;
    let mut last_te_chunked = false;
    let mut other_coding = false;
    for h in headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            // A list of identical values is tolerated (RFC 9112 §6.3 item 5).
            let mut any = false;
            for e in ListElements::new(h.value) {
                any = true;
                let n = parse_u64_digits(e).ok_or(PeerErrorKind::BadContentLength)?;
                match f.content_length {
                    Some(prev) if prev != n => return Err(PeerErrorKind::BadContentLength),
                    _ => f.content_length = Some(n),
                }
            }
            if !any {
                return Err(PeerErrorKind::BadContentLength);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            for e in ListElements::new(h.value) {
                te_seen = true;
                if last_te_chunked {
                    // chunked applied more than once, or not last.
                    other_coding = true;
                }
                last_te_chunked = e.eq_ignore_ascii_case(b"chunked");
                if !last_te_chunked {
                    other_coding = true;
                }
            }
            if !te_seen {
                return Err(PeerErrorKind::UnsupportedTransferCoding);
            }
        } else if name.eq_ignore_ascii_case(b"connection") {
            for e in ListElements::new(h.value) {
                if e.eq_ignore_ascii_case(b"upgrade") {
                    f.conn_upgrade = true;
                } else if e.eq_ignore_ascii_case(b"close") {
                    f.conn_close = true;
                } else if e.eq_ignore_ascii_case(b"keep-alive") {
                    f.conn_keep_alive = true;
                } else if e.eq_ignore_ascii_case(b"http2-settings") {
                    f.conn_http2_settings = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            for e in ListElements::new(h.value) {
                if e.eq_ignore_ascii_case(b"100-continue") {
                    f.expect_continue = true;
                } else {
                    return Err(PeerErrorKind::UnsupportedExpectation);
                }
            }
        }
    }
    if te_seen {
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

/// Parses a complete request head (`head` ends with the empty line).
pub(crate) fn parse_request<'b>(
    head: &'b [u8],
    limits: &HeadLimits,
) -> Result<(RequestHead<'b>, Facts), PeerErrorKind> {
    check_lines(head)?;
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
    let n = limits.max_headers.min(MAX_HEADER_SLOTS);
    let mut req = httparse::Request::new(&mut slots[..n]);
    match req.parse(head) {
        Ok(httparse::Status::Complete(len)) if len == head.len() => {}
        Ok(_) => return Err(PeerErrorKind::BadLineEnding),
        Err(e) => return Err(map_httparse(e, limits)),
    }
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(PeerErrorKind::BadStartLine);
    };
    let headers = Headers {
        block: header_block(head),
    };
    let facts = gather_facts(headers)?;
    if facts.te_not_chunked {
        return Err(PeerErrorKind::ChunkedNotFinal);
    }
    let host_count = headers.count("host");
    if (minor_version == 1 && host_count != 1) || host_count > 1 {
        return Err(PeerErrorKind::BadHost);
    }
    Ok((
        RequestHead {
            method,
            target,
            minor_version,
            headers,
        },
        facts,
    ))
}

/// Parses a complete response head (`head` ends with the empty line).
pub(crate) fn parse_response<'b>(
    head: &'b [u8],
    limits: &HeadLimits,
) -> Result<(ResponseHead<'b>, Facts), PeerErrorKind> {
    check_lines(head)?;
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
    let n = limits.max_headers.min(MAX_HEADER_SLOTS);
    let mut resp = httparse::Response::new(&mut slots[..n]);
    match resp.parse(head) {
        Ok(httparse::Status::Complete(len)) if len == head.len() => {}
        Ok(_) => return Err(PeerErrorKind::BadLineEnding),
        Err(e) => return Err(map_httparse(e, limits)),
    }
    let (Some(status), Some(minor_version)) = (resp.code, resp.version) else {
        return Err(PeerErrorKind::BadStartLine);
    };
    if !(100..=999).contains(&status) {
        return Err(PeerErrorKind::BadStatus);
    }
    let headers = Headers {
        block: header_block(head),
    };
    let facts = gather_facts(headers)?;
    Ok((
        ResponseHead {
            status,
            reason: resp.reason.unwrap_or(""),
            minor_version,
            headers,
        },
        facts,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Result<(RequestHead<'_>, Facts), PeerErrorKind> {
        parse_request(s.as_bytes(), &HeadLimits::default())
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
            ("GET / HTTP/1.1\r\n\r\n", BadHost),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", BadHost),
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
