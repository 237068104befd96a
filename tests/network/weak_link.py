"""A weak link to play a family's connection in a network namespace of its own:
~150 ms each way, a few per cent loss and a rate limit, on the one hop between the
family's browser and the TURN relay. This kernel has no ``netem``, so
(/work/shared/TESTING-WEBRTC.md, "Weak networks without netem"):

- **delay**: ``delay_proxy.py`` in front of coturn, so only relayed media is delayed;
- **rate**: ``tbf`` on ``lo`` (MTU 1500, or tbf stalls), one per direction, under an
  ``htb`` root whose u32 filters pick the packets to and from the proxy's port. Every
  other packet on ``lo`` (HTTP, the call socket, coturn's own relay hop, the
  professional's side) passes unshaped: a single tbf on all of ``lo`` would be shared
  by both directions, both people and every hop of the relay, so neither person would
  see the rate it names;
- **loss**: nftables on the input hook (on output ``sendto()`` fails with EPERM), on
  the same two directions.

The namespace has only ``lo``; nothing in it can reach anything else. A test runs its
whole body in a thread that has entered the namespace (``run_inside``): everything that
thread starts (the server, coturn, the proxy, Playwright's driver and Chromium) lives
in the namespace too, so no process needs wrapping.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_CLONE_NEWNET = 0x40000000
ROOT = Path(__file__).resolve().parents[2]


class NoWeakLink(Exception):
    """This machine cannot make the namespace or the shaping (the reason is the message)."""


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip() or done.stdout.strip()}")


def _enter(name: str) -> None:
    """Move the calling thread (only) into the namespace: setns(2) through libc."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns {name}: {os.strerror(error)}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Shape:
    """One direction of the family's link."""

    rate_kbit: int
    loss_percent: int


@dataclass
class WeakNamespace:
    """``ip netns add kota-weak-<random>`` with ``lo`` up; ``close()`` deletes it."""

    name: str

    @classmethod
    def create(cls) -> WeakNamespace:
        if os.geteuid() != 0:
            raise NoWeakLink("needs root for `ip netns`, tc and nft")
        for tool in ("ip", "tc", "nft"):
            if shutil.which(tool) is None:
                raise NoWeakLink(f"`{tool}` is not installed (deploy/install-system-deps.sh)")
        made = cls(f"kota-weak-{secrets.token_hex(4)}")
        try:
            _run("ip", "netns", "add", made.name)
        except RuntimeError as exc:
            raise NoWeakLink(f"cannot make a network namespace: {exc}") from None
        try:
            made.exec("ip", "link", "set", "lo", "up")
            # With lo's 64 KiB MTU tbf never sends a packet: a real link's MTU.
            made.exec("ip", "link", "set", "lo", "mtu", "1500")
        except RuntimeError:
            made.close()
            raise
        return made

    def exec(self, *command: str) -> None:
        _run("ip", "netns", "exec", self.name, *command)

    def close(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)

    def run_inside(self, main: Callable[[], Awaitable[T]]) -> T:
        """Run ``main()`` on its own event loop in a thread inside the namespace."""
        result: list[T] = []
        failure: list[BaseException] = []

        def thread() -> None:
            try:
                _enter(self.name)
                result.append(asyncio.run(_call(main)))
            except BaseException as exc:  # handed to the caller below
                failure.append(exc)

        worker = threading.Thread(target=thread, name=f"in-{self.name}")
        worker.start()
        worker.join()
        if failure:
            raise failure[0]
        return result[0]

    # --- the link (call these from inside, or through exec) -------------------------

    def shape(self, port: int, up: Shape, down: Shape) -> None:
        """Limit and drop the UDP packets to ``port`` (``up``) and from it (``down``)."""
        tc = ("tc", "qdisc", "add", "dev", "lo")
        self.exec(*tc, "root", "handle", "1:", "htb", "default", "30")
        for minor in ("10", "20", "30"):
            self.exec("tc", "class", "add", "dev", "lo", "parent", "1:", "classid",
                      f"1:{minor}", "htb", "rate", "10gbit", "quantum", "60000")
        for minor, match in (("10", "dport"), ("20", "sport")):
            self.exec("tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip",
                      "prio", "1", "u32", "match", "ip", "protocol", "17", "0xff",
                      "match", "ip", match, str(port), "0xffff", "flowid", f"1:{minor}")
        self.exec("nft", "add", "table", "inet", "kota_weak")
        self.exec("nft", "add", "chain", "inet", "kota_weak", "input",
                  "{ type filter hook input priority 0 ; policy accept ; }")
        self._set(port, up, down, "add")

    def reshape(self, port: int, up: Shape, down: Shape) -> None:
        """Change the link live (the call goes on)."""
        self.exec("nft", "flush", "chain", "inet", "kota_weak", "input")
        self._set(port, up, down, "change")

    def _set(self, port: int, up: Shape, down: Shape, verb: str) -> None:
        for minor, match, shape in (("10", "dport", up), ("20", "sport", down)):
            # A ~300 ms queue, then tail drop, as a mobile link's buffer.
            self.exec("tc", "qdisc", verb, "dev", "lo", "parent", f"1:{minor}",
                      "handle", f"{minor}:", "tbf", "rate", f"{shape.rate_kbit}kbit",
                      "burst", "6000", "latency", "300ms")
            if shape.loss_percent:
                self.exec("nft", "add", "rule", "inet", "kota_weak", "input", "udp", match,
                          str(port), "numgen", "random", "mod", "100", "<",
                          str(shape.loss_percent), "drop")


async def _call(main: Callable[[], Awaitable[T]]) -> T:
    return await main()


def ensure_tools() -> None:
    """nft comes from Debian's nftables; the project's installer adds it when missing."""
    if shutil.which("nft") is None and os.geteuid() == 0:
        subprocess.run(["bash", str(ROOT / "deploy" / "install-system-deps.sh")],
                       check=False, capture_output=True)


def start_delay_proxy(listen: int, target: int, delay_ms: int,
                      log: Path) -> subprocess.Popen[bytes]:
    """The delay proxy as a subprocess (of the calling thread: in its namespace)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.network.delay_proxy", "--listen", str(listen),
             "--target", str(target), "--delay-ms", str(delay_ms)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=out,
        )
    assert process.stdout is not None
    if process.stdout.readline().strip() != b"ready":
        process.kill()
        process.wait()
        raise RuntimeError(f"delay proxy did not start:\n{log.read_text(errors='replace')}")
    return process
