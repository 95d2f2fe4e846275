#!/usr/bin/env python3
"""A deliberately broken upgrade server, to check the `probe` example's
diagnoses of handshakes that upgrade_server never produces.

    python3 bad_server.py PORT

Listens on 127.0.0.1:PORT. Reads one request head and answers by path:

    /bad-accept      101 with a wrong Sec-WebSocket-Accept
    /no-accept       101 without Sec-WebSocket-Accept
    /http10          HTTP/1.0 200 with a body
    /bad-gateway     502 Bad Gateway
    /bad-request     400 with a reason in the body
    /bad-subprotocol 101 (correct accept) selecting a subprotocol nobody offered
    /hangup          closes the connection without any response
    /silent          never answers (holds the connection for 30 s)
    anything else    404

Prints `listening on 127.0.0.1:PORT` once ready; runs until killed.
"""

import base64
import hashlib
import socket
import socketserver
import sys
import time

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REASON = "Sec-WebSocket-Key is not what this server wants"


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + WS_GUID).digest()).decode()


def switch(extra):
    head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    return (head + "".join(f"{h}\r\n" for h in extra) + "\r\n").encode()


def final(status_line, body, version="HTTP/1.1"):
    body = body.encode()
    return (
        f"{version} {status_line}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(30)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        path = parts[1] if len(parts) == 3 else ""
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key", "")

        if path == "/bad-accept":
            # The accept of another key: what a buggy server or a proxy that
            # rewrote the key would send.
            reply = switch([f"Sec-WebSocket-Accept: {accept_key(key + 'x')}"])
        elif path == "/no-accept":
            reply = switch([])
        elif path == "/http10":
            reply = final("200 OK", "an HTTP/1.0 server\n", version="HTTP/1.0")
        elif path == "/bad-gateway":
            reply = final("502 Bad Gateway", "upstream unreachable\n")
        elif path == "/bad-request":
            reply = final("400 Bad Request", REASON + "\n")
        elif path == "/bad-subprotocol":
            reply = switch([f"Sec-WebSocket-Accept: {accept_key(key)}", "Sec-WebSocket-Protocol: superchat"])
        elif path == "/hangup":
            return  # the server closes the socket without a byte
        elif path == "/silent":
            time.sleep(30)
            return
        else:
            reply = final("404 Not Found", "no such path\n")
        try:
            sock.sendall(reply)
            # Half-close and drain a little so the reply is not reset away.
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(2)
            while sock.recv(4096):
                pass
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    port = int(sys.argv[1])
    with Server(("127.0.0.1", port), Handler) as server:
        print(f"listening on 127.0.0.1:{port}", flush=True)
        server.serve_forever()
