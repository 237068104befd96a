"""A family and a professional: waiting room, admission, and media both ways."""

from __future__ import annotations

from signalling.peers.synthetic_media import TINTS, same_tint
from tests.calls.conftest import Bots, SignIn, book, family_link
from tests.calls.participant_waits import wait_frames, wait_knock, wait_state


async def test_family_is_admitted_and_both_receive_video_and_audio(
    staff_client: SignIn, bots: Bots
) -> None:
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    worker = await bots.staff("sanna", appointment, tint=0, tone_hz=440)
    family = bots.family(await family_link(sanna, appointment), tint=1, tone_hz=660)

    assert await worker.join() == "admitted"
    assert await family.join() == "waiting"
    assert family.position == 1
    assert family.participant_id is not None and worker.participant_id is not None
    assert await wait_knock(worker) == family.participant_id

    await worker.admit(family.participant_id)
    await wait_state(family, "admitted")
    from_worker = await wait_frames(family, worker.participant_id, 20, audio=20)
    from_family = await wait_frames(worker, family.participant_id, 20, audio=20)

    # Each side decoded the other's pattern and tone, not its own.
    assert from_worker.frame_size == (320, 240)
    assert from_worker.tint is not None and same_tint(from_worker.tint, TINTS[0])
    assert from_family.tint is not None and same_tint(from_family.tint, TINTS[1])
    assert from_worker.audio_hz is not None and abs(from_worker.audio_hz - 440) < 20
    assert from_family.audio_hz is not None and abs(from_family.audio_hz - 660) < 20
    assert from_worker.audio_level > 0.05 and from_family.audio_level > 0.05
    assert from_worker.state == "connected" and from_family.state == "connected"
    admitted_at = next(at for at, state in family.transitions if state == "admitted")
    assert from_worker.first_video_at is not None
    print(f"first frame: family {from_worker.first_video_s:.3f} s, "
          f"worker {from_family.first_video_s:.3f} s after their connections were made; "
          f"family {from_worker.first_video_at - admitted_at:.3f} s after admission")

