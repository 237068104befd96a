"""Typed keys for the state ``create_app`` puts on the application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from server.appointments import Scheduler
from server.audit import AuditLog
from server.booking import BookingDesk
from server.booking_throttle import BookingThrottle
from server.calendar_feed import CalendarFeeds
from server.call_socket_quota import CallSocketQuota
from server.calls.access import CallAccess
from server.calls.sessions import CallSessions
from server.coalesced_log import CoalescedLog
from server.connection_tests import ConnectionTests
from server.db import Database
from server.ice_servers import IceServers
from server.join_links import JoinLinks
from server.join_throttle import JoinThrottle
from server.join_tokens import SigningKey
from server.line_callbacks import LineCallbacks
from server.line_catalog import LineCatalog
from server.line_enrolments import LineEnrolments
from server.line_hub import LineHub
from server.metrics import Metrics
from server.outbox import Outbox
from server.passwords import PasswordChecker
from server.service_catalog import ServiceCatalog
from server.settings import Settings
from server.staff_throttle import LoginThrottle
from signalling.connection import ConnectionLimits
from signalling.heartbeat import Heartbeat
from signalling.room_registry import RoomRegistry

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
AUDIT = web.AppKey("audit", AuditLog)
SIGNING_KEY = web.AppKey("signing_key", SigningKey)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
SCHEDULER = web.AppKey("scheduler", Scheduler)
LINKS = web.AppKey("links", JoinLinks)
ROOMS = web.AppKey("rooms", RoomRegistry)
CALL_ACCESS = web.AppKey("call_access", CallAccess)
CALL_SESSIONS = web.AppKey("call_sessions", CallSessions)
CALL_SOCKET_LIMITS = web.AppKey("call_socket_limits", ConnectionLimits)
HEARTBEAT = web.AppKey("heartbeat", Heartbeat)
ICE_SERVERS = web.AppKey("ice_servers", IceServers)
CONNECTION_TESTS = web.AppKey("connection_tests", ConnectionTests)
CALL_SOCKET_QUOTA = web.AppKey("call_socket_quota", CallSocketQuota)
# Events that come in floods (refusals at a cap, a repeated loop error): a line per interval.
COALESCED_LOG = web.AppKey("coalesced_log", CoalescedLog)
PASSWORDS = web.AppKey("passwords", PasswordChecker)
JOIN_THROTTLE = web.AppKey("join_throttle", JoinThrottle)
BOOKING_DESK = web.AppKey("booking_desk", BookingDesk)
SERVICE_CATALOG = web.AppKey("service_catalog", ServiceCatalog)
BOOKING_THROTTLE = web.AppKey("booking_throttle", BookingThrottle)
OUTBOX = web.AppKey("outbox", Outbox)
CALENDAR_FEEDS = web.AppKey("calendar_feeds", CalendarFeeds)
# Contact lines: the admin's catalog, families' own links, call-backs.
LINE_CATALOG = web.AppKey("line_catalog", LineCatalog)
LINE_ENROLMENTS = web.AppKey("line_enrolments", LineEnrolments)
LINE_CALLBACKS = web.AppKey("line_callbacks", LineCallbacks)
LINE_HUB = web.AppKey("line_hub", LineHub)
# Metrics: the app's own Prometheus registry (docs/metrics.md).
METRICS = web.AppKey("metrics", Metrics)
