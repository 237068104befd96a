"""Connection: the only code that touches a call WebSocket.

It reads only in the handler's task (aiohttp's rule). A room hands it messages through
``send``, which never waits: a frame goes straight into the socket's transport (the
request's, aiohttp's public ``Request.transport``) while the client keeps up; once the
transport's buffer is past its high-water mark (asyncio's public
``get_write_buffer_size``/``get_write_buffer_limits``), frames wait in a bounded
backlog that a writer task drains with aiohttp's ``send_frame``, and when the backlog
is full the client is not keeping up and the socket is closed with ``too_slow`` rather
than let it slow the room. Every frame passes a token bucket first; every refusal is an
``error`` message, and a fatal one closes with its reason. An idle connection holds no
task, no queue and no timer (the shared Heartbeat pings it): docs/performance.md says
what each costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import WSMessage, WSMsgType, web

from signalling import messages as wire
from signalling.effects import CloseReason
from signalling.errors import SignallingError
from signalling.heartbeat import Heartbeat
from signalling.ports import Identify
from signalling.rate_limit import RateLimiter
from signalling.room_registry import LiveRoom, RegistryClosed, RoomRegistry

logger = logging.getLogger(__name__)

_READABLE: Final = frozenset({WSMsgType.TEXT, WSMsgType.BINARY})
_CONTROL: Final = frozenset({WSMsgType.PING, WSMsgType.PONG})  # they count towards the rate
_TEXT: Final = 0x81  # FIN + text opcode (RFC 6455, 5.2); a server's frames are not masked
_PING: Final = b"\x89\x00"  # FIN + ping, empty
_PONG: Final = 0x8A  # FIN + pong
_SHORT: Final = struct.Struct("!BB").pack
_MEDIUM: Final = struct.Struct("!BBH").pack
_LONG: Final = struct.Struct("!BBQ").pack


@dataclass(frozen=True)
class ConnectionLimits:
    hello_timeout: float  # seconds from connecting (or a refused hello) to a good hello
    rate: float  # messages per second, sustained
    burst: int  # messages at once, e.g. a burst of ICE candidates
    send_queue: int  # messages waiting to be written before the client is too slow
    close_timeout: float = 2.0  # how long closing may wait for the client


class Connection:
    """One participant's socket; an Outbox for its room."""

    __slots__ = ("_backlog", "_closing", "_handler", "_heard", "_heartbeat", "_high_water",
                 "_identify", "_limiter", "_limits", "_live", "_pid", "_receiving", "_registry",
                 "_transport", "_woken", "_writer", "_ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport,
                 registry: RoomRegistry, heartbeat: Heartbeat, identify: Identify,
                 limits: ConnectionLimits) -> None:
        """``ws`` prepared on a request whose ``transport`` is passed: frames are written
        to it directly, whole, so they never interleave with aiohttp's own."""
        self._ws = ws  # made with autoping=False: pings and pongs are answered here
        self._transport = transport
        self._high_water = transport.get_write_buffer_limits()[1]
        self._registry = registry
        self._heartbeat = heartbeat
        self._heard = True  # the client sent something since the last ping
        self._identify = identify
        self._limits = limits
        self._limiter = RateLimiter(limits.rate, limits.burst)
        self._closing: CloseReason | None = None
        # Made only while the socket pushes back, so an idle connection holds neither.
        self._backlog: deque[bytes] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._live: LiveRoom | None = None
        self._pid: str | None = None
        self._handler: asyncio.Task[Any] | None = None
        self._receiving = False  # the handler's task is parked in ws.receive()
        self._woken = False  # ... and was cancelled out of it because closing began

    # --- Outbox: called by rooms, from any task -----------------------------------------------

    def send(self, data: bytes) -> None:
        """Writes at once when nothing is waiting, else queues behind what is.

        Writing to the transport never waits (a frame goes whole into its buffer), so
        order holds as long as nothing is written past a non-empty backlog.
        """
        if self._closing is not None:
            return
        backlog = self._backlog
        if backlog is None:
            transport = self._transport
            if transport.get_write_buffer_size() <= self._high_water:
                if not transport.is_closing():  # else the client is gone: the read ends
                    transport.write(_text_frame(data))
                return
            backlog = self._backlog = deque()
            self._writer = asyncio.get_running_loop().create_task(self._write(backlog))
        elif len(backlog) >= self._limits.send_queue:
            self._abort(CloseReason.TOO_SLOW)
            return
        backlog.append(data)

    def close(self, reason: CloseReason) -> None:
        """Closes after what is queued: the handler's task waits for the writer, then closes."""
        if self._closing is None:
            self._closing = reason
            self._wake()

    def _abort(self, reason: CloseReason) -> None:
        """Closes without draining: the writer may be stuck on a socket nobody reads."""
        self._closing = reason
        self._backlog = None
        if self._writer is not None:
            self._writer.cancel()
        self._wake()

    def beat(self) -> None:
        """The Heartbeat's call: a client silent since the last ping is gone; else ping it.

        A ping is a control frame, so it may go out between queued messages.
        """
        transport = self._open_transport()
        if self._closing is not None or transport is None:
            return
        if not self._heard:
            logger.info("ws.no_pong", extra=self._ids())
            transport.abort()  # the read ends at once, as for any lost connection
            return
        self._heard = False
        transport.write(_PING)

    def _wake(self) -> None:
        """Ends the handler's pending read, so closing starts now, not at the next frame."""
        if self._receiving and not self._woken and self._handler is not None:
            self._woken = True
            self._handler.cancel()

    # --- the handler's task -------------------------------------------------------------------

    async def run(self) -> None:
        """Reads frames until the client goes or we are closing, then closes.

        A room that closes this socket cancels the pending read (``_wake``); closing is
        then done from this task, after the writer's last frame, with a full close
        handshake. Nothing is read, let alone acted on, once closing has begun. (One
        coroutine, not a reader called from here: each frame on the stack is kept for
        as long as the socket is open.)
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._handler = asyncio.current_task()
        self._registry.track(self)
        self._heartbeat.add(self)
        try:
            hello_by = loop.time() + self._limits.hello_timeout
            while self._closing is None:
                timeout = None if self._pid is not None else hello_by - loop.time()
                if timeout is not None and timeout <= 0:
                    self.close(CloseReason.TIMEOUT)
                    return
                self._receiving = True
                try:
                    msg = await self._ws.receive(timeout=timeout)
                except TimeoutError:
                    self.close(CloseReason.TIMEOUT)
                    return
                except asyncio.CancelledError:
                    handler = self._handler
                    if not self._woken or handler is None or handler.uncancel() > 0:
                        raise  # not ours: the server is stopping the handler
                    return
                finally:
                    self._receiving = False
                self._heard = True
                if msg.type not in _READABLE and msg.type not in _CONTROL:
                    return  # closed, closing or broken: the client is gone
                if not self._limiter.allow(loop.time()):
                    self._refuse(SignallingError("rate_limited"))
                    return
                if msg.type in _CONTROL:
                    if msg.type is WSMsgType.PING:
                        self._pong(msg.data)
                    continue
                try:
                    if self._live is not None and self._pid is not None:
                        self._live.handle(self._pid, self, _decode(msg))
                    else:
                        await self._before_joining(_decode(msg))
                except SignallingError as exc:
                    self._refuse(exc)
                    if self._pid is None and not exc.fatal:
                        hello_by = loop.time() + self._limits.hello_timeout
                del msg  # an idle socket keeps no copy of its last frame while it waits
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
            self._heartbeat.discard(self)
            logger.info("ws.closed", extra={**self._ids(), "reason": reason.value,
                                            "duration_ms": round((loop.time() - started) * 1000)})

    async def _before_joining(self, message: wire.ClientMessage) -> None:
        if not isinstance(message, wire.Hello):
            raise SignallingError("not_joined")
        await self._hello(message)

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

    def _pong(self, payload: bytes) -> None:
        """Answers a client's ping (its payload is at most 125 bytes: aiohttp checks)."""
        transport = self._open_transport()
        if transport is not None:
            transport.write(_SHORT(_PONG, len(payload)) + payload)

    def _open_transport(self) -> asyncio.Transport | None:
        """The socket's transport for a control frame, unless the client is gone."""
        transport = self._transport
        return None if transport.is_closing() else transport

    def _refuse(self, exc: SignallingError) -> None:
        """Tells the client why, by code; a fatal refusal then closes with its reason."""
        self.send(wire.encode(wire.error_message(exc)))
        self._registry.observer.refused(exc.code)
        if exc.close_reason is not None:
            self.close(exc.close_reason)
        logger.info("ws.refused", extra={**self._ids(), "code": exc.code})

    # --- the writer task, while the socket pushes back -----------------------------------------

    async def _write(self, backlog: deque[bytes]) -> None:
        """Sends the backlog, waiting for the client while the transport's buffer is full.

        Ends when the backlog is empty, so later sends write at once again.
        """
        try:
            while backlog:
                await self._ws.send_frame(backlog.popleft(), WSMsgType.TEXT)
        except ConnectionError:  # the client is gone: the read ends too
            backlog.clear()
        finally:
            if self._backlog is backlog:
                self._backlog, self._writer = None, None

    async def _finish_writer(self) -> None:
        writer = self._writer
        if writer is None:
            return
        await asyncio.wait({writer}, timeout=self._limits.close_timeout)
        if not writer.done():  # the client stopped reading: drop what is left
            writer.cancel()
            await asyncio.wait({writer})

    async def _close_socket(self, reason: CloseReason) -> None:
        """Close frame with the reason's code, then wait for the client's (bounded)."""
        with contextlib.suppress(TimeoutError, ConnectionError):
            async with asyncio.timeout(self._limits.close_timeout * 2):
                await self._ws.close(code=reason.close_code, message=reason.value.encode())

    def _ids(self) -> dict[str, str | None]:
        room = self._live.appointment_id if self._live else None
        return {"appointment": room, "participant": self._pid}


def _decode(msg: WSMessage) -> wire.ClientMessage:
    if msg.type is WSMsgType.BINARY:
        raise SignallingError("bad_message", "Send JSON in text frames.")
    return wire.decode_client(msg.data)


def _text_frame(data: bytes) -> bytes:
    """One unmasked, uncompressed text frame, as aiohttp's writer makes it."""
    size = len(data)
    if size < 126:
        return _SHORT(_TEXT, size) + data
    if size < 65536:
        return _MEDIUM(_TEXT, 126, size) + data
    return _LONG(_TEXT, 127, size) + data
