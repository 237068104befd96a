"""Checkpoints of the usage log's head, kept outside the database.

A checkpoint is one JSON line (rows, last id, last hash, where keying began) with a MAC
under the usage-log key, appended to a file of its own and, where configured, sent to
syslog/journald, which can forward it off the host. Deleting the newest rows from the
database then no longer goes unnoticed: ``kota audit verify`` compares the chain with
the latest checkpoint (docs/audit.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import logging.handlers
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from server.audit_chain import AuditChain, new_key, read_key, save_new_key
from server.db import Database, db_time, parse_db_time
from server.settings import Settings

logger = logging.getLogger(__name__)

_FIELDS = ("at", "rows", "last_id", "last_hash", "keyed_from")


@dataclass(frozen=True)
class Checkpoint:
    at: datetime
    rows: int
    last_id: int
    last_hash: str
    keyed_from: int

    def text(self) -> str:
        """The signed part of the line, in a fixed order."""
        return json.dumps([db_time(self.at), self.rows, self.last_id, self.last_hash,
                           self.keyed_from], separators=(",", ":"))


class CheckpointLog:
    """The append-only checkpoint file (0600, fsync'd) and the optional syslog copy."""

    def __init__(self, path: Path, chain: AuditChain, syslog_address: str = "") -> None:
        self.path = path
        self._chain = chain
        self._syslog_address = syslog_address

    def line(self, checkpoint: Checkpoint) -> str:
        body = dict(zip(_FIELDS, json.loads(checkpoint.text()), strict=True))
        return json.dumps({**body, "mac": self._chain.mac(checkpoint.text())},
                          separators=(",", ":"))

    def write(self, checkpoint: Checkpoint) -> None:
        line = self.line(checkpoint)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
        if self._syslog_address:
            self._send_syslog(line)

    def _send_syslog(self, line: str) -> None:
        """One datagram to the syslog socket (journald's /dev/log takes the same)."""
        facility = logging.handlers.SysLogHandler.LOG_AUTHPRIV
        priority = facility * 8 + logging.handlers.SysLogHandler.LOG_NOTICE
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(f"<{priority}>kota-audit: {line}".encode(), self._syslog_address)
        except OSError as exc:
            logger.warning("audit.checkpoint_syslog_failed", extra={"error": exc.strerror})

    def latest(self) -> tuple[Checkpoint | None, str | None]:
        """The newest checkpoint, and a problem if the file was tampered with."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None, None
        # A line cut short by a crash mid-write has no newline yet: it never counted.
        lines = [line for line in text.split("\n")[:-1] if line.strip()]
        if not lines:
            return None, None
        try:
            data = json.loads(lines[-1])
            checkpoint = Checkpoint(parse_db_time(data["at"]), int(data["rows"]),
                                    int(data["last_id"]), str(data["last_hash"]),
                                    int(data["keyed_from"]))
            mac = str(data["mac"])
        except (ValueError, KeyError, TypeError):
            return None, "the checkpoint file's last line cannot be read"
        if not hmac.compare_digest(mac, self._chain.mac(checkpoint.text())):
            return None, "the checkpoint file's last line is not signed with this key"
        return checkpoint, None


async def open_chain(db: Database, settings: Settings) -> tuple[AuditChain, CheckpointLog]:
    """The keyed chain for ``db``. A new key starts keying at the next row; the first
    checkpoint, saying so, is written before the key file, so no key exists without it.
    Rows before it keep their plain chain."""
    path = settings.audit_key_path
    if path.exists():
        key = read_key(path)
        probe = CheckpointLog(settings.audit_checkpoint_path, AuditChain(key))
        latest, _ = probe.latest()
        chain = AuditChain(key, keyed_from=latest.keyed_from if latest else 1)
        return chain, CheckpointLog(settings.audit_checkpoint_path, chain, settings.audit_syslog)
    head = await db.get_audit_head()
    chain = AuditChain(new_key(), keyed_from=head.last_id + 1 if head else 1)
    log = CheckpointLog(settings.audit_checkpoint_path, chain, settings.audit_syslog)
    rows = head.last_id if head else 0
    log.write(Checkpoint(datetime.now(UTC), rows, rows, head.hash if head else chain.genesis,
                         chain.keyed_from))
    save_new_key(path, chain.key)
    logger.info("audit.key_created", extra={"keyed_from": chain.keyed_from})
    return chain, log


class Checkpointer:
    """Writes a checkpoint every ``interval`` seconds when the head moved, and at stop."""

    def __init__(self, db: Database, log: CheckpointLog, chain: AuditChain,
                 clock: Callable[[], datetime], interval: float) -> None:
        self._db = db
        self._log = log
        self._chain = chain
        self._clock = clock
        self._interval = interval
        self._written: tuple[int, str] | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def checkpoint(self) -> None:
        head = await self._db.get_audit_head()
        if head is None or (head.last_id, head.hash) == self._written:
            return
        await asyncio.to_thread(self._log.write, Checkpoint(
            self._clock(), head.last_id, head.last_id, head.hash, self._chain.keyed_from))
        self._written = (head.last_id, head.hash)

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
            try:
                await self.checkpoint()
            except Exception:
                logger.exception("audit.checkpoint_failed")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-checkpoints")

    async def stop(self) -> None:
        """The last checkpoint, once the usage-log writer has written everything."""
        if self._task is not None:
            self._stop.set()
            await self._task
            self._task = None
        try:
            await self.checkpoint()
        except Exception:
            logger.exception("audit.checkpoint_failed")
