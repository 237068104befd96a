"""ServerProcess: a server under test, in its own process, pinned to its own core.

CPU time and memory are read from ``/proc/PID`` rather than estimated from the load
generator's side, so a slow Python client cannot hide what the server spends.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds so far: the server process's own, and each core's busy time.

    A core's busy time counts everything on it, so the difference from the process's
    own time shows what else ran there (another job on a shared machine).
    """

    server_s: float
    cores_s: tuple[float, ...]

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(self.server_s - other.server_s,
                         tuple(a - b for a, b in zip(self.cores_s, other.cores_s, strict=True)))


def cores_busy_seconds() -> tuple[float, ...]:
    """Busy time of each core from /proc/stat: everything but idle and iowait.

    Interrupt time is included: the kernel charges a process the softirqs it runs in its
    own context, so leaving them out would make a core look less busy than its process.
    """
    busy = []
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            ticks = [int(v) for v in values[:8]]
            busy.append((sum(ticks) - ticks[3] - ticks[4]) / _CLOCK_TICKS)
    return tuple(busy)


class ServerFailed(Exception):
    """The server did not start, or died during the run."""


def pin_command(argv: Sequence[str], core: int | None) -> list[str]:
    """``argv`` run under ``taskset -c core`` (taskset execs, so the PID stays the server's)."""
    if core is None:
        return list(argv)
    taskset = shutil.which("taskset")
    if taskset is None:
        raise ServerFailed("taskset is not installed (util-linux); run with --no-pin")
    return [taskset, "-c", str(core), *argv]


class ServerProcess:
    def __init__(self, name: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.name = name
        self.process = process
        self.log_path = log_path

    @classmethod
    async def start(
        cls,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        port: int,
        log_path: Path,
        core: int | None,
    ) -> ServerProcess:
        """Start ``argv`` and wait until ``/healthz`` answers on ``port``."""
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *pin_command(argv, core), env=dict(env), cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )
        server = cls(name, process, log_path)
        try:
            await server._wait_ready(port)
        except BaseException:
            await server.stop()
            raise
        return server

    async def _wait_ready(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        url = f"http://127.0.0.1:{port}/healthz"
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise ServerFailed(f"{self.name} exited at start:\n{self.log_tail()}")
                try:
                    async with session.get(url) as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise ServerFailed(f"{self.name} did not answer {url} in time:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.returncode is not None:
            raise ServerFailed(f"{self.name} died (exit {self.process.returncode}):\n"
                               f"{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User plus system time of every thread of the server so far."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def sample(self) -> CpuSample:
        return CpuSample(self.cpu_seconds(), cores_busy_seconds())

    async def settle(self, least: float, most: float = 20.0, quiet: float = 0.02) -> None:
        """Waits ``least`` seconds, then until the server is idle: under ``quiet`` of a
        core for half a second (work a join left behind, such as the usage-log writer's
        batches, is done). Gives up after ``most`` seconds.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(least)
        while loop.time() - started < most:
            before = self.cpu_seconds()
            await asyncio.sleep(0.5)
            if self.cpu_seconds() - before < quiet * 0.5:
                return

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise ServerFailed(f"no VmRSS for {self.name}")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    async def stop(self) -> None:
        """SIGINT (aiohttp's graceful stop), then SIGKILL if it does not end in time."""
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
