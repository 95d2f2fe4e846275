//! Just enough HTTP/2 (RFC 9113) to answer the request that arrived over
//! the h2c upgrade (RFC 7540 §3.2; RFC 9113 §3.1 deprecates the upgrade but
//! the frames are the same): it becomes stream 1, half-closed from the
//! client's side, and is answered with HEADERS + DATA, then GOAWAY.
//!
//! Requests on streams the client opens itself are not served: the GOAWAY
//! (last stream 1) tells the client they were not processed. For example
//! `nghttp -u -d FILE` upgrades with `OPTIONS *` and sends its POST on
//! stream 3, which it then reports as not processed.
//!
//! Support code of the `upgrade_server` example (not part of the crate):
//! the crate does the HTTP/1.1 upgrade, this file the protocol switched to.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

use super::{LINGER, READ_TIMEOUT, is_timeout};

/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Frame types (RFC 9113 §6).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;

// Flags (RFC 9113 §6.1, §6.2, §6.5, §6.7).
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

// Settings identifiers (RFC 9113 §6.5.2).
const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;

// Error codes (RFC 9113 §7).
const NO_ERROR: u32 = 0x0;
const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const FRAME_SIZE_ERROR: u32 = 0x6;

/// The frame size we accept: the initial SETTINGS_MAX_FRAME_SIZE, which
/// our empty SETTINGS leaves unchanged (RFC 9113 §4.2, §6.5.2).
const MAX_FRAME_SIZE: usize = 16_384;
/// Initial flow-control window of the connection and of each stream
/// (RFC 9113 §6.9.2).
const DEFAULT_WINDOW: i64 = 65_535;
/// The stream the upgraded request lives on (RFC 7540 §3.2).
const STREAM: u32 = 1;

/// A frame borrowed from the read buffer (RFC 9113 §4.1).
struct Frame<'a> {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: &'a [u8],
}

/// A connection error: the code for GOAWAY and a reason for the log
/// (RFC 9113 §5.4.1).
struct ConnError(u32, &'static str);

/// Parses one frame at the start of `buf` (RFC 9113 §4.1): the 9-octet
/// header is a 24-bit length, type, flags, and a reserved bit followed
/// by a 31-bit stream identifier. `None` when incomplete.
fn parse(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, ConnError> {
    if buf.len() < 9 {
        return Ok(None);
    }
    let len = usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
    // RFC 9113 §4.2: a frame over SETTINGS_MAX_FRAME_SIZE is a
    // FRAME_SIZE_ERROR.
    if len > MAX_FRAME_SIZE {
        return Err(ConnError(FRAME_SIZE_ERROR, "frame larger than 16384"));
    }
    if buf.len() < 9 + len {
        return Ok(None);
    }
    let stream = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
    let frame = Frame {
        kind: buf[3],
        flags: buf[4],
        stream,
        payload: &buf[9..9 + len],
    };
    Ok(Some((frame, 9 + len)))
}

/// Appends one frame (RFC 9113 §4.1).
fn put_frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len();
    debug_assert!(len <= MAX_FRAME_SIZE);
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

/// GOAWAY (RFC 9113 §6.8): last stream id we processed, error code.
fn put_goaway(out: &mut Vec<u8>, last_stream: u32, code: u32) {
    let mut payload = [0u8; 8];
    payload[..4].copy_from_slice(&last_stream.to_be_bytes());
    payload[4..].copy_from_slice(&code.to_be_bytes());
    put_frame(out, GOAWAY, 0, 0, &payload);
}

/// An HPACK integer with an N-bit prefix (RFC 7541 §5.1); `first` holds
/// the bits above the prefix.
fn hpack_int(out: &mut Vec<u8>, first: u8, prefix_bits: u32, mut value: usize) {
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    value -= max;
    while value >= 128 {
        out.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    out.push(value as u8);
}

/// Literal header field without indexing, name from the static table
/// (RFC 7541 §6.2.2), value as a plain string literal (§5.2, no
/// Huffman coding).
fn hpack_literal(out: &mut Vec<u8>, name_index: usize, value: &[u8]) {
    hpack_int(out, 0x00, 4, name_index);
    hpack_int(out, 0x00, 7, value.len());
    out.extend_from_slice(value);
}

/// The response header block: `:status 200` is static-table entry 8,
/// sent as an indexed field (RFC 7541 §6.1, Appendix A): 0x88.
/// `content-type` (31) and `content-length` (28) are literals with
/// indexed names.
fn response_block(body_len: usize) -> Vec<u8> {
    let mut block = vec![0x80 | 8];
    hpack_literal(&mut block, 31, b"text/plain; charset=utf-8");
    hpack_literal(&mut block, 28, body_len.to_string().as_bytes());
    block
}

/// Where the exchange is.
struct Conn {
    preface_seen: bool,
    /// The client's SETTINGS frame (the first frame after its preface,
    /// RFC 9113 §3.4) has arrived.
    settings_seen: bool,
    headers_sent: bool,
    data_sent: bool,
    goaway_sent: bool,
    stream_reset: bool,
    /// Flow-control windows for what we send (RFC 9113 §6.9).
    conn_window: i64,
    stream_window: i64,
    initial_window: i64,
    pings: u32,
}

impl Conn {
    /// Applies a SETTINGS payload (RFC 9113 §6.5.1: 6-octet entries).
    /// Only SETTINGS_INITIAL_WINDOW_SIZE matters for us; it moves the
    /// open stream's window by the difference (RFC 9113 §6.9.2).
    fn apply_settings(
        &mut self,
        entries: impl Iterator<Item = (u16, u32)>,
    ) -> Result<(), ConnError> {
        for (id, value) in entries {
            if id == SETTINGS_INITIAL_WINDOW_SIZE {
                if value > 0x7fff_ffff {
                    return Err(ConnError(FLOW_CONTROL_ERROR, "initial window too large"));
                }
                let value = i64::from(value);
                self.stream_window += value - self.initial_window;
                self.initial_window = value;
            }
        }
        Ok(())
    }

    /// Handles one frame from the client, appending any reply to `out`.
    fn on_frame(&mut self, f: &Frame<'_>, out: &mut Vec<u8>) -> Result<(), ConnError> {
        if !self.settings_seen && f.kind != SETTINGS {
            return Err(ConnError(
                PROTOCOL_ERROR,
                "preface not followed by SETTINGS",
            ));
        }
        match f.kind {
            // RFC 9113 §6.5: SETTINGS on stream 0, a multiple of 6
            // octets; acknowledged with an empty SETTINGS + ACK.
            SETTINGS if f.flags & ACK == 0 => {
                if f.stream != 0 || f.payload.len() % 6 != 0 {
                    return Err(ConnError(FRAME_SIZE_ERROR, "malformed SETTINGS"));
                }
                let entries = f.payload.chunks_exact(6).map(|e| {
                    (
                        u16::from_be_bytes([e[0], e[1]]),
                        u32::from_be_bytes([e[2], e[3], e[4], e[5]]),
                    )
                });
                self.apply_settings(entries)?;
                put_frame(out, SETTINGS, ACK, 0, &[]);
                self.settings_seen = true;
            }
            // The ACK of our own SETTINGS.
            SETTINGS => {}
            // RFC 9113 §6.7: answer a PING with the same 8 octets + ACK.
            PING if f.flags & ACK == 0 => {
                if f.payload.len() != 8 {
                    return Err(ConnError(FRAME_SIZE_ERROR, "PING is not 8 octets"));
                }
                put_frame(out, PING, ACK, 0, f.payload);
                self.pings += 1;
            }
            // RFC 9113 §6.9: a 31-bit window increment.
            WINDOW_UPDATE => {
                let [a, b, c, d] = f.payload else {
                    return Err(ConnError(FRAME_SIZE_ERROR, "WINDOW_UPDATE not 4 octets"));
                };
                let inc = i64::from(u32::from_be_bytes([*a, *b, *c, *d]) & 0x7fff_ffff);
                match f.stream {
                    0 => self.conn_window += inc,
                    STREAM => self.stream_window += inc,
                    _ => {}
                }
            }
            // RFC 9113 §6.4: the client gave up on stream 1.
            RST_STREAM if f.stream == STREAM => self.stream_reset = true,
            // Everything else (PRIORITY, the client's GOAWAY, HEADERS of
            // new streams, ...) is dropped. New streams are above the
            // last stream id of our GOAWAY, which tells the client they
            // were not processed (RFC 9113 §6.8); since we close, their
            // header blocks need not be decoded either.
            _ => {}
        }
        Ok(())
    }

    /// Writes whatever part of the answer can go out now.
    fn respond(&mut self, body: &[u8], head_only: bool, out: &mut Vec<u8>) {
        if !self.settings_seen || self.stream_reset {
            if self.stream_reset && !self.goaway_sent {
                put_goaway(out, STREAM, NO_ERROR);
                self.goaway_sent = true;
            }
            return;
        }
        if !self.headers_sent {
            // RFC 9113 §6.2: the whole block fits one HEADERS frame, so
            // END_HEADERS; END_STREAM too when no DATA follows.
            let block = response_block(body.len());
            let flags = if head_only {
                END_HEADERS | END_STREAM
            } else {
                END_HEADERS
            };
            put_frame(out, HEADERS, flags, STREAM, &block);
            self.headers_sent = true;
            self.data_sent = head_only;
        }
        // RFC 9113 §6.9.1: DATA may not exceed either window.
        let fits = body.len() as i64 <= self.conn_window.min(self.stream_window);
        if !self.data_sent && fits {
            put_frame(out, DATA, END_STREAM, STREAM, body);
            self.conn_window -= body.len() as i64;
            self.stream_window -= body.len() as i64;
            self.data_sent = true;
        }
        if self.data_sent && !self.goaway_sent {
            // RFC 9113 §6.8: stream 1 was the only one processed.
            put_goaway(out, STREAM, NO_ERROR);
            self.goaway_sent = true;
        }
    }
}

/// Speaks HTTP/2 after the 101 until the answer is delivered and the
/// client closes (or [`LINGER`] passes after our GOAWAY). `buf` holds
/// bytes that arrived with the request; `settings` are the client's
/// `HTTP2-Settings`; `body` is the response body, of which a HEAD
/// request (`head_only`) gets only the length. Returns a summary for
/// the log.
pub fn serve(
    stream: &mut TcpStream,
    mut buf: Vec<u8>,
    settings: &[(u16, u32)],
    body: &[u8],
    head_only: bool,
) -> io::Result<String> {
    let mut c = Conn {
        preface_seen: false,
        settings_seen: false,
        headers_sent: false,
        data_sent: false,
        goaway_sent: false,
        stream_reset: false,
        conn_window: DEFAULT_WINDOW,
        stream_window: DEFAULT_WINDOW,
        initial_window: DEFAULT_WINDOW,
        pings: 0,
    };
    let mut out = Vec::new();
    // RFC 7540 §3.2.1: HTTP2-Settings acts as the client's first
    // SETTINGS; the 101 acknowledges it implicitly.
    let mut failure = c
        .apply_settings(settings.iter().copied())
        .err()
        .map(|ConnError(code, why)| (code, why));
    // RFC 9113 §3.4: the server preface is a SETTINGS frame (ours is
    // empty: every default is fine), sent first.
    put_frame(&mut out, SETTINGS, 0, 0, &[]);
    let mut deadline: Option<Instant> = None;
    let mut chunk = [0u8; 16_384];
    let mut eof = false;
    while failure.is_none() {
        if !c.preface_seen {
            let n = buf.len().min(PREFACE.len());
            if buf[..n] != PREFACE[..n] {
                failure = Some((PROTOCOL_ERROR, "bad client connection preface"));
                break;
            }
            if n == PREFACE.len() {
                buf.drain(..n);
                c.preface_seen = true;
            }
        }
        if c.preface_seen {
            let mut used = 0;
            loop {
                match parse(&buf[used..]) {
                    Ok(Some((frame, len))) => {
                        if let Err(ConnError(code, why)) = c.on_frame(&frame, &mut out) {
                            failure = Some((code, why));
                            break;
                        }
                        used += len;
                    }
                    Ok(None) => break,
                    Err(ConnError(code, why)) => {
                        failure = Some((code, why));
                        break;
                    }
                }
            }
            buf.drain(..used);
            if failure.is_some() {
                break;
            }
        }
        c.respond(body, head_only, &mut out);
        if c.goaway_sent && deadline.is_none() {
            deadline = Some(Instant::now() + LINGER);
        }
        stream.write_all(&out)?;
        out.clear();
        if eof {
            break;
        }

        // Read more: after our GOAWAY, only until the linger deadline.
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => READ_TIMEOUT,
        };
        if wait.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(wait))?;
        match stream.read(&mut chunk) {
            Ok(0) => eof = true,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => break,
            Err(e) => return Err(e),
        }
    }
    if let Some((code, _)) = failure {
        // RFC 9113 §5.4.1: a connection error ends with GOAWAY.
        let last = if c.headers_sent { STREAM } else { 0 };
        put_goaway(&mut out, last, code);
        let _ = stream.write_all(&out);
    }
    let _ = stream.shutdown(Shutdown::Write);

    let answered = if c.stream_reset {
        "stream 1 reset by the client".to_owned()
    } else if c.data_sent && head_only {
        "answered stream 1 (HEAD: headers only)".to_owned()
    } else if c.data_sent {
        format!("answered stream 1 ({} body bytes)", body.len())
    } else {
        "stream 1 not answered".to_owned()
    };
    let mut summary = format!("{answered}, {} PING(s) acknowledged", c.pings);
    if let Some((code, why)) = failure {
        summary.push_str(&format!(", GOAWAY error {code:#x}: {why}"));
    } else if c.goaway_sent {
        summary.push_str(", GOAWAY sent");
    }
    if !eof && c.goaway_sent {
        summary.push_str(", client did not close");
    }
    Ok(summary)
}
