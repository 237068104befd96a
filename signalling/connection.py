"""Connection: the only code that touches a call WebSocket.

It reads only in the handler's task (aiohttp's rule) and writes from one writer task
that drains a bounded queue. A room hands it messages through ``send``, which never
waits: when the queue is full the client is not keeping up, and the socket is closed
with ``too_slow`` rather than let it slow the room. Every frame passes a token bucket
first; every refusal is an ``error`` message, and a fatal one closes with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import WSMsgType, web

from signalling import messages as wire
from signalling.effects import CloseReason
from signalling.errors import SignallingError
from signalling.rate_limit import RateLimiter
from signalling.room_registry import LiveRoom, RegistryClosed, RoomRegistry
from signalling.waiting_room import Member

logger = logging.getLogger(__name__)

_READABLE: Final = frozenset({WSMsgType.TEXT, WSMsgType.BINARY})


@dataclass(frozen=True)
class ConnectionLimits:
    hello_timeout: float  # seconds from connecting (or a refused hello) to a good hello
    rate: float  # messages per second, sustained
    burst: int  # messages at once, e.g. a burst of ICE candidates
    send_queue: int  # messages waiting to be written before the client is too slow
    close_timeout: float = 2.0  # how long closing may wait for the client


@dataclass(frozen=True)
class Entry:
    """A hello the server has verified: which call, and who (None for a resume ticket)."""

    appointment_id: str
    member: Member | None


# Checks a hello's token or the staff session, without reading the socket.
Identify = Callable[[wire.Hello], Awaitable[Entry]]


class Connection:
    """One participant's socket; an Outbox for its room."""

    def __init__(self, ws: web.WebSocketResponse, registry: RoomRegistry, identify: Identify,
                 limits: ConnectionLimits) -> None:
        self._ws = ws
        self._registry = registry
        self._identify = identify
        self._limits = limits
        self._limiter = RateLimiter(limits.rate, limits.burst)
        # None, queued after the last message, means "close now"; it has a place of its own.
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(limits.send_queue + 1)
        self._closing: CloseReason | None = None
        self._writer: asyncio.Task[None] | None = None
        self._live: LiveRoom | None = None
        self._pid: str | None = None

    # --- Outbox: called by rooms, from any task -----------------------------------------------

    def send(self, data: bytes) -> None:
        if self._closing is not None:
            return
        if self._queue.qsize() >= self._limits.send_queue:
            self._abort(CloseReason.TOO_SLOW)
            return
        self._queue.put_nowait(data)

    def close(self, reason: CloseReason) -> None:
        if self._closing is None:
            self._closing = reason
            self._queue.put_nowait(None)

    def _abort(self, reason: CloseReason) -> None:
        """Closes without draining: the writer may be stuck on a socket nobody reads."""
        self._closing = reason
        if self._writer is not None:
            self._writer.cancel()

    # --- the handler's task -------------------------------------------------------------------

    async def run(self) -> None:
        """Serves the socket until it closes; the closing handshake happens here too."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._writer = asyncio.create_task(self._write(), name="ws-writer")
        self._registry.track(self)
        try:
            await self._read()
        except Exception:
            logger.exception("ws.internal_error", extra=self._ids())
            self._refuse(SignallingError("internal"))
        finally:
            reason = self._closing or CloseReason.CONNECTION_LOST
            if self._live is not None and self._pid is not None:
                self._live.disconnected(self._pid, self, reason)
            self.close(reason)
            await self._finish_writer()
            await self._close_socket(reason)
            self._registry.untrack(self)
            logger.info("ws.closed", extra={**self._ids(), "reason": reason.value,
                                            "duration_ms": round((loop.time() - started) * 1000)})

    async def _read(self) -> None:
        """Reads frames until the client goes or we are closing.

        Each read races the writer task, which ends once a room closed this socket; then
        closing is done from this task, after the writer's last frame, with a full close
        handshake. Nothing is read, let alone acted on, once closing has begun.
        """
        loop = asyncio.get_running_loop()
        hello_by = loop.time() + self._limits.hello_timeout
        assert self._writer is not None
        while self._closing is None:
            timeout = None if self._pid is not None else hello_by - loop.time()
            if timeout is not None and timeout <= 0:
                self.close(CloseReason.TIMEOUT)
                return
            receive = asyncio.ensure_future(self._ws.receive(timeout=timeout))
            await asyncio.wait({receive, self._writer}, return_when=asyncio.FIRST_COMPLETED)
            if not receive.done():
                receive.cancel()
                await asyncio.wait({receive})
                return
            try:
                msg = receive.result()
            except TimeoutError:
                self.close(CloseReason.TIMEOUT)
                return
            if msg.type not in _READABLE:
                return  # closed, closing or broken: the client is gone
            if not self._limiter.allow(loop.time()):
                self._refuse(SignallingError("rate_limited"))
                return
            try:
                if msg.type is WSMsgType.BINARY:
                    raise SignallingError("bad_message", "Send JSON in text frames.")
                await self._on_message(wire.decode_client(msg.data))
            except SignallingError as exc:
                self._refuse(exc)
                if self._pid is None and not exc.fatal:
                    hello_by = loop.time() + self._limits.hello_timeout

    async def _on_message(self, message: wire.ClientMessage) -> None:
        if self._live is not None and self._pid is not None:
            self._live.handle(self._pid, self, message)
        elif isinstance(message, wire.Hello):
            await self._hello(message)
        else:
            raise SignallingError("not_joined")

    async def _hello(self, hello: wire.Hello) -> None:
        """Verifies the hello, then takes a seat or a place in the queue (or refuses)."""
        wire.choose_version(hello)
        entry = await self._identify(hello)
        try:
            live = await self._registry.enter(entry.appointment_id)
        except RegistryClosed:
            self.close(CloseReason.SERVER_SHUTDOWN)
            return
        if self._closing is not None:
            return  # the server began to shut down while we looked it up
        if hello.resume is not None:
            live.resume(hello.resume, self)
            pid = hello.resume.participant
        else:
            assert entry.member is not None
            live.join(entry.member, self)
            pid = entry.member.participant_id
        self._live, self._pid = live, pid
        logger.info("ws.joined", extra={**self._ids(), "resumed": hello.resume is not None})

    def _refuse(self, exc: SignallingError) -> None:
        """Tells the client why, by code; a fatal refusal then closes with its reason."""
        self.send(wire.encode(wire.error_message(exc)))
        if exc.close_reason is not None:
            self.close(exc.close_reason)
        logger.info("ws.refused", extra={**self._ids(), "code": exc.code})

    # --- the writer task ----------------------------------------------------------------------

    async def _write(self) -> None:
        """Sends queued frames until the close marker; closing is left to the handler's task."""
        with contextlib.suppress(ConnectionError):  # the client is gone
            while (data := await self._queue.get()) is not None:
                await self._ws.send_frame(data, WSMsgType.TEXT)

    async def _finish_writer(self) -> None:
        assert self._writer is not None
        await asyncio.wait({self._writer}, timeout=self._limits.close_timeout)
        if not self._writer.done():  # the client stopped reading: drop what is left
            self._writer.cancel()
            await asyncio.wait({self._writer})

    async def _close_socket(self, reason: CloseReason) -> None:
        """Close frame with the reason's code, then wait for the client's (bounded)."""
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(self._limits.close_timeout * 2):
                await self._ws.close(code=reason.close_code, message=reason.value.encode())

    def _ids(self) -> dict[str, str | None]:
        room = self._live.appointment_id if self._live else None
        return {"appointment": room, "participant": self._pid}
