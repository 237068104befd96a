"""Wire messages, error codes and close codes: decoding is validation, and docs match code."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalling import messages as wire
from signalling.effects import CallAction, CloseReason
from signalling.errors import ERROR_CODES, SignallingError

PROTOCOL_DOC = Path(__file__).parents[2] / "docs" / "protocol.md"
T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def tag(cls: type[msgspec.Struct]) -> str:
    tag_value = cls.__struct_config__.tag
    assert isinstance(tag_value, str)
    return tag_value


CLIENT_TAGS = {tag(cls) for cls in get_args(wire.ClientMessage)}
SERVER_TAGS = {tag(cls) for cls in get_args(wire.ServerMessage)}


def assert_bad(data: bytes | str, code: str = "bad_message") -> SignallingError:
    with pytest.raises(SignallingError) as caught:
        wire.decode_client(data)
    assert caught.value.code == code
    return caught.value


# --- valid messages -----------------------------------------------------------------------

VALID = [
    ('{"type":"hello","version":["1"]}', wire.Hello(version=("1",))),
    ('{"type":"hello","version":["2","1"],"token":"eyJ.a.b"}',
     wire.Hello(version=("2", "1"), token="eyJ.a.b")),
    ('{"type":"hello","version":["1"],"resume":{"participant":"l:7","secret":"' + "s" * 43 + '"}}',
     wire.Hello(version=("1",), resume=wire.ResumeTicket(participant="l:7", secret="s" * 43))),
    ('{"type":"leave"}', wire.Leave()),
    ('{"type":"admit","participant":"l:7"}', wire.Admit(participant="l:7")),
    ('{"type":"deny","participant":"l:7","revoke":true}',
     wire.Deny(participant="l:7", revoke=True)),
    ('{"type":"remove","participant":"l:7"}', wire.Remove(participant="l:7")),
    ('{"type":"end"}', wire.EndSession()),
    ('{"type":"message-waiting","text":"5 min","to_all":true}',
     wire.MessageWaiting(text="5 min", to_all=True)),
    ('{"type":"message-waiting","text":"Hetki","to":"l:7"}',
     wire.MessageWaiting(text="Hetki", to="l:7")),
    ('{"type":"reply","text":"Selvä"}', wire.Reply(text="Selvä")),
    ('{"type":"signal","to":"s:1","payload":{"kind":"offer","sdp":"v=0"}}',
     wire.Signal(to="s:1", payload=wire.SdpOffer(sdp="v=0"))),
    ('{"type":"signal","to":"s:1","payload":{"kind":"candidate","candidate":"",'
     '"sdpMid":"0","sdpMLineIndex":0,"usernameFragment":null}}',
     wire.Signal(to="s:1", payload=wire.IceCandidate(candidate="", sdp_mid="0",
                                                     sdp_m_line_index=0))),
    ('{"type":"chat","text":"hei"}', wire.Chat(text="hei")),
]


@pytest.mark.parametrize(("data", "expected"), VALID)
def test_valid_client_messages_decode(data: str, expected: wire.ClientMessage) -> None:
    assert wire.decode_client(data) == expected
    assert wire.decode_client(data.encode()) == expected
    assert wire.decode_client(wire.encode(expected)) == expected


def test_limits_are_inclusive() -> None:
    assert wire.decode_client(json.dumps({"type": "chat", "text": "x" * 2000}))
    assert wire.decode_client(json.dumps({"type": "message-waiting", "text": "x" * 4000,
                                          "to_all": True}))
    assert wire.decode_client(json.dumps({"type": "reply", "text": "x" * 4000}))
    assert wire.decode_client(json.dumps({"type": "hello", "version": ["1"], "token": "t" * 2048}))
    offer = {"kind": "offer", "sdp": "x" * 32 * 1024}
    assert wire.decode_client(json.dumps({"type": "signal", "to": "a", "payload": offer}))


# --- one named test per bad input -----------------------------------------------------------

BAD = {
    "not_json": b"{type: hello}",
    "not_an_object": b'["hello"]',
    "no_type": b'{"version":["1"]}',
    "unknown_type": b'{"type":"subscribe"}',
    "server_message_sent_by_client": b'{"type":"welcome"}',
    "unknown_field": b'{"type":"leave","x":1}',
    "missing_field": b'{"type":"admit"}',
    "wrong_field_type": b'{"type":"admit","participant":7}',
    "empty_version_list": b'{"type":"hello","version":[]}',
    "token_too_long": json.dumps({"type": "hello", "version": ["1"], "token": "t" * 2049}).encode(),
    "token_and_resume": json.dumps({"type": "hello", "version": ["1"], "token": "t",
                                    "resume": {"participant": "a", "secret": "s" * 20}}).encode(),
    "resume_secret_too_short": b'{"type":"hello","version":["1"],'
                               b'"resume":{"participant":"a","secret":"s"}}',
    "participant_id_with_newline": b'{"type":"admit","participant":"a\\n"}',
    "participant_id_with_slash": b'{"type":"admit","participant":"a/b"}',
    "participant_id_too_long": json.dumps({"type": "admit", "participant": "a" * 65}).encode(),
    "chat_empty": b'{"type":"chat","text":""}',
    "chat_too_long": json.dumps({"type": "chat", "text": "x" * 2001}).encode(),
    # Too long for any rule; a text merely over its rule is the waiting room's text_too_long.
    "notice_too_long": json.dumps({"type": "message-waiting", "text": "x" * 4001,
                                   "to_all": True}).encode(),
    "reply_too_long": json.dumps({"type": "reply", "text": "x" * 4001}).encode(),
    "reply_empty": b'{"type":"reply","text":""}',
    "reply_with_recipient": b'{"type":"reply","text":"hi","to":"s:1"}',
    "notice_without_recipient": b'{"type":"message-waiting","text":"hi"}',
    "notice_with_null_recipient": b'{"type":"message-waiting","text":"hi","to":null}',
    "notice_to_one_and_all": b'{"type":"message-waiting","text":"hi","to":"l:7","to_all":true}',
    "sdp_too_long": json.dumps({"type": "signal", "to": "a",
                                "payload": {"kind": "offer", "sdp": "x" * (32 * 1024 + 1)}}
                               ).encode(),
    "candidate_too_long": json.dumps({"type": "signal", "to": "a",
                                      "payload": {"kind": "candidate", "candidate": "c" * 1025}}
                                     ).encode(),
    "negative_mline_index": b'{"type":"signal","to":"a","payload":'
                            b'{"kind":"candidate","candidate":"c","sdpMLineIndex":-1}}',
    "unknown_payload_kind": b'{"type":"signal","to":"a","payload":{"kind":"rollback"}}',
    "invalid_utf8": b'{"type":"chat","text":"\xff"}',
    "deep_nesting": b'{"type":"chat","text":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
}


@pytest.mark.parametrize("data", BAD.values(), ids=BAD.keys())
def test_bad_message_is_refused(data: bytes) -> None:
    exc = assert_bad(data)
    assert not exc.fatal


def test_lone_surrogate_string_is_bad_message() -> None:
    assert_bad('{"type":"chat","text":"\ud800"}')


def test_message_over_64_kib_is_too_big_and_fatal() -> None:
    data = json.dumps({"type": "chat", "text": "x" * 70_000})
    exc = assert_bad(data, "message_too_big")
    assert close_code_of(exc) == 1009


def test_bad_message_text_is_short() -> None:
    exc = assert_bad(json.dumps({"type": "x" * 10_000}).encode())
    assert len(exc.message) <= 200


# --- anything at all decodes or raises SignallingError -------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)
near_valid = st.builds(
    lambda type_, fields: {"type": type_, **fields},
    st.sampled_from(sorted(CLIENT_TAGS)),
    st.dictionaries(st.sampled_from(["to", "participant", "text", "payload", "version", "token",
                                     "resume", "revoke", "kind", "sdp"]), json_values),
)


def decodes_or_refuses(data: bytes | str) -> None:
    try:
        message = wire.decode_client(data)
    except SignallingError as exc:
        assert exc.code in {"bad_message", "message_too_big"}
    else:
        assert tag(type(message)) in CLIENT_TAGS


@settings(max_examples=300)
@given(json_values | near_valid)
def test_random_json_only_raises_signalling_error(value: Any) -> None:
    decodes_or_refuses(json.dumps(value))


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_signalling_error(data: bytes) -> None:
    decodes_or_refuses(data)


@settings(max_examples=300)
@given(st.sampled_from(["chat", "message-waiting", "admit"]),
       st.sampled_from(["text", "participant", "type"]), st.binary(max_size=64))
def test_random_bytes_inside_strings_only_raise_signalling_error(
    type_: str, field: str, raw: bytes
) -> None:
    decodes_or_refuses(b'{"type":"' + type_.encode() + b'","' + field.encode() + b'":"' + raw
                       + b'"}')


@settings(max_examples=50)
@given(st.sampled_from(sorted(CLIENT_TAGS)), st.sampled_from(["text", "to", "token", "sdp"]),
       st.integers(min_value=1_000, max_value=200_000))
def test_huge_strings_only_raise_signalling_error(type_: str, field: str, size: int) -> None:
    decodes_or_refuses(json.dumps({"type": type_, field: "x" * size}))


# --- server messages -------------------------------------------------------------------------

def test_server_messages_omit_absent_fields_and_use_wire_names() -> None:
    relayed = wire.SignalRelayed(from_="s:1", payload=wire.IceCandidate(candidate="c",
                                                                        sdp_m_line_index=0))
    assert json.loads(wire.encode(relayed)) == {
        "type": "signal", "from": "s:1",
        "payload": {"kind": "candidate", "candidate": "c", "sdpMid": None,
                    "sdpMLineIndex": 0, "usernameFragment": None},
    }
    assert json.loads(wire.encode(wire.Denied())) == {"type": "denied"}
    assert wire.decode_server(wire.encode(relayed)) == relayed


def test_error_message_carries_the_join_window() -> None:
    exc = SignallingError("outside_join_window", opens_at=T0, closes_at=T0)
    assert json.loads(wire.encode(wire.error_message(exc))) == {
        "type": "error", "code": "outside_join_window",
        "message": "The appointment cannot be joined now.",
        "opens_at": "2025-03-03T10:00:00Z", "closes_at": "2025-03-03T10:00:00Z",
    }


@pytest.mark.parametrize(("offered", "chosen"), [(("1",), "1"), (("9", "1"), "1")])
def test_choose_version_takes_the_first_supported(offered: tuple[str, ...], chosen: str) -> None:
    assert wire.choose_version(wire.Hello(version=offered)) == chosen


def test_choose_version_refuses_unknown_versions() -> None:
    with pytest.raises(SignallingError) as caught:
        wire.choose_version(wire.Hello(version=("0", "2")))
    assert caught.value.code == "unsupported_version"
    assert close_code_of(caught.value) == 1008


# --- errors and close codes ------------------------------------------------------------------

def test_unknown_error_code_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown signalling error code"):
        SignallingError("oops")


def close_code_of(exc: SignallingError) -> int | None:
    """The close code that follows the error; None when the socket stays open."""
    return None if exc.close_reason is None else exc.close_reason.close_code


@pytest.mark.parametrize(("code", "close_code"), [
    ("bad_message", None),  # recoverable: the socket stays open
    ("not_staff", 1008),
    ("message_too_big", 1009),
    ("internal", 1011),
    ("link_revoked", 4003),
    ("session_ended", 4004),
    ("rate_limited", 4007),
    ("outside_join_window", 4009),
])
def test_close_code_for_signalling_errors(code: str, close_code: int | None) -> None:
    assert close_code_of(SignallingError(code)) == close_code


def test_close_codes_are_unique_and_in_range() -> None:
    codes = [reason.close_code for reason in CloseReason]
    assert len(set(codes)) == len(codes)
    assert all(c in {1000, 1001, 1008, 1009, 1011} or 4000 <= c <= 4999 for c in codes)


def test_codes_are_snake_case_and_actions_dotted() -> None:
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in ERROR_CODES)
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+(_[a-z]+)*", action) for action in CallAction)


# --- docs/protocol.md cannot drift -------------------------------------------------------------

def doc_sections() -> dict[tuple[str, str], str]:
    """Message sections of the doc, keyed by (direction, type)."""
    text = PROTOCOL_DOC.read_text()
    heading = re.compile(r"^### `([a-z-]+)` \((client → server|server → client)\)$", re.M)
    matches = list(heading.finditer(text))
    sections = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else len(text)
        sections[(match[2], match[1])] = text[match.end():end]
    return sections


def test_every_message_type_is_documented() -> None:
    documented = doc_sections()
    assert {t for d, t in documented if d == "client → server"} == CLIENT_TAGS
    assert {t for d, t in documented if d == "server → client"} == SERVER_TAGS


def test_every_documented_example_decodes() -> None:
    for (direction, type_), body in doc_sections().items():
        examples = re.findall(r"```json\n(.*?)```", body, re.S)
        assert examples, f"{type_} has no JSON example"
        for example in examples:
            if direction == "client → server":
                message: msgspec.Struct = wire.decode_client(example)
            else:
                message = wire.decode_server(example)
            assert tag(type(message)) == type_


def test_every_error_code_close_code_and_action_is_documented() -> None:
    text = PROTOCOL_DOC.read_text()
    for code in ERROR_CODES:
        assert f"| `{code}` |" in text, code
    for reason in CloseReason:
        assert f"| {reason.close_code} | `{reason.value}` |" in text, reason
    for action in CallAction:
        assert f"`{action.value}`" in text, action
