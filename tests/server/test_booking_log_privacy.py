"""A whole booking — hold, confirm, manage, move, cancel, and refusals — logs no name,
contact, topic or token, even at DEBUG."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from server.settings import Settings
from tests.conftest import Accounts
from tests.server.booking_helpers import (
    booking_settings,
    bookings,
    confirm_token,
    hold,
    iso,
    local,
    manage_token,
    open_service,
)
from tests.server.conftest import Clock, SignIn


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Messaging on: a hold needs a way to send its confirm link."""
    return booking_settings(tmp_path)


async def test_a_whole_booking_logs_nothing_private(
        server_log: io.StringIO, kota: TestServer, settings: Settings, staff_client: SignIn,
        accounts: Accounts, clock: Clock, family: aiohttp.ClientSession) -> None:
    await open_service(staff_client, accounts, clock, staff=[accounts.worker.id])
    status, _ = await hold(family, local(6, 10), display_name="Ristiina Yksityinen",
                           contact="ristiina@example.fi", topic="Aivan salainen asia")
    assert status == 201
    status, _ = await hold(family, local(6, 10), contact="ristiina@example.fi",
                           display_name="Ristiina Yksityinen")
    assert status == 409  # taken: a refusal is logged too
    [booking] = bookings(settings)
    confirm = confirm_token(settings, booking)
    resp = await family.post("/api/book/confirm", json={"token": confirm})
    assert resp.status == 200
    manage = manage_token(settings, bookings(settings)[0])
    for path, body in [("manage", {"token": manage}),
                       ("manage/move", {"token": manage, "starts_at": iso(local(7, 10))}),
                       ("manage/cancel", {"token": manage}),
                       ("confirm", {"token": confirm[:-3] + "abc"})]:
        await family.post(f"/api/book/{path}", json=body)
    text = server_log.getvalue()
    assert "/api/book/" in text  # the requests were logged
    for secret in ("Ristiina", "Yksityinen", "ristiina@", "salainen", confirm, manage,
                   confirm.split(".")[2], manage.split(".")[2]):
        assert secret not in text, secret
