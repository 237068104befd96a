"""``python -m bench`` (``make bench``): the signalling benchmark, Kota against the floor.

``python -m bench staff-writes``: the staff API under write load (bench/staff_writes.py).
``python -m bench six-pages``: six Chromium pages in one call (bench/six_pages.py).
``python -m bench booking``: families racing for booking times (bench/booking_race.py).
``python -m bench line-wait``: a contact line's expected wait (bench/line_wait.py).
``python -m bench lines``: 500 people on one line, position updates (bench/lines.py).
``python -m bench access-report``: a client's access report over two years of usage log
(bench/access_report.py).
``python -m bench metrics-cost``: the relay and reads with metrics on (bench/metrics_cost.py).
``python -m bench reports``: the monthly organisation report over a year (bench/reports.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    access_report,
    booking_race,
    fixed_rate,
    line_wait,
    metrics_cost,
    six_pages,
    staff_writes,
)
from bench import lines as line_updates
from bench import reports as organisation_reports
from bench.report import render_markdown, render_text, summarise
from bench.signalling_relay import (
    BenchConfig,
    BenchResults,
    describe_machine,
    options_line,
    parse_clients,
    run_benchmark,
    servers_from,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0],
        epilog="python -m bench staff-writes --help: the staff API under write load; "
        "python -m bench six-pages --help: six Chromium pages in one call; "
        "python -m bench booking --help: families racing for booking times; "
        "python -m bench line-wait --help: a contact line's expected wait; "
        "python -m bench lines --help: position updates on a line of 500; "
        "python -m bench reports --help: the monthly organisation report over a year",
    )
    parser.add_argument("--clients", type=parse_clients, default=BenchConfig.clients,
                        help="comma-separated even client counts (default 200,1000,5000)")
    parser.add_argument("--servers", type=servers_from, default=BenchConfig.servers,
                        help="floor,kota (default both)")
    parser.add_argument("--seconds", type=float, default=BenchConfig.seconds,
                        help="closed-loop measurement window")
    parser.add_argument("--paced-seconds", type=float, default=BenchConfig.paced_seconds)
    parser.add_argument("--in-flight", type=int, default=BenchConfig.in_flight,
                        help="messages travelling at once in the closed loop (at least 1 per "
                        "client)")
    parser.add_argument("--relay", choices=("signal", "chat"), default=BenchConfig.relay,
                        help="what the relay phases send (chat also checks the usage log)")
    parser.add_argument("--join-concurrency", type=int, default=BenchConfig.join_concurrency)
    parser.add_argument("--rounds", type=int, default=BenchConfig.rounds,
                        help="repeat everything; each server's best round counts")
    parser.add_argument("--fixed-rate", type=float, default=BenchConfig.fixed_rate,
                        help="msg/s offered to both servers in turn in the fixed-rate phase "
                        "(0: leave the phase out)")
    parser.add_argument("--fixed-clients", type=parse_clients,
                        default=BenchConfig.fixed_clients,
                        help="client counts for the fixed-rate phase (default 200,1000)")
    parser.add_argument("--fixed-seconds", type=float, default=BenchConfig.fixed_seconds,
                        help="one fixed-rate window")
    parser.add_argument("--fixed-windows", type=int, default=BenchConfig.fixed_windows,
                        help="fixed-rate windows per server, taken in turns; medians count")
    parser.add_argument("--no-peak", action="store_true",
                        help="only the fixed-rate phase: no memory, closed-loop or paced runs")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the server and load generator to cores 0 and 1")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the tables as Markdown for docs/performance.md")
    return parser


async def _run(config: BenchConfig) -> BenchResults:
    """SIGTERM cancels the run like Ctrl+C, so the servers it started are stopped too."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_benchmark(config)


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    if given[:1] == ["staff-writes"]:
        return staff_writes.main(given[1:])
    if given[:1] == ["six-pages"]:
        return six_pages.main(given[1:])
    if given[:1] == ["booking"]:
        return booking_race.main(given[1:])
    if given[:1] == ["line-wait"]:
        return line_wait.main(given[1:])
    if given[:1] == ["lines"]:
        return line_updates.main(given[1:])
    if given[:1] == ["access-report"]:  # the client's access report
        return access_report.main(given[1:])
    if given[:1] == ["metrics-cost"]:  # metrics: what counting costs the relay and reads
        return metrics_cost.main(given[1:])
    if given[:1] == ["reports"]:
        return organisation_reports.main(given[1:])
    args = _parser().parse_args(argv)
    config = BenchConfig(
        clients=args.clients, servers=args.servers, seconds=args.seconds,
        paced_seconds=args.paced_seconds, in_flight=args.in_flight,
        relay=args.relay, join_concurrency=args.join_concurrency, rounds=args.rounds,
        pin=not args.no_pin, peak=not args.no_peak, fixed_rate=args.fixed_rate,
        fixed_clients=args.fixed_clients, fixed_seconds=args.fixed_seconds,
        fixed_windows=args.fixed_windows,
    )
    started = datetime.now(UTC)
    try:
        results = asyncio.run(_run(config))
    except (asyncio.CancelledError, KeyboardInterrupt):
        print("bench: stopped before the end; servers stopped", file=sys.stderr)
        return 130
    print(f"Signalling benchmark, {started:%Y-%m-%d %H:%M} UTC, {describe_machine()}")
    print(options_line(config, sys.argv[1:] if argv is None else argv))
    for note in config.skipped:
        print(f"skipped {note}")
    if results.runs:
        print(render_text(results.runs))
    if results.fixed:
        print(fixed_rate.render_text(results.fixed))
        print()
        print("\n".join(fixed_rate.summarise(results.fixed)))
    if args.markdown:
        print()
        print(render_markdown(results.runs))
        print(fixed_rate.render_markdown(results.fixed))
    if args.json:
        args.json.write_text(json.dumps(
            {"runs": [r.as_dict() for r in results.runs],
             "fixed_rate": [r.as_dict() for r in results.fixed]}, indent=2))
    lines = summarise(results.runs) + fixed_rate.summarise(results.fixed)
    failed = [line for line in lines if "NOT" in line]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
