"""create_app(settings): the one place Kota's parts are wired together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web

from server.alive_mark import AliveMark
from server.app_keys import (
    AUDIT,
    BOOKING_DESK,
    BOOKING_THROTTLE,
    CALENDAR_FEEDS,
    CALL_ACCESS,
    CALL_SESSIONS,
    CALL_SOCKET_LIMITS,
    CALL_SOCKET_QUOTA,
    CLOCK,
    COALESCED_LOG,
    CONNECTION_TESTS,
    DB,
    HEARTBEAT,
    ICE_SERVERS,
    JOIN_THROTTLE,
    LINE_CALLBACKS,
    LINE_CATALOG,
    LINE_ENROLMENTS,
    LINE_HUB,
    LINKS,
    LOGIN_THROTTLE,
    METRICS,
    OUTBOX,
    PASSWORDS,
    RETENTION,
    ROOMS,
    SCHEDULER,
    SERVICE_CATALOG,
    SETTINGS,
    SIGNING_KEY,
)
from server.appointments import Scheduler
from server.audit import AuditLog
from server.audit_checkpoints import Checkpointer, open_chain
from server.booking import BookingDesk
from server.booking_links import BookingLinks
from server.booking_throttle import BookingThrottle
from server.calendar_feed import CalendarFeeds
from server.call_socket_quota import CallSocketQuota
from server.calls.access import CallAccess
from server.calls.sessions import CallSessions
from server.calls.store import CallStore
from server.coalesced_log import CoalescedLog
from server.connection_tests import ConnectionTests
from server.db import Database
from server.errors import error_middleware
from server.handlers import (
    access_report,
    appointments,
    attendance,
    audit_export,
    booking,
    calendar_feed,
    connection_test,
    health,
    join,
    line_ws,
    lines,
    links,
    metrics,
    pages,
    services,
    session,
    signalling_ws,
)
from server.handlers import reports as report_handlers
from server.handlers import travel as travel_handlers
from server.ice_servers import IceServers
from server.join_links import JoinLinks
from server.join_throttle import JoinThrottle
from server.join_tokens import SigningKey
from server.line_callbacks import LineCallbacks
from server.line_catalog import LineCatalog
from server.line_enrolments import LineEnrolments
from server.line_hub import LineHub
from server.message_plan import MessagePlan
from server.metrics import Metrics, count_errors
from server.outbox import Outbox
from server.passwords import PasswordChecker
from server.periodic import Periodic
from server.report_settling import SWEEP_SECONDS, settle_report_facts
from server.request_bodies import body_limit_middleware
from server.request_log import request_log_middleware
from server.retention import PersonalDataRemoval
from server.security_headers import add_security_headers
from server.service_catalog import ServiceCatalog
from server.settings import Settings
from server.staff_auth import session_middleware
from server.staff_throttle import LoginThrottle
from signalling.heartbeat import Heartbeat
from signalling.ports import RoomRules
from signalling.room_registry import RoomRegistry

logger = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings, clock: Callable[[], datetime] = utc_now) -> web.Application:
    app_metrics = Metrics(clock)  # this app's own registry (docs/metrics.md)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            request_log_middleware,
            body_limit_middleware,
            error_middleware,
            count_errors(app_metrics),
            session_middleware,
        ],
    )
    app[METRICS] = app_metrics
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[LOGIN_THROTTLE] = LoginThrottle()
    app[PASSWORDS] = PasswordChecker()
    app[JOIN_THROTTLE] = JoinThrottle()
    app[BOOKING_THROTTLE] = BookingThrottle(settings.booking_holds_per_hour)
    app[ICE_SERVERS] = IceServers.from_settings(settings)
    app[CALL_SOCKET_QUOTA] = CallSocketQuota(settings.max_call_sockets)
    app[COALESCED_LOG] = CoalescedLog()
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_outbox)
    app.cleanup_ctx.append(_calls)
    app.cleanup_ctx.append(_lines)
    app.cleanup_ctx.append(_booking_sweep)
    app.cleanup_ctx.append(_connection_tests)
    app.cleanup_ctx.append(_metrics)
    app.cleanup_ctx.append(_retention)
    app.cleanup_ctx.append(_report_settling)
    app.on_shutdown.append(_close_calls)
    app.on_shutdown.append(_close_lines)
    app.on_cleanup.append(_close_coalesced_log)
    for table in (
        health.routes,
        session.routes,
        appointments.routes,
        links.routes,
        join.routes,
        audit_export.routes,
        attendance.routes,
        signalling_ws.routes,
        connection_test.routes,
        services.routes,
        booking.routes,
        calendar_feed.routes,
        lines.routes,
        line_ws.routes,
        access_report.routes,
        travel_handlers.routes,  # organisation reports
        report_handlers.routes,
        metrics.routes,
    ):
        app.router.add_routes(table)
    pages.add_page_routes(app)
    return app


async def _storage(app: web.Application) -> AsyncIterator[None]:
    """Open the database (migrated), the signing key and the usage-log writer."""
    settings = app[SETTINGS]
    db = Database(settings.db_path)
    await db.open()
    try:
        await db.migrate()
        key = SigningKey.load_or_create(settings.signing_key_path)
        chain, checkpoint_log = await open_chain(db, settings)
        audit = AuditLog(db, app[CLOCK], chain,
                         spool_path=settings.data_dir / "audit-spool.jsonl")
        await audit.start()
        checkpoints = Checkpointer(db, checkpoint_log, chain, app[CLOCK],
                                   settings.audit_checkpoint_seconds)
        checkpoints.start()
        alive = AliveMark(db, audit, app[CLOCK], settings.alive_mark_seconds)
        await alive.start()
        links_ = JoinLinks(db, audit, key, settings.public_url, settings.join_grace)
        refusals = asyncio.create_task(_report_refusals(links_, app[CLOCK]),
                                       name="link-refusals")
        app[DB] = db
        app[SIGNING_KEY] = key
        app[AUDIT] = audit
        app[LINKS] = links_
        plan = MessagePlan.from_settings(settings)
        app[SCHEDULER] = Scheduler(db, audit, links_, settings.timezone, plan)
        app[BOOKING_DESK] = BookingDesk(db, audit, links_,
                                        BookingLinks(key, settings.public_url), plan,
                                        settings.timezone)
        app[SERVICE_CATALOG] = ServiceCatalog(db, audit, settings.timezone,
                                              app[BOOKING_DESK].forget_services)
        app[CALENDAR_FEEDS] = CalendarFeeds(db, audit, settings.timezone, settings.public_url)
        # Contact lines: set-up, families' own links and call-backs (docs/lines.md).
        app[LINE_CATALOG] = LineCatalog(db, audit, lambda line_id: lines.line_changed(app, line_id))
        app[LINE_ENROLMENTS] = LineEnrolments(db, audit, settings.public_url)
        app[LINE_CALLBACKS] = LineCallbacks(db, audit)
        logger.info("server.storage_ready", extra={"schema": await db.schema_version()})
        yield
        refusals.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refusals
        await alive.stop()
        links_.report_refusals()  # windows still open: their counts go in now
        await audit.stop()
        await checkpoints.stop()  # after the last rows: the shutdown checkpoint
    finally:
        await db.close()


async def _outbox(app: web.Application) -> AsyncIterator[None]:
    """The message worker, after storage: it settles what a killed server left mid-send,
    then sends what is due; each new message wakes it (docs/messages.md)."""
    outbox = Outbox.from_settings(app[DB], app[AUDIT], app[LINKS],
                                  BookingLinks(app[SIGNING_KEY], app[SETTINGS].public_url),
                                  app[SETTINGS], app[CLOCK])
    await outbox.start()
    app[OUTBOX] = outbox
    plan = app[SCHEDULER].plan
    plan.on_planned = outbox.wake
    yield
    plan.on_planned = lambda: None
    await outbox.stop()


# How often the counts of refused join links from windows that have closed are logged.
REFUSAL_REPORT_SECONDS = 10.0


async def _report_refusals(links: JoinLinks, clock: Callable[[], datetime]) -> None:
    while True:
        await asyncio.sleep(REFUSAL_REPORT_SECONDS)
        links.report_refusals(clock())


async def _calls(app: web.Application) -> AsyncIterator[None]:
    """The live rooms, after storage: their store writes through the database and audit log."""
    settings = app[SETTINGS]
    store = CallStore(app[DB], app[AUDIT], app[LINKS], settings, app[CLOCK])
    store.start()
    ice = app[ICE_SERVERS]
    ice.log_state()
    rules = RoomRules(settings.reconnect_grace, settings.max_participants, ice.for_participant,
                      settings.ice_transport_policy)
    app[ROOMS] = RoomRegistry(store, rules, app[CLOCK])
    app[SCHEDULER].queued_sessions = store.queued_sessions
    app[BOOKING_DESK].queued_sessions = store.queued_sessions
    app[CALL_SESSIONS] = CallSessions(app[SCHEDULER], store, app[ROOMS], settings)
    app[CALL_ACCESS] = CallAccess(app[DB], app[LINKS], app[AUDIT], app[CLOCK])
    app[HEARTBEAT] = heartbeat = Heartbeat(settings.ws_heartbeat_seconds)
    app[CALL_SOCKET_LIMITS] = signalling_ws.connection_limits(settings)
    heartbeat.start()
    yield
    heartbeat.stop()
    app[ROOMS].shutdown()  # in case on_shutdown did not run
    await store.stop()  # the held seats are saved for the next start


async def _lines(app: web.Application) -> AsyncIterator[None]:
    """The contact lines' live queues (docs/protocol-lines.md), after the calls' heartbeat;
    stopped before the usage log, so their last rows are written. A hub put in place
    before the start (a test's stand-in) is kept."""
    if LINE_HUB in app:
        yield
        return
    settings = app[SETTINGS]
    hub = LineHub(app[DB], app[AUDIT], app[ICE_SERVERS], settings.timezone, app[CLOCK],
                  ice_policy=settings.ice_transport_policy)
    await hub.start()
    app[LINE_HUB] = hub
    yield
    await hub.stop()


async def _close_lines(app: web.Application) -> None:
    """Close every line socket with 1001 before aiohttp stops handlers; queues are kept."""
    hub = app.get(LINE_HUB)
    if isinstance(hub, LineHub):
        hub.shutdown()


# How often held bookings past their hold are marked expired. They stop blocking their
# slot the moment the hold runs out; the sweep only records it (``booking.expired``).
BOOKING_SWEEP_SECONDS = 30.0


async def _booking_sweep(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_sweep_holds(app), name="booking-sweep")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _sweep_holds(app: web.Application) -> None:
    desk, clock = app[BOOKING_DESK], app[CLOCK]
    while True:
        await asyncio.sleep(BOOKING_SWEEP_SECONDS)
        try:
            await desk.expire_holds(clock())
        except Exception:
            logger.exception("booking.sweep_failed")


async def _connection_tests(app: web.Application) -> AsyncIterator[None]:
    """Echo peers for the pre-call test; all closed at shutdown."""
    settings = app[SETTINGS]
    tests = ConnectionTests(app[ICE_SERVERS], app[AUDIT], settings.echo_max_concurrent,
                            settings.echo_max_seconds, app[CLOCK])
    app[CONNECTION_TESTS] = tests
    yield
    await tests.close()


# -- metrics (docs/metrics.md) ---------------------------------------------------------------


async def _metrics(app: web.Application) -> AsyncIterator[None]:
    """Points the gauges at the rooms, lines and database, and opens the metrics port
    (``KOTA_METRICS_PORT``) when set; that port closes first at shutdown."""
    hub = app.get(LINE_HUB)
    app[METRICS].watch(rooms=app[ROOMS], lines=hub if isinstance(hub, LineHub) else None,
                       db=app[DB])
    settings = app[SETTINGS]
    runner = None
    if settings.metrics_port is not None:
        runner = await metrics.start_metrics_port(app[METRICS], settings.metrics_host,
                                                  settings.metrics_port)
    yield
    if runner is not None:
        await runner.cleanup()


# -- retention: personal data past KOTA_RETENTION_DAYS (docs/audit.md) --------------


async def _retention(app: web.Application) -> AsyncIterator[None]:
    """Removes personal data past its period at start and daily, never of an appointment
    whose call is still live; stopped before the usage log."""
    rooms = app[ROOMS]
    removal = PersonalDataRemoval(
        app[DB], app[AUDIT], app[CLOCK], timedelta(days=app[SETTINGS].retention_days),
        is_live=lambda appointment_id: rooms.get(str(appointment_id)) is not None)
    app[RETENTION] = removal
    removal.start()
    yield
    await removal.stop()


# -- the organisation report's settled facts (docs/reports.md) -----------------------


async def _report_settling(app: web.Application) -> AsyncIterator[None]:
    """Stores the report facts of appointments whose call is over, at start and hourly."""
    db, clock = app[DB], app[CLOCK]
    settling = Periodic("report.settle", lambda: settle_report_facts(db, clock()),
                        SWEEP_SECONDS)
    settling.start()
    yield
    await settling.stop()


async def _close_calls(app: web.Application) -> None:
    """Close every call socket with 1001 ``server_shutdown`` before aiohttp stops handlers."""
    app[ROOMS].shutdown()


async def _close_coalesced_log(app: web.Application) -> None:
    """Writes the counts of refusals and errors not yet logged."""
    app[COALESCED_LOG].close()
