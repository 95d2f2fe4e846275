#!/usr/bin/env bash
# wss:// through protoswitch-tokio: examples/tls_echo.rs (tokio-rustls,
# ring; a CA and a server certificate generated at start).
#
#   bash .ci/tls.sh
#
#  1. `tls_echo --selftest`: server and client in one process over
#     127.0.0.1 (text, binary, 1 MiB, close 1000; by IP and by name), and a
#     client trusting no authority refused.
#  2. `tls_echo server 127.0.0.1:19231 --cert-out CA` in the background
#     (also probed over wss:// with and without --cafile, and over ws://;
#     and reached through upgrade_proxy --forward on 19232 by probe and
#     client over wss://);
#     `tls_echo client wss://127.0.0.1:19231/ --cafile CA` against it.
#  3. Python `websockets` as a wss client, its ssl context trusting CA:
#     text, binary, 1 MiB echo, a Ping, a clean close 1000 echoed; a
#     context without CA must fail the certificate check.
# The server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=19231
BIN=target/release/examples/tls_echo
CI_NAME=tls
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

python3 -c 'import websockets.sync.client' 2>/dev/null ||
    python3 -m pip install --quiet --upgrade 'websockets>=13' || fail "pip could not install websockets"
cargo build --release -p protoswitch-tokio --example tls_echo

# ---- 1. one process ----
timeout 60 "$BIN" --selftest || fail "tls_echo --selftest"

# ---- 2. two processes ----
ports_free "$PORT"
CA=$CI_DIR/ca.pem
start tls_echo "$BIN" server "127.0.0.1:$PORT" --cert-out "$CA"
wait_port "$PORT" tls_echo
[ -s "$CA" ] || fail "the server wrote no certificate to $CA"

timeout 60 "$BIN" client "wss://127.0.0.1:$PORT/" --cafile "$CA" || fail "tls_echo client → tls_echo server"

# ---- 3. Python websockets over TLS ----
timeout 60 python3 - "wss://127.0.0.1:$PORT/" "$CA" <<'PY' || fail "python websockets (wss) → tls_echo server"
import os, ssl, sys
from websockets.sync.client import connect

url, cafile = sys.argv[1], sys.argv[2]
context = ssl.create_default_context(cafile=cafile)
# As Python 3.13 has it by default: the certificates must pass strict checks.
context.verify_flags |= ssl.VERIFY_X509_STRICT
with connect(url, ssl=context, proxy=None, max_size=None, open_timeout=10,
             close_timeout=10, ping_interval=None) as ws:
    print(f"ok: python websockets {url}: TLS {ws.socket.version()}, cipher {ws.socket.cipher()[0]}")
    for what, data in [("text", "hello over TLS ✓"), ("binary", bytes([0, 1, 2, 255])),
                       ("1 MiB binary", os.urandom(1 << 20))]:
        ws.send(data)
        got = ws.recv(timeout=10)
        assert type(got) is type(data) and got == data, f"{what}: the echo differs"
        print(f"ok: python websockets {url}: {what} echoed")
    assert ws.ping(b"tls-ping").wait(10), "no Pong within 10 s"
    print(f"ok: python websockets {url}: ping answered by pong")
    ws.close(1000, "done")
rcvd = ws.protocol.close_rcvd
assert rcvd is not None and rcvd.code == 1000, f"close: the server answered {rcvd!r}"
assert ws.protocol.close_rcvd_then_sent is False, "the server closed first"
print(f"ok: python websockets {url}: close 1000 clean, server echoed {rcvd.code}")

try:
    with connect(url, ssl=ssl.create_default_context(), proxy=None, open_timeout=10):
        pass
except ssl.SSLCertVerificationError as e:
    print(f"ok: python websockets {url}: without the CA the certificate is refused ({e.reason})")
else:
    raise AssertionError("a client without the CA got through")
PY

# ---- 4. probe over TLS (issue 12): verified, and diagnosed without the CA ----
PROBE=target/release/examples/probe
[ -x "$PROBE" ] || fail "$PROBE is missing: run cargo build --release --examples"
out=$("$PROBE" "wss://127.0.0.1:$PORT/" --cafile "$CA" --deflate) || fail "probe wss:// --cafile: $out"
grep -q "OK: switched to websocket" <<<"$out" || fail "probe wss:// --cafile: $out"
echo "ok: probe wss://127.0.0.1:$PORT/ --cafile: $(grep 'VERDICT' <<<"$out" | sed 's/^ *//')"
rc=0
out=$("$PROBE" "wss://127.0.0.1:$PORT/") || rc=$?
[ "$rc" = 1 ] && grep -q "VERDICT: a TLS failure: the server's certificate is not trusted" <<<"$out" ||
    fail "probe wss:// without the CA: exit $rc: $out"
echo "ok: probe wss://127.0.0.1:$PORT/ (no CA) → exit 1, $(grep 'VERDICT' <<<"$out" | sed 's/^ *//' | cut -c1-90)..."
rc=0
out=$("$PROBE" "ws://127.0.0.1:$PORT/" --timeout 5) || rc=$?
[ "$rc" = 1 ] && grep -q "VERDICT: this port speaks TLS" <<<"$out" ||
    fail "probe ws:// to a TLS port: exit $rc: $out"
echo "ok: probe ws://127.0.0.1:$PORT/ (a TLS port) → exit 1, $(grep 'VERDICT' <<<"$out" | sed 's/^ *//')"

# ---- 5. wss:// through a CONNECT proxy (upgrade_proxy --forward) ----
PROXY_PORT=19232
start upgrade_proxy "target/release/examples/upgrade_proxy" "127.0.0.1:$PROXY_PORT" --forward "127.0.0.1:$PORT"
wait_port "$PROXY_PORT" upgrade_proxy
out=$("$PROBE" "wss://127.0.0.1:$PORT/" --cafile "$CA" --proxy "http://127.0.0.1:$PROXY_PORT") ||
    fail "probe wss:// --proxy: $out"
echo "ok: probe wss://127.0.0.1:$PORT/ --proxy http://127.0.0.1:$PROXY_PORT --cafile: $(grep 'VERDICT' <<<"$out" | sed 's/^ *//')"
out=$(printf 'hello through a tunnel and TLS\n' |
    target/release/examples/client "wss://127.0.0.1:$PORT/" --cafile "$CA" --proxy "http://127.0.0.1:$PROXY_PORT" 2>&1) ||
    fail "client wss:// --proxy: $out"
grep -qx "hello through a tunnel and TLS" <<<"$out" || fail "client wss:// --proxy: no echo in: $out"
echo "ok: client wss://127.0.0.1:$PORT/ --proxy http://127.0.0.1:$PROXY_PORT --cafile: the line came back"
stop upgrade_proxy

kill -0 "${pid_of[tls_echo]}" 2>/dev/null || fail "tls_echo server died during the checks"
if grep -q panicked "$CI_DIR/tls_echo.log"; then
    fail "tls_echo server panicked"
fi
passed=yes
echo "tls: all checks passed"
