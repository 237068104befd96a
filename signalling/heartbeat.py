"""Heartbeat: one timer pings every call socket, and drops those that stopped answering.

aiohttp's own heartbeat keeps a timer per socket and re-arms it on every frame that
arrives; with thousands of sockets that is most of what an idle server holds per socket
and a call scheduled for every relayed message. Here one sweep every ``interval`` seconds
asks each socket to ``beat``: a socket that has heard nothing from its client (no pong,
no message) since the previous sweep's ping is dropped, and every other one is pinged.
A dead client is therefore noticed after one to two intervals.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

logger = logging.getLogger(__name__)


class Pulse(Protocol):
    def beat(self) -> None:
        """Drops the socket if the last ping went unanswered, else pings it."""


class Heartbeat:
    """Started and stopped with the server; sockets add themselves while they are open."""

    __slots__ = ("_handle", "_interval", "_sockets")

    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError("the heartbeat interval must be positive")
        self._interval = interval
        self._sockets: set[Pulse] = set()
        self._handle: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, socket: Pulse) -> None:
        self._sockets.add(socket)

    def discard(self, socket: Pulse) -> None:
        self._sockets.discard(socket)

    def start(self) -> None:
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self._interval, self._sweep)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sweep(self) -> None:
        self._handle = asyncio.get_running_loop().call_later(self._interval, self._sweep)
        for socket in tuple(self._sockets):  # a beat may drop a socket, and so change the set
            try:
                socket.beat()
            except Exception:  # one broken socket must not stop the others' heartbeat
                logger.exception("ws.heartbeat_failed")
