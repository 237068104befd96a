"""deploy/nginx/kota.conf, run for real: Debian's nginx accepts it, and in front of a
real Kota it passes the pages, the versioned static files (compressed, cached for a
year) and the call socket's upgrade through."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.settings import Settings
from tests.conftest import Accounts, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "nginx" / "kota.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _site_config(tmp: Path, kota_port: int, https_port: int, http_port: int) -> str:
    """The shipped file with only what a test machine must change: ports, paths, certs."""
    text = CONFIG.read_text()
    replaced = {
        "http://127.0.0.1:8080": f"http://127.0.0.1:{kota_port}",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "/etc/letsencrypt/live/kota.example.fi/fullchain.pem": str(tmp / "cert.pem"),
        "/etc/letsencrypt/live/kota.example.fi/privkey.pem": str(tmp / "key.pem"),
        "/var/cache/nginx/kota": str(tmp / "cache"),
        "/var/log/nginx/kota.log": str(tmp / "access.log"),
    }
    for old, new in replaced.items():
        assert old in text, f"deploy/nginx/kota.conf no longer has {old!r}"
        text = text.replace(old, new)
    return text


def _main_config(tmp: Path) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}daemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
        "events {}\n"
        "http {\n"
        "  include /etc/nginx/mime.types;\n"
        f"  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
        f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n"
        f"  scgi_temp_path {tmp}/scgi;\n"
        f"  include {tmp}/site.conf;\n"
        "}\n"
    )


@pytest.fixture
async def kota(settings: Settings, accounts: Accounts) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    yield server
    await server.close()


def _prepare(tmp: Path, kota_port: int, https_port: int, http_port: int) -> None:
    """A throwaway certificate and the configuration, checked with ``nginx -t``."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=kota.example.fi", "-keyout", str(tmp / "key.pem"),
         "-out", str(tmp / "cert.pem")],
        check=True, capture_output=True,
    )
    (tmp / "site.conf").write_text(_site_config(tmp, kota_port, https_port, http_port))
    (tmp / "nginx.conf").write_text(_main_config(tmp))
    checked = subprocess.run([NGINX, "-t", "-c", str(tmp / "nginx.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


@pytest.fixture
async def nginx(tmp_path: Path, kota: TestServer) -> AsyncIterator[str]:
    https_port, http_port = _free_port(), _free_port()
    await asyncio.to_thread(_prepare, tmp_path, int(kota.port or 0), https_port, http_port)
    process = await asyncio.create_subprocess_exec(
        NGINX, "-c", str(tmp_path / "nginx.conf"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )

    async def listening() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", https_port)
        except OSError:
            return False
        writer.close()
        return True

    try:
        await wait_until(listening, timeout=10, what="nginx listening")
        yield f"https://127.0.0.1:{https_port}"
    finally:
        process.terminate()
        await process.wait()


def _insecure() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def test_the_shipped_config_serves_kota_compressed_and_cached(nginx: str) -> None:
    connector = aiohttp.TCPConnector(ssl=_insecure())
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as http:
        async with http.get(f"{nginx}/join", headers={"Accept-Encoding": "identity"}) as page:
            assert page.status == 200
            assert page.headers["Cache-Control"] == "no-cache"
            assert page.headers["Strict-Transport-Security"].startswith("max-age=")
            body = await page.text()
        script = re.search(r'src="(/static/v/[0-9a-f]+/js/pages/join\.js)"', body)
        assert script, "the page names its versioned entry script"
        for _ in range(2):  # the second answer may come from nginx's cache
            async with http.get(nginx + script.group(1),
                                headers={"Accept-Encoding": "gzip"}) as js:
                assert js.status == 200
                assert js.headers["Content-Encoding"] == "gzip"
                assert "immutable" in js.headers["Cache-Control"]
                assert "Accept-Encoding" in js.headers["Vary"]
        async with http.get(nginx + script.group(1),
                            headers={"Accept-Encoding": "identity"}) as plain:
            assert "Content-Encoding" not in plain.headers
            assert b"import" in await plain.read()


async def test_the_call_socket_upgrades_through_nginx(nginx: str) -> None:
    connector = aiohttp.TCPConnector(ssl=_insecure())
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.ws_connect(f"{nginx.replace('https', 'wss')}/ws") as ws,
    ):
        await ws.send_str("{not json")
        message = await ws.receive(timeout=10)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        assert '"error"' in message.data


async def test_a_calendar_feeds_secret_stays_out_of_nginx_log(
    nginx: str, tmp_path: Path
) -> None:
    secret = "S3cretFeed" + "x" * 33
    connector = aiohttp.TCPConnector(ssl=_insecure())
    async with aiohttp.ClientSession(connector=connector) as http:
        async with http.get(f"{nginx}/calendar/{secret}.ics") as feed:
            assert feed.status == 404
        async with http.get(f"{nginx}/join") as page:
            assert page.status == 200
    log = tmp_path / "access.log"
    await wait_until(lambda: log.exists() and "/join" in log.read_text(), timeout=10,
                     what="nginx's access log")
    text = log.read_text()
    assert "/calendar/{secret}.ics 404" in text
    assert "S3cretFeed" not in text
