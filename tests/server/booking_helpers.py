"""Booking test helpers: a service set up through the admin API, a frozen Monday, and the
confirm and manage links as the outbox would send them."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from server.booking_links import BookingLinks
from server.db import parse_db_time
from server.join_tokens import SigningKey
from server.records import AppointmentKind, Booking, BookingState, Delivery, Language
from server.settings import Settings, load_settings
from tests.conftest import Accounts, StaffClient, free_port
from tests.server.conftest import Clock, SignIn

HELSINKI = ZoneInfo("Europe/Helsinki")
# A Monday morning in winter (UTC+2): the tests' clock is set here (and flows on).
MONDAY = datetime(2027, 1, 4, 7, 30, tzinfo=HELSINKI)
SLUG = "perheneuvola-inari"


def messaging_env(tmp_path: Path) -> dict[str, str]:
    """E-mail and SMS switched on, towards loopback ports where nothing listens: holds are
    taken (a confirm link can go), and the sends simply fail and are retried."""
    secret = tmp_path / "sms-secret"
    secret.write_text("s" * 32)
    secret.chmod(0o600)
    return {"KOTA_SMTP_HOST": "127.0.0.1", "KOTA_SMTP_PORT": str(free_port()),
            "KOTA_SMTP_SECURITY": "none", "KOTA_SMTP_FROM": "Kota <kota@kota.test>",
            "KOTA_SMS_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/sms",
            "KOTA_SMS_SECRET_FILE": str(secret)}


def booking_settings(tmp_path: Path, **extra: str) -> Settings:
    """The test settings, with messaging on (``messaging_env``) and ``extra``."""
    port = free_port()
    return load_settings({
        "KOTA_DATA_DIR": str(tmp_path / "data"), "KOTA_PORT": str(port),
        "KOTA_PUBLIC_URL": f"http://127.0.0.1:{port}", **messaging_env(tmp_path), **extra})


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall time in January 2027 in Helsinki."""
    return datetime(2027, 1, day, hour, minute, tzinfo=HELSINKI)


def iso(moment: datetime) -> str:
    return moment.astimezone(HELSINKI).isoformat()


async def make_service(admin: StaffClient, accounts: Accounts, **fields: Any) -> dict[str, Any]:
    """Sanna and Pekka serve it Monday to Friday 9-16, 30-minute slots, no buffer."""
    staff = fields.pop("staff", [accounts.worker.id, accounts.specialist.id])
    hours = fields.pop("hours", None)
    body = {
        "slug": SLUG, "name": "Perheneuvola, Inari", "slot_minutes": 30,
        "buffer_minutes": 0, "notice_minutes": 60, "horizon_days": 30, "max_per_day": 8,
        "hold_minutes": 10, "cutoff_minutes": 1440,
        "kinds": ["family_counselling", "school_meeting"], "staff_ids": staff,
    }
    body.update(fields)
    resp = await admin.post("/api/services", json=body)
    created = await resp.json()
    assert resp.status == 201, created
    if hours is None:
        hours = [{"staff_id": s, "weekday": d, "opens": "09:00", "closes": "16:00"}
                 for s in staff for d in range(5)]
    resp = await admin.request("PUT", f"/api/services/{created['id']}/hours",
                               json={"hours": hours})
    done: dict[str, Any] = await resp.json()
    assert resp.status == 200, done
    return done


async def open_service(staff_client: SignIn, accounts: Accounts, clock: Clock,
                       **fields: Any) -> tuple[StaffClient, dict[str, Any]]:
    """The clock on Monday morning, the admin signed in and the service made."""
    clock.set(MONDAY)
    admin = await staff_client("admin")
    return admin, await make_service(admin, accounts, **fields)


def hold_body(starts_at: datetime, contact: str = "maija@example.fi", **fields: Any
              ) -> dict[str, Any]:
    body: dict[str, Any] = {"starts_at": iso(starts_at), "display_name": "Maija Virtanen",
                            "contact": contact, "language": "fi"}
    body.update(fields)
    return body


async def hold(family: aiohttp.ClientSession, starts_at: datetime, slug: str = SLUG,
               **fields: Any) -> tuple[int, dict[str, Any]]:
    resp = await family.post(f"/api/book/{slug}/holds", json=hold_body(starts_at, **fields))
    return resp.status, await resp.json()


def bookings(settings: Settings) -> list[Booking]:
    with sqlite3.connect(settings.db_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = list(conn.execute("SELECT * FROM bookings ORDER BY id"))
    return [
        Booking(
            id=r["id"], service_id=r["service_id"], staff_id=r["staff_id"],
            kind=AppointmentKind(r["kind"]), starts_at=parse_db_time(r["starts_at"]),
            ends_at=parse_db_time(r["ends_at"]), state=BookingState(r["state"]),
            hold_expires_at=parse_db_time(r["hold_expires_at"]),
            display_name=r["display_name"], contact=r["contact"],
            channel=Delivery(r["channel"]), language=Language(r["language"]),
            topic=r["topic"], confirm_nonce=r["confirm_nonce"],
            manage_nonce=r["manage_nonce"], appointment_id=r["appointment_id"],
            participant_id=r["participant_id"], created_at=parse_db_time(r["created_at"]),
            confirmed_at=None, cancelled_at=None,
        )
        for r in rows
    ]


def booking_links(settings: Settings) -> BookingLinks:
    return BookingLinks(SigningKey.load_or_create(settings.signing_key_path),
                        settings.public_url)


def confirm_token(settings: Settings, booking: Booking) -> str:
    """The token of the confirm link the outbox sends for ``booking``."""
    return booking_links(settings).confirm_url(booking).split("#", 1)[1]


def manage_token(settings: Settings, booking: Booking) -> str:
    return booking_links(settings).manage_url(booking).split("#", 1)[1]


def rows(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(settings.db_path) as conn:
        return list(conn.execute(sql, params))
