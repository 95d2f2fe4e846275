#!/usr/bin/env python3
"""Where the firmware's .text comes from, inlining resolved through DWARF.

Every instruction of .text is attributed by its chain of inlined frames
(llvm-symbolizer --inlining) to: the innermost crate or core module, the
innermost function, the deepest protoswitch function and source file (what
that protoswitch code costs with everything it inlined from core and its
dependencies). `llvm-nm --size-sort` cannot do this: LTO inlines most of
protoswitch into the firmware's main.

Usage (from firmware/; needs llvm-symbolizer on PATH and rustup's
llvm-tools for llvm-objdump):

    CARGO_PROFILE_RELEASE_DEBUG=2 CARGO_TARGET_DIR=target/debuginfo \
        cargo build --release
    python3 attribute.py target/debuginfo/thumbv7em-none-eabihf/release/firmware [TOP]

Debuginfo does not change the code (.text differs by a few bytes).
"""
import re, subprocess, sys, collections, glob, os

elf = sys.argv[1]
# The protoswitch checkout this script lives in (firmware/..).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
bindir = glob.glob(os.popen("rustc --print sysroot").read().strip() + "/lib/rustlib/*/bin")[0]
dis = subprocess.run([bindir + "/llvm-objdump", "-d", "--no-show-raw-insn", "-j", ".text", elf],
                     capture_output=True, text=True, check=True).stdout
# text section end
hdr = subprocess.run([bindir + "/llvm-objdump", "-h", elf], capture_output=True, text=True).stdout
m = re.search(r"\s\.text\s+([0-9a-f]+)\s+([0-9a-f]+)", hdr)
tsize, tstart = int(m.group(1), 16), int(m.group(2), 16)
addrs = []
for line in dis.splitlines():
    mm = re.match(r"\s*([0-9a-f]+):\s", line)
    if mm:
        addrs.append(int(mm.group(1), 16))
addrs = sorted(set(addrs))
sizes = [(b - a) for a, b in zip(addrs, addrs[1:] + [tstart + tsize])]
inp = "".join("0x%x\n" % a for a in addrs)
out = subprocess.run(["llvm-symbolizer", "--obj=" + elf, "--inlining", "--demangle", "--functions=linkage"],
                     input=inp, capture_output=True, text=True).stdout
blocks = out.strip("\n").split("\n\n")
assert len(blocks) == len(addrs), (len(blocks), len(addrs))

def crate_of(path, func):
    p = path
    if "/firmware/src/" in p:
        return "firmware"
    if p.startswith(REPO + "/src/"):
        return "protoswitch"
    m = re.search(r"/registry/src/[^/]+/([A-Za-z0-9_-]+?)-[0-9][^/]*/", p)
    if m:
        return m.group(1)
    if "/library/core/src/fmt" in p:
        return "core::fmt"
    if "/library/core/src/str" in p:
        return "core::str"
    if "/library/core/src/panicking" in p or "/library/core/src/panic" in p:
        return "core::panic"
    if "/library/core/src/slice" in p:
        return "core::slice"
    if "/library/core/src/num" in p:
        return "core::num"
    if "/library/core/src/" in p:
        return "core::other"
    if "compiler-builtins" in p or "compiler_builtins" in func:
        return "compiler_builtins"
    if p.startswith("??"):
        return "?(" + func.split("::")[0] + ")"
    return "other:" + p.split("/")[-1]

by_crate = collections.Counter()
by_func = collections.Counter()
by_pfunc = collections.Counter()
by_file = collections.Counter()
by_pfile = collections.Counter()
func_crate = {}
for size, blk in zip(sizes, blocks):
    lines = blk.split("\n")
    frames = [(lines[i], lines[i + 1]) for i in range(0, len(lines) - 1, 2)]
    # frames[0] innermost
    f0, loc0 = frames[0]
    path0 = loc0.rsplit(":", 2)[0]
    c = crate_of(path0, f0)
    by_crate[c] += size
    fn = re.sub(r"::h[0-9a-f]{16}$", "", f0)
    by_func[fn] += size
    func_crate[fn] = c
    by_file[path0.split("/src/")[-1] if c == "protoswitch" else c] += size
    # deepest protoswitch frame
    pf = next((re.sub(r"::h[0-9a-f]{16}$", "", f) for f, l in frames if crate_of(l.rsplit(":", 2)[0], f) == "protoswitch"), None)
    by_pfunc[pf or "(not under protoswitch: " + c + ")"] += size
    pfile = next((l.rsplit(":", 2)[0].split("/src/")[-1] for f, l in frames if crate_of(l.rsplit(":", 2)[0], f) == "protoswitch"), None)
    by_pfile[pfile or "(not under protoswitch: " + c + ")"] += size

total = sum(sizes)
print("total .text %d bytes (%d instructions/words)" % (total, len(addrs)))
def show(title, ctr, n):
    print("\n== %s ==" % title)
    for k, v in ctr.most_common(n):
        print("%7d  %5.1f%%  %s" % (v, 100.0 * v / total, k))
show("by innermost crate/module", by_crate, 40)
show("by innermost function (top %d)" % top, collections.Counter({"[%s] %s" % (func_crate[k], k): v for k, v in by_func.items()}), top)
show("by protoswitch source file (innermost)", by_file, 40)
show("by deepest protoswitch function (includes what it inlined from core/deps)", by_pfunc, top)
show("by deepest protoswitch source file (includes inlined core/deps)", by_pfile, 60)
