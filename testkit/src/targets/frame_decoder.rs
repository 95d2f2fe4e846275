//! Feeds the input to a WebSocket `Connection` as the peer's byte stream,
//! in reads of arbitrary sizes, like a real I/O loop (see
//! `crate::ws::Receiver` for the loop and the checks made on
//! every event: chunks inside the consumed bytes, UTF-8, limits, the Pong,
//! Close echo or error Close transmitted for it, the state after it).
//!
//! Input layout (as for the handshake targets, see `fuzz/src/lib.rs`):
//!
//! * byte 0, configuration: bit 0 the role (0: server, frames must be
//!   masked; 1: client, frames must not be), bits 1-2 the limits (default,
//!   small, tiny, small messages in large frames), bit 3 `auto_pong` off,
//!   bit 4 `whole_frames` on;
//! * bytes 1-4: bits 0-2 of byte 1 are the RSV bits allowed in the
//!   `FrameHeader::decode` check; all four seed the client's mask keys;
//! * byte 5 and the cuts: how the stream is cut into reads.
//!
//! Every input runs three times, with the stream cut as the input says, in
//! one read, and one byte per read (streams up to 4096 bytes): the event
//! logs and the transmitted bytes must be identical. Independently,
//! `FrameHeader::decode` of the first 14 bytes must not panic, and a
//! header it returns re-encodes to the same bytes when its length is in
//! shortest form.

use crate::ws::{Keys, Receiver, WsEv, peer_of};
use crate::{Input, Reads, assert_same_as_whole, debug, print_log};
use protoswitch::ws::{Config, Connection, FrameHeader, MAX_HEADER_LEN, MaskSource};
use protoswitch::{Instant, PeerErrorKind, Role};

fn role(input: &Input<'_>) -> Role {
    if input.config & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    }
}

fn config(c: u8) -> Config {
    let default = Config::default();
    let (max_frame_payload, max_message_size, max_fragments) = match c >> 1 & 3 {
        0 => (
            default.max_frame_payload,
            default.max_message_size,
            default.max_fragments,
        ),
        1 => (100, 200, 4),
        2 => (1, 3, 2),
        _ => (1000, 64, 1000),
    };
    Config::new()
        .max_frame_payload(max_frame_payload)
        .max_message_size(max_message_size)
        .max_fragments(max_fragments)
        .auto_pong(c & 8 == 0)
        .whole_frames(c & 16 != 0)
}

fn drive<M: MaskSource>(
    conn: Connection<M>,
    input: &Input<'_>,
    how: Reads,
) -> (Vec<WsEv>, Vec<u8>) {
    let mut rx = Receiver::new(conn, Instant::ZERO);
    for read in input.reads(how) {
        rx.feed(read);
    }
    rx.finish()
}

fn run(input: &Input<'_>, how: Reads) -> (Vec<WsEv>, Vec<u8>) {
    let config = config(input.config);
    match role(input) {
        Role::Server => drive(Connection::server(config, Instant::ZERO), input, how),
        Role::Client => {
            let keys = Keys::new(u32::from_le_bytes(input.decisions));
            drive(Connection::client(config, Instant::ZERO, keys), input, how)
        }
    }
}

/// `FrameHeader::decode` on the first 14 bytes, for one role and set of
/// allowed RSV bits. Returns the error, if any.
fn check_header(stream: &[u8], role: Role, allowed_rsv: u8) -> Option<PeerErrorKind> {
    let head = &stream[..stream.len().min(MAX_HEADER_LEN)];
    let (h, n) = match FrameHeader::decode(head, role, allowed_rsv) {
        Err(e) => return Some(e),
        Ok(None) => {
            assert!(
                head.len() < MAX_HEADER_LEN,
                "{MAX_HEADER_LEN} bytes did not decide"
            );
            return None;
        }
        Ok(Some(decoded)) => decoded,
    };
    assert!(
        (2..=head.len()).contains(&n),
        "header length {n} of {}",
        head.len()
    );
    assert_eq!(h.rsv & !allowed_rsv, 0, "RSV {:#x} not allowed", h.rsv);
    assert_eq!(
        h.mask.is_some(),
        role == Role::Server,
        "mask bit for {role:?}"
    );
    assert_eq!(h.rsv, head[0] >> 4 & 7);
    assert_eq!(h.fin, head[0] & 0x80 != 0);
    assert_eq!(h.opcode.as_u8(), head[0] & 0xF);
    if h.opcode.is_control() {
        assert!(h.fin && h.payload_len <= 125, "control header {h:?}");
    }
    assert_eq!(h.payload_len >> 63, 0, "length with the top bit");
    let shortest = match head[1] & 0x7F {
        126 => h.payload_len >= 126,
        127 => h.payload_len > 0xFFFF,
        _ => true,
    };
    let mut out = [0u8; MAX_HEADER_LEN];
    let m = h.encode(&mut out).expect("14 bytes hold any header");
    assert_eq!(m, h.encoded_len());
    if shortest {
        assert_eq!(m, n, "re-encoded length of {h:?}");
        assert_eq!(out[..m], head[..n], "re-encoding {h:?}");
    } else {
        assert!(m < n, "{h:?} in a longer form than read");
    }
    assert_eq!(
        FrameHeader::decode(&out[..m], role, allowed_rsv),
        Ok(Some((h, m))),
        "decoding the encoding"
    );
    assert_eq!(
        h.encode(&mut out[..m - 1]),
        None,
        "encode into too few bytes"
    );
    for cut in 0..n {
        assert_eq!(
            FrameHeader::decode(&head[..cut], role, allowed_rsv),
            Ok(None),
            "prefix of {cut} bytes"
        );
    }
    None
}

/// What a connection transmits must pass its peer's checks.
fn check_wire(wire: &[u8], sender: Role) {
    let log = match peer_of(sender) {
        Role::Server => {
            let mut rx = Receiver::new(
                Connection::server(Config::default(), Instant::ZERO),
                Instant::ZERO,
            );
            rx.feed(wire);
            rx.finish().0
        }
        Role::Client => {
            let mut rx = Receiver::new(
                Connection::client(Config::default(), Instant::ZERO, Keys::new(1)),
                Instant::ZERO,
            );
            rx.feed(wire);
            rx.finish().0
        }
    };
    for e in &log {
        assert!(
            !matches!(e, WsEv::Error(_)),
            "the peer rejects what the {sender:?} sent: {log:?}"
        );
    }
}

/// Checks one input: the fuzz target, and the seed replay of `cargo test`.
pub fn check(data: &[u8]) {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let role = role(&input);
    let allowed_rsv = input.decisions[0] & 7;
    let mut first_error = None;
    for r in [Role::Server, Role::Client] {
        for rsv in [0, allowed_rsv] {
            let e = check_header(input.stream, r, rsv);
            if r == role && rsv == 0 {
                first_error = e;
            }
        }
    }

    let whole = run(&input, Reads::Whole);
    if debug() {
        print_log(&whole.0);
    }
    if let Some(e) = first_error {
        assert_eq!(
            whole.0.first(),
            Some(&WsEv::Error(e)),
            "the first header fails to decode"
        );
    }
    check_wire(&whole.1, role);

    assert_same_as_whole(&input, &whole, 4096, run);
}
