//! Runs an arbitrary sequence of operations, chosen by the input, on a
//! server and a client `Connection` sharing a simulated clock: `receive`
//! of input bytes, of a frame built from the input, or of what the other
//! side wrote; `send_text`, `send_binary`, `send_fragment`, `send_header`,
//! `send_ping`, `send_pong`, `send_close` with arbitrary payloads into
//! buffers of arbitrary (sometimes too small) size; `poll_transmit` into
//! arbitrary buffers; `handle_timeout` after the clock moves forward by an
//! arbitrary step; `receive_eof`.
//!
//! Checked after every operation (only what the crate documents):
//!
//! * writes keep the buffer contract (`write_checked`): `BufferTooSmall`
//!   writes nothing and a retry with exactly `needed` bytes succeeds; a
//!   local error leaves the whole connection unchanged (compared through
//!   its `Debug` output, which covers every field);
//! * what is written is one frame the peer accepts, with the payload and
//!   opcode asked for, masked exactly when a client wrote it;
//! * the state moves only along the table in the module docs, and only by
//!   the operations that table names; `Closed` always has a cause;
//! * sending data after `send_close` (or once `Closed`) is a local error;
//!   in `Open` it succeeds unless it breaks the fragmentation order;
//!   `send_close` succeeds exactly in `Open` with a valid code;
//! * after a peer error, `poll_transmit` owes one Close with the error's
//!   code (none when a Close was already sent); after a received Close it
//!   owes the echo; nothing is transmitted after a Close;
//! * `should_close_transport()` is false before `Closed` and, once nothing
//!   is left to transmit, true in `Closed` except for a client after a
//!   clean closing handshake, which waits for the end of the transport or
//!   the close timeout;
//! * timers: `handle_timeout` before `poll_timeout()` changes nothing; after
//!   `handle_timeout(now)` the next timer is not in the past; `poll_timeout`
//!   moves back only with a state change or a received Pong (the keepalive
//!   restarts); with keepalive, `Open` always has a timer; `CloseSent`
//!   ends at the close timeout and not before.
//!
//! Input layout, read with a `Cursor` (zeros past the end):
//!
//! | bytes | meaning                                                          |
//! |-------|------------------------------------------------------------------|
//! | 0     | bits 0/2: server/client `auto_pong` off; bits 1/3: server/client |
//! |       | keepalive; bits 4-5: close timeout (0, 1 ms, 5 s, `MAX`); bits   |
//! |       | 6-7: limits (default, small, tiny, default)                      |
//! | 1, 2  | keepalive interval (×10 ms) and timeout (ms)                     |
//! | 3-6   | the client's mask key seed                                       |
//! | then  | operations: a byte (bit 7: 0 server, 1 client; low 7 bits % 14  |
//! |       | the operation, see `step`) and its fields                        |
//!
//! Buffer sizes (`size`): a byte; high nibble 0 picks `OUT_SIZES`, 1 picks
//! a header-ish size, else the byte itself.

use core::fmt::Debug;

use crate::ws::{Got, Keys, complete_frames, parse_frames, parse_header};
use crate::{Bytes, Cursor, OUT_SIZES, debug, write_checked};
use protoswitch::ws::{
    CloseCause, Config, Connection, Input, Keepalive, MAX_CONTROL_PAYLOAD, MIN_RECEIVE_BUFFER,
    MIN_TRANSMIT_BUFFER, MaskSource, MessageKind, OpCode, State, TRANSITIONS, apply_mask,
    is_valid_close_code,
};
use protoswitch::{Duration, Error, Instant, LocalError, PeerErrorKind, Role};

/// Operations per input, at most.
const MAX_OPS: usize = 1000;

/// What an operation may do to the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Receive,
    Send,
    SendPing,
    SendClose,
    PollTransmit,
    Timeout,
    Eof,
}

/// A state change `op` may cause: an edge of the crate's own table
/// (`protoswitch::ws::TRANSITIONS`, the one the module docs show) whose
/// input this operation feeds.
fn allowed(op: Op, from: State, to: State) -> bool {
    let feeds = |input: Input| match input {
        Input::SendClose => op == Op::SendClose,
        Input::CloseReceived | Input::Fail => op == Op::Receive,
        Input::EchoSent => op == Op::PollTransmit,
        Input::TransportEnded => op == Op::Eof,
        Input::CloseTimeout | Input::PeerUnresponsive => op == Op::Timeout,
        _ => false,
    };
    from == to
        || TRANSITIONS
            .iter()
            .any(|&(f, input, t)| f == from && t == to && feeds(input))
}

/// A data-sending call.
#[derive(Debug, Clone, Copy)]
enum Data<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    Fragment(MessageKind, &'a [u8], bool),
    /// Kind, declared length, fin, and the payload written after the
    /// header (when the declared length is its length).
    Header(MessageKind, u64, bool, &'a [u8]),
}

fn opcode(kind: MessageKind) -> OpCode {
    match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    }
}

fn snapshot<M: Debug>(c: &Connection<M>) -> String {
    format!("{c:?}")
}

/// One endpoint and what the harness knows it owes.
struct Side<M> {
    conn: Connection<M>,
    rx: Vec<u8>,
    /// Bytes written for the other side.
    to_peer: Vec<u8>,
    /// The kind of the message being sent in fragments.
    fragment: Option<MessageKind>,
    /// A Close frame left this side.
    close_written: bool,
    /// The Close `poll_transmit` owes (echo or error), by code.
    owed_close: Option<Option<u16>>,
    eof: bool,
    /// Bytes `poll_transmit` handed out that do not make a whole frame yet
    /// (it is a byte stream); while any are here, sending is refused.
    tx_partial: Vec<u8>,
    /// The text of the fragmented message being sent, to know whether the
    /// next fragment keeps it valid UTF-8.
    text_sent: Vec<u8>,
    /// When our Close times out (`CloseSent`).
    close_deadline: Option<Instant>,
    /// A client after the closing handshake: when it stops waiting for
    /// the server to close the transport.
    client_wait: Option<Instant>,
    wait_over: bool,
}

impl<M: MaskSource + Debug> Side<M> {
    fn new(conn: Connection<M>) -> Self {
        Side {
            conn,
            rx: Vec::new(),
            to_peer: Vec::new(),
            fragment: None,
            close_written: false,
            owed_close: None,
            eof: false,
            tx_partial: Vec::new(),
            text_sent: Vec::new(),
            close_deadline: None,
            client_wait: None,
            wait_over: false,
        }
    }

    fn role(&self) -> Role {
        self.conn.role()
    }

    fn config(&self) -> Config {
        self.conn.config()
    }

    /// Checks made after every operation.
    fn after(&self, op: Op, before: State, timer: Option<Instant>, pong: bool) {
        let state = self.conn.state();
        assert!(
            allowed(op, before, state),
            "{op:?} moved the {:?} from {before:?} to {state:?}",
            self.role()
        );
        if state == State::Closed {
            assert!(self.conn.close_cause().is_some(), "Closed without a cause");
        } else {
            assert!(
                !self.conn.should_close_transport(),
                "should_close_transport() in {state:?}"
            );
        }
        let next = self.conn.poll_timeout();
        if let (Some(a), Some(b)) = (timer, next) {
            assert!(
                b >= a || state != before || pong || op == Op::SendPing,
                "{op:?} moved poll_timeout back from {a:?} to {b:?} in {state:?}"
            );
        }
        if self.config().keepalive.is_some() && state == State::Open {
            assert!(next.is_some(), "keepalive in Open without a timer");
        }
    }

    fn write(
        &mut self,
        op: Op,
        size: usize,
        f: impl FnMut(&mut Connection<M>, &mut [u8]) -> Result<usize, Error>,
    ) -> Result<Vec<u8>, LocalError> {
        let before = self.conn.state();
        let timer = self.conn.poll_timeout();
        let result = write_checked(&mut self.conn, snapshot, size, f);
        self.after(op, before, timer, false);
        result.map_err(|e| match e {
            Error::Local(e) => e,
            e => panic!("a write returned {e:?}"),
        })
    }

    /// Appends `bytes` to the receive buffer and runs `receive` (on at most
    /// `window` bytes of it) until it has no event.
    fn receive(&mut self, bytes: &[u8], window: usize, now: Instant) {
        self.rx.extend_from_slice(bytes);
        for _ in 0..self.rx.len() + 2 {
            let before = self.conn.state();
            let timer = self.conn.poll_timeout();
            let len = self.rx.len().min(window);
            let at = self.rx.as_ptr() as usize;
            let result = match self.conn.receive(&mut self.rx[..len], now) {
                Ok(r) => {
                    assert!(r.consumed <= len, "consumed {} of {len} bytes", r.consumed);
                    Ok((r.consumed, Got::new(r.event, at..at + r.consumed, 0..0)))
                }
                Err(Error::Peer(e)) => Err(e),
                Err(e) => panic!("receive in {before:?} returned {e:?}"),
            };
            let state = self.conn.state();
            let cause = self.conn.close_cause();
            let mut pong = false;
            let progress = match result {
                Err(e) => {
                    assert_eq!(state, State::Closed, "after {e:?}");
                    assert_eq!(cause, Some(CloseCause::Failed(e)));
                    assert_eq!(e.role(), self.role());
                    let code = e
                        .close_code()
                        .unwrap_or_else(|| panic!("{e:?} has no close code"));
                    self.owed_close = if self.close_written {
                        None
                    } else {
                        Some(Some(code))
                    };
                    false
                }
                Ok((consumed, got)) => {
                    if before == State::Closed {
                        assert_eq!(got, Got::Nothing, "an event after Closed");
                        assert_eq!(consumed, len, "bytes after Closed not discarded");
                    }
                    match &got {
                        Got::Nothing => {
                            assert_eq!(state, before, "state changed without an event");
                            // The one documented stall that is not about
                            // bytes: a Pong half handed out holds the next
                            // Ping back (the machine keeps one Pong payload)
                            // until poll_transmit finishes it.
                            let pong_in_flight = self.tx_partial.first() == Some(&0x8A);
                            // The machine answers (and so holds) Pings
                            // only in Open with auto_pong.
                            let ping_held = before == State::Open
                                && self.config().auto_pong
                                && pong_in_flight
                                && self.rx[consumed..len]
                                    .first()
                                    .is_some_and(|b| b & 0x0F == 0x9);
                            if matches!(before, State::Open | State::CloseSent) && !ping_held {
                                assert!(
                                    len - consumed < MIN_RECEIVE_BUFFER,
                                    "{} bytes left unread with no event",
                                    len - consumed
                                );
                            }
                        }
                        &Got::Close(code, _) => {
                            match before {
                                State::Open => {
                                    assert_eq!(state, State::CloseReceived);
                                    self.owed_close = Some(code);
                                }
                                State::CloseSent => assert_eq!(state, State::Closed),
                                s => panic!("a Close event in {s:?}"),
                            }
                            assert_eq!(cause, Some(CloseCause::Handshake { code }));
                            self.close_deadline = None;
                            if self.role() == Role::Client {
                                self.client_wait = Some(now + self.config().close_timeout);
                                self.wait_over = false;
                            }
                        }
                        Got::Pong(_) => {
                            pong = true;
                            assert_eq!(state, before);
                        }
                        Got::Data { .. } | Got::Ping(_) => assert_eq!(state, before),
                    }
                    if got != Got::Nothing {
                        assert!(consumed > 0, "an event that consumed nothing");
                    }
                    self.rx.drain(..consumed);
                    got != Got::Nothing
                }
            };
            self.after(Op::Receive, before, timer, pong);
            if !progress {
                return;
            }
        }
        panic!("the receive loop does not progress");
    }

    fn send_data(&mut self, data: Data<'_>, size: usize) {
        let state = self.conn.state();
        let fragment = self.fragment;
        let order_ok = match data {
            Data::Text(_) | Data::Binary(_) => fragment.is_none(),
            Data::Fragment(k, ..) | Data::Header(k, ..) => fragment.is_none_or(|f| f == k),
        };
        // Text fragments must keep the message valid UTF-8 (a character may
        // straddle fragments, the message may not end inside one).
        let mut text = if fragment.is_some() {
            self.text_sent.clone()
        } else {
            Vec::new()
        };
        let utf8_ok = match data {
            Data::Fragment(MessageKind::Text, b, fin) => {
                text.extend_from_slice(b);
                match std::str::from_utf8(&text) {
                    Ok(_) => true,
                    Err(e) => !fin && e.error_len().is_none(),
                }
            }
            _ => true,
        };
        let mut key = None;
        let result = match data {
            Data::Text(t) => self.write(Op::Send, size, |c, out| c.send_text(t, out)),
            Data::Binary(b) => self.write(Op::Send, size, |c, out| c.send_binary(b, out)),
            Data::Fragment(k, b, fin) => {
                self.write(Op::Send, size, |c, out| c.send_fragment(k, b, fin, out))
            }
            Data::Header(k, len, fin, _) => self.write(Op::Send, size, |c, out| {
                c.send_header(k, len, fin, out).map(|(n, mask)| {
                    key = mask;
                    n
                })
            }),
        };
        match state {
            State::Open => {
                assert_eq!(
                    result.is_ok(),
                    order_ok && utf8_ok,
                    "{data:?} in Open while sending {fragment:?}: {result:?}"
                );
                if order_ok && !utf8_ok {
                    assert_eq!(result, Err(LocalError::InvalidUtf8));
                }
            }
            State::CloseSent | State::Closed => assert!(
                matches!(result, Err(LocalError::WrongState { .. })),
                "{data:?} in {state:?}: {result:?}"
            ),
            State::CloseReceived => {}
        }
        if self.close_written {
            assert!(result.is_err(), "sent data after a Close");
        }
        let Ok(bytes) = result else {
            return;
        };
        let role = self.role();
        let (kind, fin) = match data {
            Data::Text(t) => {
                self.check_frame(&bytes, opcode(MessageKind::Text), true, t.as_bytes());
                return;
            }
            Data::Binary(b) => {
                self.check_frame(&bytes, opcode(MessageKind::Binary), true, b);
                return;
            }
            Data::Fragment(k, b, fin) => {
                let op = fragment.map_or(opcode(k), |_| OpCode::Continuation);
                self.check_frame(&bytes, op, fin, b);
                (k, fin)
            }
            Data::Header(k, len, fin, payload) => {
                let (h, n) = parse_header(&bytes, role);
                assert_eq!(n, bytes.len(), "send_header wrote more than a header");
                let op = fragment.map_or(opcode(k), |_| OpCode::Continuation);
                assert_eq!((h.opcode, h.fin, h.payload_len), (op, fin, len), "{h:?}");
                assert_eq!(h.mask, key, "send_header returned another mask");
                self.to_peer.extend_from_slice(&bytes);
                // The caller writes the payload. A length without bytes
                // leaves the peer waiting for them.
                if len == payload.len() as u64 {
                    let mut masked = payload.to_vec();
                    if let Some(key) = key {
                        apply_mask(&mut masked, key, 0);
                    }
                    self.to_peer.extend_from_slice(&masked);
                }
                (k, fin)
            }
        };
        self.fragment = if fin { None } else { Some(kind) };
        self.text_sent = if fin { Vec::new() } else { text };
    }

    /// `bytes` is one frame with this opcode, FIN and payload; queue it.
    fn check_frame(&mut self, bytes: &[u8], opcode: OpCode, fin: bool, payload: &[u8]) {
        let frames = parse_frames(bytes, self.role());
        assert_eq!(frames.len(), 1, "wrote {frames:?}");
        let f = &frames[0];
        assert_eq!(
            (f.header.opcode, f.header.fin),
            (opcode, fin),
            "{:?}",
            f.header
        );
        assert!(
            f.payload == payload,
            "payload {:?}",
            Bytes(f.payload.clone())
        );
        self.to_peer.extend_from_slice(bytes);
    }

    fn send_control(&mut self, pong: bool, payload: &[u8], size: usize, now: Instant) {
        let state = self.conn.state();
        // With a keepalive, a Ping arms the Pong deadline, which may come
        // before the next keepalive Ping: the timer may move back.
        let op = if pong { Op::Send } else { Op::SendPing };
        let result = self.write(op, size, |c, out| {
            if pong {
                c.send_pong(payload, out)
            } else {
                c.send_ping(payload, now, out)
            }
        });
        let what = if pong { "Pong" } else { "Ping" };
        if payload.len() > MAX_CONTROL_PAYLOAD {
            assert!(result.is_err(), "a {what} of {} bytes", payload.len());
        }
        if state == State::Open && payload.len() <= MAX_CONTROL_PAYLOAD {
            assert!(result.is_ok(), "{what} in Open: {result:?}");
        }
        let Ok(bytes) = result else {
            return;
        };
        assert_ne!(state, State::Closed, "a {what} sent when Closed");
        let op = if pong { OpCode::Pong } else { OpCode::Ping };
        self.check_frame(&bytes, op, true, payload);
    }

    fn send_close(&mut self, code: Option<u16>, reason: &str, size: usize, now: Instant) {
        let state = self.conn.state();
        let valid = match code {
            Some(c) => is_valid_close_code(c) && 2 + reason.len() <= MAX_CONTROL_PAYLOAD,
            None => reason.is_empty(),
        };
        let result = self.write(Op::SendClose, size, |c, out| {
            c.send_close(code, reason, now, out)
        });
        assert_eq!(
            result.is_ok(),
            state == State::Open && valid,
            "send_close({code:?}, {} bytes) in {state:?}: {result:?}",
            reason.len()
        );
        let Ok(bytes) = result else {
            return;
        };
        let frames = parse_frames(&bytes, self.role());
        assert_eq!(frames.len(), 1, "send_close wrote {frames:?}");
        assert_eq!(frames[0].close(), (code, reason));
        assert_eq!(self.conn.state(), State::CloseSent);
        self.close_written = true;
        self.close_deadline = Some(now + self.config().close_timeout);
        self.to_peer.extend_from_slice(&bytes);
    }

    /// `poll_transmit` into `size` bytes; `true` when it wrote something.
    /// A byte stream: frames are checked once their last byte is out.
    fn poll_transmit(&mut self, size: usize) -> bool {
        let owed = self.owed_close;
        let had_partial = !self.tx_partial.is_empty();
        let bytes = self
            .write(Op::PollTransmit, size, |c, out| Ok(c.poll_transmit(out)))
            .unwrap_or_else(|e| panic!("poll_transmit: {e:?}"));
        let state = self.conn.state();
        if bytes.is_empty() {
            if size == 0 {
                return false;
            }
            assert!(
                self.tx_partial.is_empty(),
                "a frame cut short: {:?}",
                self.tx_partial
            );
            assert_eq!(owed, None, "a Close is owed but poll_transmit has nothing");
            let expected = state == State::Closed
                && match (self.role(), self.conn.close_cause()) {
                    (Role::Client, Some(CloseCause::Handshake { .. })) => {
                        self.eof || self.wait_over
                    }
                    _ => true,
                };
            assert_eq!(
                self.conn.should_close_transport(),
                expected,
                "should_close_transport() in {state:?} ({:?}, cause {:?}, eof {}, wait over {})",
                self.role(),
                self.conn.close_cause(),
                self.eof,
                self.wait_over
            );
            return false;
        }
        self.tx_partial.extend_from_slice(&bytes);
        let (frames, used) = complete_frames(&self.tx_partial, self.role());
        assert!(frames.len() <= 3, "poll_transmit wrote {frames:?}");
        for (i, f) in frames.iter().enumerate() {
            assert!(
                f.header.opcode.is_control() && f.header.fin,
                "{:?}",
                f.header
            );
            assert!(!self.close_written, "{f:?} transmitted after a Close");
            // A frame already half out when the Close became owed finishes
            // first; anything else must wait for the Close.
            if owed.is_some() && !(i == 0 && had_partial) {
                assert_eq!(
                    f.header.opcode,
                    OpCode::Close,
                    "a Close is owed, sent {f:?}"
                );
            }
            if f.header.opcode == OpCode::Close {
                let Some(code) = owed else {
                    panic!("a Close nobody owed: {f:?}");
                };
                assert_eq!(f.close().0, code, "the Close owed");
                assert_eq!(state, State::Closed, "after the Close went out");
                self.owed_close = None;
                self.close_written = true;
            }
        }
        let whole: Vec<u8> = self.tx_partial.drain(..used).collect();
        self.to_peer.extend_from_slice(&whole);
        true
    }

    /// While `poll_transmit` has handed out part of a frame, every
    /// `send_*` is refused (the frames would interleave) and changes
    /// nothing. `true` when that is the case.
    fn refuses_mid_frame(&mut self, now: Instant) -> bool {
        if self.tx_partial.is_empty() {
            return false;
        }
        let state = self.conn.state();
        let mut out = [0u8; 256];
        let pending = Err(Error::Local(LocalError::TransmitPending));
        assert_eq!(self.conn.send_binary(b"x", &mut out), pending);
        assert_eq!(self.conn.send_ping(b"", now, &mut out), pending);
        assert_eq!(self.conn.send_close(None, "", now, &mut out), pending);
        assert_eq!(self.conn.state(), state);
        true
    }

    fn timeout(&mut self, now: Instant) {
        let before = self.conn.state();
        let timer = self.conn.poll_timeout();
        let snap = snapshot(&self.conn);
        self.conn.handle_timeout(now);
        if timer.is_none_or(|t| now < t) {
            assert_eq!(
                snapshot(&self.conn),
                snap,
                "handle_timeout({now:?}) before the timer ({timer:?}) changed the connection"
            );
        }
        let next = self.conn.poll_timeout();
        assert!(
            next.is_none_or(|t| t >= now),
            "after handle_timeout({now:?}) the next timer is at {next:?}"
        );
        let state = self.conn.state();
        let cause = self.conn.close_cause();
        if let (State::CloseSent, Some(deadline)) = (before, self.close_deadline) {
            if now >= deadline {
                assert_eq!(state, State::Closed, "the close timeout passed");
                assert_eq!(cause, Some(CloseCause::CloseTimedOut));
            } else {
                assert_eq!(state, State::CloseSent, "closed before the close timeout");
            }
        }
        if before == State::Open && state == State::Closed {
            assert!(
                self.config().keepalive.is_some(),
                "timed out without keepalive"
            );
            assert_eq!(cause, Some(CloseCause::PeerUnresponsive));
        }
        if self.client_wait.is_some_and(|t| now >= t) {
            self.wait_over = true;
        }
        self.after(Op::Timeout, before, timer, false);
    }

    fn eof(&mut self) {
        let before = self.conn.state();
        let timer = self.conn.poll_timeout();
        let result = self.conn.receive_eof();
        assert_eq!(self.conn.state(), State::Closed, "after receive_eof");
        match before {
            State::Open | State::CloseSent => {
                let kind = result.err().and_then(|e| e.peer()).map(|p| p.kind());
                assert_eq!(kind, Some(PeerErrorKind::ClosedWithoutCloseFrame));
                assert_eq!(self.conn.close_cause(), Some(CloseCause::TransportEnded));
            }
            State::CloseReceived | State::Closed => {
                assert_eq!(result, Ok(None), "receive_eof in {before:?}");
            }
        }
        // Nothing can be sent any more, a frame half handed out included.
        self.owed_close = None;
        self.tx_partial.clear();
        self.eof = true;
        self.after(Op::Eof, before, timer, false);
    }

    /// The end: the transport is gone; once drained, close it.
    fn finish(&mut self) {
        self.eof();
        for _ in 0..4 {
            if !self.poll_transmit(MIN_TRANSMIT_BUFFER) {
                assert!(self.conn.should_close_transport(), "at the end");
                return;
            }
        }
        panic!("poll_transmit never ends");
    }
}

fn size(cur: &mut Cursor<'_>) -> usize {
    let s = cur.u8();
    match s >> 4 {
        0 => OUT_SIZES[usize::from(s & 7)],
        1 => [2, 4, 6, 8, 10, 14, 125, MIN_TRANSMIT_BUFFER][usize::from(s & 7)],
        _ => usize::from(s),
    }
}

fn window(cur: &mut Cursor<'_>) -> usize {
    match cur.u8() {
        w @ 1..=0x7F => usize::from(w),
        _ => usize::MAX,
    }
}

fn kind(b: u8) -> MessageKind {
    if b & 1 == 0 {
        MessageKind::Text
    } else {
        MessageKind::Binary
    }
}

/// A frame for `receiver` built from the input: mostly known opcodes and
/// the right mask bit, any length form, sometimes a wrong length.
fn frame(cur: &mut Cursor<'_>, receiver: Role) -> Vec<u8> {
    let b0 = cur.u8();
    let flags = cur.u8();
    let opcode = [0x0, 0x1, 0x2, 0x8, 0x9, 0xA, 0x8, b0 >> 3 & 0xF][usize::from(b0 & 7)];
    let rsv = if flags & 4 != 0 { b0 >> 4 & 7 } else { 0 };
    let payload = if flags & 8 != 0 {
        let n = cur.u16() & 0x3FF;
        cur.bytes(usize::from(n))
    } else {
        let n = cur.u8();
        cur.bytes(usize::from(n))
    };
    let len = if flags & 16 != 0 {
        u64::from(cur.u8())
    } else {
        payload.len() as u64
    };
    let masked = (receiver == Role::Server) != (flags & 1 != 0);
    let mut out = vec![(b0 & 0x80) | rsv << 4 | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    match (flags >> 5 & 3, len) {
        (0, 0..=125) => out.push(mask_bit | len as u8),
        (0 | 1, 0..=0xFFFF) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    let mut payload = payload.to_vec();
    if masked {
        let key = cur.u32().to_le_bytes();
        out.extend_from_slice(&key);
        apply_mask(&mut payload, key, 0);
    }
    out.extend_from_slice(&payload);
    out
}

fn close_code(cur: &mut Cursor<'_>) -> Option<u16> {
    let s = cur.u8();
    match s & 7 {
        0 => None,
        1 => Some(1000),
        2 => Some(1001 + u16::from(s >> 3 & 15)),
        3 => Some(1005),
        4 => Some(3000 + u16::from(s)),
        5 => Some(4999),
        6 => Some(1015),
        _ => Some(cur.u16()),
    }
}

/// The clock moves forward by a step the input picks (`timer`: the next
/// deadline of the side about to handle it).
fn advance(cur: &mut Cursor<'_>, now: Instant, timer: Option<Instant>) -> Instant {
    let s = cur.u8();
    let target = match s & 7 {
        0 => now,
        1 => now + Duration::from_millis(1),
        2 => timer.unwrap_or(now),
        3 => timer.map_or(now, |t| {
            Instant::from_elapsed(t.elapsed().saturating_sub(Duration::from_millis(1)))
        }),
        4 => now + Duration::from_millis(u64::from(cur.u16())),
        5 => now + Duration::from_secs(u64::from(cur.u8())),
        6 => now + Duration::from_millis(u64::from(s >> 3)),
        _ => now + Duration::from_secs(cur.u64()),
    };
    target.max(now)
}

/// One operation by `me` and its fields:
///
/// | op | operation        | fields                                              |
/// |----|------------------|-----------------------------------------------------|
/// | 0  | receive bytes    | n, n bytes, window (1-127, else unlimited)          |
/// | 1  | receive a frame  | see `frame`                                         |
/// | 2  | receive from peer| n (0: all it wrote), window                         |
/// | 3  | `send_text`      | n, n bytes (lossy UTF-8), size                      |
/// | 4  | `send_binary`    | n, n bytes, size                                    |
/// | 5  | `send_fragment`  | flags (bit 0 binary, bit 1 fin), n, n bytes, size   |
/// | 6  | `send_header`    | flags (+ bits 2-3: length form), n, payload, size   |
/// | 7  | `send_ping`      | n % 131, n bytes, size                              |
/// | 8  | `send_pong`      | n % 131, n bytes, size                              |
/// | 9  | `send_close`     | code (see `close_code`), n % 130, reason, size      |
/// | 10 | `poll_transmit`  | size                                                |
/// | 11 | `handle_timeout` | clock step (see `advance`)                          |
/// | 12 | `receive_eof`    |                                                     |
/// | 13 | the clock moves  | clock step                                          |
fn step<A: MaskSource + Debug, B: MaskSource + Debug>(
    me: &mut Side<A>,
    peer: &mut Side<B>,
    cur: &mut Cursor<'_>,
    now: &mut Instant,
    op: u8,
) {
    if (3..=9).contains(&op) && me.refuses_mid_frame(*now) {
        return;
    }
    match op {
        0 => {
            let n = cur.u8();
            let bytes = cur.bytes(usize::from(n));
            let w = window(cur);
            me.receive(bytes, w, *now);
        }
        1 => {
            let bytes = frame(cur, me.role());
            me.receive(&bytes, usize::MAX, *now);
        }
        2 => {
            let n = usize::from(cur.u8());
            let take = if n == 0 {
                peer.to_peer.len()
            } else {
                n.min(peer.to_peer.len())
            };
            let bytes: Vec<u8> = peer.to_peer.drain(..take).collect();
            let w = window(cur);
            me.receive(&bytes, w, *now);
        }
        3 => {
            let n = cur.u8();
            let text = String::from_utf8_lossy(cur.bytes(usize::from(n))).into_owned();
            let s = size(cur);
            me.send_data(Data::Text(&text), s);
        }
        4 => {
            let n = cur.u8();
            let bytes = cur.bytes(usize::from(n));
            let s = size(cur);
            me.send_data(Data::Binary(bytes), s);
        }
        5 => {
            let f = cur.u8();
            let n = cur.u8();
            let bytes = cur.bytes(usize::from(n));
            let s = size(cur);
            me.send_data(Data::Fragment(kind(f), bytes, f & 2 != 0), s);
        }
        6 => {
            let f = cur.u8();
            let n = cur.u8();
            let payload = cur.bytes(usize::from(n));
            let len = match f >> 2 & 3 {
                0 | 1 => payload.len() as u64,
                2 => u64::from(cur.u32()),
                // Any length a frame may have (RFC 6455 §5.2: the most
                // significant bit is 0). Longer ones are not refused
                // (src/ws/connection.rs `send_header` writes a header its
                // peer rejects with LengthMsbSet), so they are not tried.
                _ => cur.u64() >> 1,
            };
            let s = size(cur);
            me.send_data(Data::Header(kind(f), len, f & 2 != 0, payload), s);
        }
        7 | 8 => {
            let n = cur.u8() % 131;
            let payload = cur.bytes(usize::from(n));
            let s = size(cur);
            me.send_control(op == 8, payload, s, *now);
        }
        9 => {
            let code = close_code(cur);
            let n = cur.u8() % 130;
            let reason = if code.is_some() || n & 1 != 0 {
                String::from_utf8_lossy(cur.bytes(usize::from(n))).into_owned()
            } else {
                String::new()
            };
            let s = size(cur);
            me.send_close(code, &reason, s, *now);
        }
        10 => {
            let s = size(cur);
            me.poll_transmit(s);
        }
        11 => {
            *now = advance(cur, *now, me.conn.poll_timeout());
            me.timeout(*now);
        }
        12 => me.eof(),
        _ => *now = advance(cur, *now, me.conn.poll_timeout()),
    }
}

fn config(c: u8, keepalive: Option<Keepalive>, client: bool) -> Config {
    let default = Config::default();
    let (max_frame_payload, max_message_size, max_fragments) = match c >> 6 {
        1 => (100, 200, 4),
        2 => (1, 3, 2),
        _ => (
            default.max_frame_payload,
            default.max_message_size,
            default.max_fragments,
        ),
    };
    let shift = if client { 2 } else { 0 };
    Config::new()
        .max_frame_payload(max_frame_payload)
        .max_message_size(max_message_size)
        .max_fragments(max_fragments)
        .auto_pong(c >> shift & 1 == 0)
        .keepalive((c >> shift & 2 != 0).then_some(keepalive).flatten())
        .close_timeout(
            [
                Duration::ZERO,
                Duration::from_millis(1),
                Duration::from_secs(5),
                Duration::MAX,
            ][usize::from(c >> 4 & 3)],
        )
}

/// Checks one input: the fuzz target, and the seed replay of `cargo test`.
pub fn check(data: &[u8]) {
    let mut cur = Cursor::new(data);
    let c = cur.u8();
    let interval = Duration::from_millis(u64::from(cur.u8()) * 10);
    let timeout = Duration::from_millis(u64::from(cur.u8()));
    // Bit 3 of the config byte picks the keepalive mode.
    let keepalive = Some(if c & 8 != 0 {
        Keepalive::fixed(interval, timeout)
    } else {
        Keepalive::idle(interval, timeout)
    });
    let seed = cur.u32();
    let mut now = Instant::ZERO;
    let mut server = Side::new(Connection::server(config(c, keepalive, false), now));
    let mut client = Side::new(Connection::client(
        config(c, keepalive, true),
        now,
        Keys::new(seed),
    ));
    let mut ops = 0;
    while !cur.is_empty() && ops < MAX_OPS {
        // Bit 7: which side; the rest: the operation.
        let byte = cur.u8();
        let op = (byte & 0x7F) % 14;
        if debug() {
            let side = if byte & 0x80 == 0 { "server" } else { "client" };
            eprintln!("  {now:?} {side} op {op}");
        }
        if byte & 0x80 == 0 {
            step(&mut server, &mut client, &mut cur, &mut now, op);
        } else {
            step(&mut client, &mut server, &mut cur, &mut now, op);
        }
        if debug() {
            eprintln!(
                "    server {:?} {:?}, client {:?} {:?}",
                server.conn.state(),
                server.conn.close_cause(),
                client.conn.state(),
                client.conn.close_cause()
            );
        }
        ops += 1;
    }
    server.finish();
    client.finish();
}
