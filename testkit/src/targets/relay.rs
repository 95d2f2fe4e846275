//! The `relay` fuzz target: a [`Relay`](protoswitch::relay::Relay) between
//! a client's byte stream and an upstream's, each cut into reads.
//!
//! # Input layout
//!
//! | bytes | meaning |
//! |-------|---------|
//! | 0 | configuration: bit 0 keep-alive; bits 1-2 the allow list (`websocket`; `websocket, h2c`; `websocket, echo/1`; nothing); bit 3 `Via`; bit 4 upgrades on any method; bit 5 upgrades with a body; bit 6 small limits |
//! | 1 | output buffer size: [`OUT_SIZES`]`[b & 7]` |
//! | 2, 3 | number of downstream and upstream cuts (low 3 bits each) |
//! | then | the downstream cut lengths, then the upstream ones |
//! | then | the downstream stream's length (16 bits, little-endian), the downstream stream, the upstream stream (the rest) |
//!
//! Each input runs with its cuts, in one read per stream and one byte per
//! read; the transcripts must be equal. Then the rules the relay exists
//! for are checked on the transcript.

use crate::relay::{Ev, Side, Transcript, run};
use crate::{Cursor, OUT_SIZES, debug, print_log};
use protoswitch::http1::Limits;
use protoswitch::relay::{RelayConfig, RelayState};

const ALLOW: [&[&str]; 4] = [
    &["websocket"],
    &["websocket", "h2c"],
    &["websocket", "echo/1"],
    &[],
];

/// The configuration byte 0 picks.
pub fn config(byte: u8) -> RelayConfig<'static> {
    let mut c = RelayConfig::new()
        .keep_alive(byte & 1 != 0)
        .allow(ALLOW[usize::from(byte >> 1 & 3)])
        .upgrade_any_method(byte & 0x10 != 0)
        .upgrade_with_body(byte & 0x20 != 0);
    if byte & 8 != 0 {
        c = c.via("relay");
    }
    if byte & 0x40 != 0 {
        c = c.limits(
            Limits::new()
                .max_head_bytes(256)
                .max_headers(8)
                .max_chunk_extension_bytes(8)
                .max_trailer_bytes(16)
                .max_trailer_fields(2),
        );
    }
    c
}

fn cut<'a>(stream: &'a [u8], cuts: &[u8]) -> Vec<&'a [u8]> {
    let mut rest = stream;
    let mut reads = Vec::new();
    for &c in cuts {
        let (read, after) = rest.split_at(usize::from(c).min(rest.len()));
        reads.push(read);
        rest = after;
    }
    reads.push(rest);
    reads
}

/// Runs one input; panics when a rule is broken.
pub fn check(data: &[u8]) {
    let mut c = Cursor::new(data);
    let config = config(c.u8());
    let out_size = OUT_SIZES[usize::from(c.u8() & 7)];
    let (nd, nu) = (usize::from(c.u8() & 7), usize::from(c.u8() & 7));
    let down_cuts = c.bytes(nd);
    let up_cuts = c.bytes(nu);
    let down_len = usize::from(c.u16());
    let down = c.bytes(down_len);
    let up = c.bytes(usize::MAX);

    let whole = run(config, &[down], &[up], out_size);
    if debug() {
        print_log(&whole.log);
    }
    let as_cut = run(config, &cut(down, down_cuts), &cut(up, up_cuts), out_size);
    assert_eq!(as_cut, whole, "the input's cuts differ from one read");
    if down.len() + up.len() <= 2048 {
        let d: Vec<&[u8]> = down.chunks(1).collect();
        let u: Vec<&[u8]> = up.chunks(1).collect();
        assert_eq!(run(config, &d, &u, out_size), whole, "bytewise differs");
    }
    check_rules(&whole);
}

/// The rules any transcript obeys.
pub fn check_rules(t: &Transcript) {
    // After an upgrade request is complete, nothing goes up until the
    // upstream answered (RFC 9931).
    let mut holding = false;
    let mut upgrading = false;
    let mut switched = false;
    for e in &t.log {
        match e {
            Ev::Local(e) => panic!("a local error from receive: {e}"),
            Ev::Request { upgrades, then, .. } => {
                upgrading = *upgrades;
                holding = *upgrades && *then == RelayState::AwaitingSwitch;
            }
            Ev::BodyEnd(Side::Down) => holding = upgrading,
            Ev::ToUp(_) if holding => {
                panic!("client bytes forwarded before the upstream answered an upgrade")
            }
            Ev::Response { .. } | Ev::Switched { .. } | Ev::Failed(..) => {
                (holding, upgrading) = (false, false);
                switched |= matches!(e, Ev::Switched { .. });
            }
            _ => {}
        }
    }
    assert_eq!(
        t.end == RelayState::Tunnel,
        switched,
        "a tunnel exactly when a 101 was verified"
    );
    for e in &t.log {
        match e {
            Ev::Request { upgrades, head, .. } => check_head(&head.0, *upgrades, true),
            Ev::Switched { head, .. } => check_head(&head.0, true, false),
            Ev::Response { head, status, .. } if *status == 426 => {
                // A 426 may name again the protocols the relay allows.
                let names = String::from_utf8_lossy(&head.0)
                    .to_ascii_lowercase()
                    .contains("\r\nupgrade:");
                check_head(&head.0, names, false)
            }
            Ev::Interim { head, .. } | Ev::Response { head, .. } => {
                check_head(&head.0, false, false)
            }
            _ => {}
        }
    }
}

/// A head the relay wrote: no hop-by-hop field but the ones it adds
/// itself, at the end (`Upgrade` and `Connection: upgrade` only when it
/// switches, offers to, or names them in a 426; `HTTP2-Settings` only in a
/// request offering `h2c`).
fn check_head(head: &[u8], upgrade: bool, request: bool) {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n").skip(1);
    let mut upgrade_lines = Vec::new();
    let mut connection = Vec::new();
    let mut settings = false;
    for line in lines.by_ref() {
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a field line");
        let name = name.to_ascii_lowercase();
        match name.as_str() {
            "upgrade" => upgrade_lines.push(value.trim().to_ascii_lowercase()),
            "connection" => connection.push(value.trim().to_ascii_lowercase()),
            "http2-settings" => settings = true,
            "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "proxy-authenticate"
            | "proxy-authorization" => panic!("hop-by-hop field forwarded: {text}"),
            _ => {}
        }
    }
    assert_eq!(lines.collect::<Vec<_>>(), [""], "one head: {text}");
    if upgrade {
        assert_eq!(upgrade_lines.len(), 1, "{text}");
        let h2c = request && upgrade_lines[0].split(", ").any(|t| t == "h2c");
        let want = if h2c {
            "upgrade, http2-settings"
        } else {
            "upgrade"
        };
        // (A 426 the relay closes after: `upgrade, close`.)
        let closing = (!request && text.starts_with("HTTP/1.1 426 ")).then_some("upgrade, close");
        assert!(
            connection == [want]
                || connection.len() == 1 && Some(connection[0].as_str()) == closing,
            "{text}"
        );
        assert_eq!(settings, h2c, "{text}");
    } else {
        assert!(upgrade_lines.is_empty() && !settings, "{text}");
        assert!(connection.iter().all(|c| c == "close"), "{text}");
        assert!(connection.len() <= 1, "{text}");
    }
}
