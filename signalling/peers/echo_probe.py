"""EchoProbe: the caller's side of the pre-call connection test, as a headless peer.

It does what the family page does (docs/api.md, "Connection test"): asks the server for
a test and its ICE servers, offers media and a data channel to the server's EchoPeer,
counts the frames that come back, times pings over the data channel, reads loss, jitter
and bitrate from the connection's statistics, and posts the numbers. Tests and the
capacity benchmark use it; ``video`` lets the benchmark send pre-encoded frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from signalling import messages as wire
from signalling.peers.ice_policy import IcePolicy, rtc_ice_servers, selected_pair
from signalling.peers.peer_link import ReceivedMedia, receive_media
from signalling.peers.synthetic_media import TINTS, TestPatternTrack, ToneTrack

PATH: Final = "/api/connection-test"
_CLOCK_RATES: Final = {"video": 90_000, "audio": 48_000}


class ProbeRefused(Exception):
    """The server answered with an error: ``status`` and the error ``code``."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        error = body.get("error", {})
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.code = str(error.get("code"))
        self.body = body


@dataclass(frozen=True)
class ProbeReport:
    """What the caller measured; ``result_body`` is what it posts (numbers only)."""

    rtt_ms: float | None
    loss_pct: float | None
    jitter_ms: float | None
    bitrate_kbps: float | None
    relay_reachable: bool

    def result_body(self, verdict: str) -> dict[str, Any]:
        return {"rtt_ms": self.rtt_ms, "loss_pct": self.loss_pct, "jitter_ms": self.jitter_ms,
                "bitrate_kbps": self.bitrate_kbps, "relay_reachable": self.relay_reachable,
                "verdict": verdict}


class EchoProbe:
    def __init__(self, base_url: str, http: aiohttp.ClientSession, *, token: str | None = None,
                 headers: Mapping[str, str] | None = None, ice: IcePolicy | None = None,
                 tint: tuple[int, int] = TINTS[0], tone_hz: int = 440,
                 video_size: tuple[int, int] = (320, 240), fps: int = 15,
                 video: Callable[[], MediaStreamTrack] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.token = token
        self.headers = dict(headers or {})
        self.ice = ice or IcePolicy()
        self.test: dict[str, Any] = {}  # the server's answer to start(): id, ice_servers, …
        self.media = ReceivedMedia(created_at=0.0)
        self.rtts_ms: list[float] = []
        self.pc: RTCPeerConnection | None = None
        self.closed_at: float | None = None  # when the connection ended (server or us)
        self.local_sdp = ""
        self._make_video = video or (lambda: TestPatternTrack(*video_size, fps, tint))
        self._tone_hz = tone_hz
        self._channel: RTCDataChannel | None = None
        self._pongs: asyncio.Queue[str] = asyncio.Queue(64)
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._tracks: list[MediaStreamTrack] = []

    @property
    def test_id(self) -> str:
        return str(self.test["id"])

    async def start(self) -> dict[str, Any]:
        """Ask for a test: its id, ICE servers (TURN credentials), limits and thresholds."""
        self.test = await self._post(PATH, {}, expect=201)
        return self.test

    async def connect(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Offer, take the answer and wait until the first echoed video frame arrives."""
        loop = asyncio.get_running_loop()
        given = [wire.IceServer(**s) for s in self.test.get("ice_servers", [])]
        self.pc = pc = RTCPeerConnection(self.ice.with_given(rtc_ice_servers(given))
                                         .configuration())
        self.media = ReceivedMedia(created_at=loop.time())
        self._tracks = [self._make_video(), ToneTrack(self._tone_hz)]
        for track in self._tracks:
            pc.addTrack(track)
        self._channel = channel = pc.createDataChannel("ping")
        channel.on("message", self._on_pong)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)
        self.local_sdp = await self.ice.describe_local(pc, await pc.createOffer())
        answer = await self._post(f"{PATH}/{self.test_id}/offer",
                                  {"type": "offer", "sdp": self.local_sdp})
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        await self.wait_for(lambda: self.media.video_frames > 0 and channel.readyState == "open",
                            timeout, "the first echoed frame")

    async def ping(self, count: int = 5, timeout: float = 5.0) -> list[float]:  # noqa: ASYNC109
        """Round trips over the data channel, one at a time, in milliseconds."""
        assert self._channel is not None
        loop = asyncio.get_running_loop()
        for seq in range(count):
            sent = loop.time()
            self._channel.send(f"ping:{seq}")
            async with asyncio.timeout(timeout):
                while await self._pongs.get() != f"ping:{seq}":
                    pass
            self.rtts_ms.append((loop.time() - sent) * 1000)
        return self.rtts_ms

    async def report(self) -> ProbeReport:
        """Loss, jitter and bitrate of what came back so far; RTT from ``ping``."""
        assert self.pc is not None
        loop = asyncio.get_running_loop()
        lost = received = 0
        jitters: list[float] = []
        received_bytes = 0
        for stat in (await self.pc.getStats()).values():
            if stat.type == "inbound-rtp":
                lost += max(0, stat.packetsLost)
                received += stat.packetsReceived
                # Audio packets leave evenly spaced, so their jitter is the network's;
                # video jitter also holds frame pacing and the echo's re-encoding.
                if stat.kind == "audio":
                    jitters.append(stat.jitter / _CLOCK_RATES.get(stat.kind, 90_000) * 1000)
            elif stat.type == "transport":
                received_bytes += stat.bytesReceived
        started = self.media.first_video_at
        seconds = loop.time() - started if started is not None else 0.0
        connected = received > 0 and seconds > 0
        return ProbeReport(
            rtt_ms=round(statistics.median(self.rtts_ms), 2) if self.rtts_ms else None,
            loss_pct=round(100 * lost / (lost + received), 2) if connected else None,
            jitter_ms=round(max(jitters), 2) if connected and jitters else None,
            bitrate_kbps=round(received_bytes * 8 / 1000 / seconds, 1) if connected else None,
            relay_reachable=" typ relay" in self.local_sdp,
        )

    async def post_result(self, report: ProbeReport, verdict: str) -> dict[str, Any]:
        return await self._post(f"{PATH}/{self.test_id}/result", report.result_body(verdict))

    def route(self) -> tuple[str, str] | None:
        return selected_pair(self.pc) if self.pc is not None else None

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0,  # noqa: ASYNC109
                       what: str = "condition") -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                if self.closed_at is not None:
                    raise ConnectionError(f"the connection ended before {what}")
                await self._changed.wait()

    async def close(self) -> None:
        for track in self._tracks:
            track.stop()
        if self.pc is not None:
            await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- internals -------------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any], expect: int = 200) -> dict[str, Any]:
        if self.token is not None:
            body = {**body, "token": self.token}
        async with self.http.post(f"{self.base_url}{path}", json=body,
                                  headers=self.headers) as resp:
            answer: dict[str, Any] = await resp.json()
            if resp.status != expect:
                raise ProbeRefused(resp.status, answer)
            return answer

    def _on_track(self, track: MediaStreamTrack) -> None:
        task = asyncio.ensure_future(receive_media(track, self.media, self._notify))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_pong(self, message: str | bytes) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._pongs.put_nowait(message if isinstance(message, str) else message.decode())

    def _on_state(self) -> None:
        assert self.pc is not None
        if self.pc.connectionState in ("failed", "closed") and self.closed_at is None:
            self.closed_at = asyncio.get_running_loop().time()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
