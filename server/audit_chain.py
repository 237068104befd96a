"""The usage log's keyed hash chain, and the walk that checks it.

Each row's hash is HMAC-SHA256, under a key kept outside the database, of the previous
row's hash, the row's own id and its fields. Without the key nobody can recompute a
hash, so an edited, forged, renumbered or reordered row shows; checkpoints kept outside
the database (``audit_checkpoints.py``) show rows cut off the end. Rows written before
Kota had a key (ids below ``keyed_from``) carry the first, plain SHA-256 chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from server.db import CorruptAuditRow, NewAuditEntry, db_time
from server.records import AuditRow

GENESIS = "0" * 64
KEY_BYTES = 32


class AuditKeyError(ValueError):
    """The usage-log key file cannot be used."""


def _canonical(entry: NewAuditEntry | AuditRow) -> str:
    return json.dumps(
        [
            db_time(entry.at),
            entry.actor_kind,
            entry.actor_id,
            entry.action,
            entry.appointment_id,
            entry.subject_id,
            entry.detail,
        ],
        separators=(",", ":"),
    )


def chain_hash(prev_hash: str, entry: NewAuditEntry | AuditRow) -> str:
    """The plain SHA-256 chain of rows written before the key existed."""
    return hashlib.sha256(f"{prev_hash}\n{_canonical(entry)}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditChain:
    """Hashes rows with the key; ids below ``keyed_from`` use the plain legacy chain."""

    key: bytes = field(repr=False)
    keyed_from: int = 1
    genesis: str = GENESIS

    def row_hash(self, prev_hash: str, row_id: int, entry: NewAuditEntry | AuditRow) -> str:
        if row_id < self.keyed_from:
            return chain_hash(prev_hash, entry)
        message = f"{prev_hash}\n{row_id}\n{_canonical(entry)}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def mac(self, text: str) -> str:
        """A MAC for text kept outside the database (a checkpoint line)."""
        return hmac.new(self.key, b"checkpoint\n" + text.encode(), hashlib.sha256).hexdigest()


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES).hex().encode()


def save_new_key(path: Path, key: bytes) -> None:
    """Write a new key file (0600, fsync'd); never replaces an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())


def read_key(path: Path) -> bytes:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        value = path.read_bytes().strip()
    except OSError as exc:
        raise AuditKeyError(f"cannot read the usage-log key {str(path)!r}: "
                            f"{exc.strerror or exc}") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise AuditKeyError(f"the usage-log key {str(path)!r} is readable by everyone "
                            f"(mode {mode:o}); chmod o-rw it")
    if len(value) < 16:
        raise AuditKeyError(f"the usage-log key {str(path)!r} is shorter than 16 characters")
    return value


@dataclass(frozen=True)
class ChainReport:
    rows_checked: int
    first_broken_id: int | None
    reason: str | None
    last_id: int = 0
    hashes_at: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.reason is None


async def verify_chain(
    rows: AsyncIterator[AuditRow], chain: AuditChain, *, remember: frozenset[int] = frozenset(),
    start: tuple[int, str] | None = None,
) -> ChainReport:
    """Walk the log from its first row and report the first row that does not fit.

    ``remember`` names row ids whose hashes the report keeps (to compare with checkpoints).
    ``start`` is (first id, its prev_hash) after a purge (``audit_purge.py``) gave up the
    rows before it; without it the chain starts at row 1 from the genesis hash.
    """
    expected_id, prev = start or (1, chain.genesis)
    count = 0
    kept: dict[int, str] = {}
    try:
        async for row in rows:
            count += 1
            if row.id != expected_id:
                missing = f"{expected_id}" if row.id == expected_id + 1 else \
                    f"{expected_id}-{row.id - 1}"
                reason = (f"row {missing} is missing" if row.id > expected_id
                          else "rows are out of order or renumbered")
                return ChainReport(count, row.id, reason, expected_id - 1, kept)
            if row.prev_hash != prev:
                return ChainReport(count, row.id, "does not follow the row before it",
                                   row.id - 1, kept)
            if not hmac.compare_digest(chain.row_hash(prev, row.id, row), row.hash):
                why = ("content does not match its hash" if row.id >= chain.keyed_from
                       else "content does not match its (pre-key) hash")
                return ChainReport(count, row.id, why, row.id - 1, kept)
            if row.id in remember:
                kept[row.id] = row.hash
            prev = row.hash
            expected_id = row.id + 1
    except CorruptAuditRow as exc:
        return ChainReport(count + 1, exc.row_id, "its time is not in the stored format",
                           expected_id - 1, kept)
    return ChainReport(count, None, None, expected_id - 1, kept)
