"""Liveness and readiness probes."""

from __future__ import annotations

from aiohttp import web

from server.app_keys import AUDIT, DB
from server.db import StorageError, StorageFull

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Unready while the database cannot be read, or written: after a failed write, a
    probe write (that changes nothing) decides, so readiness returns with the disk."""
    db = request.app[DB]
    pending = request.app[AUDIT].pending
    try:
        await db.ping()
        if db.write_fault is not None:
            await db.probe_write()
    except StorageError as fault:
        state = "storage_full" if isinstance(fault, StorageFull) else "storage_unavailable"
        return _unready(state, pending)
    except Exception:
        return _unready("unreachable", pending)
    return web.json_response({"status": "ok", "database": "ok", "usage_log_pending": pending})


def _unready(state: str, pending: int) -> web.Response:
    return web.json_response(
        {"status": "unavailable", "database": state, "usage_log_pending": pending}, status=503
    )
