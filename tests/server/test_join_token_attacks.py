"""Attacks on join tokens: each refused with its documented code, and each refusal logged."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp.test_utils import TestServer

from server.app_keys import AUDIT, DB, SIGNING_KEY
from server.join_tokens import MAX_TOKEN_LENGTH
from server.settings import Settings
from tests.conftest import StaffClient, assert_error
from tests.server.conftest import Clock, book, copy_link, link_path

Booked = tuple[dict[str, Any], str]


@pytest.fixture
async def booked(sanna: StaffClient) -> Booked:
    """An appointment and its guardian's valid token."""
    created = await book(sanna)
    return created, await copy_link(sanna, created)


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(kota: TestServer, claims: dict[str, Any], algorithm: str = "HS256") -> str:
    """A token signed with Kota's real key: only the stored state can refuse it."""
    return jwt.encode(claims, kota.app[SIGNING_KEY].secret, algorithm=algorithm)


async def _refused(
    family: aiohttp.ClientSession, kota: TestServer, token: str, status: int, code: str
) -> None:
    """The token is refused with ``code`` and the refusal is in the usage log (the first of
    its kind in a minute is queued at once, with a count of 1)."""
    resp = await family.post("/api/join", json={"token": token})
    body = await assert_error(resp, status, code)
    assert not token or token not in json.dumps(body)
    await kota.app[AUDIT].flush()
    rows = [r async for r in kota.app[DB].iter_audit_rows()]
    assert rows[-1].action == "link.refused", rows[-1]
    assert json.loads(rows[-1].detail) == {"count": 1, "reason": code}
    assert "appointment" not in body["error"]


async def test_valid_token_opens(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    resp = await family.post("/api/join", json={"token": booked[1]})
    assert resp.status == 200, await resp.text()
    rows = [r async for r in kota.app[DB].iter_audit_rows()]
    assert rows[-1].action == "link.opened"


async def test_token_with_wrong_signature_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    forged = jwt.encode(_claims(booked[1]), b"k" * 32, algorithm="HS256")
    await _refused(family, kota, forged, 401, "token_invalid")


async def test_token_with_tampered_claims_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    header, _, signature = booked[1].split(".")
    claims = _claims(booked[1]) | {"exp": int(datetime.now(UTC).timestamp()) + 10**7}
    await _refused(family, kota, f"{header}.{_b64(claims)}.{signature}", 401, "token_invalid")


async def test_alg_none_token_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(booked[1]))}."
    await _refused(family, kota, unsigned, 401, "token_invalid")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_token_with_another_algorithm_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    other = _sign(kota, _claims(booked[1]), algorithm="HS512")
    await _refused(family, kota, other, 401, "token_invalid")


async def test_expired_token_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    past = int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())
    expired = _sign(kota, _claims(booked[1]) | {"iat": past - 3600, "exp": past})
    await _refused(family, kota, expired, 401, "token_expired")


async def test_link_expires_after_the_appointment_and_its_grace(
    booked: Booked,
    family: aiohttp.ClientSession,
    kota: TestServer,
    clock: Clock,
    settings: Settings,
) -> None:
    created, token = booked
    end = datetime.fromisoformat(created["ends_at"])
    clock.set(end + settings.join_grace - timedelta(seconds=2))
    assert (await family.post("/api/join", json={"token": token})).status == 200
    clock.set(end + settings.join_grace)
    await _refused(family, kota, token, 401, "token_expired")


async def test_token_for_another_audience_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    other = _sign(kota, _claims(booked[1]) | {"aud": "kota-staff"})
    await _refused(family, kota, other, 401, "token_wrong_audience")


async def test_token_from_another_issuer_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    other = _sign(kota, _claims(booked[1]) | {"iss": "someone-else"})
    await _refused(family, kota, other, 401, "token_invalid")


async def test_token_missing_a_claim_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    claims = _claims(booked[1])
    del claims["apt"]
    await _refused(family, kota, _sign(kota, claims), 401, "token_invalid")


async def test_token_with_non_numeric_ids_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    other = _sign(kota, _claims(booked[1]) | {"sub": "maija"})
    await _refused(family, kota, other, 401, "token_invalid")


async def test_token_with_unknown_id_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    other = _sign(kota, _claims(booked[1]) | {"jti": "never-issued"})
    await _refused(family, kota, other, 401, "token_invalid")


async def test_revoked_token_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer, sanna: StaffClient
) -> None:
    created, token = booked
    assert (await sanna.delete(link_path(created))).status == 204
    await _refused(family, kota, token, 401, "link_revoked")


async def test_renewed_token_replaces_the_old_one(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer, sanna: StaffClient
) -> None:
    created, old = booked
    assert (await sanna.post(link_path(created))).status == 201
    new = await copy_link(sanna, created)
    assert (await family.post("/api/join", json={"token": new})).status == 200
    await _refused(family, kota, old, 401, "link_revoked")


async def test_token_of_another_appointment_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer, sanna: StaffClient
) -> None:
    """Validly signed, real link id, but pointed at a different appointment."""
    other = await book(sanna, start=datetime.fromisoformat(booked[0]["ends_at"]))
    moved = _sign(kota, _claims(booked[1]) | {"apt": other["id"]})
    await _refused(family, kota, moved, 401, "token_wrong_appointment")


async def test_token_of_another_participant_is_refused(
    sanna: StaffClient, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    created = await book(
        sanna,
        participants=[
            {"display_name": "Maija", "role": "guardian"},
            {"display_name": "Ville", "role": "child"},
        ],
    )
    token = await copy_link(sanna, created, 0)
    swapped = _sign(kota, _claims(token) | {"sub": str(created["participants"][1]["id"])})
    await _refused(family, kota, swapped, 401, "token_wrong_appointment")


async def test_garbage_token_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    await _refused(family, kota, "not-a-token", 401, "token_malformed")


async def test_garbage_token_with_three_parts_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    await _refused(family, kota, "a.b.c", 401, "token_malformed")


async def test_token_cut_in_half_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    await _refused(family, kota, booked[1][: len(booked[1]) // 2], 401, "token_malformed")


async def test_token_with_altered_signature_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    token = booked[1]
    middle = len(token) - 10
    altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    await _refused(family, kota, altered, 401, "token_invalid")


async def test_empty_token_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    await _refused(family, kota, "", 401, "token_malformed")


async def test_too_long_token_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer
) -> None:
    padded = booked[1] + "A" * (MAX_TOKEN_LENGTH + 1 - len(booked[1]))
    await _refused(family, kota, padded, 401, "token_malformed")


async def test_token_of_a_cancelled_appointment_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer, sanna: StaffClient
) -> None:
    created, token = booked
    assert (await sanna.post(f"/api/appointments/{created['id']}/cancel")).status == 200
    await _refused(family, kota, token, 403, "appointment_cancelled")


async def test_token_of_a_removed_participant_is_refused(
    booked: Booked, family: aiohttp.ClientSession, kota: TestServer, sanna: StaffClient
) -> None:
    created, token = booked
    pid = created["participants"][0]["id"]
    resp = await sanna.delete(f"/api/appointments/{created['id']}/participants/{pid}")
    assert resp.status == 204
    await _refused(family, kota, token, 401, "link_revoked")


async def test_join_body_must_be_json_with_a_token(family: aiohttp.ClientSession) -> None:
    await assert_error(await family.post("/api/join", json={"tok": "x"}), 422, "invalid_field")
    resp = await family.post("/api/join", data="token=x")
    await assert_error(resp, 400, "json_expected")
