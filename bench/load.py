"""The load generator: C clients in pairs that join, exchange an offer/answer, then relay.

One process, one event loop, RawWebSocket sockets. Each pair is a staff client and a
family client. A join flow (bench/join_flows.py) connects a pair the way its server
wants; from then on both servers see the same messages: the staff client offers, the
family client answers, each sends ten candidates, and then the relay phases send small
candidate signals (or chat lines) back and forth. Every relayed message is checked on
arrival for the right recipient, the right sender and its place in the sender's sequence.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bench.payloads import CANDIDATES_PER_SIDE, Outbox, Template, read_marker
from bench.raw_websocket import RawWebSocket
from bench.server_process import CpuSample

RELAYED = (b'{"type":"signal"', b'{"type":"chat"')  # how both servers start a relayed one
EXCHANGE_MESSAGES = 1 + CANDIDATES_PER_SIDE  # offer or answer, then the candidates
CONTROL_TIMEOUT = 30.0
DRAIN_TIMEOUT = 15.0


class LoadError(Exception):
    """The server refused or dropped a client where the benchmark expected it to go on."""


class JoinFlow(Protocol):
    """How a pair gets into a call on one server, and how it chats there."""

    async def join(self, fleet: Fleet, staff: BenchClient, family: BenchClient) -> float:
        """Connect and join both; return the family's join time in seconds."""

    def chat(self, to: str) -> Template:
        """A chat line to ``to`` with the marker in its text."""


class BenchClient:
    """One socket: answers the exchange, echoes in the closed loop, checks what arrives."""

    def __init__(self, fleet: Fleet, pair: int, label: str) -> None:
        self.fleet = fleet
        self.pair = pair
        self.label = label.encode()
        self.pid = ""  # the server's id for this client, learnt during the join
        self.peer: BenchClient | None = None
        self.outbox: Outbox | None = None
        self.ws: RawWebSocket | None = None
        self.control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._expect_from = b""
        self._next_in = 0
        self._next_out = 0
        self._exchange_got = 0
        self.exchanged: asyncio.Future[None] | None = None

    async def open(self, path: str, headers: Mapping[str, str] | None = None) -> None:
        self.ws = await RawWebSocket.connect(
            self.fleet.host, self.fleet.port, path, self.on_message, headers
        )
        self.ws.closed.add_done_callback(self._on_closed)

    def _on_closed(self, closed: asyncio.Future[int]) -> None:
        if not self.fleet.closing:
            self.fleet.dropped.append(closed.result())
        self.control.put_nowait({"type": "closed", "code": closed.result()})

    def send_json(self, message: Mapping[str, Any]) -> None:
        assert self.ws is not None
        self.ws.send(json.dumps(message, separators=(",", ":")).encode())

    async def expect(self, kind: str) -> dict[str, Any]:
        """The next control message of type ``kind``; other facts are passed over."""
        while True:
            try:
                message = await asyncio.wait_for(self.control.get(), CONTROL_TIMEOUT)
            except TimeoutError:
                raise LoadError(f"{self.label.decode()}: no {kind!r} in time") from None
            if message.get("type") == kind:
                return message
            if message.get("type") in ("error", "closed"):
                raise LoadError(f"{self.label.decode()}: waiting for {kind!r}, got {message}")

    def meet(self, peer: BenchClient) -> None:
        """Both ids are known: build every message this client will send its peer."""
        self.peer = peer
        chat = self.fleet.flow.chat(peer.pid) if self.fleet.relay == "chat" else None
        self.outbox = Outbox(peer.pid, chat)
        self._expect_from = b'"from":"%s"' % peer.pid.encode()
        self.exchanged = asyncio.get_running_loop().create_future()

    def send_signal(self, template: Template) -> None:
        assert self.ws is not None and self.peer is not None
        seq = self._next_out
        self._next_out = seq + 1
        self.fleet.sent += 1
        self.ws.send(template.render(self.peer.label, seq, time.monotonic_ns()))

    def start_exchange(self) -> None:
        """The staff side offers, then trickles its candidates, as a browser does."""
        assert self.outbox is not None
        self.send_signal(self.outbox.offer)
        for template in self.outbox.candidates:
            self.send_signal(template)

    def on_message(self, data: bytes) -> None:
        if not data.startswith(RELAYED):
            self._on_control(data)
            return
        seq = self.check(data)
        if seq is None:
            return
        if self.fleet.echo:
            assert self.outbox is not None
            self.send_signal(self.outbox.small)
        elif self.exchanged is not None and not self.exchanged.done():
            self._exchange_step(seq)

    def check(self, data: bytes) -> int | None:
        """Counts one relayed message and whatever is wrong with it; returns its seq."""
        now = time.monotonic_ns()
        fleet = self.fleet
        marker = read_marker(data)
        if marker is None:
            fleet.unmarked += 1
            return None
        recipient, seq, sent_ns = marker
        if recipient != self.label or self._expect_from not in data:
            fleet.misrouted += 1
        if seq != self._next_in:
            fleet.out_of_order += 1
        self._next_in = seq + 1
        fleet.received += 1
        if fleet.drained is not None and fleet.received >= fleet.sent:
            fleet.drained.set()
        if fleet.recording:
            fleet.latencies_ns.append(now - sent_ns)
        return seq

    def _exchange_step(self, seq: int) -> None:
        assert self.outbox is not None and self.exchanged is not None
        if seq == 0 and self.pair_role == "family":  # the offer: answer, then candidates
            self.send_signal(self.outbox.answer)
            for template in self.outbox.candidates:
                self.send_signal(template)
        self._exchange_got += 1
        if self._exchange_got == EXCHANGE_MESSAGES:
            self.exchanged.set_result(None)

    @property
    def pair_role(self) -> str:
        return "staff" if self.label.endswith(b"s") else "family"

    def _on_control(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            self.fleet.unmarked += 1
            return
        if not isinstance(message, dict):
            self.fleet.unmarked += 1
            return
        if message.get("type") == "error":
            self.fleet.errors.append(str(message.get("code")))
        self.control.put_nowait(message)


@dataclass(frozen=True)
class JoinStats:
    join_s: list[float]  # per family: hello sent → admitted (Kota) or registered (floor)
    exchange_s: list[float]  # per pair: offer sent → both sides have all 11 messages
    wall_s: float

    def __add__(self, other: JoinStats) -> JoinStats:
        return JoinStats(self.join_s + other.join_s, self.exchange_s + other.exchange_s,
                         self.wall_s + other.wall_s)


@dataclass(frozen=True)
class RelayStats:
    """One relay phase, measured over its window (warm-up and drain excluded)."""

    messages: int
    window_s: float
    cpu: CpuSample  # used during the window
    loadgen_cpu_s: float
    latencies_ns: list[int]
    lost: int

    @property
    def rate(self) -> float:
        return self.messages / self.window_s if self.window_s else 0.0


class Fleet:
    """All clients of one run, the counters they share and the phases that drive them."""

    def __init__(
        self, host: str, port: int, flow: JoinFlow, pairs: int, relay: str = "signal"
    ) -> None:
        self.host = host
        self.port = port
        self.flow = flow
        self.relay = relay  # what the relay phases send: "signal" or "chat"
        self.pairs = [
            (BenchClient(self, i, f"{i}s"), BenchClient(self, i, f"{i}f")) for i in range(pairs)
        ]
        self.sent = 0
        self.received = 0
        self.misrouted = 0
        self.out_of_order = 0
        self.unmarked = 0
        self.errors: list[str] = []  # codes of ``error`` messages the server sent
        self.dropped: list[int] = []  # close codes of sockets the server closed mid-run
        self.closing = False
        self.drained: asyncio.Event | None = None  # set once all sent have arrived
        self.echo = False
        self.recording = False
        self.latencies_ns: list[int] = []

    @property
    def clients(self) -> list[BenchClient]:
        return [client for pair in self.pairs for client in pair]

    @property
    def lost(self) -> int:
        return self.sent - self.received


    # -- join and exchange ---------------------------------------------------------------

    async def join(self, concurrency: int, pairs: slice = slice(None)) -> JoinStats:
        """Join the pairs (``concurrency`` at a time), each doing its exchange once in."""
        gate = asyncio.Semaphore(concurrency)
        join_s: list[float] = []
        exchange_s: list[float] = []

        async def one(staff: BenchClient, family: BenchClient) -> None:
            async with gate:
                join_s.append(await self.flow.join(self, staff, family))
                staff.meet(family)
                family.meet(staff)
                started = time.perf_counter()
                staff.start_exchange()
                assert staff.exchanged is not None and family.exchanged is not None
                try:
                    await asyncio.wait_for(
                        asyncio.gather(staff.exchanged, family.exchanged), CONTROL_TIMEOUT
                    )
                except TimeoutError:
                    raise LoadError(f"pair {staff.pair}: exchange did not finish") from None
                exchange_s.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(one(s, f) for s, f in self.pairs[pairs]))
        return JoinStats(join_s, exchange_s, time.perf_counter() - started)

    # -- relay phases --------------------------------------------------------------------

    async def closed_loop(
        self, seconds: float, warmup: float, in_flight: int, probe: Callable[[], CpuSample]
    ) -> RelayStats:
        """Each client keeps ``in_flight`` signals travelling to its peer: peak throughput."""
        self.echo = True
        for client in self.clients:
            assert client.outbox is not None
            for _ in range(in_flight):
                client.send_signal(client.outbox.small)
        return await self._measure(seconds, warmup, probe, sender=None)

    async def paced(
        self, rate: float, seconds: float, warmup: float, probe: Callable[[], CpuSample]
    ) -> RelayStats:
        """Signals at a fixed total ``rate``, spread over all clients: latency under load."""
        return await self._measure(seconds, warmup, probe, sender=self._pace(rate))

    async def _pace(self, rate: float) -> None:
        clients = self.clients
        loop = asyncio.get_running_loop()
        start, done, i = loop.time(), 0, 0
        while True:
            due = int((loop.time() - start) * rate)
            while done < due:
                client = clients[i]
                assert client.outbox is not None
                client.send_signal(client.outbox.small)
                done += 1
                i = (i + 1) % len(clients)
            await asyncio.sleep(0.001)

    async def _measure(
        self,
        seconds: float,
        warmup: float,
        probe: Callable[[], CpuSample],
        sender: Any,
    ) -> RelayStats:
        pacer = asyncio.ensure_future(sender) if sender is not None else None
        try:
            await asyncio.sleep(warmup)
            self.latencies_ns = []
            self.recording = True
            received, cpu, own, t0 = self.received, probe(), time.process_time(), time.monotonic()
            await asyncio.sleep(seconds)
            t1 = time.monotonic()
            messages, cpu_used = self.received - received, probe() - cpu
            own_used = time.process_time() - own
            self.recording = False
        finally:
            self.echo = False
            if pacer is not None:
                pacer.cancel()
        lost = await self.drain()
        return RelayStats(messages, t1 - t0, cpu_used, own_used, self.latencies_ns, lost)

    async def drain(self) -> int:
        """Wait for every message in flight; what never arrives is lost."""
        if self.received < self.sent:
            self.drained = asyncio.Event()
            try:
                await asyncio.wait_for(self.drained.wait(), DRAIN_TIMEOUT)
            except TimeoutError:
                pass
            finally:
                self.drained = None
        return self.lost

    async def close(self) -> None:
        self.closing = True
        for client in self.clients:
            if client.ws is not None:
                client.ws.close()
        waiting = [c.ws.closed for c in self.clients if c.ws is not None]
        if waiting:
            _, pending = await asyncio.wait(waiting, timeout=10)
            for client in self.clients:
                if client.ws is not None and client.ws.closed in pending:
                    client.ws.abort()
