"""The floor: the least a signalling relay on aiohttp can do, to measure Kota against.

A ``hello`` registers the client's id; every later message names a peer in ``to`` and is
parsed, stamped with ``from`` and forwarded to that peer's socket. No authentication,
admission, validation, rate limit, send queue, heartbeat or usage log: whatever Kota
costs beyond this is the price of those checks. Run it with
``python -m bench.floor_relay --port N``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from aiohttp import WSMsgType, web

MAX_MESSAGE_BYTES = 64 * 1024
SOCKETS = web.AppKey("sockets", dict[str, web.WebSocketResponse])


async def relay(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    sockets = request.app[SOCKETS]
    me: str | None = None
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
                if me is None:
                    me = str(data["id"])
                    sockets[me] = ws
                    await ws.send_str('{"type":"welcome"}')
                    continue
                peer = sockets.get(data["to"])
                out = {"type": data["type"], "from": me, "payload": data["payload"]}
            except (ValueError, KeyError, TypeError):
                continue
            if peer is not None:
                await peer.send_str(json.dumps(out, separators=(",", ":")))
    finally:
        if me is not None and sockets.get(me) is ws:
            del sockets[me]
    return ws


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_floor_app() -> web.Application:
    app = web.Application()
    app[SOCKETS] = {}
    app.router.add_get("/ws", relay)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_relay", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(create_floor_app(), host=args.host, port=args.port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
