"""A real Kota server in a subprocess (``kota run``) for the browser tests, and the
staff HTTP calls the tests use to set up appointments."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from server.db import Database
from server.passwords import hash_password
from server.records import StaffRole
from tests.conftest import PASSWORD, free_port, wait_until

STAFF = [
    ("admin", "Aino Admin", StaffRole.ADMIN),
    ("sanna", "Sanna Aikio", StaffRole.PROFESSIONAL),
    ("pekka", "Pekka Lehto", StaffRole.PROFESSIONAL),
    # Books only in test_too_early.py, whose times follow the clock (now + a day), so
    # no other test's fixed-time booking can be in the way.
    ("kaisa", "Kaisa Niemi", StaffRole.PROFESSIONAL),
    # Serves the booking tests' services (test_booking_*.py): families book her free
    # times, so no other test's appointment may take them.
    ("liisa", "Liisa Varaaja", StaffRole.PROFESSIONAL),
    # Sends the invitations in test_staff_messages.py, so its appointments stay off the
    # day lists other tests look at.
    ("marja", "Marja Viestinen", StaffRole.PROFESSIONAL),
]
START_TIMEOUT = 20.0


async def seed_staff(db_path: Path) -> None:
    """Staff accounts written into the database file before the server opens it."""
    db = Database(db_path)
    await db.open()
    try:
        await db.migrate()
        hashed = hash_password(PASSWORD)
        now = datetime.now(UTC)
        async with db.transaction() as tx:
            for username, name, role in STAFF:
                await tx.create_staff(username, name, role, hashed, now)
    finally:
        await db.close()


@dataclass
class KotaProcess:
    """``kota run`` on a free loopback port; its output goes to ``log_path``.

    ``env`` adds or overrides environment variables (e.g. TURN settings) for every start.
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    _slots: Iterator[int] = field(default_factory=lambda: itertools.count())

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace") if self.log_path.exists() else ""

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        await seed_staff(self.data_dir / "kota.sqlite3")
        self._launch()
        await self._wait_ready()

    async def restart(self) -> None:
        """Stop (SIGTERM: sockets close with 1001, seats are held) and start again."""
        self.stop()
        self._launch()
        await self._wait_ready()

    def _launch(self) -> None:
        env = {
            **os.environ,
            "KOTA_DATA_DIR": str(self.data_dir),
            "KOTA_HOST": "127.0.0.1",
            "KOTA_PORT": str(self.port),
            "KOTA_PUBLIC_URL": self.base,
            # Appointments a few hours ahead can be joined now, so tests need no clock tricks.
            "KOTA_JOIN_OPENS_MINUTES": "1440",
            "KOTA_TIMEZONE": "Europe/Helsinki",
            # Every browser here comes from 127.0.0.1: no limit on holds per address.
            "KOTA_BOOKING_HOLDS_PER_HOUR": "0",
            **self.env,
        }
        kota = Path(sys.executable).parent / "kota"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(kota), "run"], env=env, stdout=log, stderr=subprocess.STDOUT
            )

    async def _wait_ready(self) -> None:
        async with aiohttp.ClientSession() as http:

            async def answers() -> bool:
                assert self.process is not None
                if self.process.poll() is not None:
                    code = self.process.returncode
                    raise RuntimeError(f"kota run exited ({code}):\n{self.log()}")
                try:
                    async with http.get(f"{self.base}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            try:
                await wait_until(answers, timeout=START_TIMEOUT, what="kota run to answer")
            except AssertionError:
                self.stop()
                raise RuntimeError(
                    f"kota run did not answer in {START_TIMEOUT}s:\n{self.log()}"
                ) from None

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no close frames, nothing flushed.

        ``restart()`` then starts it again on the same port and data directory.
        """
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait()

    def next_start(self) -> datetime:
        """A start time no other test uses, so one host never has overlapping appointments."""
        slot = next(self._slots)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        return now + timedelta(minutes=5 + 35 * slot)


class StaffApi:
    """A signed-in professional, as the staff pages would be, for setting up a test."""

    def __init__(self, kota: KotaProcess, username: str) -> None:
        self.kota = kota
        self.username = username
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def __aenter__(self) -> StaffApi:
        async with self.http.post(
            f"{self.kota.base}/api/session",
            json={"username": self.username, "password": PASSWORD},
        ) as resp:
            body = await resp.json()
            assert resp.status == 201, body
            self.csrf = body["csrf_token"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(
            method, f"{self.kota.base}{path}", json=body, headers={"X-CSRF-Token": self.csrf}
        ) as resp:
            data = await resp.json() if resp.status != 204 else None
            assert resp.status < 300, (method, path, resp.status, data)
            return data

    async def appointment(
        self, *people: tuple[str, str], minutes: int = 30, starts_at: datetime | None = None,
        languages: dict[str, str] | None = None, staff_ids: Sequence[int] = (),
    ) -> Appointment:
        """``languages``: a participant's language by name (fi, sv, en, se);
        ``staff_ids``: colleagues in the appointment besides the host."""
        start = starts_at or self.kota.next_start()
        chosen = languages or {}
        created = await self.call(
            "POST",
            "/api/appointments",
            {
                "starts_at": start.isoformat(),
                "ends_at": (start + timedelta(minutes=minutes)).isoformat(),
                "kind": "child_protection",
                "participants": [
                    {"display_name": n, "role": r, "language": chosen.get(n)} for n, r in people
                ],
                **({"staff_ids": list(staff_ids)} if staff_ids else {}),
            },
        )
        links = {}
        for p in created["participants"]:
            link = await self.call(
                "GET", f"/api/appointments/{created['id']}/participants/{p['id']}/link"
            )
            links[p["display_name"]] = link["url"]
        return Appointment(created["id"], start, created["participants"], links)


@dataclass(frozen=True)
class Appointment:
    id: int
    starts_at: datetime
    participants: list[dict[str, Any]]
    links: dict[str, str]

    def participant_id(self, name: str) -> int:
        return next(int(p["id"]) for p in self.participants if p["display_name"] == name)
