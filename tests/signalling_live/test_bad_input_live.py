"""Bad input on a live socket: one named test per kind; the server never falls over."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from aiohttp import WSMsgType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.settings import Settings
from tests.signalling_live.conftest import (
    Call,
    CallClient,
    book,
    token_of,
    wait_for_row,
    ws_url,
)

BIG_SDP = {"kind": "offer", "sdp": "a" * 32 * 1024}


async def test_message_over_64_kib_is_refused_and_closes(call: Call) -> None:
    guest = await call.guest(0)
    await guest.send("chat", text="x" * (65 * 1024))
    assert (await guest.expect("error"))["code"] == "message_too_big"
    assert await guest.closed() == 1009


async def test_frame_far_over_the_limit_is_cut_off_unread(call: Call) -> None:
    guest = await call.guest(0)
    await guest.ws.send_str("x" * (200 * 1024))
    assert await guest.closed() == 1009


@pytest.mark.parametrize("frame", [
    pytest.param('{"type":"subscribe"}', id="unknown_type"),
    pytest.param('{"type":"admit","participant":7}', id="wrong_field_type"),
    pytest.param('{"type":"admit"}', id="missing_field"),
    pytest.param('{"type":"leave","x":1}', id="unknown_field"),
    pytest.param("{type: leave}", id="bad_json"),
    pytest.param('["leave"]', id="not_an_object"),
    pytest.param(b'{"type":"leave"}', id="binary_frame"),
])
async def test_bad_message_gets_an_error_and_changes_nothing(
    call: Call, frame: str | bytes
) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    await host.until("waiting-list")
    if isinstance(frame, bytes):
        await guest.ws.send_bytes(frame)
    else:
        await guest.ws.send_str(frame)
    assert (await guest.expect("error"))["code"] == "bad_message"
    await guest.probe()  # still open, still waiting
    await host.probe()  # nothing happened in the room


async def test_a_text_frame_that_is_not_utf8_is_closed_by_the_websocket_layer(call: Call) -> None:
    guest = await call.guest(0)
    await guest.ws.send_frame(b'{"type":"chat","text":"\xff"}', WSMsgType.TEXT)
    assert await guest.closed() == 1007


async def test_bad_message_before_hello_leaves_hello_possible(call: Call) -> None:
    client = await call.socket()
    await client.ws.send_str("not json")
    assert (await client.expect("error"))["code"] == "bad_message"
    assert (await client.hello(token=call.tokens[0]))["type"] == "welcome"


@pytest.mark.parametrize(("hello", "code"), [
    ({"version": ["0"]}, "unsupported_version"),
    ({"version": ["1"]}, "unauthenticated"),
    ({"version": ["1"], "token": "a.b.c"}, "token_invalid"),
])
async def test_hello_refusals_close_with_policy(
    call: Call, hello: dict[str, Any], code: str
) -> None:
    client = await call.socket()
    await client.send("hello", **hello)
    assert (await client.expect("error"))["code"] == code
    assert await client.closed() == 1008


async def test_request_before_hello_is_not_joined(call: Call) -> None:
    client = await call.socket()
    await client.send("chat", text="hei")
    assert (await client.expect("error"))["code"] == "not_joined"
    assert await client.closed() == 1008


async def test_staff_hello_without_an_appointment_is_refused(call: Call) -> None:
    client = await call.socket("sanna")
    assert (await client.hello())["code"] == "unknown_appointment"
    assert await client.closed() == 1008


@pytest.mark.call_settings(hello_timeout_seconds=0.3)
async def test_no_hello_in_time_closes_with_timeout(call: Call) -> None:
    client = await call.socket()
    assert await client.closed() == 4008


async def test_plain_get_is_refused_with_json(call: Call) -> None:
    resp = await call.sanna.session.get(call.kota.make_url("/ws"))
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "websocket_expected"


async def test_another_sites_page_cannot_open_the_socket(call: Call) -> None:
    with pytest.raises(Exception, match="403"):
        await call.sanna.session.ws_connect(ws_url(call.kota, call.id),
                                            headers={"Origin": "https://evil.example"})


@pytest.mark.call_settings(ws_rate_per_second=5, ws_burst=10)
async def test_a_flood_is_rate_limited_then_closed(call: Call, settings: Settings) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    for _ in range(30):
        if guest.ws.closed:
            break
        await guest.send("chat", text="x")
    assert (await guest.until("error"))["code"] == "rate_limited"
    assert await guest.closed() == 4007
    await host.until("peer-disconnected", participant=guest.participant)
    await wait_for_row(settings, call.id, "call.disconnected", reason="flooding")


@pytest.mark.call_settings(ws_send_queue=8, ws_rate_per_second=10_000, ws_burst=100_000)
async def test_a_client_that_does_not_read_is_closed_as_too_slow(
    call: Call, settings: Settings
) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    # The guest reads nothing while the host sends far more than any buffer holds.
    for _ in range(1000):
        await host.send("signal", to=guest.participant, payload=BIG_SDP)
    await host.until("peer-disconnected", participant=guest.participant)
    assert await guest.closed() == 4006
    await wait_for_row(settings, call.id, "call.disconnected", reason="too_slow")
    # Only the slow client is closed: the host, which reads, is still served.
    await host.ws.send_str('{"type":"probe"}')
    await host.until("error", code="bad_message")


# --- random input to a live socket ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children,
                                                                     max_size=5),
    max_leaves=20,
)
near_valid = st.builds(
    lambda type_, fields: {"type": type_, **fields},
    st.sampled_from(["hello", "leave", "admit", "deny", "remove", "end", "message-waiting",
                     "reply", "signal", "chat", "welcome"]),
    st.dictionaries(st.sampled_from(["to", "to_all", "participant", "text", "payload",
                                     "version", "token", "resume", "revoke"]), json_values,
                    max_size=4),
)
frames = st.lists(
    st.one_of(json_values.map(json.dumps), near_valid.map(json.dumps),
              st.binary(max_size=256), st.text(max_size=256)),
    min_size=1, max_size=6,
)


@pytest.fixture
async def other_call(call: Call) -> tuple[CallClient, CallClient]:
    """Pekka's appointment with one admitted guest: a call that must stay undisturbed."""
    pekka = await call.sign_in("pekka")
    appointment = await book(pekka, guests=[("Olga", "guardian")])
    host = await CallClient.connect(ws_url(call.kota, appointment["id"]), pekka.session)
    guest = await CallClient.connect(ws_url(call.kota))
    call.clients += [host, guest]
    await host.hello()
    await guest.hello(token=await token_of(pekka, appointment, 0))
    await host.until("knocked")
    await host.send("admit", participant=guest.participant)
    await guest.expect("admitted")
    return host, guest


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=frames, joined=st.booleans())
async def test_random_frames_never_hurt_the_server_or_another_call(
    call: Call, other_call: tuple[CallClient, CallClient], frames: list[str | bytes],
    joined: bool,
) -> None:
    client = await CallClient.connect(ws_url(call.kota))
    try:
        if joined:
            assert (await client.hello(token=call.tokens[0]))["type"] == "welcome"
        with contextlib.suppress(ConnectionError):  # a fatal refusal may close it early
            for frame in [*frames, '{"type":"leave"}']:
                if isinstance(frame, bytes):
                    await client.ws.send_bytes(frame)
                else:
                    await client.ws.send_str(frame)
        while (msg := await client.ws.receive(timeout=5)).type is WSMsgType.TEXT:
            assert json.loads(msg.data)["type"] in {"error", "welcome", "waiting"}, msg.data
    finally:
        await client.close()
    resp = await call.sanna.session.get(call.kota.make_url("/healthz"))
    assert resp.status == 200
    host, guest = other_call
    await host.send("signal", to=guest.participant, payload=BIG_SDP)
    assert (await guest.expect("signal"))["from"] == host.participant
