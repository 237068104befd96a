"""EchoPeer: the server's side of the pre-call connection test.

A family (or a professional) checks camera, microphone and network before a call by
connecting to the server itself: the EchoPeer answers their offer, sends their own audio
and video back, and echoes every data-channel message, so the caller can see itself
after a full round trip and time pings. Nothing is recorded or kept: frames pass from
the receiver straight to the sender. Each peer ends itself after ``max_seconds`` or when
its connection fails, and reports that once through ``on_closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from signalling.peers.ice_policy import IcePolicy

logger = logging.getLogger(__name__)

MAX_PING_BYTES: Final = 1024  # a ping is a few dozen bytes; larger messages are dropped


class EchoRefused(ValueError):
    """The offer cannot be answered (not an offer, unparseable, nothing to echo)."""


class EchoPeer:
    def __init__(self, test_id: str, ice: IcePolicy, max_seconds: float,
                 on_closed: Callable[[EchoPeer], None] = lambda peer: None) -> None:
        self.test_id = test_id
        self.max_seconds = max_seconds
        self.echoed_messages = 0
        self.tracks: list[str] = []  # kinds echoed, for the log
        self.closed = False
        self.timed_out = False
        self._ice = ice
        self._on_closed = on_closed
        self._pc = RTCPeerConnection(ice.configuration())  # explicit servers, never the default
        self._closing: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(max_seconds, self._time_up)
        self._pc.on("track", self._echo_track)
        self._pc.on("datachannel", self._echo_channel)
        self._pc.on("connectionstatechange", self._state_changed)

    async def answer(self, offer_sdp: str) -> str:
        """The answer SDP, with every candidate (aiortc does not trickle)."""
        if self.closed:
            raise EchoRefused("the connection test is over")
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            answer = await self._pc.createAnswer()
        except Exception as exc:  # aiortc raises many kinds for a malformed SDP
            logger.info("echo.bad_offer", extra={"test": self.test_id,
                                                 "error": type(exc).__name__})
            raise EchoRefused("the offer could not be used") from None
        if not self.tracks and self._pc.sctp is None:
            raise EchoRefused("the offer has no audio, video or data channel to echo")
        return await self._ice.describe_local(self._pc, answer)

    def close_soon(self) -> None:
        """Close from a callback; ``close`` runs as a task that is kept until done."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self.close())

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._timer.cancel()
        with contextlib.suppress(Exception):  # a half-set-up connection may not close cleanly
            await self._pc.close()
        logger.info("echo.closed", extra={"test": self.test_id, "timed_out": self.timed_out,
                                          "tracks": self.tracks,
                                          "messages": self.echoed_messages})
        self._on_closed(self)

    # --- aiortc callbacks ----------------------------------------------------------------

    def _echo_track(self, track: MediaStreamTrack) -> None:
        """Runs inside setRemoteDescription, before the answer: the track goes back as is."""
        self.tracks.append(track.kind)
        self._pc.addTrack(track)

    def _echo_channel(self, channel: RTCDataChannel) -> None:
        @channel.on("message")
        def _message(message: str | bytes) -> None:
            if len(message) <= MAX_PING_BYTES and channel.readyState == "open":
                self.echoed_messages += 1
                channel.send(message)

    def _state_changed(self) -> None:
        if self._pc.connectionState in ("failed", "closed"):
            self.close_soon()

    def _time_up(self) -> None:
        self.timed_out = True
        self.close_soon()
