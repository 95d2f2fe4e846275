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
    /reset-before    resets the connection without any response (a WAF)
    /cut-head        the start of a 101 head, then closes (a crash mid-response)
    /silent          never answers (holds the connection for 30 s)
    /426-bare        426 without Upgrade (Node ws's answer to a stripped request)
    /400-stripped    400 whose body says the Upgrade/Connection tokens are missing
    /https-port      what a TLS port answers plain HTTP with (Go's net/http)
    /heartbeat       101, then a Ping every 0.5 s; no Pong within 0.5 s: reset
    /deflate         101 with permessage-deflate, then a compressed text frame
    /close-now       101 and a Close 1008 right behind it
    /reset-now       101, then a reset
    /reset-on-frame  101, then a reset once a frame arrives (a WAF)
    /lifetime        101, Pongs to Pings, the connection closed after 2 s
    anything else    404

Prints `listening on 127.0.0.1:PORT` once ready; runs until killed.
"""

import base64
import hashlib
import socket
import socketserver
import struct
import sys
import time
import zlib

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

        if path in WS_SCENARIOS:
            sock.sendall(switch_ok(key, path))
            try:
                WS_SCENARIOS[path](sock)
            except OSError:
                pass
            return
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
        elif path == "/426-bare":
            reply = final("426 Upgrade Required", "Upgrade Required")
        elif path == "/400-stripped":
            reply = final(
                "400 Bad Request",
                "websocket: the client is not using the websocket protocol: "
                "'upgrade' token not found in 'Connection' header\n",
            )
        elif path == "/https-port":
            reply = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
        elif path == "/hangup":
            return  # the server closes the socket without a byte
        elif path == "/reset-before":
            reset(sock)
            return
        elif path == "/cut-head":
            reply = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
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


def switch_ok(key, path):
    extra = [f"Sec-WebSocket-Accept: {accept_key(key)}"]
    if path == "/deflate":
        extra.append("Sec-WebSocket-Extensions: permessage-deflate")
    return switch(extra)


def frame(opcode, payload, rsv1=False):
    assert len(payload) < 126
    return bytes([0x80 | (0x40 if rsv1 else 0) | opcode, len(payload)]) + payload


def read_frame(sock):
    """One masked client frame with a payload under 126 bytes: (opcode, payload)."""
    head = recv_exact(sock, 2)
    mask = recv_exact(sock, 4)
    data = recv_exact(sock, head[1] & 0x7F)
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def heartbeat(sock):
    # A server-side heartbeat (Node ws style): Ping, and reset the
    # connection if no Pong came before the next one.
    sock.settimeout(0.5)
    while True:
        sock.sendall(frame(0x9, b"hb"))
        try:
            opcode, _ = read_frame(sock)
        except socket.timeout:
            reset(sock)
            return
        if opcode == 0x8:
            sock.sendall(frame(0x8, b""))
            return
        time.sleep(0.5)


def deflate(sock):
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = z.compress(b"hello") + z.flush(zlib.Z_SYNC_FLUSH)
    sock.sendall(frame(0x1, data[:-4], rsv1=True))
    echo_close(sock, 10)


def echo_close(sock, seconds):
    # Pongs to Pings, the Close echoed; gives up after `seconds`.
    sock.settimeout(seconds)
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 0x9:
            sock.sendall(frame(0xA, payload))
        elif opcode == 0x8:
            sock.sendall(frame(0x8, payload[:2]))
            return


def close_now(sock):
    sock.sendall(frame(0x8, struct.pack("!H", 1008) + b"policy"))
    time.sleep(2)


def reset_on_frame(sock):
    sock.settimeout(30)
    read_frame(sock)
    reset(sock)


def lifetime(sock):
    # Pongs to Pings; the connection ends 2 s after the switch whatever
    # the traffic (a maximum lifetime).
    end = time.monotonic() + 2
    while True:
        left = end - time.monotonic()
        if left <= 0:
            sock.close()
            return
        sock.settimeout(left)
        try:
            opcode, payload = read_frame(sock)
        except socket.timeout:
            sock.close()
            return
        if opcode == 0x9:
            sock.sendall(frame(0xA, payload))


WS_SCENARIOS = {
    "/heartbeat": heartbeat,
    "/deflate": deflate,
    "/close-now": close_now,
    "/reset-now": reset,
    "/reset-on-frame": reset_on_frame,
    "/lifetime": lifetime,
}


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
