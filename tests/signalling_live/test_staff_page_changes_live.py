"""Changes made on the staff pages reach a live call at once: a revoked link or a
participant taken off puts its holder out, a new link lets them knock again, staff added
get in and staff taken off get out, and a cancellation ends the session."""

from __future__ import annotations

from server.settings import Settings
from tests.conftest import Accounts
from tests.signalling_live.conftest import Call, token_of, wait_for_row

REVOKED = 4003  # close code of `revoked` (docs/protocol.md)
ENDED = 4004
POLICY = 1008


def _link_path(call: Call, index: int) -> str:
    pid = call.appointment["participants"][index]["id"]
    return f"/api/appointments/{call.id}/participants/{pid}/link"


async def test_a_link_revoked_on_the_staff_page_takes_its_holder_out_of_the_queue(
    call: Call,
) -> None:
    host = await call.staff()
    guest = await call.guest(0)
    await host.until("knocked")
    resp = await call.sanna.delete(_link_path(call, 0))
    assert resp.status == 204
    await guest.expect("removed", revoked=True)
    assert await guest.closed() == REVOKED
    await host.until("waiting-list", waiting=[])

    # A new link lets the same person knock again in the same live room.
    resp = await call.sanna.post(_link_path(call, 0))
    assert resp.status == 201
    again = await call.socket()
    welcome = await again.hello(token=await token_of(call.sanna, call.appointment, 0))
    assert welcome["state"] == "waiting", welcome
    await host.until("knocked")


async def test_a_link_revoked_during_the_call_takes_its_holder_out(
    call: Call, settings: Settings,
) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 1)
    resp = await call.sanna.delete(_link_path(call, 1))
    assert resp.status == 204
    await guest.expect("removed", revoked=True)
    assert await guest.closed() == REVOKED
    await host.until("peer-left", participant=call.guest_id(1))
    await wait_for_row(settings, call.id, "call.left", reason="revoked")
    old = await call.socket()
    assert (await old.hello(token=call.tokens[1]))["code"] == "link_revoked"


async def test_a_participant_taken_off_the_appointment_leaves_the_queue(call: Call) -> None:
    host = await call.staff()
    guest = await call.guest(2)
    await host.until("knocked")
    pid = call.appointment["participants"][2]["id"]
    resp = await call.sanna.delete(f"/api/appointments/{call.id}/participants/{pid}")
    assert resp.status == 204
    await guest.expect("removed", revoked=True)
    assert await guest.closed() == REVOKED


async def test_staff_added_get_in_and_staff_taken_off_get_out(
    call: Call, accounts: Accounts,
) -> None:
    host = await call.staff()
    colleague = await call.staff("pekka")
    await host.until("peer-joined")
    outsider = await call.socket("olli", call.id)
    assert (await outsider.hello())["code"] == "unknown_appointment"  # not theirs (yet)

    resp = await call.sanna.patch(f"/api/appointments/{call.id}",
                                  json={"staff_ids": [accounts.outsider.id]})
    assert resp.status == 200, await resp.json()
    assert await colleague.closed() == REVOKED
    await host.until("peer-left", participant=colleague.participant)
    newcomer = await call.staff("olli")
    assert newcomer.participant == f"s:{accounts.outsider.id}"
    back = await call.socket("pekka", call.id)
    assert (await back.hello())["code"] == "unknown_appointment"


async def test_cancelling_the_appointment_ends_the_live_session(
    call: Call, settings: Settings,
) -> None:
    host = await call.staff()
    inside = await call.admitted_guest(host, 0)
    waiting = await call.guest(1)
    resp = await call.sanna.post(f"/api/appointments/{call.id}/cancel")
    assert resp.status == 200
    for client in (host, inside, waiting):
        await client.until("session-ended")
        assert await client.closed() == ENDED
    await wait_for_row(settings, call.id, "session.ended")
    # Coming back says why, in the same words as POST /api/join: cancelled, not revoked.
    family = await call.socket()
    assert (await family.hello(token=call.tokens[0]))["code"] == "appointment_cancelled"
    assert await family.closed() == POLICY
    staff = await call.socket("sanna", call.id)
    assert (await staff.hello())["code"] == "appointment_cancelled"
