"""LineEnrolments: a family's own long-lived link to its personal line (a client tablet
opens it straight into the line), made, listed and revoked by the line's staff.

The link carries a 32-byte random secret in its fragment (``/line/my#e=<secret>``), so
it never reaches a server log; the secret is shown once, when the family is enrolled,
and only its SHA-256 is stored. Revoking stops the link at once (the line hub closes a
socket it still has open).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Annotated

import msgspec

from server.audit import Action, Actor, AuditLog
from server.db import Database, Reads
from server.errors import Conflict, Forbidden, NotFound, Unprocessable
from server.line_catalog import StaffIds, line_or_404
from server.records import Enrolment, Language, Line, LineKind, Staff

SECRET_BYTES = 32
FamilyName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


class EnrolmentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    family_name: FamilyName
    language: Language = Language.FI
    staff_ids: StaffIds = msgspec.field(default_factory=list)


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def enrolment_link(public_url: str, secret: str) -> str:
    return f"{public_url.rstrip('/')}/line/my#e={secret}"


def check_serves(staff: Staff, line: Line) -> None:
    """Only the line's own professionals (and admins, who set lines up) may see its
    families and call-backs."""
    if not staff.is_admin and staff.id not in line.staff_ids:
        raise Forbidden("not_your_line", "You do not serve this line.")


async def line_for(reads: Reads, staff: Staff, line_id: int) -> Line:
    line = await line_or_404(reads, line_id)
    check_serves(staff, line)
    return line


class LineEnrolments:
    def __init__(self, db: Database, audit: AuditLog, public_url: str) -> None:
        self.db = db
        self.audit = audit
        self.public_url = public_url

    async def list(self, staff: Staff, line_id: int) -> list[Enrolment]:
        await line_for(self.db, staff, line_id)
        return await self.db.list_enrolments(line_id)

    async def enrol(self, staff: Staff, line_id: int, body: EnrolmentIn,
                    now: datetime) -> tuple[Enrolment, str]:
        """The new enrolment and its link, the only time the link's secret exists."""
        family_name = body.family_name.strip()
        if not family_name:
            raise Unprocessable("invalid_field", "Give the family's name.")
        secret = new_secret()
        async with self.db.transaction() as tx:
            line = await line_for(tx, staff, line_id)
            if line.kind is not LineKind.PERSONAL:
                raise Unprocessable("line_not_personal",
                                    "Only a personal line has families' own links.")
            if not line.active:
                raise Conflict("line_inactive", "This line is closed.")
            outside = sorted(set(body.staff_ids) - set(line.staff_ids))
            if outside:
                raise Unprocessable("staff_not_on_line",
                                    f"Staff member {outside[0]} does not serve this line.")
            enrolment_id = await tx.add_enrolment(
                line_id=line_id, family_name=family_name, language=body.language,
                staff_ids=body.staff_ids, secret_hash=secret_hash(secret),
                created_by=staff.id, now=now,
            )
            await self.audit.record(Actor.staff(staff.id), Action.LINE_ENROLLED,
                                    detail={"line": line_id, "enrolment": enrolment_id},
                                    tx=tx)
            enrolment = await tx.get_enrolment(enrolment_id)
            assert enrolment is not None
        return enrolment, enrolment_link(self.public_url, secret)

    async def revoke(self, staff: Staff, line_id: int, enrolment_id: int,
                     now: datetime) -> bool:
        """True when this call revoked it; a second revoke changes and logs nothing."""
        async with self.db.transaction() as tx:
            await line_for(tx, staff, line_id)
            enrolment = await tx.get_enrolment(enrolment_id)
            if enrolment is None or enrolment.line_id != line_id:
                raise NotFound("enrolment_not_found", "No such family on this line.")
            if not await tx.revoke_enrolment(enrolment_id, now):
                return False
            await self.audit.record(Actor.staff(staff.id), Action.LINE_ENROLMENT_REVOKED,
                                    detail={"line": line_id, "enrolment": enrolment_id},
                                    tx=tx)
        return True
