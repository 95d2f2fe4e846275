#!/usr/bin/env python3
"""Python `websockets` (PyPI) as the client of a protoswitch echo server.

    python3 ws_client_check.py ws://127.0.0.1:PORT/PATH [--subprotocol chat]

Checks, each on the echo server at URL: a text message, a binary message, a
1 MiB binary message (must come back identical), a Ping (its Pong must
arrive), and the closing handshake with 1000 and with 4001 'bye' (the
server's Close frame must echo the code, and the connection must end
promptly). With --subprotocol NAME it also offers NAME and requires the
server to select it. Prints one `ok: ...` line per check; exits 1 with a
`FAIL: ...` line on the first failure.
"""

import os
import sys
import time

from websockets.sync.client import connect

LABEL = "python websockets"
TIMEOUT = 10.0


def fail(what):
    print(f"FAIL: {LABEL}: {what}", file=sys.stderr)
    sys.exit(1)


def open_ws(url, subprotocols=None):
    # proxy=None: never go through a proxy from the environment (the server
    # is on the loopback interface). max_size=None: the default cap is 1 MiB,
    # exactly the size of the large echo; lift it. No keepalive pings: the
    # Ping check sends its own.
    return connect(
        url,
        subprotocols=subprotocols,
        proxy=None,
        max_size=None,
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        ping_interval=None,
    )


def check_messages(url):
    with open_ws(url) as ws:
        ws.send("hello, protoswitch ✓")
        got = ws.recv(timeout=TIMEOUT)
        if got != "hello, protoswitch ✓":
            fail(f"text echo was {got!r}")
        print(f"ok: {LABEL} {url}: text echo")

        data = bytes([0, 1, 2, 250, 255])
        ws.send(data)
        got = ws.recv(timeout=TIMEOUT)
        if got != data:
            fail(f"binary echo was {got!r}")
        print(f"ok: {LABEL} {url}: binary echo")

        big = os.urandom(1 << 20)
        ws.send(big)
        got = ws.recv(timeout=TIMEOUT)
        if not isinstance(got, bytes) or got != big:
            fail(f"1 MiB echo differs (got {type(got).__name__} of {len(got)} bytes)")
        print(f"ok: {LABEL} {url}: 1 MiB binary echo identical")

        pong = ws.ping(b"probe-ping")
        if not pong.wait(TIMEOUT):
            fail("no Pong within 10 s after a Ping")
        print(f"ok: {LABEL} {url}: ping answered by pong")


def check_close(url, code, reason):
    with open_ws(url) as ws:
        started = time.monotonic()
        ws.close(code, reason)
        elapsed = time.monotonic() - started
    sent, rcvd = ws.protocol.close_sent, ws.protocol.close_rcvd
    if sent is None or sent.code != code:
        fail(f"close {code}: our Close was not sent ({sent!r})")
    if rcvd is None:
        fail(f"close {code}: no Close frame from the server ({ws.close_exc!r})")
    if rcvd.code != code:
        fail(f"close {code}: the server's Close carries {rcvd.code}")
    if ws.protocol.close_rcvd_then_sent is not False:
        fail(f"close {code}: the server closed first")
    # The server closes TCP right after its Close; a slow end means the
    # client had to wait for its own timeout. (websockets calls only
    # 1000/1001 "OK", so the code itself is not judged by close_exc.)
    if elapsed > 3.0:
        fail(f"close {code}: the connection took {elapsed:.1f} s to end")
    shown = f" {reason!r}" if reason else ""
    print(
        f"ok: {LABEL} {url}: close {code}{shown} clean, "
        f"server echoed {rcvd.code} ({elapsed * 1000:.0f} ms)"
    )


def check_subprotocol(url, name):
    with open_ws(url, subprotocols=[name]) as ws:
        if ws.subprotocol != name:
            fail(f"offered [{name!r}], negotiated {ws.subprotocol!r}")
        ws.send("with a subprotocol")
        if ws.recv(timeout=TIMEOUT) != "with a subprotocol":
            fail("echo over the negotiated subprotocol differs")
    print(f"ok: {LABEL} {url}: subprotocols=[{name!r}] -> negotiated {name!r}")


def main():
    args = sys.argv[1:]
    if not args or len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--subprotocol"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    url = args[0]
    try:
        check_messages(url)
        check_close(url, 1000, "")
        check_close(url, 4001, "bye")
        if len(args) == 3:
            check_subprotocol(url, args[2])
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - any error is a failed check
        fail(f"{url}: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
