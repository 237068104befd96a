"""The docs must say what the code does: every setting, route and usage-log action."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from server.app import create_app
from server.audit import Action
from server.settings import Settings, load_settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


# Fields whose variable is not simply KOTA_<FIELD>.
_RENAMED = {"db_path": "KOTA_DB"}


def _env_name(field: str) -> str:
    return _RENAMED.get(field, f"KOTA_{field.upper()}")


def test_every_setting_has_a_heading_in_config_doc() -> None:
    text = (DOCS / "config.md").read_text()
    headings = set(re.findall(r"^## (KOTA_[A-Z_]+)", text, flags=re.MULTILINE))
    fields = {_env_name(f.name) for f in dataclasses.fields(Settings)}
    missing = {name for name in fields if name not in headings}
    assert not missing, f"undocumented settings: {sorted(missing)}"


def test_every_config_heading_is_read_by_settings() -> None:
    source = (Path(__file__).resolve().parents[1] / "server" / "settings.py").read_text()
    text = (DOCS / "config.md").read_text()
    for name in re.findall(r"^## (KOTA_[A-Z_]+)", text, flags=re.MULTILINE):
        assert f'"{name}"' in source, f"docs/config.md documents {name}, which nothing reads"


def test_every_api_route_is_documented(tmp_path: Path) -> None:
    app = create_app(load_settings({"KOTA_DATA_DIR": str(tmp_path)}))
    text = (DOCS / "api.md").read_text()
    for route in app.router.routes():
        info = route.resource.canonical if route.resource else ""
        if not info.startswith("/api/") or route.method == "HEAD":
            continue
        assert f"### {route.method} {info}" in text, f"{route.method} {info} is not in docs/api.md"


def test_every_usage_log_action_is_documented() -> None:
    text = (DOCS / "audit.md").read_text()
    for action in Action:
        assert f"`{action.value}`" in text, f"{action.value} is not in docs/audit.md"
