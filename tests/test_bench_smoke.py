"""The benchmarks' machinery, run tiny: the signalling relay at C=4 against the floor
and Kota (peak, paced and the fixed-rate phase with both servers taking turns), and the
staff API under write load with 10 writers for 3 s.

Not performance tests: they prove that the servers start, every pair joins and does
its exchange, both relay phases move messages, and the benchmark's own checks find no
lost, misrouted or reordered message — and that those checks do catch a bad one; and
that writers sign in, every kind of staff write runs, contested bookings meet
``409 appointment_overlap``, and nothing errs or ends up double-booked — and that the
double-booking count catches one; and that the six-pages benchmark (two pages here) runs
a call under each rule and reads every tile.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import fixed_rate, six_pages, staff_writes
from bench.booking_race import (
    BookingBenchConfig,
    count_double_bookings,
    run_booking_race,
)
from bench.booking_race import render_text as render_booking
from bench.join_flows import FloorJoinFlow
from bench.load import EXCHANGE_MESSAGES, Fleet
from bench.payloads import Outbox
from bench.report import FLOOR, KOTA, render_text
from bench.signalling_relay import BenchConfig, run_benchmark
from bench.staff_writes_report import render_text as render_writes
from server.db import Database
from server.records import AppointmentKind, StaffRole


async def test_tiny_run_relays_everything_to_the_right_peer(tmp_path: Path) -> None:
    config = BenchConfig(
        clients=(4,), seconds=0.5, paced_seconds=0.3, warmup=0.1, settle=0.1,
        in_flight=8, pin=False, workdir=tmp_path, log=False,
        fixed_rate=200, fixed_clients=(4,), fixed_seconds=0.3, fixed_windows=2,
    )
    both = await run_benchmark(config)
    results = both.runs
    assert [(r.server, r.clients) for r in results] == [(FLOOR, 4), (KOTA, 4)]
    for result in results:
        assert result.clean, render_text(results)
        # Two pairs, each side sending an offer or answer and its candidates, then relay.
        assert result.relayed > 2 * 2 * EXCHANGE_MESSAGES, result
        assert result.peak_rate > 0 and result.paced_rate > 0, result
        assert result.join_p50_ms > 0 and result.rss_idle > 0, result
        assert result.peak_cpu_us > 0, result
    assert results[1].paced_target == results[0].paced_target  # Kota paced like the floor

    [fixed] = both.fixed
    report = fixed_rate.render_text(both.fixed)
    assert fixed.clients == 4 and fixed.target == 200, report
    for server in (FLOOR, KOTA):
        assert fixed.clean(server), report
        windows = fixed.windows[server]
        assert len(windows) == 2, report
        # CPU time comes in clock ticks: a window this short may see none.
        assert all(w.rate > 0 and w.cpu_us >= 0 and w.p99_ms >= w.p50_ms > 0
                   for w in windows), report
    assert fixed.ratio("p99_ms") > 0, report
    assert "p99" in report and "CPU per message" in "\n".join(fixed_rate.summarise(both.fixed))


async def test_fixed_rate_phase_alone(tmp_path: Path) -> None:
    """``--no-peak``: only the fixed-rate phase runs, for each of its C values."""
    config = BenchConfig(
        clients=(4,), peak=False, fixed_rate=100, fixed_clients=(2, 4), fixed_seconds=0.2,
        fixed_windows=1, warmup=0.1, settle=0.1, pin=False, workdir=tmp_path, log=False,
    )
    both = await run_benchmark(config)
    assert both.runs == []
    assert [r.clients for r in both.fixed] == [2, 4]
    for result in both.fixed:
        assert all(result.clean(s) for s in (FLOOR, KOTA)), fixed_rate.render_text(both.fixed)
        assert all(len(result.windows[s]) == 1 for s in (FLOOR, KOTA))


def relayed(sender: str, recipient: bytes, seq: int, to: str = "x") -> bytes:
    """A signal as a server relays it: the request with ``to`` swapped for ``from``."""
    request = Outbox(to).small.render(recipient, seq, 0)
    return request.replace(f'"to":"{to}"'.encode(), f'"from":"{sender}"'.encode())


async def test_checks_catch_misrouted_and_reordered_messages() -> None:
    fleet = Fleet("127.0.0.1", 9, FloorJoinFlow(), pairs=2)
    (staff, family), (other, _) = fleet.pairs
    for client in (staff, family, other):
        client.pid = client.label.decode()
    family.meet(staff)

    assert family.check(relayed("0s", b"0f", 0)) == 0
    assert (fleet.received, fleet.misrouted, fleet.out_of_order) == (1, 0, 0)
    family.check(relayed("0s", b"1s", 1))  # addressed to another client
    assert (fleet.misrouted, fleet.out_of_order) == (1, 0)
    family.check(relayed("1s", b"0f", 2))  # from someone who is not the peer
    assert (fleet.misrouted, fleet.out_of_order) == (2, 0)
    family.check(relayed("0s", b"0f", 5))  # 3 and 4 never came
    assert (fleet.misrouted, fleet.out_of_order) == (2, 1)
    assert family.check(b'{"type":"signal","from":"0s","payload":{}}') is None
    assert fleet.unmarked == 1 and fleet.received == 4


async def test_staff_writes_tiny_run_has_no_errors_and_no_double_bookings(
    tmp_path: Path,
) -> None:
    config = staff_writes.WriteBenchConfig(
        writers=10, seconds=3.0, floor_seconds=0.5, contested_share=0.5, contested_times=2,
        pin=False, workdir=tmp_path, log=False,
    )
    result = await staff_writes.run_staff_writes(config)
    kota = result.kota
    report = render_writes(result)
    assert result.correct, report
    assert kota.server_log_errors == 0, report
    assert all(op.requests > 0 for op in kota.by_op.values()), report
    assert kota.overlaps > 0, report  # writers did race for the contested times
    assert kota.p50_ms > 0 and result.floor.transactions > 0, report
    assert "p99:" in report and "p50:" in report


async def test_double_booking_count_finds_overlaps_of_one_hosts_scheduled_bookings(
    tmp_path: Path,
) -> None:
    """Rows written straight through a Tx, past the scheduling rules."""
    path = tmp_path / "kota.sqlite3"
    now = datetime.now(UTC).replace(microsecond=0)
    ten = now + timedelta(days=1)
    db = Database(path)
    await db.open()
    try:
        await db.migrate()
        async with db.transaction() as tx:
            host = await tx.create_staff("h", "H", StaffRole.PROFESSIONAL, "x", now)
            other = await tx.create_staff("o", "O", StaffRole.PROFESSIONAL, "x", now)

            async def book(host_id: int, start: timedelta, end: timedelta) -> int:
                appointment_id, _ = await tx.create_appointment(
                    starts_at=ten + start, ends_at=ten + end,
                    kind=AppointmentKind.OTHER, host_id=host_id, staff_ids=(),
                    participants=(), created_by=host_id, now=now,
                )
                return appointment_id

            minutes = timedelta(minutes=1)
            await book(host.id, 0 * minutes, 30 * minutes)
            await book(host.id, 15 * minutes, 45 * minutes)  # overlaps the first: counted
            await book(host.id, 45 * minutes, 60 * minutes)  # touches the second only
            await book(other.id, 0 * minutes, 30 * minutes)  # another host
            cancelled = await book(host.id, 0 * minutes, 60 * minutes)
            await tx.cancel_appointment(cancelled, now)
    finally:
        await db.close()
    assert staff_writes.count_double_bookings(path) == (1, 5, 4)


async def test_six_pages_tiny_run_measures_each_rule(tmp_path: Path) -> None:
    """Two pages, one round of each rule, a 1 s window: the machinery, not the figures."""
    results = await six_pages.run(rounds=1, guests=1, settle_s=0.5, seconds=1.0,
                                  workdir=tmp_path)
    assert [(r.mode, r.pages) for r in results] == [("before", 2), ("after", 2)]
    for result in results:
        assert result.joined, result.line()
        assert len(result.tile_fps) == 2, result.line()  # each page sees the other
        assert result.sent_heights, result.line()
    report = six_pages.report(results, 2, 1.0)
    assert "before" in report and "after" in report and "median" in report


async def test_booking_race_tiny(tmp_path: Path) -> None:
    """``python -m bench booking`` in small: every round one winner and clear 409s with
    next free times, the spread burst fills its slots, nothing double-booked."""
    config = BookingBenchConfig(bookers=12, rounds=2, spread_slots=4, pin=False,
                                workdir=tmp_path, log=False)
    result = await run_booking_race(config)
    report = render_booking(result)
    assert result.correct, report
    assert result.kota.good_rounds == 2 and result.kota.spread_successes == 4, report
    assert result.floor.good_rounds == 2 and result.floor.spread_successes == 4, report
    assert result.kota.p99_ms >= result.kota.p50_ms > 0 and result.floor.p50_ms > 0, report
    assert result.ratio("p50_ms") > 0 and "Kota / floor" in report
    # One confirm e-mail per hold taken (2 rounds + 4 spread), through a real SMTP server.
    assert 0 < result.confirm_emails <= 6, report


def test_booking_double_count_catches_an_overlap(tmp_path: Path) -> None:
    """The benchmark's own check finds two overlapping holds of one professional."""
    path = tmp_path / "b.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE bookings (id INTEGER PRIMARY KEY, staff_id INTEGER,"
                     " state TEXT, starts_at TEXT, ends_at TEXT)")
        conn.executemany("INSERT INTO bookings (staff_id, state, starts_at, ends_at)"
                         " VALUES (?, ?, ?, ?)",
                         [(1, "held", "2027-01-04T08:00:00Z", "2027-01-04T08:30:00Z"),
                          (1, "confirmed", "2027-01-04T08:15:00Z", "2027-01-04T08:45:00Z"),
                          (2, "held", "2027-01-04T08:00:00Z", "2027-01-04T08:30:00Z"),
                          (1, "expired", "2027-01-04T08:00:00Z", "2027-01-04T08:30:00Z")])
    assert count_double_bookings(path) == (1, 4)


def test_line_wait_tiny() -> None:
    """``python -m bench line-wait`` in small: two synthetic days run on the real queue,
    everyone who joined is taken or left, and every figure of the report is printed."""
    import contextlib
    import io

    from bench import line_wait

    days = line_wait.simulate_days(1, 2)
    for day in days:
        assert day.joined == day.taken + day.left and day.taken == len(day.estimates)
    report = line_wait.summarise(days)
    assert report.taken > 50 and 0 < report.unknown_share < 1, report
    assert report.p90_min >= report.median_min > 0 and report.naive_median_min > 0, report
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert line_wait.main(["--days", "2"]) in (0, 1)
    printed = out.getvalue()
    assert "median" in printed and "not known yet" in printed and "ratio to the floor" in printed


async def test_lines_tiny(tmp_path: Path) -> None:
    """``python -m bench lines`` in small: six people on one line of a real ``kota run``
    and of the floor, three takes, every waiting person told its new place each time."""
    from bench.lines import LinesBenchConfig, render_text, run_lines

    config = LinesBenchConfig(people=6, takes=3, pin=False, workdir=tmp_path, log=False)
    result = await run_lines(config)
    report = render_text(result)
    assert result.clean, report
    for spread in (result.floor, result.kota):
        assert len(spread.rounds) == 3 and spread.max_ms >= spread.p50_ms > 0, report
    assert result.ratio_p95 > 0 and "Kota / floor" in report


async def test_metrics_cost_tiny() -> None:
    """``python -m bench metrics-cost`` in small: both sides of each comparison run and a
    scrape of 50 calls and 10 lines parses."""
    from prometheus_client.parser import text_string_to_metric_families

    from bench import metrics_cost
    from server.metrics import Metrics

    results, scrape, size = await metrics_cost.run(rounds=1, relays=200, reads=20, scrapes=1)
    assert [r.name for r in results] == ["relay a signal (short way)", "database read (ping)"]
    assert all(r.floor > 0 and r.metrics > 0 for r in results)
    assert scrape > 0 and size > 0
    metrics = Metrics(lambda: metrics_cost.NOW)
    registry = metrics_cost._registry(metrics)
    metrics.watch(rooms=registry)
    await metrics_cost._call(registry, "1", guests=3, waiting=2)
    text = (await metrics.scrape()).decode()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["kota_call_participants"] == 4 and samples["kota_waiting_people"] == 2
    assert samples["kota_admissions_total"] == 3


async def test_reports_tiny(tmp_path: Path) -> None:
    """``python -m bench reports`` in small: a few weeks of two professionals, the report
    and the floor timed on the same file, the report's held count equal to the data's."""
    from bench.reports import ReportsBenchConfig, render_text, run_reports_bench

    result = await run_reports_bench(
        ReportsBenchConfig(professionals=2, per_day=3, days=21, rounds=1), tmp_path)
    text = render_text(result)
    assert result.appointments == 2 * 3 * 15 and result.log_rows > result.appointments, text
    assert 0 < result.held <= result.appointments and result.report_rows > 0, text
    assert result.report_s > 0 and result.floor_s > 0 and "ratio to the floor" in text
