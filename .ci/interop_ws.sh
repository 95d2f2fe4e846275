#!/usr/bin/env bash
# WebSocket interop with real peers, and the probe's diagnoses.
#
#   bash .ci/interop_ws.sh
#
# Needs the release examples: cargo build --release --examples
# Installs its peers itself (idempotent): Python `websockets` (pip), Node
# `ws` and `playwright-core` (npm, into $PROTOSWITCH_NODE_DIR, default
# ~/.cache/protoswitch/node), Debian `chromium` (apt).
#
#  1. Python websockets client  → echo_server, upgrade_server /ws, tokio_echo_sans_io;
#                                 permessage-deflate → echo_server (2 offers)
#  2. our `client`              → Python websockets and Node ws echo servers;
#                                 `client --deflate` → the same, compression on
#  3. Node ws client            → echo_server, upgrade_server /ws, tokio_echo_sans_io;
#                                 permessage-deflate → echo_server (2 offers)
#  4. headless Chromium         → echo_server's page (text, binary, 1 MiB,
#                                 40 small, ws.extensions, close 1000/4001),
#                                 and the same page against tokio_echo
#  5. `probe`                   → upgrade_server (successes and failures) and
#                                 .ci/interop/bad_server.py (broken servers)
# permessage-deflate (RFC 7692) is proved on the wire: those checks go
# through .ci/interop/ws_tap.py, a relay that parses every frame, inflates
# each compressed message with Python's zlib in the window and context mode
# the 101 agreed, and then requires per connection that large messages went
# compressed in the directions expected (see `verify_wire`).
# Every listener is on 127.0.0.1 (ports 19201-19208 and the taps' 19211,
# 19213, 19214, 19217, 19218) and is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/release/examples
NODE_DIR="${PROTOSWITCH_NODE_DIR:-$HOME/.cache/protoswitch/node}"
HERE=.ci/interop
CI_NAME=interop-ws
# shellcheck source=.ci/lib.sh
. .ci/lib.sh
for b in echo_server upgrade_server client probe tokio_echo_sans_io tokio_echo blocking_echo; do
    [ -x "$BIN/$b" ] || fail "$BIN/$b is missing: run cargo build --release --examples"
done

# ---- peers ----
# The scripts use websockets.sync.client and websockets.asyncio.server (13+).
python3 -c 'import websockets.sync.client, websockets.asyncio.server' 2>/dev/null ||
    python3 -m pip install --quiet --upgrade 'websockets>=13' || fail "pip could not install websockets"
if [ ! -d "$NODE_DIR/node_modules/ws" ] || [ ! -d "$NODE_DIR/node_modules/playwright-core" ]; then
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error ws@8 playwright-core ||
        fail "npm could not install ws and playwright-core into $NODE_DIR"
fi
if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; } ||
        fail "apt-get could not install chromium"
fi
export NODE_PATH="$NODE_DIR/node_modules"
echo "interop-ws: python websockets $(python3 -c 'import websockets; print(websockets.__version__)')"
echo "interop-ws: node $(node --version), ws $(node -p 'require("ws/package.json").version'), playwright-core $(node -p 'require("playwright-core/package.json").version')"
echo "interop-ws: $(chromium --version 2>/dev/null | head -1)"

# ---- servers ----
# Each server's output goes to $LOGS/<port>.log (the servers are started
# under their port's name); on failure the trap shows the end of every log
# that has something in it.
started=$SECONDS
LOGS=$CI_DIR
PORTS="19201 19202 19203 19204 19205 19206 19207 19208 19219 19220"
TAPS="19211 19213 19214 19217 19218 19229" # the tap on 1921N relays to 1920N, 19229 to 19219
# shellcheck disable=SC2086 # the lists are split into ports
ports_free $PORTS $TAPS
start 19201 "$BIN/echo_server" 127.0.0.1:19201
start 19202 "$BIN/upgrade_server" 127.0.0.1:19202
# Python websockets: its default permessage-deflate (12-bit windows both
# ways) on 19203, no window limits on 19207 (which also echoes large
# messages in 16 KiB fragments). Node ws: perMessageDeflate
# true on 19204, with no context takeover both ways on 19208.
start 19203 python3 "$HERE/ws_echo_server.py" 19203
start 19204 node "$HERE/ws_echo_server.js" 19204
start 19205 python3 "$HERE/bad_server.py" 19205
start 19206 "$BIN/tokio_echo_sans_io" 127.0.0.1:19206
# The adapters' echo servers (issue 11): protoswitch-tokio, protoswitch-blocking.
start 19219 "$BIN/tokio_echo" 127.0.0.1:19219
start 19220 "$BIN/blocking_echo" 127.0.0.1:19220
start 19207 python3 "$HERE/ws_echo_server.py" 19207 --deflate-windows 15
start 19208 node "$HERE/ws_echo_server.js" 19208 --no-context-takeover
# One tap process relays all five: 19211 → echo_server, 19213 → 19203, ...
TAP_LOG="$LOGS/tap.jsonl"
: >"$TAP_LOG"
start 19211 python3 "$HERE/ws_tap.py" serve "$TAP_LOG" 19211:19201 19213:19203 19214:19204 19217:19207 19218:19208 19229:19219
for port in $PORTS; do wait_port "$port"; done
for port in $TAPS; do pid_of[$port]=${pid_of[19211]}; wait_port "$port"; done

# verify_wire WHAT PORT ARGS...: the connections through the tap on PORT
# since the last call (see ws_tap.py verify for ARGS), then a fresh log.
verify_wire() {
    local what=$1 port=$2
    shift 2
    python3 "$HERE/ws_tap.py" verify "$TAP_LOG" --port "$port" "$@" || fail "$what: on the wire"
    : >"$TAP_LOG"
}

# ---- 1. Python websockets client ----
python3 "$HERE/ws_client_check.py" ws://127.0.0.1:19201/echo || fail "python websockets → echo_server"
python3 "$HERE/ws_client_check.py" ws://127.0.0.1:19202/ws --subprotocol chat || fail "python websockets → upgrade_server /ws"
python3 "$HERE/ws_client_check.py" ws://127.0.0.1:19206/ || fail "python websockets → tokio_echo_sans_io"
python3 "$HERE/ws_client_check.py" ws://127.0.0.1:19219/ || fail "python websockets → protoswitch-tokio tokio_echo"
python3 "$HERE/ws_client_check.py" ws://127.0.0.1:19220/ || fail "python websockets → protoswitch-blocking blocking_echo"
# permessage-deflate: websockets' own offer, then one asking for no context
# takeover both ways (the tap then inflates every message on its own, so
# a side that kept its window would fail there). Both directions must
# compress the large messages; the client's fragmented ones stay in frames.
for offer in default no-context-takeover; do
    python3 "$HERE/ws_client_check.py" ws://127.0.0.1:19211/echo --deflate $offer ||
        fail "python websockets → echo_server, permessage-deflate ($offer)"
    verify_wire "python websockets → echo_server ($offer)" 19211 --compressed c2s,s2c --fragmented c2s
done

# ---- 2. our client against other servers ----
check_client() {
    local name=$1 url=$2
    shift 2
    local out err="$LOGS/client.stderr"
    # The input ends at once: the client must wait for the replies still
    # on their way before it closes (a server stops echoing at our Close).
    out=$(printf 'one\ntwo\nthree\n' | timeout 20 "$BIN/client" "$url" "$@" 2>"$err") ||
        fail "client → $name exited $?: $(cat "$err")"
    [ "$out" = $'one\ntwo\nthree' ] || fail "client → $name printed: $out"
    if [ "${1:-}" = --protocol ]; then
        grep -qx "subprotocol: $2" "$err" || fail "client → $name: subprotocol $2 not negotiated: $(cat "$err")"
    fi
    echo "ok: client → $name ($url $*): 3 lines echoed, clean close, exit 0"
}
check_client "python websockets server" ws://127.0.0.1:19203/
check_client "python websockets server" ws://127.0.0.1:19203/ --protocol chat
check_client "node ws server" ws://127.0.0.1:19204/
check_client "node ws server" ws://127.0.0.1:19204/ --protocol chat
check_client "upgrade_server /ws" ws://127.0.0.1:19202/ws --protocol chat

# `client --deflate`: the agreed parameters on stderr, every line echoed —
# among them two copies of a 300 KB JSON line, which must go compressed
# (the second copy can refer to the first only under context takeover: with
# no context takeover agreed, the tap inflates each on its own).
big_line=$(python3 -c 'import json; print(json.dumps([{"id": i, "user": f"user{i % 97}", "active": i % 3 == 0} for i in range(7000)]))')
check_client_deflate() { # NAME PORT "PARAMS" VERIFY-ARGS...
    local name=$1 port=$2 params=$3
    shift 3
    local input out err="$LOGS/client.stderr"
    input=$(printf 'one\ntwo\n%s\n%s\nthree' "$big_line" "$big_line")
    out=$(timeout 20 "$BIN/client" "ws://127.0.0.1:$port/" --deflate <<<"$input" 2>"$err") ||
        fail "client --deflate → $name exited $?: $(cat "$err")"
    [ "$out" = "$input" ] || fail "client --deflate → $name: the echo differs (${#out} bytes for ${#input}): $(head -c 300 <<<"$out")"
    grep -qx "permessage-deflate: $params" "$err" ||
        fail "client --deflate → $name: expected 'permessage-deflate: $params' on stderr: $(cat "$err")"
    echo "ok: client --deflate → $name: 5 lines echoed (2 of ${#big_line} bytes), agreed $params"
    verify_wire "client --deflate → $name" "$port" "$@"
}
# websockets limits our window to 12 bits: the crate's compressor honours
# it (the tap inflates with a 12-bit window, so a reach further back fails).
check_client_deflate "python websockets server (default deflate)" 19213 \
    "server_no_context_takeover=false client_no_context_takeover=false server_max_window_bits=12 client_max_window_bits=12" \
    --compressed c2s,s2c
check_client_deflate "python websockets server (15-bit windows)" 19217 \
    "server_no_context_takeover=false client_no_context_takeover=false server_max_window_bits=15 client_max_window_bits=15" \
    --compressed c2s,s2c --fragmented s2c
check_client_deflate "node ws server (perMessageDeflate)" 19214 \
    "server_no_context_takeover=false client_no_context_takeover=false server_max_window_bits=15 client_max_window_bits=15" \
    --compressed c2s,s2c
check_client_deflate "node ws server (no context takeover)" 19218 \
    "server_no_context_takeover=true client_no_context_takeover=true server_max_window_bits=15 client_max_window_bits=15" \
    --compressed c2s,s2c

# ---- 3. Node ws client ----
node "$HERE/ws_client_check.js" ws://127.0.0.1:19201/echo || fail "node ws → echo_server"
node "$HERE/ws_client_check.js" ws://127.0.0.1:19202/ws --subprotocol chat || fail "node ws → upgrade_server /ws"
node "$HERE/ws_client_check.js" ws://127.0.0.1:19206/ || fail "node ws → tokio_echo_sans_io"
node "$HERE/ws_client_check.js" ws://127.0.0.1:19219/ || fail "node ws → protoswitch-tokio tokio_echo"
node "$HERE/ws_client_check.js" ws://127.0.0.1:19220/ || fail "node ws → protoswitch-blocking blocking_echo"
for offer in default no-context-takeover; do
    node "$HERE/ws_client_check.js" ws://127.0.0.1:19211/echo --deflate $offer ||
        fail "node ws → echo_server, permessage-deflate ($offer)"
    verify_wire "node ws → echo_server ($offer)" 19211 --compressed c2s,s2c --fragmented c2s
done

# ---- 4. headless Chromium ----
# Through the tap: the page's WebSocket goes to the page's host. Two
# sessions (close 1000, then 4001), each with its 1 MiB messages.
node "$HERE/browser_check.js" http://127.0.0.1:19211/ "$(command -v chromium)" || fail "chromium → echo_server page"
verify_wire "chromium → echo_server page" 19211 --conns 2 --compressed c2s,s2c
# The same page (served by echo_server), its WebSocket pointed at
# protoswitch-tokio's tokio_echo through the tap.
node "$HERE/browser_check.js" "http://127.0.0.1:19201/?ws=ws://127.0.0.1:19229/" "$(command -v chromium)" ||
    fail "chromium → protoswitch-tokio tokio_echo"
verify_wire "chromium → protoswitch-tokio tokio_echo" 19229 --conns 2 --compressed c2s,s2c

# ---- 5. probe ----
# probe_ok leaves the probe's output in $out for a further look.
out=
probe_ok() {
    out=$("$BIN/probe" "$@") || fail "probe $* exited $?: $out"
    grep -q "OK: switched" <<<"$out" || fail "probe $*: no 'OK: switched' in: $out"
    echo "ok: probe $*: $(grep 'OK: switched' <<<"$out" | sed 's/^ *//')"
}
probe_fails_with() {
    local expect=$1
    shift
    local out rc=0
    out=$("$BIN/probe" "$@") || rc=$?
    [ "$rc" = 1 ] || fail "probe $* exited $rc, expected 1: $out"
    grep -qF -- "$expect" <<<"$out" || fail "probe $*: expected '$expect' in: $out"
    echo "ok: probe $* → exit 1, '$expect'"
}
probe_ok ws://127.0.0.1:19202/ws
probe_ok ws://127.0.0.1:19202/ws --protocol chat
probe_ok ws://127.0.0.1:19202/ --upgrade h2c
probe_ok ws://127.0.0.1:19202/up --upgrade echo/1 --expect-continue
grep -qF "< HTTP/1.1 100 Continue" <<<"$out" || fail "probe --expect-continue: no 100 Continue before the 101: $out"
echo "ok: probe --expect-continue: 100 Continue came before the 101"
probe_fails_with "an intermediary removed the hop-by-hop Upgrade/Connection headers" ws://127.0.0.1:19202/
probe_fails_with "Upgrade: websocket; Sec-WebSocket-Version: 13" ws://127.0.0.1:19202/ws --upgrade foo/1
probe_fails_with "Sec-WebSocket-Accept does not match the key sent" ws://127.0.0.1:19205/bad-accept
probe_fails_with "lacks Sec-WebSocket-Accept" ws://127.0.0.1:19205/no-accept
probe_fails_with "answered with HTTP/1.0, which cannot switch protocols" ws://127.0.0.1:19205/http10
probe_fails_with "a proxy or gateway failed to reach the server" ws://127.0.0.1:19205/bad-gateway
probe_fails_with "the server's reason:" ws://127.0.0.1:19205/bad-request
probe_fails_with "selected a subprotocol the client did not offer" ws://127.0.0.1:19205/bad-subprotocol --protocol chat
probe_fails_with "the connection closed before a response" ws://127.0.0.1:19205/hangup
probe_fails_with "closed the connection without answering" ws://127.0.0.1:19205/hangup
probe_fails_with "a WAF or proxy reset the connection" ws://127.0.0.1:19205/reset-before
probe_fails_with "the response was cut off in its head" ws://127.0.0.1:19205/cut-head
probe_fails_with "no TLS handshake within 1.0 s" wss://127.0.0.1:19205/silent --timeout 1
probe_fails_with "timeout: no complete response in time" ws://127.0.0.1:19205/silent --timeout 1
probe_fails_with "cannot connect" ws://127.0.0.1:1/
# After the switch: the server's Pings answered at once, compressed frames
# inflated, and an end classified by when and how it came.
probe_ok ws://127.0.0.1:19205/heartbeat --hold 2
probe_ok ws://127.0.0.1:19205/deflate --deflate --hold 1
probe_fails_with "right after the switch" ws://127.0.0.1:19205/close-now
probe_fails_with "right after the switch" ws://127.0.0.1:19205/reset-now
probe_fails_with "after our Ping, which got no Pong" ws://127.0.0.1:19205/reset-on-frame --hold 3 --ping-every 1
probe_fails_with "a connection lifetime limit" ws://127.0.0.1:19205/lifetime --hold 4 --ping-every 0.5
# Declined answers whose cause is in what they lack or say.
probe_fails_with "stripped hop-by-hop headers" ws://127.0.0.1:19205/426-bare
probe_fails_with "stripped hop-by-hop headers" ws://127.0.0.1:19205/400-stripped
probe_fails_with "this port speaks TLS" ws://127.0.0.1:19205/https-port

# ---- every server lived through it ----
for port in "${!pid_of[@]}"; do
    kill -0 "${pid_of[$port]}" 2>/dev/null || fail "the server on 127.0.0.1:$port died during the checks"
done
if grep -l "panicked" "$LOGS"/*.log >/dev/null 2>&1; then
    fail "a server panicked: $(grep -l panicked "$LOGS"/*.log)"
fi
echo "ok: every server still running, none panicked"

passed=yes
echo "interop-ws: all checks passed ($((SECONDS - started)) s)"
