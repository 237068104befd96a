"""``kota run`` as a real subprocess on a free port, for tests of what only it does (the
connection cap, signals, the loop's error handler); its JSON log lines are readable."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from server.settings import Settings
from tests.conftest import wait_until
from tests.server.conftest import KOTA_COMMAND, kota_env

START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


class KotaRun:
    def __init__(self, base: str, output: Path, process: asyncio.subprocess.Process) -> None:
        self.base = base
        self.output = output
        self.process = process

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines whose event is ``name``."""
        found = []
        for line in self.text().splitlines():
            if line.startswith("{") and f'"event": "{name}"' in line:
                found.append(json.loads(line))
        return found

    async def stop(self) -> int:
        """SIGTERM, as systemd stops it; killed only if it does not stop by itself."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        assert self.process.returncode is not None
        return self.process.returncode


def _open_files_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:  # runs in the child, before exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


@asynccontextmanager
async def kota_run(
    settings: Settings, tmp_path: Path, open_files: int | None = None, **env: str
) -> AsyncIterator[KotaRun]:
    """Starts ``kota run`` (optionally under a low RLIMIT_NOFILE), waits for /healthz,
    and stops it with SIGTERM at the end."""
    output = tmp_path / "kota-run.log"
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            str(KOTA_COMMAND), "run", stdout=sink, stderr=asyncio.subprocess.STDOUT,
            env=kota_env(settings, **env), cwd=tmp_path,
            preexec_fn=_open_files_limit(open_files) if open_files else None,
        )
    running = KotaRun(settings.public_url, output, process)

    async def healthy() -> bool:
        if process.returncode is not None:
            raise AssertionError(f"kota run exited early:\n{running.text()}")
        try:
            async with aiohttp.ClientSession() as session, \
                    session.get(f"{running.base}/healthz") as resp:
                return resp.status == 200
        except aiohttp.ClientError:
            return False

    try:
        try:
            await wait_until(healthy, timeout=START_TIMEOUT, what="kota run to answer /healthz")
        except AssertionError:
            print(running.text())
            raise
        yield running
    finally:
        await running.stop()
