//! Replays the fuzz targets' seed corpora (`testkit/seeds/`, written by
//! `fuzz/seed.sh`) and the inputs that once crashed a target
//! (`testkit/regressions/`) through the same checks the fuzzer runs, on
//! stable and without libFuzzer.

use std::fs;
use std::path::Path;

use protoswitch_testkit::targets;

/// Every input file under `dir/<target>`, in a stable order.
fn inputs(dir: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(target);
    let Ok(entries) = fs::read_dir(&path) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("a readable directory").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                fs::read(&p).expect("a readable input"),
            )
        })
        .collect()
}

fn replay(target: &str, check: fn(&[u8]), at_least: usize) {
    let seeds = inputs("testkit/seeds", target);
    assert!(
        seeds.len() >= at_least,
        "{target}: {} seeds; run bash fuzz/seed.sh",
        seeds.len()
    );
    for (name, data) in seeds.iter().chain(&inputs("testkit/regressions", target)) {
        let outcome = std::panic::catch_unwind(|| check(data));
        assert!(outcome.is_ok(), "{target} failed on {name}");
    }
}

#[test]
fn server_handshake_seeds() {
    replay("server_handshake", targets::server_handshake::check, 10);
}

#[test]
fn client_handshake_seeds() {
    replay("client_handshake", targets::client_handshake::check, 10);
}

#[test]
fn frame_decoder_seeds() {
    replay("frame_decoder", targets::frame_decoder::check, 20);
}

#[test]
fn connection_seeds() {
    replay("connection", targets::connection::check, 5);
}

#[test]
fn roundtrip_seeds() {
    replay("roundtrip", targets::roundtrip::check, 5);
}

#[test]
fn mask_seeds() {
    replay("mask", targets::mask::check, 3);
}

#[test]
fn deflate_seeds() {
    replay("deflate", targets::deflate::check, 4);
}

#[test]
fn relay_seeds() {
    replay("relay", targets::relay::check, 10);
}
