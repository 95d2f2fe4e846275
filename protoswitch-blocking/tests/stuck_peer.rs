//! A peer that stops reading (a zero window), resets, or answers oddly:
//! the blocking adapter's writes run the timers too, nothing blocks
//! forever, and a write cut short ends the connection for good. Over
//! loopback TCP; each case runs under a watchdog that fails instead of
//! hanging.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use protoswitch::upgrade::{ClientRequest, accept_key};
use protoswitch::ws::{self, Keepalive, Message};
use protoswitch_blocking::{Config, Decision, Error, Transport, WebSocket};

mod support;
use support::{
    client_frame, read_head, server_and_silent_client, server_over_and_silent_client, within,
};

/// Runs `case` on a server with `config` whose pipe to a client that
/// reads nothing is full, until `case` says the pipe stayed full
/// (`Some`). Needed because the write meant to block sometimes goes out
/// anyway: in about 300 runs of this file under parallel load, `close()`
/// returned `Ok` once after [`fill_the_pipe`]. Five attempts; a write
/// that always goes out fails.
fn with_the_pipe_full<T>(
    config: Config,
    mut case: impl FnMut(WebSocket<TcpStream>, TcpStream) -> Option<T>,
) -> T {
    for _ in 0..5 {
        let (mut ws, peer) = server_and_silent_client(config);
        fill_the_pipe(&mut ws);
        if let Some(outcome) = case(ws, peer) {
            return outcome;
        }
    }
    panic!("the write went out five times: the pipe never stayed full");
}

/// Fills the transport's buffers (ours and the peer's) with bytes the
/// peer will never read, so that the next write blocks.
fn fill_the_pipe(ws: &mut WebSocket<TcpStream>) {
    let stream = ws.get_mut();
    stream.set_nonblocking(true).unwrap();
    let junk = [0u8; 64 * 1024];
    // Until a round after a pause writes nothing: bytes in flight still
    // move into the peer's buffer for a moment after the first refusal.
    loop {
        let mut wrote = 0;
        // Large writes, then single bytes (which fit where a large one
        // does not).
        for size in [junk.len(), 1] {
            loop {
                match stream.write(&junk[..size]) {
                    Ok(n) => wrote += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        if wrote == 0 {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    stream.set_nonblocking(false).unwrap();
}

/// A send to a peer that does not read blocks in the write; the keepalive
/// still runs there and ends the connection. Every later call returns
/// the same end and writes nothing.
#[test]
fn the_keepalive_ends_a_send_the_peer_never_reads() {
    let keepalive = Keepalive::idle(Duration::from_millis(300), Duration::from_millis(300));
    let config = Config::new()
        .deflate(None)
        .websocket(ws::Config::new().keepalive(Some(keepalive)));
    let (mut ws, _peer) = server_and_silent_client(config);
    let (sent, elapsed, read, again) = within(Duration::from_secs(20), move || {
        let start = Instant::now();
        let sent = ws.send_binary(&vec![7u8; 64 << 20]);
        let elapsed = start.elapsed();
        (sent, elapsed, ws.read(), ws.send_text("after"))
    });
    assert!(matches!(sent, Err(Error::PeerUnresponsive)), "{sent:?}");
    assert!(
        elapsed >= Duration::from_millis(550) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(matches!(read, Err(Error::PeerUnresponsive)), "{read:?}");
    assert!(again.is_err(), "{again:?}");
}

/// Our Close behind bytes the peer does not read: `close` returns when the
/// close timeout runs out, and `read` then says so.
#[test]
fn close_to_a_peer_that_does_not_read_ends_by_the_close_timeout() {
    let config = Config::new()
        .deflate(None)
        .websocket(ws::Config::new().close_timeout(Duration::from_millis(400)));
    let (closed, elapsed, read) = with_the_pipe_full(config, |mut ws, _peer| {
        let (closed, elapsed, read) = within(Duration::from_secs(20), move || {
            let start = Instant::now();
            let closed = ws.close(1000, "bye");
            (closed, start.elapsed(), ws.read())
        });
        // `Ok`: the Close went out, the kernel made room after all.
        closed.is_err().then_some((closed, elapsed, read))
    });
    assert!(matches!(closed, Err(Error::CloseTimedOut)), "{closed:?}");
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(matches!(read, Err(Error::CloseTimedOut)), "{read:?}");
}

/// The peer closes and stops reading: the echo of its Close cannot go
/// out; after the close timeout `read` gives it up and says why.
#[test]
fn an_echo_the_peer_never_reads_is_given_up_after_the_close_timeout() {
    let config = Config::new()
        .deflate(None)
        .websocket(ws::Config::new().close_timeout(Duration::from_millis(400)));
    let (read, elapsed, again) = with_the_pipe_full(config, |mut ws, mut peer| {
        peer.write_all(&client_frame(0x88, b"\x03\xe8")).unwrap();
        let (read, elapsed, again) = within(Duration::from_secs(20), move || {
            let start = Instant::now();
            let read = ws.read();
            (read, start.elapsed(), ws.read())
        });
        // `Closed`: the echo went out, the kernel made room after all.
        (!matches!(read, Err(Error::Closed { .. }))).then_some((read, elapsed, again))
    });
    match read {
        Err(Error::Io(e)) => assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    match again {
        Err(Error::Io(e)) => assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}"),
        other => panic!("{other:?}"),
    }
}

/// A raw WebSocket server on an ephemeral port: it answers the handshake
/// with a 101, then runs `then` on the connection. Returns its address.
fn raw_server(then: fn(TcpStream)) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let head = String::from_utf8(read_head(&mut stream)).unwrap();
        let key = head
            .lines()
            .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
            .unwrap();
        let accept = accept_key(key.as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
            std::str::from_utf8(&accept).unwrap()
        );
        stream.write_all(response.as_bytes()).unwrap();
        then(stream);
    });
    (host, server)
}

fn connect_plain(host: &str) -> WebSocket<TcpStream> {
    let request = ClientRequest::new("GET", "/", host, &["websocket"]);
    let stream = TcpStream::connect(host).unwrap();
    protoswitch_blocking::connect_with(stream, &request, &Config::new().deflate(None)).unwrap()
}

/// A server that closes, does not read our echo and resets the connection
/// (the kernel's answer to unread bytes at close): the closing handshake
/// was complete, so the client reports a clean close, every time.
#[test]
fn a_reset_after_the_closing_handshake_is_a_clean_close() {
    let (host, server) = raw_server(|mut stream| {
        stream.write_all(&[0x88, 0x02, 0x03, 0xE8]).unwrap();
        // The echo arrives and stays unread: closing now resets.
        thread::sleep(Duration::from_millis(200));
    });
    let mut ws = connect_plain(&host);
    for _ in 0..2 {
        match ws.read() {
            Err(Error::Closed { code, .. }) => assert_eq!(code, Some(1000)),
            other => panic!("{other:?}"),
        }
    }
    server.join().unwrap();
}

/// A reset while the connection is open is its end: the same error from
/// every later call (the next read would otherwise see an end of stream
/// and report something else).
#[test]
fn a_reset_while_open_is_the_end_for_every_call() {
    let (host, server) = raw_server(|stream| {
        // Our message arrives and stays unread: closing now resets.
        thread::sleep(Duration::from_millis(200));
        drop(stream);
    });
    let mut ws = connect_plain(&host);
    ws.send_text("unread").unwrap();
    server.join().unwrap();
    for _ in 0..2 {
        match ws.read() {
            Err(Error::Io(e)) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        matches!(ws.send_text("after"), Err(Error::Io(e)) if e.kind() == ErrorKind::ConnectionReset)
    );
}

/// A TCP stream that counts the timeouts set on it.
struct Counting {
    stream: TcpStream,
    timeouts_set: Arc<AtomicUsize>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

impl Transport for Counting {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<bool> {
        self.timeouts_set.fetch_add(1, Ordering::Relaxed);
        Transport::set_timeout(&mut self.stream, timeout)
    }
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<bool> {
        self.timeouts_set.fetch_add(1, Ordering::Relaxed);
        Transport::set_write_timeout(&mut self.stream, timeout)
    }
}

/// With a keepalive, the timeouts follow its deadline, which moves with
/// the traffic: a busy connection does not set a socket option per read
/// or write (it did, once per read: the time left differs at every call).
#[test]
fn a_busy_connection_with_a_keepalive_rarely_sets_timeouts() {
    let keepalive = Keepalive::idle(Duration::from_secs(30), Duration::from_secs(10));
    let config = Config::new()
        .deflate(None)
        .websocket(ws::Config::new().keepalive(Some(keepalive)));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let timeouts_set = Arc::new(AtomicUsize::new(0));
    let counted = timeouts_set.clone();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let stream = Counting {
            stream,
            timeouts_set: counted,
        };
        let mut ws =
            protoswitch_blocking::accept_with(stream, &config, |_| Decision::accept()).unwrap();
        loop {
            match ws.read() {
                Ok(m) => ws.send(m).unwrap(),
                Err(e) if e.is_closed() => return,
                Err(e) => panic!("{e}"),
            }
        }
    });
    let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
    let stream = TcpStream::connect(&host).unwrap();
    let mut ws =
        protoswitch_blocking::connect_with(stream, &request, &Config::new().deflate(None)).unwrap();
    let echoes = 500;
    for i in 0..echoes {
        let m = Message::Binary(vec![i as u8; 20]);
        ws.send(m.clone()).unwrap();
        assert_eq!(ws.read().unwrap(), m);
    }
    ws.close(1000, "").unwrap();
    assert!(ws.read().unwrap_err().is_closed());
    server.join().unwrap();
    let set = timeouts_set.load(Ordering::Relaxed);
    assert!(set < echoes / 10, "{set} timeouts set for {echoes} echoes");
}

/// A write timeout of the caller's own (no timer of ours is due) cuts the
/// large frame short: the connection is over for good. Once the peer reads
/// again nothing more is written (it would land inside the cut frame), and
/// every call returns the same error.
#[test]
fn a_write_cut_short_ends_the_connection_for_good() {
    let (mut ws, mut peer) = server_and_silent_client(Config::new().deflate(None));
    ws.get_mut()
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (sent, elapsed, mut ws) = within(Duration::from_secs(20), move || {
        let start = Instant::now();
        let sent = ws.send_binary(&vec![7u8; 64 << 20]);
        (sent, start.elapsed(), ws)
    });
    let kind = match sent {
        Err(Error::Io(e)) => e.kind(),
        other => panic!("{other:?}"),
    };
    assert!(
        matches!(kind, ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{kind:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    // The peer reads everything that was written, then nothing more comes.
    let reading = thread::spawn(move || {
        peer.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut got = 0usize;
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            match peer.read(&mut chunk) {
                Ok(0) => return got,
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return got;
                }
                Err(e) => panic!("{e}"),
            }
        }
    });
    thread::sleep(Duration::from_millis(100));
    for _ in 0..2 {
        match ws.send_text("after") {
            Err(Error::Io(e)) => assert_eq!(e.kind(), kind),
            other => panic!("{other:?}"),
        }
        match ws.read() {
            Err(Error::Io(e)) => assert_eq!(e.kind(), kind),
            other => panic!("{other:?}"),
        }
    }
    let got = reading.join().unwrap();
    assert!(
        got < 10 + (64 << 20),
        "the frame was cut short: {got} bytes"
    );
    assert!(got > 0);
}

/// A declined response whose body is cut short by the end of the stream is
/// still the server's refusal: its status, with the body that came.
#[test]
fn a_declined_response_cut_short_is_still_declined() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_head(&mut stream);
        stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nhello")
            .unwrap();
    });
    let request = ClientRequest::new("GET", "/", &host, &["websocket"]);
    let stream = TcpStream::connect(&host).unwrap();
    match protoswitch_blocking::connect(stream, &request) {
        Err(Error::Declined { status, body, .. }) => {
            assert_eq!(status, 503);
            assert_eq!(body, b"hello");
        }
        other => panic!("{other:?}"),
    }
    server.join().unwrap();
}

/// `accept_raw` with a body limit of 8 bytes: the server's result and the
/// status line the client read, for a request carrying `body_head` (its
/// framing header) and then `body` (written after the head).
fn raw_switch_with_body(body_head: &str, body: &[u8]) -> (Result<Vec<u8>, Error>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let config = Config::new().max_request_body(8);
        protoswitch_blocking::accept_raw(stream, &config, |_| {
            Ok(protoswitch::upgrade::Accept::new("foo"))
        })
        .map(|up| up.body)
    });
    let mut stream = TcpStream::connect(&host).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: foo\r\n{body_head}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The body may be refused before it is all written: the server then
    // closes.
    let _ = stream.write_all(body);
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let status_line = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    drop(stream);
    (server.join().unwrap(), status_line)
}

/// The request body `accept_raw` keeps in memory is limited: a larger one
/// is answered 413, at its head when `Content-Length` says so, after the
/// limit otherwise (chunked); one within the limit is read whole.
#[test]
fn a_raw_switch_refuses_a_request_body_over_the_limit() {
    let (ok, status) = raw_switch_with_body("Content-Length: 8", b"12345678");
    assert_eq!(ok.unwrap(), b"12345678");
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");

    // Refused at the head: the body is never waited for.
    let (refused, status) = raw_switch_with_body("Content-Length: 1000000", b"");
    assert!(
        matches!(refused, Err(Error::Responded { status: 413, .. })),
        "{refused:?}"
    );
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    let (refused, status) = raw_switch_with_body("Content-Length: 9", b"123456789");
    assert!(
        matches!(refused, Err(Error::Responded { status: 413, .. })),
        "{refused:?}"
    );
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    let chunked = b"5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n";
    let (refused, status) = raw_switch_with_body("Transfer-Encoding: chunked", chunked);
    assert!(
        matches!(refused, Err(Error::Responded { status: 413, .. })),
        "{refused:?}"
    );
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    let within = b"4\r\n1234\r\n4\r\n5678\r\n0\r\n\r\n";
    let (ok, status) = raw_switch_with_body("Transfer-Encoding: chunked", within);
    assert_eq!(ok.unwrap(), b"12345678");
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
}

/// A stream on which a signal interrupts a waiting read every 50 ms
/// (`ErrorKind::Interrupted`), as a process with an interval timer sees.
struct Interrupted {
    inner: TcpStream,
    timeout: Option<Duration>,
}

impl Read for Interrupted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let tick = Duration::from_millis(50);
        let wait = self.timeout.map_or(tick, |t| t.min(tick));
        self.inner.set_read_timeout(Some(wait))?;
        match self.inner.read(buf) {
            Err(e)
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                    && self.timeout.is_none_or(|t| t > tick) =>
            {
                self.timeout = self.timeout.map(|t| t - tick);
                Err(ErrorKind::Interrupted.into())
            }
            other => other,
        }
    }
}

impl Write for Interrupted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Transport for Interrupted {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<bool> {
        self.timeout = timeout;
        Ok(true)
    }
}

/// A peer that sends part of a frame header and goes silent is pinged and
/// found gone, on read timeouts and with reads interrupted by signals:
/// waking up does not hand the machine the same partial bytes again
/// (which counts as traffic, and pushed the idle keepalive back at every
/// interrupted read, for ever).
#[test]
fn a_partial_header_then_silence_is_found_by_the_keepalive() {
    let keepalive = Keepalive::idle(Duration::from_millis(200), Duration::from_millis(200));
    let config = Config::new()
        .deflate(None)
        .websocket(ws::Config::new().keepalive(Some(keepalive)));
    let check = |read: Result<Message, Error>, elapsed: Duration, how: &str| {
        // Both in each message: when it returned tells why.
        assert!(
            matches!(read, Err(Error::PeerUnresponsive)),
            "{how}: {read:?} after {elapsed:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(350) && elapsed < Duration::from_secs(3),
            "{how}: {read:?} after {elapsed:?}"
        );
    };
    // The first byte of a masked binary frame, and nothing more.
    let (mut ws, mut peer) = server_and_silent_client(config);
    peer.write_all(&[0x82]).unwrap();
    let (read, elapsed) = within(Duration::from_secs(10), move || {
        let start = Instant::now();
        (ws.read(), start.elapsed())
    });
    check(read, elapsed, "read timeouts");
    let wrap = |inner| Interrupted {
        inner,
        timeout: None,
    };
    let (mut ws, mut peer) = server_over_and_silent_client(config, wrap);
    peer.write_all(&[0x82]).unwrap();
    let (read, elapsed) = within(Duration::from_secs(10), move || {
        let start = Instant::now();
        (ws.read(), start.elapsed())
    });
    check(read, elapsed, "interrupted reads");
}

/// A read timeout of the caller's own (no timer of ours due) and a
/// non-blocking stream: `read` returns `WouldBlock`/`TimedOut` when no
/// message came, at once or after that timeout, rather than spinning or
/// clearing it; the connection stays usable.
#[test]
fn a_read_timeout_of_your_own_and_a_non_blocking_stream_return_to_the_caller() {
    let is_would_block = |r: &Result<Message, Error>| matches!(r, Err(Error::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut));
    let (mut ws, mut peer) = server_and_silent_client(Config::new().deflate(None));
    let (mut ws, read, elapsed) = within(Duration::from_secs(10), move || {
        ws.get_mut()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let start = Instant::now();
        let read = ws.read();
        (ws, read, start.elapsed())
    });
    assert!(is_would_block(&read), "{read:?}");
    assert!(
        elapsed >= Duration::from_millis(190) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    peer.write_all(&client_frame(0x81, b"one")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Text("one".into()));

    // Non-blocking, and with a keepalive due in 10 s: no wait, no spin.
    let keepalive = Keepalive::idle(Duration::from_secs(10), Duration::from_secs(10));
    let config = Config::new()
        .deflate(None)
        .websocket(ws::Config::new().keepalive(Some(keepalive)));
    let (mut ws, mut peer) = server_and_silent_client(config);
    ws.get_mut().set_nonblocking(true).unwrap();
    let (mut ws, read, elapsed) = within(Duration::from_secs(5), move || {
        let start = Instant::now();
        let read = ws.read();
        (ws, read, start.elapsed())
    });
    assert!(is_would_block(&read), "{read:?}");
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    peer.write_all(&client_frame(0x81, b"two")).unwrap();
    let message = loop {
        match ws.read() {
            Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5))
            }
            other => break other,
        }
    };
    assert_eq!(message.unwrap(), Message::Text("two".into()));
}

/// A write that would block on a non-blocking stream ends the connection
/// at once (a frame is cut short), rather than spinning until a timer.
#[test]
fn a_write_that_would_block_on_a_non_blocking_stream_ends_the_connection() {
    let keepalive = Keepalive::idle(Duration::from_secs(10), Duration::from_secs(10));
    let config = Config::new()
        .deflate(None)
        .websocket(ws::Config::new().keepalive(Some(keepalive)));
    let (mut ws, _peer) = server_and_silent_client(config);
    let (sent, elapsed, again) = within(Duration::from_secs(10), move || {
        ws.get_mut().set_nonblocking(true).unwrap();
        let start = Instant::now();
        let sent = ws.send_binary(&vec![7u8; 64 << 20]);
        (sent, start.elapsed(), ws.send_text("after"))
    });
    let would_block =
        |r: &Result<(), Error>| matches!(r, Err(Error::Io(e)) if e.kind() == ErrorKind::WouldBlock);
    assert!(would_block(&sent), "{sent:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(would_block(&again), "{again:?}");
}
