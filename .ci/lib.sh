# shellcheck shell=bash
# What the interop scripts (.ci/interop_ws.sh, proxies.sh, axum.sh, tls.sh)
# share: failing with the script's name, background servers with one log
# each, waiting for their ports, and stopping them on exit. Sourced, not
# run, from the repository's root:
#
#   CI_NAME=axum
#   . .ci/lib.sh
#
# Defines:
#   fail MESSAGE...        "$CI_NAME: FAIL: MESSAGE" on stderr, exit 1
#   ports_free PORT...     fails unless nothing listens on 127.0.0.1:PORT
#   start NAME COMMAND...  COMMAND in the background, stdout and stderr to
#                          $CI_DIR/NAME.log; its pid in pid_of[NAME] and pids
#   wait_port PORT [NAME]  until 127.0.0.1:PORT accepts (10 s), failing at
#                          once if the process pid_of[NAME] (NAME: PORT by
#                          default, when started under that name) exited
#   stop NAME              stops the process started as NAME
#   CI_DIR                 a fresh directory for the run's logs and files
#   passed                 set it to yes when every check passed
# On exit every process started is stopped; unless passed=yes, the last 30
# lines of every non-empty $CI_DIR/*.log are shown; $CI_DIR is removed.

fail() {
    echo "$CI_NAME: FAIL: $*" >&2
    exit 1
}

CI_DIR=$(mktemp -d)
pids=()
declare -A pid_of=()
passed=no
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$passed" != yes ]; then
        for log in "$CI_DIR"/*.log; do
            [ -s "$log" ] || continue
            echo "---- $(basename "$log") (last 30 lines) ----" >&2
            tail -n 30 "$log" >&2
        done
    fi
    rm -rf "$CI_DIR"
}
trap cleanup EXIT

ports_free() { # PORT...
    local port
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            fail "127.0.0.1:$port is already in use: stop whatever listens there"
        fi
    done
}

start() { # NAME COMMAND...
    local name=$1
    shift
    "$@" >"$CI_DIR/$name.log" 2>&1 &
    pids+=($!)
    pid_of[$name]=$!
}

wait_port() { # PORT [NAME]
    local port=$1 name=${2:-$1}
    for _ in $(seq 100); do
        if [ -n "${pid_of[$name]:-}" ] && ! kill -0 "${pid_of[$name]}" 2>/dev/null; then
            fail "$name (for 127.0.0.1:$port) exited at start: $(cat "$CI_DIR/$name.log" 2>/dev/null)"
        fi
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    fail "nothing listens on 127.0.0.1:$port"
}

stop() { # NAME
    local pid=${pid_of[$1]} p kept=()
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # Not killed again on exit (the pid may belong to another process by then).
    for p in "${pids[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
    pids=("${kept[@]}")
    unset "pid_of[$1]"
}
