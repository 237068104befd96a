"""ConnectionCap: the listening socket's protocol factory, which refuses connections over a cap.

At the open-files limit ``accept()`` fails: asyncio logs it, stops listening for a second
and tries again, so every client (staff included) waits in the kernel's queue, and the
database, the echo peers and the log have no descriptor left either. Below that limit
this cap answers each connection over ``KOTA_MAX_CONNECTIONS`` at once with ``503
server_busy`` and ``Retry-After``, and closes it: the client learns to retry, and the
server keeps its descriptors for the connections it serves.

Open connections are those aiohttp's ``web.Server`` tracks (added in ``connection_made``,
removed when the connection's handler finishes), plus those just made whose
``connection_made`` is still queued: a burst accepted in one loop pass would otherwise
all see the same count.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Final

from aiohttp import web

from server.errors import Unavailable

RETRY_AFTER_SECONDS: Final = 10
# After the answer, a refused connection is read (and the bytes dropped) until the client
# closes or this many seconds pass: closing with its request unread would send a reset,
# which may reach the client before the answer does.
LINGER_SECONDS: Final = 1.0
MAX_LINGERING: Final = 32  # beyond it, refused connections are closed at once

BUSY: Final = Unavailable(
    "server_busy", "The server is busy. Try again in a moment.", retry_after=RETRY_AFTER_SECONDS
)


def _refusal_bytes() -> bytes:
    body = json.dumps(BUSY.to_json(), separators=(",", ":")).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Retry-After: {RETRY_AFTER_SECONDS}\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Connection: close\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


REFUSAL: Final = _refusal_bytes()


class ConnectionCap:
    """Called by the loop for each accepted socket: aiohttp's handler, or a refusal."""

    __slots__ = ("_limit", "_lingering", "_loop", "_on_refused", "_server", "_unregistered")

    def __init__(self, server: web.Server, limit: int, on_refused: Callable[[int], None]) -> None:
        self._server = server
        self._limit = limit
        self._on_refused = on_refused  # told the number of open connections
        self._loop = asyncio.get_running_loop()
        self._unregistered = 0  # handlers made whose connection_made has not run yet
        self._lingering: set[_Refusal] = set()

    @property
    def limit(self) -> int:
        return self._limit

    def open_connections(self) -> int:
        # web.Server offers only a list copy (``connections``); its dict's length is O(1).
        return len(self._server._connections) + self._unregistered

    def __call__(self) -> asyncio.BaseProtocol:
        open_now = self.open_connections()
        if open_now >= self._limit:
            self._on_refused(open_now)
            return _Refusal(self)
        self._unregistered += 1
        # connection_made is queued right after this returns; two passes of the loop
        # later it has surely run, and the server counts the connection itself.
        self._loop.call_soon(self._loop.call_soon, self._registered)
        return self._server()

    def close(self) -> None:
        """Drops the refusals still lingering: the server is stopping."""
        for refusal in tuple(self._lingering):
            refusal.abort()

    def _registered(self) -> None:
        self._unregistered -= 1


class _Refusal(asyncio.Protocol):
    """Answers 503 the moment the connection is made, then closes it."""

    __slots__ = ("_cap", "_timer", "_transport")

    def __init__(self, cap: ConnectionCap) -> None:
        self._cap = cap
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(REFUSAL)
        lingering = self._cap._lingering
        if len(lingering) >= MAX_LINGERING or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()  # the answer, then FIN; reading goes on until the client closes
        self._transport = transport
        self._timer = self._cap._loop.call_later(LINGER_SECONDS, transport.abort)
        lingering.add(self)

    def data_received(self, data: bytes) -> None:
        """The request is never read: the answer is the same whatever it asked."""

    def eof_received(self) -> bool:
        return False  # the client has closed its side: close ours

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._cap._lingering.discard(self)
        self._transport = None

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
