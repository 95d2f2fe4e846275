#!/usr/bin/env python3
"""Attacks on upgrade_proxy, asserted on the wire (issue 12).

    python3 proxy_attacks.py REVERSE_PROXY_PORT UPSTREAM_PORT FORWARD_PROXY_PORT DEST_PORT

upgrade_proxy runs in reverse mode on REVERSE_PROXY_PORT in front of
127.0.0.1:UPSTREAM_PORT, and in forward mode on FORWARD_PROXY_PORT allowing
only 127.0.0.1:DEST_PORT. This script plays the upstream (a scripted raw
server recording every byte it receives), the allowed destination, and the
attacking client. Each scenario prints one `ok:` line; the first failure
exits 1 with `FAIL:`.
"""

import base64
import hashlib
import socket
import sys
import threading
import time

REVERSE, UPSTREAM, FORWARD, DEST = (int(p) for p in sys.argv[1:5])
TIMEOUT = 5.0
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = base64.b64encode(hashlib.sha1((KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
WS_REQUEST = (
    "GET /chat HTTP/1.1\r\nHost: app\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()
SMUGGLED = b"GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n"


def fail(why):
    print(f"FAIL: {why}")
    sys.exit(1)


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def read_all(conn, quiet=0.5):
    """Everything until the peer closes, or `quiet` seconds of silence."""
    conn.settimeout(quiet)
    data = b""
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


class Server:
    """A listener that runs the next scripted handler for each connection
    and records what every connection received."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.handlers = []
        self.received = []
        self.connections = 0
        self.done = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def expect(self, handler):
        self.handlers.append(handler)
        self.done.clear()

    def serve(self):
        while True:
            conn, _ = self.sock.accept()
            self.connections += 1
            conn.settimeout(TIMEOUT)
            handler = self.handlers.pop(0) if self.handlers else (lambda c, r: None)
            record = bytearray()
            self.received.append(record)
            try:
                handler(conn, record)
            except OSError:
                pass
            finally:
                conn.close()
                self.done.set()


def answer(response, then_read=True):
    """A handler: read the request head, send `response`, then record
    whatever else arrives until the proxy closes."""

    def handler(conn, record):
        record += read_head(conn)
        conn.sendall(response)
        if then_read:
            record += read_all(conn)

    return handler


def client(port, data, quiet=1.0):
    c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    c.sendall(data)
    got = read_all(c, quiet)
    c.close()
    return got


upstream = Server(UPSTREAM)
dest = Server(DEST)


def last_upstream():
    if not upstream.done.wait(TIMEOUT):
        fail("the upstream's handler did not finish")
    return bytes(upstream.received[-1])


def headers_of(raw):
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return [line.split(":", 1)[0].strip().lower() for line in head.split("\r\n")[1:]]


# 1. h2c smuggling: the upgrade to h2c (not allowed) never reaches the
#    upstream, nor the HTTP/2 preface the client sends after it.
upstream.expect(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
got = client(
    REVERSE,
    b"GET / HTTP/1.1\r\nHost: app\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\n\r\n" + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
)
seen = last_upstream()
names = headers_of(seen)
if "upgrade" in names or "http2-settings" in names or b"PRI *" in seen:
    fail(f"h2c smuggling: the upstream saw {seen!r}")
if not got.startswith(b"HTTP/1.1 200"):
    fail(f"h2c smuggling: the client got {got!r}")
print("ok: h2c smuggling: the upstream got a plain GET without Upgrade/HTTP2-Settings, and never the HTTP/2 preface")

# 2. The upstream declines a WebSocket upgrade (426, 200, 401): no tunnel,
#    and the request the client sends right after is never forwarded.
for status, response in [
    (426, b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n"),
    (200, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
    (401, b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n\r\nno\n"),
]:
    upstream.expect(answer(response))
    got = client(REVERSE, WS_REQUEST + SMUGGLED)
    seen = last_upstream()
    if b"/admin" in seen or seen.count(b"HTTP/1.1\r\n") != 1:
        fail(f"declined {status}: the upstream saw {seen!r}")
    if not got.startswith(b"HTTP/1.1 %d" % status) or b"/admin" in got:
        fail(f"declined {status}: the client got {got!r}")
    print(f"ok: upstream {status} to an upgrade: relayed, no tunnel, the smuggled request after it never reached the upstream")

# 3. A 101 to a request that did not ask to upgrade: 502, both closed.
upstream.expect(answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
got = client(REVERSE, b"GET / HTTP/1.1\r\nHost: app\r\n\r\n" + SMUGGLED)
seen = last_upstream()
if not got.startswith(b"HTTP/1.1 502") or b"/admin" in seen:
    fail(f"unrequested 101: the client got {got!r}, the upstream saw {seen!r}")
print("ok: a 101 to a request without Upgrade: the client got 502, nothing more reached the upstream")

# 4. A 101 with the wrong accept key: 502.
upstream.expect(answer(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n"))
got = client(REVERSE, WS_REQUEST + b"\x81\x80\x00\x00\x00\x00")
seen = last_upstream()
if not got.startswith(b"HTTP/1.1 502") or b"\x81\x80" in seen:
    fail(f"wrong accept key: the client got {got!r}, the upstream saw {seen!r}")
print("ok: a 101 with a wrong Sec-WebSocket-Accept: 502, the client's frame never reached the upstream")

# 5. Client bytes right after the upgrade head are held until the 101.
def slow_switch(conn, record):
    record += read_head(conn)
    # Nothing else may arrive while the upgrade is undecided.
    early = read_all(conn, quiet=0.5)
    if early:
        record += b"<EARLY>" + early
    conn.sendall(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 f"Sec-WebSocket-Accept: {ACCEPT}\r\n\r\n".encode())
    conn.settimeout(TIMEOUT)
    frame = b""
    while len(frame) < 6:
        chunk = conn.recv(6 - len(frame))
        if not chunk:
            break
        frame += chunk
    record += frame
    conn.sendall(b"\x81\x02hi")


upstream.expect(slow_switch)
c = socket.create_connection(("127.0.0.1", REVERSE), timeout=TIMEOUT)
c.sendall(WS_REQUEST + b"\x81\x80\x00\x00\x00\x00")
got = read_all(c, quiet=1.5)
c.close()
seen = last_upstream()
if b"<EARLY>" in seen or not seen.endswith(b"\x81\x80\x00\x00\x00\x00"):
    fail(f"early client bytes: the upstream saw {seen!r}")
if not got.startswith(b"HTTP/1.1 101") or not got.endswith(b"\x81\x02hi"):
    fail(f"early client bytes: the client got {got!r}")
print("ok: a frame sent right after the upgrade head reached the upstream only after its 101; the tunnel then works both ways")

# 6. Connection-nominated and hop-by-hop fields are removed.
upstream.expect(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: X-Internal\r\nX-Internal: 1\r\n\r\n"))
got = client(
    REVERSE,
    b"GET / HTTP/1.1\r\nHost: app\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n"
    b"Proxy-Authorization: Basic dTpw\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n",
)
names = headers_of(last_upstream())
for gone in ["x-secret", "keep-alive", "proxy-authorization", "te"]:
    if gone in names:
        fail(f"hop-by-hop: the upstream saw {gone}: {names}")
if "x-kept" not in names or "x-internal" in headers_of(got):
    fail(f"hop-by-hop: upstream {names}, client {got!r}")
print("ok: Connection-nominated (X-Secret, X-Internal) and hop-by-hop fields removed both ways; X-Kept forwarded")

# 7. Forward mode: CONNECT outside the allowlist is refused and never
#    reaches anything; inside it, a tunnel.
before = dest.connections
# The same listening destination under another name is not allowed.
got = client(FORWARD, b"CONNECT localhost:%d HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % (DEST, DEST))
if not got.startswith(b"HTTP/1.1 403") or b"Connection: close" not in got or dest.connections != before:
    fail(f"CONNECT outside the allowlist: {got!r} ({dest.connections - before} connections made)")
got = client(FORWARD, b"GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: x\r\n\r\n" % DEST)
if not got.startswith(b"HTTP/1.1 405") or dest.connections != before:
    fail(f"GET through the forward proxy: {got!r}")


def echo(conn, record):
    data = conn.recv(64)
    record += data
    conn.sendall(data.upper())


dest.expect(echo)
c = socket.create_connection(("127.0.0.1", FORWARD), timeout=TIMEOUT)
c.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (DEST, DEST))
head = read_head(c)
c.sendall(b"ping")
time.sleep(0.2)
back = read_all(c, quiet=1.0)
c.close()
if not head.startswith(b"HTTP/1.1 200") or back != b"PING":
    fail(f"CONNECT to the allowed destination: {head!r} then {back!r}")
print("ok: CONNECT outside the allowlist → 403 and closed, a GET → 405, nothing reached a destination; CONNECT to the allowed one → 200 and a working tunnel")
print("proxy-attacks: all checks passed")
