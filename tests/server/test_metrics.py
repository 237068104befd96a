"""Metrics: each app its own registry, the settings of the metrics port, and the port's
life with the server (docs/metrics.md)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from server.app_keys import METRICS
from server.connection_verdict import Verdict
from server.metrics import Metrics
from server.settings import Settings, SettingsError, load_settings
from tests.conftest import free_port


def _sample(text: bytes, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"no sample {name} {labels}")


async def test_two_apps_in_one_process_count_apart_and_not_in_the_global_registry(
        tmp_path: Path) -> None:
    def clock() -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)

    first, second = Metrics(clock), Metrics(clock)
    first.admitted()
    first.relayed("signal")
    first.relayed("not-a-type")  # an unknown type is not a new label: nothing counted
    first.connection_tested(Verdict.AUDIO_ONLY)
    first.refused("bad_message")
    one, two = await first.scrape(), await second.scrape()
    assert _sample(one, "kota_admissions_total") == 1
    assert _sample(two, "kota_admissions_total") == 0
    assert _sample(one, "kota_relayed_messages_total", type="signal") == 1
    assert _sample(one, "kota_connection_tests_total", verdict="audio_only") == 1
    assert _sample(two, "kota_connection_tests_total", verdict="audio_only") == 0
    assert _sample(one, "kota_errors_total", code="bad_message") == 1
    assert b"not-a-type" not in one
    assert REGISTRY.get_sample_value("kota_admissions_total") is None
    apps = [create_app(load_settings({"KOTA_DATA_DIR": str(tmp_path / n)})) for n in "ab"]
    assert apps[0][METRICS].registry is not apps[1][METRICS].registry


def test_the_metrics_port_is_off_unless_set() -> None:
    settings = load_settings({})
    assert settings.metrics_port is None
    assert settings.metrics_host == "127.0.0.1"
    chosen = load_settings({"KOTA_METRICS_PORT": "9464", "KOTA_METRICS_HOST": "10.0.0.5"})
    assert (chosen.metrics_port, chosen.metrics_host) == (9464, "10.0.0.5")


@pytest.mark.parametrize(("variable", "value"), [
    ("KOTA_METRICS_PORT", "abc"), ("KOTA_METRICS_PORT", "0"), ("KOTA_METRICS_PORT", "70000"),
    ("KOTA_METRICS_PORT", "8080"),  # the main port's default
    ("KOTA_METRICS_HOST", "local host"),
])
def test_bad_metrics_settings_stop_the_start_naming_the_variable(variable: str,
                                                                 value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    assert str(caught.value).startswith(f"{variable}: ")


async def _answers(port: int) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/metrics") as resp:
            return resp.status == 200
    except aiohttp.ClientConnectionError:
        return False


async def test_the_metrics_port_opens_with_the_server_and_closes_with_it(
        settings: Settings) -> None:
    port = free_port()
    off = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await off.start_server()
    try:
        assert not await _answers(port)  # not set: nothing listens
    finally:
        await off.close()
    on = TestServer(create_app(dataclasses.replace(settings, metrics_port=port)),
                    host="127.0.0.1", port=settings.port)
    await on.start_server()
    try:
        assert await _answers(port)
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{port}/") as resp:
            assert resp.status == 404  # the metrics port serves /metrics only
    finally:
        await on.close()
    assert not await _answers(port)
