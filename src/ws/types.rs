//! The public types of a WebSocket connection: its configuration, events,
//! close causes and mask sources. The machine is in `connection.rs`, the
//! frame and message decoder in `decode.rs`.

use core::time::Duration;

use super::frame::{MAX_HEADER_LEN, OpCode};
use crate::error::PeerError;

/// Largest control frame payload (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// The smallest receive buffer that can hold any control frame.
pub const MIN_RECEIVE_BUFFER: usize = MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD;
/// The smallest `poll_transmit` buffer that can hold any control frame.
pub const MIN_TRANSMIT_BUFFER: usize = MAX_HEADER_LEN + MAX_CONTROL_PAYLOAD;

/// When the keepalive Pings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeepaliveMode {
    /// Ping after `interval` without receiving anything: a busy line costs
    /// no Pings.
    Idle,
    /// Ping every `interval` whatever the traffic, as load balancers that
    /// count only one direction, or an application heartbeat, need.
    Fixed,
}

/// A heartbeat: a Ping when [`KeepaliveMode`] says, and the peer declared
/// dead ([`CloseCause::PeerUnresponsive`]) when no Pong arrives within
/// `timeout` of a Ping. With a keepalive configured, a Ping sent with
/// [`Connection::send_ping`](super::Connection::send_ping) arms the same deadline.
///
/// ```
/// use core::time::Duration;
/// use protoswitch::ws::{Config, Keepalive};
/// let every_2s = Keepalive::fixed(Duration::from_secs(2), Duration::from_secs(5));
/// let config = Config::new().keepalive(Some(every_2s));
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Keepalive {
    /// When to Ping.
    pub mode: KeepaliveMode,
    /// The idle time (`Idle`) or the period (`Fixed`) before a Ping.
    pub interval: Duration,
    /// Time allowed for the Pong.
    pub timeout: Duration,
}

impl Keepalive {
    /// Ping after `interval` without receiving anything.
    pub const fn idle(interval: Duration, timeout: Duration) -> Self {
        Keepalive {
            mode: KeepaliveMode::Idle,
            interval,
            timeout,
        }
    }
    /// Ping every `interval`.
    pub const fn fixed(interval: Duration, timeout: Duration) -> Self {
        Keepalive {
            mode: KeepaliveMode::Fixed,
            interval,
            timeout,
        }
    }
}

/// Connection limits and behaviour.
///
/// ```
/// use core::time::Duration;
/// use protoswitch::ws::Config;
/// let config = Config::new()
///     .max_message_size(1 << 20)
///     .close_timeout(Duration::from_secs(2));
/// assert_eq!(config.max_message_size, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame payload accepted (1009 above). Default 16 MiB.
    pub max_frame_payload: u64,
    /// Largest message accepted, across fragments (1009 above). Default 64 MiB.
    pub max_message_size: u64,
    /// Most fragments in one message (1009 above). Default 1 Mi.
    pub max_fragments: u32,
    /// Answer Pings with Pongs by itself (default). When `false`, Pings
    /// are only reported and the application answers.
    pub auto_pong: bool,
    /// How long to wait for the peer's Close (after ours), and for a client,
    /// for the server to close the transport. Default 5 s.
    pub close_timeout: Duration,
    /// Optional heartbeat. Default none.
    pub keepalive: Option<Keepalive>,
    /// Deliver every data frame in one chunk. Default `false`: a frame's
    /// payload is delivered as its bytes arrive, whatever the buffer holds.
    ///
    /// When `true`, `receive` consumes nothing of a data frame and asks
    /// for more (`event: None`) until its header and its whole payload are
    /// in the buffer; the frame then comes out in one
    /// [`DataChunk`], so a message sent in one frame is
    /// one event. The receive buffer must then hold
    /// [`max_frame_payload`](Self::max_frame_payload) +
    /// [`MAX_HEADER_LEN`] bytes (and at least
    /// [`MIN_RECEIVE_BUFFER`], for control
    /// frames, as always): set the limit to what the buffer holds (a
    /// larger frame still fails with 1009, as soon as its header arrives).
    /// A frame header's rules (fragmentation, limits) are checked as soon
    /// as the header arrives, UTF-8 once the frame is whole. A compressed message (permessage-deflate) still
    /// comes out in chunks of the output buffer. Every `receive` with
    /// bytes counts as activity for an idle keepalive, waiting or not.
    pub whole_frames: bool,
}

impl Config {
    /// The defaults.
    pub const fn new() -> Self {
        Config {
            max_frame_payload: 16 << 20,
            max_message_size: 64 << 20,
            max_fragments: 1 << 20,
            auto_pong: true,
            close_timeout: Duration::from_secs(5),
            keepalive: None,
            whole_frames: false,
        }
    }
    /// Sets [`Config::max_frame_payload`].
    pub const fn max_frame_payload(mut self, bytes: u64) -> Self {
        self.max_frame_payload = bytes;
        self
    }
    /// Sets [`Config::max_message_size`].
    pub const fn max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }
    /// Sets [`Config::max_fragments`].
    pub const fn max_fragments(mut self, fragments: u32) -> Self {
        self.max_fragments = fragments;
        self
    }
    /// Sets [`Config::auto_pong`].
    pub const fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }
    /// Sets [`Config::close_timeout`].
    pub const fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
    /// Sets [`Config::keepalive`].
    pub const fn keepalive(mut self, keepalive: Option<Keepalive>) -> Self {
        self.keepalive = keepalive;
        self
    }
    /// Sets [`Config::whole_frames`].
    pub const fn whole_frames(mut self, on: bool) -> Self {
        self.whole_frames = on;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

/// Why the connection reached `Closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseCause {
    /// The closing handshake completed; the code the peer sent (if any).
    Handshake {
        /// The peer's close code.
        code: Option<u16>,
    },
    /// The peer broke a rule; a Close with the error's code was queued.
    Failed(PeerError),
    /// The transport ended without a closing handshake (code 1006).
    TransportEnded,
    /// The peer did not answer our Close in time.
    CloseTimedOut,
    /// Keepalive: no Pong arrived in time.
    PeerUnresponsive,
}

/// A text or binary message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Binary data.
    Binary,
}

impl MessageKind {
    pub(crate) const fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// The opcode that starts a message of this kind.
///
/// ```
/// use protoswitch::ws::{MessageKind, OpCode};
/// assert_eq!(OpCode::from(MessageKind::Text), OpCode::Text);
/// ```
impl From<MessageKind> for OpCode {
    fn from(kind: MessageKind) -> OpCode {
        kind.opcode()
    }
}

/// A piece of a message: a whole frame, or part of a frame larger than
/// what the buffer held. Borrowed from the receive buffer, unmasked in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataChunk<'b> {
    /// Text or binary (continuations carry their message's kind).
    pub kind: MessageKind,
    /// The bytes (text chunks are valid UTF-8 so far, but a character may
    /// be split between chunks).
    pub payload: &'b [u8],
    /// The last chunk of its frame.
    pub frame_end: bool,
    /// The last chunk of its message.
    pub message_end: bool,
}

/// An event from [`Connection::receive`](super::Connection::receive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'b> {
    /// Message data.
    Data(DataChunk<'b>),
    /// A Ping and its payload (answered by the machine unless `auto_pong`
    /// is off).
    Ping(&'b [u8]),
    /// A Pong and its payload.
    Pong(&'b [u8]),
    /// The peer's Close: code (absent in an empty Close) and reason. The
    /// machine queued the echo.
    Close {
        /// The close code.
        code: Option<u16>,
        /// The reason, valid UTF-8.
        reason: &'b str,
    },
}

/// Where caller-side masking keys come from (a client masks every frame
/// with a fresh key, RFC 6455 §5.3). Closures `FnMut() -> [u8; 4]`
/// implement it.
pub trait MaskSource {
    /// Four unpredictable bytes.
    fn mask_key(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4]> MaskSource for F {
    fn mask_key(&mut self) -> [u8; 4] {
        self()
    }
}

/// The mask source of a server, which never masks.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMask;

impl MaskSource for NoMask {
    fn mask_key(&mut self) -> [u8; 4] {
        [0; 4]
    }
}
