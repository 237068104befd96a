"""What a family bot sees when staff deny, remove or end, over a real socket and call."""

from __future__ import annotations

from signalling import messages as wire
from signalling.peers.participant import BotParticipant
from tests.calls.conftest import Bots, Json, SignIn, book, family_link
from tests.calls.participant_waits import wait_frames, wait_knock, wait_message, wait_state


async def _waiting_family(staff_client: SignIn, bots: Bots, guests: int = 1
                          ) -> tuple[Json, BotParticipant, list[BotParticipant]]:
    sanna = await staff_client("sanna")
    appointment = await book(sanna, guests=guests)
    worker = await bots.staff("sanna", appointment)
    assert await worker.join() == "admitted"
    families = []
    for index in range(guests):
        family = bots.family(await family_link(sanna, appointment, index), name=f"family{index}")
        assert await family.join() == "waiting"
        assert family.participant_id is not None
        await wait_knock(worker, family.participant_id)
        families.append(family)
    return appointment, worker, families


async def _closed_with(bot: BotParticipant) -> int | None:
    await bot.wait_for(lambda: bot.close_code is not None, what="the socket to close")
    return bot.close_code


async def test_denied_family_is_closed_and_may_knock_again(
    staff_client: SignIn, bots: Bots
) -> None:
    _, worker, (family,) = await _waiting_family(staff_client, bots)
    assert family.participant_id is not None

    await worker.deny(family.participant_id)
    await wait_state(family, "denied")
    assert await _closed_with(family) == 4001
    assert not family.links and not family.received

    assert await family.join() == "waiting"  # the same link still works
    await wait_knock(worker, family.participant_id)


async def test_denied_with_revoke_closes_4003_and_the_link_stops_working(
    staff_client: SignIn, bots: Bots
) -> None:
    _, worker, (family,) = await _waiting_family(staff_client, bots)
    assert family.participant_id is not None

    await worker.deny(family.participant_id, revoke=True)
    await wait_state(family, "revoked")
    assert await _closed_with(family) == 4003

    assert await family.join() == "refused"
    assert family.errors[-1] == "link_revoked"


async def test_removed_family_goes_back_to_waiting_and_can_be_admitted_again(
    staff_client: SignIn, bots: Bots
) -> None:
    _, worker, (family,) = await _waiting_family(staff_client, bots)
    fid, wid = family.participant_id, worker.participant_id
    assert fid is not None and wid is not None
    await worker.admit(fid)
    await wait_frames(family, wid, 5)
    await wait_frames(worker, fid, 5)

    await worker.remove(fid)
    await wait_message(family, wire.Removed)
    await wait_state(family, "waiting")
    assert family.position == 1 and not family.links and not family.peers
    await worker.wait_for(lambda: fid not in worker.links, what="the family's link closed")
    assert worker.received[fid][-1].state == "closed"
    assert family.close_code is None  # removal without revoke keeps the socket

    await worker.admit(fid)
    await wait_state(family, "admitted")
    again = await wait_frames(family, wid, 5)
    assert len(family.received[wid]) == 2  # a new connection, not the old one
    assert again.video_frames >= 5
    await wait_frames(worker, fid, 5)


async def test_removed_with_revoke_closes_4003(staff_client: SignIn, bots: Bots) -> None:
    _, worker, (family,) = await _waiting_family(staff_client, bots)
    assert family.participant_id is not None
    await worker.admit(family.participant_id)
    await wait_state(family, "admitted")

    await worker.remove(family.participant_id, revoke=True)
    await wait_state(family, "revoked")
    assert await _closed_with(family) == 4003
    assert not family.links


async def test_ending_the_session_reaches_everyone_admitted_or_waiting(
    staff_client: SignIn, bots: Bots
) -> None:
    _, worker, (admitted, waiting) = await _waiting_family(staff_client, bots, guests=2)
    assert admitted.participant_id is not None and worker.participant_id is not None
    await worker.admit(admitted.participant_id)
    await wait_frames(admitted, worker.participant_id, 3)

    await worker.end()
    for bot in (admitted, waiting, worker):
        await wait_state(bot, "ended")
        await wait_message(bot, wire.SessionEnded)
        assert await _closed_with(bot) == 4004
        assert not bot.links

    assert await waiting.join() == "refused"  # nobody joins an ended session
    assert waiting.errors[-1] == "session_ended"


async def test_staff_message_reaches_the_waiting_family(staff_client: SignIn, bots: Bots
                                                        ) -> None:
    _, worker, (family,) = await _waiting_family(staff_client, bots)
    await worker.message_waiting("Tulemme hetken kuluttua.", to=family.participant_id)
    notice = await wait_message(family, wire.StaffMessage)
    assert notice.text == "Tulemme hetken kuluttua." and not notice.to_all


async def test_family_that_leaves_frees_its_seat(staff_client: SignIn, bots: Bots) -> None:
    _, worker, (family,) = await _waiting_family(staff_client, bots)
    fid, wid = family.participant_id, worker.participant_id
    assert fid is not None and wid is not None
    await worker.admit(fid)
    await wait_frames(worker, fid, 3)

    await family.leave()
    assert family.state == "left" and family.close_code == 1000 and not family.links
    left = await wait_message(worker, wire.PeerLeft)
    assert left.participant == fid
    await worker.wait_for(lambda: fid not in worker.links, what="the link closed")
