"""The signalling benchmark's machinery, run tiny: C=4 against the floor and Kota.

Not a performance test: it proves that both servers start, every pair joins and does
its exchange, both relay phases move messages, and the benchmark's own checks find no
lost, misrouted or reordered message — and that those checks do catch a bad one.
"""

from __future__ import annotations

from pathlib import Path

from bench.join_flows import FloorJoinFlow
from bench.load import EXCHANGE_MESSAGES, Fleet
from bench.payloads import Outbox
from bench.report import FLOOR, KOTA, render_text
from bench.signalling_relay import BenchConfig, run_benchmark


async def test_tiny_run_relays_everything_to_the_right_peer(tmp_path: Path) -> None:
    config = BenchConfig(
        clients=(4,), seconds=0.5, paced_seconds=0.3, warmup=0.1, settle=0.1,
        in_flight=8, pin=False, workdir=tmp_path, log=False,
    )
    results = await run_benchmark(config)
    assert [(r.server, r.clients) for r in results] == [(FLOOR, 4), (KOTA, 4)]
    for result in results:
        assert result.clean, render_text(results)
        # Two pairs, each side sending an offer or answer and its candidates, then relay.
        assert result.relayed > 2 * 2 * EXCHANGE_MESSAGES, result
        assert result.peak_rate > 0 and result.paced_rate > 0, result
        assert result.join_p50_ms > 0 and result.rss_idle > 0, result
        assert result.peak_cpu_us > 0, result
    assert results[1].paced_target == results[0].paced_target  # Kota paced like the floor


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
