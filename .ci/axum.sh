#!/usr/bin/env bash
# The axum example of protoswitch-tokio (feature `http`) against Python
# `websockets`:
#
#   bash .ci/axum.sh
#
# Builds examples/axum_echo.rs (release), starts it on 127.0.0.1:19230 and
# checks, with .ci/interop/ws_client_check.py: text, binary and 1 MiB echo,
# a Ping answered, clean closes (1000, 4001 'bye'); then permessage-deflate
# agreed in the 101 and used by websockets, with 1 MiB and fragmented
# messages echoed. A plain GET of /ws must get 426 with
# `Upgrade: websocket` and `Sec-WebSocket-Version: 13`, and `/` stays an
# ordinary axum route. The server is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=19230
BIN=target/release/examples/axum_echo
URL=ws://127.0.0.1:$PORT/ws
CI_NAME=axum
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

python3 -c 'import websockets.sync.client' 2>/dev/null ||
    python3 -m pip install --quiet --upgrade 'websockets>=13' || fail "pip could not install websockets"
cargo build --release -p protoswitch-tokio --features http --example axum_echo

ports_free "$PORT"
start axum_echo "$BIN" "127.0.0.1:$PORT"
wait_port "$PORT" axum_echo

python3 .ci/interop/ws_client_check.py "$URL" || fail "python websockets → axum_echo"
python3 .ci/interop/ws_client_check.py "$URL" --deflate default ||
    fail "python websockets → axum_echo, permessage-deflate"

# Not an upgrade: the core's 426 through axum; another route: axum's own.
python3 - "$PORT" <<'PY' || fail "plain HTTP requests to axum_echo"
import http.client, sys
port = int(sys.argv[1])
def get(path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    return r.status, r.headers, r.read()
status, headers, _ = get("/ws")
assert status == 426, f"GET /ws without an upgrade: {status}"
assert headers["Upgrade"] == "websocket", headers
assert headers["Sec-WebSocket-Version"] == "13", headers
status, _, body = get("/")
assert status == 200 and b"/ws" in body, (status, body)
print("ok: GET /ws without an upgrade → 426 Upgrade: websocket, Sec-WebSocket-Version: 13; GET / → 200")
PY

kill -0 "${pid_of[axum_echo]}" 2>/dev/null || fail "axum_echo died during the checks"
if grep -q panicked "$CI_DIR/axum_echo.log"; then
    fail "axum_echo panicked"
fi
passed=yes
echo "axum: all checks passed"
