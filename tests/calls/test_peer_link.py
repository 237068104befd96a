"""PeerLink back to back, without a server: negotiation rules on real aiortc connections.

The relay here stands in for the server's ``signal`` relay. ``trickle`` makes it behave
like a browser: candidates leave the SDP and travel as separate ``candidate`` signals.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from signalling import messages as wire
from signalling.peers.peer_link import PeerLink
from signalling.peers.synthetic_media import TINTS, TestPatternTrack, ToneTrack, same_tint

_CANDIDATE = re.compile(r"^a=(candidate:.*|end-of-candidates)\r?\n", re.M)


@dataclass
class Pair:
    polite: PeerLink  # "a", whose id sorts lower
    impolite: PeerLink  # "b"
    changed: asyncio.Event

    async def until(self, what: str, predicate: Callable[[], bool], timeout: float = 8) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while not predicate():
                await self.changed.wait()
                self.changed.clear()

    def flowing(self, frames: int = 5) -> bool:
        return all(link.media.video_frames >= frames and link.media.state == "connected"
                   for link in (self.polite, self.impolite))


def _pair(trickle: bool) -> Pair:
    changed = asyncio.Event()
    links: dict[str, PeerLink] = {}

    def make(me: str, other: str, tint: tuple[int, int]) -> PeerLink:
        async def relay(to: str, payload: wire.SignalPayload) -> None:
            target = links[to]
            if trickle and isinstance(payload, wire.SdpOffer | wire.SdpAnswer):
                lines = [m.group(1) for m in _CANDIDATE.finditer(payload.sdp)]
                stripped = _CANDIDATE.sub("", payload.sdp)
                target.deliver(type(payload)(sdp=stripped))
                for line in lines:
                    text = "" if line == "end-of-candidates" else line
                    target.deliver(wire.IceCandidate(candidate=text, sdp_mid="0",
                                                     sdp_m_line_index=0))
            else:
                target.deliver(payload)

        return PeerLink(other, 1, polite=me < other, ice_servers=[], send_signal=relay,
                        make_tracks=lambda: [TestPatternTrack(tint=tint), ToneTrack()],
                        on_change=changed.set)

    # links[x] is the link *held by* x; a relay to "b" delivers to b's link to "a".
    links["a"] = make("a", "b", TINTS[0])
    links["b"] = make("b", "a", TINTS[1])
    return Pair(links["a"], links["b"], changed)


@pytest.fixture
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    made = _pair(trickle=getattr(request, "param", False))
    yield made
    await made.polite.close()
    await made.impolite.close()


@pytest.mark.parametrize("pair", [False, True], ids=["candidates-in-sdp", "trickled"],
                         indirect=True)
async def test_offer_and_answer_carry_media_both_ways(pair: Pair) -> None:
    pair.polite.offer()
    await pair.until("media", pair.flowing)
    assert pair.impolite.media.tint and same_tint(pair.impolite.media.tint, TINTS[0])
    assert pair.polite.media.tint and same_tint(pair.polite.media.tint, TINTS[1])


async def test_restart_replaces_both_connections_and_media_resumes(pair: Pair) -> None:
    pair.impolite.offer()
    await pair.until("media", pair.flowing)
    pair.impolite.restart()
    await pair.until("media on new connections", lambda: (
        len(pair.polite.connections) == 2 and len(pair.impolite.connections) == 2
        and pair.flowing()))
    assert pair.polite.connections[0].state == "closed"


async def test_offer_collision_settles_on_one_connection_with_media(pair: Pair) -> None:
    pair.polite.offer()
    await pair.until("media", pair.flowing)
    pair.polite.offer()
    pair.impolite.offer()  # both renegotiate at once: glare
    await pair.until("media after the collision", lambda: (
        len(pair.polite.connections) > 1 and pair.flowing()
        and pair.polite.pc.signalingState == pair.impolite.pc.signalingState == "stable"))


async def test_stray_answers_and_candidates_are_ignored(pair: Pair) -> None:
    pair.polite.offer()
    await pair.until("media", pair.flowing)
    assert pair.impolite.pc.localDescription is not None
    pair.impolite.deliver(wire.SdpAnswer(sdp=pair.polite.pc.localDescription.sdp))
    pair.impolite.deliver(wire.IceCandidate(candidate="candidate:garbage", sdp_mid="0"))
    pair.impolite.deliver(wire.IceCandidate(candidate="", sdp_mid="0"))  # end, and again:
    pair.impolite.deliver(wire.IceCandidate(candidate="", sdp_mid="0"))
    pair.impolite.deliver(wire.IceCandidate(
        candidate="candidate:1 1 udp 2122260223 127.0.0.1 9 typ host", sdp_mid="0"))
    frames = pair.impolite.media.video_frames
    await pair.until("more media", lambda: pair.impolite.media.video_frames > frames + 5)
    assert len(pair.impolite.connections) == 1 and pair.impolite.media.state == "connected"
    assert not pair.impolite.media.errors
