//! The `relay` fuzz target: the checks live in
//! `protoswitch_testkit::targets::relay`, where `cargo test` replays the
//! seed corpus on stable.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protoswitch_testkit::targets::relay::check(data));
