//! [`WebSocketStream::split`]: a reader that drives the connection and
//! writers that hand it messages through a channel, with no lock on
//! either side.
//!
//! The connection machine is one state for both directions (a Close read
//! stops sending, a Ping read owes a Pong, the compressor and the closing
//! handshake are shared), so one task owns it: the reader. Writers never
//! touch it; what they send goes through a bounded channel
//! (`futures-channel`'s, lock-free while it has room) into the reader's
//! write queue, in order, and the reader writes it with the Pongs and
//! Closes it owes. Nothing is locked per message or per poll.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_channel::mpsc;
use futures_core::Stream;
use futures_sink::Sink;
use protoswitch::ws::{CloseCause, State, check_close, code};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::stream::{CloseFrame, WebSocketStream};
use crate::{Error, Message};

/// Messages a writer may hand over before it waits for the reader to take
/// them (plus one per writer, as `futures-channel` counts). The reader
/// takes them as fast as its write queue does
/// ([`Options::write_buffer_limit`](crate::Options::write_buffer_limit)):
/// the channel only bridges the two tasks.
const CHANNEL: usize = 8;

/// What a writer asks the reader to do, in the order asked.
#[derive(Debug)]
enum Command {
    Send(Message),
    Close { code: u16, reason: String },
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Splits the connection into a [`WebSocketReader`], which owns it and
    /// does all its I/O, and a [`WebSocketWriter`] (clonable) that hands
    /// messages to the reader. No lock is taken on either side: a writer
    /// pushes into a bounded lock-free channel, the reader moves what it
    /// finds there into its write queue.
    ///
    /// **Keep polling the reader, in its own task** (or in a `select!`
    /// beside the writer). It reads, answers Pings, runs the timers and
    /// writes — the writers' messages too. A reader that is not polled
    /// writes nothing; its writers wait (backpressure) once the channel is
    /// full. So do not await a writer's `send` in the task that would poll
    /// the reader next: with a slow peer the channel fills and that `send`
    /// waits for a poll that never comes (the unsplit
    /// [`WebSocketStream`] writes from `send` itself and has no such
    /// trap).
    ///
    /// ```no_run
    /// use futures_util::{SinkExt, StreamExt};
    /// use protoswitch_tokio::{Accepted, Message, accept};
    ///
    /// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), protoswitch_tokio::Error> {
    /// let ws = accept(tcp, |_request| Ok(Accepted::new())).await?;
    /// let (mut reader, mut writer) = ws.split();
    /// // Another task sends, say a tick every second...
    /// tokio::spawn(async move {
    ///     let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    ///     loop {
    ///         tick.tick().await;
    ///         if writer.send(Message::text("tick")).await.is_err() {
    ///             break; // the connection is closing or gone
    ///         }
    ///     }
    /// });
    /// // ...while this one reads (and so drives the connection).
    /// while let Some(message) = reader.next().await {
    ///     println!("{:?}", message?);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn split(self) -> (WebSocketReader<S>, WebSocketWriter) {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let (close_tx, close_rx) = mpsc::channel(0);
        let reader = WebSocketReader {
            stream: self,
            commands: rx,
            commands_open: true,
            close_asked: close_rx,
            close_asked_seen: false,
        };
        let writer = WebSocketWriter {
            commands: tx,
            close_asked: close_tx,
        };
        (reader, writer)
    }
}

/// The reading half of [`WebSocketStream::split`]: a [`Stream`] of the
/// messages received, and the engine of the connection (it writes what the
/// [`WebSocketWriter`]s send).
///
/// # Close semantics
///
/// As for [`WebSocketStream`]: the peer's Close is echoed and the stream
/// ends with `None`; abnormal ends come out as one `Some(Err(_))`. A
/// writer's [`close`](WebSocketWriter::close) (or `SinkExt::close`) starts
/// the closing handshake after the messages it sent before; the reader
/// then yields what the peer still sends until its Close, and `None`.
/// Behind messages a peer does not read, the close timeout counts from the
/// writer's `close`: what is queued by then and not written ends the
/// connection (the reader yields [`Error::Io`], `TimedOut`), as for
/// [`WebSocketStream::close`].
///
/// Once the connection is no longer open (either side's Close, an error,
/// the end) the channel is closed: writers' sends fail with
/// [`Error::AlreadyClosed`], and messages still in the channel then are
/// dropped — they could no longer be sent (RFC 6455 §5.5.1: nothing
/// follows a Close).
///
/// # Cancel safety
///
/// As for [`WebSocketStream`]: progress lives in the reader, not in the
/// `next()` future.
#[derive(Debug)]
pub struct WebSocketReader<S> {
    stream: WebSocketStream<S>,
    commands: mpsc::Receiver<Command>,
    /// The channel may still yield commands (not closed by us, and some
    /// writer alive or messages left).
    commands_open: bool,
    /// A writer's `close` says so here too, out of band: its Close may
    /// wait in `commands` behind messages the write queue cannot take
    /// (a peer that does not read), where the reader cannot see it.
    close_asked: mpsc::Receiver<()>,
    /// A writer asked to close: what is queued gets the close timeout.
    close_asked_seen: bool,
}

/// How taking commands from the channel stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pumped {
    /// The channel is empty (the reader's task is woken when it is not),
    /// or closed.
    Drained,
    /// The write queue is full: the commands wait in the channel.
    QueueFull,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketReader<S> {
    /// The subprotocol the handshake agreed, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.stream.subprotocol()
    }

    /// The peer's Close, once it arrived.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.stream.close_frame()
    }

    /// Why the connection closed, once it did.
    pub fn close_cause(&self) -> Option<CloseCause> {
        self.stream.close_cause()
    }

    /// The connection machine's state.
    pub fn state(&self) -> State {
        self.stream.state()
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        self.stream.get_ref()
    }

    /// Queues our Close with `code` and `reason` (at most 123 bytes), as
    /// [`WebSocketStream::start_close`] does, and closes the writers'
    /// channel: keep polling the reader to read what the peer still sends,
    /// until `None`.
    pub fn start_close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        self.stream.start_close(code, reason)?;
        self.close_channel_unless_open();
        Ok(())
    }

    /// Moves the writers' commands into the write queue while it takes
    /// them.
    fn pump(&mut self, cx: &mut Context<'_>) -> Pumped {
        while self.commands_open {
            if !self.stream.takes_message() {
                self.watch_close_asked(cx);
                return Pumped::QueueFull;
            }
            match Pin::new(&mut self.commands).poll_next(cx) {
                Poll::Ready(Some(Command::Send(message))) => {
                    // Refused only once the connection left Open, when the
                    // channel is closed just below: dropped, as documented.
                    let _ = self.stream.queue_message(message);
                }
                Poll::Ready(Some(Command::Close { code, reason })) => {
                    // What went before is queued: the machine's close
                    // timer takes over from the flush deadline.
                    self.stream.disarm_flush_deadline();
                    // Open, no large payload queued, and the writer checked
                    // the code and reason: this does not fail. Were it to,
                    // the connection still closes, with 1011.
                    if self.stream.state() == State::Open
                        && self.stream.start_close(code, &reason).is_err()
                    {
                        let _ = self.stream.start_close(code::INTERNAL_ERROR, "");
                    }
                }
                Poll::Ready(None) => self.commands_open = false,
                Poll::Pending => return Pumped::Drained,
            }
            self.close_channel_unless_open();
        }
        Pumped::Drained
    }

    /// With the write queue full, a writer's Close waits in the channel
    /// behind messages the queue cannot take yet. If a writer asked to
    /// close (the out-of-band signal, watched only here), what is queued
    /// gets the close timeout to go out, as for
    /// [`WebSocketStream::close`]: a peer that does not read cannot keep
    /// the connection.
    // Cold: only with a full queue.
    #[cold]
    fn watch_close_asked(&mut self, cx: &mut Context<'_>) {
        if !self.close_asked_seen {
            match Pin::new(&mut self.close_asked).poll_next(cx) {
                Poll::Ready(Some(())) => self.close_asked_seen = true,
                Poll::Ready(None) | Poll::Pending => return,
            }
        }
        self.stream.arm_flush_deadline();
    }

    /// Closes the channel once nothing more may be sent.
    fn close_channel_unless_open(&mut self) {
        if self.commands_open && (self.stream.is_finished() || self.stream.state() != State::Open) {
            self.commands.close();
            self.commands_open = false;
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketReader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let pumped = this.pump(cx);
            let polled = this.stream.poll_next_inner(cx);
            this.close_channel_unless_open();
            if polled.is_ready() {
                return polled;
            }
            // The engine wrote what it could and waits. If the queue was
            // full before and has room now, commands are waiting in the
            // channel that nothing would wake us for: take them.
            if pumped == Pumped::QueueFull && this.commands_open && this.stream.takes_message() {
                continue;
            }
            return Poll::Pending;
        }
    }
}

/// The sending half of [`WebSocketStream::split`]: a [`Sink`] of messages,
/// handed to the [`WebSocketReader`], which writes them in order. Clone it
/// to send from several tasks.
///
/// A send completes once the message is in the channel (the reader writes
/// it when next polled): `poll_ready` waits while the channel is full, and
/// the channel fills while the reader's write queue is over
/// [`Options::write_buffer_limit`](crate::Options::write_buffer_limit) —
/// backpressure from the transport reaches the writers. Errors of the
/// transport come out of the reader. Once the connection is no longer open
/// every call returns [`Error::AlreadyClosed`].
///
/// `poll_close` (`SinkExt::close`) asks for Close 1000 after the messages
/// sent before it and closes the channel for every writer;
/// [`close`](Self::close) chooses the code and reason. Dropping every
/// writer does not close the connection (the reader can:
/// [`WebSocketReader::start_close`]).
///
/// A message still in the channel when the connection stops being open
/// (the peer's Close read, a policy or an error closing it) is dropped
/// unsent, though its `send` returned `Ok`: nothing may follow a Close
/// (RFC 6455 §5.5.1). The calls after that return
/// [`Error::AlreadyClosed`].
#[derive(Debug, Clone)]
pub struct WebSocketWriter {
    commands: mpsc::Sender<Command>,
    /// Tells the reader that a Close is on its way (see
    /// [`WebSocketReader`]'s `close_asked`).
    close_asked: mpsc::Sender<()>,
}

impl WebSocketWriter {
    /// Asks the reader to close with `code` and `reason` (at most 123
    /// bytes) after the messages sent before, and closes the channel: no
    /// writer sends after it. The reader completes the closing handshake.
    ///
    /// A code that may not be sent (1005, 1006, 1015, below 1000, 5000 and
    /// above) or a reason over 123 bytes is refused here, as
    /// [`WebSocketStream::close`] refuses it, and nothing is asked.
    ///
    /// It returns once the Close is in the channel. The messages before it
    /// get the close timeout to go out (a peer that does not read cannot
    /// keep the connection): see [`WebSocketReader`]'s close semantics. A
    /// `close` cancelled before it returned may still have started that
    /// timeout.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        check_close(Some(code), reason).map_err(protoswitch::Error::from)?;
        self.ask_close();
        std::future::poll_fn(|cx| self.commands.poll_ready(cx))
            .await
            .map_err(|_| Error::AlreadyClosed)?;
        self.commands
            .start_send(Command::Close {
                code,
                reason: reason.to_owned(),
            })
            .map_err(|_| Error::AlreadyClosed)?;
        self.commands.close_channel();
        Ok(())
    }

    /// The reader is gone or the connection no longer open.
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }

    /// Signals the reader that a Close follows: if its write queue is full,
    /// it gives what is queued the close timeout. (Full: a signal from
    /// another writer, or an earlier one, is pending already.)
    fn ask_close(&mut self) {
        let _ = self.close_asked.try_send(());
    }
}

impl Sink<Message> for WebSocketWriter {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut()
            .commands
            .poll_ready(cx)
            .map_err(|_| Error::AlreadyClosed)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.get_mut()
            .commands
            .start_send(Command::Send(message))
            .map_err(|_| Error::AlreadyClosed)
    }

    /// Nothing to do: a message is the reader's once `start_send` took it.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.commands.is_closed() {
            return Poll::Ready(Ok(()));
        }
        this.ask_close();
        match std::task::ready!(this.commands.poll_ready(cx)) {
            Ok(()) => {
                let close = Command::Close {
                    code: protoswitch::ws::code::NORMAL,
                    reason: String::new(),
                };
                // A failure means the reader closed the channel meanwhile:
                // the connection is closing already.
                let _ = this.commands.start_send(close);
            }
            Err(_) => return Poll::Ready(Ok(())),
        }
        this.commands.close_channel();
        Poll::Ready(Ok(()))
    }
}
