"""derive_attendance: connected spells from the call's usage-log rows, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.calls.attendance import derive_attendance
from server.calls.members import CallId, parse_call_id
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


# --- crashes: table-driven -------------------------------------------------------------------
# Each case is the log as the server writes it, in order: (second, who, action); who is
# None for the ``server.lost`` row a start after a crash writes, dated at the crashed
# run's last moment seen alive. Expected per person: (connected seconds, last left
# second or None, in call now).

LOST = "server.lost"
Event = tuple[int, CallId | None, str]
Expected = dict[CallId, tuple[int, int | None, bool]]
NOW = 3600  # when attendance is read


def log(*events: Event) -> list[AuditRow]:
    return [AuditRow(id=i, at=T0 + timedelta(seconds=s),
                     actor_kind="system" if who is None else "staff" if who.is_staff
                     else "participant", actor_id=None if who is None else who.id,
                     action=action, appointment_id=None if who is None else 1,
                     subject_id=None if who is None or who.is_staff else who.id,
                     detail="", prev_hash="", hash="")
            for i, (s, who, action) in enumerate(events, 1)]


CASES: dict[str, tuple[list[Event], set[CallId], Expected]] = {
    "normal leave": (
        [(0, GUEST, "call.joined"), (600, GUEST, "call.left")],
        set(), {GUEST: (600, 600, False)}),
    "disconnect and reconnect within grace": (
        [(0, GUEST, "call.joined"), (600, GUEST, "call.disconnected"),
         (630, GUEST, "call.reconnected"), (900, GUEST, "call.left")],
        set(), {GUEST: (870, 900, False)}),
    # Last alive at 300, killed soon after, started again at 367: the restored seat is
    # logged disconnected at the restart, then resumed; the 67 s are not counted.
    "crash, then a resume after the restart": (
        [(0, GUEST, "call.joined"), (300, None, LOST),
         (367, GUEST, "call.disconnected"), (380, GUEST, "call.reconnected"),
         (500, GUEST, "call.left")],
        set(), {GUEST: (300 + 120, 500, False)}),
    "crash, then staff join again after the restart": (
        [(0, HOST, "call.joined"), (300, None, LOST), (367, HOST, "call.disconnected"),
         (380, HOST, "call.left"), (380, HOST, "call.joined")],
        {HOST}, {HOST: (300 + NOW - 380, None, True)}),
    "crash, nobody comes back": (
        [(0, HOST, "call.joined"), (10, GUEST, "call.joined"), (300, None, LOST),
         (367, HOST, "call.disconnected"), (367, GUEST, "call.disconnected"),
         (427, HOST, "call.left"), (427, GUEST, "call.left")],
        set(), {HOST: (300, 300, False), GUEST: (290, 300, False)}),
    "crash, the call is never loaded again": (
        [(0, GUEST, "call.joined"), (300, None, LOST)],
        set(), {GUEST: (300, 300, False)}),
    "crash while the seat was held: nothing more to end": (
        [(0, GUEST, "call.joined"), (200, GUEST, "call.disconnected"), (300, None, LOST),
         (367, GUEST, "call.reconnected"), (400, GUEST, "call.left")],
        set(), {GUEST: (200 + 33, 400, False)}),
    "joined after the last mark: nothing of the outage": (
        [(305, GUEST, "call.joined"), (300, None, LOST), (367, GUEST, "call.disconnected")],
        set(), {GUEST: (0, 305, False)}),
    "a crash before anyone joined changes nothing": (
        [(50, None, LOST), (100, GUEST, "call.joined"), (160, GUEST, "call.left")],
        set(), {GUEST: (60, 160, False)}),
    "two crashes: each ends only what was open": (
        [(0, GUEST, "call.joined"), (300, None, LOST), (380, GUEST, "call.reconnected"),
         (500, None, LOST), (600, GUEST, "call.reconnected"), (700, GUEST, "call.left")],
        set(), {GUEST: (300 + 120 + 100, 700, False)}),
    # No server.lost (a file from before it was written): a reconnect while the spell is
    # open means its end was lost; the gap before the reconnect is not counted.
    "an open spell reconnected without its end": (
        [(0, GUEST, "call.joined"), (400, GUEST, "call.reconnected"),
         (500, GUEST, "call.left")],
        set(), {GUEST: (100, 500, False)}),
    "open, not connected now, no crash logged: ends at its last row": (
        [(0, HOST, "call.joined")], set(), {HOST: (0, 0, False)}),
}


@pytest.mark.parametrize(("events", "connected_now", "expected"), CASES.values(), ids=CASES)
def test_connected_time_never_counts_an_outage(
    events: list[Event], connected_now: set[CallId], expected: Expected
) -> None:
    found = derive_attendance(log(*events), connected_now, T0 + timedelta(seconds=NOW))
    got = {who: (int(a.connected.total_seconds()),
                 None if a.last_left is None else int((a.last_left - T0).total_seconds()),
                 a.in_call) for who, a in found.items()}
    assert got == expected


def test_rows_are_taken_in_log_order_whatever_order_they_come_in() -> None:
    """The handler appends the ``server.lost`` rows after the call's own rows."""
    rows = log((0, GUEST, "call.joined"), (300, None, LOST), (380, GUEST, "call.reconnected"),
               (500, GUEST, "call.left"))
    call_rows, lost = [r for r in rows if r.action != LOST], [r for r in rows if r.action == LOST]
    found = derive_attendance([*call_rows, *lost], (), T0 + timedelta(seconds=NOW))[GUEST]
    assert found.connected == timedelta(seconds=300 + 120)
