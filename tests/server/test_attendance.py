"""derive_attendance: connected spells from the call's usage-log rows, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.attendance import derive_attendance
from server.call_members import CallId, parse_call_id
from server.records import AuditRow

T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
GUEST = CallId(False, 7)
HOST = CallId(True, 2)


def rows(*events: tuple[int, CallId, str]) -> list[AuditRow]:
    return [AuditRow(id=i, at=T0 + timedelta(seconds=s), actor_kind="staff" if who.is_staff
                     else "participant", actor_id=who.id, action=action, appointment_id=1,
                     subject_id=None if who.is_staff else who.id, detail="", prev_hash="",
                     hash="")
            for i, (s, who, action) in enumerate(events, 1)]


def test_spells_add_up_without_the_grace_period() -> None:
    found = derive_attendance(rows(
        (120, GUEST, "call.joined"), (600, GUEST, "call.disconnected"),
        (610, GUEST, "call.reconnected"), (1200, GUEST, "call.left"),
        (1300, GUEST, "call.joined"), (1400, GUEST, "call.disconnected"),
        (1460, GUEST, "call.left"),  # grace ran out: counts to the disconnect only
    ), (), T0 + timedelta(hours=1))[GUEST]
    assert found.first_joined == T0 + timedelta(seconds=120)
    assert found.last_left == T0 + timedelta(seconds=1400)
    assert found.connected == timedelta(seconds=480 + 590 + 100)
    assert not found.in_call


def test_someone_in_the_call_now_counts_up_to_now() -> None:
    now = T0 + timedelta(seconds=1800)
    found = derive_attendance(rows((0, HOST, "call.joined")), {HOST}, now)[HOST]
    assert (found.connected, found.in_call, found.last_left) == (
        timedelta(seconds=1800), True, None)


def test_a_spell_lost_in_a_crash_ends_at_its_last_row() -> None:
    found = derive_attendance(rows((0, HOST, "call.joined")), (), T0 + timedelta(hours=5))[HOST]
    assert (found.connected, found.in_call, found.last_left) == (timedelta(0), False, T0)


def test_rows_of_other_actors_are_ignored() -> None:
    system = AuditRow(1, T0, "system", None, "call.left", 1, None, "", "", "")
    assert derive_attendance([system], (), T0) == {}


@pytest.mark.parametrize(("text", "expected"), [
    ("s:2", CallId(True, 2)), ("l:17", CallId(False, 17)), ("x:1", None), ("s:", None),
    ("l:-1", None), ("l:²", None), ("s:1234567890123", None), ("l:7 ", None)])
def test_only_ids_this_server_issues_are_read_back(text: str, expected: CallId | None) -> None:
    assert parse_call_id(text) == expected
    if expected is not None:
        assert str(expected) == text


def _lost(row_id: int, seconds: int) -> AuditRow:
    """The server's ``server.lost`` row: system actor, no appointment."""
    return AuditRow(id=row_id, at=T0 + timedelta(seconds=seconds), actor_kind="system",
                    actor_id=None, action="server.lost", appointment_id=None, subject_id=None,
                    detail="", prev_hash="", hash="")


def test_a_crash_ends_open_spells_at_the_last_moment_seen_alive() -> None:
    """Joined at 0, the server last alive at 300, back at 367: the outage is not counted,
    and the seat resumed after the restart starts a new spell."""
    before = rows((0, HOST, "call.joined"), (10, GUEST, "call.joined"))
    after = rows((367, HOST, "call.reconnected"), (400, HOST, "call.left"))
    after = [AuditRow(**{**r.__dict__, "id": r.id + 10}) for r in after]
    found = derive_attendance([*before, _lost(5, 300), *after], (), T0 + timedelta(hours=1))
    assert found[HOST].connected == timedelta(seconds=300 + 33)
    assert found[HOST].last_left == T0 + timedelta(seconds=400)
    # The guest never came back: their spell ends where the server was last alive.
    assert found[GUEST].connected == timedelta(seconds=290)
    assert found[GUEST].last_left == T0 + timedelta(seconds=300)


def test_a_spell_begun_after_the_last_mark_counts_nothing_of_the_outage() -> None:
    found = derive_attendance([*rows((305, GUEST, "call.joined")), _lost(2, 300)], (),
                              T0 + timedelta(hours=1))[GUEST]
    assert found.connected == timedelta(0)
    assert not found.in_call


def test_a_crash_before_anyone_joined_changes_nothing() -> None:
    later = [AuditRow(**{**r.__dict__, "id": r.id + 1})
             for r in rows((100, GUEST, "call.joined"), (160, GUEST, "call.left"))]
    found = derive_attendance([_lost(1, 50), *later], (), T0 + timedelta(hours=1))[GUEST]
    assert found.connected == timedelta(seconds=60)
