"""ConnectionTests: the pre-call connection tests this server runs, within their limits.

Each test is one EchoPeer (signalling/peers/echo.py), which decodes and re-encodes the
caller's video: it costs real CPU, so tests are capped server-wide
(``KOTA_ECHO_MAX_CONCURRENT``), each lasts at most ``KOTA_ECHO_MAX_SECONDS`` from its
start, one caller runs one test at a time (a new one ends the previous, as after a page
reload) and starts at most ``MAX_STARTS`` per ``START_WINDOW``. A test's result may
arrive after the test ended; it goes to the usage log as numbers only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from server.audit import Action, Actor, AuditLog
from server.connection_verdict import Verdict, judge
from server.errors import Conflict, NotFound, TooManyRequests, Unavailable, Unprocessable
from server.ice_servers import IceServers
from signalling.messages import IceServer

# aiortc loads with the first test, so ``kota migrate`` and friends stay quick.
if TYPE_CHECKING:
    from signalling.peers.echo import EchoPeer

logger = logging.getLogger(__name__)

# A test's TURN credentials: its own length plus set-up time, and never over two minutes.
TURN_MARGIN = timedelta(seconds=30)
MAX_TEST_TURN_TTL = timedelta(minutes=2)

MAX_STARTS: Final = 10
START_WINDOW: Final = 600.0  # seconds
RESULT_GRACE: Final = 120.0  # seconds after a test ended that its result is still taken
MAX_ENDED_KEPT: Final = 1000


@dataclass(frozen=True)
class Caller:
    """Who runs a test: a family member by join link (``l:<id>``) or staff (``s:<id>``)."""

    key: str
    actor: Actor
    appointment_id: int | None = None
    subject_id: int | None = None


@dataclass(frozen=True)
class Measurements:
    """The caller's numbers; None where it could not measure (nothing came back)."""

    rtt_ms: float | None
    loss_pct: float | None
    jitter_ms: float | None
    bitrate_kbps: float | None
    relay_reachable: bool
    verdict: Verdict  # the caller's own verdict, from the thresholds it was given


class StartLimiter:
    """At most ``max_starts`` per caller in any ``window`` seconds. Pure: ``now`` is passed."""

    def __init__(self, max_starts: int = MAX_STARTS, window: float = START_WINDOW) -> None:
        self.max_starts = max_starts
        self.window = window
        self._starts: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may start again; 0 when it may start now."""
        starts = self._forget(key, now)
        if len(starts) < self.max_starts:
            return 0.0
        return starts[0] + self.window - now

    def started(self, key: str, now: float) -> None:
        self._forget(key, now).append(now)

    def _forget(self, key: str, now: float) -> deque[float]:
        """Drops starts older than the window, and callers with none left."""
        since = now - self.window
        for quiet in [k for k, v in self._starts.items() if not v or v[-1] <= since]:
            del self._starts[quiet]  # so memory is bounded by the recently active callers
        starts = self._starts.setdefault(key, deque())
        while starts and starts[0] <= since:
            starts.popleft()
        return starts


@dataclass(eq=False)
class ConnectionTest:
    id: str
    caller: Caller
    started_at: float  # event-loop seconds
    ends_by: float
    peer: EchoPeer | None = None
    ended_at: float | None = None
    result_posted: bool = False
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class ConnectionTests:
    def __init__(self, ice: IceServers, audit: AuditLog, max_concurrent: int,
                 max_seconds: float, clock: Callable[[], datetime],
                 limiter: StartLimiter | None = None) -> None:
        self.max_concurrent = max_concurrent
        self.max_seconds = max_seconds
        self._ice = ice
        self._audit = audit
        self._clock = clock
        self._limiter = limiter or StartLimiter()
        self._running: dict[str, ConnectionTest] = {}
        self._ended: OrderedDict[str, ConnectionTest] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        return len(self._running)

    def open(self, caller: Caller) -> ConnectionTest:
        """A new test for ``caller``, or TooManyRequests / Unavailable (both say when)."""
        now = asyncio.get_running_loop().time()
        wait = self._limiter.retry_after(caller.key, now)
        if wait > 0:
            raise TooManyRequests("connection_test_rate_limited",
                                  "Too many connection tests. Try again later.",
                                  retry_after=math.ceil(wait))
        for test in [t for t in self._running.values() if t.caller.key == caller.key]:
            self._end(test, "replaced")
        if len(self._running) >= self.max_concurrent:
            soonest = min((t.ends_by for t in self._running.values()),
                          default=now + self.max_seconds)  # 0 allowed: tests are off
            raise Unavailable("connection_test_busy",
                              "The connection test is busy. Try again in a moment.",
                              retry_after=max(1, math.ceil(soonest - now)))
        self._limiter.started(caller.key, now)
        test = ConnectionTest(secrets.token_urlsafe(16), caller, now, now + self.max_seconds)
        test.timer = asyncio.get_running_loop().call_later(self.max_seconds, self._end, test,
                                                           "timed_out")
        self._running[test.id] = test
        logger.info("connection_test.started", extra={"test": test.id, "caller": caller.key,
                                                       "running": len(self._running)})
        return test

    def ice_servers(self, test: ConnectionTest) -> tuple[IceServer, ...]:
        """The caller's ICE servers: TURN credentials in the caller's own name that live
        only as long as the test (anyone with a link may test, admitted or not)."""
        lifetime = min(timedelta(seconds=self.max_seconds) + TURN_MARGIN, MAX_TEST_TURN_TTL)
        return self._ice.for_participant(test.caller.key, self._clock(), lifetime)

    async def answer(self, test_id: str, caller: Caller, offer_sdp: str) -> str:
        """Start the echo peer on the caller's offer; the answer SDP."""
        from signalling.peers.echo import EchoPeer, EchoRefused
        from signalling.peers.ice_policy import IcePolicy, rtc_ice_servers

        test = self._running.get(test_id)
        if test is None or test.caller.key != caller.key:
            self._find(test_id, caller)  # 404 for a stranger, else:
            raise Conflict("connection_test_over", "This connection test has ended.")
        if test.peer is not None:
            raise Conflict("connection_test_answered", "This connection test has its offer.")
        remaining = test.ends_by - asyncio.get_running_loop().time()
        servers = self._ice.for_participant(f"echo:{test.id[:12]}", self._clock())
        test.peer = peer = EchoPeer(test.id, IcePolicy(tuple(rtc_ice_servers(servers))),
                                    max(remaining, 0.1), lambda _: self._end(test, "closed"))
        try:
            return await peer.answer(offer_sdp)
        except EchoRefused as exc:
            self._end(test, "bad_offer")
            raise Unprocessable("bad_offer", str(exc).capitalize() + ".") from None
        except ConnectionError:  # no candidate gathered on our side
            self._end(test, "no_candidates")
            raise Unavailable("connection_test_busy", "The connection test could not start. "
                              "Try again in a moment.", retry_after=5) from None
        except Exception:
            if test.ended_at is None:
                raise
            # Time ran out (or the caller started another test) while we answered.
            raise Conflict("connection_test_over", "This connection test has ended.") from None

    async def finish(self, test_id: str, caller: Caller, numbers: Measurements) -> Verdict:
        """Record the caller's numbers (ending the test if it still runs); our verdict."""
        test = self._find(test_id, caller)
        if test.result_posted:
            raise Conflict("connection_test_reported", "This test's result was already sent.")
        test.result_posted = True
        self._end(test, "reported")
        verdict = judge(numbers.rtt_ms, numbers.loss_pct, numbers.jitter_ms,
                        numbers.bitrate_kbps)
        detail: dict[str, int | float | str | bool] = {
            key: value for key, value in [
                ("rtt_ms", numbers.rtt_ms), ("loss_pct", numbers.loss_pct),
                ("jitter_ms", numbers.jitter_ms), ("bitrate_kbps", numbers.bitrate_kbps),
            ] if value is not None
        }
        detail.update(relay_reachable=numbers.relay_reachable, verdict=verdict.value)
        if numbers.verdict is not verdict:
            detail["client_verdict"] = numbers.verdict.value  # the client judged differently
        await self._audit.record(caller.actor, Action.CONNECTION_TEST_COMPLETED,
                                 caller.appointment_id, caller.subject_id, detail=detail)
        return verdict

    async def close(self) -> None:
        """At shutdown: end every test and wait for the peers to close."""
        for test in list(self._running.values()):
            self._end(test, "server_shutdown")
        await asyncio.gather(*self._closing, return_exceptions=True)

    # --- internals -------------------------------------------------------------------------

    def _find(self, test_id: str, caller: Caller) -> ConnectionTest:
        """A test of this caller's, running or recently ended; 404 for anyone else's."""
        test = self._running.get(test_id) or self._ended.get(test_id)
        now = asyncio.get_running_loop().time()
        if (test is None or test.caller.key != caller.key
                or (test.ended_at is not None and now - test.ended_at > RESULT_GRACE)):
            raise NotFound("connection_test_not_found", "No such connection test.")
        return test

    def _end(self, test: ConnectionTest, reason: str) -> None:
        """Frees the test's slot at once; its peer closes in the background."""
        if self._running.pop(test.id, None) is None:
            return
        loop = asyncio.get_running_loop()
        test.ended_at = loop.time()
        if test.timer is not None:
            test.timer.cancel()
        # An ended test is kept (for its result) without its peer, which holds the codecs.
        peer, test.peer = test.peer, None
        if peer is not None and not peer.closed:
            task = asyncio.ensure_future(peer.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        self._ended[test.id] = test
        while len(self._ended) > MAX_ENDED_KEPT:
            self._ended.popitem(last=False)
        logger.info("connection_test.ended", extra={
            "test": test.id, "reason": reason, "running": len(self._running),
            "duration_ms": round((test.ended_at - test.started_at) * 1000)})
