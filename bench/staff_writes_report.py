"""What the write benchmark measured, its ratios to the floor and the latency goal."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.report import NOISY
from bench.sqlite_floor import FloorResult
from bench.staff_writer import OpStats

GOAL = 10.0  # Kota's latency at most this many times the floor's


@dataclass(frozen=True)
class KotaResult:
    writers: int
    hosts: int
    requests: int
    window_s: float
    cpu_s: float  # the server's CPU time (every thread) over the window
    p50_ms: float
    p99_ms: float
    overlaps: int  # 409 appointment_overlap where a contested time was asked for
    errors: dict[str, int]  # "op status code" or "op ExceptionName" -> count
    double_bookings: int
    appointments: int
    scheduled: int
    server_log_errors: int  # lines naming an internal error or a failed write
    by_op: dict[str, OpStats]

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.requests / self.window_s if self.window_s else 0.0

    @property
    def cpu_per_request_ms(self) -> float:
        return self.cpu_s / self.requests * 1e3 if self.requests else float("nan")


@dataclass(frozen=True)
class StaffWritesResult:
    floor: FloorResult
    kota: KotaResult
    # Share of core 0 used by anything but the floor, or the server, during its window
    # (NaN when not pinned): other jobs on a shared machine.
    floor_other_load: float = math.nan
    kota_other_load: float = math.nan

    @property
    def p50_ratio(self) -> float:
        return self.kota.p50_ms / self.floor.p50_ms if self.floor.p50_ms else float("nan")

    @property
    def p99_ratio(self) -> float:
        return self.kota.p99_ms / self.floor.p99_ms if self.floor.p99_ms else float("nan")

    @property
    def correct(self) -> bool:
        return not (self.kota.error_count or self.kota.double_bookings)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "p50_ratio": self.p50_ratio, "p99_ratio": self.p99_ratio}


def _share(value: float) -> str:
    return "-" if math.isnan(value) else f"{max(value, 0.0):.0%}"  # no "-0%" from rounding


def _goal(ratio: float) -> str:
    return f"{ratio:.2f}x (goal <= {GOAL:g}x: {'PASS' if ratio <= GOAL else 'FAIL'})"


def _rows(result: StaffWritesResult) -> list[tuple[str, str, str, str]]:
    """(metric, floor, kota, kota/floor)."""
    floor, kota = result.floor, result.kota
    return [
        ("requests (floor: transactions)", f"{floor.transactions:,}", f"{kota.requests:,}", ""),
        ("per second", f"{floor.rate:,.0f}", f"{kota.rate:,.0f}",
         f"{kota.rate / floor.rate:.2f}x" if floor.rate else ""),
        ("CPU per request (floor: per transaction, ms)", f"{floor.cpu_per_transaction_ms:.3f}",
         f"{kota.cpu_per_request_ms:.3f}",
         f"{kota.cpu_per_request_ms / floor.cpu_per_transaction_ms:.2f}x"),
        ("CPU busy, share of one core", f"{floor.cpu_s / floor.window_s:.0%}",
         f"{kota.cpu_s / kota.window_s:.0%}", ""),
        ("core 0 busy with other work", _share(result.floor_other_load),
         _share(result.kota_other_load), ""),
        ("latency p50 (ms)", f"{floor.p50_ms:.2f}", f"{kota.p50_ms:.2f}", _goal(result.p50_ratio)),
        ("latency p99 (ms)", f"{floor.p99_ms:.2f}", f"{kota.p99_ms:.2f}", _goal(result.p99_ratio)),
        ("errors (5xx, connection, unexpected)", "-", f"{kota.error_count:,}", ""),
        ("409 appointment_overlap (expected)", "-", f"{kota.overlaps:,}", ""),
        ("double bookings (must be 0)", "-", f"{kota.double_bookings:,}", ""),
        ("appointments stored / scheduled", "-", f"{kota.appointments:,} / {kota.scheduled:,}",
         ""),
        ("server log: internal errors, failed writes", "-", f"{kota.server_log_errors:,}",
         ""),
    ]


def _op_rows(kota: KotaResult) -> list[tuple[str, str, str, str, str]]:
    return [(op, f"{s.requests:,}", f"{s.p50_ms:.2f} / {s.p99_ms:.2f}", f"{s.overlaps:,}",
             f"{s.errors:,}") for op, s in kota.by_op.items()]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]


def render_text(result: StaffWritesResult) -> str:
    out = _table(("", "floor", "kota", "kota/floor"), _rows(result))
    out += ["", *_table(("request", "count", "p50 / p99 (ms)", "409 overlap", "errors"),
                        _op_rows(result.kota))]
    out += ["", *summarise(result)]
    return "\n".join(out)


def render_markdown(result: StaffWritesResult) -> str:
    out = ["| metric | floor | Kota | Kota / floor |", "|---|---:|---:|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(result)]
    out += ["", "| request | count | p50 / p99 (ms) | 409 overlap | errors |",
            "|---|---:|---:|---:|---:|"]
    out += [f"| {' | '.join(row)} |" for row in _op_rows(result.kota)]
    return "\n".join(out)


def summarise(result: StaffWritesResult) -> list[str]:
    kota = result.kota
    lines = [f"p99: {result.p99_ratio:.2f}x the floor's -> "
             f"{'PASS' if result.p99_ratio <= GOAL else 'FAIL'} (goal <= {GOAL:g}x)",
             f"p50: {result.p50_ratio:.2f}x the floor's -> "
             f"{'PASS' if result.p50_ratio <= GOAL else 'FAIL'} (goal <= {GOAL:g}x)",
             f"double bookings: {kota.double_bookings}"
             f"{'' if not kota.double_bookings else ' -> NOT correct'}",
             f"errors: {kota.error_count}"]
    lines += [f"  {n} x {what}" for what, n in sorted(kota.errors.items(), key=lambda e: -e[1])]
    for name, other in (("floor", result.floor_other_load), ("kota", result.kota_other_load)):
        if other > NOISY:
            lines.append(f"{name}: other work took {other:.0%} of core 0 during its window; "
                         "treat the latency figures as suspect")
    return lines
