//! A WebSocket over a blocking stream: the I/O loop of protoswitch's
//! crate docs, once.

use std::io::{self, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use protoswitch::upgrade::{DeflateConfig, DeflateParams};
use protoswitch::ws::{
    CloseCause, Connection, Event, IdleTimer, MIN_TRANSMIT_BUFFER, Message, MessageAssembler,
    NoMask, OnExceeded, RateLimit, RateLimiter, RateVerdict, State, code,
};
use protoswitch::{OsRandom, RecvBuffer, StdClock};

use crate::log::log;
use crate::{Error, Transport};

/// Bytes read per `read` call (the receive buffer's size).
const READ_CHUNK: usize = 64 * 1024;
/// Room for inflated data per `receive_into` call (permessage-deflate).
const INFLATE_CHUNK: usize = 64 * 1024;
/// A send buffer grown beyond this by a large message is freed after it.
const SCRATCH_KEEP: usize = 256 * 1024;
/// Read and write timeouts are set in steps of this (rounded up: a timer
/// runs at most this late): the time to the next deadline changes at every
/// call, its step at most once a step (and not at all while traffic moves
/// an idle keepalive's deadline along), so a busy connection does not set
/// a socket option per read.
const TIMEOUT_STEP: Duration = Duration::from_millis(10);

/// The connection machine of either role (a server never masks; a client
/// masks with keys from the operating system). One per connection, never
/// switched between roles: the client's larger variant (its random pool)
/// costs no more than boxing it would.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Conn {
    Server(Connection<NoMask>),
    Client(Connection<OsRandom>),
}

/// Calls the same method on either role's machine.
macro_rules! on {
    ($conn:expr, $c:ident => $call:expr) => {
        match $conn {
            Conn::Server($c) => $call,
            Conn::Client($c) => $call,
        }
    };
}

/// A frame to send.
enum Outgoing<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    Ping(&'a [u8]),
    Close(u16, &'a str),
}

/// The largest sent payload buffer kept for the next message read to be
/// built in (small messages, where the allocation weighs most; at most
/// this much memory held per connection).
const SPARE_MAX: usize = 512;

/// A WebSocket connection over a blocking stream `S`, from
/// [`accept`](crate::accept) or [`connect`](crate::connect).
///
/// * [`read`](Self::read) returns the next complete message. On the way
///   it answers Pings, echoes the peer's Close, runs the keepalive and the
///   close timeout (on read timeouts, see [`Transport`]), and shuts the
///   transport down when the connection is over. The end is an error:
///   [`Error::Closed`] after a clean closing handshake (test with
///   [`Error::is_closed`]), another variant otherwise; every later call
///   returns the same end.
/// * A read timeout of your own on the stream (one set for the handshake,
///   say) stays while no timer of ours is due, as does a non-blocking
///   stream's mode: `read` then returns [`Error::Io`] with
///   `WouldBlock`/`TimedOut` when no message came in time, and the
///   connection stays usable (call `read` again). While a timer is due,
///   its read timeout replaces yours.
/// * Every write runs the timers too (on write timeouts): a peer that stops
///   reading blocks a write only until the keepalive finds it gone
///   ([`Error::PeerUnresponsive`]), or, once the connection is closing
///   (our Close, or the echo of the peer's), until the close timeout
///   ([`Error::CloseTimedOut`], or [`Error::Io`] `TimedOut` for the last
///   bytes of a clean end). Without a keepalive, a `send` to a peer that
///   does not read waits as long as it does not (backpressure); a write
///   timeout of your own on the stream bounds it. A write that fails or
///   is given up cuts a frame short: the connection is over, nothing more
///   is written, and every later call returns the same error. (So writes
///   want a blocking stream: on a non-blocking one, a write that would
///   block ends the connection with `WouldBlock`.)
/// * [`send`](Self::send), [`send_text`](Self::send_text),
///   [`send_binary`](Self::send_binary): one message as one frame, in one
///   write, compressed when permessage-deflate was agreed.
/// * [`close`](Self::close) starts the closing handshake; keep calling
///   [`read`](Self::read) (messages already on their way still arrive)
///   until it returns [`Error::Closed`] with the peer's answer.
///
/// The stream belongs to the connection: a `WebSocket` is used from one
/// thread (read and send alternate), as with `std`'s own streams.
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use protoswitch::ws::Message;
/// use protoswitch::upgrade::ClientRequest;
/// use protoswitch_blocking::{Decision, Error};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = std::thread::spawn(move || -> Result<(), Error> {
///     let (stream, _) = listener.accept()?;
///     let mut ws = protoswitch_blocking::accept(stream, |_| Decision::accept())?;
///     ws.send_text("hello")?;
///     ws.close(1000, "done")?;
///     loop {
///         match ws.read() {
///             Ok(_) => {}
///             Err(e) if e.is_closed() => return Ok(()),
///             Err(e) => return Err(e),
///         }
///     }
/// });
/// let host = addr.to_string();
/// let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
/// let mut ws = protoswitch_blocking::connect(TcpStream::connect(addr)?, &request)?;
/// assert_eq!(ws.read()?, Message::Text("hello".into()));
/// match ws.read() {
///     Err(Error::Closed { code, reason }) => assert_eq!((code, reason.as_str()), (Some(1000), "done")),
///     other => panic!("{other:?}"),
/// }
/// server.join().unwrap()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    conn: Conn,
    clock: StdClock,
    /// What the transport delivered and the machine has not consumed.
    buf: RecvBuffer<Vec<u8>>,
    /// Inflated data (empty without permessage-deflate).
    inflated: Vec<u8>,
    /// The last `receive_into` returned an event: call again even with no
    /// new bytes (the inflater may hold more of the message).
    again: bool,
    /// The machine needs more bytes than `buf` holds: do not hand it the
    /// same bytes again before more arrive (every call with bytes counts
    /// as traffic for an idle keepalive).
    starved: bool,
    assembler: MessageAssembler,
    /// Where frames are written before their one write.
    scratch: Vec<u8>,
    subprotocol: Option<String>,
    deflate: Option<DeflateParams>,
    /// The reason in the peer's Close.
    close_reason: String,
    /// The read timeout last set (`None`: never set).
    timeout: Option<Option<Duration>>,
    /// The stream has no read timeouts.
    untimed: bool,
    /// The write timeout last set (`None`: never set).
    write_timeout: Option<Option<Duration>>,
    /// The stream has no write timeouts.
    write_untimed: bool,
    /// The transport ended (end of stream, or shut down by us).
    ended: bool,
    /// The transport failed (a read or write error, or a write given up
    /// with a frame cut short): nothing more may be written, and every
    /// call returns this (kind and message).
    broken: Option<(ErrorKind, String)>,
    /// [`Config::idle_timeout`](crate::Config::idle_timeout).
    idle: Option<IdleTimer>,
    /// [`Config::rate_limit`](crate::Config::rate_limit).
    limiter: Option<RateLimiter>,
    /// Over the rate limit with backpressure: nothing is read or handed
    /// to the machine before this.
    paused_until: Option<protoswitch::Instant>,
    /// A policy (idle timeout, rate limit) closed the connection: `read`
    /// reports it once, then goes on with the closing handshake.
    policy_error: Option<Error>,
}

/// What the handshake agreed, for [`WebSocket::new`].
pub(crate) struct Agreement<'a> {
    pub leftover: &'a [u8],
    pub subprotocol: Option<String>,
    pub deflate: Option<(&'a DeflateConfig, DeflateParams)>,
    pub idle_timeout: Option<Duration>,
    pub rate_limit: Option<RateLimit>,
}

impl<S: Read + Write + Transport> WebSocket<S> {
    pub(crate) fn server(
        stream: S,
        conn: Connection<NoMask>,
        clock: StdClock,
        agreement: Agreement<'_>,
    ) -> Self {
        Self::new(stream, Conn::Server(conn), clock, agreement)
    }

    pub(crate) fn client(
        stream: S,
        conn: Connection<OsRandom>,
        clock: StdClock,
        agreement: Agreement<'_>,
    ) -> Self {
        Self::new(stream, Conn::Client(conn), clock, agreement)
    }

    fn new(stream: S, conn: Conn, clock: StdClock, agreement: Agreement<'_>) -> Self {
        let leftover = agreement.leftover;
        let mut buf = RecvBuffer::with_capacity(READ_CHUNK.max(leftover.len()));
        buf.spare_mut()[..leftover.len()].copy_from_slice(leftover);
        buf.filled(leftover.len());
        let (conn, inflated, deflate) = match agreement.deflate {
            Some((config, params)) => {
                let conn = match conn {
                    Conn::Server(c) => Conn::Server(c.with_deflate(config, params)),
                    Conn::Client(c) => Conn::Client(c.with_deflate(config, params)),
                };
                (conn, vec![0; INFLATE_CHUNK], Some(params))
            }
            None => (conn, Vec::new(), None),
        };
        let now = clock.now();
        WebSocket {
            stream,
            conn,
            clock,
            buf,
            inflated,
            again: false,
            starved: false,
            assembler: MessageAssembler::new(),
            scratch: Vec::new(),
            subprotocol: agreement.subprotocol,
            deflate,
            close_reason: String::new(),
            timeout: None,
            untimed: false,
            write_timeout: None,
            write_untimed: false,
            ended: false,
            broken: None,
            idle: agreement
                .idle_timeout
                .map(|limit| IdleTimer::new(limit, now)),
            limiter: agreement
                .rate_limit
                .map(|limit| RateLimiter::new(limit, now)),
            paused_until: None,
            policy_error: None,
        }
    }

    /// The next complete message. Pings are answered, the peer's Close is
    /// echoed, and the timers run while waiting. The end of the connection
    /// is an error: [`Error::Closed`] after the closing handshake (the
    /// normal end), [`Error::Protocol`] when the peer broke a rule (a
    /// Close with the code was sent) or the transport ended without a
    /// Close, [`Error::PeerUnresponsive`] or [`Error::CloseTimedOut`] from
    /// the timers, [`Error::Io`] from the transport. Once the connection is
    /// over every call returns its end again.
    pub fn read(&mut self) -> Result<Message, Error> {
        loop {
            self.check_broken()?;
            self.flush_owed()?;
            if on!(&self.conn, c => c.should_close_transport()) {
                if !self.ended {
                    self.ended = true;
                    log!(info, cause = ?on!(&self.conn, c => c.close_cause()), "connection closed");
                    let _ = self.stream.shutdown();
                }
                return Err(self.ending());
            }
            if let Some(error) = self.policy_error.take() {
                return Err(error);
            }
            if let Some(until) = self.paused_until {
                // A read timeout of the caller's own (none of ours was
                // ever set) bounds this `read` as it would unpaused.
                let own = match self.timeout {
                    None => self.stream.read_timeout().ok().flatten(),
                    Some(_) => None,
                };
                if !self.wait_pause(until, own) {
                    return Err(io::Error::new(
                        ErrorKind::TimedOut,
                        "protoswitch-blocking: reading is paused by the rate limit, \
                         and the read timeout ran out first",
                    )
                    .into());
                }
                continue;
            }
            if (!self.buf.is_empty() && !self.starved) || self.again {
                let now = self.clock.now();
                let data = self.buf.data_mut();
                let got = on!(&mut self.conn, c => c.receive_into(data, &mut self.inflated, now));
                match got {
                    Ok(got) => {
                        let consumed = got.consumed;
                        self.again = got.event.is_some();
                        self.starved = !self.again;
                        let verdict = self
                            .limiter
                            .as_mut()
                            .map(|l| l.record_received(consumed, got.event.as_ref(), now));
                        let mut data = false;
                        let message = match got.event {
                            Some(Event::Data(chunk)) => {
                                data = true;
                                self.assembler.push(&chunk)
                            }
                            Some(Event::Close {
                                code: _code,
                                reason,
                            }) => {
                                log!(debug, code = ?_code, reason, "the peer's Close");
                                reason.clone_into(&mut self.close_reason);
                                None
                            }
                            _ => None,
                        };
                        self.buf.consume(consumed);
                        if verdict.is_some() || (self.idle.is_some() && data) {
                            self.account(data, verdict, now)?;
                        }
                        if let Some(message) = message {
                            return Ok(message);
                        }
                        if self.again {
                            continue;
                        }
                    }
                    // The machine queued a Close with the error's code: the
                    // next turn sends it and ends the connection.
                    Err(protoswitch::Error::Peer(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            if self.ended {
                // No more bytes will come and the machine is not done: the
                // transport went away under it.
                return Err(io::Error::from(ErrorKind::UnexpectedEof).into());
            }
            self.fill()?;
        }
    }

    /// Why the connection is over.
    fn ending(&self) -> Error {
        let cause = on!(&self.conn, c => c.close_cause());
        match cause {
            Some(CloseCause::Handshake { code }) => Error::Closed {
                code,
                reason: self.close_reason.clone(),
            },
            Some(CloseCause::Failed(e)) => e.into(),
            Some(CloseCause::PeerUnresponsive) => Error::PeerUnresponsive,
            Some(CloseCause::CloseTimedOut) => Error::CloseTimedOut,
            // The transport ended before the closing handshake (and any
            // cause a later protoswitch adds): the machine's error says it.
            _ => match on!(&self.conn, c => c.error()) {
                Some(e) => e.into(),
                None => io::Error::from(ErrorKind::UnexpectedEof).into(),
            },
        }
    }

    /// Reads more bytes, waiting at most until the next timer; runs the
    /// timers.
    fn fill(&mut self) -> Result<(), Error> {
        // Every byte read so far reached the machine (data counted as
        // activity): the idle timeout is checked here, before waiting.
        if self.check_idle(self.clock.now())? {
            return Ok(());
        }
        let deadline = self.next_deadline();
        if !self.untimed {
            let wait = deadline.map(|d| until(self.clock.to_std(d)));
            // While no timer is due and none was set, nothing is set: a
            // read timeout of the caller's own stays (`read` returns its
            // error, below).
            if self.timeout.unwrap_or(None) != wait {
                self.untimed = !self.stream.set_timeout(wait)?;
                self.timeout = Some(wait);
            }
        }
        if self.buf.is_full() {
            // The machine consumes data as it comes; only a head larger than
            // the buffer waits whole. Grow rather than fail.
            self.buf.reserve(self.buf.capacity());
        }
        let read = self.stream.read(self.buf.spare_mut());
        let now = self.clock.now();
        match read {
            Ok(0) => self.transport_ended(),
            Ok(n) => {
                self.buf.filled(n);
                self.starved = false;
            }
            // Our read timeout ran out (at most a step early): the timers
            // run below.
            Err(e)
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                    && !self.untimed
                    && deadline.is_some_and(|d| now + TIMEOUT_STEP >= d) => {}
            // No timer of ours ran out: the stream is non-blocking, or the
            // transport gave up on its own. Nothing is lost; the caller
            // decides when to read again (rather than this loop spinning).
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(e.into());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A peer that resets instead of closing once it has closed
            // (its Close received; echoed or not) still ended the
            // connection cleanly: a server that does not read our echo
            // before closing resets.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) && matches!(
                    on!(&self.conn, c => c.state()),
                    State::CloseReceived | State::Closed
                ) =>
            {
                self.transport_ended()
            }
            Err(e) => return Err(self.fail_transport(e)),
        }
        on!(&mut self.conn, c => c.handle_timeout(now));
        Ok(())
    }

    /// The earliest of the machine's deadline and the idle timeout's
    /// (while open).
    fn next_deadline(&self) -> Option<protoswitch::Instant> {
        let machine = on!(&self.conn, c => c.poll_timeout());
        match &self.idle {
            Some(idle) if self.state() == State::Open => {
                Some(machine.map_or(idle.deadline(), |t| t.min(idle.deadline())))
            }
            _ => machine,
        }
    }

    /// Closes with 1001 once the idle timeout ran out (while open);
    /// `true` when it did.
    fn check_idle(&mut self, now: protoswitch::Instant) -> Result<bool, Error> {
        if self.idle.is_some_and(|idle| idle.is_expired(now)) && self.state() == State::Open {
            self.idle = None;
            self.close_for_policy(code::GOING_AWAY, "idle timeout", Error::IdleTimeout)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// One receive step for the policies: data (`data`) is activity for
    /// the idle timeout; the rate limit's `verdict` on the step
    /// ([`RateLimiter::record_received`]) is acted on.
    fn account(
        &mut self,
        data: bool,
        verdict: Option<RateVerdict>,
        now: protoswitch::Instant,
    ) -> Result<(), Error> {
        if let (Some(idle), true) = (&mut self.idle, data) {
            idle.activity(now);
        }
        let Some(on_exceeded) = self.limiter.map(|l| l.limit().on_exceeded) else {
            return Ok(());
        };
        let Some(RateVerdict::Exceeded { resume_at }) = verdict else {
            return Ok(());
        };
        if self.state() != State::Open {
            // Closing: the Close and what comes before it are read as
            // they come.
            return Ok(());
        }
        match on_exceeded {
            OnExceeded::Close => {
                self.close_for_policy(code::POLICY, "rate limit exceeded", Error::RateLimited)
            }
            _ => {
                // Our own pause: the timers wait for what it holds back (a
                // Pong; data, for the idle timeout).
                log!(debug, "rate limit: reading paused");
                self.paused_until = Some(resume_at);
                on!(&mut self.conn, c => c.pause_reading(resume_at, now));
                if let Some(idle) = &mut self.idle {
                    idle.activity(resume_at);
                }
                Ok(())
            }
        }
    }

    /// Waits (reading nothing) until the pause ends at `until`, running
    /// the machine's timers (the close timeout, once closing) on the way;
    /// at most `limit`, when given: `false` when that cut the wait short.
    fn wait_pause(&mut self, until: protoswitch::Instant, limit: Option<Duration>) -> bool {
        let wake = on!(&self.conn, c => c.poll_timeout()).map_or(until, |t| t.min(until));
        let left = self
            .clock
            .to_std(wake)
            .saturating_duration_since(Instant::now());
        let cut = limit.is_some_and(|limit| limit < left);
        std::thread::sleep(limit.map_or(left, |limit| left.min(limit)));
        let now = if cut {
            self.clock.now()
        } else {
            self.clock.now().max(wake)
        };
        on!(&mut self.conn, c => c.handle_timeout(now));
        if now >= until {
            self.paused_until = None;
        }
        !cut
    }

    /// Starts the closing handshake with `code` because of a policy, and
    /// keeps `error` for `read` to report once.
    fn close_for_policy(
        &mut self,
        code: u16,
        reason: &'static str,
        error: Error,
    ) -> Result<(), Error> {
        log!(info, code, reason, "closing by policy");
        self.send_frame(Outgoing::Close(code, reason))?;
        self.policy_error = Some(error);
        Ok(())
    }

    fn transport_ended(&mut self) {
        self.ended = true;
        // An error here (no closing handshake) is the machine's ending,
        // which `read` returns next.
        let _ = on!(&mut self.conn, c => c.receive_eof());
    }

    /// Writes every frame the machine owes (Pongs, Close echo, keepalive
    /// Pings, error Close).
    fn flush_owed(&mut self) -> Result<(), Error> {
        let mut frame = [0u8; MIN_TRANSMIT_BUFFER];
        let mut wrote = false;
        loop {
            let n = on!(&mut self.conn, c => c.poll_transmit(&mut frame));
            if n == 0 {
                break;
            }
            if self.ended && on!(&self.conn, c => c.state()) == State::Closed {
                continue;
            }
            self.write_timed(&frame[..n])?;
            wrote = true;
        }
        if wrote {
            self.flush_stream()?;
        }
        Ok(())
    }

    /// The error a broken connection returns.
    fn check_broken(&self) -> Result<(), Error> {
        match &self.broken {
            Some((kind, message)) => Err(io::Error::new(*kind, message.clone()).into()),
            None => Ok(()),
        }
    }

    /// Writes `bytes` whole. While the peer does not take them the timers
    /// run, on write timeouts: the keepalive (a peer that does not read
    /// does not answer either) and the close timeout; and once the
    /// connection is closing, these last bytes get the close timeout. A
    /// write that fails, or is given up, cuts a frame short: the
    /// connection is over, and nothing more is written.
    fn write_timed(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        let closing = on!(&self.conn, c => c.state()) != State::Open;
        let last_bytes_by =
            closing.then(|| Instant::now() + on!(&self.conn, c => c.config()).close_timeout);
        while !bytes.is_empty() {
            let timer = on!(&self.conn, c => c.poll_timeout()).map(|d| self.clock.to_std(d));
            let by = match (timer, last_bytes_by) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // While no timer is due and none was set, nothing is set: a
            // write timeout of the caller's own stays (and ends the
            // connection when it runs out, below).
            let wait = by.map(until);
            if !self.write_untimed && self.write_timeout.unwrap_or(None) != wait {
                match self.stream.set_write_timeout(wait) {
                    Ok(timed) => self.write_untimed = !timed,
                    Err(e) => return Err(self.fail_transport(e)),
                }
                self.write_timeout = Some(wait);
            }
            match self.stream.write(bytes) {
                Ok(0) => return Err(self.fail_transport(ErrorKind::WriteZero.into())),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // Our write timeout ran out (at most a step early; sooner,
                // the stream is non-blocking: the last arm ends the
                // connection rather than spin, as the frame is cut).
                Err(e)
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                        && !self.write_untimed
                        && by.is_some_and(|t| Instant::now() + TIMEOUT_STEP >= t) =>
                {
                    let now = self.clock.now();
                    on!(&mut self.conn, c => c.handle_timeout(now));
                    if matches!(
                        on!(&self.conn, c => c.close_cause()),
                        Some(CloseCause::PeerUnresponsive | CloseCause::CloseTimedOut)
                    ) {
                        // The keepalive found the peer gone, or the close
                        // timeout ran out: the timers ended the connection.
                        return Err(self.give_up(None));
                    }
                    if last_bytes_by.is_some_and(|t| Instant::now() >= t) {
                        let left = bytes.len();
                        let timed_out = io::Error::new(
                            ErrorKind::TimedOut,
                            format!(
                                "protoswitch-blocking: the peer stopped reading; \
                                 {left} bytes left unsent after the close timeout"
                            ),
                        );
                        return Err(self.give_up(Some(timed_out)));
                    }
                }
                Err(e) => return Err(self.fail_transport(e)),
            }
        }
        Ok(())
    }

    /// Flushes the stream; a failure breaks the connection.
    fn flush_stream(&mut self) -> Result<(), Error> {
        match self.stream.flush() {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail_transport(e)),
        }
    }

    /// The transport failed (a read or write error; a write cut a frame
    /// short, and nothing may follow it): the connection is over with `e`,
    /// which every later call returns.
    #[cold]
    fn fail_transport(&mut self, e: io::Error) -> Error {
        log!(info, error = %e, "transport failed: connection closed");
        self.ended = true;
        self.broken = Some((e.kind(), e.to_string()));
        if on!(&self.conn, c => c.state()) != State::Closed {
            let _ = on!(&mut self.conn, c => c.receive_eof());
        }
        e.into()
    }

    /// The peer does not take the last bytes in time: the connection is
    /// over, without a graceful shutdown (it could wait on the same peer;
    /// dropping the stream ends it). Its end is the timers' (keepalive,
    /// close timeout) if they ended it, else `timed_out`, unless the end
    /// was an error already.
    #[cold]
    fn give_up(&mut self, timed_out: Option<io::Error>) -> Error {
        self.ended = true;
        let clean = matches!(
            on!(&self.conn, c => c.close_cause()),
            None | Some(CloseCause::Handshake { .. })
        );
        if on!(&self.conn, c => c.state()) != State::Closed {
            let _ = on!(&mut self.conn, c => c.receive_eof());
        }
        log!(info, cause = ?on!(&self.conn, c => c.close_cause()), "last bytes given up: connection closed");
        match timed_out {
            Some(e) if clean => {
                self.broken = Some((e.kind(), e.to_string()));
                e.into()
            }
            _ => self.ending(),
        }
    }

    fn send_frame(&mut self, frame: Outgoing<'_>) -> Result<(), Error> {
        self.check_broken()?;
        self.flush_owed()?;
        let now = self.clock.now();
        match frame {
            // Sending data is activity for the idle timeout.
            Outgoing::Text(_) | Outgoing::Binary(_) => {
                if let Some(idle) = &mut self.idle {
                    idle.activity(now);
                }
            }
            // The answer must be read: a rate-limit pause ends here.
            Outgoing::Close(..) => self.paused_until = None,
            Outgoing::Ping(_) => {}
        }
        loop {
            let out = &mut self.scratch;
            let sent = on!(&mut self.conn, c => match frame {
                Outgoing::Text(t) => c.send_text(t, out),
                Outgoing::Binary(b) => c.send_binary(b, out),
                Outgoing::Ping(p) => c.send_ping(p, now, out),
                Outgoing::Close(code, reason) => c.send_close(Some(code), reason, now, out),
            });
            match sent {
                Ok(n) => {
                    // Out of `self` while written (the timers need it).
                    let scratch = std::mem::take(&mut self.scratch);
                    let written = self.write_timed(&scratch[..n]);
                    self.scratch = scratch;
                    written?;
                    self.flush_stream()?;
                    if self.scratch.len() > SCRATCH_KEEP {
                        self.scratch = Vec::new();
                    }
                    return Ok(());
                }
                Err(protoswitch::Error::BufferTooSmall { needed }) => {
                    self.scratch.resize(needed, 0);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends a message as one frame (one write; compressed when
    /// permessage-deflate was agreed).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        match &message {
            Message::Text(text) => self.send_text(text)?,
            Message::Binary(data) => self.send_binary(data)?,
        }
        let bytes = match message {
            Message::Text(text) => text.into_bytes(),
            Message::Binary(data) => data,
        };
        if bytes.capacity() <= SPARE_MAX {
            // Sent: the next message read is built in its buffer (an echo
            // then allocates nothing per message).
            self.assembler.recycle(bytes);
        }
        Ok(())
    }

    /// Sends a text message as one frame.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_frame(Outgoing::Text(text))
    }

    /// Sends a binary message as one frame.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_frame(Outgoing::Binary(data))
    }

    /// Sends a Ping (at most 125 bytes). The Pong is consumed by
    /// [`read`](Self::read); with a keepalive configured, it is due within
    /// the keepalive's timeout like the keepalive's own Pings.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_frame(Outgoing::Ping(payload))
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123
    /// bytes). Then call [`read`](Self::read) until it returns
    /// [`Error::Closed`] (the peer's Close) — or [`Error::CloseTimedOut`]
    /// after [`ws::Config::close_timeout`](protoswitch::ws::Config::close_timeout).
    /// Messages the peer sent before its Close still come out of `read`
    /// first. A code that may not be sent (1005, 1006, 1015, below 1000)
    /// is a local [`Error::Protocol`] and nothing is sent.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        self.send_frame(Outgoing::Close(code, reason))
    }

    /// The subprotocol the handshake agreed, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// What permessage-deflate agreed, when it is on.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// Where the connection is ([`State::Open`] until a Close is sent or
    /// received).
    pub fn state(&self) -> State {
        on!(&self.conn, c => c.state())
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream, mutable. Bytes written or read here bypass the
    /// connection: meant for socket options, not for data.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream back, with the bytes received and not yet consumed.
    pub fn into_inner(self) -> (S, Vec<u8>) {
        let unread = self.buf.data().to_vec();
        (self.stream, unread)
    }
}

/// The time from now to `deadline` as a socket timeout: rounded up to a
/// [`TIMEOUT_STEP`], at least one (a zero timeout means none).
fn until(deadline: Instant) -> Duration {
    let left = deadline.saturating_duration_since(Instant::now());
    let step = TIMEOUT_STEP.as_nanos();
    let steps = left.as_nanos().div_ceil(step).max(1);
    Duration::from_nanos(u64::try_from(steps * step).unwrap_or(u64::MAX))
}
