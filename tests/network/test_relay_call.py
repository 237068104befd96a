"""Calls through coturn with the credentials Kota hands out; refused credentials fail fast.

coturn refuses a forged or expired credential with 401, but aiortc then just gathers no
relay candidate and raises nothing: the peer layer must turn that into an error at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

import pytest
from aioice import stun
from aioice.turn import create_turn_endpoint
from aiortc import RTCIceServer, RTCPeerConnection

from signalling.peers.ice_policy import IcePolicy, NoCandidates
from signalling.peers.participant import BotParticipant
from signalling.peers.synthetic_media import TINTS, ToneTrack, same_tint
from tests.calls.conftest import Bots, SignIn, book, family_link
from tests.calls.participant_waits import wait_frames, wait_knock, wait_state
from tests.network.conftest import TurnServer

FAST = 3.0  # seconds: a refusal must be known this quickly


def credentials(secret: str, participant: str, expires_in: int) -> tuple[str, str]:
    username = f"{int(time.time()) + expires_in}:{participant}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


async def allocate(turn: TurnServer, username: str, password: str) -> None:
    """One TURN allocation over UDP, as aioice makes it for a relay candidate."""
    transport, _ = await create_turn_endpoint(asyncio.DatagramProtocol, turn.address,
                                              username, password)
    transport.close()


async def test_relay_only_call_connects_through_kota_issued_credentials(
    staff_client: SignIn, bots: Bots, turn: TurnServer
) -> None:
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    worker = await bots.staff("sanna", appointment, tint=0, relay_only=True)
    family = bots.family(await family_link(sanna, appointment), tint=1, tone_hz=660,
                         relay_only=True)
    await worker.join()
    await family.join()
    await worker.admit(await wait_knock(worker))
    await wait_state(family, "admitted")
    assert family.participant_id and worker.participant_id
    from_worker = await wait_frames(family, worker.participant_id, 15, audio=15)
    from_family = await wait_frames(worker, family.participant_id, 15, audio=15)

    assert from_worker.tint is not None and same_tint(from_worker.tint, TINTS[0])
    assert from_family.tint is not None and same_tint(from_family.tint, TINTS[1])
    assert from_family.audio_hz is not None and abs(from_family.audio_hz - 660) < 20
    # Both ends gathered only relay candidates, so the selected pair is relay to relay.
    assert worker.links[family.participant_id].route() == ("relay", "relay")
    assert family.links[worker.participant_id].route() == ("relay", "relay")
    print(f"first frame through TURN: {from_worker.first_video_s:.3f} s")


@pytest.mark.parametrize("case", ["forged", "expired", "someone_elses_password"])
async def test_coturn_refuses_bad_credentials_with_401_quickly(turn: TurnServer,
                                                               case: str) -> None:
    if case == "forged":
        username, password = credentials("not-" + turn.secret, "l:7", 3600)
    elif case == "expired":
        username, password = credentials(turn.secret, "l:7", -60)
    else:
        username, _ = credentials(turn.secret, "l:7", 3600)
        _, password = credentials(turn.secret, "l:8", 3600)  # someone else's password
    started = time.monotonic()
    with pytest.raises(stun.TransactionFailed) as refused:
        async with asyncio.timeout(FAST):
            await allocate(turn, username, password)
    assert refused.value.response.error_code == 401
    assert time.monotonic() - started < FAST


async def test_coturn_accepts_good_credentials(turn: TurnServer) -> None:
    """The control for the refusals above: the same call with a valid credential works."""
    async with asyncio.timeout(FAST):
        await allocate(turn, *credentials(turn.secret, "l:7", 3600))


async def test_relay_only_with_refused_credentials_is_an_error_not_a_hang(
    turn: TurnServer,
) -> None:
    username, password = credentials("not-" + turn.secret, "l:7", 3600)
    forged = RTCIceServer(urls=turn.url, username=username, credential=password)
    policy = IcePolicy(servers=(forged,), relay_only=True, gather_timeout=FAST)
    pc = RTCPeerConnection(policy.configuration())
    pc.addTrack(ToneTrack())
    started = time.monotonic()
    try:
        with pytest.raises(NoCandidates, match="no relay candidate"):
            await policy.describe_local(pc, await pc.createOffer())
    finally:
        await pc.close()
    assert time.monotonic() - started < FAST


async def test_unreachable_turn_server_is_an_error_within_the_gather_timeout() -> None:
    """A TURN address where nothing answers: aioice waits, our timeout does not."""
    silent = RTCIceServer(urls="turn:127.0.0.1:9", username="1:x", credential="x")
    policy = IcePolicy(servers=(silent,), relay_only=True, gather_timeout=1.0)
    pc = RTCPeerConnection(policy.configuration())
    pc.addTrack(ToneTrack())
    started = time.monotonic()
    try:
        with pytest.raises(NoCandidates):
            await policy.describe_local(pc, await pc.createOffer())
    finally:
        await pc.close()
    assert time.monotonic() - started < FAST


async def test_bot_with_refused_credentials_reports_no_candidates_quickly(
    staff_client: SignIn, bots: Bots, turn: TurnServer
) -> None:
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    worker = await bots.staff("sanna", appointment)
    username, password = credentials("not-" + turn.secret, "l:7", 3600)
    forged = RTCIceServer(urls=turn.url, username=username, credential=password)
    family = BotParticipant.family(await family_link(sanna, appointment), name="family",
                                   ice_servers=[forged], use_server_ice=False,
                                   relay_only=True, gather_timeout=FAST)
    try:
        await worker.join()
        await family.join()
        await worker.admit(await wait_knock(worker))
        await wait_state(family, "admitted")
        assert worker.participant_id is not None
        peer = worker.participant_id

        def refused() -> bool:
            history = family.received.get(peer, [])
            return any(e.startswith("NoCandidates") for m in history for e in m.errors)

        await family.wait_for(refused, FAST + 2, "a no-candidates error")
    finally:
        await family.close()
