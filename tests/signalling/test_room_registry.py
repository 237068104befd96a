"""RoomRegistry and LiveRoom with a fake store and fake sockets (the interfaces they own)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from signalling import messages as wire
from signalling.effects import CallAction, CloseReason, Record, Revoke
from signalling.errors import SignallingError
from signalling.ports import CallSnapshot, JoinWindow, Member, RoomFacts, RoomRules
from signalling.room_registry import RegistryClosed, RoomRegistry

HOST = Member("s:1", "Sari", "staff", is_staff=True)
GUEST = Member("l:7", "Maija", "guardian", is_staff=False)


@dataclass
class FakeStore:
    loads: int = 0
    ended: bool = False
    records: list[Record] = field(default_factory=list)
    saved: list[CallSnapshot] = field(default_factory=list)
    revoked: list[Revoke] = field(default_factory=list)

    async def load(self, appointment_id: str) -> RoomFacts:
        self.loads += 1
        await asyncio.sleep(0)  # let concurrent entrants meet
        if appointment_id == "missing":
            raise SignallingError("unknown_appointment")
        now = datetime.now(UTC)
        saved = CallSnapshot(appointment_id, True, 0, ()) if self.ended else None
        return RoomFacts(JoinWindow(now - timedelta(hours=1), now + timedelta(hours=1)),
                         frozenset({"s:1"}), "s:1", saved)

    def record(self, appointment_id: str, record: Record) -> None:
        self.records.append(record)

    def revoke(self, appointment_id: str, revoke: Revoke) -> None:
        self.revoked.append(revoke)

    def save(self, snapshot: CallSnapshot) -> None:
        self.saved.append(snapshot)


@dataclass(eq=False)  # hashable by identity, as a real connection
class FakeSocket:
    sent: list[dict[str, object]] = field(default_factory=list)
    closed: CloseReason | None = None
    got: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, data: bytes) -> None:
        self.sent.append(json.loads(data))
        self.got.set()

    def close(self, reason: CloseReason) -> None:
        self.closed = self.closed or reason

    def types(self) -> list[object]:
        return [m["type"] for m in self.sent]


def registry(store: FakeStore, grace: float = 30) -> RoomRegistry:
    return RoomRegistry(store, RoomRules(timedelta(seconds=grace), 6),
                        lambda: datetime.now(UTC))


async def test_concurrent_entrants_share_one_room_loaded_once() -> None:
    store = FakeStore()
    rooms = registry(store)
    first, second = await asyncio.gather(rooms.enter("a1"), rooms.enter("a1"))
    assert first is second and store.loads == 1


async def test_unknown_appointment_makes_no_room() -> None:
    rooms = registry(FakeStore())
    with pytest.raises(SignallingError):
        await rooms.enter("missing")
    assert len(rooms) == 0


async def test_a_new_connection_replaces_the_old_whose_requests_are_then_ignored() -> None:
    store = FakeStore()
    live = await registry(store).enter("a1")
    old, new = FakeSocket(), FakeSocket()
    live.join(HOST, old)
    live.join(HOST, new)
    assert old.closed is CloseReason.REPLACED
    assert new.types() == ["welcome", "waiting-list"]
    live.handle("s:1", old, wire.EndSession())  # a late frame from the replaced socket
    live.disconnected("s:1", old, CloseReason.CONNECTION_LOST)
    assert live.room.state.value == "open" and live.connected() == {"s:1"}


async def test_idle_rooms_are_dropped_and_made_again() -> None:
    store = FakeStore()
    rooms = registry(store)
    live = await rooms.enter("a1")
    host = FakeSocket()
    live.join(HOST, host)
    live.handle("s:1", host, wire.Leave())
    assert host.closed is CloseReason.LEFT
    assert rooms.get("a1") is None and live.dropped
    assert await rooms.enter("a1") is not live and store.loads == 2


async def test_an_ended_session_refuses_and_leaves_no_room_behind() -> None:
    rooms = registry(FakeStore(ended=True))
    live = await rooms.enter("a1")
    with pytest.raises(SignallingError) as caught:
        live.join(HOST, FakeSocket())
    assert caught.value.code == "session_ended" and rooms.get("a1") is None


async def test_seats_are_saved_when_they_change_never_for_relays() -> None:
    store = FakeStore()
    live = await registry(store).enter("a1")
    host, guest = FakeSocket(), FakeSocket()
    live.join(HOST, host)
    live.join(GUEST, guest)
    saves = len(store.saved)
    live.handle("s:1", host, wire.Admit(participant="l:7"))
    assert len(store.saved) == saves + 1 and len(store.saved[-1].seats) == 2
    live.handle("l:7", guest, wire.Chat(text="hei"))
    live.handle("l:7", guest, wire.Signal(to="s:1", payload=wire.SdpOffer(sdp="v=0")))
    assert len(store.saved) == saves + 1
    assert [r.action for r in store.records][-1] is CallAction.CHAT_SENT


async def test_signals_reach_only_a_connected_peer_and_refusals_are_recorded() -> None:
    """The relay's short way (no clock, no effects) and the Room's long way agree."""
    store = FakeStore()
    live = await registry(store).enter("a1")
    host, guest = FakeSocket(), FakeSocket()
    live.join(HOST, host)
    live.join(GUEST, guest)
    offer = wire.SdpOffer(sdp="v=0")
    with pytest.raises(SignallingError) as caught:  # still waiting: not admitted
        live.handle("l:7", guest, wire.Signal(to="s:1", payload=offer))
    assert caught.value.code == "not_admitted"
    assert store.records[-1].action is CallAction.SIGNAL_REFUSED
    with pytest.raises(SignallingError) as caught:  # to someone who is only waiting
        live.handle("s:1", host, wire.Signal(to="l:7", payload=offer))
    assert caught.value.code == "unknown_peer"
    live.handle("s:1", host, wire.Admit(participant="l:7"))
    before = len(host.sent), len(guest.sent), len(store.records)
    live.handle("l:7", guest, wire.Signal(to="s:1", payload=offer))
    assert host.sent[-1] == {"type": "signal", "from": "l:7",
                             "payload": {"kind": "offer", "sdp": "v=0"}}
    assert (len(host.sent), len(guest.sent), len(store.records)) == (
        before[0] + 1, before[1], before[2])
    for target in ("l:7", "s:9"):  # to oneself, to a stranger
        with pytest.raises(SignallingError) as caught:
            live.handle("l:7", guest, wire.Signal(to=target, payload=offer))
        assert caught.value.code == "unknown_peer"
    live.handle("l:7", FakeSocket(), wire.Signal(to="s:1", payload=offer))  # not its socket
    assert len(host.sent) == before[0] + 1


async def test_refusals_perform_their_records() -> None:
    store = FakeStore()
    live = await registry(store).enter("a1")
    guest = FakeSocket()
    live.join(GUEST, guest)
    with pytest.raises(SignallingError):
        live.handle("l:7", guest, wire.Chat(text="hei"))
    assert store.records[-1].action is CallAction.REQUEST_REFUSED


async def test_revoke_goes_to_the_store() -> None:
    store = FakeStore()
    live = await registry(store).enter("a1")
    host, guest = FakeSocket(), FakeSocket()
    live.join(HOST, host)
    live.join(GUEST, guest)
    live.handle("s:1", host, wire.Deny(participant="l:7", revoke=True))
    assert guest.closed is CloseReason.REVOKED
    assert store.revoked == [Revoke("l:7", "s:1")]


async def test_the_grace_timer_frees_a_held_seat() -> None:
    store = FakeStore()
    live = await registry(store, grace=0.05).enter("a1")
    host, guest = FakeSocket(), FakeSocket()
    live.join(HOST, host)
    live.join(GUEST, guest)
    live.handle("s:1", host, wire.Admit(participant="l:7"))
    live.disconnected("l:7", guest, CloseReason.CONNECTION_LOST)
    while "peer-left" not in host.types():
        host.got.clear()
        await asyncio.wait_for(host.got.wait(), 2)
    assert (CallAction.CALL_LEFT, CloseReason.RECONNECT_EXPIRED) in [
        (r.action, r.reason) for r in store.records]


async def test_shutdown_closes_every_socket_even_before_hello() -> None:
    store = FakeStore()
    rooms = registry(store)
    live = await rooms.enter("a1")
    seated, lobby = FakeSocket(), FakeSocket()
    rooms.track(seated)
    rooms.track(lobby)
    live.join(HOST, seated)
    rooms.shutdown()
    assert seated.closed is lobby.closed is CloseReason.SERVER_SHUTDOWN
    assert store.saved[-1].seats[0].held_until is not None  # held for the next server
    with pytest.raises(RegistryClosed):
        await rooms.enter("a1")
    late = FakeSocket()
    rooms.track(late)
    assert late.closed is CloseReason.SERVER_SHUTDOWN
