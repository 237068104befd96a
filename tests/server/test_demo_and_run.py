"""``kota demo`` and ``kota run`` as real subprocesses: what `make run` does on a fresh machine."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.db import Database
from server.settings import Settings
from tests.conftest import StaffClient, wait_until
from tests.server.conftest import KOTA_COMMAND, kota_env, run_kota, token_of

DEMO_FAMILY = "Family Example"


@dataclass(frozen=True)
class Demo:
    professional_password: str
    admin_password: str
    registry_password: str
    link: str


async def _demo(settings: Settings) -> Demo:
    done = await run_kota(settings, "demo")
    assert done.returncode == 0, done.stderr
    professional = re.search(r"professional\s+username: sanna\s+password: (\S+)", done.stdout)
    admin = re.search(r"admin\s+username: admin\s+password: (\S+)", done.stdout)
    registry = re.search(r"registry\s+username: kirjaamo\s+password: (\S+)", done.stdout)
    link = re.search(r"Family link:\s+(\S+)", done.stdout)
    assert professional and admin and registry and link, done.stdout
    assert f"Staff login:  {settings.public_url}/staff" in done.stdout
    assert link.group(1).startswith(f"{settings.public_url}/join#")
    return Demo(professional.group(1), admin.group(1), registry.group(1), link.group(1))


async def _counts(settings: Settings) -> tuple[int, int]:
    db = Database(settings.db_path)
    await db.open()
    try:
        now = datetime.now(UTC)
        staff = await db.list_staff()
        appointments = await db.list_appointments_between(
            now - timedelta(days=2), now + timedelta(days=2)
        )
    finally:
        await db.close()
    return len(staff), len(appointments)


async def _sign_in(base: str, username: str, password: str) -> tuple[StaffClient, int]:
    client = StaffClient(base)
    resp = await client.login(username, password)
    return client, resp.status


async def test_demo_twice_creates_nothing_twice(settings: Settings) -> None:
    first = await _demo(settings)
    assert await _counts(settings) == (3, 1)
    second = await _demo(settings)
    assert await _counts(settings) == (3, 1)
    assert second.link == first.link  # the same appointment, still open for joining
    assert second.professional_password != first.professional_password
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    try:
        client, status = await _sign_in(base, "sanna", second.professional_password)
        await client.close()
        assert status == 201
        client, status = await _sign_in(base, "admin", second.admin_password)
        await client.close()
        assert status == 201
        client, status = await _sign_in(base, "kirjaamo", second.registry_password)
        session = await (await client.get("/api/session")).json()
        await client.close()
        assert status == 201
        assert (session["staff"]["registry"], session["staff"]["title"]) == (
            True, "Kirjaamosihteeri")
        client, status = await _sign_in(base, "sanna", first.professional_password)
        await client.close()
        assert status == 401  # each run gives fresh passwords
        async with aiohttp.ClientSession() as family:
            resp = await family.post(f"{base}/api/join", json={"token": token_of(second.link)})
            opened = await resp.json()
        assert resp.status == 200, opened
        assert opened["participant"]["display_name"] == DEMO_FAMILY
        assert opened["appointment"]["host_first_name"] == "Sanna"
    finally:
        await server.close()


@dataclass
class RunningKota:
    base: str
    output: Path
    process: asyncio.subprocess.Process

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    async def stop(self) -> int:
        """SIGTERM, as systemd stops it; kill only if it does not stop by itself."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.returncode is not None
        return self.process.returncode


@pytest.fixture
async def kota_run(settings: Settings, tmp_path: Path) -> AsyncIterator[RunningKota]:
    """``kota run`` on a free port, logging at DEBUG into a file the test reads."""
    output = tmp_path / "kota-run.log"
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            str(KOTA_COMMAND),
            "run",
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
            env=kota_env(settings, KOTA_LOG_LEVEL="DEBUG"),
            cwd=tmp_path,
        )
    running = RunningKota(settings.public_url, output, process)

    async def healthy() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"kota run exited early:\n{running.text()}")
        try:
            async with aiohttp.ClientSession() as session:
                resp = await session.get(f"{running.base}/healthz")
                return resp.status == 200
        except aiohttp.ClientConnectionError:
            return False

    try:
        try:
            await wait_until(healthy, timeout=30, what="kota run to answer /healthz")
        except AssertionError:
            print(running.text())
            raise
        yield running
    finally:
        await running.stop()


async def test_kota_run_serves_the_demo_and_never_logs_the_token(
    kota_run: RunningKota, settings: Settings
) -> None:
    demo = await _demo(settings)  # seeded beside the running server, as `make run` may be
    token = token_of(demo.link)
    async with aiohttp.ClientSession() as family:
        resp = await family.post(f"{kota_run.base}/api/join", json={"token": token})
        opened = await resp.json()
        assert resp.status == 200, opened
        resp = await family.post(f"{kota_run.base}/api/join", json={"token": token + "x"})
        assert resp.status == 401
    client, status = await _sign_in(kota_run.base, "sanna", demo.professional_password)
    try:
        assert status == 201
        day = datetime.fromisoformat(opened["appointment"]["starts_at"]).date()
        listed = await (await client.get(f"/api/appointments?date={day}")).json()
        [appointment] = listed["appointments"]
        pid = appointment["participants"][0]["id"]
        resp = await client.get(f"/api/appointments/{appointment['id']}/participants/{pid}/link")
        assert token_of((await resp.json())["url"]) == token
        resp = await client.post(
            f"/api/appointments/{appointment['id']}/participants",
            json={"display_name": "Ville Virtanen", "role": "child", "contact": "040 765 4321"},
        )
        assert resp.status == 201
        csrf = client.csrf
    finally:
        await client.close()
    assert await kota_run.stop() == 0, kota_run.text()
    logged = kota_run.text()
    assert "Kota is listening on" in logged
    assert '"event": "http.request"' in logged
    secrets = [token, token.split(".")[2], DEMO_FAMILY, demo.professional_password, csrf]
    for secret in [*secrets, "Ville Virtanen", "040 765 4321"]:
        assert secret and secret not in logged, secret
