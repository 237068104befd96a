"""The contact lines' page as the server sends it: one page for a public line's address
and for a family's own link, revalidated, no Referer, the camera allowed (a session may
become a video call)."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp.test_utils import TestServer


@pytest.mark.parametrize("path", ["/line/perheneuvonta-verkossa", "/line/my"])
async def test_each_line_path_serves_the_line_page(kota: TestServer, path: str) -> None:
    async with aiohttp.ClientSession(base_url=kota.make_url("")) as browser:
        resp = await browser.get(path)
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-cache"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert "camera=(self)" in resp.headers["Permissions-Policy"]
        html = await resp.text()
        assert re.search(r'<script type="module" src="/static/v/\w+/js/pages/line.js">', html)
        assert '<meta name="referrer" content="no-referrer">' in html
        again = await browser.get(path, headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status == 304


async def test_other_pages_still_have_no_camera(kota: TestServer) -> None:
    async with aiohttp.ClientSession(base_url=kota.make_url("")) as browser:
        resp = await browser.get("/book/perheneuvola")
        assert "camera=()" in resp.headers["Permissions-Policy"]


async def test_a_line_path_with_more_parts_is_not_a_page(kota: TestServer) -> None:
    async with aiohttp.ClientSession(base_url=kota.make_url("")) as browser:
        assert (await browser.get("/line/a/b")).status == 404
        assert (await browser.get("/line/")).status == 404
