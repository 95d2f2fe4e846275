#!/usr/bin/env python3
"""A wire tap for WebSocket connections: proves on the wire that
permessage-deflate (RFC 7692) was negotiated and used, whoever the peers.

    python3 ws_tap.py serve LOG LISTEN:TARGET...
    python3 ws_tap.py verify LOG --port LISTEN [--conns N] [--compressed DIRS]
                             [--fragmented DIRS] [--plain DIRS]

`serve` relays every connection to 127.0.0.1:LISTEN on to 127.0.0.1:TARGET,
byte for byte and in both directions (half-closes included), and reads what
goes through: the HTTP request and response heads, then, after a 101, every
WebSocket frame's header. Each message's frames are gathered; a message with
RSV1 set (compressed) is unmasked and inflated here, with Python's zlib
(an implementation independent of both peers), a raw inflater of the window
the handshake agreed for that direction (`*_max_window_bits`; output taken a
window at a time, so a sender that reaches back more than twice the agreed
window is caught) and a fresh inflater per message when that direction
agreed `*_no_context_takeover` (so a sender that keeps its window is
caught). When
a connection ends, one JSON line about it is appended to LOG: the listen
port, the status, both Sec-WebSocket-Extensions headers, the parameters,
and per direction (c2s, s2c) each data message's opcode, RSV1, number of
frames, bytes on the wire (payloads) and inflated size, plus any error.

`verify` waits (up to 10 s) until LOG holds N finished 101 connections
through LISTEN and then requires of each: permessage-deflate in the 101, no
error (every compressed message inflated, no protocol violation seen), and:
  --compressed c2s,s2c  in each direction listed, a compressed message of
                        64 KiB or more that took at most a quarter of its
                        size on the wire — compression was used, not just
                        agreed (the checks send JSON-like text, which
                        deflate at level 1 shrinks about 8 times);
  --fragmented c2s      a compressed message sent in 2 frames or more;
  --plain c2s           no compressed message in that direction.
It prints one `ok: wire ...` line per connection, or `FAIL: ...` and exits 1.

Why a tap rather than counters inside each peer: the peers' APIs hand over
messages already inflated (Python websockets, browsers) and their byte
counters include the handshake and timing-dependent buffering; the tap sees
exactly the frames, whichever side is ours, with one method for all peers.
"""

import asyncio
import json
import sys
import time
import zlib

BIG = 64 * 1024  # a "large" message for --compressed


def parse_deflate(header):
    """The agreed parameters from a 101's Sec-WebSocket-Extensions, or None."""
    if not header:
        return None
    for element in header.split(","):
        parts = [p.strip() for p in element.split(";")]
        if parts[0] != "permessage-deflate":
            continue
        params = {}
        for p in parts[1:]:
            key, _, value = p.partition("=")
            params[key.strip()] = value.strip().strip('"') or None
        return {
            "server_no_context_takeover": "server_no_context_takeover" in params,
            "client_no_context_takeover": "client_no_context_takeover" in params,
            "server_max_window_bits": int(params.get("server_max_window_bits") or 15),
            "client_max_window_bits": int(params.get("client_max_window_bits") or 15),
        }
    return None


def unmask(payload, key):
    if not payload:
        return payload
    n = len(payload)
    mask = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")


class Direction:
    """One direction of one connection: frames parsed as they pass."""

    def __init__(self, name, conn):
        self.name = name
        self.conn = conn
        self.head = bytearray()  # until the end of the HTTP head
        self.head_done = False
        self.frames = False  # parse frames (after a 101)
        self.buf = bytearray()
        self.messages = []
        self.controls = []
        self.errors = []
        self.current = None
        self.parts = []
        self.inflater = None
        self.no_context_takeover = False
        self.window_bits = 15
        self.wire_bytes = 0

    def setup(self, params):
        self.frames = True
        if params:
            side = "client" if self.name == "c2s" else "server"
            self.no_context_takeover = params[f"{side}_no_context_takeover"]
            self.window_bits = params[f"{side}_max_window_bits"]

    def error(self, what):
        if len(self.errors) < 5:
            self.errors.append(what)

    def feed(self, data):
        if not self.head_done:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head_done = True
            rest = bytes(self.head[end + 4 :])
            del self.head[end + 4 :]
            self.conn.head(self, bytes(self.head))
            data = rest
        if not self.frames or not data:
            return
        self.wire_bytes += len(data)
        self.buf += data
        while self.frame():
            pass

    def frame(self):
        buf = self.buf
        if len(buf) < 2:
            return False
        b0, b1 = buf[0], buf[1]
        fin, rsv1, rsv23, opcode = b0 & 0x80, b0 & 0x40, b0 & 0x30, b0 & 0x0F
        masked, n = b1 & 0x80, b1 & 0x7F
        at = 2
        if n == 126:
            if len(buf) < 4:
                return False
            n, at = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                return False
            n, at = int.from_bytes(buf[2:10], "big"), 10
        key = b""
        if masked:
            if len(buf) < at + 4:
                return False
            key, at = bytes(buf[at : at + 4]), at + 4
        if len(buf) < at + n:
            return False
        payload = bytes(buf[at : at + n])
        del buf[: at + n]
        if masked != (0x80 if self.name == "c2s" else 0):
            self.error(f"frame masked={bool(masked)} from the {'client' if self.name == 'c2s' else 'server'}")
        if rsv23:
            self.error(f"RSV2/RSV3 set on opcode {opcode}")
        if opcode >= 8:
            if rsv1:
                self.error(f"RSV1 on control frame opcode {opcode}")
            self.controls.append(opcode)
            return True
        if opcode == 0:
            if self.current is None:
                self.error("continuation frame without a message")
                return True
            if rsv1:
                self.error("RSV1 on a continuation frame")
        else:
            if self.current is not None:
                self.error("new message before the previous one ended")
            if rsv1 and self.conn.params is None:
                self.error("RSV1 without permessage-deflate agreed")
            self.current = {"op": opcode, "rsv1": bool(rsv1), "frames": 0, "wire": 0, "size": 0}
            self.parts = []
        m = self.current
        m["frames"] += 1
        m["wire"] += n
        if m["rsv1"]:
            self.parts.append(unmask(payload, key) if masked else payload)
        else:
            m["size"] += n
        if fin:
            if m["rsv1"]:
                self.inflate(m)
            self.messages.append(m)
            self.current = None
        return True

    def inflate(self, m):
        # The window the sender agreed to (zlib's raw inflate takes 8 to 15
        # since 1.2.9); a fresh inflater per message without context
        # takeover, else one for the whole connection (RFC 7692 §7.2.2).
        if self.inflater is None or self.no_context_takeover:
            self.inflater = zlib.decompressobj(wbits=-self.window_bits)
        data = b"".join(self.parts) + b"\x00\x00\xff\xff"
        self.parts = []
        try:
            # zlib checks a distance against its window only for history
            # kept from earlier calls (within one call the whole output is
            # reachable), so the output is taken a window at a time: a
            # distance beyond twice the agreed window fails.
            out, step = bytearray(), 1 << self.window_bits
            while True:
                piece = self.inflater.decompress(data, step)
                out += piece
                data = self.inflater.unconsumed_tail
                if not data and len(piece) < step:
                    break
            m["size"] = len(out)
            if m["op"] == 1:
                out.decode("utf-8")
        except (zlib.error, UnicodeDecodeError) as e:
            m["size"] = -1
            self.error(f"message {len(self.messages) + 1} does not inflate "
                       f"(window {self.window_bits} bits, "
                       f"{'fresh' if self.no_context_takeover else 'shared'} context): {e}")
            self.inflater = None

    def summary(self):
        return {
            "wire_bytes": self.wire_bytes,
            "messages": self.messages,
            "controls": self.controls,
            "errors": self.errors,
            "unfinished": self.current is not None or len(self.buf) > 0,
        }


class Conn:
    def __init__(self, port):
        self.port = port
        self.request = None
        self.offer = None
        self.status = None
        self.extensions = None
        self.params = None
        self.c2s = Direction("c2s", self)
        self.s2c = Direction("s2c", self)

    def head(self, direction, raw):
        lines = raw.decode("latin-1").split("\r\n")
        ext = [
            line.split(":", 1)[1].strip()
            for line in lines[1:]
            if line.lower().startswith("sec-websocket-extensions:")
        ]
        ext = ", ".join(ext) or None
        if direction.name == "c2s":
            self.request, self.offer = lines[0], ext
        else:
            parts = lines[0].split(" ")
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            self.extensions = ext
            if self.status == 101:
                self.params = parse_deflate(ext)
                self.c2s.setup(self.params)
                self.s2c.setup(self.params)

    def record(self):
        return {
            "port": self.port,
            "request": self.request,
            "status": self.status,
            "offer": self.offer,
            "extensions": self.extensions,
            "params": self.params,
            "c2s": self.c2s.summary(),
            "s2c": self.s2c.summary(),
        }


async def pump(reader, writer, direction):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            # Parsed before it is forwarded: the client sends no frame
            # before it has the 101, so c2s knows the parameters in time.
            try:
                direction.feed(data)
            except Exception as e:  # noqa: BLE001 - the relay goes on
                direction.error(f"tap: {type(e).__name__}: {e}")
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def serve(log_path, pairs):
    log = open(log_path, "a", buffering=1)

    def handler(listen, target):
        async def handle(c_reader, c_writer):
            try:
                s_reader, s_writer = await asyncio.open_connection("127.0.0.1", target)
            except OSError:
                c_writer.close()
                return
            conn = Conn(listen)
            await asyncio.gather(
                pump(c_reader, s_writer, conn.c2s), pump(s_reader, c_writer, conn.s2c)
            )
            for w in (c_writer, s_writer):
                w.close()
            log.write(json.dumps(conn.record()) + "\n")

        return handle

    servers = []
    for pair in pairs:
        listen, target = (int(p) for p in pair.split(":"))
        servers.append(await asyncio.start_server(handler(listen, target), "127.0.0.1", listen))
        print(f"tap: 127.0.0.1:{listen} -> 127.0.0.1:{target}", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def dirs(value):
    out = [d for d in value.split(",") if d]
    for d in out:
        if d not in ("c2s", "s2c"):
            raise SystemExit(f"unknown direction {d!r} (c2s or s2c)")
    return out


def verify(args):
    log_path, args = args[0], args[1:]
    opts = {"--port": None, "--conns": "1", "--compressed": "", "--fragmented": "", "--plain": ""}
    while args:
        if args[0] not in opts or len(args) < 2:
            raise SystemExit(__doc__)
        opts[args[0]], args = args[1], args[2:]
    port, want = int(opts["--port"]), int(opts["--conns"])
    compressed, fragmented, plain = (dirs(opts[k]) for k in ("--compressed", "--fragmented", "--plain"))

    def fail(what):
        print(f"FAIL: wire 127.0.0.1:{port}: {what}", file=sys.stderr)
        sys.exit(1)

    # The peers may end before the tap has seen both halves close.
    deadline = time.monotonic() + 10
    while True:
        with open(log_path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        records = [r for r in records if r["port"] == port and r["status"] == 101]
        if len(records) >= want or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if len(records) != want:
        fail(f"{len(records)} WebSocket connections went through, expected {want}")
    for i, r in enumerate(records, 1):
        where = f"connection {i} ({r['request']}; offer {r['offer']!r}; agreed {r['extensions']!r})"
        if r["params"] is None:
            fail(f"{where}: permessage-deflate was not agreed")
        notes = []
        for d in ("c2s", "s2c"):
            s = r[d]
            if s["errors"]:
                fail(f"{where}: {d}: {'; '.join(s['errors'])}")
            if s["unfinished"]:
                fail(f"{where}: {d}: the connection ended inside a frame or a message")
            zipped = [m for m in s["messages"] if m["rsv1"]]
            big = [m for m in zipped if m["size"] >= BIG and m["wire"] * 4 <= m["size"]]
            if d in compressed and not big:
                large = [m for m in s["messages"] if m["size"] >= BIG or m["wire"] >= BIG]
                fail(f"{where}: {d}: no message of {BIG} bytes or more went compressed "
                     f"to a quarter of its size; the large ones: {large}")
            if d in fragmented and not any(m["frames"] >= 2 for m in zipped):
                fail(f"{where}: {d}: no compressed message in several frames: "
                     f"{[m for m in s['messages'] if m['frames'] > 1 or m['rsv1']][:10]}")
            if d in plain and zipped:
                fail(f"{where}: {d}: {len(zipped)} compressed messages, expected none")
            text = f"{d} {len(zipped)}/{len(s['messages'])} compressed"
            if zipped:
                top = max(zipped, key=lambda m: (m["wire"] * 4 <= m["size"], m["size"]))
                text += f" (e.g. {top['size']} -> {top['wire']} bytes in {top['frames']} frame{'s' if top['frames'] > 1 else ''})"
            notes.append(text)
        print(f"ok: wire 127.0.0.1:{port} connection {i}: {r['extensions']}; "
              f"{'; '.join(notes)}; all inflated by zlib")


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        asyncio.run(serve(sys.argv[2], sys.argv[3:]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "verify":
        verify(sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
