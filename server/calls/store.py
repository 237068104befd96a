"""CallStore: the server's side of every live room (signalling's RoomStore).

It gives a new room its appointment's facts and any seats a previous run of the
server saved; it turns the room's Record effects into usage-log rows (``AuditLog.post``,
which never waits); and it saves seat snapshots and revokes links from one writer
task, so no room ever waits on the database. Snapshots are coalesced per appointment:
the latest wins, and ``load`` reads one still waiting to be written before the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from server.audit import SYSTEM, Actor, AuditLog
from server.calls.join_window import join_window
from server.calls.members import CallId, link_member, parse_call_id, staff_member
from server.db import Database, Reads
from server.join_links import JoinLinks
from server.records import Appointment, AppointmentStatus, StoredCall, StoredSeat
from server.settings import Settings
from signalling.effects import Record, Revoke
from signalling.errors import SignallingError
from signalling.ports import CallSnapshot, Member, RoomFacts, SeatSnapshot

logger = logging.getLogger(__name__)

# After a failed write the writer tries again this soon, doubling up to the cap.
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


def members_of(appointment: Appointment) -> dict[str, Member]:
    """Everyone who may hold a seat in the appointment's call, by participant id."""
    people = [staff_member(s) for s in (appointment.host, *appointment.staff)]
    people += [link_member(p) for p in appointment.participants]
    return {m.participant_id: m for m in people}


def _actor(call_id: CallId) -> Actor:
    return Actor.staff(call_id.id) if call_id.is_staff else Actor.participant(call_id.id)


class CallStore:
    def __init__(self, db: Database, audit: AuditLog, links: JoinLinks, settings: Settings,
                 clock: Callable[[], datetime]) -> None:
        self._db = db
        self._audit = audit
        self._links = links
        self._settings = settings
        self._clock = clock
        self._snapshots: dict[str, CallSnapshot] = {}  # waiting to be written
        self._writing: dict[str, CallSnapshot] = {}  # being written now
        self._revokes: list[tuple[str, Revoke]] = []
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- RoomStore ------------------------------------------------------------------------------

    async def load(self, appointment_id: str) -> RoomFacts:
        appointment = await self._db.get_appointment(int(appointment_id))
        if appointment is None:
            raise SignallingError("unknown_appointment")
        if appointment.status is AppointmentStatus.CANCELLED:
            raise SignallingError("appointment_cancelled")
        saved = self._snapshots.get(appointment_id) or self._writing.get(appointment_id)
        if saved is None:
            stored = await self._db.get_call(appointment.id)
            saved = None if stored is None else _snapshot(stored)
        members = members_of(appointment)
        return RoomFacts(
            window=join_window(appointment, self._settings),
            staff_ids=frozenset(m for m in members if members[m].is_staff),
            host_id=staff_member(appointment.host).participant_id,
            saved=saved,
            members=members,
        )

    def record(self, appointment_id: str, record: Record) -> None:
        """Actor: who acted (``by``), else the participant the row is about, else the system.

        The subject is the link participant the row is about; staff are named as actors.
        """
        subject = parse_call_id(record.participant_id) if record.participant_id else None
        by = parse_call_id(record.by) if record.by else None
        actor = _actor(by) if by else _actor(subject) if subject else SYSTEM
        detail: dict[str, int | str] = dict(record.detail)
        if record.reason is not None:
            detail["reason"] = record.reason.value
        self._audit.post(actor, record.action.value, int(appointment_id),
                         subject.id if subject and not subject.is_staff else None,
                         detail, at=record.at)

    def revoke(self, appointment_id: str, revoke: Revoke) -> None:
        self._revokes.append((appointment_id, revoke))
        self._wake.set()

    def save(self, snapshot: CallSnapshot) -> None:
        self._snapshots[snapshot.appointment_id] = snapshot
        self._wake.set()

    # --- whether a session has ended ----------------------------------------------------------

    def queued_sessions(self) -> dict[int, bool]:
        """Session states (appointment id → ended) queued but not yet written: newer than
        the file's, so whoever reads ``ended`` from the database asks here first."""
        states = {int(key): saved.ended for key, saved in self._writing.items()}
        states.update({int(key): saved.ended for key, saved in self._snapshots.items()})
        return states

    async def session_ended(self, reads: Reads, appointment_id: int) -> bool:
        """Whether staff ended the appointment's call (and nobody has reopened it)."""
        queued = self.queued_sessions().get(appointment_id)
        if queued is not None:
            return queued
        stored = await reads.get_call(appointment_id)
        return stored is not None and stored.ended

    def reopened(self, appointment_id: int) -> None:
        """A reopen was committed: a snapshot of the ended session still queued (or being
        written) must not undo it, so an open one is queued after it."""
        key = str(appointment_id)
        latest = self._snapshots.get(key) or self._writing.get(key)
        if latest is not None and latest.ended:
            self._snapshots[key] = CallSnapshot(key, False, latest.seats_taken, (), latest.left)
            self._wake.set()

    # --- the writer task ------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="call-store-writer")

    async def stop(self) -> None:
        """Writes everything still queued, then ends the writer."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        while (self._revokes or self._snapshots) and await self._flush():
            pass  # until all is written, or a write fails (it was logged)

    async def _run(self) -> None:
        retry = RETRY_FIRST_SECONDS
        while not self._stopping.is_set():
            await self._wake.wait()
            self._wake.clear()
            if await self._flush():
                retry = RETRY_FIRST_SECONDS
                continue
            # Something could not be written (a full disk): it is queued again; pause.
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), retry)
            retry = min(retry * 2, RETRY_MAX_SECONDS)

    async def _flush(self) -> bool:
        """Write what is queued; what fails goes back in the queue. True if all was written."""
        revokes, self._revokes = self._revokes, []
        failed = [item for item in revokes if not await self._revoke_now(*item)]
        self._revokes[:0] = failed
        self._writing, self._snapshots = self._snapshots, {}
        saves_failed = False
        for snapshot in self._writing.values():
            try:
                async with self._db.transaction() as tx:
                    await tx.save_call(_stored(snapshot), self._clock())
            except Exception:
                logger.exception("call_store.save_failed",
                                 extra={"appointment": snapshot.appointment_id})
                # Kept unless a newer snapshot of the same call is already waiting.
                self._snapshots.setdefault(snapshot.appointment_id, snapshot)
                saves_failed = True
        self._writing = {}
        return not failed and not saves_failed

    async def _revoke_now(self, appointment_id: str, revoke: Revoke) -> bool:
        holder, by = parse_call_id(revoke.participant_id), parse_call_id(revoke.by)
        if holder is None or holder.is_staff or by is None:
            return True  # only link participants have links
        try:
            async with self._db.transaction() as tx:
                await self._links.revoke(tx, _actor(by), int(appointment_id), holder.id,
                                         self._clock())
        except Exception:
            logger.exception("call_store.revoke_failed", extra={"appointment": appointment_id})
            return False
        return True


def _stored(snapshot: CallSnapshot) -> StoredCall:
    seats = []
    for seat in snapshot.seats:
        holder = parse_call_id(seat.participant_id)
        if holder is None:
            continue  # not an id this server issues; nothing to keep
        seats.append(StoredSeat(
            staff_id=holder.id if holder.is_staff else None,
            participant_id=None if holder.is_staff else holder.id,
            seat=seat.number, secret_hash=seat.secret_hash, held_until=seat.held_until,
        ))
    left = (parse_call_id(pid) for pid in snapshot.left)
    return StoredCall(int(snapshot.appointment_id), snapshot.seats_taken, snapshot.ended,
                      tuple(seats), tuple(who.id for who in left if who and not who.is_staff))


def _snapshot(stored: StoredCall) -> CallSnapshot:
    seats = tuple(
        SeatSnapshot(
            str(CallId(seat.staff_id is not None, seat.staff_id or seat.participant_id or 0)),
            seat.seat, seat.secret_hash, seat.held_until,
        )
        for seat in stored.seats
    )
    left = tuple(str(CallId(False, pid)) for pid in stored.left_participants)
    return CallSnapshot(str(stored.appointment_id), stored.ended, stored.seats_taken, seats, left)
