"""Signalling relay between admitted participants only; the cap; other appointments."""

from __future__ import annotations

import pytest

from server.settings import Settings
from tests.signalling_live.conftest import Call, book, wait_for_row

OFFER = {"kind": "offer", "sdp": "v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\n"}


def candidate(n: int) -> dict[str, object]:
    return {"kind": "candidate", "candidate": f"candidate:{n} 1 udp 2122260223 127.0.0.1 "
            f"{50000 + n} typ host", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "f3Ab"}


async def test_signals_are_relayed_between_admitted_participants(call: Call) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    await host.send("signal", to=guest.participant, payload=OFFER)
    relayed = await guest.expect("signal")
    assert relayed == {"type": "signal", "from": host.participant, "payload": OFFER}
    answer = {"kind": "answer", "sdp": "v=0\r\n"}
    await guest.send("signal", to=host.participant, payload=answer)
    assert (await host.expect("signal"))["payload"] == answer


async def test_a_burst_of_ice_candidates_is_not_flooding(call: Call) -> None:
    """Six peers' worth of candidates at once passes the default rate limit."""
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    for n in range(150):
        await host.send("signal", to=guest.participant, payload=candidate(n))
    for n in range(150):
        assert (await guest.expect("signal"))["payload"] == candidate(n)
    await host.probe()


@pytest.mark.call_settings(ws_rate_per_second=10_000, ws_burst=100_000)
async def test_a_client_that_reads_late_gets_every_signal_in_order(call: Call) -> None:
    """Far more than the socket buffers at once: the rest waits in the send queue, in order."""
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    sdp = "a" * (32 * 1024 - 4)  # the largest SDP, numbered in its first four characters
    for n in range(200):  # 6.5 MB while the guest reads nothing
        await host.send("signal", to=guest.participant, payload={"kind": "offer",
                                                                 "sdp": f"{n:04d}{sdp}"})
    await host.probe()  # every signal was taken, none refused
    assert (await guest.until("signal"))["payload"]["sdp"][:4] == "0000"
    for n in range(1, 200):
        assert (await guest.expect("signal"))["payload"]["sdp"][:4] == f"{n:04d}"
    await guest.probe()


async def test_chat_reaches_the_others_and_only_a_count_is_kept(
    call: Call, settings: Settings
) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    waiting = await call.guest(1)
    await guest.send("chat", text="Kuuluuko ääni?")
    chat = await host.until("chat", text="Kuuluuko ääni?")
    assert chat["from"] == guest.participant and chat["at"]
    await waiting.probe()
    await guest.probe()  # not echoed to the sender
    row = await wait_for_row(settings, call.id, "chat.sent", recipients=1)
    assert "Kuuluuko" not in row.detail


async def test_a_waiting_guest_cannot_signal_chat_or_learn_the_call(
    call: Call, settings: Settings
) -> None:
    host = await call.staff()
    inside = await call.admitted_guest(host, 0)
    waiting = await call.guest(1)
    await waiting.send("signal", to=host.participant, payload=OFFER)
    assert (await waiting.expect("error"))["code"] == "not_admitted"
    await waiting.send("signal", to="s:999", payload=OFFER)  # same answer for a made-up id
    assert (await waiting.expect("error"))["code"] == "not_admitted"
    await waiting.send("chat", text="hei")
    assert (await waiting.expect("error"))["code"] == "not_admitted"
    await host.until("waiting-list")  # the knock
    await host.probe()
    await inside.probe()
    await call.admitted_guest(host, 2)  # peers change; the waiting guest hears nothing of it
    await waiting.probe()
    refused = await wait_for_row(settings, call.id, "signal.refused")
    assert refused.subject_id == int(call.guest_id(1)[2:])
    await wait_for_row(settings, call.id, "request.refused", request="chat", code="not_admitted")


async def test_signal_to_someone_not_in_the_call_is_unknown_peer(call: Call) -> None:
    host = await call.staff()
    await call.guest(0)
    await host.until("waiting-list")
    await host.send("signal", to=call.guest_id(0), payload=OFFER)
    assert (await host.expect("error"))["code"] == "unknown_peer"
    await host.send("signal", to=host.participant, payload=OFFER)
    assert (await host.expect("error"))["code"] == "unknown_peer"


async def test_a_link_cannot_open_another_appointment(call: Call, settings: Settings) -> None:
    other = await _other_appointment(call)
    guest = await call.socket(appointment_id=other)
    assert (await guest.hello(token=call.tokens[0]))["code"] == "token_invalid"
    assert await guest.closed() == 1008
    row = await wait_for_row(settings, other, "link.refused", reason="token_wrong_appointment")
    assert row.subject_id == int(call.guest_id(0)[2:])


async def _other_appointment(call: Call) -> int:
    pekka = await call.sign_in("pekka")
    return int((await book(pekka, guests=[("Olga", "guardian")]))["id"])


async def test_a_joined_socket_cannot_hello_again(call: Call, settings: Settings) -> None:
    guest = await call.guest(0)
    await guest.send("hello", version=["1"], token=call.tokens[1])
    assert (await guest.expect("error"))["code"] == "already_joined"
    assert await guest.closed() == 1008
    await wait_for_row(settings, call.id, "request.refused", request="hello",
                       code="already_joined")


@pytest.mark.call_settings(max_participants=2)
async def test_the_call_is_capped(call: Call) -> None:
    host = await call.staff()
    await call.admitted_guest(host, 0)
    await call.guest(1)
    await host.until("knocked")
    await host.send("admit", participant=call.guest_id(1))
    assert (await host.until("error"))["code"] == "room_full"
    colleague = await call.socket("pekka", call.id)
    assert (await colleague.hello())["code"] == "room_full"
    await colleague.probe()  # recoverable: the socket stays open for another hello


async def test_sound_only_switches_are_logged_and_refused_to_the_waiting(
    call: Call, settings: Settings
) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    waiting = await call.guest(1)
    await guest.send("media-mode", audio_only=True, weak=True)
    await host.send("media-mode", audio_only=True, weak=False)
    await guest.send("media-mode", audio_only=False, weak=False)
    await waiting.send("media-mode", audio_only=True, weak=True)
    assert (await waiting.expect("error"))["code"] == "not_admitted"
    await waiting.send("media-mode", audio_only="yes")
    assert (await waiting.expect("error"))["code"] == "bad_message"
    await guest.probe()  # nothing relayed, nothing refused
    on = await wait_for_row(settings, call.id, "call.sound_only", on=True, weak=True)
    assert on.actor_kind == "participant" and on.subject_id is not None
    await wait_for_row(settings, call.id, "call.sound_only", on=False, weak=False)
    by_staff = await wait_for_row(settings, call.id, "call.sound_only", on=True, weak=False)
    assert by_staff.actor_kind == "staff" and by_staff.subject_id is None
    await wait_for_row(settings, call.id, "request.refused", request="media-mode",
                       code="not_admitted")
