"""Staff browser sessions: an HttpOnly, SameSite=Strict cookie, renewed while active,
and a CSRF token that every state-changing request must echo in a header."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web

from server.app_keys import AUDIT, CLOCK, DB, SETTINGS
from server.audit import Action, Actor
from server.errors import Forbidden, Unauthorized
from server.records import Staff, StaffSession
from server.request_log import Handler
from server.settings import Settings

COOKIE_NAME = "kota_session"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SESSION: web.RequestKey[StaffSession | None] = web.RequestKey("staff_session")
_SESSION_ID_HASH = web.RequestKey("session_id_hash", str)


def hash_session_id(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def start_session(request: web.Request, staff: Staff) -> tuple[str, StaffSession]:
    """Create a session row and its ``staff.login`` row in one transaction; return the
    cookie value and the session."""
    settings = request.app[SETTINGS]
    now = request.app[CLOCK]()
    value = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires_at = now + settings.session_lifetime
    async with request.app[DB].transaction() as tx:
        await tx.create_session(hash_session_id(value), staff.id, csrf, now, expires_at)
        await request.app[AUDIT].record(Actor.staff(staff.id), Action.STAFF_LOGIN, tx=tx)
    return value, StaffSession(staff, csrf, expires_at)


def set_session_cookie(response: web.StreamResponse, value: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=int(settings.session_lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=settings.secure_cookies,
    )


def clear_session_cookie(response: web.StreamResponse, settings: Settings) -> None:
    response.del_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="Strict", secure=settings.secure_cookies
    )


async def end_session(request: web.Request, staff: Staff) -> None:
    """Delete the session row and write ``staff.logout`` in one transaction."""
    id_hash = request.get(_SESSION_ID_HASH)
    async with request.app[DB].transaction() as tx:
        if id_hash:
            await tx.delete_session(id_hash)
        await request.app[AUDIT].record(Actor.staff(staff.id), Action.STAFF_LOGOUT, tx=tx)
    request[_SESSION] = None


async def load_session(request: web.Request, now: datetime) -> StaffSession | None:
    value = request.cookies.get(COOKIE_NAME)
    if not value or len(value) > 128:
        return None
    id_hash = hash_session_id(value)
    session = await request.app[DB].get_session(id_hash, now)
    if session is not None:
        request[_SESSION_ID_HASH] = id_hash
    return session


def client_address(request: web.Request) -> str:
    """The caller's address; behind Kota's own proxy, the one the proxy saw."""
    if request.app[SETTINGS].trusted_proxy:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.remote or "unknown"


def _same_origin(request: web.Request) -> bool:
    """Browsers send Origin on cross-site writes; it must be Kota's own."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = {f"{request.scheme}://{request.host}", request.app[SETTINGS].public_url}
    parts = urlsplit(origin)
    return f"{parts.scheme}://{parts.netloc}" in allowed


def check_origin(request: web.Request) -> None:
    if request.method in UNSAFE_METHODS and not _same_origin(request):
        raise Forbidden("cross_origin", "This request came from another site and was refused.")


def require_staff(request: web.Request) -> StaffSession:
    """The signed-in staff member; unsafe methods must also carry the CSRF token."""
    session: StaffSession | None = request.get(_SESSION)
    if session is None:
        raise Unauthorized("not_signed_in", "Please sign in.")
    if request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            raise Forbidden("csrf_failed", "The page is out of date. Reload it and try again.")
    return session


def require_admin(request: web.Request) -> StaffSession:
    session = require_staff(request)
    if not session.staff.is_admin:
        raise Forbidden("admin_only", "Only an administrator can do this.")
    return session


async def current_staff(request: web.Request) -> StaffSession | None:
    """The session, if any, for the call socket, which serves families too.

    Read once at the upgrade: a call outlives any renewal, and the socket's cookie cannot
    be refreshed anyway.
    """
    return await load_session(request, request.app[CLOCK]())


@web.middleware
def session_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Load the staff session for API calls and slide its expiry while it is in use.

    Other routes pass straight through, holding no frame of ours: pages need no session,
    and the call socket loads its own once (``load_session``), as it lives for hours.
    """
    if not request.path.startswith("/api/"):
        return handler(request)
    return _with_session(request, handler)


async def _with_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    check_origin(request)
    settings = request.app[SETTINGS]
    now = request.app[CLOCK]()
    session = await load_session(request, now)
    request[_SESSION] = session
    response = await handler(request)
    session = request.get(_SESSION)
    id_hash = request.get(_SESSION_ID_HASH)
    renew = session is not None and session.expires_at - now < settings.session_lifetime / 2
    if renew and id_hash and not response.prepared:
        async with request.app[DB].transaction() as tx:
            await tx.extend_session(id_hash, now + settings.session_lifetime)
        value = request.cookies[COOKIE_NAME]
        set_session_cookie(response, value, settings)
    return response
