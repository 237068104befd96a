"""The fixed-rate phase: server CPU per message and p99 latency at one offered rate.

The closed loop saturates the server's core, and a saturated server reads many frames
per wake-up and sends many per write: what it pays per wake-up (epoll, the read and
write system calls, a task switch) is shared by a batch, and any check Kota adds looks
small beside it. A real server is far from saturated: each message arrives on its own.
So here both servers run at once, each pinned to core 0 with its own fleet of C
clients joined, and the load generator (this process, on core 1) offers the same fixed
rate (``--fixed-rate``, 10,000 msg/s by default) to one and then the other, window
after window, alternating which goes first. Each window gives the server's CPU time
per relayed message (``/proc``, the load generator's own CPU is not in it) and its
relay latency; the figures reported are the medians over the windows that reached the
offered rate, so other work on a shared machine lands on both servers alike and a
disturbed window does not decide.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from bench.load import Fleet, RelayStats
from bench.report import FLOOR, KOTA, NOISY, percentile

if TYPE_CHECKING:
    from bench.signalling_relay import Bench

CPU_GOAL = 1.3  # Kota's CPU per message at the fixed rate, at most this times the floor's
P99_GOAL = 3.0  # Kota's p99 relay latency at the fixed rate, at most this times the floor's
REACHED = 0.95  # a window more than 5% off the offered rate is not counted


@dataclass(frozen=True)
class Window:
    """One fixed-rate window of one server."""

    rate: float  # achieved, msg/s
    cpu_us: float  # server CPU per relayed message
    p50_ms: float
    p99_ms: float
    other_load: float  # share of a core that went to other work during the window


@dataclass(frozen=True)
class FixedRateResult:
    """Both servers at one C and one offered rate, window by window."""

    clients: int
    target: float
    windows: dict[str, tuple[Window, ...]]
    lost: dict[str, int]
    misrouted: dict[str, int]
    out_of_order: dict[str, int]
    errors: dict[str, tuple[str, ...]]
    dropped: dict[str, tuple[int, ...]]

    def counted(self, server: str) -> tuple[Window, ...]:
        """The windows that reached the offered rate; all of them if none did.

        A window off it means the load generator or the server lost its core to other
        work (and then caught up): its latency is queueing behind that work.
        """
        windows = self.windows.get(server, ())
        reached = tuple(w for w in windows if self._at_rate(w))
        return reached or windows

    def reached(self, server: str) -> int:
        return sum(self._at_rate(w) for w in self.windows.get(server, ()))

    def _at_rate(self, window: Window) -> bool:
        """Within REACHED of the offered rate: not behind it, nor catching up on a stall."""
        return abs(window.rate / self.target - 1) <= 1 - REACHED

    def median(self, server: str, field: str) -> float:
        values = [getattr(w, field) for w in self.counted(server)]
        values = [v for v in values if not math.isnan(v)]
        return statistics.median(values) if values else math.nan

    def ratio(self, field: str) -> float:
        floor = self.median(FLOOR, field)
        return self.median(KOTA, field) / floor if floor else math.nan

    def paired_ratio(self, field: str) -> float:
        """Median of Kota / floor over the turns in which both windows were at the rate.

        The two windows of a turn are back to back, so other work on the machine, which
        drifts over minutes, weighs on both alike; the ratio of the medians does not
        cancel it as well when few windows count.
        """
        pairs = zip(self.windows.get(FLOOR, ()), self.windows.get(KOTA, ()), strict=False)
        ratios = [getattr(k, field) / getattr(f, field) for f, k in pairs
                  if self._at_rate(f) and self._at_rate(k) and getattr(f, field)]
        return statistics.median(ratios) if ratios else math.nan

    def clean(self, server: str) -> bool:
        return not (self.lost.get(server) or self.misrouted.get(server)
                    or self.out_of_order.get(server) or self.errors.get(server)
                    or self.dropped.get(server))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_ratio": self.ratio("cpu_us"),
                "p99_ratio": self.ratio("p99_ms"),
                "cpu_paired_ratio": self.paired_ratio("cpu_us"),
                "p99_paired_ratio": self.paired_ratio("p99_ms")}


def window_of(stats: RelayStats, noise: float) -> Window:
    return Window(
        rate=stats.rate,
        cpu_us=stats.cpu.server_s / stats.messages * 1e6 if stats.messages else math.nan,
        p50_ms=percentile(stats.latencies_ns, 0.5) / 1e6,
        p99_ms=percentile(stats.latencies_ns, 0.99) / 1e6,
        other_load=noise,
    )


async def run_fixed_rate(bench: Bench, clients: int) -> FixedRateResult:
    """Floor and Kota up together at ``clients``; alternate windows at the fixed rate."""
    config = bench.config
    servers = [s for s in (FLOOR, KOTA) if s in config.servers]
    processes = {}
    fleets: dict[str, Fleet] = {}
    try:
        for server in servers:
            port = bench.free_port()
            processes[server] = await bench.start(server, port, f"{server}-{clients}-fixed")
            fleets[server] = Fleet("127.0.0.1", port, bench.flow(server), clients // 2,
                                   config.relay)
            bench.say(f"  fixed rate, {server} C={clients}: joining…")
            await fleets[server].join(config.join_concurrency)
            await processes[server].settle(config.settle)
        windows: dict[str, list[Window]] = {s: [] for s in servers}
        bench.say(f"  fixed rate C={clients}: {config.fixed_windows} windows of "
                  f"{config.fixed_seconds:g}s at {config.fixed_rate:,.0f} msg/s per server…")
        for i in range(config.fixed_windows):
            order = servers if i % 2 == 0 else servers[::-1]
            for server in order:
                process = processes[server]
                stats = await fleets[server].paced(
                    config.fixed_rate, config.fixed_seconds, config.warmup, process.sample)
                process.check_alive()
                windows[server].append(window_of(stats, bench.noise(stats)))
        for server in servers:
            await fleets[server].close()
    finally:
        for process in processes.values():
            await process.stop()
    return FixedRateResult(
        clients=clients,
        target=config.fixed_rate,
        windows={s: tuple(w) for s, w in windows.items()},
        lost={s: f.lost for s, f in fleets.items()},
        misrouted={s: f.misrouted for s, f in fleets.items()},
        out_of_order={s: f.out_of_order for s, f in fleets.items()},
        errors={s: tuple(f.errors) for s, f in fleets.items()},
        dropped={s: tuple(f.dropped) for s, f in fleets.items()},
    )


def _rows(result: FixedRateResult) -> list[tuple[str, str, str, str]]:
    def cells(field: str, fmt: str) -> tuple[str, str]:
        return (format(result.median(FLOOR, field), fmt), format(result.median(KOTA, field), fmt))

    def ratio(field: str, goal: float | None = None) -> str:
        q = result.ratio(field)
        if math.isnan(q):
            return ""
        return f"{q:.2f}x" + (f" (goal <= {goal}: {'met' if q <= goal else 'NOT met'})"
                              if goal is not None else "")

    def spread(server: str, field: str, fmt: str) -> str:
        values = [getattr(w, field) for w in result.counted(server)]
        return f"{format(min(values), fmt)} / {format(max(values), fmt)}" if values else "-"

    def faults(server: str) -> str:
        return (f"{result.lost.get(server, 0)} / {result.misrouted.get(server, 0)} / "
                f"{result.out_of_order.get(server, 0)}")

    def paired(field: str) -> str:
        q = result.paired_ratio(field)
        return "" if math.isnan(q) else f"{q:.2f}x median of turns"

    def counts(server: str) -> str:
        return (f"{len(result.windows.get(server, ()))} / {result.reached(server)} / "
                f"{quiet.get(server, 0)}")

    quiet = {s: sum(w.other_load <= NOISY for w in ws) for s, ws in result.windows.items()}
    return [
        ("achieved msg/s (median)", *cells("rate", ",.0f"), ""),
        ("server CPU per message (us)", *cells("cpu_us", ".1f"), ratio("cpu_us", CPU_GOAL)),
        ("… counted windows, fewest / most", spread(FLOOR, "cpu_us", ".1f"),
         spread(KOTA, "cpu_us", ".1f"), paired("cpu_us")),
        ("relay latency p50 (ms)", *cells("p50_ms", ".2f"), ratio("p50_ms")),
        ("relay latency p99 (ms)", *cells("p99_ms", ".2f"), ratio("p99_ms", P99_GOAL)),
        ("… counted windows, fewest / most", spread(FLOOR, "p99_ms", ".2f"),
         spread(KOTA, "p99_ms", ".2f"), paired("p99_ms")),
        ("windows / at the rate (counted) / quiet", counts(FLOOR), counts(KOTA), ""),
        ("lost / misrouted / reordered", faults(FLOOR), faults(KOTA), ""),
    ]


def render_text(results: Sequence[FixedRateResult]) -> str:
    out = []
    for result in results:
        rows = _rows(result)
        header = ("", FLOOR, KOTA, "kota/floor")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
        out.append(f"\nC = {result.clients:,} at a fixed {result.target:,.0f} msg/s "
                   "(medians over the counted windows)")
        for row in [header, *rows]:
            out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return "\n".join(out)


def render_markdown(results: Sequence[FixedRateResult]) -> str:
    out = []
    for result in results:
        out += [f"#### C = {result.clients:,} at a fixed {result.target:,.0f} msg/s", "",
                "| metric (median over the counted windows) | floor | Kota | Kota / floor |",
                "|---|---:|---:|---|"]
        out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(result)]
        out.append("")
    return "\n".join(out)


def summarise(results: Sequence[FixedRateResult]) -> list[str]:
    lines = []
    for result in results:
        c = result.clients
        for server in result.windows:
            if not result.clean(server):
                lines.append(f"C={c} fixed rate: {server} NOT clean: lost "
                             f"{result.lost.get(server)}, misrouted "
                             f"{result.misrouted.get(server)}, reordered "
                             f"{result.out_of_order.get(server)}, errors "
                             f"{sorted(set(result.errors.get(server, ())))}, dropped "
                             f"{sorted(set(result.dropped.get(server, ())))}")
            if not result.reached(server):
                lines.append(f"C={c} fixed rate: {server}: no window within {1 - REACHED:.0%} "
                             f"of {result.target:,.0f} msg/s (other work on the machine, or "
                             "the load generator's core); figures NOT comparable")
        if FLOOR not in result.windows or KOTA not in result.windows:
            continue
        for label, field, goal in (("CPU per message", "cpu_us", CPU_GOAL),
                                   ("p99 latency", "p99_ms", P99_GOAL)):
            q = result.ratio(field)
            lines.append(f"C={c}: at {result.target:,.0f} msg/s, {label}: {q:.2f}x the floor "
                         f"-> {'met' if q <= goal else 'NOT met'}")
    return lines
