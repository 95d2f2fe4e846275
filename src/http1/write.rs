//! Writing heads into caller-provided buffers.
//!
//! Every writer runs twice: once to count, once to write, so that a buffer
//! that is too small gets [`Error::BufferTooSmall`] with the exact size and
//! no partial output.

use super::head::Header;
use super::token::{eq_ignore_case, is_field_value, is_token};
use crate::error::{Error, LocalError};

/// A sink that either counts or writes: the bytes of its output from
/// `skip` on, as many as `out` holds.
pub(crate) struct Writer<'a> {
    out: Option<&'a mut [u8]>,
    pos: usize,
    skip: usize,
}

// `put`, `put_str` and `header` are inlined on 64-bit targets: most
// pieces of a head are constants, copied without a call (the client
// handshake 985 -> 850 ns on x86_64); on the Cortex-M firmware that took
// 1.6 KiB of .text, so there they stay calls. `header` is forced: the
// hint alone left it a call with its four pieces behind it (cachegrind,
// per handshake: server 10,155 -> 10,007 instructions, client 9,624 ->
// 9,337).
impl Writer<'_> {
    #[cfg_attr(target_pointer_width = "64", inline)]
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let at = self.pos;
        self.pos += bytes.len();
        let Some(out) = self.out.as_deref_mut() else {
            return;
        };
        if self.skip == 0 && self.pos <= out.len() {
            // The usual case: the whole output fits from the start.
            out[at..self.pos].copy_from_slice(bytes);
        } else {
            self.put_in_window(at, bytes);
        }
    }

    /// The part of `bytes` (written at `at`) inside the window
    /// `[skip, skip + out.len())`.
    #[inline(never)]
    fn put_in_window(&mut self, at: usize, bytes: &[u8]) {
        let Some(out) = self.out.as_deref_mut() else {
            return;
        };
        let start = at.max(self.skip);
        let end = self.pos.min(self.skip + out.len());
        if start < end {
            out[start - self.skip..end - self.skip].copy_from_slice(&bytes[start - at..end - at]);
        }
    }

    #[cfg_attr(target_pointer_width = "64", inline)]
    pub(crate) fn put_str(&mut self, s: &str) {
        self.put(s.as_bytes());
    }

    /// `n` in decimal, without a leading zero. Digits come from subtracting
    /// powers of ten, not from dividing: a 64-bit division is a library
    /// routine on 32-bit targets (about 0.9 KiB of flash on Cortex-M).
    pub(crate) fn put_dec(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut len = 0;
        for &power in &POWERS {
            let mut digit = 0u8;
            while n >= power {
                n -= power;
                digit += 1;
            }
            if digit > 0 || len > 0 || power == 1 {
                digits[len] = b'0' + digit;
                len += 1;
            }
        }
        self.put(&digits[..len]);
    }

    /// `name: value\r\n`
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub(crate) fn header(&mut self, name: &str, value: &[u8]) {
        self.put_str(name);
        self.put(b": ");
        self.put(value);
        self.put(b"\r\n");
    }

    /// `name: a, b, c\r\n` for a list field (RFC 9110 §5.6.1); nothing
    /// when `elements` is empty.
    pub(crate) fn list<'e>(&mut self, name: &str, elements: impl IntoIterator<Item = &'e [u8]>) {
        let mut first = true;
        for element in elements {
            if first {
                self.put_str(name);
                self.put(b": ");
                first = false;
            } else {
                self.put(b", ");
            }
            self.put(element);
        }
        if !first {
            self.put(b"\r\n");
        }
    }

    /// `HTTP/1.1 <status> <reason>\r\n`
    pub(crate) fn status_line(&mut self, status: u16) {
        match status {
            // The lines a switch writes, whole.
            100 => return self.put(CONTINUE_LINE),
            101 => return self.put(SWITCHING_LINE),
            _ => {}
        }
        self.put(b"HTTP/1.1 ");
        self.put_dec(u64::from(status));
        self.put(b" ");
        self.put_str(reason_phrase(status));
        self.put(b"\r\n");
    }
}

/// The powers of ten a `u64` may hold, largest first ([`Writer::put_dec`]).
const POWERS: [u64; 20] = {
    let mut powers = [1u64; 20];
    let mut i = 19;
    while i > 0 {
        powers[i - 1] = powers[i] * 10;
        i -= 1;
    }
    powers
};

/// The digits [`Writer::put_dec`] writes for `n`: one per power of ten
/// not above it, and one for zero (comparisons, no division: see
/// `put_dec`).
pub(crate) fn dec_len(n: u64) -> usize {
    POWERS.iter().filter(|&&power| power <= n).count().max(1)
}

/// The bytes [`Writer::list`] writes for `name` and `elements`.
pub(crate) fn list_len<'e>(name: &str, elements: impl IntoIterator<Item = &'e [u8]>) -> usize {
    let (mut count, mut bytes) = (0, 0);
    for element in elements {
        count += 1;
        bytes += element.len();
    }
    match count {
        0 => 0,
        _ => name.len() + b": ".len() + bytes + b", ".len() * (count - 1) + b"\r\n".len(),
    }
}

/// The status line of a 100 ([`Writer::status_line`]).
pub(crate) const CONTINUE_LINE: &[u8] = b"HTTP/1.1 100 Continue\r\n";
/// The status line of a 101 ([`Writer::status_line`]).
pub(crate) const SWITCHING_LINE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n";

/// The bytes [`Writer::header`] writes for `name: value`.
pub(crate) const fn header_len(name: &str, value: &[u8]) -> usize {
    name.len() + b": ".len() + value.len() + b"\r\n".len()
}

/// [`emit`] for a head whose length the caller worked out (`needed`),
/// without running `write` to count it: `write` runs once, when `out`
/// holds `needed` bytes (the 101 of a WebSocket handshake: the counting
/// pass was a fifth of the instructions it took to write it).
pub(crate) fn emit_counted(
    out: &mut [u8],
    needed: usize,
    write: impl FnOnce(&mut Writer<'_>),
) -> Result<usize, Error> {
    if needed > out.len() {
        return Err(Error::BufferTooSmall { needed });
    }
    let mut writer = Writer {
        out: Some(&mut out[..needed]),
        pos: 0,
        skip: 0,
    };
    write(&mut writer);
    debug_assert_eq!(writer.pos, needed, "the caller counted what it writes");
    Ok(needed)
}

/// Runs `write` to count, then, if `out` is large enough, to write.
pub(crate) fn emit(out: &mut [u8], write: impl Fn(&mut Writer<'_>)) -> Result<usize, Error> {
    let mut counter = Writer {
        out: None,
        pos: 0,
        skip: 0,
    };
    write(&mut counter);
    emit_counted(out, counter.pos, write)
}

/// Runs `write` and copies its output from byte `skip` on into `out`, as
/// much as fits; returns how many bytes were copied. A reply the machine
/// owes is handed out this way over any number of calls without being
/// stored: it is written again, and only the window is kept.
pub(crate) fn emit_window(out: &mut [u8], skip: usize, write: impl Fn(&mut Writer<'_>)) -> usize {
    let room = out.len();
    let mut writer = Writer {
        out: Some(out),
        pos: 0,
        skip,
    };
    write(&mut writer);
    writer.pos.saturating_sub(skip).min(room)
}

/// Checks caller-supplied headers: valid names and values, and none of the
/// names the machine writes itself.
pub(crate) fn check_headers(
    headers: &[Header<'_>],
    reserved: &[&'static str],
) -> Result<(), LocalError> {
    for h in headers {
        if !is_token(h.name.as_bytes()) {
            return Err(LocalError::InvalidHeaderName);
        }
        if !is_field_value(h.value) {
            return Err(LocalError::InvalidHeaderValue);
        }
        if let Some(r) = reserved
            .iter()
            .find(|r| eq_ignore_case(r.as_bytes(), h.name.as_bytes()))
        {
            return Err(LocalError::ReservedHeader(r));
        }
    }
    Ok(())
}

/// The reason phrase written for `status` (RFC 9110 §15).
pub fn reason_phrase(status: u16) -> &'static str {
    let Some(i) = reasons::CODES.iter().position(|&code| code == status) else {
        return "";
    };
    let (start, end) = (reasons::OFFSETS[i], reasons::OFFSETS[i + 1]);
    reasons::PHRASES
        .get(usize::from(start)..usize::from(end))
        .unwrap_or("")
}

/// The table behind [`reason_phrase`] as three constants: the statuses,
/// their phrases in one string, and where each phrase starts (issue 9: a
/// `match` compiled to 224 bytes of code and range tables; a table of
/// `(u16, &str)` rows to 396 bytes of data; these take 134).
macro_rules! reason_phrases {
    ($($code:literal => $phrase:literal,)*) => {
        mod reasons {
            /// The statuses with a phrase.
            pub(super) const CODES: &[u16] = &[$($code),*];
            /// The phrases, in the order of `CODES`, concatenated.
            pub(super) const PHRASES: &str = concat!($($phrase),*);
            /// Phrase `i` is `PHRASES[OFFSETS[i]..OFFSETS[i + 1]]`.
            pub(super) const OFFSETS: [u16; CODES.len() + 1] = {
                let lengths = [$($phrase.len()),*];
                let mut offsets = [0u16; CODES.len() + 1];
                let mut i = 0;
                while i < lengths.len() {
                    offsets[i + 1] = offsets[i] + lengths[i] as u16;
                    i += 1;
                }
                offsets
            };
        }
    };
}

reason_phrases! {
    100 => "Continue",
    101 => "Switching Protocols",
    102 => "Processing",
    103 => "Early Hints",
    200 => "OK",
    201 => "Created",
    202 => "Accepted",
    204 => "No Content",
    301 => "Moved Permanently",
    302 => "Found",
    303 => "See Other",
    304 => "Not Modified",
    307 => "Temporary Redirect",
    308 => "Permanent Redirect",
    400 => "Bad Request",
    401 => "Unauthorized",
    403 => "Forbidden",
    404 => "Not Found",
    405 => "Method Not Allowed",
    408 => "Request Timeout",
    411 => "Length Required",
    413 => "Content Too Large",
    414 => "URI Too Long",
    417 => "Expectation Failed",
    426 => "Upgrade Required",
    429 => "Too Many Requests",
    431 => "Request Header Fields Too Large",
    500 => "Internal Server Error",
    501 => "Not Implemented",
    502 => "Bad Gateway",
    503 => "Service Unavailable",
    504 => "Gateway Timeout",
    505 => "HTTP Version Not Supported",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_phrases_by_status() {
        assert_eq!(reason_phrase(100), "Continue");
        assert_eq!(reason_phrase(101), "Switching Protocols");
        assert_eq!(reason_phrase(426), "Upgrade Required");
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(505), "HTTP Version Not Supported");
        assert_eq!(reason_phrase(299), "");
        assert_eq!(reason_phrase(0), "");
        assert_eq!(reasons::CODES.len() + 1, reasons::OFFSETS.len());
        assert_eq!(
            usize::from(reasons::OFFSETS[reasons::CODES.len()]),
            reasons::PHRASES.len()
        );
    }

    #[test]
    fn list_length_is_what_is_written() {
        let elements: [&[u8]; 3] = [b"a", b"bc", b""];
        for n in 0..=elements.len() {
            let mut out = [0u8; 64];
            let written = emit(&mut out, |w| w.list("Name", elements[..n].iter().copied()));
            assert_eq!(written, Ok(list_len("Name", elements[..n].iter().copied())));
        }
    }

    #[test]
    fn decimals_as_the_standard_library_writes_them() {
        use std::string::ToString;
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            101,
            426,
            65_535,
            1 << 32,
            10u64.pow(19),
            u64::MAX,
        ]
        .into_iter()
        .chain((0..2000).map(|i| i * 7919))
        {
            let mut out = [0u8; 20];
            let written = emit(&mut out, |w| w.put_dec(n)).unwrap();
            assert_eq!(&out[..written], n.to_string().as_bytes(), "{n}");
            assert_eq!(dec_len(n), written, "{n}");
            for near in [n.saturating_sub(1), n.saturating_add(1)] {
                assert_eq!(dec_len(near), near.to_string().len(), "{near}");
            }
        }
    }
}
