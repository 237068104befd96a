"""A call spell cut by a server crash ends where the server was last seen alive.

A real ``kota run`` is SIGKILLed with a staff member and an admitted guest in the call,
stays down a measured outage, and starts again on the same file. The guest resumes its
seat with its resume secret, the staff member joins again; both leave. The attendance
the API reports leaves the outage out: each spell cut by the crash ends at the
``server.lost`` row's moment, the server's last alive mark before the kill.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from server.db import Database
from server.records import AuditRow
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, wait_until
from tests.server.test_sigkill_writes import start_kota
from tests.signalling_live.conftest import CallClient, book, token_of

ALIVE_MARK = 0.2  # KOTA_ALIVE_MARK_SECONDS: the precision of a crash-cut spell
OUTAGE = 4.0  # seconds the server is down: far more than the alive-mark interval
# Times in the usage log are whole seconds: each of a person's two spells may gain up
# to one second from rounding.
ROUNDING = 2


async def last_alive(settings: Settings) -> datetime | None:
    db = Database(settings.db_path)
    await db.open()
    try:
        mark = await db.get_server_alive()
    finally:
        await db.close()
    return None if mark is None else mark.alive_at


async def marked_alive_after(settings: Settings, moment: datetime) -> None:
    """Waits until the server has recorded that it was alive a second after ``moment``."""

    async def marked() -> bool:
        mark = await last_alive(settings)
        return mark is not None and mark >= moment + timedelta(seconds=1)

    await wait_until(marked, what="an alive mark a second later")


async def server_lost_rows(settings: Settings) -> list[AuditRow]:
    db = Database(settings.db_path)
    await db.open()
    try:
        return [row async for row in db.iter_audit_rows() if row.action == "server.lost"]
    finally:
        await db.close()


async def test_the_outage_of_a_crash_is_not_counted_as_time_in_the_call(
    settings: Settings, accounts: Accounts, tmp_path: Path
) -> None:
    log = tmp_path / "kota-run.log"
    env = {"KOTA_ALIVE_MARK_SECONDS": str(ALIVE_MARK)}
    process = await start_kota(settings, log, **env)
    sanna = StaffClient(settings.public_url)
    clients: list[CallClient] = []
    try:
        assert (await sanna.login("sanna")).status == 201
        appointment = await book(sanna)
        token = await token_of(sanna, appointment, 0)
        url = settings.public_url.replace("http", "ws") + "/ws"
        host = await CallClient.connect(f"{url}?appointment={appointment['id']}", sanna.session)
        guest = await CallClient.connect(url)
        clients += [host, guest]
        assert (await host.hello())["state"] == "admitted"
        assert (await guest.hello(token=token))["state"] == "waiting"
        await host.until("knocked")
        await host.send("admit", participant=guest.participant)
        await guest.expect("admitted")
        joined, joined_at = time.monotonic(), datetime.now(UTC)
        await marked_alive_after(settings, joined_at)

        process.send_signal(signal.SIGKILL)
        await process.wait()
        killed, killed_at = time.monotonic(), datetime.now(UTC)
        await wait_until(lambda: time.monotonic() > killed + OUTAGE, timeout=OUTAGE + 5,
                         what="the outage")
        process = await start_kota(settings, log, **env)

        back = await CallClient.connect(url)
        clients.append(back)
        resumed = await back.hello(resume=guest.ticket())
        assert (resumed["state"], resumed["resumed"]) == ("admitted", True), resumed
        host_back = await CallClient.connect(f"{url}?appointment={appointment['id']}",
                                             sanna.session)
        clients.append(host_back)
        assert (await host_back.hello())["state"] == "admitted"
        await marked_alive_after(settings, datetime.now(UTC))
        await back.send("leave")
        await host_back.send("leave")
        left = time.monotonic()

        path = f"/api/appointments/{appointment['id']}/attendance"
        people = (str(guest.participant), str(host.participant))
        found: dict[str, dict[str, Any]] = {}

        async def both_left() -> bool:
            body = await (await sanna.get(path)).json()
            found.update((p["participant"], p) for p in body["participants"])
            return not any(found[who]["in_call"] for who in people)

        await wait_until(both_left, what="both leaves in the attendance")
        lost = await server_lost_rows(settings)
    finally:
        for client in clients:
            await client.close()
        await sanna.close()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await process.wait()

    # The crash is dated at the last alive mark before the kill: within the interval, the
    # whole-second rounding, and a second's slack for a busy machine.
    assert len(lost) == 1, lost
    assert killed_at - timedelta(seconds=ALIVE_MARK + 2) <= lost[0].at <= killed_at, (
        lost[0].at, killed_at)
    elapsed = left - joined
    for who in people:
        connected = int(found[who]["connected_seconds"])
        # About two seconds on each side of the crash, never the outage.
        assert 2 <= connected <= elapsed - OUTAGE + ROUNDING, (who, connected, elapsed, found)
