//! The write path issue 11 asks for: each frame handed to the transport
//! once — small frames coalesced, a large payload vectored with its header.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{SinkExt, StreamExt};
use protoswitch_tokio::Message;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

mod support;

/// A transport that records every write call: (vectored, slices, bytes).
struct Recording {
    inner: DuplexStream,
    calls: Arc<Mutex<Vec<(bool, usize, usize)>>>,
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.calls.lock().unwrap().push((false, 1, buf.len()));
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total = bufs.iter().map(|b| b.len()).sum();
        self.calls.lock().unwrap().push((true, bufs.len(), total));
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn frames_are_written_once() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recording = |inner| Recording {
        inner,
        calls: calls.clone(),
    };
    let (server, raw) = support::raw_pair_with("", support::plain(), 1 << 20, recording).await;
    let mut ws = server.await.unwrap().unwrap();
    calls.lock().unwrap().clear(); // the 101

    // A small message: header and payload in one plain write.
    ws.send(Message::binary(vec![1; 20])).await.unwrap();
    assert_eq!(*calls.lock().unwrap(), [(false, 1, 22)]);
    calls.lock().unwrap().clear();

    // A large one: one vectored write of header + payload, no copy.
    ws.send(Message::binary(vec![2; 64 * 1024])).await.unwrap();
    let recorded = calls.lock().unwrap().clone();
    // 64 KiB needs the 8-byte length: a 10-byte header.
    assert_eq!(recorded, [(true, 2, 10 + 64 * 1024)]);
    calls.lock().unwrap().clear();

    // Several small messages fed before a flush leave together.
    for _ in 0..5 {
        ws.feed(Message::text("hi")).await.unwrap();
    }
    ws.flush().await.unwrap();
    assert_eq!(*calls.lock().unwrap(), [(false, 1, 5 * 4)]);
    drop(raw);
    assert!(ws.next().await.unwrap().is_err()); // 1006: the peer vanished
}
