//! Build script: one probe of the compiler's version.
//!
//! `cfg(protoswitch_avx512)` when rustc is 1.89 or later, the first stable
//! release with `#[target_feature(enable = "avx512f")]`: the unmasking
//! kernel then offers AVX-512 beside AVX2 (chosen at run time, with `std`
//! on x86_64). Older compilers (the MSRV is 1.85) build without it.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(protoswitch_avx512)");
    // Set by hand (RUSTFLAGS): see `SHORTCUTS` in src/lib.rs.
    println!("cargo::rustc-check-cfg=cfg(protoswitch_no_shortcuts)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=RUSTC");
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let minor = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|version| minor_version(&version));
    if minor.is_some_and(|m| m >= 89) {
        println!("cargo::rustc-cfg=protoswitch_avx512");
    }
}

/// The minor version in `rustc 1.MINOR.PATCH (...)`.
fn minor_version(version: &str) -> Option<u32> {
    let number = version.split_whitespace().nth(1)?;
    let mut parts = number.split('.');
    match parts.next()? {
        "1" => parts.next()?.parse().ok(),
        _ => None,
    }
}
