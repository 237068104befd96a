"""Kota's database for the benchmark: one appointment per pair, open for joining now.

Each pair gets its own professional (a host may not have two appointments at once), a
staff session made directly (so the benchmark pays no argon2 per client) and one
guardian with a join link issued by JoinLinks, exactly as scheduling issues it. After a
run, ``count_usage_rows`` reads back what the usage log recorded.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.audit import Actor, AuditLog
from server.audit_checkpoints import open_chain
from server.db import Database, NewParticipant
from server.join_links import JoinLinks
from server.join_tokens import SigningKey, encode_token
from server.passwords import hash_password
from server.records import AppointmentKind, ParticipantRole, StaffRole
from server.settings import Settings
from server.staff_auth import hash_session_id

APPOINTMENT_LENGTH = timedelta(hours=3)
# Long enough for any run; the session middleware renews nothing on a WebSocket.
SESSION_LENGTH = timedelta(hours=12)


@dataclass(frozen=True)
class SeededPair:
    appointment_id: int
    staff_cookie: str
    family_token: str


async def seed_pairs(settings: Settings, pairs: int, now: datetime) -> list[SeededPair]:
    """Create ``pairs`` appointments that open for joining at ``now``."""
    db = Database(settings.db_path)
    await db.open()
    try:
        await db.migrate()
        key = SigningKey.load_or_create(settings.signing_key_path)
        chain, _ = await open_chain(db, settings)
        audit = AuditLog(db, lambda: now, chain)
        links = JoinLinks(db, audit, key, settings.public_url, settings.join_grace)
        # One real hash shared by every bench account: nobody signs in with it.
        password_hash = hash_password(secrets.token_urlsafe(16))
        return [await _seed_pair(db, links, key, password_hash, i, now) for i in range(pairs)]
    finally:
        await db.close()


async def _seed_pair(
    db: Database, links: JoinLinks, key: SigningKey, password_hash: str, index: int,
    now: datetime,
) -> SeededPair:
    cookie = secrets.token_urlsafe(32)
    starts_at = now.replace(microsecond=0)
    async with db.transaction() as tx:
        staff = await tx.create_staff(
            f"bench{index:05d}", f"Bench Worker {index}", StaffRole.PROFESSIONAL,
            password_hash, now,
        )
        await tx.create_session(
            hash_session_id(cookie), staff.id, secrets.token_urlsafe(32), now,
            now + SESSION_LENGTH,
        )
        appointment_id, (participant_id,) = await tx.create_appointment(
            starts_at=starts_at,
            ends_at=starts_at + APPOINTMENT_LENGTH,
            kind=AppointmentKind.FAMILY_COUNSELLING,
            host_id=staff.id,
            staff_ids=(),
            participants=[
                NewParticipant(f"Bench Family {index}", ParticipantRole.GUARDIAN, None)
            ],
            created_by=staff.id,
            now=now,
        )
        link = await links.issue(
            tx, Actor.staff(staff.id), appointment_id, starts_at + APPOINTMENT_LENGTH,
            participant_id, now,
        )
    return SeededPair(appointment_id, cookie, encode_token(key, link))


async def count_usage_rows(settings: Settings, action: str, since: datetime) -> int:
    """Usage-log rows with ``action`` written at or after ``since`` (the server stopped)."""
    db = Database(settings.db_path)
    await db.open()
    try:
        return sum([row.action == action async for row in db.iter_audit_rows(start=since)])
    finally:
        await db.close()


@dataclass(frozen=True)
class SeededCall:
    appointment_id: int
    staff_cookie: str
    guest_tokens: tuple[str, ...]


async def seed_calls(settings: Settings, calls: int, guests: int,
                     now: datetime) -> list[SeededCall]:
    """``calls`` appointments open for joining at ``now``, each with its own professional
    (signed in) and ``guests`` guardians with join links."""
    db = Database(settings.db_path)
    await db.open()
    try:
        await db.migrate()
        key = SigningKey.load_or_create(settings.signing_key_path)
        chain, _ = await open_chain(db, settings)
        audit = AuditLog(db, lambda: now, chain)
        links = JoinLinks(db, audit, key, settings.public_url, settings.join_grace)
        password_hash = hash_password(secrets.token_urlsafe(16))
        made = []
        for index in range(calls):
            cookie = secrets.token_urlsafe(32)
            starts_at = now.replace(microsecond=0)
            ends_at = starts_at + APPOINTMENT_LENGTH
            async with db.transaction() as tx:
                staff = await tx.create_staff(
                    f"call{index:04d}", f"Call Worker {index}", StaffRole.PROFESSIONAL,
                    password_hash, now,
                )
                await tx.create_session(
                    hash_session_id(cookie), staff.id, secrets.token_urlsafe(32), now,
                    now + SESSION_LENGTH,
                )
                appointment_id, participant_ids = await tx.create_appointment(
                    starts_at=starts_at, ends_at=ends_at,
                    kind=AppointmentKind.FAMILY_COUNSELLING, host_id=staff.id, staff_ids=(),
                    participants=[
                        NewParticipant(f"Guest {g + 1}", ParticipantRole.GUARDIAN, None)
                        for g in range(guests)
                    ],
                    created_by=staff.id, now=now,
                )
                tokens = []
                for participant_id in participant_ids:
                    link = await links.issue(tx, Actor.staff(staff.id), appointment_id,
                                             ends_at, participant_id, now)
                    tokens.append(encode_token(key, link))
            made.append(SeededCall(appointment_id, cookie, tuple(tokens)))
        return made
    finally:
        await db.close()
