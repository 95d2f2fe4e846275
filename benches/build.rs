//! Records, for the `compare` report, the rustc that builds the bench and
//! the versions of the peers as locked in Cargo.lock (and, for the
//! `deflate` report, miniz_oxide's).

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_else(|| "rustc (unknown)".into());
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={}", version.trim());

    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut versions = Vec::new();
    for name in [
        "tungstenite",
        "tokio-websockets",
        "fastwebsockets",
        "embedded-websocket",
        "simdutf8",
        "tokio",
    ] {
        let needle = format!("name = \"{name}\"\nversion = \"");
        if let Some(at) = lock.find(&needle) {
            let rest = &lock[at + needle.len()..];
            let v = &rest[..rest.find('"').unwrap_or(0)];
            versions.push(format!("{name} {v}"));
        }
    }
    println!(
        "cargo:rustc-env=BENCH_PEER_VERSIONS={}",
        versions.join(", ")
    );
    // The `e2e` program's servers.
    let mut e2e = Vec::new();
    for name in [
        "tokio-tungstenite",
        "tokio-websockets",
        "fastwebsockets",
        "hyper",
        "tokio",
    ] {
        let needle = format!("name = \"{name}\"\nversion = \"");
        if let Some(at) = lock.find(&needle) {
            let rest = &lock[at + needle.len()..];
            let v = &rest[..rest.find('"').unwrap_or(0)];
            e2e.push(format!("{name} {v}"));
        }
    }
    println!("cargo:rustc-env=BENCH_E2E_VERSIONS={}", e2e.join(", "));
    // The `deflate` program's reference library.
    let needle = "name = \"miniz_oxide\"\nversion = \"";
    let miniz = lock.find(needle).map_or("unknown".to_string(), |at| {
        let rest = &lock[at + needle.len()..];
        rest[..rest.find('"').unwrap_or(0)].to_string()
    });
    println!("cargo:rustc-env=BENCH_MINIZ_VERSION=miniz_oxide {miniz}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
}
