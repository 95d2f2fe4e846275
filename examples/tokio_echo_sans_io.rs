//! The WebSocket echo server on tokio: the crate's Sans-IO loop, async, by
//! hand (the same server on the adapter is `protoswitch-tokio`'s `tokio_echo`).
//!
//! ```text
//! cargo run --release --example tokio_echo_sans_io -- 127.0.0.1:9002
//! ```
//!
//! * reads feed `receive`, which consumes a prefix of the buffer;
//! * `poll_transmit` is drained with `write_all().await` — the task does not
//!   read more until the socket took the bytes: that is the backpressure;
//! * `poll_timeout` drives a `sleep_until`, whose expiry calls
//!   `handle_timeout`;
//! * the read and the sleep race in `select!`. When the sleep wins, the read
//!   future is dropped: `AsyncReadExt::read` is cancel-safe (it either
//!   completed and returned its count, or read nothing), and all protocol
//!   state lives in the machine and the buffer indices, never in the future,
//!   so nothing is lost.

use std::io;

use protoswitch::upgrade::{Accept, Response, ServerEvent, ServerHandshake, ServerState};
use protoswitch::ws::{
    Config, Connection, Event, MIN_TRANSMIT_BUFFER, Message, MessageAssembler, MessageKind, NoMask,
    State,
};
use protoswitch::{Error, StdClock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const READ_SIZE: usize = 64 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

fn other(e: Error) -> io::Error {
    io::Error::other(e.to_string())
}

/// A read buffer: bytes in `start..end` are received and not yet consumed.
struct ReadBuf {
    bytes: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn new() -> Self {
        ReadBuf {
            bytes: vec![0; READ_SIZE + MIN_TRANSMIT_BUFFER],
            start: 0,
            end: 0,
        }
    }

    /// Makes room at the end, moving unconsumed bytes to the front.
    fn compact(&mut self) {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.bytes.len() {
            self.bytes.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
    }
}

async fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let clock = StdClock::new();
    let mut buf = ReadBuf::new();
    let mut out = vec![0u8; 4096];

    // The opening handshake.
    let mut server = ServerHandshake::new(Default::default());
    loop {
        match server.receive(&buf.bytes[buf.start..buf.end]) {
            Ok(got) => {
                buf.start += got.consumed;
                match got.event {
                    Some(ServerEvent::Request(req)) => {
                        let response = match req.websocket() {
                            Ok(Some(_)) if server.state() == ServerState::RequestReceived => None,
                            Ok(_) => Some(Response::upgrade_required(&["websocket"])),
                            Err(e) => Some(Response::for_error(&e)),
                        };
                        if let Some(response) = response {
                            let n = server.respond(&response, &mut out).map_err(other)?;
                            return stream.write_all(&out[..n]).await;
                        }
                        let switch = req
                            .switch(&Accept::new("websocket"))
                            .map_err(|e| other(protoswitch::Error::from(e)))?;
                        let n = server.accept(&switch, &mut out).map_err(other)?;
                        stream.write_all(&out[..n]).await?;
                        break;
                    }
                    Some(_) => {}
                    None => {
                        buf.compact();
                        let n = stream.read(&mut buf.bytes[buf.end..]).await?;
                        if n == 0 {
                            return Ok(());
                        }
                        buf.end += n;
                    }
                }
            }
            Err(Error::Peer(_)) => {
                let n = server.poll_transmit(&mut out);
                return stream.write_all(&out[..n]).await;
            }
            Err(e) => return Err(other(e)),
        }
    }

    // The connection: unconsumed bytes in `buf` are its first frames.
    let mut conn =
        Connection::from_server_handshake(server, Config::default(), clock.now()).map_err(other)?;
    let mut assembler = MessageAssembler::new();
    loop {
        // 1. Feed what is buffered until the machine needs more.
        while buf.start < buf.end && matches!(conn.state(), State::Open | State::CloseSent) {
            match conn.receive(&mut buf.bytes[buf.start..buf.end], clock.now()) {
                Ok(got) => {
                    buf.start += got.consumed;
                    match got.event {
                        Some(Event::Data(chunk)) => {
                            if let Some(message) = assembler.push(&chunk) {
                                echo(&mut conn, &mut stream, &message).await?;
                            }
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                Err(Error::Peer(e)) => {
                    eprintln!("websocket: {e}");
                    break;
                }
                Err(e) => return Err(other(e)),
            }
            // Replies owed (Pong, Close echo) go out in order.
            flush(&mut conn, &mut stream).await?;
        }
        // 2. Everything the machine owes, with backpressure.
        flush(&mut conn, &mut stream).await?;
        if conn.should_close_transport() {
            return stream.shutdown().await;
        }
        // 3. Wait for bytes or the next deadline, whichever comes first.
        buf.compact();
        let deadline = conn
            .poll_timeout()
            .map(|t| tokio::time::Instant::from_std(clock.to_std(t)));
        tokio::select! {
            read = stream.read(&mut buf.bytes[buf.end..]) => {
                match read? {
                    0 => {
                        // Before the closing handshake this is the abnormal
                        // closure (1006); the loop ends on `Closed` either way.
                        if let Err(e) = conn.receive_eof() {
                            eprintln!("tokio_echo_sans_io: {e}");
                        }
                    }
                    n => buf.end += n,
                }
            }
            _ = sleep_until(deadline) => conn.handle_timeout(clock.now()),
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn flush(conn: &mut Connection<NoMask>, stream: &mut TcpStream) -> io::Result<()> {
    let mut frame = [0u8; MIN_TRANSMIT_BUFFER];
    loop {
        let n = conn.poll_transmit(&mut frame);
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&frame[..n]).await?;
    }
}

/// Header from the machine, payload written as is (a server does not mask).
async fn echo(
    conn: &mut Connection<NoMask>,
    stream: &mut TcpStream,
    message: &Message,
) -> io::Result<()> {
    let (kind, payload) = match message {
        Message::Text(t) => (MessageKind::Text, t.as_bytes()),
        Message::Binary(b) => (MessageKind::Binary, b.as_slice()),
    };
    let mut header = [0u8; 14];
    let (n, _) = conn
        .send_header(kind, payload.len() as u64, true, &mut header)
        .map_err(other)?;
    stream.write_all(&header[..n]).await?;
    stream.write_all(payload).await
}
