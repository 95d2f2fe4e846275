#!/usr/bin/env python3
"""A Python `websockets` (PyPI) echo server for testing the `client` example.

    python3 ws_echo_server.py PORT [--deflate-windows 15]

Listens on 127.0.0.1:PORT, any path. Every message comes back as it came
(text as text, binary as binary). Selects the subprotocol `chat` when the
client offers it, and none otherwise. Prints `listening on 127.0.0.1:PORT`
once ready; runs until killed.

permessage-deflate is on, as websockets has it by default: the server
compresses with a 4 KiB window and asks clients that accept a limit to use
one too (`server_max_window_bits=12; client_max_window_bits=12`, memory
level 5). With `--deflate-windows 15` it puts no limit on either window
(a bare `permessage-deflate` answers a bare offer), and echoes messages of
64 KiB or more in 16 KiB fragments (compressed, RSV1 on the first frame
only), so that a client's inflation across frames is exercised too.
"""

import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.exceptions import ConnectionClosed


def select_chat(connection, offered):
    # The library's default refuses clients that offer nothing when the
    # server has subprotocols; here `chat` is optional.
    return "chat" if "chat" in offered else None


FRAGMENT = 16 * 1024
fragment_large = False


async def echo(ws):
    try:
        async for message in ws:
            if fragment_large and len(message) >= 4 * FRAGMENT:
                # An iterable: websockets sends one frame per item.
                await ws.send([message[i : i + FRAGMENT] for i in range(0, len(message), FRAGMENT)])
            else:
                await ws.send(message)
    except ConnectionClosed:
        # The client's Close overtook an echo: websockets answers a Close at
        # once, and no data may follow it. Nothing to report.
        pass


async def main(port, full_windows):
    deflate = {}
    if full_windows:
        deflate = {
            "compression": None,
            "extensions": [ServerPerMessageDeflateFactory(compress_settings={"memLevel": 5})],
        }
    async with serve(
        echo,
        "127.0.0.1",
        port,
        select_subprotocol=select_chat,
        max_size=None,
        ping_interval=None,
        **deflate,
    ) as server:
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2:] != ["--deflate-windows", "15"]):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    fragment_large = len(sys.argv) == 4
    asyncio.run(main(int(sys.argv[1]), fragment_large))
