"""The waiting room over a real socket: knock, admit, deny, texts, remove, end."""

from __future__ import annotations

import aiohttp
import pytest

from server.settings import Settings
from tests.conftest import assert_error, wait_until
from tests.signalling_live.conftest import Call, CallClient, wait_for_row


async def test_guest_waits_and_is_admitted(call: Call, settings: Settings) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    knocked = await host.expect("knocked")
    assert knocked["participant"]["participant"] == call.guest_id(0)
    assert knocked["participant"]["display_name"] == "Maija"
    await host.expect("waiting-list")
    await host.send("admit", participant=call.guest_id(0))
    admitted = await guest.expect("admitted")
    assert [p["participant"] for p in admitted["peers"]] == [host.participant]
    assert admitted["resume_secret"]
    await host.expect("waiting-list", waiting=[])
    joined = await host.expect("peer-joined")
    assert joined["peer"]["participant"] == call.guest_id(0)
    entered = await wait_for_row(settings, call.id, "waiting.entered")
    assert (entered.actor_kind, entered.subject_id) == ("participant", int(call.guest_id(0)[2:]))
    by = await wait_for_row(settings, call.id, "admission.admitted")
    assert (by.actor_kind, by.actor_id, by.subject_id) == (
        "staff", int(host.participant[2:]), entered.subject_id)  # type: ignore[index]
    await wait_for_row(settings, call.id, "call.joined")


async def test_staff_of_the_appointment_enter_directly(call: Call) -> None:
    host = await call.staff("sanna")
    colleague = await call.staff("pekka")
    assert (await host.expect("peer-joined"))["peer"]["participant"] == colleague.participant


@pytest.mark.parametrize(("username", "code"), [("olli", "unknown_appointment"),
                                                ("admin", "not_staff")])
async def test_other_staff_do_not_get_in(call: Call, username: str, code: str) -> None:
    stranger = await call.socket(username, call.id)
    await stranger.hello()
    assert await stranger.closed() == 1008
    stranger = await call.socket(username, call.id)
    assert (await stranger.hello())["code"] == code


async def test_admitting_one_never_admits_another(call: Call) -> None:
    host = await call.staff()
    first, second = await call.guest(0), await call.guest(1)
    await host.send("admit", participant=call.guest_id(0))
    await first.expect("admitted")
    await second.expect("waiting", position=1)
    await second.probe()
    assert await waiting_ids(host, without=call.guest_id(0)) == [call.guest_id(1)]


async def test_host_arrival_admits_nobody(call: Call) -> None:
    first, second = await call.guest(0), await call.guest(1)
    host = await call.socket("sanna", call.id)
    welcome = await host.hello()
    assert welcome["peers"] == []
    waiting = await host.expect("waiting-list")
    assert [w["participant"] for w in waiting["waiting"]] == [call.guest_id(0), call.guest_id(1)]
    await first.probe()
    await second.probe()


async def test_waiting_guest_sees_its_place_and_can_leave(call: Call) -> None:
    host = await call.staff()
    first = await call.guest(0)
    second = await call.socket()
    assert (await second.hello(token=call.tokens[1]))["position"] == 2
    await first.send("leave")
    assert await first.closed() == 1000
    await second.expect("waiting", position=1)
    assert await waiting_ids(host, without=call.guest_id(0)) == [call.guest_id(1)]


async def test_deny_closes_and_the_link_may_knock_again(call: Call, settings: Settings) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    await host.send("deny", participant=call.guest_id(0))
    await guest.expect("denied", revoked=False)
    assert await guest.closed() == 4001
    row = await wait_for_row(settings, call.id, "admission.denied", reason="denied")
    assert (row.actor_kind, row.actor_id) == ("staff", int(host.participant[2:]))  # type: ignore[index]
    assert (await call.guest(0)) is not None


async def test_deny_with_revoke_stops_the_link_at_once(call: Call) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    await host.send("deny", participant=call.guest_id(0), revoke=True)
    await guest.expect("denied", revoked=True)
    assert await guest.closed() == 4003
    again = await call.socket()
    assert (await again.hello(token=call.tokens[0]))["code"] == "link_revoked"
    assert await again.closed() == 4003
    await _join_is_refused(call, call.tokens[0])


async def _join_is_refused(call: Call, token: str) -> None:
    async with aiohttp.ClientSession() as family:
        async def revoked() -> bool:
            resp = await family.post(call.kota.make_url("/api/join"), json={"token": token})
            return resp.status == 401

        await wait_until(revoked, what="the link to be revoked")
        resp = await family.post(call.kota.make_url("/api/join"), json={"token": token})
        await assert_error(resp, 401, "link_revoked")


async def test_texts_reach_only_the_addressed(call: Call, settings: Settings) -> None:
    host = await call.staff()
    inside = await call.admitted_guest(host, 2)
    first, second = await call.guest(0), await call.guest(1)
    await host.send("message-waiting", to=call.guest_id(1), text="Hetki vielä")
    await second.expect("staff-message", text="Hetki vielä", to_all=False)
    await first.probe()
    await inside.probe()
    await host.send("message-waiting", to_all=True, text="Aloitamme pian")
    await first.expect("staff-message", text="Aloitamme pian", to_all=True)
    await second.expect("staff-message", text="Aloitamme pian", to_all=True)
    await inside.probe()
    row = await wait_for_row(settings, call.id, "waiting.messaged", recipients=2)
    assert "Aloitamme" not in row.detail and row.subject_id is None


async def test_remove_back_to_the_waiting_room(call: Call, settings: Settings) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    other = await call.admitted_guest(host, 1)
    await guest.expect("peer-joined")  # the second guest
    await host.send("remove", participant=call.guest_id(0))
    await guest.expect("removed", revoked=False)
    await guest.expect("waiting", position=1)
    await other.until("peer-left", participant=call.guest_id(0))
    await host.until("knocked")
    await wait_for_row(settings, call.id, "participant.removed", reason="removed")
    await host.send("admit", participant=call.guest_id(0))
    await guest.expect("admitted")


async def test_remove_with_revoke_puts_them_out(call: Call, settings: Settings) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    await host.send("remove", participant=call.guest_id(0), revoke=True)
    await guest.expect("removed", revoked=True)
    assert await guest.closed() == 4003
    await host.until("peer-left", participant=call.guest_id(0))
    await wait_for_row(settings, call.id, "participant.removed", reason="revoked")
    await wait_for_row(settings, call.id, "link.revoked")
    await _join_is_refused(call, call.tokens[0])


async def test_end_closes_everyone_and_nobody_gets_back_in(call: Call, settings: Settings) -> None:
    host = await call.staff()
    colleague = await call.staff("pekka")
    inside = await call.admitted_guest(host, 0)
    waiting = await call.guest(1)
    await colleague.send("end")
    for client in (host, colleague, inside, waiting):
        await client.until("session-ended")
        assert await client.closed() == 4004
    await wait_for_row(settings, call.id, "session.ended")
    family, staff = await call.socket(), await call.socket("sanna", call.id)
    assert (await family.hello(token=call.tokens[2]))["code"] == "session_ended"
    assert (await staff.hello())["code"] == "session_ended"
    assert await family.closed() == 4004
    assert await staff.closed() == 4004


async def test_waiting_guest_can_never_act_as_staff(call: Call, settings: Settings) -> None:
    await call.staff()
    guest = await call.guest(0)
    await guest.send("admit", participant=call.guest_id(0))
    assert (await guest.expect("error"))["code"] == "not_staff"
    assert await guest.closed() == 1008
    await wait_for_row(settings, call.id, "request.refused", request="admit", code="not_staff")


async def waiting_ids(host: CallClient, *, without: str) -> list[str]:
    """Who is waiting, in order, in the first waiting-list that no longer has ``without``."""
    while True:
        listed = [w["participant"] for w in (await host.until("waiting-list"))["waiting"]]
        if without not in listed:
            return listed
