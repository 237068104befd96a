"""Configuration: bad KOTA_* values fail naming the variable; the signing key's life."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from server.app import create_app
from server.app_keys import SIGNING_KEY
from server.join_tokens import SigningKey
from server.settings import Settings, SettingsError, load_settings
from tests.server.conftest import run_kota


def _refused(variable: str, value: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable}: "), message
    return message


def test_non_numeric_port_is_refused() -> None:
    assert "'abc'" in _refused("KOTA_PORT", "abc")


def test_port_out_of_range_is_refused() -> None:
    _refused("KOTA_PORT", "70000")


def test_unknown_timezone_is_refused() -> None:
    assert "Mars/Base" in _refused("KOTA_TIMEZONE", "Mars/Base")


def test_timezone_path_is_refused() -> None:
    _refused("KOTA_TIMEZONE", "../../etc/passwd")


def test_ftp_public_url_is_refused() -> None:
    assert "ftp://x" in _refused("KOTA_PUBLIC_URL", "ftp://x")


def test_public_url_without_host_is_refused() -> None:
    _refused("KOTA_PUBLIC_URL", "https://")


def test_public_url_with_fragment_is_refused() -> None:
    _refused("KOTA_PUBLIC_URL", "https://kota.example.fi/#x")


def test_negative_join_opens_minutes_is_refused() -> None:
    _refused("KOTA_JOIN_OPENS_MINUTES", "-5")


def test_negative_join_grace_minutes_is_refused() -> None:
    _refused("KOTA_JOIN_GRACE_MINUTES", "-1")


def test_zero_session_minutes_is_refused() -> None:
    _refused("KOTA_SESSION_MINUTES", "0")


def test_fractional_session_minutes_is_refused() -> None:
    _refused("KOTA_SESSION_MINUTES", "2.5")


def test_tiny_max_body_bytes_is_refused() -> None:
    _refused("KOTA_MAX_BODY_BYTES", "12")


def test_unknown_log_level_is_refused() -> None:
    _refused("KOTA_LOG_LEVEL", "LOUD")


def test_defaults() -> None:
    settings = load_settings({})
    assert str(settings.timezone) == "Europe/Helsinki"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.data_dir == Path("var").resolve()
    assert settings.db_path == settings.data_dir / "kota.sqlite3"
    assert (settings.join_opens_minutes, settings.join_grace_minutes) == (15, 30)
    assert settings.session_minutes == 30
    assert settings.max_body_bytes == 65536
    assert settings.log_level == "INFO"
    assert not settings.secure_cookies


def test_public_url_default_never_names_the_wildcard_address() -> None:
    settings = load_settings({"KOTA_HOST": "0.0.0.0", "KOTA_PORT": "9000"})  # noqa: S104
    assert settings.public_url == "http://127.0.0.1:9000"


def test_https_public_url_makes_cookies_secure_and_loses_trailing_slash() -> None:
    settings = load_settings({"KOTA_PUBLIC_URL": "https://kota.example.fi/"})
    assert settings.public_url == "https://kota.example.fi"
    assert settings.secure_cookies


def test_settings_are_frozen() -> None:
    settings = load_settings({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


async def test_cli_with_bad_setting_exits_naming_the_variable(settings: Settings) -> None:
    done = await run_kota(settings, "migrate", KOTA_PORT="abc")
    assert done.returncode == 2
    assert done.stderr.strip() == "kota: KOTA_PORT: expected an integer, got 'abc'"
    assert "Traceback" not in done.stderr


# -- the signing key -----------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _start(settings: Settings) -> TestServer:
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    return server


async def test_signing_key_is_created_on_first_start_with_mode_0600(settings: Settings) -> None:
    assert not settings.signing_key_path.exists()
    server = await _start(settings)
    try:
        assert settings.signing_key_path.parent == settings.data_dir
        assert _mode(settings.signing_key_path) == 0o600
        assert _mode(settings.data_dir) == 0o700
        assert _mode(settings.db_path) == 0o600
        assert len(server.app[SIGNING_KEY].secret) >= 32
    finally:
        await server.close()


async def test_signing_key_is_reused_on_next_start(settings: Settings) -> None:
    first = await _start(settings)
    secret = first.app[SIGNING_KEY].secret
    await first.close()
    second = await _start(settings)
    try:
        assert second.app[SIGNING_KEY].secret == secret
    finally:
        await second.close()


def test_data_dir_is_private_when_the_database_lives_elsewhere(tmp_path: Path) -> None:
    settings = load_settings(
        {"KOTA_DATA_DIR": str(tmp_path / "keys"), "KOTA_DB": str(tmp_path / "db" / "k.sqlite3")}
    )
    SigningKey.load_or_create(settings.signing_key_path)
    assert _mode(settings.data_dir) == 0o700
    assert _mode(settings.signing_key_path) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604], ids=["group_readable", "world_readable"])
def test_readable_signing_key_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "signing.key"
    SigningKey.load_or_create(path)
    path.chmod(mode)
    with pytest.raises(PermissionError, match="chmod 600"):
        SigningKey.load_or_create(path)


async def test_server_refuses_to_start_with_a_readable_signing_key(settings: Settings) -> None:
    SigningKey.load_or_create(settings.signing_key_path)
    settings.signing_key_path.chmod(0o644)
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    with pytest.raises(PermissionError):
        await server.start_server()
    await server.close()


def test_signing_key_repr_hides_the_secret(tmp_path: Path) -> None:
    key = SigningKey.load_or_create(tmp_path / "signing.key")
    for shown in (repr(key), str(key), f"{key!r}", repr([key])):
        assert key.secret.hex() not in shown
        assert "hidden" in shown
    assert key.secret.hex() in (tmp_path / "signing.key").read_text()


def test_short_signing_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    path.write_text("abcd\n")
    path.chmod(0o600)
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey.load_or_create(path)
