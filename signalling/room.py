"""Room: one appointment's call — who holds a seat, who may talk to whom, and for how long.

The Room is what the connection layer drives for an appointment. It sends arrivals to its
WaitingRoom or, for staff, straight to a seat; relays signalling only between admitted
participants; caps the mesh; and holds a dropped participant's seat for a grace period so
they can resume with their secret instead of being admitted again. Every method either
raises SignallingError before changing anything or returns the effects of its change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from enum import Enum

from signalling import messages as wire
from signalling.effects import (
    CallAction,
    CloseReason,
    Disconnect,
    Effect,
    Record,
    Revoke,
    Send,
    send,
)
from signalling.errors import SignallingError
from signalling.ports import CallSnapshot, IceServerSource, JoinWindow, Member, no_ice_servers
from signalling.seat import (
    Seat,
    SeatState,
    hash_secret,
    new_secret,
    restore_seats,
)
from signalling.seats import Seats
from signalling.waiting_room import WaitingRoom

logger = logging.getLogger(__name__)


class RoomState(Enum):
    OPEN = "open"
    ENDED = "ended"  # staff ended the session; nobody may join until staff reopen it
    CLOSED = "closed"  # the server is shutting down


class Room:
    """One appointment's call. Create one per appointment; all times are passed in."""

    def __init__(
        self, appointment_id: str, window: JoinWindow, staff_ids: Iterable[str], host_id: str,
        *, reconnect_grace: timedelta, max_participants: int = 6,
        new_secret: Callable[[], str] = new_secret,
        ice_servers: IceServerSource = no_ice_servers,
        ice_transport_policy: wire.IceTransportPolicy = "all",
    ) -> None:
        self.appointment_id = appointment_id
        self.window = window
        self.staff_ids = frozenset(staff_ids)
        if host_id not in self.staff_ids:
            raise ValueError("the host must be one of the staff")
        if max_participants < 1 or reconnect_grace < timedelta(0):
            raise ValueError("max_participants must be positive and reconnect_grace not negative")
        self.host_id = host_id
        self.max_participants = max_participants
        self.reconnect_grace = reconnect_grace
        self.waiting = WaitingRoom(appointment_id)
        self.state = RoomState.OPEN
        self._new_secret = new_secret
        self._ice_servers = ice_servers
        self._ice_policy = ice_transport_policy  # told to everyone seated, with the servers
        self._seats = Seats(appointment_id)
        self._revoked: set[str] = set()
        self._left: set[str] = set()  # left the call by themselves: their next knock says so
        self._changes = 0  # of the room itself (state, times, staff); the seats count theirs

    @property
    def revision(self) -> int:
        """Moves on every seat or room change (never for a relayed signal): time to save."""
        return self._changes + self._seats.revision

    @property
    def is_idle(self) -> bool:
        """Nobody waiting or seated: whoever keeps rooms may drop this one."""
        return not self._seats and not self.waiting

    def seat_state(self, participant_id: str) -> SeatState | None:
        return self._seats.state(participant_id)

    def next_deadline(self) -> datetime | None:
        """When expire() must next run: the earliest end of a reconnect grace period."""
        return self._seats.next_deadline()

    # --- arrivals and departures ---------------------------------------------------------

    def join(self, member: Member, now: datetime) -> list[Effect]:
        """A verified hello: staff take a seat at once, everyone else waits to be admitted.

        A second connection of the same identity replaces the first. Someone who is not
        staff and is replaced while seated goes back to the queue: a forwarded link must
        not inherit an admitted seat without the resume secret.
        """
        self._require_open()
        if not self.window.contains(now):
            raise SignallingError("outside_join_window", opens_at=self.window.opens_at,
                                  closes_at=self.window.closes_at)
        pid = member.participant_id
        if member.is_staff != (pid in self.staff_ids):
            raise SignallingError("not_staff", "This identity is not staff of this appointment.")
        if pid in self._revoked:
            raise SignallingError("link_revoked")
        if pid in self.waiting:
            position = self.waiting.replace(member)
            return [Disconnect(pid, CloseReason.REPLACED),
                    Send((pid,), self._welcome(member, now, position=position))]
        if member.is_staff and len(self._seats) - (pid in self._seats) >= self.max_participants:
            raise SignallingError("room_full")
        effects: list[Effect] = []
        if self._seats.is_connected(pid):
            effects.append(Disconnect(pid, CloseReason.REPLACED))
        if pid in self._seats:
            effects += self._release(pid, now, CloseReason.REPLACED)
        if member.is_staff:
            seat, secret, seated = self._take_seat(member, now)
            return [*effects, Send((pid,), self._welcome(member, now, seat=seat, secret=secret)),
                    Send((pid,), self.waiting.waiting_list()), *seated]
        knocked = self.waiting.knock(member, now, self._seats.staff_present(),
                                     returned=pid in self._left)
        welcome = self._welcome(member, now, position=self.waiting.position(pid))
        return [*effects, Send((pid,), welcome), *knocked]

    def resume(self, participant_id: str, secret: str, now: datetime, *,
               fresh: bool = False) -> list[Effect]:
        """Gives a seat back to the holder of its resume secret, within the grace period.

        Works while the old socket still looks open (half-open TCP): that one is replaced.
        The secret is single-use; the welcome carries the next one.
        """
        self._require_open()
        pid, seat = participant_id, self._seats.get(participant_id)
        if (seat is None or not seat.opens_with(secret)
                or (seat.held_until is not None and now >= seat.held_until)):
            raise SignallingError("resume_failed")
        effects: list[Effect] = []
        if seat.state is SeatState.CONNECTED:
            effects += [Disconnect(pid, CloseReason.REPLACED),
                        Record(CallAction.CALL_DISCONNECTED, pid, now, reason=CloseReason.REPLACED)]
        secret = self._new_secret()
        seat.secret_hash, seat.held_until = hash_secret(secret), None
        self._seats.set_state(pid, SeatState.CONNECTED)
        welcome = self._welcome(seat.member, now, seat=seat, secret=secret, resumed=True)
        effects.append(Send((pid,), welcome))
        if seat.member.is_staff:
            effects.append(Send((pid,), self.waiting.waiting_list()))
        back = wire.PeerReconnected(participant=pid, seat=seat.number, fresh=fresh)
        return [*effects, *send(self._seats.connected(exclude=pid), back),
                Record(CallAction.CALL_RECONNECTED, pid, now)]

    def leave(self, participant_id: str, now: datetime) -> list[Effect]:
        """The participant said ``leave``: out of the queue or the call, socket closed normally."""
        bye = Disconnect(participant_id, CloseReason.LEFT)
        if participant_id in self.waiting:
            staff = self._seats.staff_present()
            return [*self.waiting.leave(participant_id, now, staff, CloseReason.LEFT), bye]
        self._require_seated(participant_id)
        if not self._seats[participant_id].member.is_staff:
            self._left.add(participant_id)
        return [bye, *self._release(participant_id, now, CloseReason.LEFT)]

    def disconnected(self, participant_id: str, now: datetime,
                     lost: CloseReason = CloseReason.CONNECTION_LOST) -> list[Effect]:
        """The socket closed without ``leave``: waiting people leave, seats are held.

        Returns nothing for someone already gone, so the caller may call it for every
        closed socket — except a replaced one, which no longer speaks for the participant.
        ``lost`` says why the socket ended (dropped, too slow, flooding…) for the log.
        """
        pid = participant_id
        if pid in self.waiting:
            return self.waiting.leave(pid, now, self._seats.staff_present(), lost)
        if not self._seats.is_connected(pid):
            return []
        seat = self._seats[pid]
        seat.held_until = now + self.reconnect_grace
        self._seats.set_state(pid, SeatState.HELD)
        notice = wire.PeerDisconnected(participant=pid, until=seat.held_until)
        return [*send(self._seats.connected(), notice),
                Record(CallAction.CALL_DISCONNECTED, pid, now, reason=lost)]

    def expire(self, now: datetime) -> list[Effect]:
        """Frees seats whose grace period is over; their holders must knock again."""
        effects: list[Effect] = []
        for pid in self._seats.due(now):
            effects += self._release(pid, now, CloseReason.RECONNECT_EXPIRED)
        return effects

    def shutdown(self, now: datetime) -> list[Effect]:
        """The server is stopping: close every socket, but hold the seats for a resume.

        A restart must not end the call: the next server restores the held seats from
        ``snapshot()`` and their holders resume. Waiting people must knock again.
        """
        if self.state is not RoomState.OPEN:
            return []
        reason = CloseReason.SERVER_SHUTDOWN
        everyone = (*self._seats.connected(), *self.waiting.participant_ids)
        effects: list[Effect] = [Disconnect(pid, reason) for pid in everyone]
        for pid in self._seats.connected():
            self._seats[pid].held_until = now + self.reconnect_grace
            self._seats.set_state(pid, SeatState.HELD)
            effects.append(Record(CallAction.CALL_DISCONNECTED, pid, now, reason=reason))
        effects += self.waiting.clear(now, reason)
        self._set_room_state(RoomState.CLOSED)
        return effects

    def snapshot(self) -> CallSnapshot:
        """The seats and session state to save so that a restart keeps the call."""
        return CallSnapshot(self.appointment_id, self.state is RoomState.ENDED,
                            self._seats.taken, self._seats.snapshot())

    def restore(self, saved: CallSnapshot, members: Mapping[str, Member],
                now: datetime) -> list[Effect]:
        """Loads a saved call into this new room: every seat is held, awaiting its resume."""
        if self._seats or self.waiting or self.state is not RoomState.OPEN:
            raise ValueError("restore() needs a new room")
        if saved.ended:
            self._set_room_state(RoomState.ENDED)
            return []
        seats, records = restore_seats(saved, members, self.staff_ids, now, self.reconnect_grace)
        self._seats.taken = max([saved.seats_taken, *(s.number for s in saved.seats)])
        for seat in seats:
            self._seats.set_state(seat.member.participant_id, SeatState.HELD, seat)
        return list(records)

    # --- changes made on the staff pages while the call is live ------------------------------

    def refresh(self, window: JoinWindow, staff_ids: Iterable[str], host_id: str,
                members: Mapping[str, Member], now: datetime) -> list[Effect]:
        """The appointment was edited: new times, host or staff take effect at once, and
        whoever is no longer one of its people leaves the queue or the call."""
        staff = frozenset(staff_ids)
        if host_id not in staff:
            raise ValueError("the host must be one of the staff")
        self.window, self.staff_ids, self.host_id = window, staff, host_id
        self._changes += 1
        effects: list[Effect] = []
        for pid in (*self.waiting.participant_ids, *self._seats):
            if pid not in members:
                effects += self.withdraw(pid, now)
        return effects

    def withdraw(self, participant_id: str, now: datetime) -> list[Effect]:
        """The person's link was revoked (or they were taken off the appointment) outside
        the call: out of the queue or the call at once, as a removal with revoke."""
        pid, seat = participant_id, self._seats.get(participant_id)
        reason = CloseReason.REVOKED
        if seat is None or not seat.member.is_staff:
            self._revoked.add(pid)  # staff are kept out by ``staff_ids`` instead
        told: list[Effect] = [Send((pid,), wire.Removed(revoked=True)), Disconnect(pid, reason)]
        if pid in self.waiting:
            return [*told, *self.waiting.leave(pid, now, self._seats.staff_present(), reason)]
        if seat is None:
            return []
        if seat.state is not SeatState.CONNECTED:
            told = []
        return [*told, *self._release(pid, now, reason)]

    def reinstate(self, participant_id: str) -> None:
        """A new link was issued after a revoke: its holder may knock again."""
        self._revoked.discard(participant_id)

    def cancel(self, now: datetime) -> list[Effect]:
        """The appointment was cancelled: the session ends for everyone, as ``end`` does."""
        if self.state is not RoomState.OPEN:
            return []
        effects = self._close_all(now, CloseReason.ENDED, wire.SessionEnded())
        self._set_room_state(RoomState.ENDED)
        return [*effects, Record(CallAction.SESSION_ENDED, None, now)]

    # --- requests of joined participants ----------------------------------------------------

    def admit(self, by: str, participant_id: str, now: datetime) -> list[Effect]:
        """Lets one waiting person in; nobody else moves."""
        self._require_staff(by)
        if participant_id not in self.waiting:
            raise SignallingError("unknown_participant", f"{participant_id} is not waiting.")
        if len(self._seats) >= self.max_participants:
            raise SignallingError("room_full")
        staff = self._seats.staff_present()
        member, left_queue = self.waiting.admit(participant_id, by, now, staff)
        self._left.discard(participant_id)
        _, secret, seated = self._take_seat(member, now)
        admitted = wire.Admitted(resume_secret=secret, peers=self._peers(participant_id),
                                 ice_servers=self._ice_servers(participant_id, now) or None,
                                 ice_transport_policy=self._ice_policy)
        return [Send((participant_id,), admitted), *left_queue, *seated]

    def deny(self, by: str, participant_id: str, now: datetime, *,
             revoke: bool = False) -> list[Effect]:
        """Turns one waiting person away, and with ``revoke`` revokes their link."""
        self._require_staff(by)
        staff = self._seats.staff_present()
        effects = self.waiting.deny(participant_id, by, now, staff, revoke=revoke)
        if revoke:
            self._revoked.add(participant_id)
        return effects

    def remove(self, by: str, participant_id: str, now: datetime, *,
               revoke: bool = False) -> list[Effect]:
        """Takes someone out of the call: back to the queue, or out for good with ``revoke``."""
        self._require_staff(by)
        pid, seat = participant_id, self._seats.get(participant_id)
        if seat is None:
            raise SignallingError("unknown_participant", f"{pid} is not in the call.")
        if seat.member.is_staff:
            raise SignallingError("staff_cannot_be_removed")
        connected = seat.state is SeatState.CONNECTED
        reason = CloseReason.REVOKED if revoke else CloseReason.REMOVED
        effects: list[Effect] = [
            Record(CallAction.PARTICIPANT_REMOVED, pid, now, by=by, reason=reason),
            *self._release(pid, now, reason),
        ]
        told: list[Effect] = [Send((pid,), wire.Removed(revoked=revoke))] if connected else []
        if revoke:
            self._revoked.add(pid)
            told += [Disconnect(pid, reason)] if connected else []
            return [*told, *effects, Revoke(pid, by)]
        if not connected:
            return effects
        knocked = self.waiting.knock(seat.member, now, self._seats.staff_present())
        told.append(Send((pid,), wire.Waiting(position=self.waiting.position(pid))))
        return [*told, *effects, *knocked]

    def end(self, by: str, now: datetime) -> list[Effect]:
        """Ends the session for everyone; later joins get ``session_ended``."""
        self._require_staff(by)
        effects = self._close_all(now, CloseReason.ENDED, wire.SessionEnded())
        self._set_room_state(RoomState.ENDED)
        return [*effects, Record(CallAction.SESSION_ENDED, None, now, by=by)]

    def reopen(self, now: datetime) -> list[Effect]:
        """Staff reopened an ended session (on the staff pages, which log it): people may
        join again. Seats and the queue were emptied by the end; they start empty."""
        if self.state is RoomState.ENDED:
            self._set_room_state(RoomState.OPEN)
        return []

    def message_waiting(self, by: str, to: str | None, text: str, now: datetime) -> list[Effect]:
        """Staff text to one waiting person, or (``to`` None) to all; relayed, never kept."""
        self._require_staff(by)
        seat = self._seats.get(by)
        return self.waiting.message(by, to, text, now, colleagues=self._seats.staff_present(),
                                    by_name=seat.member.display_name if seat else "")

    def reply(self, sender: str, text: str, now: datetime) -> list[Effect]:
        """A waiting person's text to the staff present; relayed, never kept."""
        return self.waiting.reply(sender, text, now, self._seats.staff_present())

    def may_signal(self, sender: str, to: str) -> bool:
        """Whether ``relay_signal`` would pass a signal on: both are connected in this call.

        The relay's fast path (LiveRoom.handle) asks this first and needs neither the
        time nor an effect list; a signal it refuses goes through ``relay_signal``.
        """
        return to != sender and self._seats.is_connected(sender) and self._seats.is_connected(to)

    def relay_signal(self, sender: str, signal: wire.Signal, now: datetime) -> list[Effect]:
        """Passes SDP or an ICE candidate to one connected peer, stamped with the sender."""
        if not self._seats.is_connected(sender):
            refused = Record(CallAction.SIGNAL_REFUSED, sender, now)
            raise SignallingError("not_admitted", records=[refused])
        if signal.to == sender or not self._seats.is_connected(signal.to):
            raise SignallingError("unknown_peer", f"{signal.to} is not a connected peer.")
        return [Send((signal.to,), wire.SignalRelayed(from_=sender, payload=signal.payload))]

    def chat(self, sender: str, text: str, now: datetime) -> list[Effect]:
        """Relays chat to the other connected participants; the record keeps no text."""
        self._require_seated(sender)
        to = self._seats.connected(exclude=sender)
        return [*send(to, wire.ChatRelayed(from_=sender, text=text, at=now)),
                Record(CallAction.CHAT_SENT, sender, now, detail={"recipients": len(to)})]

    def media_mode(self, sender: str, audio_only: bool, weak: bool,
                   now: datetime) -> list[Effect]:
        """The sender switched sound only on or off: a usage-log row, nothing relayed
        (the peers see the video stop through the peer connection itself)."""
        self._require_seated(sender)
        return [Record(CallAction.CALL_SOUND_ONLY, sender, now,
                       detail={"on": audio_only, "weak": weak})]

    # --- internals ----------------------------------------------------------------------------

    def _take_seat(self, member: Member, now: datetime) -> tuple[Seat, str, list[Effect]]:
        """Seats ``member``; the peers already in the call are told and offer to them.

        Returns the seat's resume secret too: only its hash stays in the room.
        """
        secret = self._new_secret()
        seat = self._seats.take(member, hash_secret(secret))
        pid = member.participant_id
        joined = wire.PeerJoined(peer=self._peer(seat))
        return seat, secret, [*send(self._seats.connected(exclude=pid), joined),
                              Record(CallAction.CALL_JOINED, pid, now)]

    def _release(self, participant_id: str, now: datetime, reason: CloseReason) -> list[Effect]:
        """Frees a seat; the others drop their peer connection to it."""
        self._seats.set_state(participant_id, SeatState.RELEASED)
        return [*send(self._seats.connected(), wire.PeerLeft(participant=participant_id)),
                Record(CallAction.CALL_LEFT, participant_id, now, reason=reason)]

    def _close_all(self, now: datetime, reason: CloseReason,
                   notice: wire.SessionEnded | None = None) -> list[Effect]:
        audience = (*self._seats.connected(), *self.waiting.participant_ids)
        effects: list[Effect] = send(audience, notice) if notice else []
        effects += [Disconnect(pid, reason) for pid in audience]
        for pid in self._seats:
            self._seats.set_state(pid, SeatState.RELEASED)
            effects.append(Record(CallAction.CALL_LEFT, pid, now, reason=reason))
        return [*effects, *self.waiting.clear(now, reason)]

    def _welcome(self, member: Member, now: datetime, *, position: int | None = None,
                 seat: Seat | None = None, secret: str | None = None,
                 resumed: bool = False) -> wire.Welcome:
        """A seated participant also gets its ICE servers (TURN credentials from ``now``)."""
        pid = member.participant_id
        ice = (self._ice_servers(pid, now) or None) if seat is not None else None
        return wire.Welcome(
            version=wire.PROTOCOL_VERSION, participant=pid,
            state="waiting" if seat is None else "admitted", staff=member.is_staff,
            opens_at=self.window.opens_at, closes_at=self.window.closes_at, position=position,
            resume_secret=secret,
            peers=self._peers(pid) if seat else None, resumed=resumed, ice_servers=ice,
            ice_transport_policy=self._ice_policy if seat is not None else "all",
        )

    def _peer(self, seat: Seat) -> wire.Peer:
        m = seat.member
        return wire.Peer(participant=m.participant_id, display_name=m.display_name, role=m.role,
                         staff=m.is_staff, host=m.participant_id == self.host_id,
                         connected=seat.state is SeatState.CONNECTED, seat=seat.number)

    def _peers(self, exclude: str) -> tuple[wire.Peer, ...]:
        return tuple(self._peer(s) for s in self._seats.others(exclude))

    def _require_open(self) -> None:
        if self.state is not RoomState.OPEN:
            raise SignallingError("session_ended")

    def _require_seated(self, participant_id: str) -> None:
        if self._seats.is_connected(participant_id):
            return
        raise SignallingError("not_admitted" if participant_id in self.waiting else "not_joined")

    def _require_staff(self, by: str) -> None:
        if self._seats.is_connected(by) and self._seats[by].member.is_staff:
            return
        raise SignallingError("not_staff" if by in self._seats or by in self.waiting
                              else "not_joined")

    def _set_room_state(self, new: RoomState) -> None:
        logger.info("room.state", extra={"appointment": self.appointment_id,
                                         "old": self.state.value, "new": new.value})
        self.state = new
        self._changes += 1
