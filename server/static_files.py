"""web/ read once at start, compressed once, and served from memory under a versioned URL.

The version is a hash of every file under web/, so a change to any module, style or
text gives new URLs without a hand-kept manifest. The pages get the versioned prefix
(and one ``<link rel="modulepreload">`` per module their entry imports) written in when
they are read; relative ES-module imports then stay under the same prefix by themselves.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Long enough that a browser never asks again for a file under the current version.
IMMUTABLE = "public, max-age=31536000, immutable"
# Pages, and files under an unversioned or earlier version's URL: ask each time (a 304
# when nothing changed).
REVALIDATE = "no-cache"

VERSION_CHARS = 12

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = frozenset(_TYPES)

# `import … from "./x.js"`, `export … from "../y.js"` and `import "./z.js"`; a dynamic
# import() is loaded when it is needed and not preloaded.
_IMPORT = re.compile(
    r'^\s*(?:import|export)\b(?:[^;"\']*?\bfrom\s*)?\s*"(\.{1,2}/[^"]+)"\s*;', re.M
)
_ENTRY = re.compile(r'^([ \t]*)<script type="module" src="/static/([^"]+)"></script>', re.M)
_PRELOAD = re.compile(r'^[ \t]*<link rel="modulepreload" href="[^"]*">[ \t]*\n', re.M)
_STATIC_URL = re.compile(r'\b(href|src)="/static/')


@dataclass(frozen=True)
class Asset:
    """One file, as it is and gzip-compressed (when that is smaller)."""

    content_type: str
    body: bytes
    gzipped: bytes | None
    etag: str  # of the content, quoted; the gzip form's has "-gz" added

    @classmethod
    def of(cls, name: str, body: bytes) -> Asset:
        suffix = PurePosixPath(name).suffix.lower()
        content_type = _TYPES.get(suffix) or (
            mimetypes.guess_type(name)[0] or "application/octet-stream"
        )
        gzipped = None
        if suffix in _COMPRESSIBLE:
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            gzipped = packed if len(packed) < len(body) else None
        digest = hashlib.sha256(body).hexdigest()[:20]
        return cls(content_type, body, gzipped, f'"{digest}"')

    def etags(self) -> tuple[str, ...]:
        return (self.etag, self.gzip_etag) if self.gzipped is not None else (self.etag,)

    @property
    def gzip_etag(self) -> str:
        return f'{self.etag[:-1]}-gz"'

    def representation(self, accept_encoding: str) -> tuple[bytes, str | None, str]:
        """The body, its Content-Encoding (None for as-is) and its ETag."""
        if self.gzipped is not None and accepts_gzip(accept_encoding):
            return self.gzipped, "gzip", self.gzip_etag
        return self.body, None, self.etag

    def matches(self, if_none_match: str) -> bool:
        """Whether the browser's copy (any of this file's forms) is still this file."""
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or any(etag in tags for etag in self.etags())


def accepts_gzip(accept_encoding: str) -> bool:
    """``Accept-Encoding`` names gzip (or ``*``) without ``q=0``."""
    verdict = None
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        coding = coding.strip()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        accepted = not re.fullmatch(r"\s*q\s*=\s*0(\.0*)?\s*", params)
        if coding != "*":
            return accepted
        verdict = accepted
    return bool(verdict)


@dataclass(frozen=True)
class StaticFiles:
    version: str
    assets: dict[str, Asset]  # by path under web/, "js/api.js"
    pages: dict[str, Asset]  # by file name, "join.html", with the versioned URLs in

    @property
    def prefix(self) -> str:
        return f"/static/v/{self.version}/"


_loaded: dict[tuple[Path, str], StaticFiles] = {}


def load(root: Path) -> StaticFiles:
    """Everything under ``root`` (no hidden files, no symlinks), compressed; the same
    content is compressed once per process, however many apps are made."""
    files = read_files(root)
    version = version_of(files)
    key = (root, version)
    if key not in _loaded:
        assets = {name: Asset.of(name, body) for name, body in files.items()}
        pages = {
            name: Asset.of(name, render_page(files, name, version).encode("utf-8"))
            for name in files
            if "/" not in name and name.endswith(".html")
        }
        _loaded.clear()  # only the newest web/ is ever served
        _loaded[key] = StaticFiles(version, assets, pages)
    return _loaded[key]


def read_files(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):  # symlinked folders are not entered
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for file_name in sorted(names):
            path = Path(folder) / file_name
            if file_name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def version_of(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        body = files[name]
        digest.update(f"{name}\0{len(body)}\0".encode())
        digest.update(body)
    return digest.hexdigest()[:VERSION_CHARS]


def imports_of(files: dict[str, bytes], entry: str) -> list[str]:
    """Every module ``entry`` imports, directly or not, as paths under web/, in the order
    they are first met (breadth first: what is needed first is asked for first)."""
    found: list[str] = []
    todo = [entry]
    while todo:
        module = todo.pop(0)
        source = files[module].decode("utf-8")
        for target in _IMPORT.findall(source):
            name = _resolve(module, target)
            if name not in found and name != entry:
                found.append(name)
                todo.append(name)
    return found


def _resolve(module: str, target: str) -> str:
    parts: list[str] = list(PurePosixPath(module).parent.parts)
    for part in PurePosixPath(target).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def render_page(files: dict[str, bytes], page: str, version: str) -> str:
    """The page with a modulepreload link for every module its entry needs, and every
    ``/static/`` URL under ``/static/v/<version>/``."""
    html = _PRELOAD.sub("", files[page].decode("utf-8"))
    entry = _ENTRY.search(html)
    if entry is not None:
        indent, module = entry.group(1), entry.group(2)
        links = "".join(
            f'{indent}<link rel="modulepreload" href="/static/{name}">\n'
            for name in imports_of(files, module)
            if name in files
        )
        html = html[: entry.start()] + links + html[entry.start():]
    return _STATIC_URL.sub(rf'\1="/static/v/{version}/', html)
