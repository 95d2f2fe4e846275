//! Received messages share the receive buffer (issue 11): a message in one
//! frame is split off the buffer it was read and unmasked in, not copied;
//! messages the application holds stay intact while more are read; a
//! small message held does not keep a large buffer alive. Allocations and
//! live heap bytes are counted per thread by the allocator below, on a
//! current-thread runtime over an in-memory pipe.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use futures_util::{FutureExt, SinkExt, StreamExt};
use protoswitch_tokio::{
    Accepted, Bytes, Connect, Error, Message, Options, Utf8Bytes, WebSocketStream, accept_with,
    connect,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

mod support;

/// The system allocator, counting each allocation (and reallocation) and
/// the bytes live, per thread.
struct Measuring;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn note(allocations: u64, bytes: i64) {
    // `try_with`: the thread's counters may be gone while it exits.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + allocations));
    let _ = LIVE.try_with(|c| c.set(c.get() + bytes));
}

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Measuring {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(1, layout.size() as i64);
        // SAFETY: the caller's layout, passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, -(layout.size() as i64));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(1, new_size as i64 - layout.size() as i64);
        // SAFETY: as for `dealloc`, and the caller's new size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Measuring = Measuring;

fn allocated() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn live() -> i64 {
    LIVE.with(Cell::get)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A client frame of any size, FIN set, mask key 0 (the payload stays as
/// is on the wire).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    match payload.len() {
        n @ 0..126 => f.push(0x80 | n as u8),
        n @ 126..65536 => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(payload);
    f
}

/// [`frame`] masked with `key` (RFC 6455 §5.3), as clients send them.
fn masked(first: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut f = frame(first, payload);
    let at = f.len() - payload.len();
    f[at - 4..at].copy_from_slice(&key);
    for (i, b) in f[at..].iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    f
}

/// A server through the adapter and a raw client past the 101, over a
/// pipe of 1 MiB (writes of a test never wait for the server).
async fn raw() -> (WebSocketStream<DuplexStream>, DuplexStream) {
    let (server, raw) = support::raw_pair_with("", support::plain(), 1 << 20, |a| a).await;
    (server.await.unwrap().unwrap(), raw)
}

/// The payload of a received message lies in `[at, at + len)`.
fn span(m: &Message) -> (usize, usize) {
    (m.as_bytes().as_ptr() as usize, m.len())
}

#[test]
fn messages_in_one_frame_share_the_receive_buffer() {
    runtime().block_on(async {
        let (mut ws, mut raw) = raw().await;
        // Three messages in one write (and one read), all held: each
        // one's payload starts where the previous frame ended (its header
        // in between), in the same storage. A copy would put them
        // anywhere.
        let text = "zéro copie ".repeat(50);
        let binary: Vec<u8> = (0..600).map(|i| i as u8).collect();
        let mut wire = frame(0x82, &binary);
        wire.extend(frame(0x81, text.as_bytes()));
        wire.extend(frame(0x82, &binary));
        assert!(wire.len() < 2048, "one read of the first buffer");
        raw.write_all(&wire).await.unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(ws.next().await.unwrap().unwrap());
        }
        assert_eq!(held[0], Message::binary(binary.clone()));
        assert_eq!(held[1], Message::text(text.clone()));
        assert_eq!(held[2], Message::binary(binary.clone()));
        let (a, a_len) = span(&held[0]);
        let (b, b_len) = span(&held[1]);
        let (c, _) = span(&held[2]);
        assert_eq!(b, a + a_len + 8, "text after binary: 8-byte header");
        assert_eq!(c, b + b_len + 8, "binary after text: 8-byte header");
    });
}

#[test]
fn receiving_16_kib_messages_allocates_nothing_once_warm() {
    let (count, copies) = runtime().block_on(async {
        let (mut ws, mut raw) = raw().await;
        // Masked with a key that changes every byte (a frame unmasked
        // twice, or resumed at the wrong phase, would not come out equal).
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let binary_payload: Vec<u8> = (0..16 * 1024).map(|i| (i * 7 % 251) as u8).collect();
        let binary = masked(0x82, &binary_payload, key);
        let text_payload = "ü".repeat(8 * 1024);
        let text = masked(0x81, text_payload.as_bytes(), key);
        let mut at = std::collections::HashSet::with_capacity(256);
        let mut round = async |ws: &mut WebSocketStream<DuplexStream>, i: usize| {
            // Two times in three in several reads: the stream reads and
            // the machine decodes each part before the next is written; the
            // frame is kept where it is and still comes out in one piece.
            // Cut at an odd offset (inside a mask word, and in the text
            // inside a character), or after the header alone and then so.
            let wire = if i % 2 == 0 { &binary } else { &text };
            let cuts: &[usize] = [&[][..], &[5001], &[8, 5001]][i % 3];
            let mut from = 0;
            for &cut in cuts {
                raw.write_all(&wire[from..cut]).await.unwrap();
                assert!(
                    ws.next().now_or_never().is_none(),
                    "a message from part of a frame"
                );
                from = cut;
            }
            raw.write_all(&wire[from..]).await.unwrap();
            let m = ws.next().await.unwrap().unwrap();
            if i % 2 == 0 {
                assert_eq!(m.as_bytes(), &binary_payload[..]);
            } else {
                assert_eq!(m.as_text(), Some(text_payload.as_str()));
            }
            m.as_bytes().as_ptr() as usize
        };
        for i in 0..8 {
            round(&mut ws, i).await;
        }
        let before = allocated();
        for i in 0..200 {
            at.insert(round(&mut ws, i).await);
        }
        (allocated() - before, at.len())
    });
    assert_eq!(count, 0, "allocations in receiving 200 messages of 16 KiB");
    // Each dropped before the next: the same storage, taken back.
    assert!(copies <= 2, "{copies} places");
}

/// Invalid UTF-8 in the second read of a text frame kept in place: the
/// connection fails with 1007, no message comes out, and what was kept is
/// let go.
#[test]
fn invalid_text_in_a_kept_frame_fails_with_1007() {
    runtime().block_on(async {
        let (mut ws, mut raw) = raw().await;
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut payload = "ü".repeat(4000).into_bytes();
        payload[6001] = 0xFF;
        let wire = masked(0x81, &payload, key);
        raw.write_all(&wire[..3001]).await.unwrap();
        assert!(
            ws.next().now_or_never().is_none(),
            "a message from part of a frame"
        );
        raw.write_all(&wire[3001..]).await.unwrap();
        let got = ws.next().await;
        assert!(matches!(got, Some(Err(Error::Protocol(_)))), "{got:?}");
        let mut close = [0u8; 4];
        raw.read_exact(&mut close).await.unwrap();
        assert_eq!(close[0], 0x88, "a Close");
        assert_eq!(u16::from_be_bytes([close[2], close[3]]), 1007);
        assert!(ws.next().await.is_none());
    });
}

/// A peer that breaks a kept text frame and goes on sending while our
/// Close cannot be written (it never reads: the Pongs it asked for fill
/// the way back): the machine discards what follows, and the stream lets
/// go of it too, instead of buffering a mebibyte.
#[test]
fn what_follows_a_failed_kept_frame_is_discarded_not_buffered() {
    let grown = runtime().block_on(async {
        let (server, raw) = support::raw_pair_with("", support::plain(), 4096, |a| a).await;
        let mut ws = server.await.unwrap().unwrap();
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut wire = masked(0x89, &[7; 125], key).repeat(64);
        let mut text = "ü".repeat(4000).into_bytes();
        text[6001] = 0xFF;
        let text = masked(0x81, &text, key);
        let junk = vec![0u8; 1 << 20];
        let before = live();
        let mut writer = tokio::spawn(async move {
            let mut raw = raw;
            wire.extend_from_slice(&text);
            raw.write_all(&wire).await.unwrap();
            raw.write_all(&junk).await.unwrap();
            (raw, wire, junk)
        });
        let kept = loop {
            tokio::select! {
                done = &mut writer => break done.unwrap(),
                next = ws.next() => {
                    assert!(!matches!(next, Some(Ok(_))), "a message: {next:?}");
                    if next.is_none() {
                        panic!("the stream ended while its Close could not be written");
                    }
                }
            }
        };
        let grown = live() - before;
        drop(kept);
        grown
    });
    // The buffers of the pipe's way back and the stream's queue, not the
    // mebibyte sent after the error.
    assert!(grown < 256 * 1024, "{grown} bytes grown");
}

#[test]
fn messages_held_stay_intact_while_more_are_received() {
    runtime().block_on(async {
        let (mut ws, mut raw) = raw().await;
        let payload = |i: usize| -> Vec<u8> {
            // Sizes across the buffer's sizes: tiny, around the split
            // threshold, larger than the read buffer.
            let len = [3, 100, 600, 1500, 5000, 20_000, 70_000][i % 7];
            (0..len).map(|j| (i * 31 + j) as u8).collect()
        };
        let mut held = Vec::new();
        for i in 0..100 {
            let body = payload(i);
            let mut wire = if i % 3 == 0 {
                // Fragmented: two frames.
                let mut w = frame(0x02, &body[..body.len() / 2]);
                w.extend(frame(0x80, &body[body.len() / 2..]));
                w
            } else {
                frame(0x82, &body)
            };
            // A Ping between messages now and then.
            if i % 10 == 0 {
                wire.extend(frame(0x89, b"ping"));
            }
            raw.write_all(&wire).await.unwrap();
            if i % 5 == 4 {
                // Five messages in the buffer at a time.
                for _ in 0..5 {
                    held.push(ws.next().await.unwrap().unwrap());
                }
            }
        }
        assert_eq!(held.len(), 100);
        for (i, m) in held.iter().enumerate() {
            assert_eq!(m, &Message::binary(payload(i)), "message {i}");
        }
    });
}

#[test]
fn a_small_message_held_does_not_pin_a_large_buffer() {
    let grown = runtime().block_on(async {
        let (mut ws, mut raw) = raw().await;
        let large = frame(0x82, &[1; 16 * 1024]);
        let small = frame(0x82, &[2; 100]);
        let mut held = Vec::new();
        // Warm: the buffer grows to 64 KiB (reads fill it).
        for _ in 0..4 {
            let wire = large.repeat(8);
            raw.write_all(&wire).await.unwrap();
            for _ in 0..8 {
                ws.next().await.unwrap().unwrap();
            }
        }
        let before = live();
        // 50 rounds of four large messages (dropped) and a small one
        // (held), in one write each.
        for _ in 0..50 {
            let mut wire = large.repeat(4);
            wire.extend(&small);
            raw.write_all(&wire).await.unwrap();
            for _ in 0..4 {
                ws.next().await.unwrap().unwrap();
            }
            held.push(ws.next().await.unwrap().unwrap());
        }
        let grown = live() - before;
        assert!(held.iter().all(|m| m.as_bytes() == [2; 100]));
        grown
    });
    // Each small message held alone: its 100 bytes and an allocation's
    // overhead, plus at most one receive buffer changing hands. Were they
    // split off the 64 KiB buffer, each would keep a buffer alive.
    assert!(
        grown < 50 * 1024 + 128 * 1024,
        "{grown} bytes live for 50 messages of 100 bytes"
    );
}

#[test]
fn fragmented_and_compressed_messages_are_gathered() {
    runtime().block_on(async {
        let (a, b) = duplex(1 << 20);
        let server = tokio::spawn(accept_with(a, Options::new(), |_| Ok(Accepted::new())));
        let mut client = connect(b, Connect::new("test", "/")).await.unwrap();
        let mut server = server.await.unwrap().unwrap();
        assert!(server.deflate().is_some());
        let messages: Vec<Message> = (0..100)
            .map(|i| match i % 3 {
                0 => Message::text(format!("{i} ").repeat(i * 50)),
                1 => Message::binary(vec![i as u8; i * 700]),
                _ => Message::text(format!("{i}")),
            })
            .collect();
        for m in &messages {
            client.feed(m.clone()).await.unwrap();
        }
        client.flush().await.unwrap();
        let mut held = Vec::new();
        for _ in 0..100 {
            held.push(server.next().await.unwrap().unwrap());
        }
        assert_eq!(held, messages);
    });
    // Fragmented (the adapter's sink sends one frame per message: raw
    // frames here), cut inside characters, a Ping between fragments, each
    // fragment in a read of its own or several in one.
    runtime().block_on(async {
        let (mut server, mut raw) = raw().await;
        let text = "héllo wörld ✓ ".repeat(300);
        let bytes = text.as_bytes();
        let cuts = [1, 2, 1000, bytes.len() - 1];
        let key = [0xA1, 0x5E, 0x07, 0xC3];
        let mut wire = Vec::new();
        let mut from = 0;
        for (i, &to) in cuts.iter().chain([&bytes.len()]).enumerate() {
            let opcode = if i == 0 { 0x01 } else { 0x00 };
            let fin = if to == bytes.len() { 0x80 } else { 0 };
            wire.push(masked(fin | opcode, &bytes[from..to], key));
            if i == 1 {
                wire.push(masked(0x89, b"mid-message", key));
            }
            from = to;
        }
        let binary: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        wire.push(masked(0x02, &binary[..3000], key));
        wire.push(masked(0x80, &binary[3000..], key));
        // Piece by piece: nothing comes out before a message's last frame.
        let mut got = Vec::new();
        for piece in &wire {
            raw.write_all(piece).await.unwrap();
            if piece[0] & 0x88 == 0x80 {
                got.push(server.next().await.unwrap().unwrap());
            } else {
                let early = server.next().now_or_never();
                assert!(early.is_none(), "{early:?}");
            }
        }
        assert_eq!(
            got,
            [Message::text(text.clone()), Message::binary(binary.clone())]
        );
        // All in one write (the server reads it in several).
        raw.write_all(&wire.concat()).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text(text));
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::binary(binary)
        );
        // The Pings between fragments were answered.
        let mut pongs = [0u8; 26];
        raw.read_exact(&mut pongs).await.unwrap();
        assert_eq!(&pongs, b"\x8a\x0bmid-message\x8a\x0bmid-message");
    });
}

#[test]
fn a_client_masks_a_shared_payload_in_a_copy_and_its_own_in_place() {
    runtime().block_on(async {
        let (a, b) = duplex(1 << 20);
        let options = support::plain();
        let server = tokio::spawn(accept_with(a, options.clone(), |_| Ok(Accepted::new())));
        let mut client = connect(b, Connect::new("test", "/").options(options))
            .await
            .unwrap();
        let mut server = server.await.unwrap().unwrap();
        // Shared (a clone held, a static): masked in a copy, left intact.
        let shared = Bytes::from(vec![0x3C; 8 * 1024]);
        client.send(Message::binary(shared.clone())).await.unwrap();
        assert!(shared.iter().all(|&b| b == 0x3C), "the held clone masked");
        let text: &'static str = "static text, large enough to be written as it is. "
            .repeat(100)
            .leak();
        let text = Utf8Bytes::from(text);
        client.send(Message::Text(text.clone())).await.unwrap();
        assert!(text.starts_with("static text"));
        // Its own: masked in place (moved in, nothing to keep intact).
        client
            .send(Message::binary(vec![0x3C; 8 * 1024]))
            .await
            .unwrap();
        let got: Vec<Message> = [
            server.next().await.unwrap().unwrap(),
            server.next().await.unwrap().unwrap(),
            server.next().await.unwrap().unwrap(),
        ]
        .into();
        assert_eq!(got[0], Message::binary(shared));
        assert_eq!(got[1], Message::Text(text));
        assert_eq!(got[2], Message::binary(vec![0x3C; 8 * 1024]));
        // Counted, the queue warm: its own payload is sent without an
        // allocation (masked where it is); a shared one costs its copy.
        // (The in-memory pipe allocates too, when it grows: the three
        // messages above, ~24 KiB, already took it past what these need.)
        let own = Message::binary(vec![0x5A; 8 * 1024]);
        let before = allocated();
        client.send(own).await.unwrap();
        let own_allocations = allocated() - before;
        let shared = Bytes::from(vec![0x5A; 8 * 1024]);
        let message = Message::binary(shared.clone());
        let before = allocated();
        client.send(message).await.unwrap();
        let shared_allocations = allocated() - before;
        assert_eq!(own_allocations, 0, "its own payload was copied");
        assert!(shared_allocations >= 1, "a shared payload masked in place");
        for _ in 0..2 {
            let got = server.next().await.unwrap().unwrap();
            assert_eq!(got, Message::binary(vec![0x5A; 8 * 1024]));
        }
        assert!(shared.iter().all(|&b| b == 0x5A));
    });
}
