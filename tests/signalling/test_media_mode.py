"""media-mode: the sound-only switch is a usage-log row, refused to anyone not seated."""

import pytest

from signalling import messages as wire
from signalling.dispatch import handle
from signalling.effects import CallAction, Record
from signalling.errors import SignallingError
from tests.signalling.test_room import GUARDIAN, at, in_call, refused


def test_an_admitted_participant_switching_sound_only_leaves_one_row() -> None:
    room = in_call(GUARDIAN)
    effects = handle(room, "l:g", wire.MediaMode(audio_only=True, weak=True), at(5))
    assert effects == [Record(CallAction.CALL_SOUND_ONLY, "l:g", at(5),
                              detail={"on": True, "weak": True})]


def test_video_back_and_staff_switching_are_recorded_too() -> None:
    room = in_call(GUARDIAN)
    back = handle(room, "l:g", wire.MediaMode(audio_only=False), at(6))
    staff = handle(room, "s:1", wire.MediaMode(audio_only=True, weak=False), at(7))
    assert back == [Record(CallAction.CALL_SOUND_ONLY, "l:g", at(6),
                           detail={"on": False, "weak": False})]
    assert staff == [Record(CallAction.CALL_SOUND_ONLY, "s:1", at(7),
                            detail={"on": True, "weak": False})]


def test_a_waiting_person_is_not_admitted_and_the_refusal_is_recorded() -> None:
    room = in_call()
    room.join(GUARDIAN, at(1))
    with pytest.raises(SignallingError) as caught:
        handle(room, "l:g", wire.MediaMode(audio_only=True), at(2))
    assert caught.value.code == "not_admitted"
    assert caught.value.records == (
        Record(CallAction.REQUEST_REFUSED, "l:g", at(2),
               detail={"request": "media-mode", "code": "not_admitted"}),)


def test_a_participant_whose_seat_is_held_is_not_joined() -> None:
    room = in_call(GUARDIAN)
    room.disconnected("l:g", at(3))
    with refused("not_joined"):
        room.media_mode("l:g", True, False, at(4))


@pytest.mark.parametrize("frame", [
    b'{"type": "media-mode"}',
    b'{"type": "media-mode", "audio_only": "yes"}',
    b'{"type": "media-mode", "audio_only": true, "weak": 1}',
    b'{"type": "media-mode", "audio_only": true, "video": false}',
])
def test_a_malformed_media_mode_is_bad_message(frame: bytes) -> None:
    with pytest.raises(SignallingError) as caught:
        wire.decode_client(frame)
    assert caught.value.code == "bad_message"


def test_media_mode_decodes_with_weak_optional() -> None:
    assert wire.decode_client(b'{"type": "media-mode", "audio_only": true}') == \
        wire.MediaMode(audio_only=True, weak=False)
