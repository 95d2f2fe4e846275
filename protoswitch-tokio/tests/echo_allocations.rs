//! An echo of small messages through the adapter allocates nothing per
//! message once warm: the received message is built in the buffer of the
//! one sent before it (`MessageAssembler::recycle`), the write queue and
//! the receive buffer are reused. Counted by a global allocator wrapper,
//! on a current-thread runtime over an in-memory pipe.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use protoswitch_tokio::{Accepted, Options, accept_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments; the
// wrapper only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `n` echoes of a 20-byte binary message, after a
/// warm-up of `warm` echoes.
async fn allocations_per_echoes(warm: usize, n: usize) -> usize {
    let (a, mut raw) = duplex(64 * 1024);
    let server = tokio::spawn(accept_with(a, Options::new().deflate(None), |_| {
        Ok(Accepted::new())
    }));
    raw.write_all(
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(raw.read_u8().await.unwrap());
    }
    let mut ws = server.await.unwrap().unwrap();
    // A masked client frame (key 0) of 20 bytes, and its echo.
    let mut frame = vec![0x82, 0x80 | 20, 0, 0, 0, 0];
    frame.extend_from_slice(&[0x5A; 20]);
    let mut echo = [0u8; 22];
    let mut one = async || {
        raw.write_all(&frame).await.unwrap();
        let message = ws.next().await.unwrap().unwrap();
        ws.send(message).await.unwrap();
        raw.read_exact(&mut echo).await.unwrap();
        assert_eq!(echo[..2], [0x82, 20]);
        assert_eq!(echo[2..], [0x5A; 20]);
    };
    for _ in 0..warm {
        one().await;
    }
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    for _ in 0..n {
        one().await;
    }
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed)
}

#[test]
fn small_echoes_allocate_nothing_once_warm() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let allocations = runtime.block_on(allocations_per_echoes(16, 200));
    assert_eq!(allocations, 0, "allocations in 200 echoes");
}
