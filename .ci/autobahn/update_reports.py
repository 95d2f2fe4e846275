#!/usr/bin/env python3
"""Ask a running `wstest -m fuzzingserver` to write its reports now.

    update_reports.py ws://127.0.0.1:9002 [agent]

Used by .ci/autobahn.sh when the client under test stopped (crash, time-out)
without calling /updateReports itself, so that the cases it did run are
still graded. A minimal WebSocket client on a plain socket: handshake to
/updateReports, wait for the server's close frame (sent once the reports are
written), answer it, done. Exits non-zero if the server did not answer so.
"""

import base64
import os
import socket
import sys
from urllib.parse import quote, urlsplit


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    url = urlsplit(sys.argv[1])
    agent = sys.argv[2] if len(sys.argv) == 3 else "protoswitch"
    host, port = url.hostname, url.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /updateReports?agent={quote(agent)} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=120) as s:
        s.sendall(request.encode("ascii"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                print("update_reports: connection closed during the handshake", file=sys.stderr)
                return 1
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0].decode("latin-1")
        if " 101 " not in status + " ":
            print(f"update_reports: unexpected answer: {status}", file=sys.stderr)
            return 1
        # The first frame the server sends is its close frame (opcode 8).
        while len(rest) < 2:
            chunk = s.recv(4096)
            if not chunk:
                print("update_reports: no close frame from the server", file=sys.stderr)
                return 1
            rest += chunk
        if rest[0] & 0x0F != 0x8:
            print(f"update_reports: unexpected frame opcode {rest[0] & 0x0F}", file=sys.stderr)
            return 1
        mask = os.urandom(4)
        s.sendall(bytes([0x88, 0x80]) + mask)  # masked close frame, no payload
    return 0


if __name__ == "__main__":
    sys.exit(main())
