"""Heartbeat: the one timer that asks every open call socket to beat."""

from __future__ import annotations

import asyncio

import pytest

from signalling.heartbeat import Heartbeat
from tests.conftest import wait_until

INTERVAL = 0.05


class Socket:
    def __init__(self, heartbeat: Heartbeat | None = None, fail: bool = False) -> None:
        self.beats = 0
        self.heartbeat = heartbeat
        self.fail = fail

    def beat(self) -> None:
        self.beats += 1
        if self.heartbeat is not None:  # a socket dropped by its own beat leaves the set
            self.heartbeat.discard(self)
        if self.fail:
            raise RuntimeError("broken socket")


async def sweeps(n: int) -> None:
    """Returns after ``n`` sweeps of a heartbeat of its own with the same interval."""
    witness, clock = Socket(), Heartbeat(INTERVAL)
    clock.add(witness)
    clock.start()
    try:
        await wait_until(lambda: witness.beats >= n, what=f"{n} sweeps")
    finally:
        clock.stop()


async def test_every_socket_beats_once_per_sweep_and_not_before_the_interval() -> None:
    heartbeat = Heartbeat(INTERVAL)
    sockets = [Socket() for _ in range(3)]
    for socket in sockets:
        heartbeat.add(socket)
    loop = asyncio.get_running_loop()
    started = loop.time()
    heartbeat.start()
    await wait_until(lambda: all(s.beats >= 3 for s in sockets), what="three beats each")
    heartbeat.stop()
    assert loop.time() - started >= 3 * INTERVAL * 0.9  # call_later may round down a little
    counted = [s.beats for s in sockets]
    assert max(counted) - min(counted) <= 1, counted  # each sweep asks every socket
    await sweeps(3)
    assert [s.beats for s in sockets] == counted  # stopped means no more beats


async def test_a_socket_may_leave_during_its_beat_and_a_broken_one_spares_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heartbeat = Heartbeat(INTERVAL)
    leaving, broken, healthy = Socket(heartbeat), Socket(fail=True), Socket()
    for socket in (leaving, broken, healthy):
        heartbeat.add(socket)
    heartbeat.start()
    await wait_until(lambda: healthy.beats >= 2, what="two sweeps")
    heartbeat.stop()
    assert leaving.beats == 1 and len(heartbeat) == 2
    assert broken.beats == healthy.beats
    assert "ws.heartbeat_failed" in caplog.text


async def test_a_removed_socket_is_not_asked_again() -> None:
    heartbeat = Heartbeat(INTERVAL)
    removed, kept = Socket(), Socket()
    heartbeat.add(removed)
    heartbeat.add(kept)
    heartbeat.discard(removed)
    heartbeat.start()
    await wait_until(lambda: kept.beats >= 2, what="two sweeps")
    heartbeat.stop()
    assert removed.beats == 0


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Heartbeat(0)
