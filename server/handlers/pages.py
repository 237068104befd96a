"""The browser pages and their static files (plain ES modules and CSS from web/)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from server.request_log import Handler

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

PAGES = {
    "/": "staff.html",
    "/join": "join.html",
    "/staff": "staff.html",
    "/staff/call": "staff-call.html",
}


def add_page_routes(app: web.Application) -> None:
    for path, filename in PAGES.items():
        app.router.add_get(path, _page(WEB_DIR / filename))
    app.router.add_static("/static/", WEB_DIR, follow_symlinks=False, append_version=False)


def _page(file: Path) -> Handler:
    async def serve(request: web.Request) -> web.FileResponse:
        response = web.FileResponse(file)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return serve
