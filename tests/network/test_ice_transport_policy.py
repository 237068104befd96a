"""Relay-only ICE (``KOTA_ICE_TRANSPORT_POLICY=relay``): refused without TURN, told to every
seated participant next to its ICE servers and to the connection test, and honoured by
the aiortc bot, whose calls then go through coturn only."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from server.settings import Settings, SettingsError, load_settings
from signalling import messages as wire
from signalling.effects import Effect, Send
from signalling.peers.participant import BotParticipant
from signalling.ports import JoinWindow, Member
from signalling.room import Room
from tests.calls.conftest import Bots, SignIn, book, family_link
from tests.calls.participant_waits import wait_frames, wait_knock, wait_message, wait_state
from tests.network.conftest import TurnServer, write_secret

T0 = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
WINDOW = JoinWindow(T0 - timedelta(minutes=15), T0 + timedelta(hours=1))
HOST = Member("s:1", "Sari", "social_worker", is_staff=True)
GUARDIAN = Member("l:7", "Maija", "guardian", is_staff=False)


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Relay-only with this test's coturn; ``turn_off`` tests keep the default policy."""
    if request.node.get_closest_marker("turn_off") is not None:
        return settings
    return dataclasses.replace(settings, ice_transport_policy="relay")


def to(effects: list[Effect], pid: str, kind: type[wire.ServerMessage]) -> wire.ServerMessage:
    [message] = [e.message for e in effects
                 if isinstance(e, Send) and pid in e.to and isinstance(e.message, kind)]
    return message


def servers(participant: str, now: datetime) -> tuple[wire.IceServer, ...]:
    return (wire.IceServer(urls=("turn:t.example",), username=f"1:{participant}",
                           credential="c"),)


# --- the setting -----------------------------------------------------------------------------


@pytest.mark.turn_off
def test_relay_without_turn_urls_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"KOTA_ICE_TRANSPORT_POLICY": "relay"})
    message = str(caught.value)
    assert message.startswith("KOTA_ICE_TRANSPORT_POLICY: "), message
    assert "KOTA_TURN_URLS" in message


@pytest.mark.turn_off
@pytest.mark.parametrize("value", ["none", "relay-only", "turn", "1"])
def test_unknown_policy_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^KOTA_ICE_TRANSPORT_POLICY: expected all or"):
        load_settings({"KOTA_ICE_TRANSPORT_POLICY": value})


@pytest.mark.turn_off
def test_policy_defaults_to_all_and_reads_relay_with_turn(tmp_path: Path) -> None:
    assert load_settings({}).ice_transport_policy == "all"
    env = {"KOTA_TURN_URLS": "turn:turn.example.fi:3478",
           "KOTA_TURN_SECRET_FILE": str(write_secret(tmp_path, "s" * 32)),
           "KOTA_ICE_TRANSPORT_POLICY": " Relay "}
    assert load_settings(env).ice_transport_policy == "relay"


# --- the pure Room ---------------------------------------------------------------------------


@pytest.mark.turn_off
def test_relay_room_tells_every_seat_next_to_its_servers_and_nobody_waiting() -> None:
    room = Room("a1", WINDOW, {"s:1"}, "s:1", reconnect_grace=timedelta(seconds=30),
                ice_servers=servers, ice_transport_policy="relay")
    welcome = to(room.join(HOST, T0), "s:1", wire.Welcome)
    assert isinstance(welcome, wire.Welcome) and welcome.ice_transport_policy == "relay"
    assert b'"ice_transport_policy":"relay"' in wire.encode(welcome)

    waiting = to(room.join(GUARDIAN, T0), "l:7", wire.Welcome)
    assert b"ice_transport_policy" not in wire.encode(waiting)

    admitted = to(room.admit("s:1", "l:7", T0), "l:7", wire.Admitted)
    assert isinstance(admitted, wire.Admitted) and admitted.ice_transport_policy == "relay"

    room.disconnected("l:7", T0 + timedelta(seconds=1))
    resumed = to(room.resume("l:7", admitted.resume_secret, T0 + timedelta(seconds=2)),
                 "l:7", wire.Welcome)
    assert isinstance(resumed, wire.Welcome) and resumed.ice_transport_policy == "relay"


@pytest.mark.turn_off
def test_default_room_leaves_the_field_out() -> None:
    room = Room("a1", WINDOW, {"s:1"}, "s:1", reconnect_grace=timedelta(seconds=30),
                ice_servers=servers)
    welcome = to(room.join(HOST, T0), "s:1", wire.Welcome)
    assert b"ice_transport_policy" not in wire.encode(welcome)
    decoded = wire.decode_server(wire.encode(welcome))
    assert isinstance(decoded, wire.Welcome) and decoded.ice_transport_policy == "all"


# --- on a live server ------------------------------------------------------------------------


async def _start_connection_test(kota: TestServer, staff_client: SignIn) -> dict[str, object]:
    sanna = await staff_client("sanna")
    async with sanna.post("/api/connection-test", json={}) as resp:
        assert resp.status == 201, await resp.text()
        body: dict[str, object] = await resp.json()
        return body


async def test_connection_test_start_carries_the_relay_policy(
    kota: TestServer, staff_client: SignIn, turn: TurnServer
) -> None:
    body = await _start_connection_test(kota, staff_client)
    assert body["ice_transport_policy"] == "relay"
    assert body["ice_servers"], "relay-only needs the TURN server in the list"


@pytest.mark.turn_off
async def test_connection_test_start_says_all_by_default(
    kota: TestServer, staff_client: SignIn
) -> None:
    body = await _start_connection_test(kota, staff_client)
    assert body["ice_transport_policy"] == "all"


async def test_bots_honour_the_servers_relay_policy(
    staff_client: SignIn, bots: Bots, turn: TurnServer
) -> None:
    """Neither bot asks for relay-only itself: the server's policy makes them."""
    sanna = await staff_client("sanna")
    appointment = await book(sanna)
    worker = await bots.staff("sanna", appointment, tint=0)
    family = bots.family(await family_link(sanna, appointment), tint=1)
    await worker.join()
    await family.join()
    await worker.admit(await wait_knock(worker))
    await wait_state(family, "admitted")
    assert (await wait_message(family, wire.Admitted)).ice_transport_policy == "relay"
    assert family.participant_id and worker.participant_id
    await wait_frames(family, worker.participant_id, 5)
    await wait_frames(worker, family.participant_id, 5)
    for bot in (worker, family):
        assert bot.mesh.ice.relay_only
    assert worker.links[family.participant_id].route() == ("relay", "relay")
    assert family.links[worker.participant_id].route() == ("relay", "relay")


@pytest.mark.turn_off
async def test_bot_with_its_own_servers_only_ignores_the_policy() -> None:
    """``use_server_ice=False`` (a bot given its own route) is not bound by the server;
    a bot that asked for relay-only itself stays relay-only."""
    async with BotParticipant("http://127.0.0.1:1", use_server_ice=False) as own, \
            BotParticipant("http://127.0.0.1:1", relay_only=True) as strict:
        own._take_ice_servers(servers("l:7", T0), "relay")
        assert not own.mesh.ice.relay_only
        own.use_server_ice = True
        own._take_ice_servers(servers("l:7", T0), "relay")
        assert own.mesh.ice.relay_only
        own._take_ice_servers(servers("l:7", T0), "all")
        assert not own.mesh.ice.relay_only
        strict._take_ice_servers(servers("l:7", T0), "all")
        assert strict.mesh.ice.relay_only
