#!/usr/bin/env bash
# The no_std proof and the fuzzing run.
#
#   1. the core builds without default features;
#   2. nostd-check/ (a #![no_std] #![no_main] binary with no allocator)
#      links and completes a server and a client WebSocket handshake; its
#      sibling nostd-deflate (no_std, its own bump allocator over a static
#      arena, protoswitch's deflate feature without default features)
#      negotiates permessage-deflate through both handshake machines and
#      exchanges compressed messages both ways; the arena's peak is printed;
#   3. the core builds for a bare-metal target (thumbv7em-none-eabihf) when
#      rustup can install it, also with the deflate feature (alloc, no std);
#   4. each fuzz target runs for FUZZ_SECONDS (default 60) from seeded
#      corpora; any crash fails the script. FUZZ_SECONDS=0 only replays the
#      corpora. Seven targets: the two handshakes, then the WebSocket frame
#      decoder, connection operations, encode/decode round trips, the
#      masking (the crate's one unsafe call) and permessage-deflate, so the
#      fuzzing takes about 7 x FUZZ_SECONDS plus the builds.
#
# Usage: bash .ci/nostd_and_fuzz.sh     (from anywhere in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
BARE_TARGET=thumbv7em-none-eabihf
FUZZ_TARGETS=(server_handshake client_handshake frame_decoder connection roundtrip mask deflate relay)
step() { printf '\n---- %s ----\n' "$*"; }

step "build without default features"
cargo build --no-default-features

step "no_std binary: build and run"
# --bin: each binary is built on its own, since the deflate feature links
# `alloc`, which the allocator-free nostd-check must not have.
(cd nostd-check && cargo build --release --bin nostd-check)
status=0
./nostd-check/target/release/nostd-check || status=$?
if [ "$status" -ne 0 ]; then
  echo "FAIL: nostd-check exited with $status (expected 0)" >&2
  exit 1
fi
echo "nostd-check: server and client handshakes OK (exit 0)"

step "no_std binary with permessage-deflate and its own allocator: build and run"
(cd nostd-check && cargo build --release --features deflate --bin nostd-deflate)
status=0
# It prints the arena's peak use; a non-zero status names the failed
# check (see the Fail enum in nostd-check/src/bin/deflate.rs).
./nostd-check/target/release/nostd-deflate || status=$?
if [ "$status" -ne 0 ]; then
  echo "FAIL: nostd-deflate exited with $status (expected 0)" >&2
  exit 1
fi
echo "nostd-deflate: permessage-deflate negotiated and used both ways OK (exit 0)"

step "bare-metal target: $BARE_TARGET"
if timeout 120 rustup target add "$BARE_TARGET"; then
  cargo build -p protoswitch --no-default-features --target "$BARE_TARGET"
  echo "built protoswitch for $BARE_TARGET"
  # permessage-deflate needs an allocator, not std.
  cargo build -p protoswitch --no-default-features --features deflate --target "$BARE_TARGET"
  echo "built protoswitch with deflate (alloc, no std) for $BARE_TARGET"
else
  echo "skipped: target unavailable ($BARE_TARGET could not be installed)"
fi

step "fuzzing: tools"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz --version

step "fuzzing: seed corpora (testkit/seeds, committed) are current"
bash fuzz/seed.sh
if ! git diff --quiet -- testkit/seeds || [ -n "$(git ls-files --others --exclude-standard testkit/seeds)" ]; then
  echo "FAIL: fuzz/seed.sh changed testkit/seeds; commit the regenerated seeds" >&2
  git status --short -- testkit/seeds >&2
  exit 1
fi

for t in "${FUZZ_TARGETS[@]}"; do
  if [ "$FUZZ_SECONDS" -gt 0 ]; then
    step "fuzzing: $t for ${FUZZ_SECONDS}s"
  else
    step "fuzzing: $t, replaying the corpus only"
  fi
  mkdir -p "fuzz/artifacts/$t"
  log="$root/fuzz/artifacts/$t/last-run.log"
  if [ "$FUZZ_SECONDS" -gt 0 ]; then
    limit=(-max_total_time="$FUZZ_SECONDS")
  else
    limit=(-runs=0)
  fi
  # deflate: messages of 2 KiB and more take the compressor's blocks with
  # codes of their own; libFuzzer's default cap (4,096 bytes of input)
  # would keep the fuzzer's own inputs below that most of the time.
  if [ "$t" = deflate ]; then
    limit+=(-max_len=16384)
  fi
  status=0
  mkdir -p "fuzz/corpus/$t"
  # The growing corpus first (libFuzzer writes there), then the seeds.
  (cd fuzz && cargo +nightly fuzz run "$t" "corpus/$t" "../testkit/seeds/$t" -- "${limit[@]}") >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    echo "FAIL: fuzz target $t crashed or failed to build (exit $status); full log: $log" >&2
    # The panic message (for a crash), then libFuzzer's and cargo-fuzz's
    # summary: the crashing input (hex-escaped and base64) and how to rerun it.
    grep -A4 'panicked at' "$log" | head -n 20 >&2 || true
    tail -n 40 "$log" >&2
    exit 1
  fi
  # libFuzzer's summary: coverage, corpus size, and how many inputs ran.
  grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
  grep -E '^Done [0-9]+ runs' "$log" | tail -n 1 || true
done

step "no_std and fuzzing: OK"
