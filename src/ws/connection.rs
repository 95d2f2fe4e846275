//! The WebSocket connection after the switch (RFC 6455 §5–§8).
//!
//! # Transition table
//!
//! Every state change is an edge of the [`TRANSITIONS`] array; this table
//! is the same list (a test compares them):
//!
//! | from                                  | input                          | to              |
//! |---------------------------------------|--------------------------------|-----------------|
//! | `Open`                                | `send_close`                   | `CloseSent`     |
//! | `Open`                                | Close received                 | `CloseReceived` |
//! | `CloseSent`                           | Close received                 | `Closed`        |
//! | `CloseReceived`                       | echo written by `poll_transmit`| `Closed`        |
//! | `Open`, `CloseSent`, `CloseReceived`  | peer error (Close queued)      | `Closed`        |
//! | `Open`, `CloseSent`, `CloseReceived`  | transport ended                | `Closed`        |
//! | `CloseSent`                           | close timeout                  | `Closed`        |
//! | `Open`                                | keepalive: no Pong in time     | `Closed`        |
//!
//! In `Closed`, [`Connection::should_close_transport`] says when to close
//! the TCP connection: the server at once (RFC 6455 §7.1.1), the client once
//! the server closed it or the close timeout passed.
//!
//! An input without an edge in the current state is ignored where the
//! protocol makes it a no-op (the transport ending, or a timeout firing,
//! after `Closed`); for a caller's operation it is a
//! [`LocalError::WrongState`].
//!
//! State outside the table: whether our Close was written (`close_sent`),
//! which with the close deadline decides
//! [`Connection::should_close_transport`]; the fragmentation of the
//! message being received and of the one being sent; the control frames
//! owed (Pong, Close echo, keepalive Ping); the close and keepalive
//! deadlines; with permessage-deflate, the compression state.

use super::close::check_close;
#[cfg(feature = "deflate")]
#[cfg(feature = "deflate")]
use super::compress;
use super::decode::{ChunkFlags, Decoder, Step, parse_close};
#[cfg(feature = "deflate")]
use super::deflate::{Deflate, Inflated};
use super::frame::{FrameHeader, OpCode};
use super::mask::apply_mask;
use super::types::{
    CloseCause, Config, DataChunk, Event, Keepalive, KeepaliveMode, MAX_CONTROL_PAYLOAD,
    MaskSource, MessageKind, NoMask,
};
use super::utf8::Utf8Validator;
use crate::Received;
use crate::error::{Error, LocalError, PeerError, PeerErrorKind, Role};
use crate::table;
use crate::time::Instant;
use crate::upgrade::{ClientHandshake, ProtocolKind, ServerHandshake};
use core::time::Duration;

/// Where the connection is. See the module docs for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Data flows both ways.
    Open,
    /// We sent Close and wait for the peer's.
    CloseSent,
    /// The peer sent Close; our echo waits in `poll_transmit`.
    CloseReceived,
    /// The closing handshake is over (or the connection failed).
    Closed,
}

impl State {
    /// The state's name.
    pub const fn name(self) -> &'static str {
        match self {
            State::Open => "Open",
            State::CloseSent => "CloseSent",
            State::CloseReceived => "CloseReceived",
            State::Closed => "Closed",
        }
    }
}

/// What drives the connection from one state to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Input {
    /// The application calls `send_close`.
    SendClose,
    /// The peer's Close arrived.
    CloseReceived,
    /// `poll_transmit` handed out the last byte of our Close echo.
    EchoSent,
    /// The peer broke a rule; a Close with its code is queued.
    Fail,
    /// The transport ended (`receive_eof`).
    TransportEnded,
    /// The peer's Close did not come in time.
    CloseTimeout,
    /// Keepalive: no Pong in time.
    PeerUnresponsive,
}

impl Input {
    /// How the module docs' table names the input.
    pub const fn describe(self) -> &'static str {
        match self {
            Input::SendClose => "`send_close`",
            Input::CloseReceived => "Close received",
            Input::EchoSent => "echo written by `poll_transmit`",
            Input::Fail => "peer error (Close queued)",
            Input::TransportEnded => "transport ended",
            Input::CloseTimeout => "close timeout",
            Input::PeerUnresponsive => "keepalive: no Pong in time",
        }
    }
}

/// The whole transition table of the connection, one edge a row: the same edges
/// as the module docs (a test compares them), for tools and fuzzers.
pub const TRANSITIONS: &[(State, Input, State)] = {
    use Input as I;
    use State as S;
    &[
        (S::Open, I::SendClose, S::CloseSent),
        (S::Open, I::CloseReceived, S::CloseReceived),
        (S::CloseSent, I::CloseReceived, S::Closed),
        (S::CloseReceived, I::EchoSent, S::Closed),
        (S::Open, I::Fail, S::Closed),
        (S::CloseSent, I::Fail, S::Closed),
        (S::CloseReceived, I::Fail, S::Closed),
        (S::Open, I::TransportEnded, S::Closed),
        (S::CloseSent, I::TransportEnded, S::Closed),
        (S::CloseReceived, I::TransportEnded, S::Closed),
        (S::CloseSent, I::CloseTimeout, S::Closed),
        (S::Open, I::PeerUnresponsive, S::Closed),
    ]
};

/// Largest control frame on the wire: a header with a mask key, and 125
/// bytes of payload.
const MAX_CONTROL_FRAME: usize = 6 + MAX_CONTROL_PAYLOAD;

/// The Close the machine owes. Its payload is derived when it is written,
/// so nothing but this tag is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwedClose {
    /// The echo of the peer's Close: its code (kept in `ending`), or an
    /// empty Close for an empty one (RFC 6455 §5.5.1).
    Echo,
    /// The Close that fails the connection: the code and reason of the
    /// error in `ending` (RFC 6455 §7.1.7).
    Failure,
}

/// A control frame `poll_transmit` hands out. Its bytes are derived again
/// at every call from this and from the machine's stable state (the Pong
/// slot, the failure), so no copy of the encoded frame is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    /// Answers a Ping with the payload in the Pong slot (`len` bytes).
    Pong { len: u8 },
    /// The keepalive's Ping (empty).
    Ping,
    /// A Close.
    Close(OwedClose),
}

/// The control frame being handed out: what it is, how much of it has been
/// handed out, and its mask key (a client's).
#[derive(Debug, Clone, Copy)]
struct InFlight {
    control: Control,
    sent: u8,
    key: [u8; 4],
}

/// The frame limits a connection keeps of its [`Config`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameLimits {
    pub(crate) max_frame_payload: u64,
    pub(crate) max_message_size: u64,
    pub(crate) max_fragments: u32,
    /// [`Config::whole_frames`].
    pub(crate) whole_frames: bool,
}

/// The rest of the [`Config`], with timers in milliseconds (rounded up,
/// saturating at `u32::MAX`, about 49 days), which keeps the machine small.
#[derive(Debug, Clone, Copy)]
struct Behaviour {
    close_timeout_ms: u32,
    keepalive_interval_ms: u32,
    keepalive_timeout_ms: u32,
    keepalive: Option<KeepaliveMode>,
    auto_pong: bool,
}

/// `d` in whole milliseconds, rounded up, saturating.
fn millis_up(d: Duration) -> u32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u32::try_from(ms).unwrap_or(u32::MAX)
}

fn millis(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

impl Behaviour {
    fn new(config: &Config) -> Self {
        let (interval, timeout, mode) = match config.keepalive {
            Some(k) => (k.interval, k.timeout, Some(k.mode)),
            None => (Duration::ZERO, Duration::ZERO, None),
        };
        Behaviour {
            close_timeout_ms: millis_up(config.close_timeout),
            keepalive_interval_ms: millis_up(interval),
            keepalive_timeout_ms: millis_up(timeout),
            keepalive: mode,
            auto_pong: config.auto_pong,
        }
    }
    fn close_timeout(&self) -> Duration {
        millis(self.close_timeout_ms)
    }
    fn keepalive(&self) -> Option<Keepalive> {
        self.keepalive.map(|mode| Keepalive {
            mode,
            interval: millis(self.keepalive_interval_ms),
            timeout: millis(self.keepalive_timeout_ms),
        })
    }
}

/// How the connection ended, once `Closed`: a [`CloseCause`] without the
/// role, which the machine knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Handshake(Option<u16>),
    Failed(PeerErrorKind),
    TransportEnded,
    CloseTimedOut,
    PeerUnresponsive,
}

/// A WebSocket connection: frames in, events out, replies out.
///
/// ```
/// use protoswitch::ws::{Connection, Config, Event};
/// use protoswitch::Instant;
///
/// let mut server = Connection::server(Config::default(), Instant::ZERO);
/// // RFC 6455 §5.7: a masked "Hello" from a client.
/// let mut buf = *b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
/// let got = server.receive(&mut buf, Instant::ZERO).unwrap();
/// assert_eq!(got.consumed, 11);
/// let Some(Event::Data(chunk)) = got.event else { panic!() };
/// assert_eq!(chunk.payload, b"Hello");
/// assert!(chunk.message_end);
///
/// let mut out = [0u8; 64];
/// let n = server.send_text("Hello", &mut out).unwrap();
/// assert_eq!(&out[..n], b"\x81\x05Hello");
/// ```
#[derive(Debug, Clone)]
pub struct Connection<M = NoMask> {
    // Who and how.
    role: Role,
    limits: FrameLimits,
    behaviour: Behaviour,
    // The closing machine: its table state and the state beside it.
    state: State,
    /// Our Close has been handed out (by `send_close` or `poll_transmit`).
    close_sent: bool,
    ending: Option<Ending>,
    // Receiving.
    decoder: Decoder,
    // Sending: the message being sent in fragments; the control frames
    // owed, and the one being handed out.
    masks: M,
    outgoing: Option<MessageKind>,
    /// UTF-8 state of the text message being sent in fragments.
    outgoing_utf8: Utf8Validator,
    /// The payload of the Pong owed (or being handed out): the latest
    /// Ping's, since answering the latest suffices (RFC 6455 §5.5.3).
    pong: [u8; MAX_CONTROL_PAYLOAD],
    /// A Pong is owed and not yet being handed out; its length.
    pong_owed: Option<u8>,
    ping_owed: bool,
    close_owed: Option<OwedClose>,
    in_flight: Option<InFlight>,
    // Timers, on the caller's clock.
    /// The keepalive counts from here: the last receive (`Idle`) or the
    /// last Ping (`Fixed`).
    keepalive_from: Instant,
    /// In `Open`, when the Pong is due; afterwards, when the close timeout
    /// fires.
    deadline: Option<Instant>,
    /// permessage-deflate, when negotiated (its state is allocated when
    /// first used).
    #[cfg(feature = "deflate")]
    deflate: Option<alloc::boxed::Box<Deflate>>,
}

impl Connection<NoMask> {
    /// The server side of a connection (frames from the client must be
    /// masked; ours are not).
    pub fn server(config: Config, now: Instant) -> Self {
        Connection::new(Role::Server, config, now, NoMask)
    }

    /// Turns a server handshake that switched to WebSocket into the
    /// connection, with the negotiated subprotocol. The bytes `receive`
    /// did not consume are the first frames: pass them to
    /// [`receive`](Self::receive).
    pub fn from_server_handshake(
        handshake: ServerHandshake,
        config: Config,
        now: Instant,
    ) -> Result<Self, Error> {
        check_websocket_switch(handshake.state().name(), handshake.switched_to())?;
        Ok(Connection::server(config, now))
    }
}

/// Checks that a handshake switched to WebSocket.
fn check_websocket_switch(
    state: &'static str,
    switched_to: Option<ProtocolKind>,
) -> Result<(), LocalError> {
    match switched_to {
        Some(ProtocolKind::WebSocket) => Ok(()),
        Some(_) => Err(LocalError::NotWebSocket),
        None => Err(LocalError::WrongState {
            operation: "turn the handshake into a WebSocket connection",
            state,
        }),
    }
}

impl<M: MaskSource> Connection<M> {
    /// The client side: every frame sent is masked with a key from `masks`.
    pub fn client(config: Config, now: Instant, masks: M) -> Self {
        Connection::new(Role::Client, config, now, masks)
    }

    /// Turns a client handshake that switched to WebSocket into the
    /// connection. The bytes after the 101 (`receive` did not consume them)
    /// are the first frames: pass them to [`receive`](Self::receive).
    pub fn from_client_handshake(
        handshake: ClientHandshake<'_>,
        config: Config,
        now: Instant,
        masks: M,
    ) -> Result<Self, Error> {
        check_websocket_switch(handshake.state().name(), handshake.switched_to())?;
        Ok(Connection::client(config, now, masks))
    }

    fn new(role: Role, config: Config, now: Instant, masks: M) -> Self {
        Connection {
            role,
            limits: FrameLimits {
                max_frame_payload: config.max_frame_payload,
                max_message_size: config.max_message_size,
                max_fragments: config.max_fragments,
                whole_frames: config.whole_frames,
            },
            behaviour: Behaviour::new(&config),
            state: State::Open,
            close_sent: false,
            ending: None,
            decoder: Decoder::new(),
            masks,
            outgoing: None,
            outgoing_utf8: Utf8Validator::new(),
            pong: [0; MAX_CONTROL_PAYLOAD],
            pong_owed: None,
            ping_owed: false,
            close_owed: None,
            in_flight: None,
            keepalive_from: now,
            deadline: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// Turns on permessage-deflate with the parameters the handshake
    /// agreed (a server's [`Agreed::params`](crate::upgrade::Agreed), a
    /// client's [`DeflateConfig::agreed`](crate::upgrade::DeflateConfig::agreed))
    /// and the local settings of `config` (the compression level). Call it
    /// before the first frame. Messages are then received with
    /// [`receive_into`](Self::receive_into); `send_text`, `send_binary`
    /// and `send_fragment` compress (unless the level is 0), and
    /// [`send_header`](Self::send_header) sends uncompressed frames.
    ///
    /// ```
    /// use protoswitch::upgrade::{DeflateConfig, DeflateParams};
    /// use protoswitch::ws::{Config, Connection, Event};
    /// use protoswitch::Instant;
    ///
    /// let mut server = Connection::server(Config::default(), Instant::ZERO)
    ///     .with_deflate(&DeflateConfig::new(), DeflateParams::new());
    /// // RFC 7692 §7.2.3.1: "Hello", compressed, from a client (mask 0).
    /// let mut frame = *b"\xc1\x87\0\0\0\0\xf2\x48\xcd\xc9\xc9\x07\x00";
    /// let mut text = [0u8; 64];
    /// let got = server.receive_into(&mut frame, &mut text, Instant::ZERO).unwrap();
    /// let Some(Event::Data(chunk)) = got.event else { panic!() };
    /// assert_eq!(chunk.payload, b"Hello");
    /// assert!(chunk.message_end);
    ///
    /// let mut out = [0u8; 128];
    /// let n = server.send_text("Hello", &mut out).unwrap();
    /// assert_eq!(&out[..n], b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00");
    /// ```
    #[cfg(feature = "deflate")]
    pub fn with_deflate(
        mut self,
        config: &crate::upgrade::DeflateConfig,
        params: crate::upgrade::DeflateParams,
    ) -> Self {
        self.deflate = Some(alloc::boxed::Box::new(Deflate::new(
            self.role, config, params,
        )));
        self
    }

    /// permessage-deflate is on.
    fn deflate_on(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        return false;
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether [`receive`](Self::receive) and
    /// [`receive_into`](Self::receive_into) look at their `now` on this
    /// connection: with an idle keepalive ([`KeepaliveMode::Idle`]: the
    /// bytes received are traffic) or as a client (a Close received starts
    /// the wait for the server to close the transport). When they do not,
    /// every `now` gives the same result, so a driver whose clock costs
    /// something to read may pass any instant, such as the last it read
    /// (the tokio adapter skips a clock read per message so).
    pub fn receive_reads_now(&self) -> bool {
        self.role == Role::Client || self.behaviour.keepalive == Some(KeepaliveMode::Idle)
    }

    /// The configuration, as the machine keeps it: timers with millisecond
    /// resolution (rounded up, at most `u32::MAX` ms, about 49 days).
    pub fn config(&self) -> Config {
        Config {
            max_frame_payload: self.limits.max_frame_payload,
            max_message_size: self.limits.max_message_size,
            max_fragments: self.limits.max_fragments,
            auto_pong: self.behaviour.auto_pong,
            close_timeout: self.behaviour.close_timeout(),
            keepalive: self.behaviour.keepalive(),
            whole_frames: self.limits.whole_frames,
        }
    }

    /// Why the connection closed, once `Closed`.
    pub fn close_cause(&self) -> Option<CloseCause> {
        Some(match self.ending? {
            Ending::Handshake(code) => CloseCause::Handshake { code },
            Ending::Failed(kind) => CloseCause::Failed(PeerError::new(kind, self.role)),
            Ending::TransportEnded => CloseCause::TransportEnded,
            Ending::CloseTimedOut => CloseCause::CloseTimedOut,
            Ending::PeerUnresponsive => CloseCause::PeerUnresponsive,
        })
    }

    /// The peer error that ended the connection, if one did: a broken rule
    /// ([`CloseCause::Failed`]) or the transport ending without a closing
    /// handshake ([`CloseCause::TransportEnded`]). The same name as on the
    /// handshake machines.
    pub fn error(&self) -> Option<PeerError> {
        match self.ending? {
            Ending::Failed(kind) => Some(PeerError::new(kind, self.role)),
            Ending::TransportEnded => Some(PeerError::new(
                PeerErrorKind::ClosedWithoutCloseFrame,
                self.role,
            )),
            Ending::Handshake(_) | Ending::CloseTimedOut | Ending::PeerUnresponsive => None,
        }
    }

    /// Follows the table's edge for `input`; without one, the state stays
    /// and the call is a wrong-state error (see [`crate::table`]).
    fn go(&mut self, input: Input, operation: &'static str) -> Result<(), LocalError> {
        match table::next(TRANSITIONS, self.state, input) {
            Some(next) => {
                self.state = next;
                Ok(())
            }
            None => Err(LocalError::WrongState {
                operation,
                state: self.state.name(),
            }),
        }
    }

    /// [`go`](Self::go) for inputs the machine derives from the peer's
    /// bytes or its own sending: every state that produces them has their
    /// edges, so a miss is a bug. A call on 32-bit targets, where its
    /// copies took flash (firmware .text 16,760 -> 16,684 B).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn follow(&mut self, input: Input) {
        let followed = self.go(input, "receive");
        debug_assert!(followed.is_ok(), "no edge for {input:?}: {followed:?}");
    }

    fn wrong_state(&self, operation: &'static str) -> Error {
        LocalError::WrongState {
            operation,
            state: self.state.name(),
        }
        .into()
    }

    /// `true` when the caller should close the transport now: in `Closed`,
    /// with nothing left in `poll_transmit`, and — for a client after a
    /// clean closing handshake — once the server closed it or the close
    /// timeout passed (RFC 6455 §7.1.1).
    pub fn should_close_transport(&self) -> bool {
        if self.state != State::Closed || self.has_pending() {
            return false;
        }
        match (self.role, self.ending) {
            // The client waits for the server to close the transport until
            // the deadline, which `receive_eof` clears.
            (Role::Client, Some(Ending::Handshake(_))) => self.deadline.is_none(),
            _ => true,
        }
    }

    /// Bytes still owed once `Closed`: the Close (echo or error), whole or
    /// half handed out. (No Pong or Ping is owed then: every way into
    /// `Closed` drops them.)
    fn has_pending(&self) -> bool {
        self.close_owed.is_some() || self.in_flight.is_some()
    }

    /// Drops the Pong and Ping owed (not one being handed out: a frame
    /// begun is finished).
    fn drop_owed_pings(&mut self) {
        self.pong_owed = None;
        self.ping_owed = false;
    }

    // ------------------------------------------------------------------
    // Receiving
    // ------------------------------------------------------------------

    /// Feeds received bytes; unmasks client frames in place. Consumes a
    /// prefix of `buf` and returns at most one event borrowing it;
    /// `event: None` means more bytes are needed. `buf` must be able to
    /// hold [`MIN_RECEIVE_BUFFER`](super::MIN_RECEIVE_BUFFER) bytes so any
    /// control frame fits (with [`Config::whole_frames`], also a whole data
    /// frame: `max_frame_payload` + [`MAX_HEADER_LEN`](super::MAX_HEADER_LEN)).
    /// Every call with bytes counts as traffic for an idle keepalive: after
    /// "need more", call it again once new bytes arrived (as the loop of the
    /// crate docs does), not with the same bytes on every wake-up, or a
    /// peer that sent part of a frame and went silent is never pinged.
    ///
    /// One case of `event: None` is not about bytes: while a Pong is half
    /// handed out by [`poll_transmit`](Self::poll_transmit) (its `out` was
    /// too small for the whole frame), the next Ping waits unconsumed,
    /// because the machine keeps one Pong payload. The loop of the
    /// [crate docs](crate) never sees it (it drains `poll_transmit` before
    /// reading again); a loop that does not should call `poll_transmit`,
    /// then `receive` again.
    ///
    /// On a peer error the connection is `Closed`, a Close frame with the
    /// error's code waits in `poll_transmit`, and then the transport should
    /// be closed.
    ///
    /// With permessage-deflate on, use [`receive_into`](Self::receive_into)
    /// (this returns [`LocalError::InflateNeedsOutput`]).
    // Inlined into each caller on 64-bit targets: once a program calls it
    // from two places, the compiler left it (and `receive_inner`) out of
    // line, and a call per frame cost 16-byte frames a quarter of their
    // time (compare: bin_16B 0.80x -> 0.98x the floor; issue 9).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    pub fn receive<'b>(
        &mut self,
        buf: &'b mut [u8],
        now: Instant,
    ) -> Result<Received<Event<'b>>, Error> {
        if self.deflate_on() {
            return Err(LocalError::InflateNeedsOutput.into());
        }
        self.receive_inner(buf, &mut [], now, crate::SHORTCUTS)
    }

    /// [`receive`](Self::receive), with room for inflated data: a
    /// compressed message (permessage-deflate) comes out inflated into
    /// `out`, in chunks of at most `out.len()` bytes, and its chunks have
    /// `frame_end` equal to `message_end` (its frames are not visible
    /// once inflated). Uncompressed messages and control frames borrow
    /// `buf` as with `receive`. A chunk may come with `consumed` 0: the
    /// inflater still held bytes (the previous chunk filled `out`, or the
    /// end of the message is being inflated); call again after every
    /// event, even with no new bytes, as the loop of the crate docs does
    /// (`event: None` is the only "needs more bytes"). The inflated size
    /// counts against [`Config::max_message_size`]: a message inflating
    /// beyond it fails the connection with 1009 after at most that many
    /// bytes plus one chunk. `out` must not be empty when permessage-deflate is on.
    /// Bytes of `out` past a chunk's payload may have been written to
    /// (the inflater copies in 8-byte pieces): they hold nothing.
    pub fn receive_into<'b>(
        &mut self,
        buf: &'b mut [u8],
        out: &'b mut [u8],
        now: Instant,
    ) -> Result<Received<Event<'b>>, Error> {
        if out.is_empty() && self.deflate_on() {
            return Err(Error::BufferTooSmall { needed: 1 });
        }
        self.receive_inner(buf, out, now, crate::SHORTCUTS)
    }

    // Without `deflate`, every step returns: the loop only goes on past
    // compressed bytes. Inlined as `receive` is (see there). `shortcut`:
    // [`crate::SHORTCUTS`], or `false` for the general path alone (tests).
    #[cfg_attr(not(feature = "deflate"), allow(clippy::never_loop))]
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn receive_inner<'b>(
        &mut self,
        buf: &'b mut [u8],
        out: &'b mut [u8],
        now: Instant,
        shortcut: bool,
    ) -> Result<Received<Event<'b>>, Error> {
        // The shortcuts ([`crate::SHORTCUTS`]), on a connection where
        // nothing but decoding is to be done: an empty `buf` answered at
        // once (the usual call after a chunk that used up a read), a
        // whole text or binary message in one frame at the start of `buf`
        // ([`Decoder::whole_message`]), or the next chunk of an
        // uncompressed data frame's payload ([`Decoder::payload_chunk`]);
        // anything else goes the general way below. What they return, and
        // the machine they leave, is what the general path gives for the
        // same bytes (a test compares them). Issue 9: the general path's
        // checks before the decoder (closed, keepalive, Pongs in flight,
        // the inflater, the deflate setting) were 8 % of a 1 KiB frame's
        // time, and a 64 KiB frame read 4 KiB at a time goes through them
        // 32 times (a chunk and an empty call a read).
        if shortcut && self.shortcuts_apply() {
            if buf.is_empty() {
                return Ok(Received::nothing());
            }
            if let Some(got) = self.decoder.whole_message(buf, self.role, &self.limits) {
                let message = got.map_err(|kind| self.fail(kind))?;
                return Ok(data_received(
                    buf,
                    message.start,
                    message.end,
                    message.chunk(),
                ));
            }
            if let Some(got) = self.decoder.payload_chunk(buf) {
                let (end, chunk) = got.map_err(|kind| self.fail(kind))?;
                return Ok(data_received(buf, 0, end, chunk));
            }
        }
        if matches!(self.state, State::Closed | State::CloseReceived) {
            // Nothing may follow a Close; what does is discarded.
            return Ok(Received {
                consumed: buf.len(),
                event: None,
            });
        }
        if !buf.is_empty() && self.behaviour.keepalive == Some(KeepaliveMode::Idle) {
            // An earlier `now` never moves a deadline back.
            self.keepalive_from = self.keepalive_from.max(now);
        }
        #[cfg(feature = "deflate")]
        if let Some((kind, last)) = self.deflate.as_deref().and_then(Deflate::draining) {
            // Inflated bytes may be waiting (the last call filled `out`, or
            // the end of a message is being inflated): hand them out before
            // decoding more.
            let got = self.inflate_chunk(buf, 0..0, kind, last, out)?;
            if got.written > 0 || got.message_end {
                return Ok(got.received(kind, 0, out));
            }
        }
        #[cfg(not(feature = "deflate"))]
        let _ = out;
        if buf.is_empty() {
            // No frame, not even an empty one, is decoded from no bytes:
            // the call after a chunk that used up the buffer (the loop's
            // usual last call) answers here (issue 9: 4 KiB reads of a
            // 64 KiB frame made one such call per read).
            return Ok(Received::nothing());
        }
        let hold_pings = matches!(
            self.in_flight,
            Some(InFlight {
                control: Control::Pong { .. },
                ..
            })
        ) && self.answers_pings();
        #[cfg(feature = "deflate")]
        let deflate = self
            .deflate_on()
            .then(|| super::decode::compressed_chunk(out.len()));
        #[cfg(not(feature = "deflate"))]
        let deflate = None;
        // Positions are in `buf`; a step decodes `buf[pos..]`. The loop
        // goes on only past compressed bytes that inflated to nothing.
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut pos = 0;
        loop {
            let step = self.decoder.step(
                &mut buf[pos..],
                self.role,
                &self.limits,
                hold_pings,
                deflate,
            );
            let step = match step {
                Ok(step) => step,
                Err(kind) => return Err(self.fail(kind).into()),
            };
            match step {
                Step::NeedMore { consumed } => {
                    return Ok(Received {
                        consumed: pos + consumed,
                        event: None,
                    });
                }
                #[cfg(feature = "deflate")]
                Step::Data { start, end, chunk } if chunk.compressed => {
                    let (start, end) = (pos + start, pos + end);
                    let got =
                        self.inflate_chunk(buf, start..end, chunk.kind, chunk.message_end, out)?;
                    let consumed = start + got.used;
                    if got.written > 0 || got.message_end || consumed < end {
                        return Ok(got.received(chunk.kind, consumed, out));
                    }
                    pos = end;
                }
                Step::Data { start, end, chunk } => {
                    return Ok(data_received(buf, pos + start, pos + end, chunk));
                }
                Step::Control { opcode, start, end } => {
                    let payload: &'b [u8] = &buf[pos + start..pos + end];
                    let event = match self.control(opcode, payload, now) {
                        Ok(event) => event,
                        Err(kind) => return Err(self.fail(kind).into()),
                    };
                    return Ok(Received {
                        consumed: pos + end,
                        event: Some(event),
                    });
                }
            }
        }
    }

    /// `receive_inner`'s shortcuts ([`crate::SHORTCUTS`]) may be taken:
    /// the connection is open and its `receive` has nothing to do beside
    /// decoding (no idle keepalive to restart, no inflated bytes waiting).
    #[inline(always)]
    fn shortcuts_apply(&self) -> bool {
        #[cfg(feature = "deflate")]
        let draining = (self.deflate.as_deref()).is_some_and(|d| d.draining().is_some());
        #[cfg(not(feature = "deflate"))]
        let draining = false;
        let idle = self.behaviour.keepalive == Some(KeepaliveMode::Idle);
        self.state == State::Open && !idle && !draining
    }

    /// Inflates the compressed payload `buf[input]` (all of it the
    /// decoder just returned, unmasked) into `out`. What the inflater does
    /// not use goes back to the decoder, masked again, to be passed again.
    #[cfg(feature = "deflate")]
    fn inflate_chunk(
        &mut self,
        buf: &mut [u8],
        input: core::ops::Range<usize>,
        kind: MessageKind,
        last: bool,
        out: &mut [u8],
    ) -> Result<Inflated, Error> {
        let (start, end) = (input.start, input.end);
        let limit = self.limits.max_message_size;
        let Some(d) = self.deflate.as_deref_mut() else {
            return Err(self.fail(PeerErrorKind::ReservedBitsSet).into());
        };
        let got = match d.inflate(kind, &buf[start..end], last, out, limit) {
            Ok(got) => got,
            Err(kind) => return Err(self.fail(kind).into()),
        };
        if got.used < end - start {
            if got.written == 0 {
                // The inflater stops only when `out` is full or the
                // input is used up.
                return Err(self.fail(PeerErrorKind::InflateFailed).into());
            }
            self.decoder
                .give_back(&mut buf[start + got.used..end], kind);
        }
        if kind == MessageKind::Text {
            if let Err(e) = self
                .decoder
                .check_text(&out[..got.written], got.message_end)
            {
                return Err(self.fail(e).into());
            }
        }
        Ok(got)
    }

    /// The machine answers Pings itself now.
    fn answers_pings(&self) -> bool {
        self.behaviour.auto_pong && self.state == State::Open
    }

    /// Handles a complete control frame.
    fn control<'b>(
        &mut self,
        opcode: OpCode,
        payload: &'b [u8],
        now: Instant,
    ) -> Result<Event<'b>, PeerErrorKind> {
        match opcode {
            OpCode::Ping => {
                if self.answers_pings() {
                    // Answering the latest Ping suffices (RFC 6455 §5.5.3);
                    // `receive` holds a Ping back while a Pong is half
                    // handed out, so the slot is free to overwrite.
                    self.pong[..payload.len()].copy_from_slice(payload);
                    // A control payload is at most 125 bytes.
                    self.pong_owed = Some(payload.len() as u8);
                }
                Ok(Event::Ping(payload))
            }
            OpCode::Pong => {
                if self.state == State::Open {
                    self.deadline = None;
                }
                Ok(Event::Pong(payload))
            }
            _ => {
                let (code, reason) = parse_close(payload)?;
                if self.state == State::Open {
                    // Echo the code (RFC 6455 §5.5.1); an empty Close gets an
                    // empty Close.
                    self.close_owed = Some(OwedClose::Echo);
                    self.drop_owed_pings();
                }
                // Open → CloseReceived (echo pending), CloseSent → Closed.
                self.follow(Input::CloseReceived);
                self.ending = Some(Ending::Handshake(code));
                self.arm_client_wait(now);
                Ok(Event::Close { code, reason })
            }
        }
    }

    /// After a clean closing handshake a client waits for the server to
    /// close the transport, up to the close timeout.
    fn arm_client_wait(&mut self, now: Instant) {
        self.deadline = match self.role {
            Role::Client => Some(now.after_millis(self.behaviour.close_timeout_ms)),
            Role::Server => None,
        };
    }

    /// Fails the connection: queue a Close with the error's code (unless a
    /// Close was already sent) and move to `Closed`.
    fn fail(&mut self, kind: PeerErrorKind) -> PeerError {
        self.drop_owed_pings();
        self.close_owed = (!self.close_sent).then_some(OwedClose::Failure);
        self.follow(Input::Fail);
        self.ending = Some(Ending::Failed(kind));
        self.deadline = None;
        // The decoder is left as it is (`Debug` and clones show the failed
        // frame's state): `Closed` discards every byte before decoding.
        PeerError::new(kind, self.role)
    }

    /// The transport reached end of stream. Before the closing handshake
    /// (in `Open` or `CloseSent`) that is a peer error,
    /// [`PeerErrorKind::ClosedWithoutCloseFrame`] (the 1006 of RFC 6455
    /// §7.1.5), and the connection is `Closed`; after the peer's Close it
    /// is the normal end. Control frames still owed are dropped, and the
    /// timers stop. Never an event: the shape is the one every machine's
    /// `receive_eof` has.
    pub fn receive_eof(&mut self) -> Result<Option<Event<'static>>, Error> {
        let before = self.state;
        // Whatever was owed (a frame half handed out included) is dropped:
        // the caller closes the transport now.
        self.drop_owed_pings();
        self.close_owed = None;
        self.in_flight = None;
        self.deadline = None;
        if self.go(Input::TransportEnded, "receive_eof").is_err() {
            return Ok(None);
        }
        if before == State::CloseReceived {
            // The peer's Close arrived: the handshake is as complete as the
            // peer wants it.
            return Ok(None);
        }
        self.ending = Some(Ending::TransportEnded);
        Err(PeerError::new(PeerErrorKind::ClosedWithoutCloseFrame, self.role).into())
    }

    // ------------------------------------------------------------------
    // Timers
    // ------------------------------------------------------------------

    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    #[must_use]
    // A call on 32-bit targets, as is `encode_control`: inlined into the
    // firmware's loop they took more flash (.text 16,968 -> 16,856 B).
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state != State::Open {
            return self.deadline;
        }
        // Open: only the keepalive has a deadline (asked at every flush by
        // adapters, so the usual "none" comes first).
        self.behaviour.keepalive?;
        let interval = self.behaviour.keepalive_interval_ms;
        Some(
            self.deadline
                .unwrap_or(self.keepalive_from.after_millis(interval)),
        )
    }

    /// Advances timers: the close timeout, and the keepalive Ping / Pong.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state != State::Open {
            if self.deadline.is_some_and(|d| now >= d) {
                self.deadline = None;
                if self.go(Input::CloseTimeout, "handle_timeout").is_ok() {
                    self.ending = Some(Ending::CloseTimedOut);
                }
            }
            return;
        }
        if self.behaviour.keepalive.is_none() {
            return;
        }
        let interval = self.behaviour.keepalive_interval_ms;
        match self.deadline {
            Some(deadline) if now >= deadline => {
                self.follow(Input::PeerUnresponsive);
                self.ending = Some(Ending::PeerUnresponsive);
                self.deadline = None;
                self.drop_owed_pings();
            }
            None if now >= self.keepalive_from.after_millis(interval) => {
                self.ping_owed = true;
                self.pinged(now);
            }
            _ => {}
        }
    }

    /// The caller reads nothing before `until` (backpressure: a rate-limit
    /// pause), so no Pong can arrive meanwhile: the keepalive pings no one
    /// before `until` plus its interval, and a Pong it already awaits gets
    /// the paused time on top of its timeout. Nothing changes outside
    /// `Open` (the close timeout runs on: stop pausing once closing) or
    /// without a keepalive.
    pub fn pause_reading(&mut self, until: Instant, now: Instant) {
        if self.state != State::Open || self.behaviour.keepalive.is_none() {
            return;
        }
        if let Some(deadline) = self.deadline {
            self.deadline = Some(deadline + until.saturating_duration_since(now));
        }
        self.keepalive_from = self.keepalive_from.max(until);
    }

    /// A Ping went out (queued by the keepalive, or sent by the caller):
    /// with a keepalive, the Pong is due within its timeout, and a `Fixed`
    /// keepalive counts its period from here.
    fn pinged(&mut self, now: Instant) {
        let Some(mode) = self.behaviour.keepalive else {
            return;
        };
        if mode == KeepaliveMode::Fixed {
            self.keepalive_from = self.keepalive_from.max(now);
        }
        if self.deadline.is_none() {
            self.deadline = Some(now.after_millis(self.behaviour.keepalive_timeout_ms));
        }
    }

    // ------------------------------------------------------------------
    // Sending
    // ------------------------------------------------------------------

    /// Copies the bytes the machine owes (a Pong, a keepalive Ping, the
    /// echo of the peer's Close, or the Close that fails the connection)
    /// into `out`; returns how many, 0 when nothing is pending (or `out` is
    /// empty). A byte stream: any size of `out` works, a frame may come out
    /// over several calls, several frames in one. Call until it returns 0,
    /// and before any `send_*` (which refuse to cut into a frame half
    /// handed out).
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let mut written = 0;
        while written < out.len() {
            let Some(mut flight) = self.in_flight.or_else(|| self.next_control()) else {
                break;
            };
            let mut frame = [0; MAX_CONTROL_FRAME];
            let len = self.encode_control(flight, &mut frame);
            let pending = &frame[usize::from(flight.sent)..len];
            let n = pending.len().min(out.len() - written);
            out[written..written + n].copy_from_slice(&pending[..n]);
            written += n;
            // n is at most MAX_CONTROL_FRAME, which fits a u8.
            flight.sent += n as u8;
            if usize::from(flight.sent) == len {
                self.in_flight = None;
                self.transmitted(flight.control);
            } else {
                self.in_flight = Some(flight);
            }
        }
        written
    }

    /// Whether [`poll_transmit`](Self::poll_transmit) has bytes to hand
    /// out (a control frame owed, or one half handed out): a loop that
    /// sends often can skip preparing room for it when this is `false`.
    /// (Not [`LocalError::TransmitPending`], which is only the second case,
    /// the one that makes `send_*` wait.)
    ///
    /// ```
    /// use protoswitch::ws::{Config, Connection};
    /// use protoswitch::Instant;
    ///
    /// let mut server = Connection::server(Config::default(), Instant::ZERO);
    /// assert!(!server.wants_transmit());
    /// // A masked Ping with payload "hi": its Pong is owed.
    /// let mut ping = *b"\x89\x82\x01\x02\x03\x04\x69\x6b";
    /// let _ = server.receive(&mut ping, Instant::ZERO).unwrap();
    /// assert!(server.wants_transmit());
    /// let mut out = [0u8; 8];
    /// assert_eq!(server.poll_transmit(&mut out), 4);
    /// assert_eq!(&out[..4], b"\x8a\x02hi");
    /// assert!(!server.wants_transmit());
    /// ```
    #[must_use]
    pub fn wants_transmit(&self) -> bool {
        self.in_flight.is_some()
            || self.pong_owed.is_some()
            || self.ping_owed
            || self.close_owed.is_some()
    }

    /// Takes the next control frame owed (Pong, then Ping, then Close) and
    /// picks its mask key; `None` when nothing is owed.
    fn next_control(&mut self) -> Option<InFlight> {
        let control = if let Some(len) = self.pong_owed.take() {
            Control::Pong { len }
        } else if core::mem::take(&mut self.ping_owed) {
            Control::Ping
        } else {
            Control::Close(self.close_owed.take()?)
        };
        let key = match self.role {
            Role::Client => self.masks.mask_key(),
            Role::Server => [0; 4],
        };
        Some(InFlight {
            control,
            sent: 0,
            key,
        })
    }

    /// The bytes of a control frame, derived from the machine's state.
    #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
    fn encode_control(&self, flight: InFlight, out: &mut [u8; MAX_CONTROL_FRAME]) -> usize {
        // The payloads are borrowed, not copied into arrays of their own:
        // only a Close's is built (firmware .text 18,260 -> 18,060 B).
        let closing;
        let (opcode, payload): (OpCode, &[u8]) = match flight.control {
            Control::Pong { len } => (OpCode::Pong, &self.pong[..usize::from(len)]),
            Control::Ping => (OpCode::Ping, &[]),
            Control::Close(owed) => {
                let (code, reason) = match owed {
                    // The peer's Close set `ending`, and nothing changes it
                    // while the echo is owed.
                    OwedClose::Echo => match self.ending {
                        Some(Ending::Handshake(code)) => (code, ""),
                        _ => (None, ""),
                    },
                    OwedClose::Failure => {
                        let error = match self.ending {
                            Some(Ending::Failed(kind)) => PeerError::new(kind, self.role),
                            _ => PeerError::new(PeerErrorKind::ClosedWithoutCloseFrame, self.role),
                        };
                        let code = error.close_code().unwrap_or(1002);
                        (
                            Some(code),
                            truncate_utf8(error.message(), MAX_CONTROL_PAYLOAD - 2),
                        )
                    }
                };
                closing = close_payload(code, reason);
                (OpCode::Close, &closing.0[..closing.1])
            }
        };
        let header = FrameHeader {
            mask: (self.role == Role::Client).then_some(flight.key),
            ..self.header(opcode, true, payload.len() as u64)
        };
        // A control frame always fits MAX_CONTROL_FRAME.
        encode_frame(&header, payload, out)
    }

    /// The last byte of a control frame was handed out.
    fn transmitted(&mut self, control: Control) {
        if let Control::Close(_) = control {
            self.close_sent = true;
            // Our echo completes the closing handshake; the Close that
            // fails a connection is written when it is already Closed.
            if self.state == State::CloseReceived {
                self.follow(Input::EchoSent);
            }
        }
    }

    /// Writes one frame (header, then payload masked for a client).
    fn write_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let header = self.header(opcode, fin, payload.len() as u64);
        let needed = header.encoded_len() + payload.len();
        if out.len() < needed {
            // Before a mask key is drawn: a refused call takes no entropy.
            return Err(Error::BufferTooSmall { needed });
        }
        let header = FrameHeader {
            mask: header.mask.map(|_| self.masks.mask_key()),
            ..header
        };
        Ok(encode_frame(&header, payload, out))
    }

    /// A header for this role (the mask key is a placeholder until used).
    fn header(&self, opcode: OpCode, fin: bool, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask: (self.role == Role::Client).then_some([0; 4]),
            payload_len,
        }
    }

    fn check_data_allowed(&self, operation: &'static str) -> Result<(), Error> {
        self.check_not_mid_frame()?;
        if self.state == State::Open {
            Ok(())
        } else {
            Err(self.wrong_state(operation))
        }
    }

    /// Bytes written by `send_*` go after everything `poll_transmit`
    /// handed out; cutting into a frame half handed out would corrupt the
    /// stream.
    fn check_not_mid_frame(&self) -> Result<(), Error> {
        if self.in_flight.is_some() {
            return Err(LocalError::TransmitPending.into());
        }
        Ok(())
    }

    /// The opcode for the next data frame of `kind`, checking the
    /// fragmentation order.
    fn data_opcode(&self, kind: MessageKind, whole_message: bool) -> Result<OpCode, Error> {
        match self.outgoing {
            None => Ok(kind.opcode()),
            Some(k) if k == kind && !whole_message => Ok(OpCode::Continuation),
            Some(_) => Err(LocalError::FragmentationOrder.into()),
        }
    }

    /// Sends a whole text message as one frame.
    pub fn send_text(&mut self, text: &str, out: &mut [u8]) -> Result<usize, Error> {
        self.send_message(MessageKind::Text, text.as_bytes(), out)
    }

    /// Sends a whole binary message as one frame.
    pub fn send_binary(&mut self, data: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        self.send_message(MessageKind::Binary, data, out)
    }

    fn send_message(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_data_allowed("send a message")?;
        let opcode = self.data_opcode(kind, true)?;
        if self.compresses() {
            return self.write_compressed(opcode, true, data, out);
        }
        self.write_frame(opcode, true, data, out)
    }

    /// Our messages are compressed (permessage-deflate on, level above 0).
    fn compresses(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.as_deref().is_some_and(Deflate::compresses);
        #[cfg(not(feature = "deflate"))]
        return false;
    }

    /// The message being sent in fragments is compressed.
    fn sending_compressed(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self
            .deflate
            .as_deref()
            .is_some_and(|d| d.sending_compressed);
        #[cfg(not(feature = "deflate"))]
        return false;
    }

    #[cfg(feature = "deflate")]
    fn set_sending_compressed(&mut self, on: bool) {
        if let Some(d) = self.deflate.as_deref_mut() {
            d.sending_compressed = on;
        }
    }

    #[cfg(not(feature = "deflate"))]
    fn set_sending_compressed(&mut self, _on: bool) {}

    /// Without `deflate` nothing is compressed (`compresses()` is false):
    /// a plain frame.
    #[cfg(not(feature = "deflate"))]
    fn write_compressed(
        &mut self,
        opcode: OpCode,
        fin: bool,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.write_frame(opcode, fin, data, out)
    }

    /// Writes one frame of a compressed message: `data` compressed, RSV1 on
    /// the message's first frame (RFC 7692 §6). `out` must hold the
    /// compression bound (a little more than `data`), which
    /// [`Error::BufferTooSmall`] states; the compressor is not touched
    /// unless the frame is written, so a refused call leaves the shared
    /// window as it was.
    #[cfg(feature = "deflate")]
    fn write_compressed(
        &mut self,
        opcode: OpCode,
        fin: bool,
        data: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let bound = compress::bound(data.len());
        let room = self.header(opcode, fin, bound as u64).encoded_len();
        let needed = room + bound;
        if out.len() < needed {
            return Err(Error::BufferTooSmall { needed });
        }
        let Some(d) = self.deflate.as_deref_mut() else {
            return self.write_frame(opcode, fin, data, out);
        };
        let n = d.compress(data, fin, &mut out[room..needed]);
        // The mask key is drawn as `write_frame` draws it, once the frame
        // is certain to be written.
        let header = self.header(opcode, fin, n as u64);
        let header = FrameHeader {
            rsv: if opcode == OpCode::Continuation {
                0
            } else {
                0b100
            },
            mask: header.mask.map(|_| self.masks.mask_key()),
            ..header
        };
        let h = header.encoded_len();
        out.copy_within(room..room + n, h);
        header.encode(out);
        if let Some(key) = header.mask {
            apply_mask(&mut out[h..h + n], key, 0);
        }
        Ok(h + n)
    }

    /// Sends one fragment of a message of `kind`: the first call starts the
    /// message, later calls continue it, `fin` ends it (RFC 6455 §5.4).
    /// Control frames may be sent between fragments. Text is checked as
    /// UTF-8 across the fragments: a character may be split between two of
    /// them, but invalid bytes, or a message ending inside a character, are
    /// a [`LocalError::InvalidUtf8`] and nothing is written.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_data_allowed("send a fragment")?;
        let opcode = self.data_opcode(kind, false)?;
        let compressed = match self.outgoing {
            Some(_) => self.sending_compressed(),
            None => self.compresses(),
        };
        let mut utf8 = if self.outgoing.is_some() {
            self.outgoing_utf8
        } else {
            Utf8Validator::new()
        };
        if kind == MessageKind::Text {
            let valid = utf8.feed(data).and_then(|()| match fin {
                true => utf8.finish(),
                false => Ok(()),
            });
            valid.map_err(|_| LocalError::InvalidUtf8)?;
        }
        let n = if compressed {
            self.write_compressed(opcode, fin, data, out)?
        } else {
            self.write_frame(opcode, fin, data, out)?
        };
        self.outgoing = if fin { None } else { Some(kind) };
        self.outgoing_utf8 = utf8;
        self.set_sending_compressed(compressed && !fin);
        Ok(n)
    }

    /// Writes only the header of a data frame of `payload_len` bytes, so
    /// the caller can write header and payload with vectored I/O. For a
    /// client, the returned mask key must be applied to the payload with
    /// [`apply_mask`] (offset 0) before it is written. The machine does not
    /// see the payload: text sent this way is the caller's to keep valid
    /// UTF-8.
    pub fn send_header(
        &mut self,
        kind: MessageKind,
        payload_len: u64,
        fin: bool,
        out: &mut [u8],
    ) -> Result<(usize, Option<[u8; 4]>), Error> {
        self.check_data_allowed("send a frame header")?;
        if payload_len >> 63 != 0 {
            return Err(LocalError::PayloadTooLarge.into());
        }
        let opcode = self.data_opcode(kind, false)?;
        if self.outgoing.is_some() && self.sending_compressed() {
            // A compressed message goes on compressed: `send_fragment`.
            return Err(LocalError::FragmentationOrder.into());
        }
        let header = self.header(opcode, fin, payload_len);
        let needed = header.encoded_len();
        if out.len() < needed {
            return Err(Error::BufferTooSmall { needed });
        }
        let header = FrameHeader {
            mask: header.mask.map(|_| self.masks.mask_key()),
            ..header
        };
        header.encode(out);
        self.outgoing = if fin { None } else { Some(kind) };
        Ok((needed, header.mask))
    }

    /// Sends a Ping (at most 125 bytes). With a keepalive configured, the
    /// Pong is then due within its timeout, as for the keepalive's own Pings.
    pub fn send_ping(
        &mut self,
        payload: &[u8],
        now: Instant,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let n = self.send_control(OpCode::Ping, payload, out)?;
        if self.state == State::Open {
            self.pinged(now);
        }
        Ok(n)
    }

    /// Sends a Pong (at most 125 bytes); with `auto_pong` off this is how
    /// Pings are answered.
    pub fn send_pong(&mut self, payload: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        self.send_control(OpCode::Pong, payload, out)
    }

    fn send_control(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_not_mid_frame()?;
        if !matches!(self.state, State::Open | State::CloseReceived) || self.close_sent {
            return Err(self.wrong_state("send a control frame"));
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(LocalError::ControlPayloadTooLong.into());
        }
        self.write_frame(opcode, true, payload, out)
    }

    /// Starts the closing handshake: writes a Close with `code` (or an
    /// empty Close for `None`) and `reason`. Afterwards sending data is a
    /// local error; the peer's Close ends the handshake, or the close
    /// timeout does.
    pub fn send_close(
        &mut self,
        code: Option<u16>,
        reason: &str,
        now: Instant,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        self.check_not_mid_frame()?;
        if self.state != State::Open {
            return Err(self.wrong_state("send_close"));
        }
        check_close(code, reason)?;
        let (payload, len) = close_payload(code, reason);
        let n = self.write_frame(OpCode::Close, true, &payload[..len], out)?;
        self.close_sent = true;
        self.drop_owed_pings();
        self.follow(Input::SendClose);
        self.deadline = Some(now.after_millis(self.behaviour.close_timeout_ms));
        Ok(n)
    }
}

/// What `receive` returns for a data chunk whose payload is
/// `buf[start..end]`: the bytes up to the payload's end are consumed. One
/// place for the general path and its shortcuts.
#[inline(always)]
fn data_received(buf: &[u8], start: usize, end: usize, chunk: ChunkFlags) -> Received<Event<'_>> {
    let payload = &buf[start..end];
    Received {
        consumed: end,
        event: Some(Event::Data(DataChunk {
            kind: chunk.kind,
            payload,
            frame_end: chunk.frame_end,
            message_end: chunk.message_end,
        })),
    }
}

/// Writes `header` (its mask key chosen) and `payload` into `out`, masking
/// the payload when the header has a key; returns the frame's length.
/// `out` must hold it (the callers check, before drawing a key).
fn encode_frame(header: &FrameHeader, payload: &[u8], out: &mut [u8]) -> usize {
    let h = header.encoded_len();
    let end = h + payload.len();
    let encoded = header.encode(out);
    debug_assert_eq!(encoded, Some(h), "the caller checked the room");
    out[h..end].copy_from_slice(payload);
    if let Some(key) = header.mask {
        apply_mask(&mut out[h..end], key, 0);
    }
    end
}

/// A Close payload (RFC 6455 §5.5.1): the code, then the reason; empty
/// without a code. The callers keep it within 125 bytes.
fn close_payload(code: Option<u16>, reason: &str) -> ([u8; MAX_CONTROL_PAYLOAD], usize) {
    let mut payload = [0; MAX_CONTROL_PAYLOAD];
    let Some(code) = code else {
        return (payload, 0);
    };
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
    (payload, 2 + reason.len())
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `wants_transmit` says exactly whether `poll_transmit` hands out
    /// bytes, at every step of Pongs, keepalive Pings, a Close echo and a
    /// failure, with frames handed out one byte at a time.
    #[test]
    fn wants_transmit_is_what_poll_transmit_does() {
        use super::super::types::{Keepalive, KeepaliveMode};
        type Key = fn() -> [u8; 4];
        fn key() -> [u8; 4] {
            [9, 8, 7, 6]
        }
        let agrees = |c: &Connection<Key>| {
            let hands_out = c.clone().poll_transmit(&mut [0; 1]) > 0;
            assert_eq!(c.wants_transmit(), hands_out, "{c:?}");
        };
        let drain = |c: &mut Connection<Key>| {
            let mut n = 0;
            loop {
                agrees(c);
                if c.poll_transmit(&mut [0; 1]) == 0 {
                    return n;
                }
                n += 1;
            }
        };
        let keepalive = Keepalive {
            mode: KeepaliveMode::Fixed,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        let config = Config::new().keepalive(Some(keepalive));
        let mut c = Connection::client(config, Instant::ZERO, key as Key);
        agrees(&c);
        // An unmasked Ping from the server: a masked Pong of 6 + 2 bytes.
        let _ = c
            .receive(&mut b"\x89\x02hi".clone(), Instant::ZERO)
            .unwrap();
        assert_eq!(drain(&mut c), 8);
        // The keepalive's Ping: 6 bytes.
        c.handle_timeout(Instant::ZERO + Duration::from_secs(1));
        assert_eq!(drain(&mut c), 6);
        // The server's Close 1000: the echo, 6 + 2 bytes.
        let _ = c
            .receive(&mut b"\x88\x02\x03\xe8".clone(), Instant::ZERO)
            .unwrap();
        assert_eq!(drain(&mut c), 8);
        // A failure: a masked frame from a server; the Close 1002 owed.
        let mut c = Connection::client(Config::default(), Instant::ZERO, key as Key);
        assert!(
            c.receive(&mut b"\x82\x80\x01\x02\x03\x04".clone(), Instant::ZERO)
                .is_err()
        );
        assert!(drain(&mut c) > 6);
        agrees(&c);
    }

    /// A failing Close carries the error's code and, with `diagnostics`,
    /// its sentence as the reason (only the code without it).
    #[test]
    fn a_failing_close_carries_the_diagnosis_only_with_the_feature() {
        let mut c = Connection::server(Config::default(), Instant::ZERO);
        // An unmasked frame from a client: 1002.
        let error = c
            .receive(&mut b"\x82\x00".clone(), Instant::ZERO)
            .unwrap_err();
        let mut out = [0u8; MAX_CONTROL_FRAME];
        let n = c.poll_transmit(&mut out);
        let reason = PeerError::new(PeerErrorKind::UnmaskedFrame, Role::Server).message();
        assert_eq!(reason.is_empty(), !cfg!(feature = "diagnostics"));
        assert!(std::string::ToString::to_string(&error).contains(reason));
        let mut want = std::vec![0x88, 2 + reason.len() as u8, 0x03, 0xea];
        want.extend_from_slice(reason.as_bytes());
        assert_eq!(&out[..n], &want[..]);
    }

    /// `receive_reads_now` says when `now` matters: on a server without an
    /// idle keepalive, the same bytes received at instants far apart
    /// give the same events and leave the same machine (its `Debug`, its
    /// timer and the bytes it owes) for data, Ping, Pong, Close and a
    /// failure; with an idle keepalive, and on a client receiving a Close,
    /// they do not.
    #[test]
    fn receive_reads_now_says_when_now_matters() {
        use super::super::types::{Keepalive, KeepaliveMode};
        use std::string::String;
        use std::vec::Vec;
        let with_keepalive = |mode| {
            Config::new().keepalive(Some(Keepalive {
                mode,
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
            }))
        };
        fn run<M: MaskSource + core::fmt::Debug + Clone>(
            mut c: Connection<M>,
            bytes: &[u8],
            now: Instant,
        ) -> (Vec<String>, String) {
            let mut buf = bytes.to_vec();
            let mut at = 0;
            let mut seen = Vec::new();
            loop {
                match c.receive(&mut buf[at..], now) {
                    Ok(Received { consumed, event }) => {
                        at += consumed;
                        match event {
                            Some(event) => seen.push(std::format!("{event:?}")),
                            None => break,
                        }
                    }
                    Err(e) => {
                        seen.push(std::format!("{e:?}"));
                        break;
                    }
                }
            }
            let mut out = [0u8; 256];
            let n = c.poll_transmit(&mut out);
            seen.push(std::format!("{:?} {:?}", c.poll_timeout(), &out[..n]));
            (seen, std::format!("{c:?}"))
        }
        let late = Instant::ZERO + Duration::from_secs(1000);
        // Masked (with a zero key) as a client sends them.
        let masked: [&[u8]; 5] = [
            b"\x82\x83\0\0\0\0abc\x89\x82\0\0\0\0hi\x8a\x80\0\0\0\0",
            b"\x01\x81\0\0\0\0a\x80\x81\0\0\0\0b",
            b"\x88\x82\0\0\0\0\x03\xe8\x82\x80\0\0\0\0",
            b"\x82\x00",
            b"\x89\x82\0\0\0",
        ];
        for config in [Config::default(), with_keepalive(KeepaliveMode::Fixed)] {
            let c = Connection::server(config, Instant::ZERO);
            assert!(!c.receive_reads_now());
            for bytes in masked {
                assert_eq!(
                    run(c.clone(), bytes, Instant::ZERO),
                    run(c.clone(), bytes, late),
                    "{bytes:?}"
                );
            }
        }
        let c = Connection::server(with_keepalive(KeepaliveMode::Idle), Instant::ZERO);
        assert!(c.receive_reads_now());
        assert_ne!(
            run(c.clone(), masked[0], Instant::ZERO),
            run(c, masked[0], late)
        );
        let c = Connection::client(Config::default(), Instant::ZERO, NoMask);
        assert!(c.receive_reads_now());
        let close = b"\x88\x02\x03\xe8";
        assert_ne!(run(c.clone(), close, Instant::ZERO), run(c, close, late));
    }

    /// `receive`'s shortcuts (a whole message in one frame, the next
    /// chunk of a payload) give what the general path gives: the same
    /// events or error, the same bytes consumed and the same machine
    /// after every call, for servers and clients, open or closing or
    /// closed, with an idle or a fixed keepalive, with permessage-deflate
    /// (also with inflated bytes waiting in a small output), on whole,
    /// cut, fragmented, control, compressed, wrongly masked and invalid
    /// frames, alone or followed by others, arriving at once or in reads
    /// of 3, 7 or 64 bytes, with the timers run between reads, on
    /// machines that take whole frames or hold Pings behind a Pong.
    #[cfg(feature = "deflate")]
    #[test]
    fn the_receive_shortcuts_are_the_general_path() {
        // Without the shortcuts the decoder's own one-go path is not taken
        // either, and its general path leaves fields that mean nothing
        // between messages (the last frame's FIN, size, mask phase) where
        // the one-go path leaves them as they were: the machines' `Debug`
        // would differ there (the decoder's test compares what matters).
        if !crate::SHORTCUTS {
            return;
        }
        use super::super::types::Keepalive;
        use crate::upgrade::{DeflateConfig, DeflateParams};
        use std::string::String;
        use std::vec::Vec;
        type Conn = Connection<NoMask>;
        // `bytes` arrive `piece` bytes at a time into the caller's buffer;
        // after each, `receive` until it has nothing more to say (an error
        // too: later reads go to the failed machine). With `timers`, the
        // machine's timers run between reads (a keepalive may close it in
        // the middle of a frame). Every call is a millisecond later than
        // the one before, and later than the machines' start: an idle
        // keepalive restarts its wait at every receive.
        fn run(
            mut c: Conn,
            bytes: &[u8],
            piece: usize,
            out_len: usize,
            timers: bool,
            shortcut: bool,
        ) -> Vec<String> {
            let mut buf = Vec::new();
            let mut out = std::vec![0u8; out_len];
            let mut seen = Vec::new();
            let mut now = Instant::ZERO + Duration::from_secs(5);
            for read in bytes.chunks(piece) {
                buf.extend_from_slice(read);
                let mut at = 0;
                for _ in 0..1000 {
                    now = now.after_millis(1);
                    let got = c.receive_inner(&mut buf[at..], &mut out, now, shortcut);
                    seen.push(std::format!("{got:?}"));
                    seen.push(std::format!("{c:?}"));
                    match got {
                        Ok(Received {
                            consumed,
                            event: Some(_),
                        }) => at += consumed,
                        Ok(Received { consumed, .. }) => {
                            at += consumed;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                buf.drain(..at);
                if timers {
                    c.handle_timeout(now);
                    seen.push(std::format!("{c:?}"));
                }
            }
            let mut wire = [0u8; 256];
            let n = c.poll_transmit(&mut wire);
            seen.push(std::format!("{:?} {c:?}", &wire[..n]));
            seen
        }
        let deflated = |text: &str| {
            let mut client = Connection::client(Config::default(), Instant::ZERO, NoMask)
                .with_deflate(&DeflateConfig::new(), DeflateParams::new());
            let mut out = [0u8; 4096];
            let n = client.send_text(text, &mut out).unwrap();
            out[..n].to_vec()
        };
        let keepalive = |mode| {
            Config::new().keepalive(Some(Keepalive {
                mode,
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
            }))
        };
        let mut machines: Vec<Conn> = Vec::new();
        for config in [
            Config::default(),
            keepalive(KeepaliveMode::Idle),
            keepalive(KeepaliveMode::Fixed),
            Config::new().max_message_size(3),
            Config::new().whole_frames(true),
        ] {
            let server = Connection::server(config, Instant::ZERO);
            let client = Connection::client(config, Instant::ZERO, NoMask);
            for c in [server, client] {
                let deflating = c
                    .clone()
                    .with_deflate(&DeflateConfig::new(), DeflateParams::new());
                let mut closing = c.clone();
                closing
                    .send_close(Some(1000), "", Instant::ZERO, &mut [0u8; 16])
                    .unwrap();
                let mut closed = c.clone();
                let close: &[u8] = match c.role {
                    Role::Server => b"\x88\x80\0\0\0\0",
                    Role::Client => b"\x88\x00",
                };
                let _ = closed.receive(&mut close.to_vec(), Instant::ZERO);
                // A Ping answered, its Pong half written: the next Ping
                // waits (`hold_pings`).
                let mut ponging = c.clone();
                let ping: &[u8] = match c.role {
                    Role::Server => b"\x89\x80\0\0\0\0",
                    Role::Client => b"\x89\x00",
                };
                let _ = ponging.receive(&mut ping.to_vec(), Instant::ZERO);
                assert_eq!(ponging.poll_transmit(&mut [0u8; 1]), 1);
                machines.extend([c, deflating, closing, closed, ponging]);
            }
        }
        // Masked (as a client sends), then unmasked.
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for masked in [true, false] {
            const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];
            let frame = |b0: u8, payload: &[u8]| {
                let mut f = std::vec![b0];
                match payload.len() {
                    n if n <= 125 => f.push(n as u8 | if masked { 0x80 } else { 0 }),
                    n => {
                        f.push(126 | if masked { 0x80 } else { 0 });
                        f.extend_from_slice(&(n as u16).to_be_bytes());
                    }
                }
                let mut payload = payload.to_vec();
                if masked {
                    f.extend_from_slice(&KEY);
                    apply_mask(&mut payload, KEY, 0);
                }
                f.extend_from_slice(&payload);
                f
            };
            let long = [b'x'; 300];
            let whole = [
                frame(0x82, b"abc"),
                frame(0x81, "h\u{e9}".as_bytes()),
                frame(0x81, b"bad \xff"),
                frame(0x82, b""),
                frame(0x82, &long),
                frame(0x01, b"ab"),
                frame(0x80, b"c"),
                frame(0x89, b"hi"),
                frame(0x88, b"\x03\xe8"),
                frame(0xC1, b"x"),
                frame(0x92, b"r"),
                frame(0x81, b"\xffmore text after the error"),
                // "é" split between two fragments.
                [frame(0x01, b"h\xc3"), frame(0x80, b"\xa9")].concat(),
            ];
            for a in &whole {
                inputs.push(a.clone());
                inputs.push(a[..a.len() - 1].to_vec());
                for b in &whole {
                    inputs.push([&a[..], b].concat());
                }
            }
        }
        let plain = inputs.len();
        // Compressed, then read into outputs of every size up to 64 bytes:
        // at some the inflater takes the last of the input as the output
        // fills, and the next frame is there while inflated bytes wait.
        for text in [
            std::string::String::from("a compressed message, long enough to fill a small output"),
            "a".repeat(2000),
        ] {
            let compressed = deflated(&text);
            inputs.push(compressed.clone());
            inputs.push([&compressed[..], b"\x82\x03abc"].concat());
            inputs.push([&compressed[..], b"\x82\x83\0\0\0\0abc"].concat());
        }
        let mut compared = 0;
        for c in &machines {
            for (i, bytes) in inputs.iter().enumerate() {
                // Whole, and in reads that cut headers, characters and
                // payloads (the payload shortcut takes a frame's chunks
                // after its first), once with the timers between reads of
                // 3 bytes.
                let (outputs, pieces) = if i < plain {
                    (
                        0..=0,
                        &[(usize::MAX, false), (3, false), (64, false), (3, true)][..],
                    )
                } else {
                    (1..=64, &[(usize::MAX, false), (7, false)][..])
                };
                for &(piece, timers) in pieces {
                    // In pieces, the small outputs only (plain inputs have
                    // just the output 0, and 256 below).
                    let most = if piece == usize::MAX { 64 } else { 8 };
                    let outputs = outputs.clone().take_while(|&n| n <= most);
                    for out_len in outputs.chain([256]) {
                        let fast = run(c.clone(), bytes, piece, out_len, timers, true);
                        let general = run(c.clone(), bytes, piece, out_len, timers, false);
                        assert_eq!(fast, general, "{c:?} {bytes:?} {piece} {out_len} {timers}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 100_000, "{compared}");
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_utf8("abc", 3), "abc");
        assert_eq!(truncate_utf8("abcd", 3), "abc");
        // "é" is two bytes: cutting inside it drops it.
        assert_eq!(truncate_utf8("a\u{e9}b", 2), "a");
        assert_eq!(truncate_utf8("a\u{e9}b", 3), "a\u{e9}");
        assert_eq!(truncate_utf8("\u{20ac}", 2), "");
    }

    #[test]
    fn doc_table_is_the_table() {
        table::assert_doc_matches(
            include_str!("connection.rs"),
            TRANSITIONS,
            State::name,
            Input::describe,
        );
    }
}
