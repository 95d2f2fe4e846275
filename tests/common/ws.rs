//! Helpers to drive a WebSocket connection the way an I/O loop does.
#![allow(dead_code)]

use protoswitch::ws::{Connection, Event, MaskSource, MessageKind};
use protoswitch::{Error, Instant, PeerErrorKind};

/// A comparable summary of one WebSocket event. Data chunks of one message
/// are merged (their boundaries depend on the split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEv {
    Message(MessageKind, Vec<u8>),
    /// Data of a message not complete yet when the input ended.
    Partial(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    Error(PeerErrorKind),
}

/// Feeds `input` in the pieces given by `cuts`, like a read loop with a
/// growing buffer, and returns the events and every byte `poll_transmit`
/// produced.
pub fn feed<M: MaskSource>(
    conn: &mut Connection<M>,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<WsEv>, Vec<u8>) {
    let mut events = Vec::new();
    let mut partial: Option<(MessageKind, Vec<u8>)> = None;
    let mut buf: Vec<u8> = Vec::new();
    let mut wire = Vec::new();
    let mut start = 0;
    // Any size works; a small one exercises frames handed out in pieces.
    let mut frame = [0u8; 7];
    'outer: for end in cuts.iter().copied().chain([input.len()]) {
        let end = end.clamp(start, input.len());
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            let result = conn.receive(&mut buf, Instant::ZERO);
            while let n @ 1.. = conn.poll_transmit(&mut frame) {
                wire.extend_from_slice(&frame[..n]);
            }
            match result {
                Ok(got) => {
                    let consumed = got.consumed;
                    let Some(ev) = got.event else {
                        buf.drain(..consumed);
                        break;
                    };
                    match ev {
                        Event::Data(chunk) => {
                            let p = partial.get_or_insert_with(|| (chunk.kind, Vec::new()));
                            assert_eq!(p.0, chunk.kind);
                            p.1.extend_from_slice(chunk.payload);
                            if chunk.message_end {
                                let (k, d) = partial.take().unwrap();
                                events.push(WsEv::Message(k, d));
                            }
                        }
                        Event::Ping(p) => events.push(WsEv::Ping(p.to_vec())),
                        Event::Pong(p) => events.push(WsEv::Pong(p.to_vec())),
                        Event::Close { code, reason } => {
                            events.push(WsEv::Close(code, reason.to_owned()))
                        }
                        other => panic!("an event this test does not know: {other:?}"),
                    }
                    buf.drain(..consumed);
                }
                Err(Error::Peer(e)) => {
                    events.push(WsEv::Error(e.kind()));
                    break 'outer;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }
    // A message cut by an error was delivered up to the error in pieces
    // that depend on the split: keep only the error.
    match (partial, events.last()) {
        (_, Some(WsEv::Error(_))) | (None, _) => {}
        (Some((k, d)), _) => events.push(WsEv::Partial(k, d)),
    }
    (events, wire)
}
