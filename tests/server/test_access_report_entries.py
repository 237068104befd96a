"""build_report: usage-log rows → who handled a person's data, table-driven, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from server.access_report import What, build_report
from server.records import AuditRow, CoveredParticipant, Staff, StaffRole

TZ = ZoneInfo("Europe/Helsinki")
T0 = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)  # 10:00 in Helsinki
NOW = T0 + timedelta(days=30)
ME, SIBLING = 7, 8  # participant ids in appointment 1
SANNA = Staff(2, "sanna", "Sanna Aikio", StaffRole.PROFESSIONAL, True, "Sosiaalityöntekijä")
AINO = Staff(3, "aino", "Aino Admin", StaffRole.ADMIN, True)
STAFF = {s.id: s for s in (SANNA, AINO)}
MINE = CoveredParticipant(ME, 1, "Maija", "guardian", T0, T0 + timedelta(hours=1), False)

Row = tuple[int, str, int | None, str, int | None]  # seconds, actor kind, actor, action, subject


def rows(*events: Row, appointment: int | None = 1) -> list[AuditRow]:
    return [AuditRow(i, T0 + timedelta(seconds=s), kind, actor, action,
                     None if action == "server.lost" else appointment, subject, "", "", "")
            for i, (s, kind, actor, action, subject) in enumerate(events, 1)]


def report(*events: Row) -> list[tuple[str, What, int]]:
    [found] = build_report([MINE], rows(*events), STAFF, TZ, NOW)
    return [(e.who, e.what, e.count) for e in found.entries]


def test_listing_and_reading_are_one_opened_entry_a_day_with_a_count() -> None:
    assert report(
        (0, "staff", 2, "appointment.listed", None),
        (60, "staff", 2, "appointment.listed", None),
        (120, "staff", 2, "appointment.read", None),
        (86_400, "staff", 2, "appointment.listed", None),
    ) == [("Sanna Aikio", What.OPENED, 3), ("Sanna Aikio", What.OPENED, 1)]


def test_local_days_split_at_helsinki_midnight_not_utc() -> None:
    # 21:30 and 22:30 UTC on one UTC day are 23:30 and 00:30 in Helsinki (UTC+2).
    base = 13 * 3600 + 1800
    assert report((base, "staff", 2, "appointment.read", None),
                  (base + 3600, "staff", 2, "appointment.read", None)) == [
        ("Sanna Aikio", What.OPENED, 1), ("Sanna Aikio", What.OPENED, 1)]


def test_system_and_family_rows_name_nobody() -> None:
    assert report((0, "system", None, "appointment.cancelled", None),
                  (1, "participant", ME, "link.opened", ME),
                  (2, "system", None, "message.sent", ME)) == []


def test_rows_about_another_participant_are_not_mine() -> None:
    assert report((0, "staff", 2, "link.read", SIBLING),
                  (1, "staff", 2, "participant.added", SIBLING),
                  (2, "staff", 2, "admission.admitted", SIBLING),
                  (3, "staff", 2, "waiting.messaged", SIBLING)) == []


def test_each_kind_of_handling() -> None:
    found = report(
        (0, "staff", 2, "appointment.created", None),
        (1, "staff", 2, "participant.added", ME),
        (2, "staff", 2, "link.issued", ME),
        (3, "staff", 3, "appointment.updated", None),
        (4, "staff", 2, "waiting.messaged", None),  # to everyone waiting
        (5, "staff", 2, "admission.denied", ME),
        (6, "staff", 3, "access_report.produced", ME),
        (7, "staff", 2, "chat.sent", None),  # not a handling of the person's data
    )
    assert found == [
        ("Sanna Aikio", What.CHANGED, 2), ("Sanna Aikio", What.LINK, 1),
        ("Aino Admin", What.CHANGED, 1), ("Sanna Aikio", What.MESSAGED, 1),
        ("Sanna Aikio", What.ADMITTED, 1), ("Aino Admin", What.REPORT, 1)]


def test_role_is_the_title_or_a_plain_word() -> None:
    [found] = build_report([MINE], rows((0, "staff", 2, "appointment.read", None),
                                        (1, "staff", 3, "appointment.read", None),
                                        (2, "staff", 99, "appointment.read", None)),
                           STAFF, TZ, NOW)
    assert [(e.who, e.role, e.role_code, e.title) for e in found.entries] == [
        ("Sanna Aikio", "Sosiaalityöntekijä", "professional", "Sosiaalityöntekijä"),
        ("Aino Admin", "Pääkäyttäjä", "admin", ""),
        ("#99", "Ammattilainen", "professional", "")]


def test_spoke_needs_time_together_in_the_call() -> None:
    assert report(
        (0, "staff", 2, "call.joined", None), (600, "staff", 2, "call.left", None),
        (900, "participant", ME, "call.joined", ME), (1200, "participant", ME, "call.left", ME),
        (1000, "staff", 3, "call.joined", None), (1100, "staff", 3, "call.left", None),
    ) == [("Aino Admin", What.SPOKE, 1)]


def test_a_crash_ends_the_spells_it_cut() -> None:
    # Sanna's spell is cut by the crash at 300; Maija's starts after the restart.
    assert report(
        (0, "staff", 2, "call.joined", None), (300, "system", None, "server.lost", None),
        (400, "participant", ME, "call.joined", ME), (500, "participant", ME, "call.left", ME),
    ) == []


def test_an_open_spell_lasts_until_now() -> None:
    assert report((0, "participant", ME, "call.joined", ME),
                  (60, "staff", 2, "call.joined", None)) == [("Sanna Aikio", What.SPOKE, 1)]


def test_appointments_newest_first_and_other_appointments_rows_ignored() -> None:
    later = CoveredParticipant(9, 2, "Maija", "guardian", T0 + timedelta(days=7),
                               T0 + timedelta(days=7, hours=1), True)
    found = build_report([MINE, later], [*rows((0, "staff", 2, "appointment.read", None)),
                                         *rows((5, "staff", 3, "appointment.read", None),
                                               appointment=3)], STAFF, TZ, NOW)
    assert [(r.appointment_id, r.cancelled, len(r.entries)) for r in found] == [
        (2, True, 0), (1, False, 1)]
