"""Periodic: one background job run at start and then at a fixed interval (the
personal-data removal daily, the report's settling hourly)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class Periodic:
    """Runs ``job`` at once and then every ``interval`` seconds until stopped. A failed
    run is logged as ``<name>_failed`` and the next one still comes. ``stop`` cancels it
    between runs or mid-run (a transaction under way then rolls back whole)."""

    def __init__(self, name: str, job: Callable[[], Awaitable[object]],
                 interval: float) -> None:
        self._name = name
        self._job = job
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self._job()
            except Exception:
                logger.exception(f"{self._name}_failed")
            await asyncio.sleep(self._interval)
