"""ICE servers in the call protocol: every seated participant gets TURN credentials made
for it (welcome, admitted, resume); someone waiting gets none; without TURN, none."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from server.ice_servers import IceServers
from signalling import messages as wire
from signalling.effects import Effect, Send
from signalling.peers.ice_policy import rtc_ice_servers
from signalling.peers.participant import BotParticipant
from signalling.ports import JoinWindow, Member
from signalling.room import Room
from tests.calls.conftest import Bots, SignIn, book, family_link
from tests.calls.participant_waits import wait_knock, wait_message, wait_state
from tests.network.conftest import TurnServer

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
WINDOW = JoinWindow(T0 - timedelta(minutes=15), T0 + timedelta(hours=1))
HOST = Member("s:1", "Sari", "social_worker", is_staff=True)
GUARDIAN = Member("l:7", "Maija", "guardian", is_staff=False)
SECRET = b"0123456789abcdef0123"


def issued(participant: str, now: datetime) -> tuple[wire.IceServer, ...]:
    """A stand-in source that shows who the servers were made for, and when."""
    return (wire.IceServer(urls=("turn:t.example",), username=f"{now:%H%M%S}:{participant}",
                           credential="c"),)


def to(effects: list[Effect], pid: str, kind: type[wire.ServerMessage]) -> wire.ServerMessage:
    [message] = [e.message for e in effects
                 if isinstance(e, Send) and pid in e.to and isinstance(e.message, kind)]
    return message


def assert_valid_turn(server: wire.IceServer, participant: str, secret: bytes,
                      now: datetime, ttl: timedelta) -> None:
    """coturn's REST rule: ``<expiry>:<participant>`` and base64 HMAC-SHA1 of it."""
    assert server.username is not None and server.credential is not None
    expiry, _, who = server.username.partition(":")
    assert who == participant
    assert abs(int(expiry) - (now + ttl).timestamp()) <= 2
    digest = hmac.new(secret, server.username.encode(), hashlib.sha1).digest()
    assert server.credential == base64.b64encode(digest).decode()


# --- the pure Room ---------------------------------------------------------------------------


def test_room_gives_each_seated_participant_its_own_servers_at_that_moment() -> None:
    room = Room("a1", WINDOW, {"s:1"}, "s:1", reconnect_grace=timedelta(seconds=30),
                ice_servers=issued)
    start = T0
    welcome = to(room.join(HOST, start), "s:1", wire.Welcome)
    assert isinstance(welcome, wire.Welcome) and welcome.ice_servers is not None
    assert welcome.ice_servers[0].username == "100000:s:1"

    waiting = to(room.join(GUARDIAN, start + timedelta(seconds=5)), "l:7", wire.Welcome)
    assert isinstance(waiting, wire.Welcome) and waiting.ice_servers is None
    assert b"ice_servers" not in wire.encode(waiting)

    admitted = to(room.admit("s:1", "l:7", start + timedelta(seconds=9)), "l:7", wire.Admitted)
    assert isinstance(admitted, wire.Admitted) and admitted.ice_servers is not None
    assert admitted.ice_servers[0].username == "100009:l:7"

    room.disconnected("l:7", start + timedelta(seconds=10))
    assert admitted.resume_secret is not None
    resumed = to(room.resume("l:7", admitted.resume_secret, start + timedelta(seconds=12)),
                 "l:7", wire.Welcome)
    assert isinstance(resumed, wire.Welcome) and resumed.resumed
    assert resumed.ice_servers is not None and resumed.ice_servers[0].username == "100012:l:7"


def test_room_without_servers_sends_no_field() -> None:
    room = Room("a1", WINDOW, {"s:1"}, "s:1", reconnect_grace=timedelta(seconds=30))
    welcome = to(room.join(HOST, T0), "s:1", wire.Welcome)
    assert isinstance(welcome, wire.Welcome) and welcome.ice_servers is None
    assert b"ice_servers" not in wire.encode(welcome)


def test_ice_servers_put_stun_first_and_make_turn_credentials_per_participant() -> None:
    ttl = timedelta(hours=3)
    ice = IceServers(("turn:t.example:3478", "turns:t.example:443?transport=tcp"), SECRET,
                     ttl, ("stun:t.example:3478",))
    stun, turn = ice.for_participant("l:7", T0)
    assert stun == wire.IceServer(urls=("stun:t.example:3478",))
    assert turn.urls == ("turn:t.example:3478", "turns:t.example:443?transport=tcp")
    assert_valid_turn(turn, "l:7", SECRET, T0, ttl)
    assert ice.for_participant("l:8", T0)[1].credential != turn.credential
    assert IceServers((), None, ttl).for_participant("l:7", T0) == ()
    assert wire.encode(wire.Admitted(resume_secret="x" * 16, peers=(), ice_servers=(stun,))) \
        == b'{"type":"admitted","resume_secret":"xxxxxxxxxxxxxxxx","peers":[],' \
           b'"ice_servers":[{"urls":["stun:t.example:3478"]}]}'


# --- on a live server with coturn ---------------------------------------------------------------


async def test_welcome_and_admitted_carry_credentials_coturn_accepts_in_form(
    staff_client: SignIn, bots: Bots, turn: TurnServer
) -> None:
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    worker = await bots.staff("sanna", appointment)
    family = bots.family(await family_link(sanna, appointment))
    before = datetime.now(UTC)
    await worker.join()
    assert await family.join() == "waiting"
    assert family.server_ice_servers == ()
    await worker.admit(await wait_knock(worker))
    await wait_state(family, "admitted")

    ttl = timedelta(hours=3)
    secret = turn.secret.encode()
    for bot in (worker, family):
        [server] = bot.server_ice_servers
        assert server.urls == (turn.url,)
        assert bot.participant_id is not None
        assert_valid_turn(server, bot.participant_id, secret, before, ttl)
    admitted = await wait_message(family, wire.Admitted)
    assert admitted.ice_servers == family.server_ice_servers


@pytest.mark.turn_off
async def test_without_turn_nobody_gets_ice_servers(staff_client: SignIn, bots: Bots) -> None:
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    worker = await bots.staff("sanna", appointment)
    family = bots.family(await family_link(sanna, appointment))
    await worker.join()
    await family.join()
    await worker.admit(await wait_knock(worker))
    await wait_state(family, "admitted")
    welcome = await wait_message(worker, wire.Welcome)
    admitted = await wait_message(family, wire.Admitted)
    assert welcome.ice_servers is None and admitted.ice_servers is None
    assert worker.server_ice_servers == () == family.server_ice_servers


async def test_bot_puts_its_own_servers_first_or_ignores_the_servers_given() -> None:
    own = wire.IceServer(urls=("turn:mine.example",), username="u", credential="p")
    given = wire.IceServer(urls=("turn:kota.example",), username="1:l:7", credential="c")
    async with BotParticipant("http://127.0.0.1:1", ice_servers=rtc_ice_servers([own]),
                              relay_only=True) as both, \
            BotParticipant("http://127.0.0.1:1", ice_servers=rtc_ice_servers([own]),
                           use_server_ice=False) as mine:
        for bot in (both, mine):
            bot._take_ice_servers((given,))
        config = both.mesh.ice.configuration()
        assert [s.urls for s in config.iceServers or []] == [["turn:mine.example"],
                                                             ["turn:kota.example"]]
        assert config.iceTransportPolicy.value == "relay"
        config = mine.mesh.ice.configuration()
        assert [s.urls for s in config.iceServers or []] == [["turn:mine.example"]]
        assert config.iceTransportPolicy.value == "all"
