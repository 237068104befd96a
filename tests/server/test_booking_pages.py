"""The public booking pages as the server sends them: the right page for each path
(a service called "confirm" cannot hide the confirm page), revalidated, no Referer,
no camera."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

PAGES = {
    "/book/perheneuvola-inari": "js/pages/book.js",
    "/book/confirm": "js/pages/book_confirm.js",
    "/book/manage": "js/pages/book_manage.js",
}


@pytest.mark.parametrize(("path", "entry"), sorted(PAGES.items()))
async def test_each_booking_path_serves_its_page(kota: TestServer, path: str, entry: str) -> None:
    async with aiohttp.ClientSession(base_url=kota.make_url("")) as browser:
        resp = await browser.get(path)
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "camera=()" in resp.headers["Permissions-Policy"]
        html = await resp.text()
        assert re.search(rf'<script type="module" src="/static/v/\w+/{entry}">', html), html
        assert '<meta name="referrer" content="no-referrer">' in html
        again = await browser.get(path, headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status == 304


async def test_a_slug_path_with_more_parts_is_not_a_page(kota: TestServer) -> None:
    async with aiohttp.ClientSession(base_url=kota.make_url("")) as browser:
        assert (await browser.get("/book/a/b")).status == 404
        assert (await browser.get("/book/")).status == 404
