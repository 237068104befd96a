"""The browser pages and their static files (plain ES modules, CSS and texts from web/),
from memory, gzip-compressed when the browser takes it (server/static_files.py).

- ``/static/v/<version>/<path>``: the current version's files, cached for a year
  (``immutable``). An earlier version's URL (a page opened before a restart) gets today's
  file with ``no-cache``, never marked immutable under the old name.
- ``/static/<path>``: the same files, ``no-cache``, for anything that still names them.
- The pages: ``no-cache`` (they carry the version), revalidated with an ETag.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from server import static_files
from server.request_log import Handler
from server.static_files import IMMUTABLE, REVALIDATE, Asset, StaticFiles

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

PAGES = {
    "/": "staff.html",
    "/join": "join.html",
    "/staff": "staff.html",
    "/staff/call": "staff-call.html",
    # Family self-booking, no account. The two fixed paths come before the service's
    # own (aiohttp tries routes in order), so no service can be called "confirm".
    "/book/confirm": "book-confirm.html",
    "/book/manage": "book-manage.html",
    "/book/{slug}": "book.html",
    # Contact lines, no account: a family's own line (its secret in the fragment) and a
    # public line by its slug ("my" is a reserved slug).
    "/line/my": "line.html",
    "/line/{slug}": "line.html",
}


def add_page_routes(app: web.Application, root: Path = WEB_DIR) -> StaticFiles:
    files = static_files.load(root)
    for path, filename in PAGES.items():
        app.router.add_get(path, _page(files.pages[filename]))
    app.router.add_get("/static/v/{version}/{path:.+}", _versioned(files))
    app.router.add_get("/static/{path:.+}", _unversioned(files))
    return files


def _page(asset: Asset) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        return respond(request, asset, REVALIDATE)

    return serve


def _versioned(files: StaticFiles) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        asset = files.assets.get(request.match_info["path"])
        if asset is None:
            raise web.HTTPNotFound()
        current = request.match_info["version"] == files.version
        return respond(request, asset, IMMUTABLE if current else REVALIDATE)

    return serve


def _unversioned(files: StaticFiles) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        asset = files.assets.get(request.match_info["path"])
        if asset is None:
            raise web.HTTPNotFound()
        return respond(request, asset, REVALIDATE)

    return serve


def respond(request: web.Request, asset: Asset, cache_control: str) -> web.StreamResponse:
    body, encoding, etag = asset.representation(request.headers.get("Accept-Encoding", ""))
    headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding"}
    if asset.matches(request.headers.get("If-None-Match", "")):
        return web.Response(status=304, headers=headers)
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    headers["Content-Type"] = asset.content_type
    return web.Response(body=body, headers=headers)
