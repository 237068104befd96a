"""ServiceCatalog: the admin's side of self-booking — services, their people, weekly
hours and closures. Each change is one transaction with its usage-log row."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec

from server.audit import Action, Actor, AuditLog
from server.booking_slots import wall_clock
from server.db import Conflict as DbConflict
from server.db import Database, Reads
from server.errors import Conflict, NotFound, Unprocessable
from server.local_time import parse_wall_time, resolve
from server.records import AppointmentKind, Service, ServiceClosure, ServiceHours, Staff

Slug = Annotated[str, msgspec.Meta(min_length=2, max_length=60,
                                   pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
ServiceName = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
StaffId = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Clock = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
WallTime = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Note = Annotated[str, msgspec.Meta(max_length=200)]
SlotMinutes = Annotated[int, msgspec.Meta(ge=10, le=240)]
BufferMinutes = Annotated[int, msgspec.Meta(ge=0, le=240)]
NoticeMinutes = Annotated[int, msgspec.Meta(ge=0, le=60 * 24 * 90)]
HorizonDays = Annotated[int, msgspec.Meta(ge=1, le=366)]
PerDay = Annotated[int, msgspec.Meta(ge=1, le=100)]
HoldMinutes = Annotated[int, msgspec.Meta(ge=1, le=1440)]
CutoffMinutes = Annotated[int, msgspec.Meta(ge=0, le=60 * 24 * 30)]
Kinds = Annotated[list[AppointmentKind], msgspec.Meta(max_length=5)]
StaffIds = Annotated[list[StaffId], msgspec.Meta(max_length=50)]

_RULES = ("slot_minutes", "buffer_minutes", "notice_minutes", "horizon_days", "max_per_day",
          "hold_minutes", "cutoff_minutes")


class ServiceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: Slug
    name: ServiceName
    slot_minutes: SlotMinutes = 45
    buffer_minutes: BufferMinutes = 15
    notice_minutes: NoticeMinutes = 240
    horizon_days: HorizonDays = 60
    max_per_day: PerDay = 8
    hold_minutes: HoldMinutes = 10
    cutoff_minutes: CutoffMinutes = 1440
    active: bool = True
    kinds: Kinds = msgspec.field(default_factory=lambda: [AppointmentKind.FAMILY_COUNSELLING])
    staff_ids: StaffIds = msgspec.field(default_factory=list)


class ServicePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    slug: Slug | None = None
    name: ServiceName | None = None
    slot_minutes: SlotMinutes | None = None
    buffer_minutes: BufferMinutes | None = None
    notice_minutes: NoticeMinutes | None = None
    horizon_days: HorizonDays | None = None
    max_per_day: PerDay | None = None
    hold_minutes: HoldMinutes | None = None
    cutoff_minutes: CutoffMinutes | None = None
    active: bool | None = None
    kinds: Kinds | None = None
    staff_ids: StaffIds | None = None


class HoursIn(msgspec.Struct, forbid_unknown_fields=True):
    staff_id: StaffId
    weekday: Annotated[int, msgspec.Meta(ge=0, le=6)]
    opens: Clock
    closes: Clock


class WeekIn(msgspec.Struct, forbid_unknown_fields=True):
    hours: Annotated[list[HoursIn], msgspec.Meta(max_length=350)]


class ClosureIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    starts_local: WallTime
    ends_local: WallTime
    staff_id: StaffId | None = None
    note: Note = ""


# /book/confirm and /book/manage are the booking's own pages: a service there could
# never show its page.
RESERVED_SLUGS = frozenset({"confirm", "manage"})


def _check_slug(slug: str | None) -> None:
    if slug in RESERVED_SLUGS:
        raise Unprocessable("slug_reserved", f"The address /book/{slug} is Kota's own page.")


def _check_kinds(kinds: list[AppointmentKind]) -> None:
    if AppointmentKind.CHILD_PROTECTION in kinds:
        raise Unprocessable("kind_not_bookable",
                            "Child-protection meetings can never be booked by families.")
    if not kinds:
        raise Unprocessable("invalid_field", "A service offers at least one kind of meeting.")


def _fields(body: ServiceIn | ServicePatch) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in ("slug", "name", *_RULES, "active"):
        value = getattr(body, name)
        if value is not None:
            found[name] = int(value) if name == "active" else value
    if "name" in found:
        found["name"] = found["name"].strip()
        if not found["name"]:
            raise Unprocessable("invalid_field", "Give the service a name.")
    return found


async def check_active_staff(reads: Reads, ids: list[int]) -> None:
    """Everyone named has an active account (services and lines are served by them)."""
    wanted = set(ids)
    found = {s.id for s in await reads.list_staff_by_ids(wanted) if s.active}
    missing = sorted(wanted - found)
    if missing:
        raise Unprocessable("unknown_staff", f"No active staff member with id {missing[0]}.")


class ServiceCatalog:
    def __init__(self, db: Database, audit: AuditLog, tz: ZoneInfo,
                 changed: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.audit = audit
        self.tz = tz
        # Called after every committed change, so readers drop what they keep of services.
        self.changed = changed

    _check_staff = staticmethod(check_active_staff)

    @staticmethod
    async def _service(reads: Reads, service_id: int) -> Service:
        service = await reads.get_service(service_id)
        if service is None:
            raise NotFound("service_not_found", "No such service.")
        return service

    async def list_all(self) -> list[Service]:
        return await self.db.list_services()

    async def get(self, service_id: int) -> tuple[Service, list[ServiceClosure]]:
        service = await self._service(self.db, service_id)
        return service, await self.db.list_service_closures(service_id)

    async def create(self, actor: Staff, body: ServiceIn, now: datetime) -> Service:
        _check_slug(body.slug)
        _check_kinds(body.kinds)
        async with self.db.transaction() as tx:
            await self._check_staff(tx, body.staff_ids)
            try:
                service_id = await tx.create_service(_fields(body), body.kinds, body.staff_ids,
                                                     now)
            except DbConflict:
                raise Conflict("slug_taken", "Another service has this address.") from None
            await self.audit.record(Actor.staff(actor.id), Action.SERVICE_CREATED,
                                    detail={"service": service_id}, tx=tx)
            created = await self._service(tx, service_id)
        self.changed()
        return created

    async def update(self, actor: Staff, service_id: int, patch: ServicePatch) -> Service:
        _check_slug(patch.slug)
        if patch.kinds is not None:
            _check_kinds(patch.kinds)
        async with self.db.transaction() as tx:
            await self._service(tx, service_id)
            try:
                await tx.update_service(service_id, _fields(patch))
            except DbConflict:
                raise Conflict("slug_taken", "Another service has this address.") from None
            if patch.kinds is not None:
                await tx.set_service_kinds(service_id, patch.kinds)
            if patch.staff_ids is not None:
                await self._check_staff(tx, patch.staff_ids)
                await tx.set_service_staff(service_id, patch.staff_ids)
            await self.audit.record(Actor.staff(actor.id), Action.SERVICE_UPDATED,
                                    detail={"service": service_id}, tx=tx)
            updated = await self._service(tx, service_id)
        self.changed()
        return updated

    async def set_hours(self, actor: Staff, service_id: int, week: WeekIn) -> Service:
        hours = [ServiceHours(h.staff_id, h.weekday, h.opens, h.closes) for h in week.hours]
        for h in hours:
            if wall_clock(h.closes) <= wall_clock(h.opens):
                raise Unprocessable("invalid_hours", "Closing time must be after opening time.")
        ordered = sorted(hours, key=lambda h: (h.staff_id, h.weekday, h.opens))
        for a, b in itertools.pairwise(ordered):
            if (a.staff_id, a.weekday) == (b.staff_id, b.weekday) and b.opens < a.closes:
                raise Unprocessable("invalid_hours", "Two openings of one person overlap.")
        async with self.db.transaction() as tx:
            service = await self._service(tx, service_id)
            outside = sorted({h.staff_id for h in hours} - set(service.staff_ids))
            if outside:
                raise Unprocessable("staff_not_in_service",
                                    f"Staff member {outside[0]} does not serve this service.")
            await tx.replace_service_hours(service_id, ordered)
            await self.audit.record(Actor.staff(actor.id), Action.SERVICE_HOURS_SET,
                                    detail={"service": service_id, "openings": len(hours)},
                                    tx=tx)
            updated = await self._service(tx, service_id)
        self.changed()
        return updated

    async def add_closure(self, actor: Staff, service_id: int, body: ClosureIn) -> ServiceClosure:
        # The whole of a repeated hour is closed: its first start, its second end.
        starts_at = resolve(parse_wall_time(body.starts_local, "starts_local"), self.tz, 0,
                            "starts_local")
        ends_at = resolve(parse_wall_time(body.ends_local, "ends_local"), self.tz, 1,
                          "ends_local")
        if ends_at <= starts_at:
            raise Unprocessable("ends_before_start", "The end must be after the start.")
        async with self.db.transaction() as tx:
            service = await self._service(tx, service_id)
            if body.staff_id is not None and body.staff_id not in service.staff_ids:
                raise Unprocessable("staff_not_in_service",
                                    f"Staff member {body.staff_id} does not serve this service.")
            closure_id = await tx.add_service_closure(service_id, body.staff_id, starts_at,
                                                      ends_at, body.note.strip())
            await self.audit.record(Actor.staff(actor.id), Action.SERVICE_CLOSURE_ADDED,
                                    subject_id=body.staff_id,
                                    detail={"service": service_id, "closure": closure_id},
                                    tx=tx)
            closure = await tx.get_service_closure(closure_id)
            assert closure is not None
            return closure

    async def remove_closure(self, actor: Staff, service_id: int, closure_id: int) -> None:
        async with self.db.transaction() as tx:
            closure = await tx.get_service_closure(closure_id)
            if closure is None or closure.service_id != service_id:
                raise NotFound("closure_not_found", "No such closure.")
            await tx.remove_service_closure(closure_id)
            await self.audit.record(Actor.staff(actor.id), Action.SERVICE_CLOSURE_REMOVED,
                                    detail={"service": service_id, "closure": closure_id},
                                    tx=tx)
