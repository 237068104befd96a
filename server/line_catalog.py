"""LineCatalog: the admin's side of contact lines — each line's name, address, kind,
modes, limits, the professionals who serve it, weekly hours and closed days. Each change
is one transaction with its usage-log row; the rules that guard it (a free address,
active staff) are checked inside that transaction."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from typing import Annotated, Any

import msgspec

from server.audit import Action, Actor, AuditLog
from server.db import Conflict as DbConflict
from server.db import Database, Reads, Tx
from server.errors import Conflict, NotFound, Unprocessable
from server.records import Line, LineClosure, LineHours, LineKind, LineModes, Staff
from server.service_catalog import check_active_staff

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$"
Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=60, pattern=SLUG_PATTERN)]
LineName = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
StaffId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Clock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Weekday = Annotated[int, msgspec.Meta(ge=0, le=6)]
Note = Annotated[str, msgspec.Meta(max_length=100)]
QueueCap = Annotated[int, msgspec.Meta(ge=1, le=1000)]
GraceMinutes = Annotated[int, msgspec.Meta(ge=0, le=120)]
CallbackMinutes = Annotated[int, msgspec.Meta(ge=1, le=240)]
StaffIds = Annotated[list[StaffId], msgspec.Meta(max_length=100)]

# /line/my is the page a family's own link opens: no line may take that address.
RESERVED_SLUGS = frozenset({"my"})


class HoursIn(msgspec.Struct, forbid_unknown_fields=True):
    weekday: Weekday
    opens: Clock
    closes: Clock


class ClosureIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    starts_on: date
    ends_on: date
    note: Note = ""


class LineIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A whole line, for POST and PUT: a PUT replaces every field, hours and closures."""

    slug: Slug
    name: LineName
    kind: LineKind
    modes: LineModes = LineModes.BOTH
    queue_cap: QueueCap = 20
    grace_minutes: GraceMinutes = 10
    callback_after_minutes: CallbackMinutes = 10
    staff_ids: StaffIds = msgspec.field(default_factory=list)
    hours: Annotated[list[HoursIn], msgspec.Meta(max_length=70)] = msgspec.field(
        default_factory=list)
    closures: Annotated[list[ClosureIn], msgspec.Meta(max_length=200)] = msgspec.field(
        default_factory=list)
    # PUT only: true opens a line an earlier DELETE closed; left out, it stays as it is.
    active: bool | None = None


def check_slug(slug: str) -> None:
    if slug in RESERVED_SLUGS:
        raise Unprocessable("slug_reserved", f"The address /line/{slug} is Kota's own page.")


def week_of(body: LineIn) -> list[LineHours]:
    """The weekly hours, each within one day and none overlapping another on its weekday."""
    hours = sorted(
        (LineHours(h.weekday, time.fromisoformat(h.opens), time.fromisoformat(h.closes))
         for h in body.hours),
        key=lambda h: (h.weekday, h.opens),
    )
    for h in hours:
        if h.closes <= h.opens:
            raise Unprocessable("invalid_hours", "Closing time must be after opening time.")
    for a, b in itertools.pairwise(hours):
        if a.weekday == b.weekday and b.opens < a.closes:
            raise Unprocessable("invalid_hours", "Two openings of one weekday overlap.")
    return hours


def closed_days_of(body: LineIn) -> list[LineClosure]:
    closures = sorted(
        (LineClosure(c.starts_on, c.ends_on, c.note.strip()) for c in body.closures),
        key=lambda c: (c.starts_on, c.ends_on),
    )
    for c in closures:
        if c.ends_on < c.starts_on:
            raise Unprocessable("ends_before_start",
                                "A closure's last day cannot be before its first.")
    return closures


def _columns(body: LineIn) -> dict[str, Any]:
    """The line's own columns, once the whole body is checked (before the write lock)."""
    check_slug(body.slug)
    week_of(body)
    closed_days_of(body)
    name = body.name.strip()
    if not name:
        raise Unprocessable("invalid_field", "Give the line a name.")
    return {
        "slug": body.slug,
        "name": name,
        "kind": body.kind.value,
        "modes": body.modes.value,
        "queue_cap": body.queue_cap,
        "grace_minutes": body.grace_minutes,
        "callback_after_minutes": body.callback_after_minutes,
    }


async def staff_names(reads: Reads, ids: Iterable[int]) -> dict[int, str]:
    """Display names by id, for the JSON of lines and enrolments."""
    return {s.id: s.display_name for s in await reads.list_staff_by_ids(ids)}


async def line_or_404(reads: Reads, line_id: int) -> Line:
    line = await reads.get_line(line_id)
    if line is None:
        raise NotFound("line_not_found", "No such line.")
    return line


class LineCatalog:
    def __init__(self, db: Database, audit: AuditLog,
                 changed: Callable[[int], None] = lambda line_id: None) -> None:
        self.db = db
        self.audit = audit
        # Called with the line's id after every committed change, so the live queues
        # take the new cap, hours and staff (the app points it at the line hub).
        self.changed = changed


    async def _save_parts(self, tx: Tx, actor: Staff, line_id: int, body: LineIn,
                          action: Action) -> Line:
        """The line's staff, hours and closed days as the body has them, and the change's
        usage-log row, in the caller's transaction."""
        await tx.set_line_staff(line_id, body.staff_ids)
        await tx.replace_line_hours(line_id, week_of(body))
        await tx.replace_line_closures(line_id, closed_days_of(body))
        await self.audit.record(Actor.staff(actor.id), action, detail={"line": line_id}, tx=tx)
        return await line_or_404(tx, line_id)

    async def list_for(self, staff: Staff) -> list[Line]:
        """Admins see every line; a professional the active lines they serve."""
        if staff.is_admin:
            return await self.db.list_lines()
        return await self.db.lines_for_staff(staff.id)

    async def create(self, actor: Staff, body: LineIn, now: datetime) -> Line:
        columns = _columns(body)
        async with self.db.transaction() as tx:
            await check_active_staff(tx, body.staff_ids)
            try:
                line_id = await tx.create_line(columns, now)
            except DbConflict:
                raise Conflict("slug_taken", "Another line has this address.") from None
            created = await self._save_parts(tx, actor, line_id, body, Action.LINE_CREATED)
        self.changed(line_id)
        return created

    async def replace(self, actor: Staff, line_id: int, body: LineIn, now: datetime) -> Line:
        """The whole line as the body has it; its kind stays what it was made as."""
        columns = _columns(body)
        if body.active is not None:
            columns["active"] = int(body.active)
        async with self.db.transaction() as tx:
            line = await line_or_404(tx, line_id)
            if body.kind is not line.kind:
                raise Unprocessable(
                    "line_kind_fixed",
                    "A line stays public or personal; make a new line for the other kind.")
            await check_active_staff(tx, body.staff_ids)
            try:
                await tx.update_line(line_id, columns, now)
            except DbConflict:
                raise Conflict("slug_taken", "Another line has this address.") from None
            updated = await self._save_parts(tx, actor, line_id, body, Action.LINE_UPDATED)
        self.changed(line_id)
        return updated

    async def deactivate(self, actor: Staff, line_id: int, now: datetime) -> None:
        """The line stops taking people; its rows (and enrolments) stay. Once only: a
        second DELETE changes nothing and logs nothing."""
        async with self.db.transaction() as tx:
            await line_or_404(tx, line_id)
            if not await tx.deactivate_line(line_id, now):
                return
            await self.audit.record(Actor.staff(actor.id), Action.LINE_DEACTIVATED,
                                    detail={"line": line_id}, tx=tx)
        self.changed(line_id)
