//! [`WebSocketStream`]: the core's I/O loop as a `Stream` + `Sink`.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use protoswitch::OsRandom;
use protoswitch::ws::{
    CloseCause, Connection, Event, FrameHeader, IdleTimer, MIN_TRANSMIT_BUFFER, MessageKind,
    NoMask, OnExceeded, OpCode, RateLimit, RateLimiter, RateVerdict, State, apply_mask, code,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Sleep;

use crate::log::log;
use crate::message::Utf8Bytes;
use crate::sizing::{self, ReadSizing};
use crate::{Error, Message};

/// Uncompressed payloads from this size on are written from the message
/// itself (vectored with their header); smaller ones are copied into the
/// coalescing buffer, where a copy is cheaper than a second iovec.
const LARGE_PAYLOAD: usize = 4096;

/// The core machine of either role (a server's never masks; a client's
/// masks with keys from the operating system). The client's is boxed: its
/// key pool would double every server's size.
// The server's machine stays inline: servers hold thousands of them.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Machine {
    Server(Connection<NoMask>),
    Client(Box<Connection<OsRandom>>),
}

#[cfg(test)]
thread_local! {
    /// The receive step's shortcut is left out on this thread (the unit
    /// test that compares it with the general path).
    static SHORTCUT_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Messages the shortcut handed out on this thread (that test's
    /// check that its inputs reach it).
    static SHORTCUT_TAKEN: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The receive step's shortcut is taken (always, outside the unit test
/// that compares it with the general path).
#[inline(always)]
fn shortcut_on() -> bool {
    #[cfg(test)]
    return !SHORTCUT_OFF.with(std::cell::Cell::get);
    #[cfg(not(test))]
    return true;
}

/// Calls the same method on either role's machine.
macro_rules! on {
    ($machine:expr, $c:ident => $e:expr) => {
        match $machine {
            Machine::Server($c) => $e,
            Machine::Client($c) => $e,
        }
    };
}

/// Room in the write queue, past the write limit, for the frames the
/// machine owes (a Pong, its Ping, a Close): they are moved into the queue
/// while it is shorter than the limit and this.
const OWED_QUEUE: usize = 3 * MIN_TRANSMIT_BUFFER;

/// The core's clock on tokio's (which `tokio::time::pause` controls).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    origin: tokio::time::Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock {
            origin: tokio::time::Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> protoswitch::Instant {
        protoswitch::Instant::from_elapsed(
            tokio::time::Instant::now().saturating_duration_since(self.origin),
        )
    }

    fn to_tokio(self, t: protoswitch::Instant) -> tokio::time::Instant {
        self.origin + t.elapsed()
    }
}

/// The outgoing bytes: frames coalesced in `buf[start..end]`, then at most
/// one large payload written after them without a copy.
#[derive(Debug, Default)]
struct WriteQueue {
    /// Initialized storage, grown (zero-filled) only when a frame does not
    /// fit; freed once drained when larger than [`sizing::KEEP_WRITE`].
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A large payload whose header ends `buf[..end]`.
    large: Option<Bytes>,
    large_at: usize,
}

impl WriteQueue {
    /// Bytes waiting.
    fn len(&self) -> usize {
        self.end - self.start + self.large.as_ref().map_or(0, |l| l.len() - self.large_at)
    }

    /// `n` writable bytes at the end (moving unsent bytes to the front
    /// when that makes room, growing the storage otherwise).
    // The usual answer (they fit) inlined at the call, the rest out of
    // line (echo_ir: a call of 32 instructions per 20-byte echo).
    #[inline(always)]
    fn room(&mut self, n: usize) -> &mut [u8] {
        debug_assert!(self.large.is_none(), "nothing goes after a large payload");
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if self.end + n <= self.buf.len() {
            return &mut self.buf[self.end..self.end + n];
        }
        self.make_room(n)
    }

    /// [`room`](Self::room) when the bytes do not fit behind the unsent
    /// ones as they lie (an empty queue already starts at 0).
    #[inline(never)]
    fn make_room(&mut self, n: usize) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end + n > self.buf.len() {
            let grown = (self.end + n).max(self.buf.len() * 2);
            self.buf.resize(grown, 0);
        }
        &mut self.buf[self.end..self.end + n]
    }

    /// `n` bytes of [`room`](Self::room) were written.
    fn commit(&mut self, n: usize) {
        self.end += n;
    }

    /// `n` bytes were written to the transport.
    fn advance(&mut self, n: usize) {
        let head = (self.end - self.start).min(n);
        self.start += head;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
            if self.buf.len() > sizing::KEEP_WRITE {
                self.buf = Vec::new();
            }
        }
        if let Some(large) = &self.large {
            self.large_at += n - head;
            if self.large_at == large.len() {
                self.large = None;
                self.large_at = 0;
            }
        }
    }
}

/// The peer's Close: its code (absent in an empty Close) and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code, e.g. 1000.
    pub code: Option<u16>,
    /// The reason (valid UTF-8, at most 123 bytes).
    pub reason: String,
}

/// A WebSocket connection over `S`: a [`Stream`] of received [`Message`]s
/// and a [`Sink`] of messages to send. Built by [`accept`](crate::accept)
/// or [`connect`](crate::connect).
///
/// # Driving it
///
/// `poll_next` is the engine: it reads, answers Pings, echoes the peer's
/// Close, runs the keepalive and close timers, and writes what the
/// connection owes. Keep polling the stream (for example `next()` in a
/// `select!` loop) even when you only send, or Pings go unanswered.
/// `poll_flush` also writes owed frames and runs the timers.
///
/// # Close semantics
///
/// * The peer closes: its Close is echoed, [`close_frame`](Self::close_frame)
///   holds its code and reason, and the stream ends with `None` once the
///   transport is shut down (a server shuts down right after the echo; a
///   client waits for the server to, at most the close timeout).
/// * You close: [`Sink::poll_close`] (`SinkExt::close`) sends Close 1000,
///   or [`close`](Self::close) a code and reason of yours; both then
///   complete the handshake inside — messages the peer sends before its
///   Close are dropped — and shut the transport down. To read those
///   messages instead, call [`start_close`](Self::start_close) and poll the
///   stream until `None`.
/// * Abnormal ends (transport ended without a Close, a protocol error,
///   keepalive or close timeout) come out of the stream as one
///   `Some(Err(_))` ([`Error::Closed`] or [`Error::Protocol`]), then `None`.
///   A protocol error still sends the Close with the error's code first.
/// * A peer that stops reading cannot keep the connection: once it has
///   ended (or `close` waits for a large payload to go first), the last
///   bytes get the close timeout; then the transport is dropped with them
///   unsent, without a graceful shutdown (none if the keepalive or the
///   close timeout ended it: the peer is gone). The stream reports the
///   end as it was, or [`Error::Io`] (`TimedOut`) if it was clean so far.
/// * After the stream ended, sending is [`Error::AlreadyClosed`].
///
/// # Cancel safety
///
/// Every poll method keeps its progress in the stream, never in the
/// future: dropping a `next()`, `send()` or `flush()` future at an
/// `.await` point loses nothing. A message half received stays in the
/// receive buffer (and the chunks gathered so far) and comes out of the
/// next `next()`; a message accepted by `start_send` is queued and goes
/// out with the next flush. (`SinkExt::send` that is dropped before `poll_ready`
/// returned ready has not taken its message: it is dropped with the
/// future, as for every `Sink`.)
#[derive(Debug)]
pub struct WebSocketStream<S> {
    io: S,
    machine: Machine,
    clock: Clock,
    /// The bytes read and not yet consumed; messages in one frame are
    /// split off it.
    recv: BytesMut,
    /// How `recv` is sized to the traffic.
    read_sizing: ReadSizing,
    /// The largest frame kept whole in `recv`
    /// ([`Options::read_buffer_size`](crate::Options::read_buffer_size)).
    read_max: usize,
    /// The largest data frame the machine accepts (its frame and message
    /// limits): larger ones are not kept (the machine fails them).
    frame_limit: u64,
    /// Room for inflated data (empty without permessage-deflate), grown
    /// up to `inflate_max`.
    inflated: Vec<u8>,
    inflate_max: usize,
    /// The last receive returned an event: call again even without new
    /// bytes (an inflater may hold more).
    again: bool,
    /// The last receive needed more bytes than are buffered: no receive
    /// until a read brings some (or the machine wrote something). The
    /// machine counts every call with bytes as keepalive traffic, so
    /// calling it again with the same bytes at each timer's wake-up would
    /// keep a peer that sent part of a frame alive forever.
    needs_bytes: bool,
    /// A message received in several chunks (fragmented, larger than the
    /// buffer, or inflated in parts), gathered.
    gather: BytesMut,
    /// A message's chunks are being gathered.
    in_message: bool,
    /// The machine is inside a data frame (its last chunk did not end it):
    /// the buffer does not start with a header, unless the frame is kept.
    mid_frame: bool,
    /// The first bytes of `recv` are a one-frame message the machine is
    /// receiving, kept where they are: its header, then its payload so far,
    /// unmasked. The machine decodes `recv[kept..]`; once the frame ends,
    /// the payload is split off without a copy. (0: none kept.)
    kept: usize,
    /// The kept frame's header length: where its payload starts.
    kept_header: usize,
    out: WriteQueue,
    write_limit: usize,
    /// Our messages are compressed: `send_text` / `send_binary`.
    compress: bool,
    deflate: Option<protoswitch::upgrade::DeflateParams>,
    subprotocol: Option<String>,
    sleep: Pin<Box<Sleep>>,
    armed: Option<protoswitch::Instant>,
    close_frame: Option<CloseFrame>,
    /// An I/O error that ended the connection, reported once.
    io_error: Option<io::Error>,
    /// The transport was shut down (or given up: see `flush_expired`).
    shut: bool,
    /// The last bytes' deadline, once the connection ended or is closing
    /// while bytes wait for a peer that does not read: the close timeout
    /// after the machine said to close the transport (or `close` began to
    /// flush a large payload). Past it, `flush_expired`.
    flush_deadline: Option<protoswitch::Instant>,
    /// The last bytes are given up: the transport is not shut down
    /// gracefully (that could wait on the same peer) but dropped with the
    /// stream, with what is left unsent.
    flush_expired: bool,
    /// The stream returned its last item.
    finished: bool,
    /// The policies (idle timeout, rate limit) and a policy's Close;
    /// none on most connections.
    policies: Option<Box<Policies>>,
}

/// What the policies of [`Options`](crate::Options) (idle timeout, rate
/// limit) keep, and a Close by policy with its error to report. Boxed
/// apart from the stream: a connection with neither policy has none
/// until something closes it by policy, and its per-message checks look
/// at one pointer (the stream is also 160 bytes smaller).
#[derive(Debug, Default)]
struct Policies {
    /// [`Options::idle_timeout`](crate::Options::idle_timeout).
    idle: Option<IdleTimer>,
    /// [`Options::rate_limit`](crate::Options::rate_limit).
    limiter: Option<RateLimiter>,
    /// Over the rate limit with backpressure: nothing is read or
    /// processed until then.
    paused_until: Option<protoswitch::Instant>,
    /// A policy (idle timeout, rate limit) closed the connection: reported
    /// once by the stream, which then completes the closing handshake.
    error: Option<Error>,
    /// A policy Close that waits for a large payload to be written.
    pending_close: Option<(u16, &'static str, Error)>,
}

/// What the handshake hands to the stream.
pub(crate) struct Parts {
    pub(crate) machine: Machine,
    pub(crate) clock: Clock,
    pub(crate) recv: BytesMut,
    pub(crate) deflate: Option<(
        protoswitch::upgrade::DeflateConfig,
        protoswitch::upgrade::DeflateParams,
    )>,
    pub(crate) subprotocol: Option<String>,
    pub(crate) write_limit: usize,
    /// The largest read and inflate buffers
    /// ([`Options::read_buffer_size`](crate::Options::read_buffer_size)).
    pub(crate) read_max: usize,
    pub(crate) idle_timeout: Option<std::time::Duration>,
    pub(crate) rate_limit: Option<RateLimit>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    pub(crate) fn new(io: S, parts: Parts) -> Self {
        let Parts {
            mut machine,
            clock,
            recv,
            deflate,
            subprotocol,
            write_limit,
            read_max,
            idle_timeout,
            rate_limit,
        } = parts;
        let mut inflated = Vec::new();
        let mut compress = false;
        if let Some((config, params)) = &deflate {
            machine = match machine {
                Machine::Server(c) => Machine::Server(c.with_deflate(config, *params)),
                Machine::Client(c) => Machine::Client(Box::new(c.with_deflate(config, *params))),
            };
            inflated = vec![0; sizing::INITIAL_READ.min(read_max).max(1)];
            compress = config.compress;
        }
        let read_sizing = ReadSizing::new(read_max, &recv);
        let config = on!(&machine, c => c.config());
        let frame_limit = config.max_frame_payload.min(config.max_message_size);
        let far = tokio::time::Instant::now() + std::time::Duration::from_secs(86_400 * 365);
        let now = clock.now();
        WebSocketStream {
            io,
            machine,
            clock,
            recv,
            read_sizing,
            read_max,
            frame_limit,
            inflated,
            inflate_max: read_max.max(1),
            again: false,
            needs_bytes: false,
            gather: BytesMut::new(),
            in_message: false,
            mid_frame: false,
            kept: 0,
            kept_header: 0,
            out: WriteQueue::default(),
            write_limit,
            compress,
            deflate: deflate.map(|(_, p)| p),
            subprotocol,
            sleep: Box::pin(tokio::time::sleep_until(far)),
            armed: None,
            close_frame: None,
            io_error: None,
            shut: false,
            flush_deadline: None,
            flush_expired: false,
            finished: false,
            policies: (idle_timeout.is_some() || rate_limit.is_some()).then(|| {
                Box::new(Policies {
                    idle: idle_timeout.map(|limit| IdleTimer::new(limit, now)),
                    limiter: rate_limit.map(|limit| RateLimiter::new(limit, now)),
                    ..Policies::default()
                })
            }),
        }
    }

    /// The subprotocol the handshake agreed, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// What permessage-deflate agreed, when it is on.
    pub fn deflate(&self) -> Option<protoswitch::upgrade::DeflateParams> {
        self.deflate
    }

    /// The peer's Close, once it arrived.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.close_frame.as_ref()
    }

    /// Why the connection closed, once it did.
    pub fn close_cause(&self) -> Option<CloseCause> {
        on!(&self.machine, c => c.close_cause())
    }

    /// The connection machine's state.
    pub fn state(&self) -> State {
        on!(&self.machine, c => c.state())
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.out.len()
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Queues our Close with `code` and `reason` (at most 123 bytes) and
    /// returns: poll the stream to read what the peer still sends, until
    /// `None` (the handshake complete). Sending afterwards is
    /// [`Error::AlreadyClosed`]. Nothing is written until the stream or the
    /// sink is polled.
    pub fn start_close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        if self.out.large.is_some() {
            // A large payload ends the queue: let it go first (the Close
            // is queued by `close`/`poll_close` after it).
            return Err(io::Error::other("a large payload is still queued: flush first").into());
        }
        if self.state() != State::Open {
            return Err(Error::AlreadyClosed);
        }
        let now = self.clock.now();
        let room = self.out.room(MIN_TRANSMIT_BUFFER);
        let n = on!(&mut self.machine, c => c.send_close(Some(code), reason, now, room))?;
        self.out.commit(n);
        // The answer must be read: a rate-limit pause ends here.
        self.end_pause();
        log!(debug, code, reason, "our Close queued");
        Ok(())
    }

    /// Closes with `code` and `reason`: flushes what is queued, sends the
    /// Close, completes the closing handshake (dropping messages that
    /// arrive meanwhile) and shuts the transport down.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_close_with(cx, code, reason)).await
    }

    /// The sink would take a message now (what `poll_ready` waits for): no
    /// large payload queued and at most the write limit waiting.
    pub(crate) fn takes_message(&self) -> bool {
        self.out.large.is_none() && self.out.len() <= self.write_limit
    }

    /// The stream returned its last item.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Moves the frames the machine owes into the queue (not behind a
    /// large payload: they wait in the machine until it is written), while
    /// the queue holds less than the write limit and [`OWED_QUEUE`] more:
    /// past it, they wait in the machine too, which keeps one Pong (for
    /// the latest Ping, RFC 6455 §5.5.3), one Ping and one Close. A peer
    /// that sends Pings and never reads would otherwise grow the queue by
    /// a Pong per Ping, without bound.
    // The question inlined (asked at every write, mostly with nothing
    // owed), the moving out of line: inlined whole, its loop made every
    // write save registers and set up its addresses (echo_ir: 960 -> 942
    // instructions per 20-byte echo).
    #[inline(always)]
    fn queue_owed(&mut self) {
        if self.out.large.is_none() && on!(&self.machine, c => c.wants_transmit()) {
            self.move_owed();
        }
    }

    /// The moving of [`queue_owed`](Self::queue_owed).
    #[inline(never)]
    fn move_owed(&mut self) {
        while on!(&self.machine, c => c.wants_transmit())
            && self.out.len() < self.write_limit.saturating_add(OWED_QUEUE)
        {
            let room = self.out.room(MIN_TRANSMIT_BUFFER);
            let n = on!(&mut self.machine, c => c.poll_transmit(room));
            if n == 0 {
                // Not expected (`room` is never empty): do not spin.
                return;
            }
            self.out.commit(n);
            // A Ping held while its Pong was half out may decode now.
            self.needs_bytes = false;
        }
    }

    /// Writes the queue (and what the machine owes) until it is empty.
    // The test inlined at each call, the loop out of line: as one function
    // (inlined nowhere) each of the two calls per 20-byte echo with nothing
    // to write saved and restored six registers (echo_ir: 1,388 -> 1,325
    // instructions per echo).
    #[inline(always)]
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Called at every turn of reading and flushing, mostly with
        // nothing to write: answered here, without the writing loop.
        if self.nothing_to_write() {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_queue(cx)
    }

    /// Nothing queued and nothing owed by the machine.
    #[inline(always)]
    fn nothing_to_write(&self) -> bool {
        self.out.len() == 0 && !on!(&self.machine, c => c.wants_transmit())
    }

    /// The writing loop of [`poll_write_out`](Self::poll_write_out).
    #[inline(never)]
    fn poll_write_queue(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            self.queue_owed();
            let q = &self.out;
            let head = &q.buf[q.start..q.end];
            let written = match &q.large {
                None if head.is_empty() => return Poll::Ready(Ok(())),
                None => Pin::new(&mut self.io).poll_write(cx, head),
                Some(large) if head.is_empty() => {
                    Pin::new(&mut self.io).poll_write(cx, &large[q.large_at..])
                }
                Some(large) => {
                    let parts = [IoSlice::new(head), IoSlice::new(&large[q.large_at..])];
                    Pin::new(&mut self.io).poll_write_vectored(cx, &parts)
                }
            };
            match ready!(written)? {
                0 => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                n => self.out.advance(n),
            }
            // All written and nothing owed (the usual end): answered
            // without another turn's preparations.
            if self.nothing_to_write() {
                return Poll::Ready(Ok(()));
            }
        }
    }

    /// The earliest of the machine's deadline, the idle timeout's (while
    /// open), the end of a rate-limit pause and the last bytes' deadline.
    // Always inlined: one more deadline made the compiler leave it out of
    // line, a call at every flush (+30 instructions per 20-byte echo).
    #[inline(always)]
    fn next_deadline(&self) -> Option<protoswitch::Instant> {
        // Asked at every flush: plain comparisons, the usual answer being
        // "none" (no keepalive, idle timeout or pause configured).
        let earliest = |a: Option<protoswitch::Instant>, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut next = on!(&self.machine, c => c.poll_timeout());
        if let Some(p) = &self.policies {
            if let Some(idle) = &p.idle {
                if self.state() == State::Open {
                    next = earliest(next, Some(idle.deadline()));
                }
            }
            next = earliest(next, p.paused_until);
        }
        earliest(next, self.flush_deadline)
    }

    /// Polls the next deadline; at it, runs what is due: the machine's
    /// `handle_timeout`, the idle timeout's Close 1001, the end of a
    /// pause. `Ready` when something was due.
    #[inline]
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // Asked at every flush and before every read, usually with no
        // deadline at all: answered here, without the timer's work.
        match self.next_deadline() {
            None => Poll::Pending,
            Some(deadline) => self.poll_deadline(cx, deadline),
        }
    }

    /// [`poll_timer`](Self::poll_timer) with a deadline.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: protoswitch::Instant) -> Poll<()> {
        if self.armed != Some(deadline) {
            self.sleep.as_mut().reset(self.clock.to_tokio(deadline));
            self.armed = Some(deadline);
        }
        ready!(self.sleep.as_mut().poll(cx));
        self.armed = None;
        // The sleep ended at the deadline: never earlier than it, even if
        // the clocks round differently.
        let now = self.clock.now().max(deadline);
        if on!(&self.machine, c => c.poll_timeout()).is_some_and(|t| t <= now) {
            on!(&mut self.machine, c => c.handle_timeout(now));
        }
        let open = self.state() == State::Open;
        let mut idle_expired = false;
        if let Some(p) = &mut self.policies {
            if p.paused_until.is_some_and(|t| t <= now) {
                p.paused_until = None;
            }
            if open && p.idle.is_some_and(|idle| idle.is_expired(now)) {
                // Once: the Close is queued (or waits for a large payload).
                p.idle = None;
                idle_expired = true;
            }
        }
        if self.flush_deadline.is_some_and(|t| t <= now) {
            // Expired only if bytes still wait (a `close` cancelled after
            // its large payload went out leaves nothing to give up).
            self.flush_deadline = None;
            self.flush_expired = self.out.len() > 0;
        }
        if idle_expired {
            self.close_for_policy(code::GOING_AWAY, "idle timeout", Error::IdleTimeout);
        }
        Poll::Ready(())
    }

    /// One receive step for the policies: data (`data`) is activity for
    /// the idle timeout; the rate limit's `verdict` on the step
    /// ([`RateLimiter::record_received`]) is acted on.
    fn account(&mut self, data: bool, verdict: Option<RateVerdict>, now: protoswitch::Instant) {
        let open = self.state() == State::Open;
        let Some(p) = &mut self.policies else { return };
        if let (Some(idle), true) = (&mut p.idle, data) {
            idle.activity(now);
        }
        if let Some(RateVerdict::Exceeded { resume_at }) = verdict {
            if !open {
                // Closing: the Close and what comes before it are read
                // as they come.
                return;
            }
            match p.limiter.map(|l| l.limit().on_exceeded) {
                Some(OnExceeded::Close) => {
                    self.close_for_policy(code::POLICY, "rate limit exceeded", Error::RateLimited)
                }
                _ => {
                    // Our own pause: the timers wait for what it holds
                    // back (a Pong; data, for the idle timeout).
                    p.paused_until = Some(resume_at);
                    if let Some(idle) = &mut p.idle {
                        idle.activity(resume_at);
                    }
                    on!(&mut self.machine, c => c.pause_reading(resume_at, now));
                }
            }
        }
    }

    /// The policies' state, made if there was none (a Close by policy on a
    /// connection without policies: see [`lost_kept_frame`](Self::lost_kept_frame)).
    fn policies(&mut self) -> &mut Policies {
        self.policies.get_or_insert_with(Box::default)
    }

    /// A rate-limit pause lasts: nothing is read or processed.
    fn paused(&self) -> bool {
        self.policies
            .as_ref()
            .is_some_and(|p| p.paused_until.is_some())
    }

    /// Ends a rate-limit pause, if one lasts.
    fn end_pause(&mut self) {
        if let Some(p) = &mut self.policies {
            p.paused_until = None;
        }
    }

    /// Starts the closing handshake with `code` because of a policy, and
    /// keeps `error` for the stream to report.
    fn close_for_policy(&mut self, code: u16, reason: &'static str, error: Error) {
        log!(info, code, reason, "closing by policy");
        self.end_pause();
        if self.start_close(code, reason).is_ok() {
            self.policies().error = Some(error);
        } else if self.out.large.is_some() {
            // A large payload is still queued: the Close waits for it.
            self.policies().pending_close = Some((code, reason, error));
        }
    }

    /// A chunk did not continue the frame kept in `recv` (not expected
    /// from the machine): the message cannot be completed. The connection
    /// fails as the core fails one, with Close 1011 (internal error),
    /// after the frames queued; the error comes out of the stream once,
    /// then the closing handshake goes on. `taken`: the bytes of `recv`
    /// the machine has consumed, let go.
    #[cold]
    #[inline(never)]
    fn lost_kept_frame(&mut self, taken: usize) {
        self.recv.advance(taken);
        self.kept = 0;
        self.gather = BytesMut::new();
        self.in_message = false;
        let lost = "protoswitch-tokio: a chunk that does not continue the frame being received";
        let error = Error::Io(io::Error::other(lost));
        if self.state() == State::Open {
            self.close_for_policy(code::INTERNAL_ERROR, "internal error", error);
        } else {
            // Closing already: the handshake under way ends it.
            self.policies().error = Some(error);
        }
    }

    fn should_close_transport(&self) -> bool {
        on!(&self.machine, c => c.should_close_transport())
    }

    /// The deadline of the last bytes, once: the close timeout from now,
    /// or none at all when the connection ended because the peer did not
    /// answer (keepalive) or did not close in time (close timeout): it
    /// will not read them either.
    // Cold: the end of a connection whose peer does not read. Out of line,
    // so that the reading loop stays as small as it was.
    #[cold]
    #[inline(never)]
    fn arm_final_flush(&mut self) {
        match self.close_cause() {
            Some(CloseCause::PeerUnresponsive | CloseCause::CloseTimedOut) => {
                self.flush_expired = true;
            }
            _ => self.arm_flush_deadline(),
        }
    }

    /// `flush_deadline`: the close timeout from now, unless armed (or
    /// expired) already.
    pub(crate) fn arm_flush_deadline(&mut self) {
        if self.flush_deadline.is_some() || self.flush_expired {
            return;
        }
        let timeout = on!(&self.machine, c => c.config()).close_timeout;
        let now = self.clock.now();
        self.flush_deadline = Some(protoswitch::Instant::from_elapsed(
            now.elapsed().saturating_add(timeout),
        ));
    }

    /// No deadline for what is queued (our Close follows it now: the
    /// machine's close timer runs).
    pub(crate) fn disarm_flush_deadline(&mut self) {
        self.flush_deadline = None;
    }

    /// The last bytes are not written: the transport is dropped with the
    /// stream. The stream then reports the connection's end as it was,
    /// or, if it was clean so far, that the peer stopped reading.
    #[cold]
    #[inline(never)]
    fn give_up_flush(&mut self) {
        let clean = matches!(
            self.close_cause(),
            None | Some(CloseCause::Handshake { .. })
        );
        if clean && self.io_error.is_none() {
            let unsent = self.out.len();
            self.io_error = Some(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "protoswitch-tokio: the peer stopped reading; \
                     {unsent} bytes left unsent after the close timeout"
                ),
            ));
        }
        if self.state() != State::Closed {
            let _ = on!(&mut self.machine, c => c.receive_eof());
        }
        log!(debug, unsent = self.out.len(), "last bytes given up");
        self.out = WriteQueue::default();
        self.flush_deadline = None;
        self.shut = true;
    }

    /// Before our Close: what is queued goes first when it must (a large
    /// payload, which the Close cannot follow in the queue), within the
    /// close timeout; small frames stay queued ahead of the Close, which
    /// then starts the machine's close timer at once.
    fn poll_flush_before_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if self.out.large.is_none() {
                self.flush_deadline = None;
                return Poll::Ready(Ok(()));
            }
            self.arm_flush_deadline();
            match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                Poll::Pending => {}
            }
            if self.flush_expired {
                self.give_up_flush();
                self.finished = true;
                return Poll::Ready(Err(self.end_error().unwrap_or(Error::AlreadyClosed)));
            }
            if self.poll_timer(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// The error that ended the connection, if it did not end cleanly.
    fn end_error(&mut self) -> Option<Error> {
        if let Some(e) = self.io_error.take() {
            return Some(Error::Io(e));
        }
        match self.close_cause()? {
            CloseCause::Handshake { .. } => None,
            CloseCause::Failed(e) => Some(e.into()),
            cause => Some(Error::Closed(cause)),
        }
    }

    /// The transport ended (or broke): the machine decides whether that
    /// was the end of a clean handshake.
    fn transport_ended(&mut self, error: Option<io::Error>) {
        let clean_so_far = on!(&mut self.machine, c => c.receive_eof()).is_ok();
        if !clean_so_far && self.io_error.is_none() {
            self.io_error = error;
        }
        if self.state() != State::Closed {
            // Not expected from the core; end anyway.
            self.io_error
                .get_or_insert_with(|| io::ErrorKind::UnexpectedEof.into());
        }
        self.shut = true;
    }

    /// The I/O loop of the core's docs, once per message.
    pub(crate) fn poll_next_inner(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        // The clock is read once per batch of bytes, not per event, and
        // only when something looks at it (below).
        let clock = self.clock;
        let mut now = None;
        loop {
            if self.finished {
                return Poll::Ready(None);
            }
            // 1. What the machine owes goes out; a slow transport does not
            //    stop reading (the machine bounds what it owes).
            let flushed = match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => true,
                Poll::Ready(Err(e)) => {
                    self.transport_ended(Some(e));
                    self.out = WriteQueue::default();
                    true
                }
                Poll::Pending => false,
            };
            // 2. The end: shut the transport down, report how it ended.
            //    Once the peer closed or the connection ended, a peer that
            //    does not read gets the close timeout for the last bytes
            //    (none if it is already known dead).
            //    (A split writer's `close` may have given them the close
            //    timeout already.)
            if !flushed && !self.shut {
                if matches!(self.state(), State::CloseReceived | State::Closed) {
                    self.arm_final_flush();
                }
                if self.flush_expired {
                    self.give_up_flush();
                }
            }
            if self.shut || (flushed && self.should_close_transport()) {
                if !self.shut {
                    // Errors here do not change how the connection ended.
                    let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                    self.shut = true;
                }
                self.finished = true;
                log!(info, cause = ?self.close_cause(), "connection closed");
                return Poll::Ready(self.end_error().map(Err));
            }
            // 3. A policy closed the connection: say so once, then go on
            //    with the closing handshake.
            if let Some(p) = &mut self.policies {
                if self.out.large.is_none() {
                    if let Some((code, reason, error)) = p.pending_close.take() {
                        self.close_for_policy(code, reason, error);
                        continue;
                    }
                }
                if let Some(error) = p.error.take() {
                    return Poll::Ready(Some(Err(error)));
                }
            }
            // 4. Nothing buffered for the machine (or a rate-limit pause
            //    lasts): the timers, then more bytes, into the one
            //    buffer's spare capacity (sized to the traffic: `sizing`).
            //    Bytes read go straight to step 5: a read changes nothing
            //    that steps 1-3 look at (echo_ir: -53 instructions per
            //    echo against a turn through them).
            let receivable = ((self.recv.len() > self.kept && !self.needs_bytes) || self.again)
                && !self.paused();
            if !receivable {
                if self.poll_timer(cx).is_ready() {
                    continue;
                }
                if self.paused() {
                    // The timer above wakes us at the pause's end.
                    return Poll::Pending;
                }
                let wanted = self.frame_wanted();
                let room = self.read_sizing.before_read(&mut self.recv, wanted);
                let read = std::pin::pin!(self.io.read_buf(&mut self.recv));
                let Poll::Ready(result) = read.poll(cx) else {
                    self.read_sizing.idle(&mut self.recv);
                    return Poll::Pending;
                };
                match result {
                    Ok(0) => {
                        self.transport_ended(None);
                        continue;
                    }
                    Ok(n) => {
                        self.read_sizing.after_read(&self.recv, n, room);
                        self.needs_bytes = false;
                        now = None;
                    }
                    Err(e) => {
                        self.transport_ended(Some(e));
                        continue;
                    }
                }
            }
            // 5. One receive. Every byte read reaches the machine as it
            //    arrives (its keepalive counts it as traffic); a message in
            //    one frame that arrives in several reads stays where it is
            //    (`kept`), to be handed out without a copy.
            // The clock is read only when the machine or a policy
            // looks at the time (by default neither does on a server).
            let now = if self.policies.is_some() || on!(&self.machine, c => c.receive_reads_now()) {
                *now.get_or_insert_with(|| clock.now())
            } else {
                protoswitch::Instant::ZERO
            };
            if let Some(item) = self.receive_step(now) {
                return Poll::Ready(Some(item));
            }
        }
    }

    /// Step 5 of [`poll_next_inner`](Self::poll_next_inner): one receive,
    /// at `now`. A message (or the error that ends the stream) to hand
    /// out, or `None` for another turn of the loop.
    // Out of line: the loop's steps 1-4 run at every turn and set up less
    // without this step's locals (echo_ir: 928 -> 896 per 20-byte echo).
    #[inline(never)]
    fn receive_step(&mut self, now: protoswitch::Instant) -> Option<Result<Message, Error>> {
        let kept = self.kept;
        let was_mid_frame = self.mid_frame;
        let input: &mut [u8] = &mut self.recv[kept..];
        let held = input.len();
        let base = input.as_ptr() as usize;
        let inflated_len = self.inflated.len();
        let got = on!(&mut self.machine, c => c.receive_into(input, &mut self.inflated, now));
        match got {
            Ok(got) => {
                let consumed = got.consumed;
                let had_event = got.event.is_some();
                // Without an inflater, an event with no bytes left
                // is the last one: no empty call after it.
                self.again = had_event && (inflated_len > 0 || consumed < held);
                // The usual event first: a whole message in one frame,
                // in the buffer, with nothing kept or gathered, no
                // policies and no permessage-deflate (its inflate buffer
                // is never empty). Split off and handed out as the steps
                // below would (`split`), without their bookkeeping
                // (echo_ir: -80 instructions per 20-byte echo, with the
                // freeze before the header is dropped). Its unit test
                // compares it with those steps.
                if let Some(Event::Data(chunk)) = &got.event {
                    let len = chunk.payload.len();
                    let at = (chunk.payload.as_ptr() as usize).wrapping_sub(base);
                    if shortcut_on()
                        && kept == 0
                        && chunk.frame_end
                        && chunk.message_end
                        && !self.in_message
                        && inflated_len == 0
                        && self.policies.is_none()
                        && len > 0
                        && at <= consumed
                        && len <= consumed - at
                        && self.read_sizing.pins_little(len)
                    {
                        let kind = chunk.kind;
                        #[cfg(test)]
                        SHORTCUT_TAKEN.with(|n| n.set(n.get() + 1));
                        self.mid_frame = false;
                        let payload = self.split_payload(at, at + len, consumed - (at + len));
                        return Some(Ok(received(kind, payload)));
                    }
                }
                let mut filled_inflated = false;
                let mut data = None;
                let mut message = None;
                // A whole message in the buffer: (start, end, kind).
                let mut split = None;
                // The kept frame ended without its message.
                let mut unkeep = false;
                // The first part of a frame, its payload at this
                // offset after its header: kept or gathered.
                let mut first_part = None;
                // The chunk continued the kept frame.
                let mut continued = false;
                // A chunk that does not continue the kept frame
                // (not expected from the machine).
                let mut desync = false;
                let verdict = self
                    .policies
                    .as_mut()
                    .and_then(|p| p.limiter.as_mut())
                    .map(|l| l.record_received(consumed, got.event.as_ref(), now));
                match got.event {
                    Some(Event::Data(chunk)) => {
                        let len = chunk.payload.len();
                        data = Some((len, chunk.message_end));
                        self.mid_frame = !chunk.frame_end;
                        // Where the payload lies in the buffer, if
                        // it does (an inflated one does not).
                        let at = (chunk.payload.as_ptr() as usize).wrapping_sub(base);
                        let in_recv = at <= consumed && len <= consumed - at;
                        filled_inflated = !in_recv && inflated_len > 0 && len == inflated_len;
                        if kept > 0 && !(in_recv && at == 0 && consumed == len) {
                            // Checked, not assumed: what is kept
                            // is handed out as the machine's text.
                            desync = true;
                        } else if kept > 0 {
                            // The kept frame goes on (nothing comes
                            // between the chunks of a frame): its
                            // payload follows what is kept.
                            continued = true;
                            self.kept += consumed;
                            if chunk.message_end {
                                split = Some((self.kept_header, self.kept, chunk.kind));
                            } else if chunk.frame_end {
                                // Not expected: only a final frame
                                // is kept. Its payload is gathered.
                                unkeep = true;
                            }
                        } else if !chunk.frame_end
                            && !self.in_message
                            && !was_mid_frame
                            && in_recv
                            && at + len == consumed
                        {
                            // Decided below, the header in reach.
                            first_part = Some(at);
                        } else if chunk.message_end && !self.in_message {
                            if len > 0 && in_recv && self.read_sizing.pins_little(len) {
                                split = Some((at, at + len, chunk.kind));
                            } else {
                                let bytes = Bytes::copy_from_slice(chunk.payload);
                                message = Some(received(chunk.kind, bytes));
                            }
                        } else {
                            self.gather.extend_from_slice(chunk.payload);
                            self.in_message = !chunk.message_end;
                            if chunk.message_end {
                                let bytes = std::mem::take(&mut self.gather).freeze();
                                message = Some(received(chunk.kind, bytes));
                            }
                        }
                    }
                    Some(Event::Close { code, reason }) => {
                        log!(debug, code = ?code, reason, "the peer's Close");
                        self.close_frame = Some(CloseFrame {
                            code,
                            reason: reason.to_owned(),
                        });
                    }
                    _ => {}
                }
                if verdict.is_some()
                    || (data.is_some() && self.policies.as_ref().is_some_and(|p| p.idle.is_some()))
                {
                    self.account(data.is_some(), verdict, now);
                }
                if desync {
                    self.lost_kept_frame(kept + consumed);
                    return None;
                }
                if kept > 0
                    && !continued
                    && (had_event
                        || consumed > 0
                        || matches!(self.state(), State::Closed | State::CloseReceived))
                {
                    // The machine no longer decodes the kept frame
                    // (it failed, or discards what follows a
                    // Close): let go of it and of what it consumed.
                    self.recv.advance(kept + consumed);
                    self.kept = 0;
                    self.mid_frame = false;
                } else if kept == 0
                    && !had_event
                    && consumed > 0
                    && !was_mid_frame
                    && !self.in_message
                    && matches!(self.state(), State::Open | State::CloseSent)
                    && self.keeps_frame(consumed)
                {
                    // A data frame's header read alone: kept, so
                    // that its payload follows it in place.
                    self.kept = consumed;
                    self.kept_header = consumed;
                    self.mid_frame = true;
                } else if kept == 0
                    && !had_event
                    && consumed > 0
                    && matches!(self.state(), State::Open | State::CloseSent)
                {
                    // Bytes taken without an event are inside a data
                    // frame (a header read alone and not kept, or
                    // compressed bytes that inflated to nothing):
                    // what follows them is no header.
                    self.mid_frame = true;
                }
                if let Some(at) = first_part {
                    if self.keeps_frame(at) {
                        // The first chunk of a message in one
                        // frame: kept, header and all.
                        self.kept = consumed;
                        self.kept_header = at;
                    } else {
                        self.gather.extend_from_slice(&self.recv[at..consumed]);
                        self.in_message = true;
                    }
                }
                if unkeep {
                    let payload = &self.recv[self.kept_header..self.kept];
                    self.gather.extend_from_slice(payload);
                    self.in_message = true;
                    self.recv.advance(self.kept);
                    self.kept = 0;
                }
                if let Some((start, end, kind)) = split {
                    // Offsets in the machine's input, or (a kept
                    // frame) in the buffer, where that input began
                    // after the kept bytes.
                    let rest = if kept > 0 { 0 } else { consumed - end };
                    if kept > 0 && !self.read_sizing.pins_little(end - start) {
                        // A small message in a buffer since grown:
                        // a copy, not a pin of the whole storage.
                        let bytes = Bytes::copy_from_slice(&self.recv[start..end]);
                        message = Some(received(kind, bytes));
                        self.recv.advance(end);
                    } else {
                        // No copy.
                        message = Some(received(kind, self.split_payload(start, end, rest)));
                    }
                    self.kept = 0;
                } else if self.kept == 0 && kept == 0 {
                    self.recv.advance(consumed);
                }
                if filled_inflated {
                    sizing::grow_inflated(&mut self.inflated, inflated_len, self.inflate_max);
                }
                if let Some(message) = message {
                    return Some(Ok(message));
                }
                if had_event {
                    // What it owes (a Pong, a Close) goes out next.
                    return None;
                }
                self.needs_bytes = true;
            }
            // The machine is Closed and owes the Close with the
            // error's code: the next turn sends it.
            Err(protoswitch::Error::Peer(_)) => {
                self.again = false;
                self.needs_bytes = false;
                // What was kept or gathered of a message will not
                // be completed: let it go.
                self.recv.advance(self.kept);
                self.kept = 0;
                self.mid_frame = false;
                self.gather = BytesMut::new();
                self.in_message = false;
                return None;
            }
            Err(e) => {
                self.finished = true;
                return Some(Err(e.into()));
            }
        }
        None
    }

    /// `recv[start..end]` (a payload behind its header) split off the
    /// front of the receive buffer, header and all, and the `rest` the
    /// machine consumed after it dropped, without a copy: the message
    /// shares the buffer's storage, which comes back to the buffer once
    /// the message is dropped (`sizing`).
    #[inline(always)]
    fn split_payload(&mut self, start: usize, end: usize, rest: usize) -> Bytes {
        // Frozen before the header is dropped from its front:
        // `Bytes::advance` is a pointer bump, `BytesMut`'s asks what it
        // shares (a call even for nothing: skipped then).
        let mut payload = self.recv.split_to(end).freeze();
        payload.advance(start);
        if rest > 0 {
            self.recv.advance(rest);
        }
        payload
    }

    /// The size of the frame at the start of the buffer, when the buffer
    /// is to hold all of it (its room grows towards it as the bytes
    /// arrive: `ReadSizing::before_read`): a whole message in one
    /// uncompressed frame (FIN, text or binary, between
    /// messages) within the machine's
    /// limits and the read buffer's, not all read yet — the frame kept
    /// while the machine receives it, or one whose header starts the
    /// buffer. Anything else (a control frame, a fragment, a frame the
    /// machine will refuse, a partial header) needs no room of its own.
    fn frame_wanted(&self) -> Option<usize> {
        // No header yet (the usual case before a read: the last message
        // was split off), answered before the rule's questions.
        if self.recv.len() < 2 {
            return None;
        }
        let at_header = self.kept > 0 || !(self.mid_frame || self.in_message);
        if !at_header {
            return None;
        }
        let (_, total) = self.one_frame_message(&self.recv)?;
        (total > self.recv.len()).then_some(total)
    }

    /// Whether the data frame whose header is `recv[..header_len]`, and
    /// whose first part the machine just handed out, is kept in place
    /// until it ends ([`kept`](Self::kept)): a message in one frame that
    /// the buffer will hold whole (the rule of
    /// [`frame_wanted`](Self::frame_wanted)). Asked only then, not at
    /// every receive: most messages come whole out of one.
    fn keeps_frame(&self, header_len: usize) -> bool {
        self.one_frame_message(&self.recv[..header_len])
            .is_some_and(|(n, _)| n == header_len)
    }

    /// The header length and whole size of the frame whose header starts
    /// `bytes`, when the buffer is to hold it whole: a message in one
    /// uncompressed frame (FIN, text or binary) within the machine's limits
    /// and the read buffer's size. The one rule of
    /// [`frame_wanted`](Self::frame_wanted) and
    /// [`keeps_frame`](Self::keeps_frame).
    fn one_frame_message(&self, bytes: &[u8]) -> Option<(usize, usize)> {
        let role = on!(&self.machine, c => c.role());
        let (header, n) = FrameHeader::decode(bytes, role, 0).ok()??;
        let total = n as u64 + header.payload_len;
        let held_whole = header.fin
            && matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && header.payload_len <= self.frame_limit
            && total <= self.read_max as u64;
        held_whole.then_some((n, total as usize))
    }

    /// `poll_close`: our Close (1000 unless one was sent), the handshake
    /// completed inside, the transport shut down.
    fn poll_close_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_close_with(cx, protoswitch::ws::code::NORMAL, "")
    }

    /// [`close`](Self::close) and `poll_close`: our Close with `code` and
    /// `reason` (once, while open), the handshake completed inside, the
    /// transport shut down.
    fn poll_close_with(
        &mut self,
        cx: &mut Context<'_>,
        code: u16,
        reason: &str,
    ) -> Poll<Result<(), Error>> {
        if !self.finished && self.state() == State::Open {
            ready!(self.poll_flush_before_close(cx))?;
            if !self.finished && self.state() == State::Open {
                self.start_close(code, reason)?;
            }
        }
        loop {
            match ready!(self.poll_next_inner(cx)) {
                // Messages after our Close are dropped (documented).
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
    }

    /// Queues one message: compressed by the machine into the queue, or
    /// header from the machine and the payload copied (small) or kept as
    /// is (large).
    pub(crate) fn queue_message(&mut self, message: Message) -> Result<(), Error> {
        if self.finished || self.state() != State::Open {
            return Err(Error::AlreadyClosed);
        }
        if self.out.large.is_some() {
            return Err(io::Error::other("start_send without poll_ready").into());
        }
        if let Some(idle) = self.policies.as_mut().and_then(|p| p.idle.as_mut()) {
            idle.activity(self.clock.now());
        }
        if self.compress {
            let mut room = message.len() + 64;
            loop {
                let out = self.out.room(room);
                let sent = on!(&mut self.machine, c => match &message {
                    Message::Text(t) => c.send_text(t, out),
                    Message::Binary(b) => c.send_binary(b, out),
                });
                match sent {
                    Ok(n) => {
                        self.out.commit(n);
                        return Ok(());
                    }
                    Err(protoswitch::Error::BufferTooSmall { needed }) if needed > room => {
                        room = needed;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let kind = if message.is_text() {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        let payload = message.into_data();
        let len = payload.len();
        if len < LARGE_PAYLOAD {
            // Copied (and masked) into the queue behind its header; a
            // payload split off the receive buffer (an echo) is dropped
            // here, and the buffer takes its storage back.
            let room = self.out.room(protoswitch::ws::MAX_HEADER_LEN + len);
            let (n, mask) =
                on!(&mut self.machine, c => c.send_header(kind, len as u64, true, room))?;
            let body = &mut room[n..n + len];
            body.copy_from_slice(&payload);
            if let Some(key) = mask {
                apply_mask(body, key, 0);
            }
            self.out.commit(n + len);
            return Ok(());
        }
        let header = self.out.room(protoswitch::ws::MAX_HEADER_LEN);
        let (n, mask) = on!(&mut self.machine, c => c.send_header(kind, len as u64, true, header))?;
        self.out.commit(n);
        self.out.large = Some(match mask {
            None => payload,
            // A client masks in place when the payload is its own (a
            // `Vec` or `String` moved into the message), else masks a copy.
            Some(key) => {
                let mut owned = payload
                    .try_into_mut()
                    .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
                apply_mask(&mut owned, key, 0);
                owned.freeze()
            }
        });
        self.out.large_at = 0;
        Ok(())
    }
}

/// A received message from its payload (text validated by the machine).
fn received(kind: MessageKind, payload: Bytes) -> Message {
    match kind {
        MessageKind::Text => Message::Text(Utf8Bytes::from_validated(payload)),
        MessageKind::Binary => Message::Binary(payload),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketStream<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_inner(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketStream<S> {
    type Error = Error;

    /// Ready when the queue holds at most
    /// [`Options::write_buffer_limit`](crate::Options::write_buffer_limit)
    /// bytes and no large payload; otherwise writes, and is pending while
    /// the transport does not take the bytes.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.finished || this.state() != State::Open {
            return Poll::Ready(Err(Error::AlreadyClosed));
        }
        if !this.takes_message() {
            ready!(this.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut().queue_message(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        while !this.finished && this.poll_timer(cx).is_ready() {}
        ready!(this.poll_write_out(cx))?;
        ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }

    /// Sends Close 1000 (unless a Close was sent), completes the closing
    /// handshake and shuts the transport down; see the type's docs.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close_inner(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use protoswitch::ws::Config;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server stream over a pipe, with `recv` as the bytes read before,
    /// and the raw peer.
    fn server_over_pipe(
        recv: &[u8],
    ) -> (
        WebSocketStream<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
    ) {
        let (ours, raw) = tokio::io::duplex(4096);
        let clock = Clock::new();
        let parts = Parts {
            machine: Machine::Server(Connection::server(Config::default(), clock.now())),
            clock,
            recv: BytesMut::from(recv),
            deflate: None,
            subprotocol: None,
            write_limit: 64 * 1024,
            read_max: 64 * 1024,
            idle_timeout: None,
            rate_limit: None,
        };
        (WebSocketStream::new(ours, parts), raw)
    }

    /// Our bookkeeping of a kept frame lost its place (which the machine
    /// should never cause; forced here): the connection fails with Close
    /// 1011 on the wire, the error comes out once, and the closing
    /// handshake ends the stream.
    #[tokio::test]
    async fn a_lost_kept_frame_fails_the_connection_with_close_1011() {
        // One byte taken for a kept frame's, then a whole frame: its chunk
        // does not start where the kept frame goes on.
        let (mut stream, mut raw) = server_over_pipe(b"J");
        stream.kept = 1;
        stream.kept_header = 1;
        stream.mid_frame = true;
        raw.write_all(&[0x82, 0x85, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o'])
            .await
            .unwrap();
        match stream.next().await {
            Some(Err(Error::Io(e))) => {
                assert!(e.to_string().contains("does not continue"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let mut close = [0; 18];
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            raw.read_exact(&mut close),
        )
        .await
        .expect("no Close within 10 s")
        .unwrap();
        assert_eq!(close[..4], [0x88, 16, 0x03, 0xF3], "Close 1011");
        assert_eq!(&close[4..], b"internal error");
        raw.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xF3])
            .await
            .unwrap();
        assert!(stream.next().await.is_none());
        assert_eq!(stream.state(), State::Closed);
    }

    /// What one run hands out, and the stream's state after each item:
    /// whether the message shares the receive buffer's storage, and the
    /// receive step's bookkeeping (kept frame, frame and message flags,
    /// the buffer's length, storage and target size), which a mistake
    /// that costs only copies or memory would change.
    fn run_traced(input: &[u8], reads: &[usize], options: crate::Options) -> Vec<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let transport = crate::scripted::Scripted::new(input, reads);
            let mut ws = crate::accept_with(transport, options, |_| Ok(crate::Accepted::new()))
                .await
                .expect("the handshake");
            let mut trace = Vec::new();
            loop {
                let item = ws.next().await;
                let done = item.is_none();
                let text = format!("{item:?}");
                // A message split off the buffer shares its storage; a
                // copy does not (nor does anything else hold it).
                let shared = item.map(|m| m.map(|m| !m.into_data().is_unique()).ok());
                trace.push(format!(
                    "{text} shared {shared:?} kept {} {} mid_frame {} in_message {} \
                     needs_bytes {} again {} recv {} of {} target {} gather {}",
                    ws.kept,
                    ws.kept_header,
                    ws.mid_frame,
                    ws.in_message,
                    ws.needs_bytes,
                    ws.again,
                    ws.recv.len(),
                    ws.recv.capacity(),
                    ws.read_sizing.size(),
                    ws.gather.len(),
                ));
                if done {
                    break;
                }
            }
            trace.push(format!("written {:?}", ws.io.written));
            trace
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// The receive step's shortcut (a whole message in one frame,
        /// handed out before the general bookkeeping) leaves everything
        /// as the general steps do: the same items, the same state after
        /// each, the same bytes written, for any split of the input.
        #[test]
        fn the_shortcut_matches_the_general_path(
            steps in proptest::collection::vec(crate::scripted::step(), 1..12),
            reads in crate::scripted::reads(),
            small_buffer in proptest::prelude::any::<bool>(),
        ) {
            let (input, _) = crate::scripted::peer_bytes(&steps, false);
            let options = || {
                let options = crate::Options::new().handshake_timeout(None).deflate(None);
                if small_buffer { options.read_buffer_size(1024) } else { options }
            };
            SHORTCUT_OFF.with(|off| off.set(false));
            let with = run_traced(&input, &reads, options());
            SHORTCUT_OFF.with(|off| off.set(true));
            let without = run_traced(&input, &reads, options());
            SHORTCUT_OFF.with(|off| off.set(false));
            proptest::prop_assert_eq!(with, without);
        }
    }

    /// The property above reaches the shortcut: small messages whole in
    /// a read take it (and only while it is on), larger ones and
    /// fragments do not.
    #[test]
    fn small_whole_messages_take_the_shortcut() {
        use crate::scripted::Step;
        let steps = [
            Step::Binary(vec![1; 20]),
            Step::Text("hello".to_owned()),
            Step::Fragmented(MessageKind::Binary, vec![vec![2; 10], vec![3; 10]]),
            Step::Binary(vec![4; 1000]),
        ];
        let (input, _) = crate::scripted::peer_bytes(&steps, false);
        let options = crate::Options::new().handshake_timeout(None).deflate(None);
        for (off, taken) in [(false, 3), (true, 0)] {
            SHORTCUT_OFF.with(|o| o.set(off));
            SHORTCUT_TAKEN.with(|n| n.set(0));
            let trace = run_traced(&input, &[usize::MAX], options.clone());
            assert_eq!(trace.len(), 6, "four messages, the end, the bytes written");
            // The 20-byte and 5-byte messages, and the 1,000-byte one
            // (a quarter of the 2 KiB buffer pins little of it).
            assert_eq!(
                SHORTCUT_TAKEN.with(|n| n.get()),
                taken,
                "shortcut off: {off}"
            );
        }
        SHORTCUT_OFF.with(|o| o.set(false));
    }
}
