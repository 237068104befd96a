"""The contact-line wire: good frames decode, bad ones are refused with a code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signalling import line_messages as wire
from signalling.messages import MAX_MESSAGE_BYTES

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("frame", [
    {"type": "hello", "version": "1", "line": "neuvonta", "mode": "chat"},
    {"type": "hello", "version": "1", "line": "neuvonta", "mode": "video", "nickname": "Kettu"},
    {"type": "hello", "version": "1", "enrolment": "a" * 43, "mode": "chat"},
    {"type": "hello", "version": "1", "resume": "b" * 43},
    {"type": "hello", "version": "1", "staff": True},
    {"type": "leave"},
    {"type": "chat", "text": "hei"},
    {"type": "chat", "text": "hei", "session": "s" * 22},
    {"type": "video"},
    {"type": "signal", "payload": {"kind": "offer", "sdp": "v=0"}},
    {"type": "signal", "session": "s" * 22,
     "payload": {"kind": "candidate", "candidate": "", "sdpMid": "0"}},
    {"type": "callback"},
    {"type": "end", "session": "s" * 22},
    {"type": "duty", "lines": [1, 2]},
    {"type": "duty", "lines": []},
    {"type": "take_next"},
    {"type": "hand_over", "session": "s" * 22, "line": 3},
    {"type": "hand_over", "session": "s" * 22, "staff": 4},
])
def test_good_frames_decode(frame: dict[str, object]) -> None:
    message = wire.decode_client(json.dumps(frame))
    assert json.loads(wire.encode(message))["type"] == frame["type"]


@pytest.mark.parametrize("frame", [
    {"type": "hello", "version": "1"},  # nothing to join
    {"type": "hello", "version": "1", "line": "x", "resume": "b" * 43},  # two things
    {"type": "hello", "version": "1", "line": "neuvonta"},  # no mode
    {"type": "hello", "version": "1", "line": "neuvonta", "mode": "fax"},
    {"type": "hello", "version": "1", "line": "Neuvonta!", "mode": "chat"},
    {"type": "hello", "version": "1", "line": "n", "mode": "chat", "nickname": "x" * 41},
    {"type": "hello", "version": "1", "enrolment": "a" * 43, "mode": "chat", "nickname": "K"},
    {"type": "hello", "version": "1", "enrolment": "short", "mode": "chat"},
    {"type": "hello", "version": "1", "staff": True, "extra": 1},
    {"type": "chat", "text": ""},
    {"type": "chat", "text": "x" * 2001},
    {"type": "signal", "payload": {"kind": "offer"}},
    {"type": "duty", "lines": [0]},
    {"type": "duty", "lines": list(range(1, 102))},
    {"type": "hand_over", "session": "s" * 22},
    {"type": "hand_over", "session": "s" * 22, "line": 1, "staff": 2},
    {"type": "probe"},
    [],
])
def test_bad_frames_are_refused(frame: object) -> None:
    with pytest.raises(wire.LineError) as caught:
        wire.decode_client(json.dumps(frame))
    assert caught.value.code == "bad_message"
    assert not caught.value.fatal


def test_oversized_and_broken_frames() -> None:
    big = json.dumps({"type": "chat", "text": "x" * MAX_MESSAGE_BYTES})
    with pytest.raises(wire.LineError) as caught:
        wire.decode_client(big)
    assert caught.value.code == "message_too_big" and caught.value.fatal
    for raw in (b"{", b"\xff\xfe", "\ud800"):
        with pytest.raises(wire.LineError):
            wire.decode_client(raw)


def test_queue_fact_always_carries_its_estimate() -> None:
    sent = json.loads(wire.encode(wire.Queue(position=2, expected_wait_s=None,
                                             closes_first=False, on_duty=0)))
    assert sent == {"type": "queue", "position": 2, "expected_wait_s": None,
                    "closes_first": False, "on_duty": 0}


def test_every_line_error_code_is_translated() -> None:
    for lang in ("fi", "sv", "en", "se"):
        texts = json.loads((ROOT / "web" / "locales" / f"{lang}.json").read_text("utf-8"))
        missing = [c for c in wire.LINE_ERROR_CODES if f"error.{c}" not in texts]
        assert not missing, (lang, missing)
