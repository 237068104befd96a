"""RawWebSocket: a minimal RFC 6455 client protocol for the load generator.

The load generator and the server under test share a two-core machine, so every
microsecond the client spends per message is one the server does not get. aiohttp's
client builds a message object, a future and a task wake-up per frame; this protocol
hands each frame's bytes straight to a callback and writes pre-built frames. It speaks
only what the benchmark needs: text frames, ping/pong, close; no extensions.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from collections.abc import Callable, Mapping

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Client frames must be masked; a zero key leaves the payload as is, so frames can be
# built by concatenation. The server unmasks every frame the same way whatever the key.
_ZERO_MASK = b"\x00\x00\x00\x00"
_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0, 1, 2, 8, 9, 10
MAX_HEADER_BYTES = 16 * 1024


class HandshakeError(Exception):
    """The server did not switch protocols."""


def client_frame(payload: bytes, opcode: int = _OP_TEXT) -> bytes:
    """One final, masked client frame carrying ``payload``."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    return header + _ZERO_MASK + payload


class RawWebSocket(asyncio.Protocol):
    """One client connection; ``on_message`` gets the payload of every text frame."""

    def __init__(self, on_message: Callable[[bytes], None]) -> None:
        self._on_message = on_message
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._fragments: list[bytes] = []
        self._upgraded = False
        self._close_sent = False
        self._key = base64.b64encode(os.urandom(16))
        loop = asyncio.get_running_loop()
        self._handshake: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int] = loop.create_future()

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        path: str,
        on_message: Callable[[bytes], None],
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> RawWebSocket:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(lambda: cls(on_message), host, port)
        protocol._send_upgrade(host, port, path, headers or {})
        await asyncio.wait_for(asyncio.shield(protocol._handshake), timeout)
        return protocol

    def _send_upgrade(self, host: str, port: int, path: str, headers: Mapping[str, str]) -> None:
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self._key.decode()}",
            "Sec-WebSocket-Version: 13",
            # Browsers always send Origin on a WebSocket; a server may rightly insist on it.
            f"Origin: http://{host}:{port}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        assert self._transport is not None
        self._transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._handshake.done():
            self._handshake.set_exception(HandshakeError("connection closed during upgrade"))
        if not self.closed.done():
            self.closed.set_result(1006)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    self._fail_handshake("response headers too long")
                return
            self._check_upgrade(bytes(buf[:end]))
            del buf[: end + 4]
            if not self._upgraded:
                return
        self._read_frames()

    # -- internals ----------------------------------------------------------------------

    def _fail_handshake(self, reason: str) -> None:
        if not self._handshake.done():
            self._handshake.set_exception(HandshakeError(reason))
        if self._transport is not None:
            self._transport.close()

    def _check_upgrade(self, head: bytes) -> None:
        status, *header_lines = head.decode("latin-1").split("\r\n")
        if not status.startswith("HTTP/1.1 101"):
            self._fail_handshake(f"server answered {status!r}")
            return
        accept = base64.b64encode(hashlib.sha1(self._key + _GUID).digest()).decode()  # noqa: S324
        found = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        if found.get("sec-websocket-accept") != accept:
            self._fail_handshake("wrong Sec-WebSocket-Accept")
            return
        self._upgraded = True
        self._handshake.set_result(None)

    def _read_frames(self) -> None:
        buf = self._buf
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, start = b1 & 0x7F, pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if b1 & 0x80:  # a server must not mask; treat it as a broken peer
                self.close(1002)
                return
            end = start + length
            if end > n:
                break
            self._frame(b0, bytes(buf[start:end]))
            pos = end
        if pos:
            del buf[:pos]

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode, final = b0 & 0x0F, b0 & 0x80
        if opcode in (_OP_TEXT, _OP_BINARY, _OP_CONT):
            if not final:
                self._fragments.append(payload)
                return
            if self._fragments:
                payload, self._fragments = b"".join([*self._fragments, payload]), []
            self._on_message(payload)
        elif opcode == _OP_PING:
            self._write(client_frame(payload, _OP_PONG))
        elif opcode == _OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self.closed.done():
                self.closed.set_result(code)
            if not self._close_sent:
                self._close_sent = True
                self._write(client_frame(payload[:2], _OP_CLOSE))
            if self._transport is not None:
                self._transport.close()

    def _write(self, frame: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(frame)

    # -- public -------------------------------------------------------------------------

    def send(self, payload: bytes) -> None:
        """Queue one text frame; never blocks (the benchmark bounds what is in flight)."""
        self._write(client_frame(payload))

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake; ``closed`` resolves when the server answers."""
        if self._close_sent:
            return
        self._close_sent = True
        self._write(client_frame(code.to_bytes(2, "big"), _OP_CLOSE))
        if self._transport is not None and code != 1000:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
