#!/usr/bin/env python3
"""A Python `websockets` (PyPI) echo server for testing the `client` example.

    python3 ws_echo_server.py PORT

Listens on 127.0.0.1:PORT, any path. Every message comes back as it came
(text as text, binary as binary). Selects the subprotocol `chat` when the
client offers it, and none otherwise. Prints `listening on 127.0.0.1:PORT`
once ready; runs until killed.
"""

import asyncio
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


def select_chat(connection, offered):
    # The library's default refuses clients that offer nothing when the
    # server has subprotocols; here `chat` is optional.
    return "chat" if "chat" in offered else None


async def echo(ws):
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:
        # The client's Close overtook an echo: websockets answers a Close at
        # once, and no data may follow it. Nothing to report.
        pass


async def main(port):
    async with serve(
        echo,
        "127.0.0.1",
        port,
        select_subprotocol=select_chat,
        max_size=None,
        ping_interval=None,
    ) as server:
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    asyncio.run(main(int(sys.argv[1])))
