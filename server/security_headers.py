"""Headers every response carries: no third-party origins, no inline script, no Referer."""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

from aiohttp import web

from server.app_keys import SETTINGS


@cache
def content_security_policy(public_url: str) -> str:
    """Only Kota's own origin; its WebSocket is named because older Safari does not
    count ws(s):// as 'self'."""
    parts = urlsplit(public_url)
    socket_origin = f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            f"connect-src 'self' {socket_origin}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


# Camera and microphone only where a call happens. The staff app is one (a contact line's
# session there may become a video call), and so is a contact line's page.
CALL_PAGES = ("/join", "/staff/call", "/staff")
CALL_PAGE_PREFIXES = ("/line/",)
CALL_PERMISSIONS = "camera=(self), microphone=(self), display-capture=(self), geolocation=()"
OTHER_PERMISSIONS = "camera=(), microphone=(), display-capture=(), geolocation=()"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """An ``on_response_prepare`` hook: every response gets them, error pages included,
    and no middleware frame of ours is held while a call socket is open.

    A WebSocket's 101 gets none: no browser applies them to a socket, and the socket's
    response lives as long as the call, so they would cost every call ~2 KB.
    """
    if response.status == 101:
        return
    headers = response.headers
    csp = content_security_policy(request.app[SETTINGS].public_url)
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    on_call_page = request.path in CALL_PAGES or request.path.startswith(CALL_PAGE_PREFIXES)
    headers.setdefault(
        "Permissions-Policy", CALL_PERMISSIONS if on_call_page else OTHER_PERMISSIONS
    )
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
