//! `codec_ir`: the instructions of one handshake or one frame in the
//! Sans-IO implementations of `compare`, for counting under callgrind
//! (issue 9).
//!
//! ```text
//! cargo build --release --manifest-path benches/Cargo.toml --bin codec_ir
//! valgrind --tool=callgrind --toggle-collect='*measured*' \
//!     benches/target/release/codec_ir WORKLOAD IMPLEMENTATION [REPS]
//! ```
//!
//! WORKLOAD: `hs_server` (the 259-byte request in one read, parsed,
//! checked and answered), `hs_client_validate` (the client's request
//! written, then the 101 checked) or `bin_1KiB` (1 MiB of masked 1 KiB
//! binary frames in 64 KiB reads, the recv copies included).
//! IMPLEMENTATION: `protoswitch`, `floor` or `embedded-websocket`. The
//! calls are `compare`'s, REPS times (default 20,000 handshakes, 20 MiB
//! of frames); only they count (`--toggle-collect`, on `measured`: the
//! inputs and buffers are made before), and callgrind's total divided by
//! the handshakes or frames printed here is the work of one.
//! Deterministic, so it compares changes on a machine whose timings move
//! by 10 % between runs; callgrind runs the software SHA-1 where the
//! processor has SHA instructions (every implementation alike), and AVX2
//! where it has AVX-512.

use protoswitch_bench::floor::{self, Kernel};
use protoswitch_bench::inputs::{ACCEPT, HOST, KEY, NONCE, PATH, REQUEST, response_101};
use protoswitch_bench::peers::embedded_peer;
use protoswitch_bench::{ours, receive_buffer};

/// The reads of `bin_1KiB`.
const READ: usize = 64 * 1024;

/// The inputs, and where the measured calls write.
struct Setup {
    /// 1 MiB of masked 1 KiB binary frames, and how many.
    frames: Vec<u8>,
    messages: u64,
    /// The server's 101 for the client to check.
    response: Vec<u8>,
    buf: Vec<u8>,
    out: Vec<u8>,
    read: Vec<u8>,
    to: Vec<u8>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "codec_ir WORKLOAD IMPLEMENTATION [REPS]";
    let workload = args.get(1).expect(usage).as_str();
    let implementation = args.get(2).expect(usage).as_str();
    let default_reps = if workload == "bin_1KiB" { 20 } else { 20_000 };
    let reps: usize = args
        .get(3)
        .map_or(default_reps, |s| s.parse().expect(usage));
    let (frames, totals) = ours::client_frames(&[0x5a; 1024], false, 1 << 20, 7);
    let mut setup = Setup {
        frames,
        messages: totals.messages,
        response: response_101(ACCEPT),
        buf: vec![0u8; 4096],
        out: vec![0u8; 1024],
        read: receive_buffer(READ, 0),
        to: vec![0u8; READ + 64],
    };
    let (units, unit) = measured(workload, implementation, reps, &mut setup);
    println!("{workload} {implementation}: {units} {unit}");
}

/// Runs `reps` of the workload: what `--toggle-collect='*measured*'`
/// counts. Returns how many handshakes or frames that was.
#[inline(never)]
fn measured(
    workload: &str,
    implementation: &str,
    reps: usize,
    setup: &mut Setup,
) -> (u64, &'static str) {
    let Setup {
        frames,
        messages,
        response,
        buf,
        out,
        read,
        to,
    } = setup;
    if workload == "bin_1KiB" {
        let kernel = Kernel::select();
        for _ in 0..reps {
            let got = match implementation {
                "protoswitch" => ours::decode_all(frames, READ, 0, read),
                "floor" => floor::decode_all(frames, READ, 0, read, kernel),
                "embedded-websocket" => embedded_peer::decode_all(frames, READ, 0, read, to),
                other => panic!("unknown implementation {other}"),
            };
            assert_eq!(got.messages, *messages, "every frame decoded");
        }
        return (*messages * reps as u64, "frames");
    }
    let check = match (workload, implementation) {
        ("hs_server", "protoswitch") => repeat(reps, || ours::server_handshake(REQUEST, buf, out)),
        ("hs_server", "floor") => repeat(reps, || floor::server_handshake(REQUEST, buf, out)),
        ("hs_server", "embedded-websocket") => repeat(reps, || {
            embedded_peer::server_handshake(REQUEST, 0, buf, out)
        }),
        ("hs_client_validate", "protoswitch") => repeat(reps, || {
            ours::client_validate(HOST, PATH, NONCE, response, buf, out)
        }),
        ("hs_client_validate", "floor") => repeat(reps, || {
            floor::client_validate(HOST, PATH, KEY, response, buf, out)
        }),
        ("hs_client_validate", "embedded-websocket") => {
            repeat(reps, || embedded_peer::client_validate(response, buf, out))
        }
        (workload, implementation) => {
            panic!("unknown workload {workload} or implementation {implementation}")
        }
    };
    assert!(check > 0);
    (reps as u64, "handshakes")
}

/// Calls `one` `reps` times; the sum of what it returned.
#[inline(always)]
fn repeat(reps: usize, mut one: impl FnMut() -> usize) -> usize {
    (0..reps).map(|_| one()).sum()
}
