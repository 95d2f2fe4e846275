#!/usr/bin/env bash
# Autobahn|Testsuite conformance runs for protoswitch's WebSocket examples.
#
#   bash .ci/autobahn.sh [server|client|all]        (default: all)
#
#   server: wstest -m fuzzingclient (Autobahn is the client) against our
#           target/release/examples/echo_server 127.0.0.1:9001
#   client: wstest -m fuzzingserver on ws://127.0.0.1:9002 (Autobahn is the
#           server) against our target/release/examples/autobahn_client
#
# The caller builds the examples first:
#   cargo build --release --example echo_server --example autobahn_client
#
# The script installs wstest itself (idempotent): a Python 2.7 virtualenv,
# cached outside the repository, from .ci/autobahn/requirements-py27.txt.
# Every listener stays on 127.0.0.1 (.ci/autobahn/wstest_local.py) and the
# wstest web UI is off.
#
# Reports: target/autobahn/servers and target/autobahn/clients (index.html,
# index.json). Graded by .ci/autobahn/summarize.py, which writes the per-case
# summaries .ci/autobahn/summary-server.txt and summary-client.txt (committed,
# so that regressions show in review). Exit status non-zero on any miss.
#
# Environment:
#   AUTOBAHN_CASES        case patterns, comma separated (default '*'), e.g.
#                         '1.*,2.*' for a quick run. A narrowed run writes its
#                         summaries under target/autobahn/, not .ci/autobahn/.
#   AUTOBAHN_SUMMARY_DIR  where summary-{server,client}.txt go (overrides the above)
#   AUTOBAHN_VENV         the wstest virtualenv
#                         (default $HOME/.cache/protoswitch/autobahn-venv)
#   AUTOBAHN_PYTHON27     the Python 2.7 interpreter to build it from
#                         (default: pyenv's 2.7.18, else python2.7 on PATH)
#   AUTOBAHN_OUT          work and report directory (default target/autobahn)
#   AUTOBAHN_TIMEOUT      seconds allowed for one mode's run (default 2400)
#   AUTOBAHN_SERVER_BIN / AUTOBAHN_CLIENT_BIN   the binaries under test
#   AUTOBAHN_SERVER_PORT / AUTOBAHN_FUZZ_PORT   9001 / 9002
#   AUTOBAHN_SERIAL       1: with 'all', run the roles one after the other
#                         (default: in parallel, one wstest per core)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/.ci/autobahn"
HOST=127.0.0.1
AGENT=protoswitch

WHAT="${1:-all}"
case "$WHAT" in
    server | client | all) ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "usage: $0 [server|client|all]" >&2
        exit 2
        ;;
esac

VENV="${AUTOBAHN_VENV:-$HOME/.cache/protoswitch/autobahn-venv}"
VENV="${VENV%/}"
BOOT="$VENV-virtualenv-tool" # Python 3 venv holding virtualenv<20.22
VIRTUALENV_PIN='virtualenv==20.21.1' # the last virtualenv that creates 2.7 envs
OUT="${AUTOBAHN_OUT:-$ROOT/target/autobahn}"
CASES="${AUTOBAHN_CASES:-*}"
TIMEOUT="${AUTOBAHN_TIMEOUT:-2400}"
SERVER_BIN="${AUTOBAHN_SERVER_BIN:-$ROOT/target/release/examples/echo_server}"
CLIENT_BIN="${AUTOBAHN_CLIENT_BIN:-$ROOT/target/release/examples/autobahn_client}"
SERVER_PORT="${AUTOBAHN_SERVER_PORT:-9001}"
FUZZ_PORT="${AUTOBAHN_FUZZ_PORT:-9002}"
if [[ -n "${AUTOBAHN_SUMMARY_DIR:-}" ]]; then
    SUMMARY_DIR="$AUTOBAHN_SUMMARY_DIR"
elif [[ "$CASES" == "*" ]]; then
    SUMMARY_DIR="$HERE"
else
    SUMMARY_DIR="$OUT"
fi

say() { printf 'autobahn: %s\n' "$*"; }
die() {
    printf 'autobahn: ERROR: %s\n' "$*" >&2
    exit 1
}

PIDS=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v python3 >/dev/null || die "python3 is needed (summaries, virtualenv bootstrap)"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"
command -v ss >/dev/null || die "ss (iproute2) is needed to check the listeners: apt-get install iproute2"

# ---- installation -------------------------------------------------------------

find_python27() {
    local cand=()
    [[ -n "${AUTOBAHN_PYTHON27:-}" ]] && cand+=("$AUTOBAHN_PYTHON27")
    if command -v pyenv >/dev/null 2>&1; then
        cand+=("$(pyenv root)/versions/2.7.18/bin/python")
    fi
    cand+=("$HOME/.pyenv/versions/2.7.18/bin/python")
    command -v python2.7 >/dev/null 2>&1 && cand+=("$(command -v python2.7)")
    local p
    for p in "${cand[@]}"; do
        if [[ -x "$p" ]] && "$p" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

wstest_version() {
    "$VENV/bin/python" "$HERE/wstest_local.py" -a 2>/dev/null | paste -sd' ' -
}

install_wstest() {
    local py27 stamp want t0
    if ! py27="$(find_python27)"; then
        cat >&2 <<'EOF'
autobahn: ERROR: Python 2.7 not found; Autobahn|Testsuite (wstest) runs only on Python 2.7.
  Looked at: $AUTOBAHN_PYTHON27, $(pyenv root)/versions/2.7.18/bin/python,
  ~/.pyenv/versions/2.7.18/bin/python, python2.7 on PATH.
  Install it, e.g. with pyenv:
      pyenv install 2.7.18
  (needs build deps: apt-get install build-essential libssl-dev zlib1g-dev
   libbz2-dev libreadline-dev libsqlite3-dev libffi-dev)
  or point AUTOBAHN_PYTHON27 at an existing 2.7 interpreter.
EOF
        exit 1
    fi
    want="$(sha256sum <"$HERE/requirements-py27.txt" | cut -d' ' -f1) $VIRTUALENV_PIN $py27"
    stamp="$VENV/.protoswitch-autobahn-stamp"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
        "$VENV/bin/python" -c 'import autobahntestsuite.wstest' >/dev/null 2>&1; then
        say "wstest: using $VENV ($(wstest_version))"
        return 0
    fi

    t0=$(date +%s)
    say "installing wstest into $VENV (from $py27)"
    mkdir -p "$(dirname "$VENV")"
    local log
    log="$(dirname "$VENV")/autobahn-install.log"
    : >"$log"
    # Each step on its own: errexit does not apply inside a `{ } || ...` list.
    step() {
        "$@" >>"$log" 2>&1 || {
            tail -n 40 "$log" >&2
            die "wstest installation failed at: $* (full log: $log)"
        }
    }
    if ! "$BOOT/bin/python" -c 'import virtualenv' >/dev/null 2>&1 ||
        [[ "$("$BOOT/bin/python" -c 'import virtualenv; print(virtualenv.__version__)')" != "${VIRTUALENV_PIN#virtualenv==}" ]]; then
        rm -rf "$BOOT"
        step python3 -m venv "$BOOT"
        step "$BOOT/bin/python" -m pip install "$VIRTUALENV_PIN"
    fi
    rm -rf "$VENV"
    step "$BOOT/bin/python" -m virtualenv --no-periodic-update -p "$py27" "$VENV"
    step "$VENV/bin/pip" install --no-python-version-warning --no-deps -r "$HERE/requirements-py27.txt"
    step "$VENV/bin/pip" check --no-python-version-warning
    step "$VENV/bin/python" -c 'import autobahntestsuite.wstest, autobahntestsuite.fuzzing, automat, twisted.application.internet, wsaccel.utf8validator, wsaccel.xormask, ujson, OpenSSL.SSL'
    echo "$want" >"$stamp"
    say "wstest installed in $(($(date +%s) - t0)) s: $(wstest_version)"
}

# ---- helpers ------------------------------------------------------------------

# Listening TCP sockets on a port (ss prints nothing when there is none).
listeners_on_port() { ss -ltnH "sport = :$1" 2>/dev/null || true; }

# Waits until process $1 listens on port $2 (at most $3 s).
wait_listening() {
    local pid=$1 port=$2 secs=$3 i
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        [[ -n "$(listeners_on_port "$port")" ]] && return 0
        sleep 0.1
    done
    return 1
}

# Fails unless every listening socket of process $1 is on 127.0.0.1.
check_loopback_only() {
    local pid=$1 name=$2 addrs bad
    addrs="$(ss -ltnpH 2>/dev/null | awk -v p="pid=$pid," 'index($0, p) { print $4 }' | sort -u)"
    [[ -n "$addrs" ]] || die "$name (pid $pid): no listening socket seen by 'ss -ltnp'"
    bad="$(grep -v '^127\.0\.0\.1:' <<<"$addrs" || true)"
    [[ -z "$bad" ]] || die "$name (pid $pid) listens outside 127.0.0.1: $(tr '\n' ' ' <<<"$bad")"
    say "$name listeners: $(tr '\n' ' ' <<<"$addrs")(loopback only)"
}

port_must_be_free() {
    [[ -z "$(listeners_on_port "$1")" ]] ||
        die "port $1 is already in use (ss: $(listeners_on_port "$1")); stop what listens there"
}

# JSON list of the AUTOBAHN_CASES patterns.
cases_json() {
    python3 -c 'import json, sys; print(json.dumps([c.strip() for c in sys.argv[1].split(",") if c.strip()]))' "$CASES"
}

# Writes the expected case ids of spec $1 to $2.
list_cases() {
    "$VENV/bin/python" "$HERE/wstest_local.py" --list-cases "$1" >"$2" 2>"$2.err" ||
        die "cannot resolve the cases of $1: $(cat "$2.err")"
    [[ -s "$2" ]] || die "AUTOBAHN_CASES='$CASES' selects no case"
}

# run_bounded LOG CMD...: runs CMD under AUTOBAHN_TIMEOUT, output to LOG;
# returns its exit status (124: timed out). In the background plus `wait`,
# so that INT/TERM reach the traps (and the cleanup) at once.
run_bounded() {
    local log=$1 p rc=0
    shift
    timeout -k 10 "$TIMEOUT" "$@" >"$log" 2>&1 &
    p=$!
    PIDS+=("$p")
    wait "$p" || rc=$?
    return "$rc"
}

show_log() {
    [[ -s "$2" ]] || return 0
    echo "---- $1 (last 30 lines of $2) ----" >&2
    tail -n 30 "$2" >&2
}

TOTAL_PASSED=0
TOTAL_FAILED=0
STATUS=0

# No report at all: every expected case of role $1 is a miss.
no_report() {
    local role=$1 why=$2 expect=$3 n
    n=$(wc -l <"$expect")
    say "$role: no report ($why)"
    echo "$role: 0 passed, $n failed"
    TOTAL_FAILED=$((TOTAL_FAILED + n))
    STATUS=1
}

# Runs summarize.py; adds its counts to the totals.
summarize() {
    local role=$1 index=$2 expect=$3 out rc=0 line
    mkdir -p "$SUMMARY_DIR"
    out="$(python3 "$HERE/summarize.py" --role "$role" --agent "$AGENT" \
        --expect-cases "$expect" "$index" "$SUMMARY_DIR/summary-$role.txt")" || rc=$?
    [[ -n "$out" ]] && printf '%s\n' "$out"
    line="$(tail -n 1 <<<"$out")"
    if [[ $rc -le 1 && "$line" =~ ^$role:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
        TOTAL_PASSED=$((TOTAL_PASSED + BASH_REMATCH[1]))
        TOTAL_FAILED=$((TOTAL_FAILED + BASH_REMATCH[2]))
        say "$role: per-case summary in ${SUMMARY_DIR#"$ROOT"/}/summary-$role.txt, report ${index%/*}/index.html"
    else
        no_report "$role" "summarize.py could not read $index" "$expect"
    fi
    [[ $rc -eq 0 ]] || STATUS=1
}

# ---- server: Autobahn fuzzingclient against our echo_server -------------------

run_server() {
    local dir="$OUT/servers" spec="$OUT/fuzzingclient.json" expect="$OUT/cases-server.txt"
    local log="$OUT/fuzzingclient.log" srvlog="$OUT/echo_server.log" pid rc=0 t0
    say "== server: wstest fuzzingclient -> $SERVER_BIN $HOST:$SERVER_PORT (cases: $CASES)"
    [[ -x "$SERVER_BIN" ]] ||
        die "$SERVER_BIN is missing: run 'cargo build --release --example echo_server --example autobahn_client' first"
    port_must_be_free "$SERVER_PORT"
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 - "$spec" "$dir" "ws://$HOST:$SERVER_PORT" "$(cases_json)" <<'EOF'
import json, sys
path, outdir, url, cases = sys.argv[1:]
spec = {
    "outdir": outdir,
    "servers": [{"agent": "protoswitch", "url": url}],
    "cases": json.loads(cases),
    "exclude-cases": [],
    "exclude-agent-cases": {},
}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
EOF
    list_cases "$spec" "$expect"
    say "server: $(wc -l <"$expect") cases"

    "$SERVER_BIN" "$HOST:$SERVER_PORT" >"$srvlog" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_listening "$pid" "$SERVER_PORT" 10 || {
        show_log "echo_server" "$srvlog"
        die "echo_server did not listen on $HOST:$SERVER_PORT within 10 s"
    }
    check_loopback_only "$pid" echo_server

    t0=$(date +%s)
    run_bounded "$log" "$VENV/bin/python" "$HERE/wstest_local.py" -m fuzzingclient -s "$spec" || rc=$?
    say "server: wstest fuzzingclient ran $(($(date +%s) - t0)) s (exit $rc)"
    if [[ $rc -eq 124 ]]; then
        show_log "wstest fuzzingclient" "$log"
        say "server: wstest did not finish within AUTOBAHN_TIMEOUT=$TIMEOUT s"
    elif [[ $rc -ne 0 ]]; then
        show_log "wstest fuzzingclient" "$log"
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        show_log "echo_server" "$srvlog"
        say "server: echo_server exited during the run"
        STATUS=1
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true

    if [[ -f "$dir/index.json" ]]; then
        summarize server "$dir/index.json" "$expect"
    else
        [[ $rc -eq 0 ]] && show_log "wstest fuzzingclient" "$log"
        no_report server "$dir/index.json missing" "$expect"
    fi
}

# ---- client: Autobahn fuzzingserver against our autobahn_client ----------------

run_client() {
    local dir="$OUT/clients" spec="$OUT/fuzzingserver.json" expect="$OUT/cases-client.txt"
    local log="$OUT/fuzzingserver.log" clog="$OUT/autobahn_client.log" pid rc=0 t0
    say "== client: $CLIENT_BIN -> wstest fuzzingserver ws://$HOST:$FUZZ_PORT (cases: $CASES)"
    [[ -x "$CLIENT_BIN" ]] ||
        die "$CLIENT_BIN is missing: run 'cargo build --release --example echo_server --example autobahn_client' first"
    port_must_be_free "$FUZZ_PORT"
    rm -rf "$dir"
    mkdir -p "$dir"
    python3 - "$spec" "$dir" "ws://$HOST:$FUZZ_PORT" "$(cases_json)" <<'EOF'
import json, sys
path, outdir, url, cases = sys.argv[1:]
spec = {
    "url": url,
    "outdir": outdir,
    "cases": json.loads(cases),
    "exclude-cases": [],
    "exclude-agent-cases": {},
}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
EOF
    list_cases "$spec" "$expect"
    say "client: $(wc -l <"$expect") cases"

    (cd "$OUT" && exec "$VENV/bin/python" "$HERE/wstest_local.py" -m fuzzingserver -s "$spec" --webport 0) >"$log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_listening "$pid" "$FUZZ_PORT" 30 || {
        show_log "wstest fuzzingserver" "$log"
        die "wstest fuzzingserver did not listen on $HOST:$FUZZ_PORT within 30 s"
    }
    check_loopback_only "$pid" "wstest fuzzingserver"

    t0=$(date +%s)
    run_bounded "$clog" "$CLIENT_BIN" "ws://$HOST:$FUZZ_PORT" || rc=$?
    say "client: autobahn_client ran $(($(date +%s) - t0)) s (exit $rc)"
    if [[ $rc -ne 0 ]]; then
        show_log "autobahn_client" "$clog"
        [[ $rc -eq 124 ]] && say "client: autobahn_client did not finish within AUTOBAHN_TIMEOUT=$TIMEOUT s"
        STATUS=1
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        show_log "wstest fuzzingserver" "$log"
        say "client: wstest fuzzingserver exited during the run"
        STATUS=1
    elif [[ ! -f "$dir/index.json" ]]; then
        # The client stopped without /updateReports: grade what it did run.
        say "client: the client did not call /updateReports; asking wstest for the reports of the cases run"
        STATUS=1
        python3 "$HERE/update_reports.py" "ws://$HOST:$FUZZ_PORT" "$AGENT" || true
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true

    if [[ -f "$dir/index.json" ]]; then
        summarize client "$dir/index.json" "$expect"
    else
        show_log "wstest fuzzingserver" "$log"
        no_report client "$dir/index.json missing: did the client call /updateReports?" "$expect"
    fi
}

# ---- main ---------------------------------------------------------------------

START=$(date +%s)
mkdir -p "$OUT"
install_wstest
case "$WHAT" in
    server) run_server ;;
    client) run_client ;;
    all) if [[ "${AUTOBAHN_SERIAL:-0}" == 1 ]]; then
        run_server
        run_client
    else
        # The two roles in parallel (one wstest process each, CPU-bound;
        # separate ports and files), each a run of this script; their
        # outputs are shown in order, and their counts added up.
        "${BASH_SOURCE[0]}" server >"$OUT/run-server.txt" 2>&1 &
        server_pid=$!
        PIDS+=("$server_pid")
        client_rc=0
        "${BASH_SOURCE[0]}" client >"$OUT/run-client.txt" 2>&1 || client_rc=$?
        server_rc=0
        wait "$server_pid" || server_rc=$?
        for role in server client; do
            cat "$OUT/run-$role.txt"
            line="$(grep -E "^$role: [0-9]+ passed, [0-9]+ failed$" "$OUT/run-$role.txt" | tail -n 1 || true)"
            if [[ "$line" =~ ^$role:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
                TOTAL_PASSED=$((TOTAL_PASSED + BASH_REMATCH[1]))
                TOTAL_FAILED=$((TOTAL_FAILED + BASH_REMATCH[2]))
            else
                say "$role: no count in its output"
                STATUS=1
            fi
        done
        [[ $server_rc -eq 0 && $client_rc -eq 0 ]] || STATUS=1
    fi ;;
esac
say "done in $(($(date +%s) - START)) s; reports in ${OUT#"$ROOT"/}/{servers,clients}/index.html"
if [[ "$WHAT" == all ]]; then
    echo "autobahn: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
fi
exit "$STATUS"
