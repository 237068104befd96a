"""Waiting-room texts on live sockets: a reply reaches the staff with its sender's name,
bad or too long texts get a clear error and the socket stays open, and admission
clears the texts on both sides. The usage log records that a text went, never the text."""

from __future__ import annotations

import json

import pytest

from server.settings import Settings
from tests.signalling_live.conftest import Call, wait_for_row


async def test_reply_reaches_the_staff_with_the_senders_name(call: Call,
                                                             settings: Settings) -> None:
    host = await call.staff()
    maija, matti = await call.guest(0), await call.guest(1)
    await host.send("message-waiting", to=call.guest_id(0), text="Hei Maija")
    await maija.expect("staff-message", text="Hei Maija")
    await matti.probe()  # the text went to one person only
    await maija.send("reply", text="Hei, olemme valmiina")
    reply = await host.until("waiting-reply")
    assert reply["from"] == call.guest_id(0)
    assert reply["display_name"] == "Maija"
    assert reply["text"] == "Hei, olemme valmiina"
    await matti.probe()  # never to another waiting person
    row = await wait_for_row(settings, call.id, "waiting.replied", recipients=1)
    assert "olemme" not in (row.detail or "")
    assert row.subject_id is not None


async def test_a_colleague_in_the_call_sees_the_text_to_the_waiting_room(
        call: Call, settings: Settings) -> None:
    """Sanna and Pekka both in the call: Pekka sees what Sanna wrote to Maija, with
    Sanna's name, and Sanna gets no copy of her own text."""
    sanna = await call.staff()
    pekka = await call.staff("pekka")
    await sanna.until("peer-joined")
    maija = await call.guest(0)
    await sanna.send("message-waiting", to=call.guest_id(0), text="Tulemme pian")
    await maija.expect("staff-message", text="Tulemme pian")
    copy = await pekka.until("waiting-message-sent")
    assert copy["by_name"] == "Sanna Aikio"
    assert copy["to"] == [call.guest_id(0)] and copy["text"] == "Tulemme pian"
    # Sanna's first copy is of Pekka's text: none of her own came back.
    await pekka.send("message-waiting", to=call.guest_id(0), text="Olen Pekka")
    first = await sanna.until("waiting-message-sent")
    assert first["by_name"] == "Pekka Lehto" and first["text"] == "Olen Pekka"
    row = await wait_for_row(settings, call.id, "waiting.messaged", recipients=1)
    assert "Tulemme" not in (row.detail or "")


@pytest.mark.parametrize(("text", "code"), [
    pytest.param("x" * 301, "text_too_long", id="too_long"),
    pytest.param("   ", "text_empty", id="blank"),
])
async def test_a_bad_reply_gets_a_clear_error_and_the_socket_stays(
    call: Call, text: str, code: str,
) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    await host.until("waiting-list")
    await guest.send("reply", text=text)
    error = await guest.expect("error", code=code)
    assert error["message"]
    await guest.send("reply", text="Nyt lyhyesti")  # still open, still waiting
    await host.until("waiting-reply", text="Nyt lyhyesti")


@pytest.mark.parametrize("frame", [
    pytest.param({"type": "reply"}, id="no_text"),
    pytest.param({"type": "reply", "text": 7}, id="text_not_a_string"),
    pytest.param({"type": "reply", "text": ""}, id="empty"),
    pytest.param({"type": "reply", "text": "x" * 5000}, id="far_too_long"),
    pytest.param({"type": "reply", "text": "hei", "to": "s:1"}, id="recipient_named"),
])
async def test_a_malformed_reply_is_bad_message_and_the_socket_stays(
    call: Call, frame: dict[str, object],
) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    await host.until("waiting-list")
    await guest.ws.send_str(json.dumps(frame))
    await guest.expect("error", code="bad_message")
    await guest.probe()
    await host.probe()


async def test_too_many_replies_are_refused_without_closing(call: Call) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    await host.until("waiting-list")
    for n in range(3):
        await guest.send("reply", text=f"viesti {n}")
        await host.until("waiting-reply", text=f"viesti {n}")
    await guest.send("reply", text="neljäs")
    await guest.expect("error", code="too_many_texts")
    await guest.probe()
    await host.probe()  # the fourth never arrived


async def test_a_reply_with_no_staff_present_is_refused(call: Call) -> None:
    guest = await call.guest(0)
    await guest.send("reply", text="Onko ketään?")
    await guest.expect("error", code="no_staff_present")
    await guest.probe()


async def test_staff_cannot_reply_and_admitted_people_cannot_either(call: Call) -> None:
    host = await call.staff()
    inside = await call.admitted_guest(host, 0)
    await inside.send("reply", text="hei")
    await inside.expect("error", code="not_waiting")
    await host.send("reply", text="hei")
    await host.until("error", code="not_waiting")
    await inside.probe()


@pytest.mark.parametrize("fields", [
    pytest.param({}, id="no_recipient"),
    pytest.param({"to": None}, id="null_recipient"),
    pytest.param({"to": "l:1", "to_all": True}, id="one_and_all"),
])
async def test_a_staff_text_without_one_clear_recipient_is_refused(
    call: Call, fields: dict[str, object],
) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    await host.until("waiting-list")
    await host.send("message-waiting", text="Kenelle?", **fields)
    error = await host.expect("error", code="bad_message")
    assert "to_all" in error["message"]
    await guest.probe()  # nobody got it
    await host.probe()


async def test_staff_text_to_someone_not_waiting_or_too_long(call: Call) -> None:
    host = await call.staff()
    inside = await call.admitted_guest(host, 0)
    await host.send("message-waiting", to=call.guest_id(0), text="hei")
    await host.expect("error", code="unknown_participant")
    waiting = await call.guest(1)
    await host.until("waiting-list")
    await host.send("message-waiting", to=call.guest_id(1), text="x" * 501)
    await host.expect("error", code="text_too_long")
    await host.send("message-waiting", to=call.guest_id(1), text="x" * 500)
    await waiting.expect("staff-message")
    await inside.probe()


async def test_admission_clears_the_texts_on_both_sides(call: Call) -> None:
    host = await call.staff()
    maija = await call.guest(0)
    await host.until("waiting-list")
    await host.send("message-waiting", to=call.guest_id(0), text="Tervetuloa")
    await maija.expect("staff-message")
    await maija.send("reply", text="Kiitos")
    await host.until("waiting-reply")
    await host.send("admit", participant=call.guest_id(0))
    await maija.expect("admitted")
    await maija.expect("texts-cleared", participant=call.guest_id(0))
    await host.until("texts-cleared", participant=call.guest_id(0))
