"""``kota staff add``: argon2id hashes, clean refusals."""

from __future__ import annotations

import sqlite3

from server.settings import Settings
from tests.server.conftest import Completed, run_kota

GOOD_PASSWORD = "a long enough password"


def _staff_rows(settings: Settings) -> list[tuple[str, str, str]]:
    with sqlite3.connect(settings.db_path) as conn:
        return conn.execute("SELECT username, role, password_hash FROM staff").fetchall()


async def _add(settings: Settings, username: str, password: str = GOOD_PASSWORD) -> Completed:
    return await run_kota(
        settings,
        "staff",
        "add",
        "--username",
        username,
        "--display-name",
        "Liisa Näkkäläjärvi",
        "--role",
        "admin",
        "--password-stdin",
        stdin=password + "\n",
    )


async def test_staff_add_stores_an_argon2id_hash(settings: Settings) -> None:
    done = await _add(settings, "liisa")
    assert done.returncode == 0, done.stderr
    assert "created admin 'liisa'" in done.stdout
    [(username, role, password_hash)] = _staff_rows(settings)
    assert (username, role) == ("liisa", "admin")
    assert password_hash.startswith("$argon2id$")
    assert GOOD_PASSWORD not in password_hash


async def test_staff_add_with_a_taken_username_fails_cleanly(settings: Settings) -> None:
    assert (await _add(settings, "liisa")).returncode == 0
    again = await _add(settings, "LIISA")
    assert again.returncode == 1
    assert "taken" in again.stderr
    assert "Traceback" not in again.stderr + again.stdout
    assert len(_staff_rows(settings)) == 1


async def test_staff_add_refuses_a_short_password(settings: Settings) -> None:
    done = await _add(settings, "liisa", password="short")
    assert done.returncode == 1
    assert "at least 10 characters" in done.stderr
    assert "Traceback" not in done.stderr
    assert not settings.db_path.exists() or _staff_rows(settings) == []


async def test_staff_add_with_a_title_and_the_registry_right(settings: Settings) -> None:
    done = await run_kota(settings, "staff", "add", "--username", "riikka", "--display-name",
                          "Riikka Näkkäläjärvi", "--title", "Kirjaamosihteeri", "--registry",
                          "--password-stdin", stdin=GOOD_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "created professional 'riikka'" in done.stdout and "registry" in done.stdout
    plain = await _add(settings, "liisa")
    assert plain.returncode == 0, plain.stderr
    with sqlite3.connect(settings.db_path) as conn:
        rows = conn.execute("SELECT username, title, registry FROM staff ORDER BY id").fetchall()
    assert rows == [("riikka", "Kirjaamosihteeri", 1), ("liisa", "", 0)]
