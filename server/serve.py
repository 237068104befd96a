"""serve(app, settings): what ``kota run`` runs, aiohttp's ``run_app`` with a connection cap.

``run_app`` gives the loop aiohttp's handler for every accepted socket; here the
listening socket gets a ``ConnectionCap`` in front of it, and the loop an exception
handler that writes each kind of error once per interval (``LoopErrors``). Stopping is
as before: SIGTERM or SIGINT stops listening, ``on_shutdown`` closes every call socket
with 1001 ``server_shutdown``, open requests get ``SHUTDOWN_TIMEOUT`` seconds, then
``cleanup_ctx`` closes peers and the database. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Final

from aiohttp import web

from server.app_keys import COALESCED_LOG
from server.coalesced_log import CoalescedLog
from server.connection_cap import ConnectionCap
from server.loop_errors import LoopErrors
from server.settings import Settings

KEEPALIVE_TIMEOUT: Final = 75.0  # run_app's: an idle keep-alive connection is closed after it
SHUTDOWN_TIMEOUT: Final = 60.0  # run_app's: how long open requests may finish at shutdown
BACKLOG: Final = 128  # the listen queue, and the most sockets one loop pass accepts
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)

logger = logging.getLogger(__name__)


def run(app: web.Application, settings: Settings) -> None:
    """Serves until SIGTERM or SIGINT, then shuts down cleanly."""
    asyncio.run(serve(app, settings))


async def serve(app: web.Application, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    coalesced = app[COALESCED_LOG]
    LoopErrors(coalesced).install(loop)
    stopping = asyncio.Event()
    for sig in STOP_SIGNALS:  # before start-up, so a stop during it is not lost
        loop.add_signal_handler(sig, stopping.set)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=KEEPALIVE_TIMEOUT,
                           shutdown_timeout=SHUTDOWN_TIMEOUT)
    try:
        await runner.setup()
        await _listen_until(stopping, runner, settings, coalesced)
    finally:
        _restore_signals(loop)
        coalesced.close()


async def _listen_until(stopping: asyncio.Event, runner: web.AppRunner, settings: Settings,
                        coalesced: CoalescedLog) -> None:
    """Serves until ``stopping`` is set, then stops listening and shuts the app down."""
    loop = asyncio.get_running_loop()
    assert runner.server is not None

    def refused(open_connections: int) -> None:
        coalesced.log(logger, logging.WARNING, "server.connections_refused",
                      limit=settings.max_connections, open=open_connections)

    cap = ConnectionCap(runner.server, settings.max_connections, refused)
    listener: asyncio.Server | None = None
    try:
        listener = await loop.create_server(cap, settings.host, settings.port, backlog=BACKLOG)
        logger.info("server.listening", extra={"max_connections": settings.max_connections,
                                               "max_call_sockets": settings.max_call_sockets})
        await stopping.wait()
        logger.info("server.stopping")
    finally:
        _restore_signals(loop)  # a second signal now stops at once
        if listener is not None:
            listener.close()
        cap.close()
        await runner.cleanup()


def _restore_signals(loop: asyncio.AbstractEventLoop) -> None:
    for sig in STOP_SIGNALS:
        loop.remove_signal_handler(sig)
