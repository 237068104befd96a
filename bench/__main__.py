"""``python -m bench`` (``make bench``): the signalling benchmark, Kota against the floor.

``python -m bench staff-writes``: the staff API under write load (bench/staff_writes.py).
``python -m bench six-pages``: six Chromium pages in one call (bench/six_pages.py).
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

from bench import six_pages, staff_writes
from bench.report import RunResult, render_markdown, render_text, summarise
from bench.signalling_relay import (
    BenchConfig,
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
        "python -m bench six-pages --help: six Chromium pages in one call",
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
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the server and load generator to cores 0 and 1")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the tables as Markdown for docs/performance.md")
    return parser


async def _run(config: BenchConfig) -> list[RunResult]:
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
    args = _parser().parse_args(argv)
    config = BenchConfig(
        clients=args.clients, servers=args.servers, seconds=args.seconds,
        paced_seconds=args.paced_seconds, in_flight=args.in_flight,
        relay=args.relay, join_concurrency=args.join_concurrency, rounds=args.rounds,
        pin=not args.no_pin,
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
    print(render_text(results))
    if args.markdown:
        print()
        print(render_markdown(results))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    failed = [line for line in summarise(results) if "NOT" in line]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
