"""A line session becomes a video call: two aiortc peers negotiate through /ws/line and
decode each other's frames (loopback ICE only, explicit empty ICE server list)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

import aioice.ice
import pytest

from server.settings import Settings
from signalling import line_messages as wire
from signalling.messages import SignalPayload
from signalling.peers.peer_link import PeerLink
from signalling.peers.synthetic_media import TINTS, TestPatternTrack, ToneTrack
from tests.conftest import Accounts, wait_until
from tests.signalling_live.conftest import CallClient
from tests.signalling_live.line_live import lines_server


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 and would use the machine's external address instead."""

    def loopback(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        return ["127.0.0.1"] if use_ipv4 else []

    monkeypatch.setattr(aioice.ice, "get_host_addresses", loopback)


def link(client: CallClient, session: str | None, *, polite: bool, tint: int) -> PeerLink:
    async def send_signal(_peer: str, payload: SignalPayload) -> None:
        fields = {"payload": json.loads(wire.encode(wire.SignalRelayed(payload=payload)))[
            "payload"]}
        if session is not None:
            fields["session"] = session
        await client.send("signal", **fields)

    return PeerLink("other", 1, polite=polite, ice_servers=(), send_signal=send_signal,
                    make_tracks=lambda: [TestPatternTrack(tint=TINTS[tint]), ToneTrack()],
                    on_change=lambda: None)


async def relay(client: CallClient, peer: PeerLink, skip: Callable[[dict[str, object]], None],
                ) -> None:
    """Hands every signal the socket brings to the peer."""
    while True:
        data = await client.recv()
        if data["type"] == "signal":
            message = wire.decode_server(json.dumps(data))
            assert isinstance(message, wire.SignalRelayed)
            peer.deliver(message.payload)
        else:
            skip(data)


async def test_a_chat_becomes_a_video_call_with_frames_both_ways(
        settings: Settings, accounts: Accounts) -> None:
    async with lines_server(settings, accounts) as lines:
        line = await lines.make_line(modes="both")
        chat_only = await lines.make_line(slug="vain-chat", name="Chat", modes="chat")
        sanna = await lines.staff("sanna", duty=[line["id"], chat_only["id"]])
        person, _ = await lines.person()
        await sanna.send("take_next")
        started = await sanna.until("session")
        assert started["mode"] == "chat" and started["ice_servers"] == []
        taken = await person.until("taken")
        assert taken["mode"] == "chat"
        session = started["session"]
        await person.send("video")
        await person.until("video")
        await sanna.until("video", session=session)

        staff_peer = link(sanna, session, polite=False, tint=0)
        person_peer = link(person, None, polite=True, tint=1)
        others: list[dict[str, object]] = []
        tasks = [asyncio.create_task(relay(sanna, staff_peer, others.append)),
                 asyncio.create_task(relay(person, person_peer, others.append))]
        try:
            staff_peer.offer()

            def both_see_frames() -> bool:
                return (staff_peer.media.video_frames > 3
                        and person_peer.media.video_frames > 3)

            await wait_until(both_see_frames, timeout=30, what="frames both ways")
            assert staff_peer.media.tint is None or staff_peer.media.tint != TINTS[0]
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await staff_peer.close()
            await person_peer.close()
        await sanna.send("end", session=session)
        await sanna.until("ended", session=session)

        # a chat-only line offers no video
        other, _ = await lines.person(slug="vain-chat")
        await sanna.send("take_next")
        second = (await sanna.until("session"))["session"]
        await other.until("taken")
        await other.send("video")
        await other.until("error", code="video_not_offered")
        await sanna.send("video", session=second)
        await sanna.until("error", code="video_not_offered")
        refused = await lines.socket()
        await refused.send("hello", version="1", line="vain-chat", mode="video")
        await refused.expect("error", code="mode_not_offered")
        await refused.send("hello", version="1", line="vain-chat", mode="chat")
        await refused.expect("welcome")
        await refused.until("queue", position=1)
