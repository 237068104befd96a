"""AccessReports: the client's access report, read by the family from its own join link
or produced by registry staff for a contact (client-data law 703/2023, section 11).

Each request is one transaction: the reads and the usage-log row saying the report was
read (``access_report.read``) or produced (``access_report.produced``, one per
participant covered) commit together. The contact itself never reaches the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers

from server.access_report import ACTIONS, SERVER_LOST, AppointmentReport, build_report
from server.audit import Action, Actor, AuditLog
from server.contacts import email_address, phone_number
from server.db import Database, Tx
from server.errors import Forbidden, Unprocessable
from server.join_links import JoinLinks
from server.records import CoveredParticipant, Participant, Staff

MAX_CONTACT_LENGTH = 254


@dataclass(frozen=True)
class FamilyReport:
    participant: Participant
    appointments: list[AppointmentReport]


@dataclass(frozen=True)
class ContactReport:
    contact: str
    produced_at: datetime
    produced_by: Staff
    appointments: list[AppointmentReport]


def normal_contact(raw: str) -> str | None:
    """The contact as Kota stores checked ones: an e-mail address, or a number in E.164."""
    value = raw.strip()
    if not 0 < len(value) <= MAX_CONTACT_LENGTH:
        return None
    return email_address(value) if "@" in value else phone_number(value)


def report_contact(raw: str) -> str:
    found = normal_contact(raw)
    if found is None:
        raise Unprocessable("invalid_contact",
                            "Give an e-mail address or a phone number with its country code.")
    return found


def national_form(contact: str) -> str | None:
    """A number's national digits (0401234567), as staff may have typed it by hand."""
    if not contact.startswith("+"):
        return None
    number = phonenumbers.parse(contact)
    text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in text if ch.isdigit() or ch == "+")


async def _find(tx: Tx, contact: str) -> list[CoveredParticipant]:
    return await tx.find_contact_participants(contact, national_form(contact))


class AccessReports:
    def __init__(self, db: Database, audit: AuditLog, links: JoinLinks, tz: ZoneInfo) -> None:
        self.db = db
        self.audit = audit
        self.links = links
        self.tz = tz

    async def for_link(self, token: str, now: datetime) -> FamilyReport:
        """The link's own appointment and every other one where the link's contact was a
        participant. An expired link still works (the report is wanted afterwards); a
        forged, revoked or removed one is refused as at ``/api/join``."""
        opened = await self.links.verify(token, now, allow_expired=True)
        participant = opened.participant
        await self.audit.flush()  # the call's rows are written in batches
        async with self.db.transaction() as tx:
            contact = participant.contact and (
                normal_contact(participant.contact) or participant.contact.strip())
            covered = await _find(tx, contact) if contact else []
            if participant.id not in {c.participant_id for c in covered}:
                appointment = opened.appointment
                covered.append(CoveredParticipant(
                    participant.id, appointment.id, participant.display_name,
                    participant.role.value, appointment.starts_at, appointment.ends_at,
                    cancelled=False))
            reports = await self._build(tx, covered, now)
            await self.audit.record(
                Actor.participant(participant.id), Action.ACCESS_REPORT_READ,
                opened.appointment.id, participant.id,
                detail={"appointments": len(reports)}, tx=tx,
            )
        return FamilyReport(participant, reports)

    async def for_contact(
        self, staff: Staff, raw_contact: str, output: str, now: datetime
    ) -> ContactReport:
        """Registry staff only. One ``access_report.produced`` row per participant covered
        (``detail.format`` json or pdf); a search that finds nobody writes one row
        without appointment or subject, so every look-up is on the log."""
        if not staff.registry:
            raise Forbidden("not_registry",
                            "Only registry staff may produce access reports by contact.")
        contact = report_contact(raw_contact)
        await self.audit.flush()
        async with self.db.transaction() as tx:
            covered = await _find(tx, contact)
            reports = await self._build(tx, covered, now)
            actor = Actor.staff(staff.id)
            for person in covered:
                await self.audit.record(
                    actor, Action.ACCESS_REPORT_PRODUCED, person.appointment_id,
                    person.participant_id, detail={"format": output}, tx=tx,
                )
            if not covered:
                await self.audit.record(actor, Action.ACCESS_REPORT_PRODUCED,
                                        detail={"format": output, "participants": 0}, tx=tx)
        return ContactReport(contact, now, staff, reports)

    async def _build(
        self, tx: Tx, covered: list[CoveredParticipant], now: datetime
    ) -> list[AppointmentReport]:
        if not covered:
            return []
        wanted = ACTIONS - {SERVER_LOST}
        rows = await tx.list_audit_rows_for_appointments(
            {c.appointment_id for c in covered}, wanted)
        lost = await tx.list_server_lost_rows(rows[0].id) if rows else []
        staff_ids = {r.actor_id for r in rows if r.actor_kind == "staff" and r.actor_id}
        staff = {s.id: s for s in await tx.list_staff_by_ids(staff_ids)}
        return build_report(covered, [*rows, *lost], staff, self.tz, now)
