"""The ``kota`` command: run | migrate | demo | staff add | staff password | audit verify |
audit purge | retention run | bot."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from server import audit, serve
from server.app import create_app
from server.appointments import AppointmentIn, ParticipantIn, Scheduler
from server.audit_chain import AuditKeyError, read_key
from server.audit_checkpoints import Checkpointer, open_chain
from server.audit_purge import (
    PURGE_BATCH,
    PurgeBusy,
    plan_purge,
    purge_batches,
    retry_locked,
    verify_log,
)
from server.calls.join_window import join_window
from server.db import Conflict, Database, db_time
from server.ice_servers import IceServers
from server.join_links import JoinLinks
from server.join_tokens import SigningKey
from server.line_catalog import HoursIn as LineHoursIn
from server.line_catalog import LineCatalog, LineIn
from server.line_enrolments import EnrolmentIn, LineEnrolments
from server.log import configure_logging
from server.message_plan import MessagePlan
from server.passwords import MIN_LENGTH, hash_password
from server.records import (
    AppointmentKind,
    AppointmentStatus,
    LineKind,
    ParticipantRole,
    Staff,
    StaffRole,
)
from server.report_settling import settle_report_facts
from server.retention import PersonalDataRemoval
from server.service_catalog import HoursIn, ServiceCatalog, ServiceIn, WeekIn
from server.settings import Settings, SettingsError, load_settings
from signalling.peers import bot_run

DEMO_ADMIN = ("admin", "Kota Admin", StaffRole.ADMIN)
DEMO_PROFESSIONAL = ("sanna", "Sanna Aikio", StaffRole.PROFESSIONAL)
# Access reports: the demo staff's job titles, and a registry account that may
# produce a report by contact.
DEMO_REGISTRY = ("kirjaamo", "Riikka Näkkäläjärvi", StaffRole.PROFESSIONAL)
DEMO_TITLES = {"admin": "Pääkäyttäjä", "sanna": "Sosiaalityöntekijä",
               "kirjaamo": "Kirjaamosihteeri"}
DEMO_FAMILY = ("Family Example", ParticipantRole.GUARDIAN)
DEMO_SERVICE = ("perheneuvola-inari", "Perheneuvola, Inari")
DEMO_PUBLIC_LINE = ("perheneuvonta", "Perheneuvonta — chat")
DEMO_PERSONAL_LINE = ("sannan-perheet", "Sannan perheet")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"kota: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    command: str = args.command
    if command == "run":
        return _run(settings)
    if command == "migrate":
        return asyncio.run(_migrate(settings))
    if command == "demo":
        return asyncio.run(_demo(settings))
    if command == "audit" and args.audit_command == "purge":
        return asyncio.run(_audit_purge(settings, args.dry_run, args.batch))
    if command == "audit":
        return asyncio.run(_audit_verify(settings))
    if command == "retention":
        return asyncio.run(_retention_run(settings))
    if command == "bot":
        return bot_run.main(args, settings.public_url, os.environ)
    if command == "staff" and args.staff_command == "add":
        password = _read_password(args.password_stdin)
        return asyncio.run(
            _staff_add(settings, args.username, args.display_name, StaffRole(args.role), password,
                       title=args.title, registry=args.registry)
        )
    if command == "staff" and args.staff_command == "password":
        password = _read_password(args.password_stdin)
        return asyncio.run(_staff_password(settings, args.username, password))
    parser.print_help()
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kota", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="migrate the database and start the server")
    sub.add_parser("migrate", help="apply pending database migrations")
    sub.add_parser("demo", help="seed a demo (once) and print a staff login and a family link")
    audit_p = sub.add_parser("audit", help="usage-log tools")
    audit_sub = audit_p.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="walk the hash chain and report the first broken row")
    # Retention (docs/audit.md): purging old usage-log rows, removing old personal data.
    purge = audit_sub.add_parser(
        "purge", help="remove usage-log rows older than KOTA_USAGE_LOG_RETENTION_DAYS")
    purge.add_argument("--dry-run", action="store_true", help="only say what would go")
    purge.add_argument("--batch", type=_positive, default=PURGE_BATCH,
                       help=f"rows per transaction (default {PURGE_BATCH})")
    sub.add_parser("retention", help="personal data past KOTA_RETENTION_DAYS").add_subparsers(
        dest="retention_command", required=True).add_parser(
        "run", help="remove it now (the server also does this at start and daily)")
    staff = sub.add_parser("staff", help="staff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    add = staff_sub.add_parser("add", help="create a staff account")
    add.add_argument("--username", required=True)
    add.add_argument("--display-name", required=True)
    add.add_argument("--role", choices=[r.value for r in StaffRole], default="professional")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--title", default="", help="job title, shown as the role in access reports")
    add.add_argument("--registry", action="store_true",
                     help="may produce a client's access report by contact")
    password = staff_sub.add_parser("password", help="set a staff member's password")
    password.add_argument("--username", required=True)
    password.add_argument("--password-stdin", action="store_true")
    bot_run.add_arguments(
        sub.add_parser("bot", help="join a call as a test participant and report what arrives")
    )
    return parser


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SystemExit("kota: the passwords differ")
    if len(password) < MIN_LENGTH:
        raise SystemExit(f"kota: a password needs at least {MIN_LENGTH} characters")
    return password


def _run(settings: Settings) -> int:
    print(IceServers.from_settings(settings).describe(), flush=True)
    print(f"Kota is listening on {settings.public_url} (Ctrl+C stops it)", flush=True)
    app = create_app(settings)
    _tune_gc()
    serve.run(app, settings)
    return 0


def _tune_gc() -> None:
    """Keeps the cyclic collector off the relay path with thousands of sockets open.

    Start-up objects (modules, the app) are frozen out of every collection, and young
    collections run every 50,000 allocations instead of 700, so a socket's objects are
    not walked again and again while it lives (docs/performance.md, "Signalling relay").
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def _open(settings: Settings) -> Database:
    db = Database(settings.db_path)
    await db.open()
    await db.migrate()
    return db


async def _migrate(settings: Settings) -> int:
    db = Database(settings.db_path)
    await db.open()
    try:
        applied = await db.migrate()
        version = await db.schema_version()
    finally:
        await db.close()
    done = ", ".join(f"{v:04d}" for v in applied) or "nothing to do"
    print(f"migrated {settings.db_path}: {done}; schema version {version}")
    return 0


async def _staff_add(
    settings: Settings, username: str, display_name: str, role: StaffRole, password: str,
    *, title: str = "", registry: bool = False,
) -> int:
    db = await _open(settings)
    log, checkpoints = await _usage_log(db, settings)
    try:
        async with db.transaction() as tx:
            staff = await tx.create_staff(
                username, display_name, role, hash_password(password), datetime.now(UTC),
                title=title.strip()[:80], registry=registry,
            )
            await log.record(audit.SYSTEM, audit.Action.STAFF_CREATED, subject_id=staff.id, tx=tx)
        await checkpoints.checkpoint()
    except Conflict as exc:
        print(f"kota: {exc}", file=sys.stderr)
        return 1
    finally:
        await db.close()
    print(f"created {role.value} {username!r} (id {staff.id})"
          + (", registry" if registry else ""))
    return 0


async def _staff_password(settings: Settings, username: str, password: str) -> int:
    db = await _open(settings)
    try:
        found = await db.get_staff_by_username(username)
        if found is None:
            print(f"kota: no staff member {username!r}", file=sys.stderr)
            return 1
        log, checkpoints = await _usage_log(db, settings)
        async with db.transaction() as tx:
            await tx.set_staff_password(found[0].id, hash_password(password))
            await log.record(
                audit.SYSTEM, audit.Action.STAFF_PASSWORD_SET, subject_id=found[0].id, tx=tx
            )
        await checkpoints.checkpoint()
    finally:
        await db.close()
    print(f"password set for {username!r}; their open sessions were ended")
    return 0


async def _usage_log(db: Database, settings: Settings) -> tuple[audit.AuditLog, Checkpointer]:
    """The usage log with its keyed chain, and a checkpointer to run after writing."""
    chain, log = await open_chain(db, settings)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    return audit.AuditLog(db, clock, chain), Checkpointer(db, log, chain, clock, 0)


async def _audit_verify(settings: Settings) -> int:
    """Walk the chain with the key (from the newest purge, if any), then compare its end
    with the newest checkpoint."""
    try:
        key = read_key(settings.audit_key_path)
    except AuditKeyError as exc:
        print(f"kota: {exc}", file=sys.stderr)
        return 2
    db = await _open(settings)
    try:
        verdict = await verify_log(db, key, settings.audit_checkpoint_path)
    finally:
        await db.close()
    print(verdict.text)
    return 0 if verdict.ok else 1


# -- retention: usage-log purge and personal-data removal (docs/audit.md) ---------


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return value


async def _audit_purge(settings: Settings, dry_run: bool, batch: int) -> int:
    """Verify the log, settle the report's facts, then purge rows older than the
    retention, one batch per transaction, each with its signed record and
    ``audit.purged`` row; then checkpoint."""
    if settings.usage_log_retention_days == 0:
        print("KOTA_USAGE_LOG_RETENTION_DAYS is 0: the usage log is kept for ever; "
              "nothing purged")
        return 0
    try:
        key = read_key(settings.audit_key_path)  # never a new key: that would break the log
    except AuditKeyError as exc:
        print(f"kota: {exc}; nothing purged", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    cutoff = now - timedelta(days=settings.usage_log_retention_days)
    db = await _open(settings)
    try:
        verdict = await verify_log(db, key, settings.audit_checkpoint_path)
        if not verdict.ok:
            print(f"{verdict.text}\nkota: the log does not verify; nothing purged "
                  "(purging would destroy the evidence)", file=sys.stderr)
            return 1
        if dry_run:
            plan = await plan_purge(db, cutoff, None)
            print("nothing to purge" if plan is None else
                  f"would purge {plan.removed} rows (before row {plan.first_id}), all "
                  f"written before {db_time(cutoff)}")
            return 0
        chain, checkpoint_log = await open_chain(db, settings)
        clock = lambda: datetime.now(UTC)  # noqa: E731
        log = audit.AuditLog(db, clock, chain)
        checkpoints = Checkpointer(db, checkpoint_log, chain, clock, 0)
        waiting = lambda: print(  # noqa: E731
            "kota: the database is locked by another writer (another purge?); waiting",
            file=sys.stderr)
        try:
            # The report's figures of the calls in the rows about to go are stored first,
            # so the organisation report still counts them (docs/reports.md, "Settled
            # facts"); a lock held all along purges nothing.
            await retry_locked(lambda: settle_report_facts(db, now), waiting)
            total = await purge_batches(db, log, chain, clock, cutoff, batch, waiting)
        except PurgeBusy as busy:
            await checkpoints.checkpoint()
            print(f"kota: the database stayed locked by another writer; purged {busy.removed}"
                  " usage-log rows, the rest stay; run it again later", file=sys.stderr)
            return 1
        await checkpoints.checkpoint()
    finally:
        await db.close()
    print(f"purged {total} usage-log rows written before {db_time(cutoff)}")
    return 0


async def _retention_run(settings: Settings) -> int:
    """Remove the personal data past KOTA_RETENTION_DAYS now, as the server's sweep does."""
    db = await _open(settings)
    try:
        log, checkpoints = await _usage_log(db, settings)
        removal = PersonalDataRemoval(db, log, lambda: datetime.now(UTC),
                                      timedelta(days=settings.retention_days))
        tally = await removal.run()
        await checkpoints.checkpoint()
    finally:
        await db.close()
    print(tally.text())
    return 0


async def _demo_staff(
    db: Database, log: audit.AuditLog, spec: tuple[str, str, StaffRole], now: datetime
) -> tuple[Staff, str]:
    """The demo account, created once; its password is renewed on every run and printed."""
    username, display_name, role = spec
    password = secrets.token_urlsafe(12)
    hashed = hash_password(password)
    title, registry = DEMO_TITLES.get(username, ""), spec == DEMO_REGISTRY
    async with db.transaction() as tx:
        found = await tx.get_staff_by_username(username)
        if found is None:
            staff = await tx.create_staff(username, display_name, role, hashed, now,
                                          title=title, registry=registry)
            await log.record(audit.SYSTEM, audit.Action.STAFF_CREATED, subject_id=staff.id, tx=tx)
        else:
            staff = found[0]
            await tx.set_staff_password(staff.id, hashed)
            await tx.set_staff_title(staff.id, title, registry)
            await log.record(
                audit.SYSTEM, audit.Action.STAFF_PASSWORD_SET, subject_id=staff.id, tx=tx
            )
    return staff, password


async def _demo(settings: Settings) -> int:
    db = await _open(settings)
    now = datetime.now(UTC)
    try:
        log, checkpoints = await _usage_log(db, settings)
        key = SigningKey.load_or_create(settings.signing_key_path)
        links = JoinLinks(db, log, key, settings.public_url, settings.join_grace)
        scheduler = Scheduler(db, log, links, settings.timezone,
                              MessagePlan.from_settings(settings))
        admin, admin_password = await _demo_staff(db, log, DEMO_ADMIN, now)
        host, host_password = await _demo_staff(db, log, DEMO_PROFESSIONAL, now)
        registrar, registrar_password = await _demo_staff(db, log, DEMO_REGISTRY, now)
        url = await _demo_family_link(settings, db, scheduler, links, host, now)
        booking_url = await _demo_service(settings, db, log, admin, host, now)
        line_url, own_line_link = await _demo_lines(settings, db, log, admin, host, now)
        await checkpoints.checkpoint()
    finally:
        await db.close()
    print(
        "\n".join(
            [
                "",
                "Kota demo is ready.",
                f"  Staff login:  {settings.public_url}/staff",
                f"    professional  username: {host.username}  password: {host_password}",
                f"    admin         username: {admin.username}  password: {admin_password}",
                f"    registry      username: {registrar.username}  "
                f"password: {registrar_password}",
                f"  Family link:  {url}",
                f"  Booking page: {booking_url}",
                f"  Public line:  {line_url}",
                f"  Family's own line: {own_line_link}",
                "  (Open the family link in another browser or a private window.)",
                "",
            ]
        ),
        flush=True,
    )
    return 0


async def _demo_family_link(
    settings: Settings,
    db: Database,
    scheduler: Scheduler,
    links: JoinLinks,
    host: Staff,
    now: datetime,
) -> str:
    """The link of a demo appointment open for joining now; a new one only when none is."""
    window_opens = settings.join_opens_before
    for appointment in await db.list_appointments_between(
        now - timedelta(hours=13), now + window_opens + timedelta(minutes=1), host_id=host.id
    ):
        is_open = (
            join_window(appointment, settings).contains(now)
            and appointment.status is AppointmentStatus.SCHEDULED
        )
        for participant in appointment.participants if is_open else ():
            link = participant.link
            if link is not None and not link.revoked and link.expires_at > now:
                return links.url(link)
    lead = min(timedelta(minutes=10), window_opens)
    starts_at = (now + lead).replace(second=0, microsecond=0) + timedelta(minutes=1)
    if starts_at - window_opens > now:
        starts_at = now.replace(microsecond=0)
    body = AppointmentIn(
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=45),
        kind=AppointmentKind.CHILD_PROTECTION,
        participants=[ParticipantIn(display_name=DEMO_FAMILY[0], role=DEMO_FAMILY[1])],
    )
    created = await scheduler.create(host, body, now)
    link = created.participants[0].link
    assert link is not None
    return links.url(link)


async def _demo_service(
    settings: Settings, db: Database, log: audit.AuditLog, admin: Staff, host: Staff,
    now: datetime,
) -> str:
    """The demo's self-booking service, with weekday hours for the demo professional;
    made once, left as the admin has since changed it."""
    catalog = ServiceCatalog(db, log, settings.timezone)
    service = await db.get_service_by_slug(DEMO_SERVICE[0])
    if service is None:
        service = await catalog.create(admin, ServiceIn(
            slug=DEMO_SERVICE[0], name=DEMO_SERVICE[1], staff_ids=[host.id],
            notice_minutes=60, cutoff_minutes=120,
        ), now)
        await catalog.set_hours(admin, service.id, WeekIn(hours=[
            HoursIn(staff_id=host.id, weekday=day, opens="08:00", closes="16:00")
            for day in range(5)
        ]))
    return f"{settings.public_url}/book/{service.slug}"


async def _demo_lines(
    settings: Settings, db: Database, log: audit.AuditLog, admin: Staff, host: Staff,
    now: datetime,
) -> tuple[str, str]:
    """The demo's public line and the professional's personal line, made once (open every
    day, so a demo works at any reasonable hour), and the demo family's own link to the
    personal line: a new one on every run (the link's secret is never stored), the
    earlier one revoked."""
    catalog = LineCatalog(db, log)
    week = [LineHoursIn(weekday=day, opens="08:00", closes="20:00") for day in range(5)]
    week += [LineHoursIn(weekday=day, opens="10:00", closes="16:00") for day in (5, 6)]
    lines = {}
    for (slug, name), kind in ((DEMO_PUBLIC_LINE, LineKind.PUBLIC),
                               (DEMO_PERSONAL_LINE, LineKind.PERSONAL)):
        line = await db.get_line_by_slug(slug)
        if line is None:
            line = await catalog.create(admin, LineIn(
                slug=slug, name=name, kind=kind, staff_ids=[host.id], hours=week), now)
        lines[kind] = line
    personal = lines[LineKind.PERSONAL]
    enrolments = LineEnrolments(db, log, settings.public_url)
    for earlier in await db.list_enrolments(personal.id):
        if earlier.family_name == DEMO_FAMILY[0] and earlier.revoked_at is None:
            await enrolments.revoke(admin, personal.id, earlier.id, now)
    own = [host.id] if host.id in personal.staff_ids else []
    _, link = await enrolments.enrol(admin, personal.id, EnrolmentIn(
        family_name=DEMO_FAMILY[0], staff_ids=own), now)
    return f"{settings.public_url}/line/{lines[LineKind.PUBLIC].slug}", link


if __name__ == "__main__":
    raise SystemExit(main())
