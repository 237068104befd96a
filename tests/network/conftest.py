"""Network tests: Debian's coturn on loopback, Kota handing out its credentials, real
aiortc peers relaying through it, and the pre-call connection test.

Every test here gets a Kota server configured with a fresh ``turnserver`` (random secret,
free port, started and stopped by PID; its log is printed when a test fails), unless it
is marked ``@pytest.mark.turn_off``. ``@pytest.mark.echo(max_concurrent=…,
max_seconds=…)`` changes the connection-test limits. All traffic stays on 127.0.0.1
(/work/shared/TESTING-WEBRTC.md): ``loopback_only`` keeps aioice's host candidates there
and coturn allows loopback peers, which only tests may do.
"""

from __future__ import annotations

import dataclasses
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from aioice import stun

from server.settings import Settings, load_settings
from tests.calls.conftest import bots, loopback_only, no_decoder_left  # noqa: F401  (fixtures)

TURNSERVER: Final = "/usr/bin/turnserver"
REALM: Final = "kota.test"
ROOT: Final = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "turn_off: run Kota without TURN (no coturn)")
    config.addinivalue_line("markers", "echo(**fields): KOTA_ECHO_* limits, e.g. max_seconds")


@dataclass(frozen=True)
class TurnServer:
    port: int
    secret: str
    log: Path
    pid: int

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else "(no log)"


def _free_udp_and_tcp_port() -> int:
    """A port free for both: coturn listens on UDP and TCP alike."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


def _answers_stun(port: int) -> bool:
    """One STUN binding request: coturn answers once it listens."""
    request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(bytes(request), ("127.0.0.1", port))
        try:
            data = sock.recv(2048)
        except OSError:
            return False
    return stun.parse_message(data).transaction_id == request.transaction_id


def _ensure_turnserver() -> None:
    if not Path(TURNSERVER).exists():  # CI installs it through `make test` anyway
        subprocess.run(["bash", str(ROOT / "deploy" / "install-system-deps.sh")], check=True)
    assert shutil.which("turnserver"), "coturn is not installed"


def start_turnserver(folder: Path, port: int, secret: str) -> subprocess.Popen[bytes]:
    """Debian's turnserver on 127.0.0.1:``port`` with Kota's REST-secret setup, answering
    STUN before this returns; it runs in the calling thread's network namespace."""
    _ensure_turnserver()
    folder.mkdir(parents=True, exist_ok=True)
    relay_low = random.randrange(20000, 29000, 100)  # below Linux's ephemeral port range
    log = folder / "turn.log"
    process = subprocess.Popen(
        [TURNSERVER, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
         f"--listening-port={port}", "--use-auth-secret", f"--static-auth-secret={secret}",
         f"--realm={REALM}", "--no-tls", "--no-dtls", "--allow-loopback-peers", "--no-cli",
         "--fingerprint", f"--min-port={relay_low}", f"--max-port={relay_low + 99}",
         f"--pidfile={folder / 'turnserver.pid'}", f"--userdb={folder / 'turndb'}",
         f"--log-file={log}", "--simple-log", "--no-stdout-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while not _answers_stun(port):  # each try waits up to 0.2 s for the answer
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"turnserver did not start:\n{text[-4000:]}")
    return process


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM by PID (never by name), then SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def turn(tmp_path: Path) -> Iterator[TurnServer]:
    """coturn on loopback with a random secret, for one test."""
    port = _free_udp_and_tcp_port()
    secret = secrets.token_hex(24)
    folder = tmp_path / "coturn"
    process = start_turnserver(folder, port, secret)
    server = TurnServer(port, secret, folder / "turn.log", process.pid)
    try:
        yield server
    finally:
        stop_process(process)
        # pytest shows this only for a failed test.
        print(f"--- turnserver log (port {port}) ---\n{server.log_text()[-6000:]}")


def write_secret(folder: Path, secret: str) -> Path:
    path = folder / "turn-secret"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The server's settings as KOTA_* variables would give them: with this test's coturn."""
    env = {"KOTA_DATA_DIR": str(settings.data_dir), "KOTA_PORT": str(settings.port),
           "KOTA_PUBLIC_URL": settings.public_url}
    if request.node.get_closest_marker("turn_off") is None:
        turn: TurnServer = request.getfixturevalue("turn")
        env |= {"KOTA_TURN_URLS": turn.url,
                "KOTA_TURN_SECRET_FILE": str(write_secret(tmp_path, turn.secret))}
    marker = request.node.get_closest_marker("echo")
    loaded = load_settings(env)
    if marker is None:
        return loaded
    return dataclasses.replace(loaded, **{f"echo_{k}": v for k, v in marker.kwargs.items()})

