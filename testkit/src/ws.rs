//! WebSocket plumbing shared by `frame_decoder`, `connection` and
//! `roundtrip`: deterministic masking keys, parsing what a connection wrote
//! the way its peer reads it, and a receive loop ([`Receiver`]) that checks
//! every event it sees.

use core::ops::Range;

use protoswitch::ws::{
    CloseCause, Connection, Event, FrameHeader, MAX_HEADER_LEN, MIN_RECEIVE_BUFFER,
    MIN_TRANSMIT_BUFFER, MaskSource, MessageKind, OpCode, State, apply_mask, is_valid_close_code,
};
use protoswitch::{Error, Instant, PeerErrorKind, Role};

use crate::Bytes;

/// Masking keys drawn from a seed (xorshift32), so that every run of one
/// input masks alike. Seed 0 gives all-zero keys, which are legal too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keys(u32);

impl Keys {
    /// Keys from `seed`.
    pub fn new(seed: u32) -> Self {
        Keys(seed)
    }

    /// The next key (what the connection gets from [`MaskSource`]).
    pub fn next_key(&mut self) -> [u8; 4] {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x.to_le_bytes()
    }
}

impl MaskSource for Keys {
    fn mask_key(&mut self) -> [u8; 4] {
        self.next_key()
    }
}

/// The other side.
pub const fn peer_of(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

/// A frame as the peer reads it: the header and the unmasked payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header, mask included.
    pub header: FrameHeader,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

impl Frame {
    /// Code and reason of a Close frame, checked the way the peer checks
    /// them (RFC 6455 §5.5.1, §7.4).
    pub fn close(&self) -> (Option<u16>, &str) {
        assert_eq!(self.header.opcode, OpCode::Close, "not a Close: {self:?}");
        match self.payload.as_slice() {
            [] => (None, ""),
            [_] => panic!("a one-byte Close payload"),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                assert!(is_valid_close_code(code), "sent close code {code}");
                let reason = core::str::from_utf8(reason).unwrap_or_else(|_| {
                    panic!("close reason is not UTF-8: {:?}", Bytes(reason.to_vec()))
                });
                (Some(code), reason)
            }
        }
    }
}

/// The header at the start of what a `sender` wrote, decoded as its peer
/// decodes it; panics unless it is a whole header in shortest form.
/// Returns the header and its length.
pub fn parse_header(bytes: &[u8], sender: Role) -> (FrameHeader, usize) {
    let (header, n) = match FrameHeader::decode(bytes, peer_of(sender), 0) {
        Ok(Some(h)) => h,
        Ok(None) => panic!(
            "{sender:?} wrote a truncated header: {:?}",
            Bytes(bytes.to_vec())
        ),
        Err(e) => panic!(
            "{sender:?} wrote a header its peer rejects ({e:?}): {:?}",
            Bytes(bytes.to_vec())
        ),
    };
    assert_eq!(n, header.encoded_len(), "header not in shortest form");
    (header, n)
}

/// Splits what a `sender` wrote into frames. Panics unless `bytes` is a
/// sequence of whole frames its peer accepts at the header level (masked
/// from a client, unmasked from a server, shortest length form, no RSV).
pub fn parse_frames(bytes: &[u8], sender: Role) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (header, n) = parse_header(rest, sender);
        let end = usize::try_from(header.payload_len)
            .ok()
            .and_then(|len| n.checked_add(len))
            .filter(|&end| end <= rest.len())
            .unwrap_or_else(|| panic!("{sender:?} wrote a truncated frame {header:?}"));
        let mut payload = rest[n..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push(Frame { header, payload });
        rest = &rest[end..];
    }
    frames
}

/// Splits the whole frames off the front of `bytes` (a byte stream may end
/// inside one): the frames, and how many bytes they take.
pub fn complete_frames(bytes: &[u8], sender: Role) -> (Vec<Frame>, usize) {
    let mut used = 0;
    while let Some(len) = frame_len(&bytes[used..]) {
        if len > bytes.len() - used {
            break;
        }
        used += len;
    }
    (parse_frames(&bytes[..used], sender), used)
}

/// The length of the frame at the start of `b`, once its header says.
fn frame_len(b: &[u8]) -> Option<usize> {
    let [_, second, rest @ ..] = b else {
        return None;
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    let (ext, payload) = match second & 0x7f {
        126 => (
            2,
            u64::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
        ),
        127 => (8, u64::from_be_bytes(rest.get(..8)?.try_into().ok()?)),
        n => (0, u64::from(n)),
    };
    usize::try_from(payload).ok()?.checked_add(2 + ext + mask)
}

/// A comparable summary of what a connection reported. Data chunks of one
/// message are merged: their boundaries depend on how the stream was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEv {
    /// A complete message.
    Message(MessageKind, Bytes),
    /// Data of a message not complete when the input ended (dropped when
    /// an error follows: how much of it came before the error depends on
    /// the cuts).
    Partial(MessageKind, Bytes),
    /// A Ping.
    Ping(Bytes),
    /// A Pong.
    Pong(Bytes),
    /// The peer's Close.
    Close(Option<u16>, String),
    /// A peer error.
    Error(PeerErrorKind),
    /// The transport ended: the state before `receive_eof`, the cause
    /// after it.
    End {
        /// State before the end of stream.
        state: State,
        /// `close_cause()` after it.
        cause: Option<CloseCause>,
    },
}

/// Feeds `input` to `conn` in the reads `cuts` gives (sorted offsets)
/// through the checked receive loop ([`Receiver`]: every event checked
/// against the state, the limits, UTF-8 and what was transmitted for it),
/// at time zero. Returns the events (a message still incomplete at the end
/// as [`WsEv::Partial`]) and every byte `poll_transmit` wrote; `conn` is
/// left where the bytes took it (the transport has not ended).
pub fn feed<M: MaskSource + Clone>(
    conn: &mut Connection<M>,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<WsEv>, Vec<u8>) {
    feed_into(conn, input, cuts, 0)
}

/// [`feed`], through `receive_into` with an output buffer of `out_len`
/// bytes (for permessage-deflate: compressed messages come out inflated
/// in chunks of at most that).
pub fn feed_into<M: MaskSource + Clone>(
    conn: &mut Connection<M>,
    input: &[u8],
    cuts: &[usize],
    out_len: usize,
) -> (Vec<WsEv>, Vec<u8>) {
    let mut receiver = Receiver::new(conn.clone(), Instant::ZERO).with_output(out_len);
    let mut start = 0;
    for end in cuts.iter().copied().chain([input.len()]) {
        let end = end.clamp(start, input.len());
        receiver.feed(&input[start..end]);
        start = end;
        if matches!(receiver.log.last(), Some(WsEv::Error(_))) {
            break;
        }
    }
    if let Some(p) = receiver.partial.take()
        && !matches!(receiver.log.last(), Some(WsEv::Error(_)))
    {
        receiver.log.push(WsEv::Partial(p.kind, Bytes(p.data)));
    }
    *conn = receiver.conn;
    (receiver.log, receiver.wire)
}

/// An event copied out of the receive buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    /// `event: None`.
    Nothing,
    /// A data chunk.
    Data {
        /// Inflated into the output buffer (else borrowed from the input).
        inflated: bool,
        /// Text or binary.
        kind: MessageKind,
        /// The bytes.
        payload: Vec<u8>,
        /// Last chunk of its frame.
        frame_end: bool,
        /// Last chunk of its message.
        message_end: bool,
    },
    /// A Ping.
    Ping(Vec<u8>),
    /// A Pong.
    Pong(Vec<u8>),
    /// A Close.
    Close(Option<u16>, String),
}

impl Got {
    /// Copies `event` out, checking that everything it borrows lies in
    /// `consumed` (the addresses of the bytes `receive` consumed), or for
    /// data, in `out` (the output buffer of `receive_into`).
    pub fn new(event: Option<Event<'_>>, consumed: Range<usize>, out: Range<usize>) -> Self {
        let within = |bytes: &[u8], r: &Range<usize>| {
            let start = bytes.as_ptr() as usize;
            r.start <= start && start + bytes.len() <= r.end
        };
        let inside = |bytes: &[u8], what: &str| {
            if bytes.is_empty() {
                return;
            }
            let start = bytes.as_ptr() as usize;
            assert!(
                within(bytes, &consumed),
                "{what} of {} bytes at +{} lies outside the {} bytes consumed",
                bytes.len(),
                start.wrapping_sub(consumed.start),
                consumed.len()
            );
        };
        match event {
            None => Got::Nothing,
            Some(Event::Data(chunk)) => {
                let inflated = !chunk.payload.is_empty() && within(chunk.payload, &out);
                if !inflated {
                    inside(chunk.payload, "a data chunk");
                }
                Got::Data {
                    inflated,
                    kind: chunk.kind,
                    payload: chunk.payload.to_vec(),
                    frame_end: chunk.frame_end,
                    message_end: chunk.message_end,
                }
            }
            Some(Event::Ping(p)) => {
                inside(p, "a Ping payload");
                Got::Ping(p.to_vec())
            }
            Some(Event::Pong(p)) => {
                inside(p, "a Pong payload");
                Got::Pong(p.to_vec())
            }
            Some(Event::Close { code, reason }) => {
                inside(reason.as_bytes(), "a close reason");
                Got::Close(code, reason.to_owned())
            }
            Some(other) => panic!("an event the checker does not know: {other:?}"),
        }
    }
}

/// The message being received.
#[derive(Debug)]
struct Partial {
    kind: MessageKind,
    data: Vec<u8>,
    frames: u32,
    frame_bytes: u64,
}

/// Drives a connection like an I/O loop: a growing buffer, `receive` until
/// it has no event, the consumed bytes dropped, and `poll_transmit`
/// drained into a [`MIN_TRANSMIT_BUFFER`]-byte buffer after every call.
/// Checks each event against the state and what was transmitted for it.
#[derive(Debug)]
pub struct Receiver<M> {
    /// The connection.
    pub conn: Connection<M>,
    /// The time given to `receive`.
    pub now: Instant,
    buf: Vec<u8>,
    /// The output buffer of `receive_into`.
    out: Vec<u8>,
    log: Vec<WsEv>,
    wire: Vec<u8>,
    partial: Option<Partial>,
}

impl<M: MaskSource> Receiver<M> {
    /// A receive loop around `conn`.
    pub fn new(conn: Connection<M>, now: Instant) -> Self {
        Receiver {
            conn,
            now,
            buf: Vec::new(),
            out: Vec::new(),
            log: Vec::new(),
            wire: Vec::new(),
            partial: None,
        }
    }

    /// Receives with an output buffer of `len` bytes (`receive_into`),
    /// which permessage-deflate needs; 0 keeps `receive`.
    pub fn with_output(mut self, len: usize) -> Self {
        self.out = vec![0; len];
        self
    }

    /// One read from the transport.
    pub fn feed(&mut self, read: &[u8]) {
        self.buf.extend_from_slice(read);
        // Every event consumes at least one byte, or hands out inflated
        // bytes, which the message limit bounds.
        let inflated_chunks = match self.out.len() {
            0 => 0,
            n => self.conn.config().max_message_size / n as u64 + 2,
        };
        let budget = self.buf.len() as u64 + 2 + 2 * inflated_chunks;
        for _ in 0..budget {
            if !self.step() {
                return;
            }
        }
        panic!("the receive loop does not progress");
    }

    /// The transport ended: checks the end state and returns the event log
    /// and every byte `poll_transmit` wrote.
    pub fn finish(mut self) -> (Vec<WsEv>, Vec<u8>) {
        // A message cut by an error was delivered up to the error in pieces
        // that depend on the cuts: keep only the error.
        if let Some(p) = self.partial.take()
            && !matches!(self.log.last(), Some(WsEv::Error(_)))
        {
            self.log.push(WsEv::Partial(p.kind, Bytes(p.data)));
        }
        let state = self.conn.state();
        let eof = self.conn.receive_eof();
        match (state, &eof) {
            (State::Open | State::CloseSent, Err(e)) => assert_eq!(
                e.peer().map(|p| p.kind()),
                Some(protoswitch::PeerErrorKind::ClosedWithoutCloseFrame)
            ),
            (State::CloseReceived | State::Closed, Ok(None)) => {}
            _ => panic!("receive_eof in {state:?}: {eof:?}"),
        }
        assert!(self.transmit().is_empty(), "a frame to send after the end");
        assert_eq!(self.conn.state(), State::Closed, "after receive_eof");
        assert!(
            self.conn.should_close_transport(),
            "transport ended, nothing to send, but should_close_transport() is false"
        );
        self.log.push(WsEv::End {
            state,
            cause: self.conn.close_cause(),
        });
        (self.log, self.wire)
    }

    /// Drains `poll_transmit` through a small buffer (a byte stream: frames
    /// come out in pieces); what it gave must be whole control frames.
    fn transmit(&mut self) -> Vec<Frame> {
        let mut bytes = Vec::new();
        let mut out = [0u8; 7];
        for _ in 0..3 * MIN_TRANSMIT_BUFFER {
            let n = self.conn.poll_transmit(&mut out);
            if n == 0 {
                let frames = parse_frames(&bytes, self.conn.role());
                assert!(frames.len() <= 3, "poll_transmit wrote {frames:?}");
                for f in &frames {
                    assert!(
                        f.header.opcode.is_control() && f.header.fin,
                        "poll_transmit wrote {:?}",
                        f.header
                    );
                }
                self.wire.extend_from_slice(&bytes);
                return frames;
            }
            bytes.extend_from_slice(&out[..n]);
        }
        panic!("poll_transmit never ends: {bytes:?}");
    }

    /// One `receive` call and its checks; `false` when the loop should wait
    /// for the next read.
    fn step(&mut self) -> bool {
        let before = self.conn.state();
        let len = self.buf.len();
        let at = self.buf.as_ptr() as usize;
        let out_at = self.out.as_ptr() as usize;
        let out = out_at..out_at + self.out.len();
        let received = if self.out.is_empty() {
            self.conn.receive(&mut self.buf, self.now)
        } else {
            self.conn
                .receive_into(&mut self.buf, &mut self.out, self.now)
        };
        let (consumed, got) = match received {
            Ok(r) => {
                assert!(r.consumed <= len, "consumed {} of {len} bytes", r.consumed);
                (r.consumed, Ok(Got::new(r.event, at..at + r.consumed, out)))
            }
            Err(Error::Peer(e)) => (0, Err(e)),
            Err(e) => panic!("receive in {before:?} returned {e:?}"),
        };
        let frames = self.transmit();
        let state = self.conn.state();
        let got = match got {
            Err(e) => {
                assert_ne!(before, State::Closed, "{e:?} after Closed");
                assert_eq!(state, State::Closed, "state after {e:?}");
                assert_eq!(self.conn.close_cause(), Some(CloseCause::Failed(e)));
                assert_eq!(e.role(), self.conn.role());
                let code = e
                    .close_code()
                    .unwrap_or_else(|| panic!("{e:?} has no close code"));
                if before == State::CloseSent {
                    assert!(frames.is_empty(), "a second Close: {frames:?}");
                } else {
                    assert!(
                        frames.len() == 1 && frames[0].close().0 == Some(code),
                        "{e:?} (close code {code}) transmitted {frames:?}"
                    );
                }
                assert!(
                    self.conn.should_close_transport(),
                    "failed and drained, but should_close_transport() is false"
                );
                self.log.push(WsEv::Error(e.kind()));
                return false;
            }
            Ok(got) => got,
        };
        if got == Got::Nothing {
            assert!(frames.is_empty(), "transmitted {frames:?} without an event");
            assert_eq!(state, before, "state changed without an event");
            if matches!(before, State::Closed | State::CloseReceived) {
                assert_eq!(consumed, len, "bytes after the Close are not discarded");
            } else {
                // What the machine may wait on: a head or control frame,
                // or with `whole_frames` also a data frame within the limit.
                let config = self.conn.config();
                let mut most = MIN_RECEIVE_BUFFER as u64;
                if config.whole_frames {
                    let frame = config
                        .max_frame_payload
                        .saturating_add(MAX_HEADER_LEN as u64);
                    most = most.max(frame);
                }
                assert!(
                    ((len - consumed) as u64) < most,
                    "{} bytes left unread with no event",
                    len - consumed
                );
            }
            self.buf.drain(..consumed);
            return false;
        }
        // Only inflated data may come without consuming: the end of a
        // compressed message still coming out of the inflater.
        let inflated = matches!(got, Got::Data { inflated: true, .. });
        assert!(
            consumed > 0
                || inflated
                || matches!(
                    got,
                    Got::Data {
                        message_end: true,
                        ..
                    }
                ),
            "an event that consumed nothing: {got:?}"
        );
        assert!(
            matches!(before, State::Open | State::CloseSent),
            "{got:?} in {before:?}"
        );
        let config = self.conn.config();
        match got {
            Got::Nothing => unreachable!(),
            Got::Data {
                inflated,
                kind,
                payload,
                frame_end,
                message_end,
            } => {
                assert!(frames.is_empty(), "transmitted {frames:?} for data");
                assert_eq!(state, before, "state changed by data");
                assert!(frame_end || !message_end, "message end inside a frame");
                if inflated {
                    assert_eq!(frame_end, message_end, "inflated data shows no frames");
                }
                let p = self.partial.get_or_insert_with(|| Partial {
                    kind,
                    data: Vec::new(),
                    frames: 0,
                    frame_bytes: 0,
                });
                assert_eq!(p.kind, kind, "the kind changed inside a message");
                p.data.extend_from_slice(&payload);
                p.frame_bytes += payload.len() as u64;
                // The frame limit is on the bytes on the wire; inflated
                // data counts against the message limit only.
                assert!(
                    inflated || p.frame_bytes <= config.max_frame_payload,
                    "frame over the limit"
                );
                assert!(
                    p.data.len() as u64 <= config.max_message_size,
                    "message over the limit"
                );
                if kind == MessageKind::Text {
                    match core::str::from_utf8(&p.data) {
                        Ok(_) => {}
                        Err(e) if e.error_len().is_none() && !message_end => {}
                        Err(e) => panic!(
                            "text delivered that is not UTF-8 ({e}): {:?}",
                            Bytes(p.data.clone())
                        ),
                    }
                }
                if frame_end {
                    p.frames += 1;
                    p.frame_bytes = 0;
                    assert!(p.frames <= config.max_fragments, "fragments over the limit");
                }
                if message_end {
                    let p = self.partial.take().expect("the message");
                    self.log.push(WsEv::Message(p.kind, Bytes(p.data)));
                }
            }
            Got::Ping(p) => {
                assert_eq!(state, before, "state changed by a Ping");
                assert!(p.len() <= 125);
                if config.auto_pong && before == State::Open {
                    assert!(
                        frames.len() == 1
                            && frames[0].header.opcode == OpCode::Pong
                            && frames[0].payload == p,
                        "Ping {:?} answered with {frames:?}",
                        Bytes(p)
                    );
                } else {
                    assert!(
                        frames.is_empty(),
                        "Ping in {before:?} answered with {frames:?}"
                    );
                }
                self.log.push(WsEv::Ping(Bytes(p)));
            }
            Got::Pong(p) => {
                assert_eq!(state, before, "state changed by a Pong");
                assert!(p.len() <= 125);
                assert!(frames.is_empty(), "Pong answered with {frames:?}");
                self.log.push(WsEv::Pong(Bytes(p)));
            }
            Got::Close(code, reason) => {
                assert!(code.is_none_or(is_valid_close_code), "close code {code:?}");
                assert!(code.is_some() || reason.is_empty());
                assert!(reason.len() <= 123);
                assert_eq!(state, State::Closed, "after a Close in {before:?}, drained");
                assert_eq!(
                    self.conn.close_cause(),
                    Some(CloseCause::Handshake { code })
                );
                if before == State::Open {
                    assert!(
                        frames.len() == 1 && frames[0].close().0 == code,
                        "Close {code:?} echoed with {frames:?}"
                    );
                } else {
                    assert!(frames.is_empty(), "a second Close: {frames:?}");
                }
                // The server closes the transport at once, the client waits
                // for it (no time passes here).
                assert_eq!(
                    self.conn.should_close_transport(),
                    self.conn.role() == Role::Server,
                    "should_close_transport() after the closing handshake"
                );
                self.log.push(WsEv::Close(code, reason));
            }
        }
        self.buf.drain(..consumed);
        true
    }
}
