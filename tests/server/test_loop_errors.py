"""A flood of one asyncio error, or of refusals, is one log line per interval with a count."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from server.coalesced_log import CoalescedLog
from server.loop_errors import LoopErrors
from tests.conftest import wait_until

FLOOD = 2_000
test_logger = logging.getLogger("tests.flood")


def _lines(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == event]


@pytest.fixture
async def loop_errors(caplog: pytest.LogCaptureFixture) -> AsyncIterator[CoalescedLog]:
    """This test's loop reports its errors through LoopErrors, as ``kota run``'s does."""
    caplog.set_level(logging.INFO)
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    log = CoalescedLog(interval=600)
    LoopErrors(log).install(loop)
    yield log
    log.close()
    loop.set_exception_handler(previous)


class Boom(RuntimeError):
    """A callback with a bug in it."""


def _boom() -> None:
    raise Boom("the same failure every time")


async def _run_callbacks(count: int) -> None:
    """Schedules ``count`` failing callbacks and waits until the loop has run them all."""
    loop = asyncio.get_running_loop()
    for _ in range(count):
        loop.call_soon(_boom)
    done = loop.create_future()
    loop.call_soon(done.set_result, None)  # runs after them: call_soon is first in, first out
    await done


async def test_a_flood_of_one_loop_error_is_one_line_then_a_count(
    loop_errors: CoalescedLog, caplog: pytest.LogCaptureFixture
) -> None:
    await _run_callbacks(FLOOD)
    [first] = _lines(caplog, "loop.error")
    assert first.levelno == logging.ERROR
    assert getattr(first, "count", None) == 1
    assert first.exc_info is not None and first.exc_info[0] is Boom  # the traceback, once
    assert getattr(first, "exception", None) == "Boom"
    loop_errors.close()  # shutdown writes what was counted
    [_, summary] = _lines(caplog, "loop.error")
    assert getattr(summary, "count", None) == FLOOD - 1
    assert summary.exc_info is None


async def test_the_default_handler_would_have_written_every_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What the test above guards against: asyncio's own handler logs each error."""
    caplog.set_level(logging.INFO)
    await _run_callbacks(50)
    assert len([r for r in caplog.records if r.name == "asyncio"]) == 50


async def test_different_errors_each_get_their_first_line(
    loop_errors: CoalescedLog, caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.get_running_loop()
    for _ in range(100):
        loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                     "exception": OSError(24, "Too many open files")})
    await _run_callbacks(100)
    errors = sorted(getattr(r, "exception", "") for r in _lines(caplog, "loop.error"))
    assert errors == ["Boom", "OSError"]


async def test_counts_are_written_when_the_interval_ends(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    log = CoalescedLog(interval=0.05)
    try:
        for _ in range(FLOOD):
            log.log(test_logger, logging.WARNING, "server.connections_refused", limit=8)
        assert [getattr(r, "count", None) for r in _lines(caplog, "server.connections_refused")
                ] == [1]
        await wait_until(lambda: len(_lines(caplog, "server.connections_refused")) == 2,
                         what="the interval's count to be written")
        summary = _lines(caplog, "server.connections_refused")[1]
        assert getattr(summary, "count", None) == FLOOD - 1
        assert getattr(summary, "limit", None) == 8
    finally:
        log.close()
    assert len(_lines(caplog, "server.connections_refused")) == 2  # nothing left to write
