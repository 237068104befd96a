"""The organisation report equals a brute-force recount of random event streams.

Hypothesis draws appointments (around month ends, midnight and the Helsinki DST nights of
March and October 2026), what people try to do in them (wait, be admitted, join, drop,
reconnect, leave, test their connection, switch to sound only), server crashes and line
events. A simulation in time order keeps the truth — each person's connected spells,
each admission's wait — and writes the usage-log rows the real server would, in that
order, into a real SQLite file. The report read from that file must equal the recount,
which knows nothing of ``derive_attendance``, zoneinfo or the report code: it sums the
simulated spells and finds months with the EU summer-time rule written out by hand.
A random choice (a service or none, a kind, a professional) is read too: its totals and
every month's figures, waiting percentiles included, must equal the recount over the
chosen appointments alone.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.audit_chain import AuditChain
from server.db import Database, NewAuditEntry, NewParticipant
from server.organisation_report import Selection
from server.records import AppointmentKind, ParticipantRole, StaffRole, TravelDistance
from server.report_reader import month_range, read_organisation_report
from server.report_settling import settle_report_facts

HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)
KINDS = ("family_counselling", "school_meeting")
VERDICTS = ("good", "audio_only", "too_weak", "no_connection")
# Instants (UTC) the draws start near: month ends, midnights and the DST nights.
ANCHORS = (
    datetime(2025, 12, 31, 21, 30, tzinfo=UTC),  # 23:30 local, still December 2025
    datetime(2025, 12, 31, 22, 30, tzinfo=UTC),  # 00:30 local, January
    datetime(2026, 3, 28, 21, 0, tzinfo=UTC),  # 23:00 local, the night clocks go forward
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # 02:30 local, half an hour before the jump
    datetime(2026, 3, 31, 20, 30, tzinfo=UTC),  # 23:30 local (summer time), March
    datetime(2026, 3, 31, 21, 30, tzinfo=UTC),  # 00:30 local, April
    datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # 01:00 local, the night clocks go back
    datetime(2026, 10, 31, 21, 30, tzinfo=UTC),  # 23:30 local (winter time), October
    datetime(2026, 6, 15, 8, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 21, 30, tzinfo=UTC),  # 23:30 local, December
    datetime(2026, 12, 31, 22, 30, tzinfo=UTC),  # 00:30 local, January 2027: out of range
)
# Configured one-way distances per (service index, municipality); halves add up exactly.
DISTANCES = {0: {"Inari": (42.0, 45), "Utsjoki": (160.5, 130)}, 1: {"Inari": (10.5, 15)}}
ACTIONS = ("enter", "admit", "waitleft", "join", "disconnect", "reconnect", "leave",
           "test", "sound", "visit", "visit")  # a visit: enter, admitted, join, leave


# -- the brute force: months by hand, percentiles by hand ------------------------

def _last_sunday(year: int, month: int) -> int:
    return 31 - (date(year, month, 31).weekday() + 1) % 7


def naive_month(moment: datetime) -> str:
    """Finnish time: UTC+3 from 01:00 UTC on March's last Sunday to 01:00 UTC on
    October's last Sunday, else UTC+2."""
    year = moment.year
    summer_from = datetime(year, 3, _last_sunday(year, 3), 1, tzinfo=UTC)
    summer_to = datetime(year, 10, _last_sunday(year, 10), 1, tzinfo=UTC)
    local = moment + timedelta(hours=3 if summer_from <= moment < summer_to else 2)
    return f"{local.year:04d}-{local.month:02d}"


def naive_percentile(values: list[int], percent: int) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[math.ceil(len(ordered) * percent / 100) - 1]


# -- the draws -------------------------------------------------------------------

@dataclass
class Plan:
    start: datetime
    minutes: int
    host: int
    service: int | None
    kind: str
    cancelled: bool
    municipality: str | None
    km: float | None
    travel_minutes: int | None
    people: int  # participants by link; person 0 is the host
    intents: list[tuple[int, str, int, Any]]  # (gap s, action, person, argument)


plans = st.builds(
    Plan,
    start=st.builds(lambda a, s: a + timedelta(seconds=s), st.sampled_from(ANCHORS),
                    st.integers(-7200, 7200)),
    minutes=st.integers(15, 720),
    host=st.integers(0, 2),
    service=st.sampled_from([None, 0, 1]),
    kind=st.sampled_from(KINDS),
    cancelled=st.booleans(),
    municipality=st.sampled_from([None, "Inari", "Utsjoki", "Ivalo"]),
    km=st.none() | st.integers(0, 200).map(lambda n: n / 2),
    travel_minutes=st.none() | st.integers(0, 200),
    people=st.integers(1, 3),
    intents=st.lists(
        st.tuples(st.integers(0, 5400), st.sampled_from(ACTIONS), st.integers(0, 3),
                  st.sampled_from(VERDICTS) | st.booleans()),
        max_size=25),
)
# (appointment index, seconds after its start, whether the restart logs the seats it lost)
crashes = st.lists(st.tuples(st.integers(0, 10), st.integers(0, 30000), st.booleans()),
                   max_size=3)
line_events = st.lists(
    st.tuples(st.sampled_from(ANCHORS), st.integers(-7200, 7200), st.integers(0, 1),
              st.none() | st.integers(0, 2), st.integers(0, 3600)),
    max_size=10)


# -- the simulation: truth and rows ----------------------------------------------

@dataclass
class Person:
    state: str = "out"  # out | waiting | admitted | in | dropped
    since: datetime | None = None
    entered: datetime | None = None
    seconds: int = 0
    joined: bool = False


@dataclass
class Truth:
    seconds: int = 0
    joined: int = 0
    waits: list[int] = field(default_factory=list)
    tests: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    sound_only: int = 0


def entry(at: datetime, kind: str, actor: int | None, action: str, appointment: int | None,
          subject: int | None = None, detail: dict[str, Any] | None = None) -> NewAuditEntry:
    return NewAuditEntry(at, kind, actor, action, appointment, subject,
                         json.dumps(detail, sort_keys=True) if detail else "")


def simulate(plan_list: list[Plan], crash_list: list[tuple[int, int, bool]],
             appointment_ids: list[int], people_ids: list[list[int]],
             staff_ids: list[int]) -> tuple[list[NewAuditEntry], list[Truth]]:
    """Every intent in time order (crashes with them); only what the state allows
    happens, as in the real call."""
    timeline: list[tuple[datetime, int, int, int, str, int, Any]] = []
    for a, plan in enumerate(plan_list):
        t = plan.start - timedelta(minutes=10)
        for seq, (gap, action, person, arg) in enumerate(plan.intents):
            t += timedelta(seconds=gap)
            who = person % (plan.people + 1)
            steps = ["enter", "admit", "join", "leave"] if action == "visit" else [action]
            for n, step in enumerate(steps):  # a visit's steps a minute apart
                timeline.append((t + timedelta(minutes=n), 1, a, 4 * seq + n, step, who, arg))
    for n, (a, gap, logs_seats) in enumerate(crash_list):
        if plan_list:
            at = plan_list[a % len(plan_list)].start + timedelta(seconds=gap)
            timeline.append((at, 0, -1, n, "crash", 0, logs_seats))
    timeline.sort(key=lambda e: e[:4])
    people = [[Person() for _ in range(plan.people + 1)] for plan in plan_list]
    truths = [Truth() for _ in plan_list]
    rows: list[NewAuditEntry] = []

    def actor(a: int, person: int) -> tuple[str, int]:
        if person == 0:
            return "staff", staff_ids[plan_list[a].host]
        return "participant", people_ids[a][person - 1]

    for t, _, a, _, action, person, arg in timeline:
        if action == "crash":
            rows.append(entry(t, "system", None, "server.lost", None))
            dropped = []
            for b, everyone in enumerate(people):
                for p, someone in enumerate(everyone):
                    if someone.state == "in":
                        assert someone.since is not None
                        someone.seconds += int((t - someone.since).total_seconds())
                        someone.state, someone.since = "dropped", None
                        dropped.append((b, p))
            for b, p in dropped if arg else ():  # the restart finds the saved seats gone
                kind, who = actor(b, p)
                rows.append(entry(t, kind, who, "call.disconnected", appointment_ids[b],
                                  None if p == 0 else who, {"reason": "connection_lost"}))
            continue
        someone = people[a][person]
        kind, who = actor(a, person)
        subject = None if person == 0 else who
        appointment = appointment_ids[a]

        def log(name: str, detail: dict[str, Any] | None = None, *, t: datetime = t,
                kind: str = kind, who: int = who, subject: int | None = subject,
                appointment: int = appointment) -> None:
            rows.append(entry(t, kind, who, name, appointment, subject, detail))

        if action == "enter" and person and someone.state == "out":
            log("waiting.entered")
            someone.state, someone.entered = "waiting", t
        elif action == "admit" and someone.state == "waiting":
            assert someone.entered is not None
            rows.append(entry(t, "staff", staff_ids[plan_list[a].host], "admission.admitted",
                              appointment, subject))
            truths[a].waits.append(int((t - someone.entered).total_seconds()))
            someone.state = "admitted"
        elif action == "waitleft" and someone.state == "waiting":
            log("waiting.left", {"reason": "left"})
            someone.state = "out"
        elif action == "join" and someone.state in ("out", "admitted"):
            log("call.joined")
            someone.state, someone.since, someone.joined = "in", t, True
        elif action in ("disconnect", "leave") and someone.state == "in":
            assert someone.since is not None
            log("call.disconnected" if action == "disconnect" else "call.left",
                {"reason": "connection_lost" if action == "disconnect" else "left"})
            someone.seconds += int((t - someone.since).total_seconds())
            someone.state = "dropped" if action == "disconnect" else "out"
            someone.since = None
        elif action == "leave" and someone.state == "dropped":
            log("call.left", {"reason": "reconnect_expired"})
            someone.state = "out"
        elif action == "reconnect" and someone.state == "dropped":
            log("call.reconnected")
            someone.state, someone.since = "in", t
        elif action == "test" and person and isinstance(arg, str):
            log("connection_test.completed", {"verdict": arg, "rtt_ms": 40})
            truths[a].tests[arg] += 1
        elif action == "sound" and someone.state == "in" and isinstance(arg, bool):
            log("call.sound_only", {"on": arg, "weak": False})
            truths[a].sound_only += arg
    for a, everyone in enumerate(people):
        # A spell still open at the end was never seen to end: it counts nothing.
        links = everyone[1:]
        truths[a].seconds = sum(p.seconds for p in links)
        truths[a].joined = sum(p.joined for p in links)
    return rows, truths


# -- the expected report -----------------------------------------------------------

# A drawn choice: (service index, "none" or None for all; kind or None; host or None).
Pick = tuple[int | str | None, str | None, int | None]
MONTHS = [f"2026-{n:02d}" for n in range(1, 13)]


def chosen(plan: Plan, pick: Pick) -> bool:
    service, kind, host = pick
    return ((service is None or (plan.service is None if service == "none"
                                 else plan.service == service))
            and (kind is None or plan.kind == kind) and (host is None or plan.host == host))


def expected_report(plan_list: list[Plan], truths: list[Truth], service_ids: list[int],
                    staff_ids: list[int], pick: Pick = (None, None, None),
                    ) -> tuple[dict[Any, dict[str, Any]], dict[str, Any],
                               list[dict[str, Any]]]:
    """The rows, the totals and each month's figures of the chosen appointments."""
    groups: dict[Any, dict[str, Any]] = {}
    everything: dict[str, Any] = {}
    by_month: dict[str, dict[str, Any]] = {month: {} for month in MONTHS}

    def add(target: dict[str, Any], plan: Plan, truth: Truth) -> None:
        held = not plan.cancelled and truth.joined > 0
        target["appointments"] = target.get("appointments", 0) + 1
        target["held"] = target.get("held", 0) + held
        target["cancelled"] = target.get("cancelled", 0) + plan.cancelled
        no_show = (not plan.cancelled and truth.joined == 0
                   and plan.start + timedelta(minutes=plan.minutes) <= NOW)
        target["no_show"] = target.get("no_show", 0) + no_show
        target["seconds"] = target.get("seconds", 0) + truth.seconds
        target["joined"] = target.get("joined", 0) + truth.joined
        target.setdefault("waits", []).extend(truth.waits)
        tests = target.setdefault("tests", dict.fromkeys(VERDICTS, 0))
        for verdict, count in truth.tests.items():
            tests[verdict] += count
        target["sound"] = target.get("sound", 0) + truth.sound_only
        km = minutes = None
        configured = (DISTANCES.get(plan.service, {}).get(plan.municipality or "")
                      if plan.service is not None else None)
        km = plan.km if plan.km is not None else configured[0] if configured else None
        minutes = (plan.travel_minutes if plan.travel_minutes is not None
                   else configured[1] if configured else None)
        target["km"] = target.get("km", 0.0) + (2 * km if held and km is not None else 0)
        target["travel_minutes"] = target.get("travel_minutes", 0) + (
            2 * minutes if held and minutes is not None else 0)
        target["unknown"] = target.get("unknown", 0) + (
            held and km is None and minutes is None)

    for plan, truth in zip(plan_list, truths, strict=True):
        month = naive_month(plan.start)
        if not "2026-01" <= month <= "2026-12" or not chosen(plan, pick):
            continue
        key = (month, None if plan.service is None else service_ids[plan.service], plan.kind,
               staff_ids[plan.host])
        add(groups.setdefault(key, {}), plan, truth)
        add(everything, plan, truth)
        add(by_month[month], plan, truth)
    return ({key: figures(g) for key, g in groups.items()},
            figures(everything) if everything else {},
            [{"month": month, **figures(g or nothing())} for month, g in by_month.items()])


def nothing() -> dict[str, Any]:
    return {"appointments": 0, "held": 0, "cancelled": 0, "no_show": 0, "seconds": 0,
            "joined": 0, "waits": [], "tests": dict.fromkeys(VERDICTS, 0), "sound": 0,
            "km": 0.0, "travel_minutes": 0, "unknown": 0}


def figures(g: dict[str, Any]) -> dict[str, Any]:
    return {
        "appointments": g["appointments"], "held": g["held"], "cancelled": g["cancelled"],
        "no_show": g["no_show"], "participant_minutes": round(g["seconds"] / 60, 1),
        "participants_joined": g["joined"],
        "minutes_per_participant": round(g["seconds"] / 60 / g["joined"], 1)
        if g["joined"] else None,
        "waiting_median_s": naive_percentile(g["waits"], 50),
        "waiting_p90_s": naive_percentile(g["waits"], 90), "waits_counted": len(g["waits"]),
        "tests": g["tests"], "sound_only_switches": g["sound"],
        "travel_km": round(g["km"], 1), "travel_hours": round(g["travel_minutes"] / 60, 2),
        "travel_unknown": g["unknown"],
    }


def expected_lines(events: list[tuple[datetime, int, int, int | None, int]],
                   line_ids: list[int], staff_ids: list[int]) -> dict[Any, dict[str, Any]]:
    found: dict[Any, dict[str, Any]] = {}
    for anchor, offset, line, staff, waited in events:
        at = anchor + timedelta(seconds=offset)
        month = naive_month(at)
        if not "2026-01" <= month <= "2026-12":
            continue
        key = (month, line_ids[line], None if staff is None else staff_ids[staff])
        group = found.setdefault(key, {"served": 0, "left_waiting": 0, "waits": []})
        group["served" if staff is not None else "left_waiting"] += 1
        group["waits"].append(waited)
    return {key: {"served": g["served"], "left_waiting": g["left_waiting"],
                  "wait_median_s": naive_percentile(g["waits"], 50),
                  "wait_p90_s": naive_percentile(g["waits"], 90),
                  "waits_counted": len(g["waits"])} for key, g in found.items()}


# -- the real database and the real report ---------------------------------------------

async def scenario(path: Path, plan_list: list[Plan], crash_list: list[tuple[int, int, bool]],
                   line_list: list[tuple[datetime, int, int, int | None, int]],
                   pick: Pick = (None, None, None)) -> None:
    db = Database(path)
    await db.open()
    try:
        await db.migrate()
        created = datetime(2025, 12, 1, tzinfo=UTC)
        async with db.transaction() as tx:
            staff_ids = [(await tx.create_staff(f"s{n}", f"Staff {n}", StaffRole.PROFESSIONAL,
                                                "x", created)).id for n in range(3)]
            service_ids = []
            for n in range(2):
                service_id = await tx.create_service(
                    {"slug": f"palvelu-{n}", "name": f"=Palvelu {n}", "slot_minutes": 30},
                    [], [], created)
                await tx.replace_travel_distances(service_id, [
                    TravelDistance(m, km, minutes)
                    for m, (km, minutes) in DISTANCES[n].items()])
                service_ids.append(service_id)
            line_ids = [await tx.create_line(
                {"slug": f"linja-{n}", "name": f"Linja {n}", "kind": "public",
                 "modes": "chat", "queue_cap": 10, "grace_minutes": 1,
                 "callback_after_minutes": 30}, created) for n in range(2)]
            appointment_ids, people_ids = [], []
            for plan in plan_list:
                appointment_id, pids = await tx.create_appointment(
                    starts_at=plan.start, ends_at=plan.start + timedelta(minutes=plan.minutes),
                    kind=AppointmentKind(plan.kind), host_id=staff_ids[plan.host],
                    staff_ids=(), participants=[
                        NewParticipant(f"P{n}", ParticipantRole.GUARDIAN, None, None)
                        for n in range(plan.people)],
                    created_by=staff_ids[plan.host], now=created)
                await tx.set_appointment_travel(
                    appointment_id,
                    None if plan.service is None else service_ids[plan.service],
                    plan.municipality, plan.km, plan.travel_minutes)
                if plan.cancelled:
                    await tx.cancel_appointment(appointment_id, created)
                appointment_ids.append(appointment_id)
                people_ids.append(pids)
            rows, truths = simulate(plan_list, crash_list, appointment_ids, people_ids,
                                    staff_ids)
            for anchor, offset, line, staff, waited in line_list:
                at = anchor + timedelta(seconds=offset)
                if staff is None:
                    rows.append(entry(at, "system", None, "line.left", None, None,
                                      {"line": line_ids[line], "reason": "left",
                                       "waited_s": waited}))
                else:
                    rows.append(entry(at, "staff", staff_ids[staff], "line.taken", None, None,
                                      {"line": line_ids[line], "waited_s": waited}))
            await tx.append_audit_rows(rows, AuditChain(b"k" * 32))
        year = month_range("2026-01", "2026-12")
        service, kind, host = pick
        selection = Selection(
            service=("none" if service == "none" else None if service is None
                     else service_ids[int(service)]),
            kind=kind, staff=None if host is None else staff_ids[host])
        report = await read_organisation_report(db, year, HELSINKI, NOW)
        narrowed = await read_organisation_report(db, year, HELSINKI, NOW, selection)
        # Settled, the appointments a day past their end are counted from stored facts
        # (those with someone still in the call are not): the same report.
        await settle_report_facts(db, NOW)
        assert await settle_report_facts(db, NOW) == 0, "settled twice"
        from_facts = await read_organisation_report(db, year, HELSINKI, NOW)
        narrowed_facts = await read_organisation_report(db, year, HELSINKI, NOW, selection)
    finally:
        await db.close()
    assert from_facts == report
    assert narrowed_facts == narrowed
    want_rows, want_totals, want_months = expected_report(plan_list, truths, service_ids,
                                                          staff_ids)
    assert report.months == want_months
    got_rows = {(r["month"], r["service_id"], r["kind"], r["staff_id"]):
                {k: v for k, v in r.items()
                 if k not in ("month", "service_id", "service", "kind", "staff_id", "staff")}
                for r in report.rows}
    assert got_rows == want_rows
    assert [r["month"] for r in report.rows] == sorted(r["month"] for r in report.rows)
    for row in report.rows:
        assert row["staff"] == f"Staff {staff_ids.index(row['staff_id'])}"
        assert row["service"] is None or row["service"].startswith("=Palvelu")
    if want_totals:
        assert report.totals == want_totals
    else:
        assert report.totals["appointments"] == 0
    got_lines = {(r["month"], r["line_id"], r["staff_id"]):
                 {k: v for k, v in r.items()
                  if k not in ("month", "line_id", "line", "staff_id", "staff")}
                 for r in report.lines}
    assert got_lines == expected_lines(line_list, line_ids, staff_ids)

    # The chosen part, counted afresh: exact percentiles, not mixed from the rows.
    _, chosen_totals, chosen_months = expected_report(plan_list, truths, service_ids,
                                                      staff_ids, pick)
    assert narrowed.months == chosen_months
    assert narrowed.totals == (chosen_totals or figures(nothing()))
    assert narrowed.rows == [r for r in report.rows if (
        (service is None or r["service_id"] == (
            None if service == "none" else service_ids[int(service)]))
        and (kind is None or r["kind"] == kind)
        and (host is None or r["staff_id"] == staff_ids[host]))]
    assert narrowed.lines == [r for r in report.lines
                              if host is None or r["staff_id"] == staff_ids[host]]
    assert narrowed.choices == report.choices


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow,
                                                  HealthCheck.data_too_large])
@given(plan_list=st.lists(plans, max_size=8), crash_list=crashes, line_list=line_events,
       pick=st.tuples(st.sampled_from([None, "none", 0, 1]), st.none() | st.sampled_from(KINDS),
                      st.none() | st.integers(0, 2)))
def test_report_equals_a_brute_force_recount(
    plan_list: list[Plan], crash_list: list[tuple[int, int, bool]],
    line_list: list[tuple[datetime, int, int, int | None, int]], pick: Pick,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp) / "kota.sqlite3", plan_list, crash_list, line_list,
                             pick))
