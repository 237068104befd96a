"""Families' own links to personal lines and their call-backs over REST: who may see and
change them, every error, only the secret's hash on disk, nothing secret in any log."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from server import app_keys
from server.app import create_app
from server.app_keys import DB
from server.settings import Settings
from tests.conftest import Accounts, StaffClient, assert_error
from tests.server.conftest import Clock, SignIn
from tests.server.line_helpers import MONDAY, file_bytes, make_line, rows

LINK = re.compile(r"^(?P<base>.+)/line/my#e=(?P<secret>[A-Za-z0-9_-]{43})$")


@pytest.fixture
async def admin(staff_client: SignIn, clock: Clock) -> StaffClient:
    clock.set(MONDAY)
    return await staff_client("admin")


@pytest.fixture
async def personal(admin: StaffClient, accounts: Accounts) -> dict[str, Any]:
    """Sanna's and Pekka's personal line."""
    return await make_line(admin, accounts, slug="sannan-perheet", name="Sannan perheet",
                           kind="personal")


async def enrol(client: StaffClient, line_id: int, **fields: Any) -> tuple[int, dict[str, Any]]:
    body = {"family_name": "Virtaset", "language": "sv", **fields}
    resp = await client.post(f"/api/lines/{line_id}/enrolments", json=body)
    return resp.status, await resp.json()


async def test_a_worker_enrols_lists_and_revokes_a_family(
        staff_client: SignIn, personal: dict[str, Any], accounts: Accounts,
        settings: Settings, kota: TestServer) -> None:
    sanna = await staff_client("sanna")
    status, made = await enrol(sanna, personal["id"], staff_ids=[accounts.worker.id])
    assert status == 201, made
    link = LINK.match(made["link"])
    assert link and link["base"] == settings.public_url
    enrolment = made["enrolment"]
    assert enrolment == {
        "id": enrolment["id"], "family_name": "Virtaset", "language": "sv",
        "staff": [{"id": accounts.worker.id, "display_name": "Sanna Aikio"}],
        "created_at": enrolment["created_at"], "revoked_at": None, "last_used_at": None,
    }
    assert enrolment["created_at"].startswith("2027-01-04T10:0")
    resp = await sanna.get(f"/api/lines/{personal['id']}/enrolments")
    assert (await resp.json()) == {"enrolments": [enrolment]}
    secret_hash = hashlib.sha256(link["secret"].encode()).hexdigest()
    found = await kota.app[DB].enrolment_by_secret_hash(secret_hash)
    assert found is not None and found.id == enrolment["id"]

    pekka = await staff_client("pekka")
    for _ in range(2):
        resp = await pekka.delete(f"/api/lines/{personal['id']}/enrolments/{enrolment['id']}")
        assert resp.status == 204
    assert await kota.app[DB].enrolment_by_secret_hash(secret_hash) is None
    [listed] = (await (await sanna.get(f"/api/lines/{personal['id']}/enrolments")).json())[
        "enrolments"]
    assert listed["revoked_at"] is not None
    detail = f'{{"enrolment":{enrolment["id"]},"line":{personal["id"]}}}'
    assert rows(settings, "SELECT action, actor_id, detail FROM audit_log"
                " WHERE action LIKE 'line.enrol%' ORDER BY id") == [
        ("line.enrolled", accounts.worker.id, detail),
        ("line.enrolment_revoked", accounts.specialist.id, detail)]


async def test_enrolment_errors(staff_client: SignIn, admin: StaffClient,
                                personal: dict[str, Any], accounts: Accounts) -> None:
    sanna = await staff_client("sanna")
    public = await make_line(admin, accounts)
    status, body = await enrol(sanna, public["id"])
    assert (status, body["error"]["code"]) == (422, "line_not_personal")
    status, body = await enrol(sanna, personal["id"], staff_ids=[accounts.outsider.id])
    assert (status, body["error"]["code"]) == (422, "staff_not_on_line")
    for fields in ({"family_name": ""}, {"family_name": "  "}, {"family_name": "x" * 81},
                   {"language": "de"}, {"staff_ids": ["1"]}, {"secret": "mine"}):
        status, body = await enrol(sanna, personal["id"], **fields)
        assert (status, body["error"]["code"]) == (422, "invalid_field"), fields
    status, body = await enrol(sanna, 999)
    assert (status, body["error"]["code"]) == (404, "line_not_found")
    resp = await sanna.delete(f"/api/lines/{personal['id']}/enrolments/999")
    await assert_error(resp, 404, "enrolment_not_found")
    other = await make_line(admin, accounts, slug="toinen", kind="personal")
    _, made = await enrol(sanna, other["id"])
    resp = await sanna.delete(f"/api/lines/{personal['id']}/enrolments/"
                              f"{made['enrolment']['id']}")
    await assert_error(resp, 404, "enrolment_not_found")
    assert (await admin.delete(f"/api/lines/{personal['id']}")).status == 204
    status, body = await enrol(admin, personal["id"])
    assert (status, body["error"]["code"]) == (409, "line_inactive")


async def test_only_the_lines_staff_and_admins_see_its_families(
        staff_client: SignIn, admin: StaffClient, personal: dict[str, Any]) -> None:
    olli = await staff_client("olli")
    line_id = personal["id"]
    status, made = await enrol(admin, line_id)  # an admin sets tablets up, too
    assert status == 201, made
    eid = made["enrolment"]["id"]
    for method, path in [("GET", f"/api/lines/{line_id}/enrolments"),
                         ("POST", f"/api/lines/{line_id}/enrolments"),
                         ("DELETE", f"/api/lines/{line_id}/enrolments/{eid}"),
                         ("GET", f"/api/lines/{line_id}/callbacks"),
                         ("POST", f"/api/lines/{line_id}/callbacks/1/done")]:
        resp = await olli.request(method, path, json={"family_name": "X"})
        await assert_error(resp, 403, "not_your_line")
    resp = await admin.get(f"/api/lines/{line_id}/enrolments")
    assert [e["id"] for e in (await resp.json())["enrolments"]] == [eid]


async def test_only_the_secrets_hash_is_stored_and_nothing_secret_is_logged(
        server_log: io.StringIO, staff_client: SignIn, personal: dict[str, Any],
        settings: Settings) -> None:
    sanna = await staff_client("sanna")
    secrets = []
    for n in range(3):
        status, made = await enrol(sanna, personal["id"], family_name=f"Yksityinen {n}")
        assert status == 201, made
        link = LINK.match(made["link"])
        assert link
        secrets.append(link["secret"])
    stored = rows(settings, "SELECT secret_hash FROM line_enrolments ORDER BY id")
    assert stored == [(hashlib.sha256(s.encode()).hexdigest(),) for s in secrets]
    on_disk = file_bytes(settings)
    log_rows = "\n".join(str(r) for r in rows(settings, "SELECT * FROM audit_log"))
    text = server_log.getvalue()
    assert "/api/lines/" in text  # the requests were logged
    for secret in secrets:
        assert secret.encode() not in on_disk
        assert secret not in text and secret not in log_rows
    for private in ("Yksityinen", "sannan-perheet"):
        assert private not in text and private not in log_rows


async def test_one_open_callback_however_many_ask_at_once(
        staff_client: SignIn, admin: StaffClient, personal: dict[str, Any], kota: TestServer,
        clock: Clock,
        accounts: Accounts, settings: Settings) -> None:
    sanna = await staff_client("sanna")
    _, made = await enrol(sanna, personal["id"])
    eid, line_id = made["enrolment"]["id"], personal["id"]
    db = kota.app[DB]

    async def ask() -> tuple[int, bool]:
        async with db.transaction() as tx:
            callback, added = await tx.add_line_callback(eid, line_id, clock())
            return callback.id, added

    asked = await asyncio.gather(*(ask() for _ in range(10)))
    assert sum(added for _, added in asked) == 1 and len({cid for cid, _ in asked}) == 1
    cid = asked[0][0]
    resp = await sanna.get(f"/api/lines/{line_id}/callbacks")
    [open_] = (await resp.json())["callbacks"]
    assert open_["id"] == cid and open_["enrolment"] == eid
    assert open_["family_name"] == "Virtaset" and open_["done_at"] is None

    pekka = await staff_client("pekka")
    answers = await asyncio.gather(
        *(c.post(f"/api/lines/{line_id}/callbacks/{cid}/done") for c in (sanna, pekka) * 3))
    bodies = [await a.json() for a in answers]
    assert [a.status for a in answers] == [200] * 6
    assert len({(b["done_at"], b["done_by"]) for b in bodies}) == 1, bodies
    assert bodies[0]["done_by"] in (accounts.worker.id, accounts.specialist.id)
    assert (await (await sanna.get(f"/api/lines/{line_id}/callbacks")).json()) == {
        "callbacks": []}
    assert rows(settings, "SELECT detail FROM audit_log WHERE action = 'line.callback_done'"
                ) == [(f'{{"enrolment":{eid},"line":{line_id}}}',)]
    await assert_error(await sanna.post(f"/api/lines/{line_id}/callbacks/999/done"), 404,
                       "callback_not_found")
    other = await make_line(admin, accounts, slug="toinen", kind="personal")
    await assert_error(await sanna.post(f"/api/lines/{other['id']}/callbacks/{cid}/done"),
                       404, "callback_not_found")
    again, added = await ask()
    assert added and again != cid


class HubSeam:
    """What REST tells the line hub, recorded on whichever hub the app runs: the live
    part's (its own methods still run) or, without one, a bare stand-in. ``full`` decides
    what ``is_full`` answers, so a full line needs no thousand sockets."""

    def __init__(self) -> None:
        self.full: set[int] = set()
        self.revoked: list[int] = []
        self.changed: list[int] = []

    def attach(self, hub: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        told_revoked = getattr(hub, "enrolment_revoked", None)
        told_changed = getattr(hub, "line_changed", None)

        async def enrolment_revoked(enrolment_id: int) -> None:
            self.revoked.append(enrolment_id)
            if told_revoked is not None:
                await told_revoked(enrolment_id)

        def line_changed(line_id: int) -> None:
            self.changed.append(line_id)
            if told_changed is not None:
                told_changed(line_id)

        monkeypatch.setattr(hub, "is_full", lambda line_id: line_id in self.full,
                            raising=False)
        monkeypatch.setattr(hub, "enrolment_revoked", enrolment_revoked, raising=False)
        monkeypatch.setattr(hub, "line_changed", line_changed, raising=False)


class BareHub:
    """Stands in for the hub where the app runs none."""


@pytest.fixture
async def hub_server(settings: Settings, accounts: Accounts, clock: Clock,
                     monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[TestServer,
                                                                              HubSeam]]:
    key = getattr(app_keys, "LINE_HUB", None)
    app = create_app(settings, clock)
    if key is None:  # an app without live lines: a key and a stand-in of our own
        key = web.AppKey("line_hub", BareHub)
        monkeypatch.setattr(app_keys, "LINE_HUB", key, raising=False)
        app[key] = BareHub()
    server = TestServer(app, host="127.0.0.1", port=settings.port)
    await server.start_server()
    seam = HubSeam()
    try:
        seam.attach(app[key], monkeypatch)
        yield server, seam
    finally:
        await server.close()


async def test_rest_tells_the_line_hub(hub_server: tuple[TestServer, HubSeam],
                                       accounts: Accounts, clock: Clock) -> None:
    server, hub = hub_server
    clock.set(MONDAY)
    admin = StaffClient(str(server.make_url("")).rstrip("/"))
    try:
        assert (await admin.login("admin")).status == 201
        line = await make_line(admin, accounts)
        personal = await make_line(admin, accounts, slug="oma", kind="personal")
        assert hub.changed == [line["id"], personal["id"]]
        resp = await admin.get("/api/public/lines/perheneuvonta")
        assert (await resp.json())["full"] is False
        hub.full.add(line["id"])
        resp = await admin.get("/api/public/lines/perheneuvonta")
        assert (await resp.json())["full"] is True
        _, made = await enrol(admin, personal["id"])
        eid = made["enrolment"]["id"]
        for _ in range(2):
            resp = await admin.delete(f"/api/lines/{personal['id']}/enrolments/{eid}")
            assert resp.status == 204
        assert hub.revoked == [eid]
        assert (await admin.delete(f"/api/lines/{line['id']}")).status == 204
        assert hub.changed[-1] == line["id"]
    finally:
        await admin.close()
