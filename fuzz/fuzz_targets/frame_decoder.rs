//! The `frame_decoder` fuzz target: the checks live in
//! `protoswitch_testkit::targets::frame_decoder`, where `cargo test` replays the
//! seed corpus on stable.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protoswitch_testkit::targets::frame_decoder::check(data));
