"""LineHub: the contact lines' sockets, timers and database writes around the LineDesk.

The desk (``signalling/line_desk.py``) decides; the hub performs its effects: frames go
to sockets at once (a socket's own writer task drains what the client has not read yet,
so a slow client never holds up the others), and the rows an event leaves (usage-log
rows, queue rows, service times, call-backs) go to one writer task that stores each
event's rows in one transaction, in order, so relaying never waits on the disk. A timer
ticks once a second for expiries, closing time + grace, dropped sessions and the 30 s
refresh; professionals' boards are pushed at most once per ``BOARD_DEBOUNCE`` seconds.
Lines and enrolments are read from the database at each join and duty change, so an
admin's edit takes effect at the next event. On start, queue rows left by the previous
run are put back as AWAY: their people have the minute to resume their places.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from aiohttp import web

from server.audit import (
    RETRY_FIRST_SECONDS,
    RETRY_MAX_SECONDS,
    STOP_DEADLINE_SECONDS,
    SYSTEM,
    Actor,
    AuditLog,
)
from server.db import Database, StorageError
from server.ice_servers import IceServers
from server.line_enrolments import secret_hash
from server.line_hours import hours_now
from server.records import Line, LineCallback, LineKind, QueuedRow, StaffSession
from signalling import line_messages as wire
from signalling.line_desk import LineDesk
from signalling.line_effects import (
    AddCallback,
    BoardChanged,
    ClosePerson,
    DeleteQueued,
    Effect,
    Family,
    HoursState,
    LineRules,
    Log,
    SaveQueued,
    SaveStats,
    ToPerson,
    ToStaff,
    TouchEnrolment,
)
from signalling.line_queue import Entry
from signalling.messages import IceTransportPolicy

logger = logging.getLogger(__name__)

BOARD_DEBOUNCE: Final = 0.2
TICK_SECONDS: Final = 1.0
BOARD_REFRESH_TICKS: Final = 30
CALLBACK_REFRESH: Final = timedelta(seconds=30)
SEND_QUEUE: Final = 256  # frames waiting for a slow client before it is dropped


class LineSocket:
    """One client's socket: frames are queued and written in order by a writer task."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.ticket: str | None = None
        self.staff_id: int | None = None
        self.heard = True
        self._backlog: deque[str] = deque()
        self._writer: asyncio.Task[None] | None = None
        self._close_code: int | None = None
        self._ping: asyncio.Task[None] | None = None

    @property
    def joined(self) -> bool:
        return self.ticket is not None or self.staff_id is not None

    def send(self, message: wire.ServerMessage) -> None:
        if self._close_code is not None:
            return
        if len(self._backlog) >= SEND_QUEUE:
            self._backlog.clear()
            self.close(1008)
            return
        self._backlog.append(wire.encode(message).decode())
        self._wake()

    def close(self, code: int = 1000) -> None:
        """Closes after the frames already queued."""
        if self._close_code is None:
            self._close_code = code
            self._wake()

    def _wake(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        try:
            while self._backlog:
                await self.ws.send_str(self._backlog.popleft())
            if self._close_code is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(4):
                        await self.ws.close(code=self._close_code)
        except ConnectionError:
            self._backlog.clear()

    def beat(self) -> None:
        """The Heartbeat's call: drop a client silent since the last ping, else ping."""
        if self._close_code is not None or self.ws.closed:
            return
        if not self.heard:
            self.close(1001)
            return
        self.heard = False
        self._ping = asyncio.get_running_loop().create_task(self._send_ping())

    async def _send_ping(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.ping()

    async def finish(self) -> None:
        """After the read loop ended: let the writer finish (bounded)."""
        if self._writer is not None:
            await asyncio.wait({self._writer}, timeout=5)


def rules_of(line: Line, zone: ZoneInfo) -> LineRules:
    hours, closures, active = line.hours, line.closures, line.active

    def state(now: datetime) -> HoursState:
        if not active:
            return HoursState(False, None, None)
        found = hours_now(hours, closures, zone, now)
        return HoursState(found.open, found.closes_at, found.opens_at)

    return LineRules(
        id=line.id, name=line.name, kind=line.kind.value, modes=line.modes.value,
        cap=line.queue_cap, grace=timedelta(minutes=line.grace_minutes),
        callback_after=timedelta(minutes=line.callback_after_minutes),
        staff_ids=frozenset(line.staff_ids), hours=state, active=active)


class LineHub:
    def __init__(self, db: Database, audit: AuditLog, ice: IceServers, zone: ZoneInfo,
                 clock: Callable[[], datetime], *,
                 ice_policy: IceTransportPolicy = "all") -> None:
        self._db = db
        self._audit = audit
        self._zone = zone
        self._clock = clock
        self.desk = LineDesk(ice=ice.for_participant, ice_policy=ice_policy)
        self._people: dict[str, LineSocket] = {}
        self._staff: dict[int, set[LineSocket]] = {}
        self._writes: asyncio.Queue[list[Effect]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._board_timer: asyncio.TimerHandle | None = None
        self._callbacks: list[LineCallback] = []
        self._callbacks_read: datetime | None = None
        self._closing = False
        self._stop_deadline: float | None = None  # set at stop: storage retries end then

    # -- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Restore the queues saved by the previous run, then start the timer and writer."""
        now = self._clock()
        rows = await self._db.list_queue_entries()
        gone: list[Effect] = []
        for row in rows:
            if not await self._restore(row, now):
                gone.append(DeleteQueued(row.ticket_hash))
        if gone:
            self._writes.put_nowait(gone)
        if rows:
            logger.info("line.restored", extra={"queued": len(rows) - len(gone)})
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._tick(), name="line-tick"),
                       loop.create_task(self._write_rows(), name="line-writes")]

    async def _restore(self, row: QueuedRow, now: datetime) -> bool:
        line = await self._db.get_line(row.line_id)
        if line is None or not line.active:
            return False
        family = None
        if row.enrolment_id is not None:
            enrolment = await self._db.get_enrolment(row.enrolment_id)
            if enrolment is None or enrolment.revoked_at is not None:
                return False
            family = Family(enrolment.id, enrolment.family_name, frozenset(enrolment.staff_ids))
        await self._declare(line)
        entry = Entry(ticket=row.ticket_hash, line_id=row.line_id, mode=row.mode,
                      joined_at=row.joined_at, enrolment_id=row.enrolment_id,
                      staff_ids=frozenset(row.staff_ids), front=row.front)
        self.desk.restore(entry, row.nickname, family, now)
        return True

    def shutdown(self) -> None:
        """Closes every socket with 1001; queue rows stay for the next start."""
        self._closing = True
        for sock in [*self._people.values(), *(s for g in self._staff.values() for s in g)]:
            sock.close(1001)

    async def stop(self) -> None:
        self.shutdown()
        if self._board_timer is not None:
            self._board_timer.cancel()
        ticker, writer = self._tasks or (None, None)
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        if writer is not None:
            self._stop_deadline = time.monotonic() + STOP_DEADLINE_SECONDS
            self._writes.put_nowait([])  # the writer stops at an empty batch
            await writer

    # -- asked by the REST side ----------------------------------------------------------

    def is_full(self, line_id: int) -> bool:
        return self.desk.is_full(line_id)

    async def enrolment_revoked(self, enrolment_id: int) -> None:
        self._perform(self.desk.revoke(enrolment_id, self._clock()))

    def line_changed(self, line_id: int) -> None:
        task = asyncio.get_running_loop().create_task(self._reload(line_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reload(self, line_id: int) -> None:
        line = await self._db.get_line(line_id)
        if line is None:
            return
        if self.desk.line(line_id) is not None or set(line.staff_ids) & set(self._staff):
            await self._declare(line)
            self._perform([*self.desk.tick(self._clock()), BoardChanged()])

    # -- sockets -------------------------------------------------------------------------

    async def hello(self, sock: LineSocket, hello: wire.Hello,
                    staff: StaffSession | None) -> None:
        if hello.version != wire.PROTOCOL_VERSION:
            raise wire.LineError("unsupported_version")
        if self._closing:
            sock.close(1001)
            return
        now = self._clock()
        if hello.staff:
            if staff is None:
                raise wire.LineError("unauthenticated")
            staff_id = staff.staff.id
            for served in await self._db.lines_for_staff(staff_id):
                await self._declare(served)
            sock.staff_id = staff_id
            self._staff.setdefault(staff_id, set()).add(sock)
            first_name = staff.staff.display_name.split(" ")[0]
            self._perform(self.desk.staff_connected(staff_id, first_name, now))
            await self._read_callbacks(now, force=True)
            return
        if hello.resume is not None:
            ticket = secret_hash(hello.resume)
            effects = self.desk.resume(ticket, hello.resume, now)
            old = self._people.get(ticket)
            if old is not None and old is not sock:
                old.ticket = None
                old.close(4005)
            self._attach(sock, ticket)
            self._perform(effects)
            return
        assert hello.mode is not None
        family: Family | None = None
        nickname = ""
        line: Line | None
        if hello.enrolment is not None:
            enrolment = await self._db.enrolment_by_secret_hash(secret_hash(hello.enrolment),
                                                                include_revoked=True)
            if enrolment is None:
                raise wire.LineError("enrolment_invalid")
            if enrolment.revoked_at is not None:
                raise wire.LineError("enrolment_revoked")
            line = await self._db.get_line(enrolment.line_id)
            family = Family(enrolment.id, enrolment.family_name, frozenset(enrolment.staff_ids))
        else:
            assert hello.line is not None
            line = await self._db.get_line_by_slug(hello.line)
            if line is not None and line.kind is not LineKind.PUBLIC:
                line = None
            nickname = (hello.nickname or "").strip()
        if line is None or not line.active:
            raise wire.LineError("line_not_found")
        await self._declare(line)
        secret = secrets.token_urlsafe(32)
        ticket = secret_hash(secret)
        effects = self.desk.join(line.id, ticket, secret, hello.mode, self._clock(),
                                 nickname=nickname, family=family)
        self._attach(sock, ticket)  # after a refusal the socket may still say hello
        self._perform(effects)

    def _attach(self, sock: LineSocket, ticket: str) -> None:
        sock.ticket = ticket
        self._people[ticket] = sock

    async def handle(self, sock: LineSocket, message: wire.ClientMessage) -> None:
        """One request from a joined socket."""
        now = self._clock()
        desk = self.desk
        ticket, staff_id = sock.ticket, sock.staff_id
        match message:
            case wire.Hello():
                raise wire.LineError("already_joined")
            case wire.Chat(text=text, session=session):
                effects = desk.chat(ticket, staff_id, session, text, now)
            case wire.Video(session=session):
                effects = desk.video(ticket, staff_id, session, now)
            case wire.Signal(payload=payload, session=session):
                effects = desk.signal(ticket, staff_id, session, payload, now)
            case wire.End(session=session):
                effects = desk.end(ticket, staff_id, session, now)
            case wire.Leave() if ticket is not None:
                effects = desk.leave(ticket, now)
            case wire.Callback() if ticket is not None:
                effects = desk.request_callback(ticket, now)
            case wire.Duty(lines=lines) if staff_id is not None:
                for served in await self._db.lines_for_staff(staff_id):
                    await self._declare(served)
                effects = desk.set_duty(staff_id, lines, self._clock())
            case wire.TakeNext() if staff_id is not None:
                effects = desk.take_next(staff_id, now)
            case wire.HandOver(session=session, line=to_line, staff=to_staff) \
                    if staff_id is not None:
                if to_line is not None:
                    target = await self._db.get_line(to_line)
                    if target is None or not target.active:
                        raise wire.LineError("unknown_line")
                    await self._declare(target)
                effects = desk.hand_over(staff_id, session, self._clock(), to_line=to_line,
                                         to_staff=to_staff)
            case _:
                raise wire.LineError("not_staff" if ticket is not None else "bad_message")
        self._perform(effects)

    def disconnected(self, sock: LineSocket) -> None:
        now = self._clock()
        if sock.ticket is not None and self._people.get(sock.ticket) is sock:
            del self._people[sock.ticket]
            if not self._closing:
                self._perform(self.desk.person_gone(sock.ticket, now))
        if sock.staff_id is not None:
            group = self._staff.get(sock.staff_id)
            if group is not None and sock in group:
                group.discard(sock)
                if not group:
                    del self._staff[sock.staff_id]
                self._perform(self.desk.staff_gone(sock.staff_id, now))

    # -- effects -------------------------------------------------------------------------

    def _perform(self, effects: Sequence[Effect]) -> None:
        rows: list[Effect] = []
        for effect in effects:
            match effect:
                case ToPerson(ticket=ticket, message=message):
                    sock = self._people.get(ticket)
                    if sock is not None:
                        sock.send(message)
                case ToStaff(staff_id=staff_id, message=message):
                    for staff_sock in self._staff.get(staff_id, ()):
                        staff_sock.send(message)
                case ClosePerson(ticket=ticket):
                    sock = self._people.pop(ticket, None)
                    if sock is not None:
                        sock.close(1000)
                case BoardChanged():
                    self._boards_changed()
                case _:
                    rows.append(effect)
        if rows:
            self._writes.put_nowait(rows)

    async def _write_rows(self) -> None:
        """One transaction per event's rows, in order. A storage fault (a full disk, a
        locked or read-only file) retries the same batch with back-off, so no row is
        skipped and the order holds; at stop the writer gives up after
        ``STOP_DEADLINE_SECONDS`` and logs what it could not write. Any other failure is
        a bug: logged, and the batch dropped (the queue itself lives in memory; the rows
        are its shadow)."""
        retry = RETRY_FIRST_SECONDS
        while True:
            batch = await self._writes.get()
            if not batch:
                return
            while True:
                try:
                    added = await self._store(batch)
                except StorageError as fault:
                    if (self._stop_deadline is not None
                            and time.monotonic() + retry > self._stop_deadline):
                        logger.error("line.unwritten", extra={
                            "rows": len(batch), "fault": type(fault).__name__,
                            "actions": [e.action.value for e in batch if isinstance(e, Log)]})
                        break
                    logger.warning("line.write_retry", extra={
                        "rows": len(batch), "fault": type(fault).__name__, "retry_s": retry})
                    await asyncio.sleep(retry)
                    retry = min(retry * 2, RETRY_MAX_SECONDS)
                    continue
                except Exception:
                    logger.exception("line.write_failed", extra={"rows": len(batch)})
                    break
                retry = RETRY_FIRST_SECONDS
                if added:
                    await self._read_callbacks(self._clock(), force=True)
                break

    async def _store(self, batch: list[Effect]) -> bool:
        added = False
        async with self._db.transaction() as tx:
            for effect in batch:
                match effect:
                    case Log(action=action, staff_id=staff_id, detail=detail):
                        actor = SYSTEM if staff_id is None else Actor.staff(staff_id)
                        await self._audit.record(actor, action.value, detail=detail, tx=tx)
                    case SaveStats(line_id=line_id, mean=mean, samples=samples):
                        await tx.save_line_stats(line_id, mean, samples, self._clock())
                    case SaveQueued(entry=entry):
                        # A nickname is never written: SQLite keeps deleted text in free
                        # pages and its log, so it would outlive the person's stay. After
                        # a restart the professional sees no nickname; that is all.
                        await tx.save_queue_entry(QueuedRow(
                            ticket_hash=entry.ticket, line_id=entry.line_id, mode=entry.mode,
                            joined_at=entry.joined_at, enrolment_id=entry.enrolment_id,
                            staff_ids=tuple(sorted(entry.staff_ids)), front=entry.front,
                            nickname=""))
                    case DeleteQueued(ticket=ticket):
                        await tx.delete_queue_entry(ticket)
                    case AddCallback(enrolment_id=enrolment_id, line_id=line_id):
                        _, new = await tx.add_line_callback(enrolment_id, line_id,
                                                            self._clock())
                        added = added or new
                    case TouchEnrolment(enrolment_id=enrolment_id):
                        await tx.touch_enrolment(enrolment_id, self._clock())
        return added

    # -- timers and boards -----------------------------------------------------------------

    async def _tick(self) -> None:
        """Once a second; boards are refreshed every ``BOARD_REFRESH_TICKS`` (waits grow,
        lines open and close by the clock)."""
        ticks = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            ticks += 1
            try:
                now = self._clock()
                self._perform(self.desk.tick(now))
                await self._read_callbacks(now)
                if ticks % BOARD_REFRESH_TICKS == 0:
                    self._boards_changed()
            except Exception:
                logger.exception("line.tick_failed")

    async def _read_callbacks(self, now: datetime, *, force: bool = False) -> None:
        if not force and self._callbacks_read is not None \
                and now - self._callbacks_read < CALLBACK_REFRESH:
            return
        if not self._staff:
            return
        self._callbacks_read = now
        line_ids = sorted({i for s in self._staff for i in self.desk.staff_lines(s)})
        found = await self._db.list_open_callbacks(line_ids)
        if found != self._callbacks or force:
            self._callbacks = found
            self._boards_changed()

    def _boards_changed(self) -> None:
        if self._board_timer is None and self._staff:
            self._board_timer = asyncio.get_running_loop().call_later(
                BOARD_DEBOUNCE, self._push_boards)

    def _push_boards(self) -> None:
        self._board_timer = None
        now = self._clock()
        for staff_id, socks in self._staff.items():
            mine = set(self.desk.staff_lines(staff_id))
            board = self.desk.board_for(staff_id, now)
            board = wire.Board(lines=board.lines, duty=board.duty, callbacks=tuple(
                wire.BoardCallback(id=c.id, line=c.line_id, family_name=c.family_name,
                                   requested_at=c.requested_at)
                for c in self._callbacks if c.line_id in mine))
            for sock in socks:
                sock.send(board)

    async def _declare(self, line: Line) -> None:
        """Hands the desk the line's current rules (and, the first time, its stats)."""
        if self.desk.line(line.id) is None:
            stats = await self._db.get_line_stats(line.id)
            self.desk.set_line(rules_of(line, self._zone), (stats.ewma_seconds, stats.samples))
        else:
            self.desk.set_line(rules_of(line, self._zone))
