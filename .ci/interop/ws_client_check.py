#!/usr/bin/env python3
"""Python `websockets` (PyPI) as the client of a protoswitch echo server.

    python3 ws_client_check.py ws://127.0.0.1:PORT/PATH [--subprotocol chat]
    python3 ws_client_check.py ws://127.0.0.1:PORT/PATH --deflate OFFER

Checks, each on the echo server at URL: a text message, a binary message, a
1 MiB binary message (must come back identical), a Ping (its Pong must
arrive), and the closing handshake with 1000 and with 4001 'bye' (the
server's Close frame must echo the code, and the connection must end
promptly). With --subprotocol NAME it also offers NAME and requires the
server to select it. Prints one `ok: ...` line per check; exits 1 with a
`FAIL: ...` line on the first failure.

With --deflate OFFER it checks permessage-deflate (RFC 7692) instead, on one
connection: the client offers OFFER — `default` (what websockets offers on
its own: `permessage-deflate; client_max_window_bits`) or
`no-context-takeover` (both `*_no_context_takeover` parameters too) — and
the server's 101 must agree to permessage-deflate with the parameters
asked for. Then text, binary, random 1 MiB, compressible 1 MiB text and
binary, 40 similar small JSON messages (the shared window at work), and a
text and a binary message the client sends in fragments (an iterable:
websockets makes one frame of each item) must all echo intact. Whether the
frames really went compressed is for the wire: run it through ws_tap.py.
"""

import json
import os
import sys
import time

from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect

LABEL = "python websockets"
TIMEOUT = 10.0


def fail(what):
    print(f"FAIL: {LABEL}: {what}", file=sys.stderr)
    sys.exit(1)


def open_ws(url, subprotocols=None, **more):
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
        **more,
    )


def compressible(size):
    """`size` bytes of JSON-like text: deflate shrinks it ten times or more."""
    rows, n = [], 0
    while n < size:
        row = json.dumps({"id": len(rows), "user": f"user{len(rows) % 97}", "active": len(rows) % 3 == 0,
                          "tags": ["alpha", "beta", "gamma"][: len(rows) % 4]})
        rows.append(row)
        n += len(row) + 1
    return "\n".join(rows)[:size]


def check_deflate(url, offer):
    if offer == "default":
        # compression="deflate" is websockets' default: its own offer.
        more, want = {}, {}
    elif offer == "no-context-takeover":
        more = {
            "compression": None,
            "extensions": [ClientPerMessageDeflateFactory(
                server_no_context_takeover=True, client_no_context_takeover=True,
                compress_settings={"memLevel": 5})],
        }
        want = {"server_no_context_takeover": True, "client_no_context_takeover": True}
    else:
        fail(f"unknown --deflate offer {offer!r}")
    with open_ws(url, **more) as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions")
        if not agreed or not agreed.startswith("permessage-deflate"):
            fail(f"offer {offer}: the 101 agreed to {agreed!r}, not permessage-deflate")
        names = [e.name for e in ws.protocol.extensions]
        if names != ["permessage-deflate"]:
            fail(f"offer {offer}: websockets runs the extensions {names}")
        for key in want:
            if key not in agreed:
                fail(f"offer {offer}: the 101 ({agreed!r}) lacks {key}")
        print(f"ok: {LABEL} {url}: offer {offer}: 101 agreed {agreed!r}")

        def echo(what, data):
            ws.send(data)
            got = ws.recv(timeout=TIMEOUT)
            joined = data if isinstance(data, (str, bytes)) else type(data[0])().join(data)
            if type(got) is not type(joined) or got != joined:
                fail(f"offer {offer}: {what}: echo differs "
                     f"(sent {type(joined).__name__} of {len(joined)}, got {type(got).__name__} of {len(got)})")

        echo("text", "hello, compressed ✓")
        echo("binary", bytes([0, 1, 2, 250, 255]))
        print(f"ok: {LABEL} {url}: offer {offer}: text and binary echo")
        echo("random 1 MiB", os.urandom(1 << 20))
        text = compressible(1 << 20)
        echo("compressible 1 MiB text", text)
        echo("compressible 1 MiB binary", text.encode())
        print(f"ok: {LABEL} {url}: offer {offer}: 1 MiB random, text and binary echo identical")
        for i in range(40):
            echo(f"small JSON {i}", json.dumps({"seq": i, "event": "tick", "payload": "x" * (i % 7)}))
        window = "shared window" if offer == "default" else "a fresh window each"
        print(f"ok: {LABEL} {url}: offer {offer}: 40 small JSON messages echo ({window})")
        chunk = compressible(64 * 1024)
        echo("fragmented text", [chunk, "✓ middle ✓", chunk])
        echo("fragmented binary", [chunk.encode(), b"", os.urandom(1000), chunk.encode()])
        print(f"ok: {LABEL} {url}: offer {offer}: text in 3 fragments and binary in 4 echo intact")


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
    if len(args) == 3 and args[1] == "--deflate":
        try:
            check_deflate(args[0], args[2])
        except SystemExit:
            raise
        except Exception as e:  # noqa: BLE001 - any error is a failed check
            fail(f"{args[0]}: {type(e).__name__}: {e}")
        return
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
