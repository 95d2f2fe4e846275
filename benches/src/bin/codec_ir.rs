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
//! of frames); only they count (`--toggle-collect`, on `measured`), and
//! callgrind's total divided by the handshakes or frames printed here is
//! the work of one. Deterministic, so it compares changes on a machine
//! whose timings move by 10 % between runs; callgrind runs the software
//! SHA-1 where the processor has SHA instructions (every implementation
//! alike), and AVX2 where it has AVX-512.

use protoswitch_bench::floor::{self, Kernel};
use protoswitch_bench::inputs::{ACCEPT, HOST, KEY, NONCE, PATH, REQUEST, response_101};
use protoswitch_bench::peers::embedded_peer;
use protoswitch_bench::{ours, receive_buffer};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "codec_ir WORKLOAD IMPLEMENTATION [REPS]";
    let workload = args.get(1).expect(usage).as_str();
    let implementation = args.get(2).expect(usage).as_str();
    let frames = workload == "bin_1KiB";
    let reps: usize = args.get(3).map_or(if frames { 20 } else { 20_000 }, |s| {
        s.parse().expect(usage)
    });
    let (units, unit) = measured(workload, implementation, reps);
    println!("{workload} {implementation}: {units} {unit}");
}

/// Runs `reps` of the workload: what `--toggle-collect='*measured*'`
/// counts. Returns how many handshakes or frames that was.
#[inline(never)]
fn measured(workload: &str, implementation: &str, reps: usize) -> (u64, &'static str) {
    let mut buf = vec![0u8; 4096];
    let mut out = vec![0u8; 1024];
    let mut check = 0;
    match (workload, implementation) {
        ("hs_server", "protoswitch") => {
            for _ in 0..reps {
                check += ours::server_handshake(REQUEST, &mut buf, &mut out);
            }
        }
        ("hs_server", "floor") => {
            for _ in 0..reps {
                check += floor::server_handshake(REQUEST, &mut buf, &mut out);
            }
        }
        ("hs_server", "embedded-websocket") => {
            for _ in 0..reps {
                check += embedded_peer::server_handshake(REQUEST, 0, &mut buf, &mut out);
            }
        }
        ("hs_client_validate", implementation) => {
            let response = response_101(ACCEPT);
            for _ in 0..reps {
                check += match implementation {
                    "protoswitch" => {
                        ours::client_validate(HOST, PATH, NONCE, &response, &mut buf, &mut out)
                    }
                    "floor" => {
                        floor::client_validate(HOST, PATH, KEY, &response, &mut buf, &mut out)
                    }
                    "embedded-websocket" => {
                        embedded_peer::client_validate(&response, &mut buf, &mut out)
                    }
                    other => panic!("unknown implementation {other}"),
                };
            }
        }
        ("bin_1KiB", implementation) => {
            let payload = vec![0x5a; 1024];
            let (input, totals) = ours::client_frames(&payload, false, 1 << 20, 7);
            let read = 64 * 1024;
            let mut buf = receive_buffer(read, 0);
            let mut to = vec![0u8; read + 64];
            let kernel = Kernel::select();
            for _ in 0..reps {
                let got = match implementation {
                    "protoswitch" => ours::decode_all(&input, read, 0, &mut buf),
                    "floor" => floor::decode_all(&input, read, 0, &mut buf, kernel),
                    "embedded-websocket" => {
                        embedded_peer::decode_all(&input, read, 0, &mut buf, &mut to)
                    }
                    other => panic!("unknown implementation {other}"),
                };
                assert_eq!(got.messages, totals.messages, "every frame decoded");
            }
            return (totals.messages * reps as u64, "frames");
        }
        (workload, implementation) => panic!("unknown workload {workload} or {implementation}"),
    }
    assert!(check > 0);
    (reps as u64, "handshakes")
}
