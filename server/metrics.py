"""Metrics: what Prometheus scrapes from Kota (docs/metrics.md lists every one).

Each app owns its own ``CollectorRegistry`` — never prometheus-client's global one — so
tests that start many apps in one process never see each other's numbers. Counters move
at the event (an admission, a relayed message, an error sent, a connection-test verdict,
a database call); gauges are computed when scraped, from the live rooms, the lines'
queues and one count of the outbox, so keeping them costs nothing between scrapes.

Labels never carry ids of people, appointments or tokens, nor names: a line is labelled
by its numeric id (the id of a line names nobody, where a personal line's name or slug
may name its professional), a message by its wire type, an error by its stable code.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Final, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from server.connection_verdict import Verdict
from server.db import Database, StorageError
from server.errors import LONG_LIVED_PATHS, ApiError, storage_refusal
from server.records import MessageState
from server.request_log import Handler
from signalling.line_desk import LineDesk
from signalling.room_registry import RoomRegistry

logger = logging.getLogger(__name__)

# The classic text format (generate_latest writes it), which every Prometheus reads.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
# Client messages a room relays (signalling/room_registry.py counts them).
RELAYED_TYPES: Final = ("signal", "chat", "message-waiting", "reply")
# SQLite on a local disk: most reads well under a millisecond, a write transaction a few.
DB_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                     2.5, 5.0)


class Lines(Protocol):
    """What the line gauges read: the LineHub's desk (server/line_hub.py)."""

    @property
    def desk(self) -> LineDesk: ...


class Metrics:
    """One app's metrics: the counters, the scrape-time gauges, and the text format."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self.admissions = Counter(
            "kota_admissions", "People admitted from a call's waiting room.",
            registry=self.registry)
        self.errors = Counter(
            "kota_errors", "Errors sent to clients (API error codes and call-socket "
            "error codes), by code.", ["code"], registry=self.registry)
        self.connection_tests = Counter(
            "kota_connection_tests", "Connection tests finished, by the server's verdict.",
            ["verdict"], registry=self.registry)
        for verdict in Verdict:
            self.connection_tests.labels(verdict.value)
        self._live = LiveGauges(clock)
        # Relayed messages are the one hot count (hundreds per call): a plain int per type,
        # no lock (one event loop), turned into a counter when scraped.
        self.relayed_counts = self._live.relayed
        self.db_timed = self._live.db_seconds.observe  # the database's hook (Database.timed)
        self.registry.register(self._live)

    # --- wiring -----------------------------------------------------------------------------

    def watch(self, *, rooms: RoomRegistry | None = None, lines: Lines | None = None,
              db: Database | None = None) -> None:
        """The sources of the scrape-time gauges; a database's calls are timed from now."""
        if rooms is not None:
            self._live.rooms = rooms
            rooms.observer = self
        if lines is not None:
            self._live.lines = lines
        if db is not None:
            self._live.db = db
            db.timed = self.db_timed

    # --- counted at the event -----------------------------------------------------------

    def relayed(self, message_type: str) -> None:
        counts = self.relayed_counts
        if message_type in counts:
            counts[message_type] += 1

    def admitted(self) -> None:
        self.admissions.inc()

    def refused(self, code: str) -> None:
        self.errors.labels(code).inc()

    def connection_tested(self, verdict: Verdict) -> None:
        self.connection_tests.labels(verdict.value).inc()

    # --- the scrape -----------------------------------------------------------------------

    async def scrape(self) -> bytes:
        """The text format; the outbox is counted first (the one gauge that reads the disk)."""
        await self._live.count_outbox()
        return generate_latest(self.registry)


class LiveGauges(Collector):
    """Gauges computed at scrape time from the live state; nothing kept between scrapes."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.rooms: RoomRegistry | None = None
        self.lines: Lines | None = None
        self.db: Database | None = None
        self._outbox: dict[str, int] = {}
        self.relayed = dict.fromkeys(RELAYED_TYPES, 0)
        self.db_seconds = Timings(("read", "write"), DB_BUCKETS)

    async def count_outbox(self) -> None:
        if self.db is None:
            return
        try:
            self._outbox = await self.db.count_outbox_by_state()
        except Exception:  # a scrape must not fail for one gauge; the rest still tells
            logger.exception("metrics.outbox_count_failed")
            self._outbox = {}

    def describe(self) -> Iterable[Metric]:
        return []  # computed at scrape time; the registry must not call collect() early

    def collect(self) -> Iterator[Metric]:
        relayed = CounterMetricFamily("kota_relayed_messages",
                                      "Call messages passed on to others, by wire type.",
                                      labels=["type"])
        for kind, count in self.relayed.items():
            relayed.add_metric([kind], count)
        yield relayed
        yield self.db_seconds.family("kota_db_seconds",
                                     "Database reads and write transactions, in seconds.", "op")
        yield from self._calls()
        yield from self._lines()
        backlog = GaugeMetricFamily("kota_outbox_backlog",
                                    "Outbox messages (invitations, reminders) by state.",
                                    labels=["state"])
        for state in MessageState:
            backlog.add_metric([state.value], self._outbox.get(state.value, 0))
        yield backlog

    def _calls(self) -> Iterator[Metric]:
        live = self.rooms.rooms() if self.rooms is not None else []
        seated = sum(len(room.connected()) for room in live)
        waiting = sum(len(room.room.waiting) for room in live)
        yield GaugeMetricFamily("kota_rooms", "Calls with a live room on this server.",
                                value=len(live))
        yield GaugeMetricFamily("kota_call_participants",
                                "People in calls with a connected socket, staff included.",
                                value=seated)
        yield GaugeMetricFamily("kota_waiting_people", "People in calls' waiting rooms.",
                                value=waiting)

    def _lines(self) -> Iterator[Metric]:
        length = GaugeMetricFamily("kota_line_queue_length",
                                   "People queueing on a contact line, by line id.",
                                   labels=["line"])
        longest = GaugeMetricFamily("kota_line_longest_wait_seconds",
                                    "How long the first person in a line's queue has waited.",
                                    labels=["line"])
        if self.lines is not None:
            board, now = self.lines.desk.board, self._clock()
            for line_id in sorted(board.line_ids()):
                queue = board.queue(line_id)
                waited = max(((now - e.joined_at).total_seconds() for e in queue), default=0.0)
                length.add_metric([str(line_id)], len(queue))
                longest.add_metric([str(line_id)], max(waited, 0.0))
        yield length
        yield longest


class Timings:
    """A histogram kept as plain ints (one event loop, so no lock): the database is timed
    on every query, where prometheus-client's locked Histogram would cost more than the
    ``perf_counter`` pair itself. Exported as a histogram when scraped."""

    def __init__(self, kinds: Iterable[str], buckets: Sequence[float]) -> None:
        self._bounds = tuple(buckets)
        self._counts = {kind: [0] * (len(self._bounds) + 1) for kind in kinds}
        self._sums = dict.fromkeys(self._counts, 0.0)

    def observe(self, kind: str, seconds: float) -> None:
        self._counts[kind][bisect_left(self._bounds, seconds)] += 1
        self._sums[kind] += seconds

    def family(self, name: str, documentation: str, label: str) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, documentation, labels=[label])
        for kind, counts in self._counts.items():
            running, buckets = 0, []
            for bound, count in zip((*map(floatToGoString, self._bounds), "+Inf"), counts,
                                    strict=True):
                running += count
                buckets.append((bound, running))
            family.add_metric([kind], buckets, self._sums[kind])
        return family


def count_errors(metrics: Metrics) -> Middleware:
    """Middleware (just inside the error middleware): counts each API error by its code.

    The call socket's route is left alone, as by the error middleware: its errors are
    counted where the socket sends them (``Connection._refuse``).
    """

    @web.middleware
    def middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        if request.path in LONG_LIVED_PATHS:
            return handler(request)  # no frame of ours for as long as the socket lives
        return counting(request, handler)

    async def counting(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            metrics.refused(exc.code)
            raise
        except StorageError as exc:
            metrics.refused(storage_refusal(exc).code)
            raise
        except (web.HTTPException, ConnectionResetError):
            raise
        except Exception:
            metrics.refused("internal")
            raise

    return middleware
