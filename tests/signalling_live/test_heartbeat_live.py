"""The server's heartbeat: one sweep pings every call socket; silence ends the socket.

Every socket here is a real aiohttp client against a real server. Clients made with
``autoping=False`` see the server's pings as messages and decide whether to answer.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import WSMsgType

from server.settings import Settings
from tests.signalling_live.conftest import Call, CallClient, sweeps, wait_for_row, ws_url
from tests.signalling_live.test_mesh_live import OFFER


async def _manual_socket(call: Call) -> CallClient:
    """A family socket whose client does not answer pings by itself."""
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(ws_url(call.kota), autoping=False)
    client = CallClient(ws, session, own_session=True)
    call.clients.append(client)
    return client


async def _next_frame(client: CallClient) -> aiohttp.WSMessage:
    return await asyncio.wait_for(client.ws.receive(), 5)


@pytest.mark.call_settings(ws_heartbeat_seconds=1)
async def test_the_server_pings_a_waiting_client_every_interval(call: Call) -> None:
    guest = await _manual_socket(call)
    assert (await guest.hello(token=call.tokens[0]))["state"] == "waiting"
    started, pings = time.monotonic(), 0
    while pings < 3:
        msg = await _next_frame(guest)
        if msg.type is WSMsgType.PING:
            pings += 1
            await guest.ws.pong(msg.data)
    assert 1.5 < time.monotonic() - started < 5  # about one a second
    await guest.probe()  # still connected, and nothing else arrived meanwhile


@pytest.mark.call_settings(ws_heartbeat_seconds=1)
async def test_a_quiet_client_that_answers_pings_keeps_its_seat(call: Call) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    # aiohttp clients answer pings while they read; both read and neither sends.
    host_hears, guest_hears = asyncio.create_task(host.recv()), asyncio.create_task(guest.recv())
    await sweeps(ws_url(call.kota), 3)  # each of the two had to answer all three
    assert not host_hears.done() and not guest_hears.done()  # no peer-disconnected either
    await host.send("signal", to=guest.participant, payload=OFFER)
    await guest.send("signal", to=host.participant, payload=OFFER)
    assert (await guest_hears)["from"] == host.participant
    assert (await host_hears)["from"] == guest.participant


@pytest.mark.call_settings(ws_heartbeat_seconds=1)
async def test_a_client_that_stops_answering_is_dropped_and_its_seat_held(
    call: Call, settings: Settings
) -> None:
    host = await call.staff()
    guest = await _manual_socket(call)
    await guest.hello(token=call.tokens[0])
    await host.until("knocked")
    await host.send("admit", participant=call.guest_id(0))
    await guest.expect("admitted")
    started = time.monotonic()
    gone = await asyncio.wait_for(
        host.until("peer-disconnected", participant=guest.participant), 6)
    assert 1 <= time.monotonic() - started <= 4  # one to two intervals, plus scheduling
    assert gone["until"]  # the seat is held for a resume
    await wait_for_row(settings, call.id, "call.disconnected", reason="connection_lost")


async def test_a_clients_ping_is_answered_with_its_payload(call: Call) -> None:
    guest = await _manual_socket(call)
    await guest.hello(token=call.tokens[0])
    await guest.ws.ping(b"are you there")
    msg = await _next_frame(guest)
    assert (msg.type, msg.data) == (WSMsgType.PONG, b"are you there")
    await guest.probe()


@pytest.mark.call_settings(ws_rate_per_second=5, ws_burst=10)
async def test_a_ping_flood_is_rate_limited_like_any_other(
    call: Call, settings: Settings
) -> None:
    host = await call.staff()
    guest = await call.admitted_guest(host, 0)
    for _ in range(30):
        await guest.ws.ping(b"x")
    assert (await guest.until("error"))["code"] == "rate_limited"
    assert await guest.closed() == 4007
    await wait_for_row(settings, call.id, "call.disconnected", reason="flooding")


async def test_an_oversized_ping_is_a_protocol_error_and_spares_the_call(call: Call) -> None:
    """Control frames carry at most 125 bytes (RFC 6455, 5.5): a bigger ping ends only
    the socket that sent it."""
    host = await call.staff()
    guest = await _manual_socket(call)
    await guest.hello(token=call.tokens[0])
    await host.until("knocked")
    await guest.ws.ping(b"x" * 200)
    msg = await _next_frame(guest)
    assert (msg.type, msg.data) == (WSMsgType.CLOSE, 1002), msg
    await host.until("waiting-list", waiting=[])  # the guest left the queue
    await host.probe()
