#!/usr/bin/env bash
# Real reverse proxies in front of the examples, and what `probe` says
# about each deployment (issue 12):
#
#   bash .ci/proxies.sh
#
# nginx (Debian package) in front of upgrade_server, one server block per
# deployment:
#   19250 the documented WebSocket configuration     → probe exit 0
#   19251 without the Upgrade/Connection passthrough → exit 1, stripped headers
#   19252 proxy_http_version 1.0                     → exit 1, HTTP/1.0 hop
#   19253 proxy_read_timeout 3s                      → --hold 6: idle timeout;
#                                                      --hold 6 --ping-every 1: survives
#   19254 the documented configuration before echo_server: headless Chromium's
#         WebSocket through nginx (.ci/interop/browser_check.js)
# HAProxy (Debian package) in front of upgrade_server on 19260, `timeout
# tunnel 3s`: WebSocket and the custom token echo/1 pass; --hold 6 is
# diagnosed as an idle timeout, --ping-every 1 survives.
# upgrade_proxy (the crate's relay): in reverse mode on 19261 before
# upgrade_server (probe passes; echo/1 only with --allow), in forward mode
# on 19264 allowing upgrade_server only (probe and client --proxy pass, a
# CONNECT elsewhere gets 403); and .ci/interop/proxy_attacks.py attacks a
# reverse upgrade_proxy on 19262 (19267 allows echo/1 too) (before its own scripted upstream on 19263;
# the forward proxy 19266 allows its destination 19265) on the wire.
#
# Needs the release examples (cargo build --release --examples) and, for
# the browser, the Node/Chromium set-up of .ci/interop_ws.sh (run first).
# Every listener is on 127.0.0.1; everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/release/examples
HERE=.ci/interop
NODE_DIR="${PROTOSWITCH_NODE_DIR:-$HOME/.cache/protoswitch/node}"
CI_NAME=proxies
# shellcheck source=.ci/lib.sh
. .ci/lib.sh
for b in upgrade_server echo_server probe client upgrade_proxy; do
    [ -x "$BIN/$b" ] || fail "$BIN/$b is missing: run cargo build --release --examples"
done
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "${need[@]}" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; } ||
        fail "apt-get could not install ${need[*]}"
fi
echo "proxies: $(nginx -v 2>&1), $(haproxy -v | head -1 | cut -d' ' -f1-3)"

WORK=$CI_DIR
ports_free 19249 19248 19250 19251 19252 19253 19254 19260 19261 19262 19263 19264 19265 19266 19267

start upgrade_server "$BIN/upgrade_server" 127.0.0.1:19249
start echo_server "$BIN/echo_server" 127.0.0.1:19248

# ---- nginx ----
mkdir -p "$WORK/nginx/tmp"
documented='proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";'
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    # (a) the documented WebSocket proxy configuration
    server {
        listen 127.0.0.1:19250;
        location / { proxy_pass http://127.0.0.1:19249; $documented }
    }
    # (b) the same without the Upgrade/Connection passthrough
    server {
        listen 127.0.0.1:19251;
        location / { proxy_pass http://127.0.0.1:19249; proxy_http_version 1.1; }
    }
    # (c) the headers passed, but HTTP/1.0 to the upstream
    server {
        listen 127.0.0.1:19252;
        location / {
            proxy_pass http://127.0.0.1:19249;
            proxy_http_version 1.0;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
        }
    }
    # (d) documented, but an upgraded connection silent for 3 s is closed
    server {
        listen 127.0.0.1:19253;
        location / { proxy_pass http://127.0.0.1:19249; $documented proxy_read_timeout 3s; }
    }
    # (a) for the browser: echo_server's page and /echo
    server {
        listen 127.0.0.1:19254;
        location / { proxy_pass http://127.0.0.1:19248; $documented }
    }
}
EOF
nginx -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx-t.log" 2>&1 ||
    fail "nginx -t: $(cat "$WORK/nginx-t.log")"
start nginx-main nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;'

# ---- HAProxy ----
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 256
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    # An upgraded connection silent for 3 s is closed.
    timeout tunnel 3s
frontend upgrades
    bind 127.0.0.1:19260
    default_backend app
backend app
    server upgrade_server 127.0.0.1:19249
EOF
haproxy -c -f "$WORK/haproxy.cfg" >"$WORK/haproxy-c.log" 2>&1 || fail "haproxy -c: $(cat "$WORK/haproxy-c.log")"
start haproxy haproxy -db -f "$WORK/haproxy.cfg"

# ---- upgrade_proxy ----
start upgrade_proxy-reverse "$BIN/upgrade_proxy" 127.0.0.1:19261 127.0.0.1:19249
start upgrade_proxy-echo "$BIN/upgrade_proxy" 127.0.0.1:19267 127.0.0.1:19249 --allow echo/1
start upgrade_proxy-forward "$BIN/upgrade_proxy" 127.0.0.1:19264 --forward 127.0.0.1:19249
start upgrade_proxy-attacked "$BIN/upgrade_proxy" 127.0.0.1:19262 127.0.0.1:19263
start upgrade_proxy-attacked-forward "$BIN/upgrade_proxy" 127.0.0.1:19266 --forward 127.0.0.1:19265

for port in 19249 19248 19250 19251 19252 19253 19254 19260 19261 19262 19264 19266 19267; do wait_port "$port"; done

# probe_expect EXIT 'VERDICT text' ARGS...: runs probe, checks its exit
# status and that its VERDICT line contains the text; prints the line.
probe_expect() {
    local want_rc=$1 want=$2 out rc=0 line
    shift 2
    out=$("$BIN/probe" "$@" 2>&1) || rc=$?
    line=$(grep -m1 'VERDICT:' <<<"$out" | sed 's/^ *//') || true
    [ "$rc" = "$want_rc" ] || fail "probe $*: exit $rc, expected $want_rc:
$out"
    grep -qF -- "$want" <<<"$line" || fail "probe $*: expected '$want' in the verdict:
$out"
    echo "ok: probe $* → exit $rc; $line"
}

echo "== nginx"
probe_expect 0 "the upgrade works" ws://127.0.0.1:19250/ws
probe_expect 0 "the upgrade works" ws://127.0.0.1:19250/ws --deflate --protocol chat
probe_expect 1 "stripped hop-by-hop headers" ws://127.0.0.1:19251/ws
probe_expect 1 "an HTTP/1.0 hop" ws://127.0.0.1:19252/ws
probe_expect 1 "an idle timeout" ws://127.0.0.1:19253/ws --hold 6
probe_expect 0 "Pings every 1.0 s keep the connection open" ws://127.0.0.1:19253/ws --hold 6 --ping-every 1
if [ -d "$NODE_DIR/node_modules/playwright-core" ] && command -v chromium >/dev/null 2>&1; then
    NODE_PATH="$NODE_DIR/node_modules" node "$HERE/browser_check.js" http://127.0.0.1:19254/ "$(command -v chromium)" ||
        fail "chromium → nginx → echo_server"
else
    fail "Node's playwright-core or chromium is missing: run .ci/interop_ws.sh first"
fi

echo "== HAProxy"
probe_expect 0 "the upgrade works" ws://127.0.0.1:19260/ws
probe_expect 0 "the upgrade works" ws://127.0.0.1:19260/any --upgrade echo/1
probe_expect 1 "an idle timeout" ws://127.0.0.1:19260/ws --hold 6
probe_expect 0 "Pings every 1.0 s keep the connection open" ws://127.0.0.1:19260/ws --hold 6 --ping-every 1

echo "== upgrade_proxy"
probe_expect 0 "the upgrade works" ws://127.0.0.1:19261/ws --deflate
# echo/1 is not in the reverse proxy's allowlist: the upgrade is dropped
# and upgrade_server's 426 says the request arrived without Upgrade
# (Protoswitch-Missing-Upgrade: no-upgrade, which probe reads).
probe_expect 1 "stripped hop-by-hop headers" ws://127.0.0.1:19261/ws --upgrade echo/1
probe_expect 0 "the upgrade works" ws://127.0.0.1:19267/any --upgrade echo/1
probe_expect 0 "the upgrade works" ws://127.0.0.1:19249/ws --proxy http://127.0.0.1:19264
probe_expect 1 "the proxy does not allow tunnels to 127.0.0.1:19248 (403)" ws://127.0.0.1:19248/echo --proxy http://127.0.0.1:19264
out=$(printf 'through the tunnel\n' | "$BIN/client" ws://127.0.0.1:19249/ws --proxy http://127.0.0.1:19264 2>&1) ||
    fail "client --proxy: $out"
grep -qx "through the tunnel" <<<"$out" || fail "client --proxy: no echo in: $out"
echo "ok: client --proxy http://127.0.0.1:19264 → a line echoed through the CONNECT tunnel"
python3 "$HERE/proxy_attacks.py" 19262 19263 19266 19265 || fail "attacks on upgrade_proxy"

for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null || fail "a server or proxy exited during the run"
done
passed=yes
echo "proxies: all checks passed"
