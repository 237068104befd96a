"""deploy/grafana/kota-dashboard.json: a Grafana dashboard whose every query names only
metrics a real Kota exports (compared with a real scrape of the metrics port)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from server.app import create_app
from server.settings import Settings
from tests.conftest import free_port

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "kota-dashboard.json"
# PromQL words that are not metric names.
PROMQL = {"sum", "max", "min", "avg", "count", "by", "without", "rate", "increase",
          "histogram_quantile", "on", "ignoring", "group_left", "label_values"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
            "gauge": ("",)}


def queries(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            found.append(variable["query"]["query"])
    return found


def metric_names(expr: str) -> set[str]:
    """Identifiers outside label matchers, ranges, grouping and strings: metric names."""
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(by|without)\s*\([^)]*\)", "", bare)
    bare = re.sub(r",\s*[a-z_]+\)", ")", bare)  # label_values(metric, label)
    words = set(re.findall(r"\b[A-Za-z_:][A-Za-z0-9_:]*\b", bare))
    return words - PROMQL


async def scraped_names(settings: Settings) -> set[str]:
    server = TestServer(create_app(settings), host="127.0.0.1", port=settings.port)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session, session.get(
                f"http://127.0.0.1:{settings.metrics_port}/metrics") as resp:
            text = await resp.text()
    finally:
        await server.close()
    return {family.name + suffix for family in text_string_to_metric_families(text)
            for suffix in SUFFIXES[family.type]}


async def test_every_dashboard_query_names_only_metrics_kota_exports(
        settings: Settings) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = await scraped_names(dataclasses.replace(settings, metrics_port=free_port()))
    used = set().union(*(metric_names(expr) for expr in queries(dashboard)))
    assert used, "no metric found in the dashboard's queries"
    assert used <= exported, f"not exported by Kota: {sorted(used - exported)}"
    # Every metric Kota exports has a panel (a counter's ``_created`` time needs none).
    assert {name.removesuffix("_sum").removesuffix("_count") for name in exported
            if not name.endswith("_created")} - used <= {"kota_db_seconds"}


def test_the_dashboard_is_a_grafana_dashboard_on_a_chosen_prometheus() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"] and dashboard["title"] == "Kota"
    [source] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert source["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": f"${{{source['name']}}}"}
        assert panel["targets"] and all(t["expr"] for t in panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
    assert any("histogram_quantile(0.95" in q for q in queries(dashboard))
    assert any("histogram_quantile(0.5" in q for q in queries(dashboard))
