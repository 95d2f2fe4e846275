//! Drives a [`Relay`] the way a proxy's I/O loop does, over two byte
//! streams cut into reads, and records everything it does in a
//! [`Transcript`] that does not depend on how the streams were cut.
//!
//! The schedule is fixed so that the story is the same for every cut: the
//! downstream is read while the relay reads it and the client has bytes
//! left; otherwise the upstream, while the relay reads it; when neither
//! can move, the downstream ends, then the upstream. Held bytes stay in
//! their buffer, as the crate's docs tell a caller to keep them.

use crate::{Bytes, is_within, push_body, write_checked};
use protoswitch::relay::{Declined, Event, Refusal, Relay, RelayConfig, RelayState};
use protoswitch::{Error, PeerErrorKind, Received, Reply};

/// Which connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client's.
    Down,
    /// The server's.
    Up,
}

/// What happened, in order. Each head event carries the bytes its write
/// produced; body bytes written to one side are merged with directly
/// preceding body bytes to the same side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// A request head.
    Request {
        /// Its method.
        method: String,
        /// The relay forwards an upgrade.
        upgrades: bool,
        /// Why the offered upgrade was dropped.
        refusal: Option<Refusal>,
        /// The state right after it.
        then: RelayState,
        /// What went to the upstream.
        head: Bytes,
    },
    /// An interim response.
    Interim {
        /// Its status.
        status: u16,
        /// What went to the downstream.
        head: Bytes,
    },
    /// A final response.
    Response {
        /// Its status.
        status: u16,
        /// Why an upgrade got no tunnel.
        declined: Option<Declined>,
        /// The relay closes after it.
        closes: bool,
        /// What went to the downstream.
        head: Bytes,
    },
    /// A verified 101.
    Switched {
        /// The protocol it switched to.
        protocol: String,
        /// What went to the downstream.
        head: Bytes,
    },
    /// A body ended (the side it came from).
    BodyEnd(Side),
    /// Body bytes the relay had written to the upstream.
    ToUp(Bytes),
    /// Body bytes (or the error reply) the relay had written to the downstream.
    ToDown(Bytes),
    /// A peer error, the reply it implies, and the upstream's broken rule
    /// behind a 502 ([`Relay::cause`]).
    Failed(PeerErrorKind, Reply, Option<PeerErrorKind>),
    /// A local error of a `receive_*` call (a driver bug, or a machine one).
    Local(String),
}

/// The whole story of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// Events and bytes, in order.
    pub log: Vec<Ev>,
    /// Where the relay ended.
    pub end: RelayState,
    /// The client's bytes the relay never consumed (tunnel bytes after a
    /// 101; bytes dropped when it closed); empty after a failure.
    pub down_rest: Bytes,
    /// The upstream's bytes the relay never consumed.
    pub up_rest: Bytes,
}

impl Transcript {
    /// All bytes written to `side`, in order.
    pub fn sent(&self, side: Side) -> Vec<u8> {
        let mut all = Vec::new();
        for e in &self.log {
            match (e, side) {
                (Ev::ToUp(b) | Ev::Request { head: b, .. }, Side::Up)
                | (
                    Ev::ToDown(b)
                    | Ev::Interim { head: b, .. }
                    | Ev::Response { head: b, .. }
                    | Ev::Switched { head: b, .. },
                    Side::Down,
                ) => all.extend_from_slice(&b.0),
                _ => {}
            }
        }
        all
    }

    /// The events without body bytes, in order.
    pub fn events(&self) -> Vec<Ev> {
        self.log
            .iter()
            .filter(|e| !matches!(e, Ev::ToUp(_) | Ev::ToDown(_)))
            .cloned()
            .collect()
    }
}

struct Stream<'r> {
    reads: &'r [&'r [u8]],
    next: usize,
    buf: Vec<u8>,
    ended: bool,
}

impl Stream<'_> {
    fn deliver(&mut self) -> bool {
        match self.reads.get(self.next) {
            Some(read) => {
                self.buf.extend_from_slice(read);
                self.next += 1;
                true
            }
            None => false,
        }
    }

    fn rest(&self) -> Bytes {
        let mut rest = self.buf.clone();
        for r in &self.reads[self.next..] {
            rest.extend_from_slice(r);
        }
        Bytes(rest)
    }
}

fn log_bytes(log: &mut Vec<Ev>, side: Side, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    match side {
        Side::Up => push_body(
            log,
            bytes,
            |e| match e {
                Ev::ToUp(b) => Some(&mut b.0),
                _ => None,
            },
            |v| Ev::ToUp(Bytes(v)),
        ),
        Side::Down => push_body(
            log,
            bytes,
            |e| match e {
                Ev::ToDown(b) => Some(&mut b.0),
                _ => None,
            },
            |v| Ev::ToDown(Bytes(v)),
        ),
    }
}

fn terminal(relay: &Relay<'_>) -> bool {
    matches!(
        relay.state(),
        RelayState::Tunnel | RelayState::Closed | RelayState::Failed
    )
}

/// Records an event; `from` is the side whose buffer it borrows. Head
/// writes go through [`write_checked`] with `out_size`-byte buffers.
fn record(relay: &mut Relay<'_>, log: &mut Vec<Ev>, from: Side, event: Event<'_>, out_size: usize) {
    let state = |r: &Relay<'_>| r.state();
    let write = |relay: &mut Relay<'_>, f: &dyn Fn(&mut [u8]) -> Result<usize, Error>| {
        let bytes = write_checked(relay, state, out_size, |_, out| f(out))
            .expect("a head write only fails for a small buffer");
        Bytes(bytes)
    };
    let ev = match event {
        Event::Request(request) => Ev::Request {
            method: request.head().method().to_owned(),
            upgrades: request.upgrades(),
            refusal: request.refusal(),
            then: relay.state(),
            head: write(relay, &|out| request.write(out)),
        },
        Event::Interim(response) => Ev::Interim {
            status: response.head().status(),
            head: write(relay, &|out| response.write(out)),
        },
        Event::Response(response) => Ev::Response {
            status: response.head().status(),
            declined: response.declined(),
            closes: response.closes(),
            head: write(relay, &|out| response.write(out)),
        },
        Event::Switched(response) => Ev::Switched {
            protocol: response
                .protocol()
                .map(|p| p.to_string())
                .expect("a 101 names its protocol"),
            head: write(relay, &|out| response.write(out)),
        },
        Event::Body { bytes, end } => {
            let to = match from {
                Side::Down => Side::Up,
                Side::Up => Side::Down,
            };
            log_bytes(log, to, bytes);
            if end {
                log.push(Ev::BodyEnd(from));
            }
            return;
        }
        _ => panic!("an event this driver does not know"),
    };
    log.push(ev);
}

fn record_error(relay: &mut Relay<'_>, log: &mut Vec<Ev>, e: Error) {
    match e {
        Error::Peer(p) => {
            assert_eq!(relay.state(), RelayState::Failed, "{p:?}");
            assert_eq!(relay.error(), Some(p));
            log.push(Ev::Failed(
                p.kind(),
                p.reply(),
                relay.cause().map(|c| c.kind()),
            ));
            let mut reply = Vec::new();
            let mut piece = [0u8; 7];
            loop {
                let n = relay.poll_transmit_downstream(&mut piece);
                if n == 0 {
                    break;
                }
                reply.extend_from_slice(&piece[..n]);
            }
            match p.reply() {
                Reply::HttpStatus(status) => {
                    let line = format!("HTTP/1.1 {status} ");
                    assert!(reply.starts_with(line.as_bytes()), "{p:?}");
                }
                _ => assert!(reply.is_empty(), "{p:?} queued a reply"),
            }
            log_bytes(log, Side::Down, &reply);
        }
        e => log.push(Ev::Local(format!("{e:?}"))),
    }
}

/// Calls `receive_*` of `side` until it has no event; returns whether the
/// relay moved (consumed bytes or changed state).
fn pump(
    relay: &mut Relay<'_>,
    log: &mut Vec<Ev>,
    side: Side,
    stream: &mut Stream<'_>,
    out_size: usize,
) -> bool {
    let mut moved = false;
    loop {
        let before = relay.state();
        let buf = std::mem::take(&mut stream.buf);
        let got = match side {
            Side::Down => relay.receive_downstream(&buf),
            Side::Up => relay.receive_upstream(&buf),
        };
        let (consumed, more) = match got {
            Ok(Received { consumed, event }) => {
                assert!(
                    consumed <= buf.len(),
                    "consumed {consumed} of {}",
                    buf.len()
                );
                let more = event.is_some();
                if let Some(event) = event {
                    if let Event::Body { bytes, .. } = event {
                        assert!(bytes.is_empty() || is_within(bytes, &buf));
                    }
                    record(relay, log, side, event, out_size);
                }
                (consumed, more)
            }
            Err(e) => {
                record_error(relay, log, e);
                (0, false)
            }
        };
        stream.buf = buf;
        stream.buf.drain(..consumed);
        moved |= consumed > 0 || relay.state() != before;
        // Back between requests: the client's next request goes first (an
        // upstream answers only what it was asked).
        let idle = side == Side::Up && relay.state() == RelayState::RequestHead;
        if !more || terminal(relay) || idle {
            return moved;
        }
    }
}

fn eof(relay: &mut Relay<'_>, log: &mut Vec<Ev>, side: Side) {
    let got = match side {
        Side::Down => relay.receive_eof_downstream(),
        Side::Up => relay.receive_eof_upstream(),
    };
    match got {
        Ok(Some(event)) => record(relay, log, side, event, 4096),
        Ok(None) => {}
        Err(e) => record_error(relay, log, e),
    }
}

/// Runs `config` over the client's bytes `down` and the upstream's bytes
/// `up`, each cut into the given reads; heads are written into buffers of
/// `out_size` bytes (a too-small one is retried with the size it names).
pub fn run(config: RelayConfig<'_>, down: &[&[u8]], up: &[&[u8]], out_size: usize) -> Transcript {
    let mut relay = Relay::new(config);
    let mut log = Vec::new();
    let mut d = Stream {
        reads: down,
        next: 0,
        buf: Vec::new(),
        ended: false,
    };
    let mut u = Stream {
        reads: up,
        next: 0,
        buf: Vec::new(),
        ended: false,
    };
    // Every turn consumes a read, an end of stream or bytes, or changes
    // the state: the loop ends.
    while !terminal(&relay) {
        if relay.reads_downstream() {
            let moved = pump(&mut relay, &mut log, Side::Down, &mut d, out_size);
            if terminal(&relay) || !relay.reads_downstream() {
                continue;
            }
            if d.deliver() || moved {
                continue;
            }
        }
        if relay.reads_upstream() {
            let before = relay.state();
            let moved = pump(&mut relay, &mut log, Side::Up, &mut u, out_size);
            if terminal(&relay) || relay.state() != before {
                continue;
            }
            if u.deliver() || moved {
                continue;
            }
        }
        if !d.ended && d.next == d.reads.len() {
            d.ended = true;
            eof(&mut relay, &mut log, Side::Down);
            continue;
        }
        if !u.ended && u.next == u.reads.len() {
            u.ended = true;
            eof(&mut relay, &mut log, Side::Up);
            continue;
        }
        break;
    }
    // After a failure both connections close: what was left unconsumed is
    // no part of the story (an HTTP/1.0 client's skipped 1xx, say, is
    // consumed by one read and not by another before the error).
    let failed = relay.state() == RelayState::Failed;
    let rest = |s: &Stream<'_>| if failed { Bytes::default() } else { s.rest() };
    Transcript {
        log,
        end: relay.state(),
        down_rest: rest(&d),
        up_rest: rest(&u),
    }
}

/// [`run`] with each stream in one read and 4096-byte output buffers.
pub fn run_whole(config: RelayConfig<'_>, down: &[u8], up: &[u8]) -> Transcript {
    run(config, &[down], &[up], 4096)
}
