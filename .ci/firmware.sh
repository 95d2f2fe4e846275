#!/usr/bin/env bash
# Flash size of a real firmware (issue 9).
#
#   1. installs the bare-metal target (thumbv7em-none-eabihf) if missing;
#   2. builds firmware/ (a Cortex-M4F server handshake + WebSocket echo
#      loop; release profile: opt-level "s", LTO, codegen-units = 1,
#      panic = abort);
#   3. prints the sizes of .text, .rodata, .data and .bss, in bytes and KiB,
#      with llvm-size from rustup's llvm-tools when it can be had, else with
#      a small Python ELF reader;
#   4. with FIRMWARE_ENFORCE=1, fails when .text exceeds FIRMWARE_TEXT_BUDGET
#      bytes (default 16384). Without it the budget is only reported.
#
# Usage: bash .ci/firmware.sh     (from anywhere in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=thumbv7em-none-eabihf
BUDGET=${FIRMWARE_TEXT_BUDGET:-16384}
ENFORCE=${FIRMWARE_ENFORCE:-0}
ELF=firmware/target/$TARGET/release/firmware
step() { printf '\n---- %s ----\n' "$*"; }

step "target: $TARGET"
if ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi

step "build firmware/ (release)"
(cd firmware && cargo build --release)

step "section sizes: $ELF"
# "name size" lines for the four sections, from llvm-size -A when rustup's
# llvm-tools can be installed, else read from the ELF section headers.
sections() {
  local llvm_size=""
  if timeout 120 rustup component add llvm-tools >/dev/null 2>&1; then
    llvm_size=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-size 2>/dev/null | head -n 1 || true)
  fi
  if [ -n "$llvm_size" ]; then
    echo "(llvm-size: $llvm_size)" >&2
    "$llvm_size" -A "$ELF" | awk '$1 ~ /^\.(text|rodata|data|bss)$/ { print $1, $2 }'
  else
    echo "(llvm-size unavailable: reading the ELF section headers with Python)" >&2
    python3 - "$ELF" <<'PY'
import struct, sys

data = open(sys.argv[1], "rb").read()
assert data[:4] == b"\x7fELF", "not an ELF file"
is64 = data[4] == 2
end = "<" if data[5] == 1 else ">"
if is64:
    shoff, = struct.unpack_from(end + "Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
else:
    shoff, = struct.unpack_from(end + "I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x2E)

def header(i):
    at = shoff + i * shentsize
    if is64:
        name, _, _, _, off, size = struct.unpack_from(end + "IIQQQQ", data, at)
    else:
        name, _, _, _, off, size = struct.unpack_from(end + "IIIIII", data, at)
    return name, off, size

_, strtab, _ = header(shstrndx)
sizes = {}
for i in range(shnum):
    name, _, size = header(i)
    name = data[strtab + name:data.index(b"\0", strtab + name)].decode()
    sizes[name] = size
for name in (".text", ".rodata", ".data", ".bss"):
    print(name, sizes.get(name, 0))
PY
  fi
}

text=0
while read -r name size; do
  awk -v n="$name" -v s="$size" 'BEGIN { printf "%-8s %7d bytes  %6.1f KiB\n", n, s, s / 1024 }'
  if [ "$name" = ".text" ]; then text=$size; fi
done < <(sections)

step "budget: .text <= $BUDGET bytes"
if [ "$text" -le "$BUDGET" ]; then
  echo "OK: .text is $text bytes, within $BUDGET"
elif [ "$ENFORCE" = "1" ]; then
  echo "FAIL: .text is $text bytes, $((text - BUDGET)) over the budget of $BUDGET (FIRMWARE_ENFORCE=1)" >&2
  exit 1
else
  echo "over budget: .text is $text bytes, $((text - BUDGET)) over $BUDGET (not enforced; set FIRMWARE_ENFORCE=1 to fail)"
fi
