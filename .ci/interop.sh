#!/usr/bin/env bash
# Interop checks of examples/upgrade_server.rs against real clients:
# Python h11, nghttp (h2c upgrade), curl (h2c, 100-continue, WebSocket).
#
# Expects the example to be built already (cargo build --example upgrade_server)
# and the tools installed (apt: nghttp2-client curl; pip: h11).
# Run from anywhere: paths are relative to the repository root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SERVER_BIN:-$ROOT/target/debug/examples/upgrade_server}"
HOST=127.0.0.1
PORT=18080
BASE="http://$HOST:$PORT"

WORK="$(mktemp -d)"
SERVER_PID=""
STATUS=fail

cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "$STATUS" != pass && -s "$WORK/server.err" ]]; then
        echo "---- server log (stderr) ----" >&2
        cat "$WORK/server.err" >&2
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "interop: FAIL: $*" >&2
    exit 1
}

# Shows a captured output when a check fails.
show() {
    echo "---- $1 ----" >&2
    cat "$2" >&2 || true
}

for tool in nghttp curl python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed"
done
python3 -c 'import h11' 2>/dev/null || fail "the Python module h11 is not installed (pip install h11)"
[[ -x "$BIN" ]] || fail "$BIN is missing: run 'cargo build --example upgrade_server' first"

# ---- start the server -------------------------------------------------------
"$BIN" "$HOST:$PORT" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

ready=no
for _ in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited at start: $(cat "$WORK/server.err")"
    if (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; then
        ready=yes
        break
    fi
    sleep 0.1
done
[[ "$ready" == yes ]] || fail "the server does not answer on $HOST:$PORT after 10 s"
grep -q "listening on $HOST:$PORT" "$WORK/server.out" ||
    fail "the server did not print 'listening on $HOST:$PORT' (stdout: $(cat "$WORK/server.out"))"
echo "interop: server running on $HOST:$PORT (pid $SERVER_PID)"

# ---- a) h11 client: 100-continue + echo/1, WebSocket 426, plain GET ---------
echo "interop: a) python h11 client"
python3 "$ROOT/.ci/h11_client.py" "$HOST" "$PORT" || fail "a) h11 client checks failed"

# ---- b) nghttp h2c upgrade ---------------------------------------------------
echo "interop: b) nghttp -u (h2c upgrade)"
if ! timeout 20 nghttp -u -v "$BASE/" >"$WORK/nghttp.out" 2>&1; then
    show "nghttp output" "$WORK/nghttp.out"
    fail "b) nghttp -u -v $BASE/ exited non-zero"
fi
for want in "HTTP/1.1 101 Switching Protocols" "HTTP Upgrade success" "hello over h2c"; do
    if ! grep -qF "$want" "$WORK/nghttp.out"; then
        show "nghttp output" "$WORK/nghttp.out"
        fail "b) nghttp output lacks '$want'"
    fi
done
echo "ok: nghttp -u: 101, HTTP Upgrade success, body 'hello over h2c'"

# ---- c) curl --http2 (h2c upgrade) ------------------------------------------
echo "interop: c) curl --http2 (h2c upgrade)"
body="$(curl -sS --max-time 10 --http2 "$BASE/")" || fail "c) curl --http2 $BASE/ failed"
[[ "$body" == "hello over h2c" ]] || fail "c) curl --http2 printed '$body', expected 'hello over h2c'"
if ! curl -sS -v --max-time 10 --http2 "$BASE/" >"$WORK/curl-h2c.out" 2>"$WORK/curl-h2c.err"; then
    show "curl -v stderr" "$WORK/curl-h2c.err"
    fail "c) curl -v --http2 $BASE/ failed"
fi
if ! grep -qF "101 Switching Protocols" "$WORK/curl-h2c.err"; then
    show "curl -v stderr" "$WORK/curl-h2c.err"
    fail "c) curl -v --http2 stderr does not show '101 Switching Protocols'"
fi
echo "ok: curl --http2: 101 Switching Protocols, body 'hello over h2c'"

# ---- d) curl Expect: 100-continue upload ------------------------------------
echo "interop: d) curl upload with Expect: 100-continue"
head -c 2000 /dev/urandom >"$WORK/upload.bin"
if ! curl -sS -v --max-time 10 -H 'Expect: 100-continue' --data-binary @"$WORK/upload.bin" \
    "$BASE/upload" >"$WORK/upload.out" 2>"$WORK/upload.err"; then
    show "curl -v stderr" "$WORK/upload.err"
    fail "d) curl upload to $BASE/upload failed"
fi
if ! grep -qF "received 2000 bytes" "$WORK/upload.out"; then
    show "curl output" "$WORK/upload.out"
    fail "d) the upload response does not say 'received 2000 bytes'"
fi
if ! grep -qF "100 Continue" "$WORK/upload.err"; then
    show "curl -v stderr" "$WORK/upload.err"
    fail "d) curl -v stderr does not show '100 Continue'"
fi
echo "ok: curl upload: 100 Continue, 'received 2000 bytes'"

# ---- e) WebSocket handshake (RFC 6455 §1.3 sample key) ----------------------
echo "interop: e) WebSocket upgrade with curl"
# The server closes after the 101 (no frame codec yet); curl may exit
# non-zero once the connection ends or --max-time hits: only the head counts.
curl -sS -i --max-time 3 \
    -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
    -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
    "$BASE/ws" >"$WORK/ws.out" 2>"$WORK/ws.err" || true
if ! grep -qF "101 Switching Protocols" "$WORK/ws.out" ||
    ! grep -qiF "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" "$WORK/ws.out"; then
    show "curl -i output" "$WORK/ws.out"
    show "curl stderr" "$WORK/ws.err"
    fail "e) GET /ws did not get a 101 with Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
fi
echo "ok: GET /ws: 101, Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

# ---- the server survived everything ------------------------------------------
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died during the checks"
if grep -q "panicked" "$WORK/server.err"; then
    fail "the server panicked"
fi

STATUS=pass
echo "interop: all checks passed"
