"""Headers every response carries: no third-party origins, no inline script, no Referer."""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

from aiohttp import web

from server.app_keys import SETTINGS
from server.request_log import Handler


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


# Camera and microphone only where a call happens.
CALL_PAGES = ("/join", "/staff/call")
CALL_PERMISSIONS = "camera=(self), microphone=(self), display-capture=(self), geolocation=()"
OTHER_PERMISSIONS = "camera=(), microphone=(), display-capture=(), geolocation=()"


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _apply(request, exc)
        raise
    _apply(request, response)
    return response


def _apply(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return
    headers = response.headers
    csp = content_security_policy(request.app[SETTINGS].public_url)
    headers.setdefault("Content-Security-Policy", csp)
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    on_call_page = request.path in CALL_PAGES
    headers.setdefault(
        "Permissions-Policy", CALL_PERMISSIONS if on_call_page else OTHER_PERMISSIONS
    )
    if request.path.startswith("/api/"):
        headers.setdefault("Cache-Control", "no-store")
