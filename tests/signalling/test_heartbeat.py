"""Heartbeat: the one timer that asks every open call socket to beat."""

from __future__ import annotations

import asyncio

import pytest

from signalling.heartbeat import Heartbeat


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


async def test_every_socket_beats_once_per_interval() -> None:
    heartbeat = Heartbeat(0.05)
    sockets = [Socket() for _ in range(3)]
    for socket in sockets:
        heartbeat.add(socket)
    heartbeat.start()
    await asyncio.sleep(0.28)
    heartbeat.stop()
    assert all(4 <= s.beats <= 6 for s in sockets), [s.beats for s in sockets]
    counted = [s.beats for s in sockets]
    await asyncio.sleep(0.15)
    assert [s.beats for s in sockets] == counted  # stopped means no more beats


async def test_a_socket_may_leave_during_its_beat_and_a_broken_one_spares_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heartbeat = Heartbeat(0.05)
    leaving, broken, healthy = Socket(heartbeat), Socket(fail=True), Socket()
    for socket in (leaving, broken, healthy):
        heartbeat.add(socket)
    heartbeat.start()
    await asyncio.sleep(0.13)
    heartbeat.stop()
    assert leaving.beats == 1 and len(heartbeat) == 2
    assert broken.beats >= 2 and healthy.beats == broken.beats
    assert "ws.heartbeat_failed" in caplog.text


async def test_a_removed_socket_is_not_asked_again() -> None:
    heartbeat = Heartbeat(0.05)
    socket = Socket()
    heartbeat.add(socket)
    heartbeat.discard(socket)
    heartbeat.start()
    await asyncio.sleep(0.12)
    heartbeat.stop()
    assert socket.beats == 0


def test_the_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Heartbeat(0)
