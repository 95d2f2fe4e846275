//! `WebSocketStream::split`: the reader drives the connection, writers
//! hand it messages through a channel. Checked on the wire with a raw
//! client.

use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use protoswitch_tokio::{Accepted, Connect, Error, Message, WebSocketReader, accept, connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

mod support;

/// Reads one unmasked server frame: its first byte and payload.
async fn read_frame(raw: &mut DuplexStream) -> (u8, Vec<u8>) {
    // A stall (a message left in the channel) fails instead of hanging.
    tokio::time::timeout(Duration::from_secs(10), read_frame_now(raw))
        .await
        .expect("a frame within 10 s")
}

async fn read_frame_now(raw: &mut DuplexStream) -> (u8, Vec<u8>) {
    let first = raw.read_u8().await.unwrap();
    let len = match raw.read_u8().await.unwrap() {
        126 => usize::from(raw.read_u16().await.unwrap()),
        127 => usize::try_from(raw.read_u64().await.unwrap()).unwrap(),
        n => usize::from(n),
    };
    let mut payload = vec![0; len];
    raw.read_exact(&mut payload).await.unwrap();
    (first, payload)
}

/// Drives the reader in a task until it ends; returns what it yielded.
fn drive(
    mut reader: WebSocketReader<DuplexStream>,
) -> tokio::task::JoinHandle<Vec<Result<Message, Error>>> {
    tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(item) = reader.next().await {
            got.push(item);
        }
        got
    })
}

/// The peer answers our Close with its own (`payload`): the reader ends,
/// having yielded nothing.
async fn peer_answers_close(
    raw: &mut DuplexStream,
    payload: &[u8],
    reading: tokio::task::JoinHandle<Vec<Result<Message, Error>>>,
) {
    raw.write_all(&support::frame(0x88, payload)).await.unwrap();
    assert!(reading.await.unwrap().is_empty());
}

#[tokio::test]
async fn messages_go_from_the_reader_task_to_the_writer_task_and_out() {
    let (server, mut raw) = support::raw_pair("", support::plain()).await;
    let (mut reader, mut writer) = server.await.unwrap().unwrap().split();
    // The reader's task hands each message to the writer's task.
    let (tx, mut rx) = futures_channel::mpsc::unbounded();
    let reading = tokio::spawn(async move {
        while let Some(message) = reader.next().await {
            tx.unbounded_send(message.unwrap()).unwrap();
        }
        reader.close_frame().cloned()
    });
    let writing = tokio::spawn(async move {
        while let Some(message) = rx.next().await {
            writer.send(message).await.unwrap();
        }
    });
    for text in ["a", "bc", "def"] {
        raw.write_all(&support::frame(0x81, text.as_bytes()))
            .await
            .unwrap();
        assert_eq!(read_frame(&mut raw).await, (0x81, text.as_bytes().to_vec()));
    }
    raw.write_all(&support::frame(0x88, &[0x03, 0xE8]))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut raw).await, (0x88, vec![0x03, 0xE8]));
    let close = reading.await.unwrap().expect("the peer's Close");
    assert_eq!(close.code, Some(1000));
    writing.await.unwrap();
}

#[tokio::test]
async fn pings_are_answered_while_no_writer_sends() {
    let (server, mut raw) = support::raw_pair("", support::plain()).await;
    let (reader, mut writer) = server.await.unwrap().unwrap().split();
    let reading = drive(reader);
    raw.write_all(&support::frame(0x89, b"hi")).await.unwrap();
    assert_eq!(read_frame(&mut raw).await, (0x8A, b"hi".to_vec()));
    // The peer closes: echoed, the reader ends, the writer is refused.
    raw.write_all(&support::frame(0x88, &[0x03, 0xE8]))
        .await
        .unwrap();
    assert_eq!(read_frame(&mut raw).await, (0x88, vec![0x03, 0xE8]));
    assert!(reading.await.unwrap().is_empty());
    assert!(writer.is_closed());
    let refused = writer.send(Message::text("late")).await;
    assert!(matches!(refused, Err(Error::AlreadyClosed)), "{refused:?}");
}

#[tokio::test]
async fn a_writer_close_follows_its_messages_and_ends_the_sending() {
    let (server, mut raw) = support::raw_pair("", support::plain()).await;
    let (reader, mut writer) = server.await.unwrap().unwrap().split();
    let mut other = writer.clone();
    let reading = drive(reader);
    writer.send(Message::text("x")).await.unwrap();
    other.send(Message::binary(vec![7])).await.unwrap();
    writer.close(4000, "bye").await.unwrap();
    assert_eq!(read_frame(&mut raw).await, (0x81, b"x".to_vec()));
    assert_eq!(read_frame(&mut raw).await, (0x82, vec![7]));
    let mut close = vec![0x0F, 0xA0];
    close.extend_from_slice(b"bye");
    assert_eq!(read_frame(&mut raw).await, (0x88, close));
    // Every writer is refused from then on.
    let refused = other.send(Message::text("after")).await;
    assert!(matches!(refused, Err(Error::AlreadyClosed)), "{refused:?}");
    // A message the peer sends before its Close is still read.
    raw.write_all(&support::frame(0x81, b"last")).await.unwrap();
    raw.write_all(&support::frame(0x88, &[0x0F, 0xA0]))
        .await
        .unwrap();
    let got = reading.await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].as_ref().unwrap(), &Message::text("last"));
}

#[tokio::test]
async fn sink_close_sends_close_1000() {
    let (server, mut raw) = support::raw_pair("", support::plain()).await;
    let (reader, mut writer) = server.await.unwrap().unwrap().split();
    let reading = drive(reader);
    SinkExt::close(&mut writer).await.unwrap();
    assert_eq!(read_frame(&mut raw).await, (0x88, vec![0x03, 0xE8]));
    peer_answers_close(&mut raw, &[0x03, 0xE8], reading).await;
}

#[tokio::test]
async fn writers_wait_while_the_reader_is_not_polled() {
    let (server, mut raw) = support::raw_pair("", support::plain()).await;
    let (reader, mut writer) = server.await.unwrap().unwrap().split();
    // The channel holds 8 messages plus one per writer; then a send waits.
    let mut sent = 0u8;
    while writer
        .send(Message::binary(vec![sent]))
        .now_or_never()
        .is_some()
    {
        sent += 1;
        assert!(sent < 100, "no backpressure");
    }
    assert_eq!(sent, 9);
    // The send that waited was dropped unsent; polling the reader lets
    // the others out, in order, and the writer goes on.
    let reading = drive(reader);
    writer.send(Message::binary(vec![sent])).await.unwrap();
    for i in 0..=sent {
        assert_eq!(read_frame(&mut raw).await, (0x82, vec![i]));
    }
    drop(writer);
    raw.write_all(&support::frame(0x88, &[])).await.unwrap();
    assert_eq!(read_frame(&mut raw).await, (0x88, vec![]));
    assert!(reading.await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn writers_are_refused_once_the_connection_is_closing() {
    // The idle timeout closes (1001) with the reader still running: the
    // handshake waits for the peer's Close, and writers are refused.
    let options = support::plain().idle_timeout(Some(Duration::from_secs(5)));
    let (server, mut raw) = support::raw_pair("", options).await;
    let (reader, mut writer) = server.await.unwrap().unwrap().split();
    let reading = drive(reader);
    let (first, payload) = read_frame(&mut raw).await;
    assert_eq!((first, &payload[..2]), (0x88, &[0x03, 0xE9][..]));
    let refused = writer.send(Message::text("late")).await;
    assert!(matches!(refused, Err(Error::AlreadyClosed)), "{refused:?}");
    raw.write_all(&support::frame(0x88, &[0x03, 0xE9]))
        .await
        .unwrap();
    let got = reading.await.unwrap();
    assert!(matches!(got[..], [Err(Error::IdleTimeout)]), "{got:?}");
}

#[tokio::test]
async fn large_messages_through_a_narrow_pipe_arrive_whole_and_in_order() {
    // A 4 KiB pipe: every 64 KiB payload fills the write queue, so the
    // reader stops taking messages and must come back for the rest.
    let (server, mut raw) = support::raw_pair_with("", support::plain(), 4096, |a| a).await;
    let (reader, mut writer) = server.await.unwrap().unwrap().split();
    let reading = drive(reader);
    let sending = tokio::spawn(async move {
        for i in 0..12u8 {
            writer
                .send(Message::binary(vec![i; 64 * 1024]))
                .await
                .unwrap();
        }
        writer.close(1000, "").await.unwrap();
    });
    for i in 0..12u8 {
        let (first, payload) = read_frame(&mut raw).await;
        assert_eq!(first, 0x82);
        assert_eq!(payload.len(), 64 * 1024);
        assert!(payload.iter().all(|&b| b == i), "message {i}");
    }
    assert_eq!(read_frame(&mut raw).await, (0x88, vec![0x03, 0xE8]));
    sending.await.unwrap();
    peer_answers_close(&mut raw, &[0x03, 0xE8], reading).await;
}

#[tokio::test]
async fn compressed_messages_from_writers_reach_a_client() {
    // permessage-deflate (the default on both sides): the reader's machine
    // compresses what the writers send.
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(accept(a, |_| Ok(Accepted::new())));
    let mut client = connect(b, Connect::new("test", "/")).await.unwrap();
    let server = server.await.unwrap().unwrap();
    assert!(server.deflate().is_some(), "permessage-deflate agreed");
    let (mut reader, mut writer) = server.split();
    let text = "compressible ".repeat(200);
    let echo = tokio::spawn(async move {
        while let Some(message) = reader.next().await {
            writer.send(message.unwrap()).await.unwrap();
        }
    });
    for i in 0..3 {
        let sent = Message::text(format!("{i}: {text}"));
        client.send(sent.clone()).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), sent);
    }
    client.close(1000, "").await.unwrap();
    echo.await.unwrap();
}

/// The halves go to different tasks of a multi-threaded runtime.
#[test]
fn the_halves_can_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<WebSocketReader<tokio::net::TcpStream>>();
    send::<protoswitch_tokio::WebSocketWriter>();
    sync::<protoswitch_tokio::WebSocketWriter>();
}

#[tokio::test]
async fn a_close_code_that_may_not_be_sent_is_refused_and_nothing_closes() {
    let (server, mut raw) = support::raw_pair("", support::plain()).await;
    let (reader, mut writer) = server.await.unwrap().unwrap().split();
    let reading = drive(reader);
    for (code, reason) in [(1005, ""), (1006, ""), (999, ""), (1000, &*"r".repeat(124))] {
        let refused = writer.close(code, reason).await;
        assert!(
            matches!(refused, Err(Error::Protocol(_))),
            "{code}: {refused:?}"
        );
    }
    // The writers go on, and a valid close still works.
    writer.send(Message::text("still open")).await.unwrap();
    assert_eq!(read_frame(&mut raw).await, (0x81, b"still open".to_vec()));
    writer.close(1000, &"r".repeat(123)).await.unwrap();
    let (first, payload) = read_frame(&mut raw).await;
    assert_eq!((first, payload.len()), (0x88, 125));
    peer_answers_close(&mut raw, &[0x03, 0xE8], reading).await;
}

#[tokio::test]
async fn the_reader_can_close_and_then_refuses_the_writers() {
    let (server, mut raw) = support::raw_pair("", support::plain()).await;
    let (mut reader, mut writer) = server.await.unwrap().unwrap().split();
    reader.start_close(4001, "done").unwrap();
    assert!(writer.is_closed());
    let refused = writer.send(Message::text("late")).await;
    assert!(matches!(refused, Err(Error::AlreadyClosed)), "{refused:?}");
    let reading = drive(reader);
    let mut close = vec![0x0F, 0xA1];
    close.extend_from_slice(b"done");
    assert_eq!(read_frame(&mut raw).await, (0x88, close));
    peer_answers_close(&mut raw, &[0x0F, 0xA1], reading).await;
}

/// Writers on the threads of a multi-threaded runtime, the reader in its
/// own task: every message arrives once, each writer's in its order, with
/// Pings answered between them (no wake-up lost under real concurrency).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_on_many_threads_lose_nothing() {
    const WRITERS: u8 = 4;
    const EACH: u16 = 500;
    let (server, raw) = support::raw_pair_with("", support::plain(), 2048, |a| a).await;
    let (reader, writer) = server.await.unwrap().unwrap().split();
    let reading = drive(reader);
    let (mut raw_read, mut raw_write) = tokio::io::split(raw);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut writer = writer.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let [hi, lo] = i.to_be_bytes();
                    writer.send(Message::binary(vec![w, hi, lo])).await.unwrap();
                }
            })
        })
        .collect();
    drop(writer);
    // Pings from the client while the writers send.
    let pinging = tokio::spawn(async move {
        for _ in 0..20 {
            raw_write
                .write_all(&support::frame(0x89, b"p"))
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
        raw_write
    });
    let mut next = [0u16; WRITERS as usize];
    let mut pongs = 0;
    while next.iter().any(|&n| n < EACH) || pongs < 20 {
        let first = raw_read.read_u8().await.unwrap();
        let len = usize::from(raw_read.read_u8().await.unwrap());
        let mut payload = vec![0; len];
        raw_read.read_exact(&mut payload).await.unwrap();
        match (first, &payload[..]) {
            (0x8A, b"p") => pongs += 1,
            (0x82, &[w, hi, lo]) => {
                let i = u16::from_be_bytes([hi, lo]);
                assert_eq!(i, next[usize::from(w)], "writer {w} out of order");
                next[usize::from(w)] += 1;
            }
            other => panic!("unexpected frame {other:?}"),
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let mut raw_write = pinging.await.unwrap();
    raw_write
        .write_all(&support::frame(0x88, &[0x03, 0xE8]))
        .await
        .unwrap();
    assert!(reading.await.unwrap().is_empty());
}
