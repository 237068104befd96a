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
