"""Sign-in attempts sent all at once obey the same limits as attempts one after another,
and an unknown or inactive username costs the same password check as a known one."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter

from aiohttp.test_utils import TestServer

from server.app_keys import PASSWORDS
from server.settings import Settings
from server.staff_throttle import ADDRESS_FREE_FAILURES, FREE_FAILURES, LoginThrottle
from tests.conftest import Accounts, StaffClient


async def _logins(kota: TestServer, pairs: list[tuple[str, str]]) -> list[tuple[int, dict]]:  # type: ignore[type-arg]
    base = str(kota.make_url("")).rstrip("/")
    clients = [StaffClient(base) for _ in pairs]
    try:
        responses = await asyncio.gather(
            *(c.login(user, password) for c, (user, password) in zip(clients, pairs, strict=True))
        )
        return [(r.status, await r.json()) for r in responses]
    finally:
        for client in clients:
            await client.close()


async def test_wrong_passwords_sent_at_once_are_throttled_like_sequential_ones(
    kota: TestServer,
) -> None:
    results = await _logins(kota, [("pekka", f"wrong password {i}") for i in range(25)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {401: FREE_FAILURES, 429: 25 - FREE_FAILURES}, statuses
    for status, body in results:
        if status == 429:
            assert body["error"]["code"] == "too_many_attempts"
            assert body["error"]["retry_after"] >= 1
    assert kota.app[PASSWORDS].verifications == FREE_FAILURES


async def test_a_spray_of_usernames_from_one_address_is_throttled(kota: TestServer) -> None:
    """An address gets more room than a username (an office behind one NAT), but a
    spray sent at once stops at it just as one sent name by name does."""
    names = ["admin", "sanna", "pekka", "olli", *(f"guess{i}" for i in range(16))]
    results = await _logins(kota, [(name, "not the password") for name in names])
    statuses = Counter(status for status, _ in results)
    assert statuses == {401: ADDRESS_FREE_FAILURES, 429: len(names) - ADDRESS_FREE_FAILURES}


async def test_an_office_signing_in_at_once_is_not_throttled(kota: TestServer) -> None:
    """Colleagues behind one address, correct passwords, all at the same moment."""
    people = ["admin", "sanna", "pekka", "olli"] * 2
    results = await _logins(kota, [(name, "correct horse battery") for name in people])
    assert [status for status, _ in results] == [201] * len(people)


async def test_unknown_inactive_and_known_users_each_cost_one_verification(
    kota: TestServer, settings: Settings, accounts: Accounts
) -> None:
    def close_account() -> None:
        with sqlite3.connect(settings.db_path) as conn:
            conn.execute("UPDATE staff SET active = 0 WHERE username = 'olli'")

    # In a thread: the server's own background transactions (the outbox worker's) need the
    # event loop to finish, so a blocking write here would wait on them forever.
    await asyncio.to_thread(close_account)
    checker = kota.app[PASSWORDS]
    for username in ("pekka", "nobody-here", "olli"):
        before = checker.verifications
        ((status, body),) = await _logins(kota, [(username, "not the password")])
        assert (status, body["error"]["code"]) == (401, "bad_credentials")
        assert checker.verifications == before + 1, username


def test_an_attempt_counts_before_its_check_and_success_takes_it_back() -> None:
    throttle = LoginThrottle()
    keys = ("user:pekka", "addr:10.0.0.1")
    for _ in range(FREE_FAILURES):
        assert throttle.attempt(keys, 100.0) == 0
    assert throttle.attempt(keys, 100.0) > 0  # refused, and not counted again
    assert throttle.retry_after(keys, 100.0) == throttle.attempt(keys, 100.0)
    throttle.succeeded(keys)
    assert throttle.attempt(keys, 100.0) == 0


def test_a_refused_attempt_does_not_lengthen_the_wait() -> None:
    throttle = LoginThrottle()
    keys = ("user:pekka",)
    for _ in range(FREE_FAILURES):
        throttle.attempt(keys, 0.0)
    first = throttle.attempt(keys, 0.0)
    for _ in range(10):
        throttle.attempt(keys, 0.5)
    assert throttle.retry_after(keys, 0.5) == first - 0.5
