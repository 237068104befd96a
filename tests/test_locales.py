"""Every visible string of the web client comes from web/locales/{fi,sv,en,se}.json.

These checks fail when a key is missing in any language, when a placeholder differs
between languages, when the code asks for a key no file has, when a page carries text
outside the locale files, or when the server gains an error code the client cannot
translate (the client shows errors by code, docs/protocol.md and docs/api.md).
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from server.records import AppointmentKind, ParticipantRole
from signalling.errors import ERROR_CODES
from signalling.line_messages import LINE_ERROR_CODES

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
LOCALES = ("fi", "sv", "en", "se")
DEFAULT = "fi"

# Keys the code builds at run time (`kind.${a.kind}`), with every value it can build.
CONNECTION_STATES = ("connected", "connecting", "reconnecting", "lost", "unreachable")
DEVICE_PROBLEMS = (
    "denied", "not_found", "no_devices", "no_camera", "in_use", "camera_in_use", "failed",
    "insecure", "unsupported",
)
LINK_PROBLEMS = ("revoked", "expired", "cancelled", "invalid", "no_token", "network")
END_REASONS = (
    "left", "ended", "denied", "revoked", "cancelled", "removed", "replaced", "connection_lost",
    "refused",
)
LINK_STATES = ("active", "revoked", "none")
# Codes the client itself reports (no server involved).
CLIENT_ERROR_CODES = ("generic", "network")

_SERVER_ERROR = re.compile(
    r"\b(?:BadRequest|Unauthorized|Forbidden|NotFound|Conflict|Gone|TooLarge|Unprocessable"
    r"|TooManyRequests|Unavailable|InsufficientStorage|LinkRefused|TokenError|ApiError)\(\s*\"([a-z_]+)\"",
    re.S,
)
_CALLED_KEY = re.compile(
    r"""(?:\bt|setText\([^,()]+,|setTitle)\(\s*["']([A-Za-z0-9_.]+)["']"""
    r"""|\b(?:i18n|[a-z]+Key)\s*:\s*["']([A-Za-z0-9_.]+)["']"""
)
_KEY_LITERAL = re.compile(r"""["']([a-z_]+(?:\.[a-z0-9_]+)+)["']""")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load(code: str) -> dict[str, str]:
    texts: dict[str, str] = json.loads((WEB / "locales" / f"{code}.json").read_text("utf-8"))
    return texts


def js_files() -> list[Path]:
    return sorted((WEB / "js").rglob("*.js"))


def html_files() -> list[Path]:
    return sorted(WEB.glob("*.html"))


def server_error_codes() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "server").rglob("*.py"):
        codes.update(_SERVER_ERROR.findall(path.read_text("utf-8")))
    return codes


def dynamic_keys() -> set[str]:
    keys = {f"kind.{k.value}" for k in AppointmentKind}
    keys |= {f"role.{r.value}" for r in ParticipantRole} | {"role.staff", "role.other"}
    keys |= {f"connection.{s}" for s in CONNECTION_STATES}
    keys |= {f"link.state.{s}" for s in LINK_STATES}
    for problem in DEVICE_PROBLEMS:
        keys |= {f"devices.problem.{problem}.title", f"devices.problem.{problem}.text"}
    for problem in LINK_PROBLEMS:
        keys |= {f"link.{problem}.title", f"link.{problem}.text"}
    for reason in END_REASONS:
        keys |= {f"end.{reason}.title", f"end.{reason}.text"}
    codes = (set(ERROR_CODES) | set(LINE_ERROR_CODES) | server_error_codes()
             | set(CLIENT_ERROR_CODES))
    keys |= {f"error.{code}" for code in codes}
    return keys


def keys_named_in_code() -> dict[str, str]:
    """Every key the JS or HTML names literally, with the file that names it."""
    found: dict[str, str] = {}
    namespaces = {key.split(".", 1)[0] for key in load(DEFAULT)}
    for path in js_files():
        source = path.read_text("utf-8")
        for match in _CALLED_KEY.finditer(source):
            found.setdefault(match.group(1) or match.group(2), path.name)
        for key in _KEY_LITERAL.findall(source):
            if key.split(".", 1)[0] in namespaces:
                found.setdefault(key, path.name)
    for path in html_files():
        for key in re.findall(r'data-i18n="([^"]+)"', path.read_text("utf-8")):
            found.setdefault(key, path.name)
    return found


@pytest.mark.parametrize("code", LOCALES)
def test_every_locale_has_every_key(code: str) -> None:
    default, other = load(DEFAULT), load(code)
    missing = sorted(set(default) - set(other))
    extra = sorted(set(other) - set(default))
    assert not missing, f"{code}.json lacks {missing}"
    assert not extra, f"{code}.json has keys {DEFAULT}.json lacks: {extra}"


@pytest.mark.parametrize("code", LOCALES)
def test_no_text_is_empty(code: str) -> None:
    empty = [key for key, text in load(code).items() if not isinstance(text, str) or not text]
    assert not empty, f"{code}.json: empty texts {empty}"


@pytest.mark.parametrize("code", [c for c in LOCALES if c != DEFAULT])
def test_placeholders_match_the_default(code: str) -> None:
    default, other = load(DEFAULT), load(code)
    wrong = {
        key: (sorted(_PLACEHOLDER.findall(text)), sorted(_PLACEHOLDER.findall(other[key])))
        for key, text in default.items()
        if key in other
        and sorted(_PLACEHOLDER.findall(text)) != sorted(_PLACEHOLDER.findall(other[key]))
    }
    assert not wrong, f"{code}.json placeholders differ from {DEFAULT}.json: {wrong}"


def test_every_key_the_code_uses_exists() -> None:
    texts = load(DEFAULT)
    missing = {key: where for key, where in keys_named_in_code().items() if key not in texts}
    assert not missing, f"keys used in web/ but missing in the locales: {missing}"


def test_every_key_the_code_builds_exists() -> None:
    """Error codes from the server and the call socket, kinds, roles, states, reasons."""
    texts = load(DEFAULT)
    missing = sorted(dynamic_keys() - set(texts))
    assert not missing, f"keys built at run time but missing in the locales: {missing}"


def test_every_key_is_used() -> None:
    """A text nobody shows is dead weight for the translators."""
    used = set(keys_named_in_code()) | dynamic_keys()
    unused = sorted(set(load(DEFAULT)) - used)
    assert not unused, f"keys no code uses: {unused}"


class _VisibleText(HTMLParser):
    """Collects text that a page would show without going through the locales."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.loose: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta", "link", "br", "img", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        # <title> keeps the product name as a fallback until the locale loads.
        if data.strip() and "title" not in self.stack:
            self.loose.append(data.strip())


@pytest.mark.parametrize("page", [p.name for p in html_files()])
def test_pages_carry_no_untranslated_text(page: str) -> None:
    parser = _VisibleText()
    parser.feed((WEB / page).read_text("utf-8"))
    assert not parser.loose, f"{page} shows text outside the locales: {parser.loose}"


def test_no_inline_script_or_style_in_pages() -> None:
    """The CSP allows neither; a page that needs them would break silently."""
    for path in html_files():
        html = path.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"inline script in {path.name}"
        assert "<style" not in html and " style=" not in html, f"inline style in {path.name}"
        assert not re.search(r"\bon[a-z]+=", html), f"inline handler in {path.name}"
