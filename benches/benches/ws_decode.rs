//! Decoding 1 MiB of masked client-to-server frames, read from memory in
//! 64 KiB pieces, with protoswitch and with tungstenite on the same input
//! in the same run.
//!
//! ```text
//! cd benches && cargo bench --bench ws_decode && python3 report.py
//! ```

use std::hint::black_box;
use std::io::{self, Read, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use protoswitch::Instant;
use protoswitch::ws::{Config, Connection, Event};

const INPUT_BYTES: usize = 1 << 20;
const READ_SIZE: usize = 64 * 1024;

/// Masked frames of `payload` until about 1 MiB; returns the bytes and the
/// frame count.
fn frames(payload: &[u8], text: bool) -> (Vec<u8>, usize) {
    let mut seed = 0x9E37_79B9u32;
    let mut client = Connection::client(Config::default(), Instant::ZERO, move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed.to_le_bytes()
    });
    let mut out = vec![0u8; payload.len() + 14];
    let mut input = Vec::with_capacity(INPUT_BYTES + out.len());
    let mut count = 0;
    while input.len() < INPUT_BYTES {
        let n = if text {
            client
                .send_text(std::str::from_utf8(payload).unwrap(), &mut out)
                .unwrap()
        } else {
            client.send_binary(payload, &mut out).unwrap()
        };
        input.extend_from_slice(&out[..n]);
        count += 1;
    }
    (input, count)
}

fn mixed_utf8(len: usize) -> Vec<u8> {
    let sample = "Hello, мир! こんにちは 🌍 Ωμέγα ";
    let mut s = String::new();
    while s.len() + sample.len() <= len {
        s.push_str(sample);
    }
    for c in sample.chars() {
        if s.len() + c.len_utf8() > len {
            break;
        }
        s.push(c);
    }
    while s.len() < len {
        s.push('.');
    }
    s.into_bytes()
}

/// protoswitch: a fixed read buffer, frames unmasked in place, events
/// borrowing the buffer. Returns the messages seen.
fn decode_protoswitch(input: &[u8], buf: &mut [u8]) -> usize {
    let mut conn = Connection::server(Config::default(), Instant::ZERO);
    let (mut start, mut end, mut pos, mut messages) = (0, 0, 0, 0);
    loop {
        if start == end {
            start = 0;
            end = 0;
        } else if start > 0 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        let n = READ_SIZE.min(input.len() - pos).min(buf.len() - end);
        buf[end..end + n].copy_from_slice(&input[pos..pos + n]);
        pos += n;
        end += n;
        loop {
            let got = conn
                .receive(&mut buf[start..end], Instant::ZERO)
                .expect("valid input");
            start += got.consumed;
            match got.event {
                Some(Event::Data(chunk)) => {
                    black_box(chunk.payload);
                    messages += usize::from(chunk.message_end);
                }
                Some(_) => {}
                None => break,
            }
        }
        if pos == input.len() && start == end {
            return messages;
        }
    }
}

/// An in-memory stream that hands out at most 64 KiB per read.
struct Reads<'a> {
    input: &'a [u8],
}

impl Read for Reads<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = READ_SIZE.min(out.len()).min(self.input.len());
        out[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Reads<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn decode_tungstenite(input: &[u8], expected: usize) -> usize {
    use tungstenite::protocol::{Role, WebSocket};
    let mut ws = WebSocket::from_raw_socket(Reads { input }, Role::Server, None);
    let mut messages = 0;
    while messages < expected {
        let m = ws.read().expect("valid input");
        black_box(&m);
        messages += 1;
    }
    messages
}

fn bench(c: &mut Criterion) {
    let cases = [
        ("binary_16B", frames(&[0xAB; 16], false)),
        ("binary_1KiB", frames(&[0xAB; 1024], false)),
        ("binary_64KiB", frames(&[0xAB; 65536], false)),
        ("text_utf8_1KiB", frames(&mixed_utf8(1024), true)),
    ];
    let mut buf = vec![0u8; READ_SIZE + 1024];
    // Frame counts and sizes for report.py (ns/frame needs them).
    let summary: Vec<String> = cases
        .iter()
        .map(|(name, (input, count))| format!("{name} {} {count}", input.len()))
        .collect();
    let _ = std::fs::create_dir_all("target/criterion");
    let _ = std::fs::write(
        "target/criterion/ws_decode_inputs.txt",
        summary.join("\n") + "\n",
    );
    for (name, (input, count)) in &cases {
        // Both decoders must see every frame.
        assert_eq!(decode_protoswitch(input, &mut buf), *count);
        assert_eq!(decode_tungstenite(input, *count), *count);
        eprintln!("{name}: {} bytes, {count} frames", input.len());
        let mut group = c.benchmark_group(*name);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("protoswitch", |b| {
            b.iter(|| decode_protoswitch(black_box(input), &mut buf))
        });
        group.bench_function("tungstenite", |b| {
            b.iter(|| decode_tungstenite(black_box(input), *count))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
