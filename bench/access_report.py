"""A client's access report over two years of usage log: ``python -m bench access-report``.

Seeds a fresh database with ``--rows`` usage-log rows (100,000) over two years: a
realistic mix per appointment (created, participants added, links issued and copied,
the appointment seen in day lists and opened, waiting, admission, call spells, messages
sent, a few updates and cancellations, sign-ins without an appointment, a few crashes)
over many appointments, ``--mine`` of them (100) with the person's e-mail address. Then
a registry staff member asks the real server (aiohttp, same process) for the report by
contact, as JSON and as PDF, ``--repeat`` times each.

The floor, measured in the same run on the same file: plain SQL that finds the person's
participants by contact and SELECTs their appointments' usage-log rows, nothing else
(no staff, no entries, no usage-log writes, no HTTP, no PDF). The aim: each report under
5 s; the ratio says what the report costs above reading the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.db import Database, db_time
from server.passwords import hash_password
from server.records import StaffRole
from server.settings import load_settings

CONTACT = "maija.virtanen@example.fi"
PASSWORD = "bench password, long enough"  # noqa: S105
END = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
STAFF = 40
AIM_S = 5.0
ROWS_PER_APPOINTMENT = 30  # a little over the mix below: the rest are sign-ins
# An appointment's rows before the call: (action, actor kind, one per participant?)
BEFORE = (("appointment.created", "staff", False), ("participant.added", "staff", True),
          ("link.issued", "staff", True), ("message.sent", "system", True),
          ("link.read", "staff", True))
FLOOR_SQL = (
    "SELECT * FROM audit_log WHERE appointment_id IN (SELECT appointment_id FROM participants"
    " WHERE contact = ? COLLATE NOCASE) ORDER BY id"
)


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


LogRow = tuple[str, str, int | None, str, int | None, int | None]


@dataclass
class AppointmentLog:
    """One appointment's rows as Kota writes them, time moving on by a random step."""

    aid: int
    host: int
    at: datetime
    rng: random.Random
    rows: list[LogRow] = field(default_factory=list)

    def add(self, action: str, kind: str, subject: int | None = None, step: float = 60.0,
            actor: int | None = None) -> None:
        self.at += timedelta(seconds=self.rng.uniform(1, step))
        who = None if kind == "system" else actor or self.host
        self.rows.append((db_time(self.at), kind, who, action, self.aid, subject))

    def story(self, start: datetime, people: list[int], cancelled: bool) -> None:
        for action, kind, each in BEFORE:
            for person in people if each else [None]:
                self.add(action, kind, person)
        for _ in range(self.rng.randrange(4, 12)):  # seen in day lists by host and colleagues
            self.at = min(self.at + timedelta(hours=self.rng.uniform(1, 30)), start)
            self.add("appointment.listed", "staff", actor=self.rng.choice([self.host, 2, 3, 4]))
        self.add("appointment.read", "staff")
        if self.rng.random() < 0.3:
            self.add("appointment.updated", "staff")
        if cancelled:
            self.add("appointment.cancelled", "staff")
            return
        self.at = start - timedelta(minutes=3)
        self.add("call.joined", "staff", step=5)
        for person in people:
            self.add("waiting.entered", "participant", person, step=30, actor=person)
            self.add("admission.admitted", "staff", person, step=30)
            self.add("call.joined", "participant", person, step=5, actor=person)
        self.at += timedelta(minutes=40)
        for person in people:
            self.add("call.left", "participant", person, step=30, actor=person)
        self.add("call.left", "staff", step=30)


def seed(path: Path, rows: int, mine: int, rng: random.Random) -> tuple[int, int]:
    """Staff, appointments, participants and ``rows`` usage-log rows; returns
    (appointments, the person's rows)."""
    conn = sqlite3.connect(path)
    now = db_time(END)
    staff = [(i, f"staff{i}", f"Työntekijä {i} Čiđđa", "professional", "x", now,
              "Sosiaalityöntekijä" if i % 3 else "") for i in range(2, STAFF + 2)]
    conn.executemany("INSERT INTO staff (id, username, display_name, role, password_hash,"
                     " created_at, title) VALUES (?, ?, ?, ?, ?, ?, ?)", staff)
    count = max(mine + 1, rows // ROWS_PER_APPOINTMENT)
    mine_ids = set(rng.sample(range(1, count + 1), mine))
    log: list[LogRow] = []
    participant_id = 0
    person_rows = 0
    for aid in range(1, count + 1):
        start = END - SPAN + timedelta(minutes=rng.randrange(int(SPAN.total_seconds() // 60)))
        start = start.replace(second=0)
        host = rng.randrange(2, STAFF + 2)
        cancelled = rng.random() < 0.05
        conn.execute("INSERT INTO appointments (id, starts_at, ends_at, kind, host_id, status,"
                     " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (aid, db_time(start), db_time(start + timedelta(minutes=45)),
                      "family_counselling", host, "cancelled" if cancelled else "scheduled",
                      host, now, now))
        people = []
        for n in range(2):
            participant_id += 1
            contact = CONTACT if n == 0 and aid in mine_ids else f"p{participant_id}@example.fi"
            conn.execute("INSERT INTO participants (id, appointment_id, display_name, role,"
                         " contact, created_at, delivery) VALUES (?, ?, ?, ?, ?, ?, 'email')",
                         (participant_id, aid, f"Osallistuja {participant_id}", "guardian",
                          contact, now))
            people.append(participant_id)
        story = AppointmentLog(aid, host, start - timedelta(days=rng.randrange(1, 20)), rng)
        story.story(start, people, cancelled)
        log += story.rows
        if aid in mine_ids:
            person_rows += len(story.rows)
    for _ in range(max(0, rows - len(log))):  # sign-ins and the like: no appointment
        at = END - SPAN + timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
        log.append((db_time(at), "staff", rng.randrange(2, STAFF + 2), "staff.login", None,
                    None))
    log.sort()
    conn.executemany("INSERT INTO audit_log (at, actor_kind, actor_id, action, appointment_id,"
                     " subject_id, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, '', '')",
                     log[:rows])
    conn.commit()
    conn.close()
    return count, person_rows


def floor(path: Path, repeat: int) -> tuple[Timing, int]:
    conn = sqlite3.connect(path)
    times, found = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        found = len(conn.execute(FLOOR_SQL, (CONTACT,)).fetchall())
        times.append(time.perf_counter() - began)
    conn.close()
    return Timing("plain SQL floor", times), found


async def reports(settings_dir: Path, repeat: int) -> tuple[Timing, Timing, int]:
    # Two years of data are kept: the personal-data removal (default 730 days) would
    # otherwise start on the oldest of them while the report is timed.
    settings = load_settings({"KOTA_DATA_DIR": str(settings_dir),
                              "KOTA_RETENTION_DAYS": "3650"})
    db = Database(settings.db_path)
    await db.open()
    try:
        async with db.transaction() as tx:
            await tx.create_staff("kirjaamo", "Riikka Näkkäläjärvi", StaffRole.PROFESSIONAL,
                                  hash_password(PASSWORD), END, title="Kirjaamosihteeri",
                                  registry=True)
    finally:
        await db.close()
    server = TestServer(create_app(settings), host="127.0.0.1", port=0)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            resp = await http.post(f"{base}/api/session",
                                   json={"username": "kirjaamo", "password": PASSWORD})
            assert resp.status == 201, await resp.text()
            json_times, pdf_times, appointments = [], [], 0
            for _ in range(repeat):
                began = time.perf_counter()
                resp = await http.get(f"{base}/api/access-reports", params={"contact": CONTACT})
                body = await resp.json()
                json_times.append(time.perf_counter() - began)
                assert resp.status == 200, body
                appointments = len(body["appointments"])
                began = time.perf_counter()
                resp = await http.get(f"{base}/api/access-reports.pdf",
                                      params={"contact": CONTACT})
                await resp.read()
                pdf_times.append(time.perf_counter() - began)
                assert resp.status == 200
    finally:
        await server.close()
    return Timing("report JSON", json_times), Timing("report PDF", pdf_times), appointments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench access-report",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="usage-log rows")
    parser.add_argument("--mine", type=int, default=100, help="the person's appointments")
    parser.add_argument("--repeat", type=int, default=5, help="reports of each kind; medians")
    parser.add_argument("--seed", type=int, default=15)
    return parser


async def run(rows: int, mine: int, repeat: int, seed_value: int) -> str:
    """The whole run in a temporary folder; returns the printed report."""
    with tempfile.TemporaryDirectory(prefix="kota-access-bench-") as folder:
        data = Path(folder)
        settings = load_settings({"KOTA_DATA_DIR": str(data)})
        db = Database(settings.db_path)
        await db.open()
        await db.migrate()
        await db.close()
        began = time.perf_counter()
        count, person_rows = seed(settings.db_path, rows, mine, random.Random(seed_value))
        seeded = time.perf_counter() - began
        base, found = floor(settings.db_path, repeat)
        as_json, as_pdf, covered = await reports(data, repeat)
    lines = [
        f"Access report over {rows:,} usage-log rows, two years, {count:,} appointments "
        f"({mine} the person's: {person_rows:,} of their rows); seeded in {seeded:.1f} s",
        f"{'':18}{'median s':>10}{'best s':>10}{'x floor':>10}",
    ]
    for timing in (base, as_json, as_pdf):
        ratio = timing.median / base.median if base.median else float("nan")
        lines.append(f"{timing.name:18}{timing.median:10.3f}{min(timing.seconds):10.3f}"
                     f"{ratio:10.1f}")
    ok = max(as_json.median, as_pdf.median) < AIM_S and covered == mine
    lines.append(f"floor read {found:,} rows; the report covered {covered} appointments; "
                 f"aim < {AIM_S:.0f} s: {'met' if ok else 'NOT met'}")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    text = asyncio.run(run(args.rows, args.mine, args.repeat, args.seed))
    print(text)
    return 1 if "NOT" in text else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
