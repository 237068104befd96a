"""Headers every response carries: no third-party origins, no inline script, no Referer."""

from __future__ import annotations

from aiohttp import web

from server.request_log import Handler

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
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
    headers.setdefault("Content-Security-Policy", CSP)
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
