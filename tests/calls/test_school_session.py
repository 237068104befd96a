"""A school meeting of three: teacher and social worker (both staff), parent at home."""

from __future__ import annotations

from signalling.peers.synthetic_media import same_tint
from tests.calls.conftest import Bots, SignIn, book, family_link
from tests.calls.participant_waits import wait_frames, wait_knock, wait_state
from tests.conftest import Accounts


async def test_every_participant_receives_both_others(
    staff_client: SignIn, bots: Bots, accounts: Accounts
) -> None:
    teacher_account = await staff_client("sanna")
    appointment = await book(teacher_account, kind="school_meeting",
                             staff_ids=[accounts.specialist.id])
    teacher = await bots.staff("sanna", appointment, tint=0, tone_hz=440)
    social_worker = await bots.staff("pekka", appointment, tint=1, tone_hz=660)
    parent = bots.family(await family_link(teacher_account, appointment), name="parent",
                         tint=2, tone_hz=880)

    assert await teacher.join() == "admitted"
    assert await social_worker.join() == "admitted"  # staff of the appointment: no waiting
    assert await parent.join() == "waiting"
    assert parent.participant_id is not None
    # Either professional may admit; here the one who did not schedule it does.
    await wait_knock(social_worker, parent.participant_id)
    await social_worker.admit(parent.participant_id)
    await wait_state(parent, "admitted")

    everyone = (teacher, social_worker, parent)
    tones = {teacher: 440, social_worker: 660, parent: 880}
    for receiver in everyone:
        for sender in everyone:
            if sender is receiver:
                continue
            assert sender.participant_id is not None
            media = await wait_frames(receiver, sender.participant_id, 15, audio=10)
            assert media.tint is not None and same_tint(media.tint, sender.tint), (receiver.name,
                                                                               sender.name)
            assert media.audio_hz is not None and abs(media.audio_hz - tones[sender]) < 20
            print(f"{receiver.name} <- {sender.name}: first frame {media.first_video_s:.3f} s")
    for bot in everyone:
        assert len(bot.links) == 2
        assert all(len(history) == 1 for history in bot.received.values())  # no glare redo

