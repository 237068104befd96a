"""A dropped socket: resume within the reconnect grace, or wait again after it."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.settings import Settings
from signalling import messages as wire
from signalling.peers.participant import BotParticipant
from tests.calls.conftest import Bots, SignIn, book, family_link
from tests.calls.participant_waits import wait_frames, wait_knock, wait_message, wait_state


async def _call(staff_client: SignIn, bots: Bots) -> tuple[BotParticipant, BotParticipant]:
    """Sanna and an admitted family, media flowing both ways."""
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    worker = await bots.staff("sanna", appointment)
    family = bots.family(await family_link(sanna, appointment))
    await worker.join()
    await family.join()
    assert family.participant_id is not None and worker.participant_id is not None
    await wait_knock(worker, family.participant_id)
    await worker.admit(family.participant_id)
    await wait_frames(family, worker.participant_id, 5)
    await wait_frames(worker, family.participant_id, 5)
    return worker, family


@pytest.mark.grace(20)
@pytest.mark.parametrize("fresh", [True, False], ids=["fresh", "kept-connections"])
async def test_resume_within_grace_keeps_the_seat_and_media_resumes(
    staff_client: SignIn, bots: Bots, fresh: bool
) -> None:
    worker, family = await _call(staff_client, bots)
    fid, wid = family.participant_id, worker.participant_id
    assert fid is not None and wid is not None

    await family.drop()
    disconnected = await wait_message(worker, wire.PeerDisconnected)
    assert disconnected.participant == fid

    assert await family.resume(fresh=fresh) == "admitted"  # no waiting room, no admission
    welcome = [m for m in family.messages if isinstance(m, wire.Welcome)][-1]
    assert welcome.resumed and welcome.participant == fid
    reconnected = await wait_message(worker, wire.PeerReconnected)
    assert reconnected.participant == fid and reconnected.fresh is fresh
    assert wire.Waiting not in {type(m) for m in family.messages}

    # The worker restarted (a new connection: aiortc cannot restart ICE in place) and
    # media flows again on it, both ways.
    await wait_frames(family, wid, 10)
    await wait_frames(worker, fid, 10)
    assert len(worker.received[fid]) == 2 and len(family.received[wid]) == 2
    assert worker.received[fid][0].state == "closed"
    assert [state for _, state in family.transitions] == [
        "connecting", "waiting", "admitted", "disconnected", "connecting", "admitted"]


@pytest.mark.grace(0.5)
async def test_after_the_grace_the_family_must_wait_again(
    staff_client: SignIn, bots: Bots
) -> None:
    worker, family = await _call(staff_client, bots)
    fid, wid = family.participant_id, worker.participant_id
    assert fid is not None and wid is not None

    await family.drop()
    left = await wait_message(worker, wire.PeerLeft)  # the held seat was freed
    assert left.participant == fid and fid not in worker.links

    assert await family.resume() == "waiting"
    assert "resume_failed" in family.errors
    await wait_knock(worker, fid)
    await worker.admit(fid)
    await wait_frames(family, wid, 5)
    await wait_frames(worker, fid, 5)


@pytest.mark.grace(0.5)
async def test_after_the_grace_staff_take_a_seat_again_without_admission(
    staff_client: SignIn, bots: Bots
) -> None:
    worker, family = await _call(staff_client, bots)
    fid, wid = family.participant_id, worker.participant_id
    assert fid is not None and wid is not None

    await worker.drop()
    await wait_message(family, wire.PeerLeft)
    assert await worker.resume() == "admitted"
    assert "resume_failed" in worker.errors
    # A new seat: the family was in the call first, so it offers to the worker.
    await wait_frames(family, wid, 5)
    await wait_frames(worker, fid, 5)


@pytest.mark.grace(20)
async def test_server_restart_keeps_the_call_and_media_resumes(
    staff_client: SignIn, bots: Bots, kota: TestServer, settings: Settings
) -> None:
    worker, family = await _call(staff_client, bots)
    fid, wid = family.participant_id, worker.participant_id
    assert fid is not None and wid is not None

    await kota.close()  # every socket gets 1001; the seats are held and saved
    for bot in (worker, family):
        await wait_state(bot, "disconnected")
        assert bot.close_code == 1001
        assert bot.links  # the connections are kept: peer-to-peer media needs no server
    restarted = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await restarted.start_server()
    try:
        assert await worker.resume(fresh=False) == "admitted"
        assert await family.resume(fresh=False) == "admitted"  # no new admission
        # The family came back last, so the worker restarts their connection.
        await worker.wait_for(lambda: len(worker.received[fid]) == 2, what="a restart")
        await wait_frames(family, wid, 10)
        await wait_frames(worker, fid, 10)
        assert len(family.received[wid]) == 2
    finally:
        await restarted.close()
