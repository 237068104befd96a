"""Static files over HTTP: gzip when the browser takes it, a year's caching under the
current version's URL, ETag revalidation, and pages that are always asked for again."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server import static_files
from server.handlers.pages import WEB_DIR
from server.static_files import IMMUTABLE, accepts_gzip

GZIP = {"Accept-Encoding": "gzip, deflate"}
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
async def browser(kota: TestServer) -> AsyncIterator[aiohttp.ClientSession]:
    """A client that shows the bytes as they came (no decompression of its own)."""
    async with aiohttp.ClientSession(base_url=kota.make_url(""), auto_decompress=False) as s:
        yield s


@pytest.fixture
def version() -> str:
    return static_files.load(WEB_DIR).version


async def test_versioned_file_is_gzipped_and_cached_for_a_year(
    browser: aiohttp.ClientSession, version: str
) -> None:
    resp = await browser.get(f"/static/v/{version}/js/call.js", headers=GZIP)
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert resp.headers["Cache-Control"] == IMMUTABLE
    assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
    body = await resp.read()
    assert gzip.decompress(body) == (WEB_DIR / "js/call.js").read_bytes()
    assert len(body) < (WEB_DIR / "js/call.js").stat().st_size / 2
    # Pages keep the strict policy; nothing here needs more.
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_no_compression_for_a_client_that_does_not_take_it(
    browser: aiohttp.ClientSession, version: str
) -> None:
    for headers in (PLAIN, {"Accept-Encoding": "gzip;q=0, br"}):
        resp = await browser.get(f"/static/v/{version}/locales/fi.json", headers=headers)
        assert resp.status == 200
        assert "Content-Encoding" not in resp.headers
        assert resp.headers["Vary"] == "Accept-Encoding"
        assert resp.headers["Content-Type"] == "application/json"
        assert await resp.read() == (WEB_DIR / "locales/fi.json").read_bytes()


@pytest.mark.parametrize("headers", [GZIP, PLAIN])
async def test_etag_gives_304(
    browser: aiohttp.ClientSession, version: str, headers: dict[str, str]
) -> None:
    url = f"/static/v/{version}/css/base.css"
    first = await browser.get(url, headers=headers)
    etag = first.headers["ETag"]
    again = await browser.get(url, headers={**headers, "If-None-Match": etag})
    assert again.status == 304
    assert await again.read() == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == IMMUTABLE
    changed = await browser.get(url, headers={**headers, "If-None-Match": '"old"'})
    assert changed.status == 200


async def test_pages_are_revalidated_and_name_the_version(
    browser: aiohttp.ClientSession, version: str
) -> None:
    resp = await browser.get("/join", headers=GZIP)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    html = gzip.decompress(await resp.read()).decode()
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert urls and all(u.startswith(f"/static/v/{version}/") for u in urls), urls
    again = await browser.get("/join", headers={**GZIP, "If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    # The camera permission still follows the page.
    assert "camera=(self)" in again.headers["Permissions-Policy"]


async def test_every_url_a_page_names_is_served(
    browser: aiohttp.ClientSession,
) -> None:
    for page in ("/staff", "/join", "/staff/call"):
        html = await (await browser.get(page, headers=PLAIN)).text()
        for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
            resp = await browser.get(url, headers=GZIP)
            assert resp.status == 200, url
            assert resp.headers["Cache-Control"] == IMMUTABLE, url


async def test_an_earlier_version_gets_todays_file_not_cached(
    browser: aiohttp.ClientSession,
) -> None:
    """A page opened before a restart may still ask for a text file under its version."""
    resp = await browser.get("/static/v/0123456789ab/locales/sv.json", headers=PLAIN)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-cache"
    assert await resp.read() == (WEB_DIR / "locales/sv.json").read_bytes()


@pytest.mark.parametrize(
    "path",
    ["/static/v/{v}/js/nothing.js", "/static/v/{v}/../server/app.py",
     "/static/v/{v}/%2e%2e/%2e%2e/pyproject.toml", "/static/nothing.css", "/static/v/{v}/",
     "/static/.hidden", "/static/v/{v}/js"],
)
async def test_missing_file_is_404(
    browser: aiohttp.ClientSession, version: str, path: str
) -> None:
    resp = await browser.get(path.format(v=version), headers=GZIP)
    assert resp.status == 404


async def test_unversioned_url_still_works_with_revalidation(
    browser: aiohttp.ClientSession,
) -> None:
    resp = await browser.get("/static/js/i18n.js", headers=GZIP)
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-cache"
    assert resp.headers["Content-Encoding"] == "gzip"
    again = await browser.get("/static/js/i18n.js",
                              headers={**GZIP, "If-None-Match": resp.headers["ETag"]})
    assert again.status == 304


async def test_head_sends_headers_only(browser: aiohttp.ClientSession, version: str) -> None:
    resp = await browser.head(f"/static/v/{version}/js/call.js", headers=GZIP)
    assert resp.status == 200
    assert resp.headers["Content-Encoding"] == "gzip"
    assert await resp.read() == b""


@pytest.mark.parametrize(
    ("header", "gzip_ok"),
    [("gzip", True), ("gzip, deflate, br, zstd", True), ("GZIP;q=0.5", True), ("*", True),
     ("", False), ("identity", False), ("br", False), ("gzip;q=0", False),
     ("gzip; q=0.000", False), ("*;q=0", False), ("*, gzip;q=0", False),
     ("x-gzip", True), ("gzipped", False)],
)
def test_accept_encoding(header: str, gzip_ok: bool) -> None:
    assert accepts_gzip(header) is gzip_ok


def test_version_follows_every_file(tmp_path: Path) -> None:
    """A new module or a new text changes the version; nothing is kept by hand."""
    (tmp_path / "js").mkdir()
    (tmp_path / "page.html").write_text(
        '<head>\n  <link rel="modulepreload" href="/static/js/gone.js">\n'
        '  <script type="module" src="/static/js/a.js"></script>\n</head>\n'
    )
    (tmp_path / "js/a.js").write_text('import { b } from "./b.js";\nexport const a = b;\n')
    (tmp_path / "js/b.js").write_text('export { c as b } from "./lib/c.js";\n')
    (tmp_path / "js/lib").mkdir()
    (tmp_path / "js/lib/c.js").write_text('import "../a.js";\nexport const c = 1;\n')
    first = static_files.load(tmp_path)
    page = first.pages["page.html"].body.decode()
    prefix = f"/static/v/{first.version}/"
    assert re.findall(r'modulepreload" href="([^"]+)"', page) == [
        f"{prefix}js/b.js", f"{prefix}js/lib/c.js"]
    assert f'src="{prefix}js/a.js"' in page
    (tmp_path / "js/lib/d.js").write_text("export const d = 1;\n")
    assert static_files.load(tmp_path).version != first.version
