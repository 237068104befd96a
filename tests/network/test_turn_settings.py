"""TURN, STUN and connection-test settings: bad values stop the start naming the variable;
the secret is read at start and never shown; without TURN Kota says so and still runs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from server.ice_servers import IceServers
from server.settings import Settings, SettingsError, load_settings
from tests.conftest import wait_until
from tests.network.conftest import write_secret
from tests.server.conftest import KOTA_COMMAND, kota_env, run_kota

SECRET = "s3cret-" + "x" * 20
pytestmark = pytest.mark.turn_off  # no coturn needed here


def _refused(variable: str, env: dict[str, str]) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert message.startswith(f"{variable}: "), message
    return message


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    return write_secret(tmp_path, SECRET)


@pytest.mark.parametrize("value", [
    "http://turn.example.fi", "stun:turn.example.fi:3478", "turn.example.fi:3478",
    "turn:", "turn:host:3478?transport=sctp", "turn:host name", "turn:a, ftp://b",
])
def test_turn_url_that_is_not_a_turn_url_is_refused(value: str, secret_file: Path) -> None:
    message = _refused("KOTA_TURN_URLS", {"KOTA_TURN_URLS": value,
                                           "KOTA_TURN_SECRET_FILE": str(secret_file)})
    assert "turn:" in message


@pytest.mark.parametrize("value", ["turn:stun.example.fi", "https://stun.example.fi", "stun"])
def test_stun_url_that_is_not_a_stun_url_is_refused(value: str) -> None:
    _refused("KOTA_STUN_URLS", {"KOTA_STUN_URLS": value})


def test_turn_urls_without_a_secret_file_are_refused() -> None:
    message = _refused("KOTA_TURN_SECRET_FILE", {"KOTA_TURN_URLS": "turn:turn.example.fi"})
    assert "required" in message


def test_missing_secret_file_is_refused(tmp_path: Path) -> None:
    _refused("KOTA_TURN_SECRET_FILE", {"KOTA_TURN_URLS": "turn:turn.example.fi",
                                       "KOTA_TURN_SECRET_FILE": str(tmp_path / "nope")})


def test_unreadable_secret_file_is_refused(tmp_path: Path) -> None:
    """A folder stands in for an unreadable file: root reads any file whatever its mode."""
    message = _refused("KOTA_TURN_SECRET_FILE", {"KOTA_TURN_URLS": "turn:turn.example.fi",
                                                 "KOTA_TURN_SECRET_FILE": str(tmp_path)})
    assert "cannot read" in message


def test_world_readable_secret_file_is_refused(secret_file: Path) -> None:
    secret_file.chmod(0o644)
    message = _refused("KOTA_TURN_SECRET_FILE", {"KOTA_TURN_URLS": "turn:turn.example.fi",
                                                 "KOTA_TURN_SECRET_FILE": str(secret_file)})
    assert "chmod o-r" in message
    assert SECRET not in message


def test_short_secret_is_refused(tmp_path: Path) -> None:
    short = write_secret(tmp_path, "tooshort")
    message = _refused("KOTA_TURN_SECRET_FILE", {"KOTA_TURN_URLS": "turn:turn.example.fi",
                                                 "KOTA_TURN_SECRET_FILE": str(short)})
    assert "tooshort" not in message


@pytest.mark.parametrize(("variable", "value"), [
    ("KOTA_TURN_TTL_SECONDS", "59"), ("KOTA_TURN_TTL_SECONDS", "1h"),
    ("KOTA_ECHO_MAX_CONCURRENT", "-1"), ("KOTA_ECHO_MAX_CONCURRENT", "two"),
    ("KOTA_ECHO_MAX_SECONDS", "0"), ("KOTA_ECHO_MAX_SECONDS", "301"),
])
def test_out_of_range_numbers_are_refused(variable: str, value: str) -> None:
    _refused(variable, {variable: value})


def test_defaults_have_no_turn_and_a_core_based_echo_limit() -> None:
    settings = load_settings({})
    assert settings.turn_urls == () and settings.turn_secret_file is None
    assert not settings.turn_enabled
    assert settings.turn_ttl_seconds == 3 * 3600
    assert settings.echo_max_concurrent == 2 * (os.cpu_count() or 1)
    assert settings.echo_max_seconds == 30


def test_turn_settings_are_read_and_the_secret_never_shows(secret_file: Path) -> None:
    settings = load_settings({
        "KOTA_TURN_URLS": "turn:turn.example.fi:3478, turns:turn.example.fi:443?transport=tcp",
        "KOTA_TURN_SECRET_FILE": str(secret_file), "KOTA_TURN_TTL_SECONDS": "600",
        "KOTA_STUN_URLS": "stun:turn.example.fi:3478",
    })
    assert settings.turn_urls == ("turn:turn.example.fi:3478",
                                  "turns:turn.example.fi:443?transport=tcp")
    assert settings.turn_secret_file is not None
    assert settings.turn_secret_file.value == SECRET.encode()  # the newline is stripped
    assert settings.turn_enabled and settings.turn_ttl_seconds == 600
    ice = IceServers.from_settings(settings)
    for shown in (repr(settings), str(settings), repr(settings.turn_secret_file), repr(ice)):
        assert SECRET not in shown
    assert str(secret_file) in repr(settings)


async def test_kota_run_refuses_a_bad_turn_url(settings: Settings) -> None:
    done = await run_kota(settings, "run", KOTA_TURN_URLS="turn:turn.example.fi,ftp://x")
    assert done.returncode == 2
    assert done.stderr.startswith("kota: KOTA_TURN_URLS: "), done.stderr
    assert "Traceback" not in done.stderr


async def test_kota_run_without_turn_says_so_and_serves(settings: Settings,
                                                        tmp_path: Path) -> None:
    output = tmp_path / "run.log"
    with output.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            str(KOTA_COMMAND), "run", stdout=sink, stderr=asyncio.subprocess.STDOUT,
            env=kota_env(settings), cwd=tmp_path)
    try:
        await wait_until(lambda: '"event": "turn.disabled"' in output.read_text()
                         or process.returncode is not None, 30, "the turn.disabled log line")
        text = output.read_text()
        assert "TURN relay: off (KOTA_TURN_URLS is not set)" in text
        assert "Kota is listening on" in text
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 15) == 0, output.read_text()
