"""Purging the usage log's oldest rows, and verifying the chain from where it now starts.

A purge gives up a whole prefix of rows (ids below ``first_id``) older than
KOTA_USAGE_LOG_RETENTION_DAYS. In one transaction it appends an ``audit.purged`` row,
stores a purge record — the first kept id and the hash the chain carries into it,
signed with the usage-log key — and deletes the prefix (the schema lets only a recorded
prefix go). ``kota audit verify`` then walks the chain from the newest
signed record instead of from row 1 (docs/audit.md, "Purging old rows").
"""

from __future__ import annotations

import hmac
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from server.audit import SYSTEM, Action, AuditLog
from server.audit_chain import AuditChain, verify_chain
from server.audit_checkpoints import CheckpointLog
from server.db import AuditPurge, Database, Reads, StorageUnavailable, db_time

# Rows per purge transaction: a first purge of years of rows runs as several purges,
# each whole, so the server's writes wait at most one batch.
PURGE_BATCH = 20_000
# Tries of the write lock per batch, each up to SQLite's busy timeout (5 s): another
# purge's batch or the server's writes hold it seconds at most; a minute is something else.
LOCK_TRIES = 12
_SQLITE_BUSY = 5
T = TypeVar("T")


def purge_text(at: datetime, first_id: int, prev_hash: str, removed: int) -> str:
    """The signed part of a purge record (never the same text as a checkpoint's)."""
    return json.dumps(["purge", db_time(at), first_id, prev_hash, removed],
                      separators=(",", ":"))


def signed_purge(chain: AuditChain, at: datetime, first_id: int, prev_hash: str,
                 removed: int) -> AuditPurge:
    return AuditPurge(0, at, first_id, prev_hash, removed,
                      chain.mac(purge_text(at, first_id, prev_hash, removed)))


def chain_start(purges: list[AuditPurge], chain: AuditChain) -> tuple[AuditPurge | None,
                                                                       str | None]:
    """The purge the chain starts after (the highest first id), or a record whose
    signature does not hold."""
    for purge in purges:
        text = purge_text(purge.at, purge.first_id, purge.prev_hash, purge.removed)
        if not hmac.compare_digest(purge.mac, chain.mac(text)):
            return None, f"purge record {purge.id} is not signed with this key"
    return max(purges, key=lambda p: p.first_id, default=None), None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str


async def verify_log(db: Database, key: bytes, checkpoint_path: Path) -> Verdict:
    """Walk the chain with the key from its start (row 1, or the newest purge), then
    compare its end with the newest checkpoint.

    The checkpoint is read first, then the purge records and the rows from one snapshot
    of the file: a purge (another ``kota audit purge``) committing meanwhile must not
    look like rows cut out of the log."""
    latest, problem = CheckpointLog(checkpoint_path, AuditChain(key)).latest()
    chain = AuditChain(key, keyed_from=latest.keyed_from if latest else 1)
    async with db.snapshot() as snapshot:
        purge, purge_problem = chain_start(await snapshot.list_audit_purges(), chain)
        if purge_problem is not None:
            return Verdict(False, f"usage log BROKEN: {purge_problem}")
        report = await verify_chain(
            snapshot.iter_audit_rows(), chain,
            remember=frozenset({latest.last_id} if latest else ()),
            start=(purge.first_id, purge.prev_hash) if purge else None)
    if not report.ok:
        return Verdict(False, f"usage log BROKEN at row {report.first_broken_id}: "
                              f"{report.reason}")
    if problem is not None:
        return Verdict(False, f"usage log BROKEN: {problem}")
    since = "" if purge is None else \
        f" from row {purge.first_id} (the rows before it purged on {db_time(purge.at)})"
    if latest is None:
        return Verdict(True, f"usage log intact: {report.rows_checked} rows{since} (no "
                             "checkpoint yet, so rows cut off the end could not be checked)")
    when = db_time(latest.at)
    if report.last_id < latest.last_id:
        first = report.last_id + 1
        missing = f"row {first} is" if first == latest.last_id else \
            f"rows {first}-{latest.last_id} are"
        return Verdict(False, f"usage log BROKEN: {missing} missing (the checkpoint of "
                              f"{when} had {latest.rows} rows)")
    purged_before = purge.first_id if purge else 1
    if (latest.last_id >= purged_before
            and report.hashes_at.get(latest.last_id) != latest.last_hash):
        return Verdict(False, f"usage log BROKEN at row {latest.last_id}: does not match "
                              f"the checkpoint of {when}")
    return Verdict(True, f"usage log intact: {report.rows_checked} rows{since}; the "
                         f"checkpoint of {when} ({latest.rows} rows) matches")


@dataclass(frozen=True)
class PurgePlan:
    first_id: int  # the first row kept
    removed: int  # rows before it


async def plan_purge(db: Reads, cutoff: datetime, batch: int | None) -> PurgePlan | None:
    """The longest prefix of rows all written before ``cutoff`` (at most ``batch``)."""
    lowest = await db.first_audit_id()
    head = await db.get_audit_head()
    if lowest is None or head is None:
        return None
    keep = await db.first_audit_row_at_or_after(cutoff, lowest)
    first_id = head.last_id + 1 if keep is None else keep
    if batch is not None:
        first_id = min(first_id, lowest + batch)
    removed = await db.count_audit_rows_before(first_id)
    return PurgePlan(first_id, removed) if removed else None


async def purge_once(db: Database, log: AuditLog, chain: AuditChain, now: datetime,
                     cutoff: datetime, batch: int = PURGE_BATCH) -> int:
    """One purge of at most ``batch`` rows, whole or not at all; returns rows removed."""
    async with db.transaction() as tx:
        plan = await plan_purge(tx, cutoff, batch)
        if plan is None:
            return 0
        # Appended before the delete, so that even a purge of every row leaves the row
        # the chain continues from (ids and hashes go on; the first kept id may be its own).
        await log.record(SYSTEM, Action.AUDIT_PURGED,
                         detail={"rows": plan.removed, "before": plan.first_id}, tx=tx)
        prev_hash = await tx.audit_chain_link(plan.first_id)
        assert prev_hash is not None
        removed = await tx.purge_audit_prefix(
            signed_purge(chain, now, plan.first_id, prev_hash, plan.removed))
        assert removed == plan.removed
        return removed


class PurgeBusy(Exception):
    """Another process held the database's write lock through every try; the batches
    before committed whole (``removed`` rows)."""

    def __init__(self, removed: int) -> None:
        super().__init__("another process kept the database locked")
        self.removed = removed


def _locked(exc: StorageUnavailable) -> bool:
    cause = exc.__cause__
    return isinstance(cause, sqlite3.OperationalError) and \
        getattr(cause, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY


async def retry_locked(attempt: Callable[[], Awaitable[T]], waiting: Callable[[], None],
                       tries: int = LOCK_TRIES) -> T:
    """``attempt`` again while it finds the write lock held (another purge at once, a
    long write), calling ``waiting`` before each new try; after ``tries``:
    ``PurgeBusy``. Only for work whose transactions are whole and may run again."""
    for _ in range(tries - 1):
        try:
            return await attempt()
        except StorageUnavailable as exc:
            if not _locked(exc):
                raise
            waiting()
    try:
        return await attempt()
    except StorageUnavailable as exc:
        if _locked(exc):
            raise PurgeBusy(0) from exc
        raise


async def purge_batches(db: Database, log: AuditLog, chain: AuditChain,
                        clock: Callable[[], datetime], cutoff: datetime, batch: int,
                        waiting: Callable[[], None], tries: int = LOCK_TRIES) -> int:
    """Purge batch after batch until nothing is older than ``cutoff``; returns the rows
    removed. Each batch waits for the write lock as ``retry_locked`` does and plans
    from the committed state, so two purges at once never purge a row twice."""
    total = 0
    while True:
        try:
            removed = await retry_locked(
                lambda: purge_once(db, log, chain, clock(), cutoff, batch), waiting, tries)
        except PurgeBusy as busy:
            raise PurgeBusy(total) from busy.__cause__
        if not removed:
            return total
        total += removed
