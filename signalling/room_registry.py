"""RoomRegistry: this server's live calls, one LiveRoom per appointment, made on demand.

A LiveRoom pairs a pure Room with the outboxes of the participants connected to it and
performs the Room's effects: Sends and Disconnects go to outboxes, Records, Revokes and
snapshots go to the RoomStore the server supplies. Nothing here waits: outboxes queue
and the store queues, so one slow socket or a busy disk never holds up a room, and
relaying a signal or a chat line touches no storage at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from signalling import messages as wire
from signalling.dispatch import handle
from signalling.effects import CallAction, CloseReason, Disconnect, Effect, Record, Revoke, Send
from signalling.errors import SignallingError
from signalling.ports import (
    CallObserver,
    CallSnapshot,
    Member,
    NoObserver,
    Outbox,
    RoomFacts,
    RoomRules,
    RoomStore,
)
from signalling.room import Room
from signalling.seat import SeatState

logger = logging.getLogger(__name__)


# Client messages a room passes on to others, counted by their wire type (docs/metrics.md);
# a signal takes LiveRoom.handle's short way and is counted there.
_RELAYED: Final[dict[type, str]] = {
    wire.Signal: "signal", wire.Chat: "chat", wire.MessageWaiting: "message-waiting",
    wire.Reply: "reply",
}


class RegistryClosed(Exception):
    """The server is shutting down and makes no new rooms."""


class LiveRoom:
    """One appointment's Room and the outboxes of its participants."""

    def __init__(self, room: Room, registry: RoomRegistry) -> None:
        self.room = room
        self.dropped = False
        self._registry = registry
        self._outboxes: dict[str, Outbox] = {}
        self._saved_revision = room.revision
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: datetime | None = None

    @property
    def appointment_id(self) -> str:
        return self.room.appointment_id

    def connected(self) -> frozenset[str]:
        """Participants in the call with a live socket."""
        return frozenset(pid for pid in self._outboxes
                         if self.room.seat_state(pid) is SeatState.CONNECTED)

    def join(self, member: Member, outbox: Outbox) -> None:
        """A verified hello; raises SignallingError with nothing changed."""
        self._run(lambda now: self.room.join(member, now), (member.participant_id, outbox))

    def resume(self, ticket: wire.ResumeTicket, outbox: Outbox) -> None:
        pid = ticket.participant
        self._run(lambda now: self.room.resume(pid, ticket.secret, now, fresh=ticket.fresh),
                  (pid, outbox))

    def handle(self, sender: str, outbox: Outbox, message: wire.ClientMessage) -> None:
        """A request from ``sender``'s current connection; a replaced one is ignored.

        A signal between two connected participants, hundreds per call, takes the short
        way: the same check as ``Room.relay_signal`` and a send, with no clock read, no
        effect list and nothing to settle (it moves no seat). Anything else, and a
        signal that is refused, goes through the Room and its effects.
        """
        if self._outboxes.get(sender) is not outbox:
            return
        if type(message) is wire.Signal and self.room.may_signal(sender, message.to):
            box = self._outboxes.get(message.to)
            if box is not None:
                box.send(wire.encode(wire.SignalRelayed(from_=sender, payload=message.payload)))
                self._registry.observer.relayed("signal")
            return
        self._run(lambda now: handle(self.room, sender, message, now))
        kind = _RELAYED.get(type(message))
        if kind is not None:
            self._registry.observer.relayed(kind)

    def disconnected(self, participant_id: str, outbox: Outbox, reason: CloseReason) -> None:
        """A socket ended; only the participant's current connection speaks for them."""
        if self._outboxes.get(participant_id) is outbox:
            del self._outboxes[participant_id]
            self._run(lambda now: self.room.disconnected(participant_id, now, reason))

    def restore(self, saved: CallSnapshot, members: Mapping[str, Member]) -> None:
        """Kept even when idle (an ended session): the hello that made it must hear so."""
        self._run(lambda now: self.room.restore(saved, members, now), may_drop=False)

    def shutdown(self) -> None:
        self._run(self.room.shutdown)
        self._cancel_timer()

    def refresh(self, facts: RoomFacts) -> None:
        self._run(lambda now: self.room.refresh(facts.window, facts.staff_ids, facts.host_id,
                                                facts.members, now))

    def withdraw(self, participant_id: str) -> None:
        self._run(lambda now: self.room.withdraw(participant_id, now))

    def cancel(self) -> None:
        self._run(self.room.cancel)

    def reopen(self) -> None:
        self._run(self.room.reopen)

    # --- performing effects -----------------------------------------------------------------

    def _run(self, change: Callable[[datetime], list[Effect]],
             joiner: tuple[str, Outbox] | None = None, *, may_drop: bool = True) -> None:
        """Applies one change to the room and performs its effects, with no await between.

        A refused change performs only the records the refusal carries.
        """
        try:
            effects = change(self._registry.clock())
        except SignallingError as exc:
            self._perform(exc.records)
            self._settle(may_drop)
            raise
        self._perform(effects, joiner)
        self._settle(may_drop)

    def _perform(self, effects: tuple[Effect, ...] | list[Effect],
                 joiner: tuple[str, Outbox] | None = None) -> None:
        """Sends go to the joiner for its own id; a Disconnect of that id hits the old socket."""
        store, key = self._registry.store, self.appointment_id
        for effect in effects:
            match effect:
                case Send(to, message):
                    data = wire.encode(message)
                    for pid in to:
                        box = joiner[1] if joiner and pid == joiner[0] else self._outboxes.get(pid)
                        if box is not None:
                            box.send(data)
                case Disconnect(pid, reason):
                    old = self._outboxes.pop(pid, None)
                    if old is not None and not (joiner and old is joiner[1]):
                        old.close(reason)
                case Record():
                    store.record(key, effect)
                    if effect.action is CallAction.ADMISSION_ADMITTED:
                        self._registry.observer.admitted()
                case Revoke():
                    store.revoke(key, effect)
        if joiner is not None:
            self._outboxes[joiner[0]] = joiner[1]

    def _settle(self, may_drop: bool) -> None:
        """After a change: save the seats if they moved, re-arm the timer, drop if idle."""
        if self.room.revision != self._saved_revision:  # not for a relayed signal: it moves no seat
            self._saved_revision = self.room.revision
            self._registry.store.save(self.room.snapshot())
            self._arm()
        if may_drop and not self._outboxes and self.room.is_idle:
            self._registry.drop(self)

    def _arm(self) -> None:
        """Sets the timer for the room's next deadline; only seat changes move it."""
        deadline = self.room.next_deadline()
        if deadline != self._deadline:
            self._cancel_timer()
            if deadline is not None:
                delay = (deadline - self._registry.clock()).total_seconds()
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(max(0.0, delay), self._expire)
                self._deadline = deadline

    def _expire(self) -> None:
        self._timer, self._deadline = None, None
        try:
            self._run(self.room.expire)
        except Exception:  # a timer callback has no caller to report to
            logger.exception("room.expire_failed", extra={"appointment": self.appointment_id})
        if not self.dropped:
            self._arm()  # a timer that fired before its time finds nothing due: it waits again

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._deadline = None, None


class RoomRegistry:
    """The live rooms of this server by appointment id; rooms are made when first entered."""

    def __init__(self, store: RoomStore, rules: RoomRules,
                 clock: Callable[[], datetime], *,
                 observer: CallObserver | None = None) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock
        self.observer: CallObserver = observer or NoObserver()
        self._rooms: dict[str, LiveRoom] = {}
        self._loading: dict[str, asyncio.Task[LiveRoom]] = {}
        self._sockets: set[Outbox] = set()  # every open connection, joined or not yet
        self._closed = False

    def __len__(self) -> int:
        return len(self._rooms)

    def track(self, outbox: Outbox) -> None:
        """A socket opened: it is closed at shutdown even if it never joins a room."""
        if self._closed:
            outbox.close(CloseReason.SERVER_SHUTDOWN)
        self._sockets.add(outbox)

    def untrack(self, outbox: Outbox) -> None:
        self._sockets.discard(outbox)

    def get(self, appointment_id: str) -> LiveRoom | None:
        return self._rooms.get(appointment_id)

    def rooms(self) -> list[LiveRoom]:
        """The live rooms now, for a metrics scrape (docs/metrics.md)."""
        return list(self._rooms.values())

    async def enter(self, appointment_id: str) -> LiveRoom:
        """The appointment's live room, made from the store's facts if there is none.

        Returns a room still registered, so the caller may join it before it can be dropped.
        """
        while True:
            if self._closed:
                raise RegistryClosed
            live = self._rooms.get(appointment_id)
            if live is None:
                task = self._loading.get(appointment_id)
                if task is None:
                    task = asyncio.create_task(self._make(appointment_id))
                    task.add_done_callback(_retrieve)  # its waiters may all be gone
                    self._loading[appointment_id] = task
                live = await asyncio.shield(task)
            if not live.dropped and not self._closed:
                return live

    async def _make(self, appointment_id: str) -> LiveRoom:
        try:
            facts = await self.store.load(appointment_id)
            if self._closed:
                raise RegistryClosed
            room = Room(appointment_id, facts.window, facts.staff_ids, facts.host_id,
                        reconnect_grace=self.rules.reconnect_grace,
                        max_participants=self.rules.max_participants,
                        ice_servers=self.rules.ice_servers,
                        ice_transport_policy=self.rules.ice_transport_policy)
            live = LiveRoom(room, self)
            self._rooms[appointment_id] = live
            if facts.saved is not None:
                live.restore(facts.saved, facts.members)
            logger.info("room.opened", extra={"appointment": appointment_id,
                                               "restored": facts.saved is not None})
            return live
        finally:
            self._loading.pop(appointment_id, None)

    async def appointment_changed(self, appointment_id: str) -> None:
        """The staff pages changed the appointment: its live room, if any, follows now
        (new times, host or staff; people taken off leave; a cancellation ends it)."""
        live = self._rooms.get(appointment_id)
        if live is None:
            return
        try:
            facts = await self.store.load(appointment_id)
        except SignallingError:  # cancelled (or gone): nobody may stay
            if not live.dropped:
                live.cancel()
            return
        if not live.dropped:
            live.refresh(facts)

    def link_stopped(self, appointment_id: str, participant_id: str) -> None:
        """A join link was revoked on the staff pages: its holder leaves the call now."""
        live = self._rooms.get(appointment_id)
        if live is not None:
            live.withdraw(participant_id)

    def link_issued(self, appointment_id: str, participant_id: str) -> None:
        """A new link after a revoke: the live room lets its holder knock again."""
        live = self._rooms.get(appointment_id)
        if live is not None:
            live.room.reinstate(participant_id)

    def session_reopened(self, appointment_id: str) -> None:
        """Staff reopened the ended session on the staff pages (already stored): a live
        room, or one being made from facts read before the reopen, lets people in again."""
        live = self._rooms.get(appointment_id)
        if live is not None and not live.dropped:
            live.reopen()
        task = self._loading.get(appointment_id)
        if task is not None:
            task.add_done_callback(_reopen_loaded)

    def drop(self, live: LiveRoom) -> None:
        live.dropped = True
        if self._rooms.get(live.appointment_id) is live:
            del self._rooms[live.appointment_id]
            logger.info("room.dropped", extra={"appointment": live.appointment_id})

    def shutdown(self) -> None:
        """Closes every socket with ``server_shutdown``; seats are held and saved for a restart."""
        self._closed = True
        for live in list(self._rooms.values()):
            live.shutdown()
            self.drop(live)
        for outbox in self._sockets:
            outbox.close(CloseReason.SERVER_SHUTDOWN)


def _reopen_loaded(task: asyncio.Task[LiveRoom]) -> None:
    """Runs before the room's first joiner resumes (callbacks run in the order added)."""
    if not task.cancelled() and task.exception() is None and not task.result().dropped:
        task.result().reopen()


def _retrieve(task: asyncio.Task[LiveRoom]) -> None:
    if not task.cancelled():
        task.exception()
