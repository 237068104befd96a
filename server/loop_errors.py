"""LoopErrors: the event loop's exception handler, one line per kind of error per interval.

asyncio reports what it cannot hand to anyone (a failed ``accept()`` at the open-files
limit, a callback that raised, a task whose exception nobody read) through the loop's
exception handler, whose default writes a traceback each time: at the open-files limit
that was tens of thousands of lines a minute. Here each kind is written once per
interval with a count, and without the transport or socket reprs the default adds,
which name client addresses.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Final

from server.coalesced_log import CoalescedLog

logger = logging.getLogger(__name__)

_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]+|\d+")  # what makes one kind's messages differ
MAX_MESSAGE: Final = 200


class LoopErrors:
    __slots__ = ("_log",)

    def __init__(self, log: CoalescedLog) -> None:
        self._log = log

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        error = exc if isinstance(exc, BaseException) else None
        message = str(context.get("message") or "unhandled error in the event loop")
        message = message[:MAX_MESSAGE]
        kind = type(error).__name__ if error is not None else "none"
        detail = f"{kind} {_ADDRESS.sub('#', message)}"
        self._log.log(logger, logging.ERROR, "loop.error", detail=detail, exc_info=error,
                      error=message, exception=kind)

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.set_exception_handler(self)
