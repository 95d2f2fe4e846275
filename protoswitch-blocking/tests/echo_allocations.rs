//! A blocking echo of small messages allocates nothing per message once
//! warm: the received message is built in the buffer of the one sent
//! before it (`MessageAssembler::recycle`). Counted by the testkit's
//! counting allocator, over an in-memory stream that hands out one frame
//! per read.

use std::io::{self, Read, Write};

use protoswitch_blocking::{Decision, Transport};
use protoswitch_testkit::alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The request, then frames of `frame` bytes, one per read; what is written
/// goes into storage reserved up front (no allocation while counting).
struct Memory {
    input: Vec<u8>,
    at: usize,
    request: usize,
    frame: usize,
    written: Vec<u8>,
}

impl Read for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = if self.at < self.request {
            self.request - self.at
        } else {
            self.frame
        };
        let n = piece.min(buf.len()).min(self.input.len() - self.at);
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Memory {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        assert!(
            self.written.len() + buf.len() <= self.written.capacity(),
            "the reserved output suffices"
        );
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for Memory {}

#[test]
fn small_echoes_allocate_nothing_once_warm() {
    let (warm, n) = (16, 200);
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    // A masked client frame (key 0) of 20 bytes.
    let mut frame = vec![0x82, 0x80 | 20, 0, 0, 0, 0];
    frame.extend_from_slice(&[0x5A; 20]);
    let mut input = request.to_vec();
    for _ in 0..warm + n {
        input.extend_from_slice(&frame);
    }
    let stream = Memory {
        input,
        at: 0,
        request: request.len(),
        frame: frame.len(),
        written: Vec::with_capacity(1024 + (warm + n) * 22),
    };
    let mut ws = protoswitch_blocking::accept(stream, |_| Decision::accept()).unwrap();
    let echo = |ws: &mut protoswitch_blocking::WebSocket<Memory>| {
        let message = ws.read().unwrap();
        ws.send(message).unwrap();
    };
    for _ in 0..warm {
        echo(&mut ws);
    }
    let ((), count) = allocations(|| {
        for _ in 0..n {
            echo(&mut ws);
        }
    });
    assert_eq!(count, 0, "allocations in {n} echoes");
    let written = &ws.get_ref().written;
    let echoes = &written[written.len() - n * 22..];
    for e in echoes.chunks(22) {
        assert_eq!(e[..2], [0x82, 20]);
        assert_eq!(e[2..], [0x5A; 20]);
    }
}
