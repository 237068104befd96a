"""PeerLink: a headless participant's connection to one other participant of the mesh.

It owns one RTCPeerConnection at a time, negotiates it over the call's ``signal``
messages and counts what arrives. aiortc 1.16 has neither ``restartIce()`` nor
rollback, so two protocol steps are done by replacing the connection instead:

- an **ICE restart** is a new RTCPeerConnection and a new offer; the other side sees a
  new DTLS fingerprint and ICE credentials and answers on a new connection of its own;
- the **polite** side of an offer collision drops its own offer by replacing the
  connection (the impolite side ignores the colliding offer, as perfect negotiation says).

Every incoming item is handled in order by one worker task, so an offer is always
applied before the candidates that follow it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import av
from aiortc import RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from signalling import messages as wire
from signalling.peers.ice_policy import IcePolicy, NoCandidates, selected_pair
from signalling.peers.synthetic_media import audio_level, estimate_frequency, read_tint

logger = logging.getLogger(__name__)

MAX_INBOX: Final = 512
MAX_EARLY_CANDIDATES: Final = 64
_SAMPLE_VIDEO_EVERY: Final = 15  # one tint reading a second at 15 fps
_SAMPLE_AUDIO_EVERY: Final = 25  # one level reading every half second
_ICE_UFRAG = re.compile(r"^a=ice-ufrag:(\S+)", re.M)
_FINGERPRINT = re.compile(r"^a=fingerprint:(.+?)\s*$", re.M)

SendSignal = Callable[[str, wire.SignalPayload], Awaitable[None]]
TrackFactory = Callable[[], Sequence[MediaStreamTrack]]


@dataclass
class ReceivedMedia:
    """What arrived over one RTCPeerConnection; times are event-loop seconds."""

    created_at: float
    video_frames: int = 0
    audio_frames: int = 0
    first_video_at: float | None = None
    first_audio_at: float | None = None
    frame_size: tuple[int, int] | None = None
    tint: tuple[int, int] | None = None
    audio_level: float = 0.0
    audio_hz: float | None = None
    states: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # negotiation steps that raised

    @property
    def first_video_s(self) -> float | None:
        """Seconds from creating the connection to its first decoded video frame."""
        return None if self.first_video_at is None else self.first_video_at - self.created_at

    @property
    def state(self) -> str:
        return self.states[-1] if self.states else "new"


def _ice_identity(sdp: str) -> tuple[str | None, str | None]:
    ufrag = _ICE_UFRAG.search(sdp)
    print_ = _FINGERPRINT.search(sdp)
    return (ufrag.group(1) if ufrag else None, print_.group(1).lower() if print_ else None)


class PeerLink:
    """One remote participant: its current RTCPeerConnection and the media it sent."""

    def __init__(
        self,
        peer_id: str,
        seat: int,
        *,
        polite: bool,
        ice_servers: Sequence[RTCIceServer] = (),
        ice: IcePolicy | None = None,
        send_signal: SendSignal,
        make_tracks: TrackFactory,
        on_change: Callable[[], None],
        history: list[ReceivedMedia] | None = None,
    ) -> None:
        self.peer_id = peer_id
        self.seat = seat
        self.polite = polite
        # Every connection made to this peer; the caller may share one list across links.
        self.connections: list[ReceivedMedia] = [] if history is None else history
        self._ice = ice or IcePolicy(servers=tuple(ice_servers))  # explicit, even if empty
        self._send_signal = send_signal
        self._make_tracks = make_tracks
        self._on_change = on_change
        self._inbox: asyncio.Queue[wire.SignalPayload | str] = asyncio.Queue(MAX_INBOX)
        self._early: list[wire.IceCandidate] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._tracks: list[MediaStreamTrack] = []
        self._closed = False
        self.pc = self._new_pc()
        self._worker = asyncio.create_task(self._run(), name=f"peer-link-{peer_id}")

    @property
    def media(self) -> ReceivedMedia:
        """What the current connection has received."""
        return self.connections[-1]

    def route(self) -> tuple[str, str] | None:
        """Candidate types (local, remote) of the current connection's selected pair."""
        return selected_pair(self.pc)

    # --- requests from the participant; each is queued for the worker --------------------

    def offer(self) -> None:
        """Send an offer on the current connection (we were in the call first)."""
        self._put("offer")

    def restart(self) -> None:
        """The ICE restart of the protocol: here a new connection and a new offer."""
        self._put("restart")

    def deliver(self, payload: wire.SignalPayload) -> None:
        self._put(payload)

    def _put(self, item: wire.SignalPayload | str) -> None:
        if self._closed:
            return
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:  # a peer flooding us: drop this connection's input
            logger.warning("peer_link.inbox_full", extra={"peer": self.peer_id})

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        await self._close_pc()

    # --- the worker ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            item = await self._inbox.get()
            try:
                await self._handle(item)
            except asyncio.CancelledError:
                raise
            except NoCandidates as exc:  # no route can exist: say so now, not never
                logger.warning("peer_link.no_candidates", extra={"peer": self.peer_id})
                self.media.errors.append(f"NoCandidates: {exc}"[:200])
                self._on_change()
            except Exception as exc:  # one bad description must not stop the link
                logger.exception("peer_link.negotiation_failed", extra={"peer": self.peer_id})
                self.media.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                self._on_change()

    async def _handle(self, item: wire.SignalPayload | str) -> None:
        if item == "restart":
            await self._replace_pc()
            await self._make_offer()
        elif item == "offer":
            await self._make_offer()
        elif isinstance(item, wire.SdpOffer):
            await self._take_offer(item.sdp)
        elif isinstance(item, wire.SdpAnswer):
            await self._take_answer(item.sdp)
        elif isinstance(item, wire.IceCandidate):
            if self.pc.remoteDescription is None:
                if len(self._early) < MAX_EARLY_CANDIDATES:
                    self._early.append(item)
                return
            await self._add_candidate(item)

    async def _make_offer(self) -> None:
        if self.pc.signalingState == "closed":
            await self._replace_pc()
        # aiortc gathers every candidate before this returns, so the SDP carries them all.
        sdp = await self._ice.describe_local(self.pc, await self.pc.createOffer())
        await self._send_signal(self.peer_id, wire.SdpOffer(sdp=sdp))

    async def _take_offer(self, sdp: str) -> None:
        state = self.pc.signalingState
        if state == "have-local-offer":
            if not self.polite:
                logger.info("peer_link.offer_ignored", extra={"peer": self.peer_id})
                return
            await self._replace_pc()  # the polite side's rollback
        elif state == "closed" or not self._same_remote(sdp):
            await self._replace_pc()  # the other side restarted: a new connection
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
        await self._apply_early_candidates()
        sdp = await self._ice.describe_local(self.pc, await self.pc.createAnswer())
        await self._send_signal(self.peer_id, wire.SdpAnswer(sdp=sdp))

    async def _take_answer(self, sdp: str) -> None:
        state = self.pc.signalingState
        if state == "have-local-offer" and self._same_remote(sdp):
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
            await self._apply_early_candidates()
        elif state in ("have-local-offer", "closed"):
            # Answered from a new connection: the polite side replaced its own in a
            # collision (which closed ours). Ours cannot take it; start over on a new one.
            await self._replace_pc()
            await self._make_offer()
        else:
            logger.info("peer_link.stale_answer", extra={"peer": self.peer_id})

    def _same_remote(self, sdp: str) -> bool:
        """No remote yet, or ``sdp`` comes from the same remote connection (no ICE restart)."""
        current = self.pc.remoteDescription
        return current is None or _ice_identity(current.sdp) == _ice_identity(sdp)

    async def _apply_early_candidates(self) -> None:
        early, self._early = self._early, []
        for candidate in early:
            await self._add_candidate(candidate)

    async def _add_candidate(self, item: wire.IceCandidate) -> None:
        candidate = None  # "" means end of candidates
        if item.candidate:
            try:
                candidate = candidate_from_sdp(item.candidate.removeprefix("candidate:"))
            except (AssertionError, ValueError, IndexError):
                logger.info("peer_link.bad_candidate", extra={"peer": self.peer_id})
                return
            candidate.sdpMid = item.sdp_mid
            candidate.sdpMLineIndex = item.sdp_m_line_index
        try:
            await self.pc.addIceCandidate(candidate)
        except ValueError:  # aioice: a candidate after end-of-candidates; harmless
            logger.info("peer_link.late_candidate", extra={"peer": self.peer_id})

    # --- connections ---------------------------------------------------------------------

    def _new_pc(self) -> RTCPeerConnection:
        loop = asyncio.get_running_loop()
        media = ReceivedMedia(created_at=loop.time())
        self.connections.append(media)
        pc = RTCPeerConnection(self._ice.configuration())
        self._tracks = list(self._make_tracks())
        for track in self._tracks:
            pc.addTrack(track)

        @pc.on("connectionstatechange")
        def _state_changed() -> None:
            media.states.append(pc.connectionState)
            self._on_change()

        @pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            task = asyncio.create_task(receive_media(track, media, self._on_change))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return pc

    async def _replace_pc(self) -> None:
        await self._close_pc()
        self._early = []
        self.pc = self._new_pc()
        self._on_change()

    async def _close_pc(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for track in self._tracks:
            track.stop()
        await self.pc.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def receive_media(track: MediaStreamTrack, media: ReceivedMedia,
                        on_change: Callable[[], None]) -> None:
    """Decode-and-count loop for one received track, until it ends."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if isinstance(frame, av.VideoFrame):
            media.video_frames += 1
            if media.first_video_at is None:
                media.first_video_at = loop.time()
            if media.video_frames % _SAMPLE_VIDEO_EVERY == 1:
                media.frame_size = (frame.width, frame.height)
                media.tint = read_tint(frame)
        elif isinstance(frame, av.AudioFrame):
            media.audio_frames += 1
            if media.first_audio_at is None:
                media.first_audio_at = loop.time()
            if media.audio_frames % _SAMPLE_AUDIO_EVERY == 5:  # past the decoder's start
                media.audio_level = max(media.audio_level, audio_level(frame))
                media.audio_hz = estimate_frequency(frame)
        on_change()
