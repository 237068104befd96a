"""BotParticipant: a headless call participant that speaks the browser's protocol.

It joins the way a browser does — a family with the join token in ``hello``, staff with
a session cookie from ``POST /api/session`` — waits, is admitted, builds the mesh with
one PeerLink per peer following docs/protocol.md (who offers, perfect negotiation,
resume and restart), sends a test pattern and a tone, and counts what it receives.
Tests and benchmarks use it as a real peer; ``kota bot`` runs it against a live server.

Every change wakes ``wait_for``, so callers wait on conditions, never on time (the
tests' own waits, in tests/calls/participant_waits.py, are built on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, Final, Self
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec
from aiortc import RTCIceServer
from aiortc.mediastreams import MediaStreamTrack

from signalling import messages as wire
from signalling.peers.ice_policy import DEFAULT_GATHER_TIMEOUT, IcePolicy, rtc_ice_servers
from signalling.peers.mesh import Mesh
from signalling.peers.peer_link import PeerLink, ReceivedMedia
from signalling.peers.synthetic_media import TINTS, TestPatternTrack, ToneTrack

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 10.0
SOCKET_PATH: Final = "/ws"
# Closes that were a decision, not a lost connection: reconnecting cannot help.
_FINAL_CLOSES: Final = frozenset({1000, 1008, 1009, 4001, 4003, 4004, 4005, 4007, 4009})


class BotState(StrEnum):
    NEW = "new"
    CONNECTING = "connecting"  # socket open, hello sent, no welcome yet
    WAITING = "waiting"
    ADMITTED = "admitted"
    # The socket was lost (dropped, server restarting, 1006...): the seat may be held for
    # resume(); peer connections are kept, as media may still flow.
    DISCONNECTED = "disconnected"
    DENIED = "denied"
    REVOKED = "revoked"  # removed or denied with the link revoked
    ENDED = "ended"
    REFUSED = "refused"  # hello refused with a fatal error
    LEFT = "left"
    CLOSED = "closed"  # closed for good for another reason (replaced, flooding, close())


# States a bot does not leave by itself.
FINAL_STATES: Final = frozenset({BotState.DENIED, BotState.REVOKED, BotState.ENDED,
                                 BotState.REFUSED, BotState.LEFT, BotState.CLOSED})


def socket_url(base_url: str, appointment_id: int | None = None) -> str:
    """The call socket of the server at ``base_url``; staff name their appointment."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = "" if appointment_id is None else f"appointment={appointment_id}"
    return urlunsplit((scheme, parts.netloc, SOCKET_PATH, query, ""))


def split_join_link(link: str) -> tuple[str, str]:
    """``https://host/join#TOKEN`` → (``https://host``, ``TOKEN``)."""
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.fragment:
        raise ValueError("a join link looks like https://host/join#token")
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), parts.fragment


class BotParticipant:
    """One participant. Make it with ``family()`` or ``staff()``, then ``await join()``."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        appointment_id: int | None = None,
        session: aiohttp.ClientSession | None = None,
        name: str = "bot",
        ice_servers: Sequence[RTCIceServer] = (),
        use_server_ice: bool = True,
        relay_only: bool = False,
        gather_timeout: float = DEFAULT_GATHER_TIMEOUT,
        tint: tuple[int, int] = TINTS[0],
        tone_hz: int = 440,
        video_size: tuple[int, int] = (320, 240),
        fps: int = 15,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = socket_url(self.base_url, appointment_id)
        self.name = name
        self.token = token
        # Our own servers come before the ones the server hands out in welcome/admitted
        # (unless ``use_server_ice`` is off); aiortc takes the first STUN and first TURN.
        self.ice_servers = list(ice_servers)  # never aiortc's public STUN default
        self.use_server_ice = use_server_ice
        self.server_ice_servers: tuple[wire.IceServer, ...] = ()  # as the server last gave
        self.tint, self.tone_hz, self.video_size, self.fps = tint, tone_hz, video_size, fps
        self.http = session or aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.state = BotState.NEW
        self.participant_id: str | None = None
        self.is_staff = False
        self.position: int | None = None
        self.resume_secret: str | None = None
        self.close_code: int | None = None
        self.transitions: list[tuple[float, BotState]] = []
        self.messages: deque[wire.ServerMessage] = deque(maxlen=1000)  # all but signals
        self.errors: list[str] = []
        self.waiting: dict[str, wire.WaitingPerson] = {}  # staff: the live waiting list
        self.relay_only = relay_only  # ours; the server's policy may add relay-only
        ice = IcePolicy(tuple(self.ice_servers), relay_only, gather_timeout)
        self.mesh = Mesh(ice=ice, make_tracks=self._make_tracks,
                         send_signal=self._send_signal, on_change=self._notify)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._dropping = False
        self._leaving = False
        self._closing = False
        self._resuming = False

    @property
    def peers(self) -> dict[str, wire.Peer]:
        """The other seated participants, as the server last described them."""
        return self.mesh.peers

    @property
    def links(self) -> dict[str, PeerLink]:
        """The live peer connections, by participant id."""
        return self.mesh.links

    @property
    def received(self) -> dict[str, list[ReceivedMedia]]:
        """What every connection ever made to each peer received, oldest first."""
        return self.mesh.received

    # --- making one ----------------------------------------------------------------------

    @classmethod
    def family(cls, link: str, **options: Any) -> Self:
        """A family member joining with their private link; the token is its fragment."""
        base, token = split_join_link(link)
        return cls(base, token=token, **options)

    @classmethod
    async def staff(
        cls, base_url: str, username: str, password: str, appointment_id: int, **options: Any
    ) -> Self:
        """A professional: signs in over HTTP so the cookie rides on the socket upgrade."""
        bot = cls(base_url, appointment_id=appointment_id, name=username, **options)
        resp = await bot.http.post(
            f"{bot.base_url}/api/session", json={"username": username, "password": password}
        )
        if resp.status != 201:
            body = await resp.text()
            await bot.http.close()
            raise PermissionError(f"sign-in as {username!r} failed: {resp.status} {body[:200]}")
        return bot

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- joining, leaving, resuming -------------------------------------------------------

    async def join(self, timeout: float = DEFAULT_TIMEOUT) -> BotState:  # noqa: ASYNC109
        """Open the socket, say hello, and return the state the welcome (or refusal) gave."""
        await self._connect()
        await self._send(wire.Hello(version=wire.SUPPORTED_VERSIONS, token=self.token))
        await self.wait_for(lambda: self.state is not BotState.CONNECTING, timeout, "welcome")
        return self.state

    async def resume(self, fresh: bool = True, timeout: float = DEFAULT_TIMEOUT) -> BotState:  # noqa: ASYNC109
        """Reconnect with the resume secret; falls back to a normal hello if refused.

        ``fresh`` (the default) drops every peer connection first, as a reloaded page
        would, and peers offer anew. With ``fresh=False`` connections whose peer and seat
        still match are kept and the peers restart them.
        """
        if self.participant_id is None or self.resume_secret is None:
            raise RuntimeError("nothing to resume: the bot never held a seat")
        if self._ws is not None and not self._ws.closed:
            await self.drop()
        if fresh:
            await self.mesh.close_links()
        ticket = wire.ResumeTicket(participant=self.participant_id, secret=self.resume_secret,
                                   fresh=fresh)
        self._resuming = True
        await self._connect()
        await self._send(wire.Hello(version=wire.SUPPORTED_VERSIONS, resume=ticket))
        await self.wait_for(lambda: self.state is not BotState.CONNECTING, timeout, "welcome")
        return self.state

    async def drop(self) -> None:
        """Lose the socket without a close frame, as a network failure would."""
        ws = self._ws
        if ws is None or ws.closed:
            return
        self._dropping = True
        sock = ws.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        await self.wait_for(lambda: self._reader is None or self._reader.done(), 5, "drop")

    async def leave(self) -> None:
        self._leaving = True
        await self._send(wire.Leave())
        await self.wait_for(lambda: self.state is BotState.LEFT, DEFAULT_TIMEOUT, "left")

    async def close(self) -> None:
        """Close the socket, every connection and track, and the HTTP session."""
        self._closing = True
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._reader is not None:
            # Not cancelled: its cleanup may be closing connections, and a cancel midway
            # would leave aiortc's decoder threads running.
            await self._reader
        await self.mesh.close_links()
        if self.state not in FINAL_STATES:
            self._set_state(BotState.CLOSED)
        await self.http.close()

    # --- staff requests ------------------------------------------------------------------

    async def admit(self, participant: str) -> None:
        await self._send(wire.Admit(participant=participant))

    async def deny(self, participant: str, revoke: bool = False) -> None:
        await self._send(wire.Deny(participant=participant, revoke=revoke))

    async def remove(self, participant: str, revoke: bool = False) -> None:
        await self._send(wire.Remove(participant=participant, revoke=revoke))

    async def end(self) -> None:
        await self._send(wire.EndSession())

    async def message_waiting(self, text: str, to: str | None = None) -> None:
        """To ``to``, or with None explicitly to everyone waiting."""
        await self._send(wire.MessageWaiting(text=text, to=to, to_all=to is None))

    async def reply(self, text: str) -> None:
        await self._send(wire.Reply(text=text))

    async def chat(self, text: str) -> None:
        await self._send(wire.Chat(text=text))

    # --- waiting on conditions -----------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
        what: str = "condition",
    ) -> None:
        """Return once ``predicate()`` holds; re-checked on every change the bot sees."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no {what} within {timeout} s ({self.describe()})")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def describe(self) -> str:
        frames = ", ".join(f"{p}: {m.video_frames}v/{m.audio_frames}a {m.state} {m.errors}"
                           for p, h in self.received.items() for m in h[-1:])
        return f"state {self.state}, close {self.close_code}, errors {self.errors}, {frames}"

    # --- the socket ----------------------------------------------------------------------

    async def _connect(self) -> None:
        self._dropping = self._leaving = False
        self._ws = await self.http.ws_connect(self.url, origin=self.base_url,
                                              max_msg_size=wire.MAX_MESSAGE_BYTES)
        self.close_code = None
        self._set_state(BotState.CONNECTING)
        self._reader = asyncio.create_task(self._read(self._ws), name=f"bot-{self.name}")

    async def _send(self, message: wire.ClientMessage) -> None:
        if self._ws is None or self._ws.closed:
            raise ConnectionError(f"{self.name}: the socket is not open")
        async with self._send_lock:
            await self._ws.send_str(wire.encode(message).decode())

    async def _send_signal(self, peer_id: str, payload: wire.SignalPayload) -> None:
        with contextlib.suppress(ConnectionError):  # lost socket: the resume renegotiates
            await self._send(wire.Signal(to=peer_id, payload=payload))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        code: int | None = None
        try:
            while True:
                frame = await ws.receive()
                if frame.type is aiohttp.WSMsgType.TEXT:
                    await self._dispatch(frame.data)
                elif frame.type is aiohttp.WSMsgType.CLOSE:
                    code = int(frame.data)  # what a browser reports; ws.close_code may be 1006
                    break
                elif frame.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                                    aiohttp.WSMsgType.ERROR):
                    break
        except (aiohttp.ClientError, ConnectionError):
            pass
        finally:
            self.close_code = code if code is not None else ws.close_code
            if self._leaving:
                self._set_state(BotState.LEFT)
            elif self.state in FINAL_STATES:
                pass
            elif self._dropping or (self.state is BotState.ADMITTED and not self._closing
                                    and self.close_code not in _FINAL_CLOSES):
                self._set_state(BotState.DISCONNECTED)
            else:
                self._set_state(BotState.CLOSED)
            if self.state is not BotState.DISCONNECTED:
                await self.mesh.leave()
            self._notify()

    async def _dispatch(self, data: str) -> None:
        try:
            message = wire.decode_server(data)
        except msgspec.MsgspecError:
            logger.warning("bot.bad_server_message", extra={"bot": self.name})
            return
        await self._handle(message)

    # --- facts from the server -----------------------------------------------------------

    async def _handle(self, message: wire.ServerMessage) -> None:
        if not isinstance(message, wire.SignalRelayed):
            self.messages.append(message)
        match message:
            case wire.SignalRelayed(from_=peer_id, payload=payload):
                self.mesh.signal(peer_id, payload)
            case wire.Welcome():
                await self._on_welcome(message)
            case wire.Error(code=code):
                await self._on_error(code)
            case wire.Waiting(position=position):
                self.position = position
                self._set_state(BotState.WAITING)
            case wire.Admitted(resume_secret=secret, peers=peers, ice_servers=ice):
                self.resume_secret = secret
                self._take_ice_servers(ice, message.ice_transport_policy)
                assert self.participant_id is not None
                await self.mesh.seat(self.participant_id, peers, resumed=False)
                self._set_state(BotState.ADMITTED)
            case wire.Denied(revoked=revoked):
                self._set_state(BotState.REVOKED if revoked else BotState.DENIED)
            case wire.Removed(revoked=revoked):
                await self.mesh.leave()
                self._set_state(BotState.REVOKED if revoked else BotState.WAITING)
            case wire.SessionEnded():
                self._set_state(BotState.ENDED)
            case wire.WaitingList(waiting=waiting):
                self.waiting = {w.participant: w for w in waiting}
            case wire.PeerJoined(peer=peer):
                await self.mesh.peer_joined(peer)
            case wire.PeerLeft(participant=peer_id):
                await self.mesh.peer_left(peer_id)
            case wire.PeerDisconnected(participant=peer_id):
                self.mesh.peer_disconnected(peer_id)
            case wire.PeerReconnected(participant=peer_id, seat=seat, fresh=fresh):
                await self.mesh.peer_reconnected(peer_id, seat, fresh)
            case _:
                pass  # knocked, chat, staff-message: kept in self.messages
        self._notify()

    async def _on_welcome(self, welcome: wire.Welcome) -> None:
        self.participant_id = welcome.participant
        self.is_staff = welcome.staff
        self._resuming = False
        if welcome.state == "waiting":
            self.position = welcome.position
            self._set_state(BotState.WAITING)
            return
        self.resume_secret = welcome.resume_secret
        self._take_ice_servers(welcome.ice_servers, welcome.ice_transport_policy)
        await self.mesh.seat(welcome.participant, welcome.peers or (), resumed=welcome.resumed)
        self._set_state(BotState.ADMITTED)

    async def _on_error(self, code: str) -> None:
        self.errors.append(code)
        if code == "resume_failed" and self._resuming:
            # The seat is gone: knock again the normal way, as the browser does.
            self._resuming = False
            await self.mesh.leave()
            await self._send(wire.Hello(version=wire.SUPPORTED_VERSIONS, token=self.token))
        elif self.state is BotState.CONNECTING:
            self._set_state(BotState.REFUSED)

    # --- bookkeeping ---------------------------------------------------------------------

    def _take_ice_servers(self, given: tuple[wire.IceServer, ...] | None,
                          policy: wire.IceTransportPolicy = "all") -> None:
        """Fresh TURN credentials on every seat; connections made from now on use them.

        The server's relay-only policy binds us too (unless we ignore its servers), so a
        bot never shows its address to the other participants either.
        """
        self.server_ice_servers = given or ()
        servers = rtc_ice_servers(self.server_ice_servers) if self.use_server_ice else []
        relay_only = self.relay_only or (self.use_server_ice and policy == "relay")
        self.mesh.ice = dataclasses.replace(self.mesh.ice.with_given(servers),
                                            relay_only=relay_only)

    def _make_tracks(self) -> list[MediaStreamTrack]:
        width, height = self.video_size
        return [TestPatternTrack(width, height, self.fps, self.tint), ToneTrack(self.tone_hz)]

    def _set_state(self, state: BotState) -> None:
        if state is self.state:
            return
        logger.debug("bot.state", extra={"bot": self.name, "old": self.state, "new": state})
        self.state = state
        self.transitions.append((asyncio.get_running_loop().time(), state))
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
