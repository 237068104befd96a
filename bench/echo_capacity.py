"""Connection-test capacity: how many pre-call tests one server core keeps at 12 fps.

``.venv/bin/python -m bench.echo_capacity`` starts ``kota run`` pinned to core 0 and,
from this process on core 1, runs N connection tests at once (N = 1, 2, 3, …), each an
EchoProbe sending 640x480 video at 15 fps and a tone to the server's EchoPeer, which
decodes and re-encodes both. For each N it counts the echoed frames every probe decodes
over a window and the server's CPU time (``/proc/PID/stat``), and stops at the first N
whose worst probe gets fewer than 12 frames a second back.

The probes send the same test pattern pre-encoded once (VP8, a keyframe every 3 s), so
this core's load is only the decoding of what comes back: the server's core is the
one being measured. The figures go to docs/performance.md, *Connection-test capacity*.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp
import aioice.ice
import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bench.server_process import ServerProcess, cores_busy_seconds
from bench.signalling_relay import describe_machine, free_port
from server.db import Database
from server.passwords import hash_password
from server.records import StaffRole
from server.staff_auth import CSRF_HEADER
from signalling.peers.echo_probe import EchoProbe
from signalling.peers.synthetic_media import TestPatternTrack

REPO: Final = Path(__file__).resolve().parent.parent
SERVER_CORE: Final = 0
PROBE_CORE: Final = 1
WIDTH, HEIGHT, FPS = 640, 480, 15
MIN_FPS: Final = 12.0
PASSWORD: Final = "echo capacity bench"  # noqa: S105 - a throwaway account in a temp dir
CLIP_FRAMES: Final = 45  # 3 s: one keyframe, then 44 inter frames, looped


@dataclass(frozen=True)
class Step:
    tests: int
    fps: list[float]  # echoed video frames per second, per probe
    server_cpu: float  # share of one core over the window
    probe_cpu: float  # this process's own share of a core (decoding the echoes)
    probe_core: float  # busy share of the probes' core, whoever used it
    server_rss: int  # bytes, at the end of the window

    @property
    def worst_fps(self) -> float:
        return min(self.fps)

    @property
    def cpu_per_test(self) -> float:
        return self.server_cpu / self.tests

    @property
    def ok(self) -> bool:
        return self.worst_fps >= MIN_FPS


def encode_clip() -> list[bytes]:
    """The test pattern at 640x480, VP8-encoded once: the probes only send these bytes."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.bit_rate = 600_000
    codec.gop_size = CLIP_FRAMES
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    pattern = TestPatternTrack(WIDTH, HEIGHT, FPS)
    packets: list[bytes] = []
    for index in range(CLIP_FRAMES):
        frame = pattern.frame(index)
        frame.pts, frame.time_base = index, codec.time_base
        frame.pict_type = av.video.frame.PictureType.I if index == 0 else \
            av.video.frame.PictureType.NONE
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    assert len(packets) == CLIP_FRAMES, len(packets)
    return packets


class PreEncodedVideo(MediaStreamTrack):
    """Sends the clip's packets at 15 fps; aiortc packs them without encoding."""

    kind = "video"

    def __init__(self, clip: list[bytes]) -> None:
        super().__init__()
        self._clip = clip
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._index / FPS
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        packet = av.Packet(self._clip[self._index % len(self._clip)])
        packet.pts = self._index * 90_000 // FPS
        packet.time_base = fractions.Fraction(1, 90_000)
        self._index += 1
        return packet


def loopback_addresses(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    return ["127.0.0.1"]


async def seed_staff(db_path: Path, count: int) -> list[str]:
    """Professionals to run the tests: one test per caller at a time, 10 starts each."""
    db = Database(db_path)
    await db.open()
    try:
        await db.migrate()
        hashed = hash_password(PASSWORD)
        now = datetime.now(UTC)
        names = [f"echo{n}" for n in range(count)]
        async with db.transaction() as tx:
            for name in names:
                await tx.create_staff(name, f"Echo {name}", StaffRole.PROFESSIONAL, hashed, now)
        return names
    finally:
        await db.close()


async def sign_in(base: str, username: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with http.post(f"{base}/api/session",
                         json={"username": username, "password": PASSWORD}) as resp:
        body = await resp.json()
        if resp.status != 201:
            await http.close()
            raise RuntimeError(f"sign-in failed: {resp.status} {body}")
    return http, str(body["csrf_token"])


async def run_step(server: ServerProcess, base: str, callers: list[tuple[aiohttp.ClientSession,
                   str]], clip: list[bytes], warmup: float, window: float) -> Step:
    probes = [EchoProbe(base, http, headers={CSRF_HEADER: csrf},
                        video=lambda: PreEncodedVideo(clip)) for http, csrf in callers]
    try:
        for probe in probes:
            await probe.start()
        await asyncio.gather(*(probe.connect(timeout=20) for probe in probes))
        await asyncio.sleep(warmup)
        frames = [p.media.video_frames for p in probes]
        server_before, cores_before = server.cpu_seconds(), cores_busy_seconds()
        own_before = time.process_time()
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(window)
        elapsed = loop.time() - started
        server.check_alive()
        server_cpu = (server.cpu_seconds() - server_before) / elapsed
        probe_cpu = (time.process_time() - own_before) / elapsed
        cores = [a - b for a, b in zip(cores_busy_seconds(), cores_before, strict=True)]
        fps = [(p.media.video_frames - f) / elapsed for p, f in zip(probes, frames, strict=True)]
        for probe in probes:
            await probe.post_result(await probe.report(), "good")
        probe_core = cores[PROBE_CORE] / elapsed if len(cores) > PROBE_CORE else float("nan")
        return Step(len(probes), fps, server_cpu, probe_cpu, probe_core, server.rss_bytes())
    finally:
        for probe in probes:
            await probe.close()


async def run(max_tests: int, warmup: float, window: float, pin: bool) -> list[Step]:
    if pin:
        os.sched_setaffinity(0, {PROBE_CORE})
    # Loopback only, as in the tests: aioice would otherwise use the external interface.
    aioice.ice.get_host_addresses = loopback_addresses
    clip = encode_clip()
    starts = max_tests * (max_tests + 1) // 2
    with tempfile.TemporaryDirectory(prefix="kota-echo-bench-") as tmp:
        folder = Path(tmp)
        port = free_port()
        names = await seed_staff(folder / "kota.sqlite3", starts)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("KOTA_")},
               "KOTA_DATA_DIR": str(folder), "KOTA_PORT": str(port),
               "KOTA_LOG_LEVEL": "WARNING", "KOTA_ECHO_MAX_CONCURRENT": str(max_tests),
               "KOTA_ECHO_MAX_SECONDS": str(int(warmup + window + 60))}
        kota = str(Path(sys.executable).with_name("kota"))
        server = await ServerProcess.start(
            "kota", [kota, "run"], env=env, cwd=folder, port=port,
            log_path=folder / "kota.log", core=SERVER_CORE if pin else None)
        base = f"http://127.0.0.1:{port}"
        steps: list[Step] = []
        try:
            used = 0
            for tests in range(1, max_tests + 1):
                callers = [await sign_in(base, name) for name in names[used:used + tests]]
                used += tests
                try:
                    step = await run_step(server, base, callers, clip, warmup, window)
                finally:
                    for http, _ in callers:
                        await http.close()
                steps.append(step)
                print(line(step), file=sys.stderr, flush=True)
                if not step.ok:
                    break
        finally:
            await server.stop()
    return steps


def line(step: Step) -> str:
    return (f"{step.tests:>3} tests  echoed fps worst {step.worst_fps:5.1f} "
            f"median {statistics.median(step.fps):5.1f}  server {step.server_cpu:6.1%} of a "
            f"core ({step.cpu_per_test:5.1%} per test)  probes {step.probe_cpu:6.1%} "
            f"(their core {step.probe_core:6.1%} busy)  server RSS "
            f"{step.server_rss / 2**20:4.0f} MiB"
            f"  {'ok' if step.ok else 'BELOW ' + str(MIN_FPS)}")


def summary(steps: Sequence[Step]) -> str:
    passed = [s for s in steps if s.ok]
    if not passed:
        return "capacity: not even one test keeps 12 fps on one core"
    best = passed[-1]
    per_test = statistics.median(s.cpu_per_test for s in passed)
    reached = "" if steps[-1].ok else f"; at {steps[-1].tests} the worst got " \
                                      f"{steps[-1].worst_fps:.1f} fps"
    return (f"capacity: {best.tests} concurrent tests per core at >= {MIN_FPS:g} fps "
            f"(worst probe){reached}; server CPU per test {per_test:.1%} of a core "
            f"(median over the passing steps)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo_capacity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-tests", type=int, default=12, help="stop here at the latest")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=8.0, help="seconds measured per step")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to cores 0 and 1")
    args = parser.parse_args(argv)
    steps = asyncio.run(run(args.max_tests, args.warmup, args.window, not args.no_pin))
    print(f"Connection-test capacity, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{describe_machine()}; {WIDTH}x{HEIGHT} at {FPS} fps, warm-up {args.warmup:g} s, "
          f"window {args.window:g} s{'' if not args.no_pin else ', NOT pinned'}")
    for step in steps:
        print(line(step))
    print(summary(steps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
