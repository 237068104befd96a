"""The pages as the server sends them, and the modules they load, checked without a
browser: every module a page needs is preloaded (so it arrives in one round trip, not
one per import level), every URL is under the current version, and nothing preloaded or
imported is missing. The preload links are written in by server/static_files.py from
the import graph; this test follows the graph its own way."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server import static_files
from server.handlers.pages import PAGES

WEB = Path(__file__).resolve().parents[1] / "web"
_IMPORT = re.compile(r'^import [^;]*? from "(\.[^"]+)";', re.M | re.S)
_ENTRY = re.compile(r'<script type="module" src="/static/v/\w+/([^"]+)"></script>')
_PRELOAD = re.compile(r'<link rel="modulepreload" href="/static/v/\w+/([^"]+)">')


def imports_of(entry: str) -> set[str]:
    """Every module ``entry`` imports, directly or not, as paths under web/."""
    found: set[str] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        source = (WEB / module).read_text("utf-8")
        for target in _IMPORT.findall(source):
            path = (WEB / module).parent.joinpath(target).resolve().relative_to(WEB)
            name = path.as_posix()
            assert (WEB / name).is_file(), f"{module} imports a missing {name}"
            if name not in found:
                found.add(name)
                todo.append(name)
    return found


@pytest.mark.parametrize("page", sorted(set(PAGES.values())))
def test_page_preloads_exactly_the_modules_it_imports(page: str) -> None:
    served = static_files.load(WEB)
    html = served.pages[page].body.decode("utf-8")
    for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        assert url.startswith(served.prefix), f"{page}: {url} is not versioned"
        assert url.removeprefix(served.prefix) in served.assets, f"{page}: no {url}"
    entries = _ENTRY.findall(html)
    assert len(entries) == 1, f"{page} should load one entry module, found {entries}"
    preloaded = set(_PRELOAD.findall(html))
    for name in preloaded:
        assert (WEB / name).is_file(), f"{page} preloads a missing {name}"
    assert preloaded == imports_of(entries[0]), f"{page}: modulepreload list is out of date"
