#!/usr/bin/env python3
"""Interop checks of examples/upgrade_server.rs against Python's h11 client.

Usage: h11_client.py [HOST [PORT]]   (default 127.0.0.1 18080)

Prints one "ok: ..." line per case; exits non-zero on the first failure.
"""

import socket
import sys

import h11

HOST = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 18080
TIMEOUT = 5.0


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def connect():
    sock = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def next_event(conn, sock):
    """The next h11 event, reading from the socket as needed."""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = sock.recv(65536)
            conn.receive_data(data)  # b"" tells h11 about EOF
            continue
        return event


def read_response(conn, sock):
    """A final response and its body."""
    event = next_event(conn, sock)
    check(isinstance(event, h11.Response), f"expected a Response, got {event!r}")
    body = b""
    while True:
        part = next_event(conn, sock)
        if isinstance(part, h11.Data):
            body += part.data
        elif isinstance(part, h11.EndOfMessage):
            return event, body
        else:
            raise CheckFailed(f"unexpected event in body: {part!r}")


def recv_exactly(sock, already, n):
    """`n` bytes: first those h11 read past the 101, then from the socket."""
    got = bytes(already)
    while len(got) < n:
        data = sock.recv(65536)
        check(data, f"connection closed after {got!r}, wanted {n} bytes")
        got += data
    return got


def header(event, name):
    name = name.lower().encode()
    values = [v for (k, v) in event.headers if k == name]
    return values[0].decode() if values else None


def case_echo_with_continue():
    """POST with Expect: 100-continue and an echo/1 upgrade."""
    sock = connect()
    conn = h11.Connection(our_role=h11.CLIENT)
    request = h11.Request(
        method="POST",
        target="/echo",
        headers=[
            ("Host", f"{HOST}:{PORT}"),
            ("Upgrade", "echo/1"),
            ("Connection", "Upgrade"),
            ("Expect", "100-continue"),
            ("Content-Length", "5"),
        ],
    )
    sock.sendall(conn.send(request))

    # The server must ask for the body before the switch.
    event = next_event(conn, sock)
    check(
        isinstance(event, h11.InformationalResponse) and event.status_code == 100,
        f"expected 100 Continue first, got {event!r}",
    )
    sock.sendall(conn.send(h11.Data(data=b"hello")))
    sock.sendall(conn.send(h11.EndOfMessage()))

    event = next_event(conn, sock)
    check(
        isinstance(event, h11.InformationalResponse) and event.status_code == 101,
        f"expected 101 Switching Protocols, got {event!r}",
    )
    check(
        conn.our_state is h11.SWITCHED_PROTOCOL,
        f"h11 client state is {conn.our_state}, not SWITCHED_PROTOCOL",
    )
    check(
        (header(event, "upgrade") or "").lower() == "echo/1",
        f"101 names {header(event, 'upgrade')!r}, not echo/1",
    )

    # From here on the socket speaks echo/1.
    trailing, _closed = conn.trailing_data
    sock.sendall(b"ping-echo")
    echoed = recv_exactly(sock, trailing, len(b"ping-echo"))
    check(echoed == b"ping-echo", f"echo returned {echoed!r}")
    sock.close()
    print("ok: POST /echo with Expect: 100-continue -> 100, body, 101 echo/1, bytes echoed")


def case_echo_early_bytes():
    """Bytes sent right behind the request (same segment) are echoed too."""
    sock = connect()
    conn = h11.Connection(our_role=h11.CLIENT)
    request = h11.Request(
        method="GET",
        target="/anything",
        headers=[
            ("Host", f"{HOST}:{PORT}"),
            ("Upgrade", "echo/1"),
            ("Connection", "Upgrade"),
        ],
    )
    wire = conn.send(request) + conn.send(h11.EndOfMessage())
    sock.sendall(wire + b"early-bytes")

    event = next_event(conn, sock)
    check(
        isinstance(event, h11.InformationalResponse) and event.status_code == 101,
        f"expected 101, got {event!r}",
    )
    check(conn.our_state is h11.SWITCHED_PROTOCOL, f"state {conn.our_state}")
    trailing, _closed = conn.trailing_data
    echoed = recv_exactly(sock, trailing, len(b"early-bytes"))
    check(echoed == b"early-bytes", f"early bytes came back as {echoed!r}")
    sock.close()
    print("ok: echo/1 upgrade echoes bytes that arrived with the request")


def case_websocket_version_8():
    sock = connect()
    conn = h11.Connection(our_role=h11.CLIENT)
    request = h11.Request(
        method="GET",
        target="/ws",
        headers=[
            ("Host", f"{HOST}:{PORT}"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "8"),
        ],
    )
    sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
    response, body = read_response(conn, sock)
    check(response.status_code == 426, f"expected 426, got {response.status_code}")
    version = header(response, "sec-websocket-version")
    check(version == "13", f"expected sec-websocket-version: 13, got {version!r}")
    sock.close()
    print("ok: GET /ws with Sec-WebSocket-Version: 8 -> 426, sec-websocket-version: 13")


def case_plain_get():
    sock = connect()
    conn = h11.Connection(our_role=h11.CLIENT)
    request = h11.Request(
        method="GET", target="/", headers=[("Host", f"{HOST}:{PORT}")]
    )
    sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
    response, body = read_response(conn, sock)
    check(response.status_code == 200, f"expected 200, got {response.status_code}")
    check(body, "GET / returned an empty body")
    sock.close()
    print(f"ok: GET / -> 200 ({len(body)} bytes)")


def main():
    cases = [
        case_echo_with_continue,
        case_echo_early_bytes,
        case_websocket_version_8,
        case_plain_get,
    ]
    for case in cases:
        try:
            case()
        except (CheckFailed, h11.ProtocolError, OSError) as e:
            print(f"FAIL: {case.__name__}: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
