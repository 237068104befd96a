"""The floor of ``python -m bench lines``: the least a line's queue on aiohttp can do.

People send ``{"type":"hello"}`` and are queued in arrival order; each is told its
place. ``{"type":"take"}`` from anyone takes the first: it is sent ``{"type":"taken"}``
and every other one its new place, one message each, the way a line's server must tell
them. No authentication, origin check, validation, rate limit, send queue, heartbeat,
expected wait, staff board or usage log: whatever Kota's ``/ws/line`` costs beyond this
is the price of those. Run it with ``python -m bench.line_floor --port N``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from aiohttp import WSMsgType, web

MAX_MESSAGE_BYTES = 64 * 1024
QUEUE = web.AppKey("queue", list[web.WebSocketResponse])


def _place(position: int) -> str:
    return json.dumps({"type": "queue", "position": position, "expected_wait_s": None,
                       "closes_first": False, "on_duty": 1}, separators=(",", ":"))


async def line(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    queue = request.app[QUEUE]
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            try:
                kind = json.loads(msg.data)["type"]
            except (ValueError, KeyError, TypeError):
                continue
            if kind == "hello" and ws not in queue:
                queue.append(ws)
                await ws.send_str('{"type":"welcome"}')
                await ws.send_str(_place(len(queue)))
            elif kind == "take" and queue:
                taken = queue.pop(0)
                await taken.send_str('{"type":"taken"}')
                for position, waiting in enumerate(list(queue), 1):
                    await waiting.send_str(_place(position))
    finally:
        if ws in queue:
            queue.remove(ws)
    return ws


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_line_floor_app() -> web.Application:
    app = web.Application()
    app[QUEUE] = []
    app.router.add_get("/ws/line", line)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.line_floor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(create_line_floor_app(), host=args.host, port=args.port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
