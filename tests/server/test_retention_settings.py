"""KOTA_RETENTION_DAYS and KOTA_USAGE_LOG_RETENTION_DAYS: defaults, bad values refused at
start naming the variable, and the usage log never kept shorter than personal data."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError, load_settings
from tests.conftest import Accounts
from tests.server.conftest import run_kota


def test_defaults_are_two_years_and_ten_years() -> None:
    settings = load_settings({})
    assert (settings.retention_days, settings.usage_log_retention_days) == (730, 3650)


def test_zero_keeps_the_usage_log_for_ever() -> None:
    settings = load_settings({"KOTA_USAGE_LOG_RETENTION_DAYS": "0",
                              "KOTA_RETENTION_DAYS": "5000"})
    assert (settings.retention_days, settings.usage_log_retention_days) == (5000, 0)


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("KOTA_RETENTION_DAYS", "two years", "expected an integer, got 'two years'"),
    ("KOTA_RETENTION_DAYS", "1", "expected an integer from 2 to 36500, got 1"),
    ("KOTA_RETENTION_DAYS", "0", "expected an integer from 2 to 36500, got 0"),
    ("KOTA_RETENTION_DAYS", "-30", "expected an integer from 2 to 36500, got -30"),
    ("KOTA_USAGE_LOG_RETENTION_DAYS", "36501", "expected an integer from 0 to 36500, got 36501"),
    ("KOTA_USAGE_LOG_RETENTION_DAYS", "1.5", "expected an integer, got '1.5'"),
])
def test_bad_values_are_refused_naming_the_variable(variable: str, value: str,
                                                    says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert str(caught.value) == f"{variable}: {says}"


def test_a_usage_log_kept_shorter_than_personal_data_is_refused() -> None:
    with pytest.raises(SettingsError, match="KOTA_USAGE_LOG_RETENTION_DAYS: 365 is shorter "
                       r"than KOTA_RETENTION_DAYS \(730\)"):
        load_settings({"KOTA_USAGE_LOG_RETENTION_DAYS": "365"})


async def test_the_server_will_not_start_with_a_bad_value(settings: Settings,
                                                          accounts: Accounts) -> None:
    done = await run_kota(settings, "migrate", KOTA_RETENTION_DAYS="forever")
    assert done.returncode == 2
    assert done.stderr.strip() == "kota: KOTA_RETENTION_DAYS: expected an integer, got 'forever'"


def _environment(unit: str) -> dict[str, str]:
    text = (Path(__file__).parents[2] / "deploy" / "systemd" / unit).read_text()
    pairs = [line.removeprefix("Environment=").split("=", 1) for line in text.splitlines()
             if line.startswith("Environment=KOTA_")]
    return {name: value for name, value in pairs}


def test_the_purge_timer_uses_the_services_retention_settings() -> None:
    service, purge = _environment("kota.service"), _environment("kota-audit-purge.service")
    for name in ("KOTA_DATA_DIR", "KOTA_RETENTION_DAYS", "KOTA_USAGE_LOG_RETENTION_DAYS"):
        assert purge[name] == service[name], name
    settings = load_settings(purge)
    assert (settings.retention_days, settings.usage_log_retention_days) == (730, 3650)
    unit = (Path(__file__).parents[2] / "deploy" / "systemd" / "kota-audit-purge.service")
    assert "ExecStart=/opt/kota/.venv/bin/kota audit purge\n" in unit.read_text()
