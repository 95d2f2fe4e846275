#!/usr/bin/env python3
"""Prints the ws_decode table from criterion's estimates: ns/frame, GB/s and
the ratio tungstenite/protoswitch (above 1: protoswitch is faster).
Run after `cargo bench --bench ws_decode` in this folder."""
import json
import pathlib

root = pathlib.Path("target/criterion")
inputs = {}
for line in (root / "ws_decode_inputs.txt").read_text().split("\n"):
    if line.strip():
        name, size, frames = line.split()
        inputs[name] = (int(size), int(frames))


def mean_ns(group, function):
    est = json.loads((root / group / function / "new" / "estimates.json").read_text())
    return est["mean"]["point_estimate"]


print("| input (1 MiB, 64 KiB reads) | frames | protoswitch ns/frame | protoswitch GB/s | tungstenite ns/frame | tungstenite GB/s | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, (size, frames) in inputs.items():
    ours = mean_ns(name, "protoswitch")
    theirs = mean_ns(name, "tungstenite")
    print(
        f"| {name} | {frames} | {ours / frames:.1f} | {size / ours:.2f} | "
        f"{theirs / frames:.1f} | {size / theirs:.2f} | {theirs / ours:.2f}× |"
    )
