"""All configuration, read once from ``KOTA_*`` variables.

This is the only module that looks at the environment, so a bad value is
reported at start, naming the variable, instead of failing later mid-call.
"""

from __future__ import annotations

import dataclasses
import os
import re
import resource
import ssl
import stat
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

T = TypeVar("T")

# What aiortc and browsers accept: scheme:host[:port], TURN with an optional ?transport=.
_ICE_URL = {
    "turn": re.compile(r"^turns?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?"
                       r"(\?transport=(udp|tcp))?\Z"),
    "stun": re.compile(r"^stuns?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?\Z"),
}
MIN_TURN_SECRET_BYTES = 16
# "relay": browsers and bots use TURN-relayed routes only, so no participant learns
# another's IP address.
IceTransportPolicy = Literal["all", "relay"]
# How Kota talks to the SMTP server: STARTTLS on the submission port, TLS from the first
# byte (port 465), or plain (a relay on the same host only).
SmtpSecurity = Literal["starttls", "tls", "none"]


class SettingsError(ValueError):
    """A ``KOTA_*`` variable has a value Kota cannot use."""


@dataclasses.dataclass(frozen=True)
class SecretFile:
    """A secret read once at start from a file; its repr shows the path, never the value."""

    path: Path
    value: bytes = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str
    port: int
    public_url: str
    data_dir: Path
    db_path: Path
    timezone: ZoneInfo
    join_opens_minutes: int
    join_grace_minutes: int
    session_minutes: int
    max_body_bytes: int
    log_level: str
    reconnect_grace_seconds: float
    max_participants: int
    hello_timeout_seconds: float
    ws_heartbeat_seconds: float
    ws_rate_per_second: float
    ws_burst: int
    ws_send_queue: int
    trusted_proxy: bool
    turn_urls: tuple[str, ...] = ()
    turn_secret_file: SecretFile | None = None
    turn_ttl_seconds: int = 3 * 3600
    stun_urls: tuple[str, ...] = ()
    echo_max_concurrent: int = 4
    echo_max_seconds: float = 30.0
    ice_transport_policy: IceTransportPolicy = "all"
    # load_settings derives both from the open-files limit; these are its values for 1024.
    max_connections: int = 768
    max_call_sockets: int = 672

    audit_key_file: Path | None = None
    audit_checkpoint_file: Path | None = None
    audit_checkpoint_seconds: float = 60.0
    audit_syslog: str = ""
    alive_mark_seconds: float = 10.0
    # Before an appointment's start, in this order of sending: 24 h, then 1 h.
    reminder_offsets: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))
    # Holds one client address may ask for in an hour (0: no limit, e.g. behind a portal).
    booking_holds_per_hour: int = 20

    # Messages (docs/messages.md): empty host or URL turns that channel off.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: SmtpSecurity = "starttls"
    smtp_user: str = ""
    smtp_password_file: SecretFile | None = None
    smtp_from: str = ""
    # CA certificates (PEM) trusted for the SMTP server; None: the system's.
    smtp_ca_file: Path | None = None
    sms_webhook_url: str = ""
    sms_secret_file: SecretFile | None = None
    outbox_max_attempts: int = 6
    outbox_retry_seconds: float = 30.0
    # Metrics (docs/metrics.md): a port of their own, off when None.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    # Retention (docs/audit.md, "Retention"): days after an appointment's end before its
    # personal data is removed; days a usage-log row is kept (0: for ever).
    retention_days: int = 730
    usage_log_retention_days: int = 3650

    @property
    def join_opens_before(self) -> timedelta:
        return timedelta(minutes=self.join_opens_minutes)

    @property
    def join_grace(self) -> timedelta:
        return timedelta(minutes=self.join_grace_minutes)

    @property
    def reconnect_grace(self) -> timedelta:
        return timedelta(seconds=self.reconnect_grace_seconds)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(minutes=self.session_minutes)

    @property
    def secure_cookies(self) -> bool:
        """Mark cookies Secure whenever people reach Kota over HTTPS."""
        return self.public_url.startswith("https://")

    @property
    def audit_key_path(self) -> Path:
        return self.audit_key_file or self.data_dir / "audit.key"

    @property
    def audit_checkpoint_path(self) -> Path:
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.jsonl"

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "signing.key"

    @property
    def turn_ttl(self) -> timedelta:
        return timedelta(seconds=self.turn_ttl_seconds)

    @property
    def turn_enabled(self) -> bool:
        return bool(self.turn_urls) and self.turn_secret_file is not None

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def sms_enabled(self) -> bool:
        return bool(self.sms_webhook_url) and self.sms_secret_file is not None

    @property
    def outbox_retry(self) -> timedelta:
        return timedelta(seconds=self.outbox_retry_seconds)


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"expected an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"expected an integer from {low} to {high}, got {value}")
        return value

    return parse


def _number(low: float, high: float) -> Callable[[str], float]:
    """Decimals allowed, so tests can shorten protocol timers to a fraction of a second."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"expected a number, got {raw!r}") from None
        if not low <= value <= high:  # also refuses nan
            raise SettingsError(f"expected a number from {low:g} to {high:g}, got {raw}")
        return value

    return parse


def _timezone(raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"unknown time zone {raw!r}") from None


def _public_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"expected an http(s) URL such as https://kota.example.fi, got {raw!r}")
    if parts.query or parts.fragment:
        raise SettingsError("must not contain a query or fragment")
    return raw.rstrip("/")


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return level


def _boolean(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"expected true or false, got {raw!r}")


def _ice_urls(kind: str) -> Callable[[str], tuple[str, ...]]:
    """Comma-separated ``turn:``/``turns:`` (or ``stun:``/``stuns:``) URLs; empty means none."""

    def parse(raw: str) -> tuple[str, ...]:
        urls = tuple(part.strip() for part in raw.split(",") if part.strip())
        for url in urls:
            if not _ICE_URL[kind].match(url):
                raise SettingsError(
                    f"expected {kind}: URLs such as {kind}:turn.example.fi:3478, got {url!r}"
                )
        return urls

    return parse


_DURATION = re.compile(r"^(\d{1,4})([mhd])$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days"}


def _durations(raw: str) -> tuple[timedelta, ...]:
    """Comma-separated offsets such as ``24h,1h,30m``; empty means none. Longest first."""
    found = set()
    for part in (p.strip().lower() for p in raw.split(",")):
        if not part:
            continue
        match = _DURATION.match(part)
        if match is None or int(match.group(1)) == 0:
            raise SettingsError(f"expected durations such as 24h,1h,30m, got {part!r}")
        found.add(timedelta(**{_UNIT[match.group(2)]: int(match.group(1))}))
    if any(offset > timedelta(days=60) for offset in found):
        raise SettingsError("a reminder can be at most 60 days before the appointment")
    return tuple(sorted(found, reverse=True))


def _ice_transport_policy(raw: str) -> IceTransportPolicy:
    value = raw.lower()
    if value == "all":
        return "all"
    if value == "relay":
        return "relay"
    raise SettingsError(f"expected all or relay, got {raw!r}")


def _secret_file(raw: str) -> SecretFile | None:
    """Read the file now, so a missing or unreadable secret stops the start, not a call."""
    if not raw:
        return None
    path = Path(raw).resolve()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        value = path.read_bytes().strip()
    except OSError as exc:
        raise SettingsError(f"cannot read {raw!r}: {exc.strerror or exc}") from None
    if mode & stat.S_IROTH:
        raise SettingsError(f"{raw!r} is readable by everyone (mode {mode:o}); chmod o-r it")
    if len(value) < MIN_TURN_SECRET_BYTES:
        raise SettingsError(f"the secret in {raw!r} is shorter than "
                            f"{MIN_TURN_SECRET_BYTES} characters")
    return SecretFile(path, value)


def _password_file(raw: str) -> SecretFile | None:
    """Like ``_secret_file``, but any non-empty password: the SMTP provider chose it."""
    if not raw:
        return None
    path = Path(raw).resolve()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        value = path.read_bytes().strip()
    except OSError as exc:
        raise SettingsError(f"cannot read {raw!r}: {exc.strerror or exc}") from None
    if mode & stat.S_IROTH:
        raise SettingsError(f"{raw!r} is readable by everyone (mode {mode:o}); chmod o-r it")
    if not value:
        raise SettingsError(f"{raw!r} is empty")
    return SecretFile(path, value)


def _ca_file(raw: str) -> Path | None:
    """A PEM bundle that must load now: a typo is a refused start, not failing mail later."""
    if not raw:
        return None
    path = Path(raw).resolve()
    try:
        ssl.create_default_context(cafile=str(path))
    except OSError as exc:  # ssl.SSLError is an OSError too
        raise SettingsError(f"cannot load CA certificates from {raw!r}: "
                            f"{exc.strerror or exc}") from None
    return path


def _smtp_security(raw: str) -> SmtpSecurity:
    value = raw.lower()
    if value == "starttls":
        return "starttls"
    if value == "tls":
        return "tls"
    if value == "none":
        return "none"
    raise SettingsError(f"expected starttls, tls or none, got {raw!r}")


_HOST_NAME = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})\Z")


def _host_name(raw: str) -> str:
    if raw and not _HOST_NAME.match(raw):
        raise SettingsError(f"expected a host name such as smtp.example.fi, got {raw!r}")
    return raw


# "Kota <kota@kunta.fi>" or a bare address; no line breaks (header injection).
_FROM = re.compile(r"^(?:[^<>\r\n\"]{0,80}<[^@\s<>]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+>"
                   r"|[^@\s<>]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+)\Z")


def _sender(raw: str) -> str:
    if raw and not _FROM.match(raw):
        raise SettingsError(f"expected an address such as Kota <kota@kunta.fi>, got {raw!r}")
    return raw


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _webhook_url(raw: str) -> str:
    """HTTPS, or plain HTTP to an adapter on the same machine."""
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"expected an https URL such as https://sms.example.fi/kota, "
                            f"got {raw!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise SettingsError("plain http only to an adapter on this machine (127.0.0.1 or "
                            "localhost); use https")
    if parts.fragment or parts.username or parts.password:
        raise SettingsError("must not contain a fragment or a user name and password")
    return raw


def _check_messaging(settings: Settings) -> None:
    """What one channel's variables need from each other, checked together."""
    if settings.smtp_host and not settings.smtp_from:
        raise SettingsError("KOTA_SMTP_FROM: required when KOTA_SMTP_HOST is set "
                            "(the sender address, e.g. Kota <kota@kunta.fi>)")
    if bool(settings.smtp_user) != (settings.smtp_password_file is not None):
        raise SettingsError("KOTA_SMTP_USER and KOTA_SMTP_PASSWORD_FILE: give both or neither")
    if (settings.smtp_user and settings.smtp_security == "none"
            and settings.smtp_host not in _LOOPBACK):
        raise SettingsError("KOTA_SMTP_SECURITY: none would send the SMTP password "
                            "unencrypted; use starttls or tls")
    if settings.smtp_ca_file is not None and settings.smtp_security == "none":
        raise SettingsError("KOTA_SMTP_CA_FILE: KOTA_SMTP_SECURITY is none, so no certificate "
                            "is checked; use starttls or tls")
    if settings.sms_webhook_url and settings.sms_secret_file is None:
        raise SettingsError("KOTA_SMS_SECRET_FILE: required when KOTA_SMS_WEBHOOK_URL is set "
                            "(the key that signs each request)")


def _default_echo_max_concurrent() -> int:
    """Two connection tests per core: a core holds ~8 at 12 fps, but calls need room too
    (docs/performance.md, *Connection-test capacity*)."""
    return 2 * (os.cpu_count() or 1)


# Descriptors kept back from connections: one accept batch (128) plus the database, the
# echo peers' UDP sockets, log files and static files being sent (docs/config.md).
FD_RESERVE_MIN = 192
FD_RESERVE_MAX = 4096
MIN_CONNECTIONS = 8


def _open_files_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


def default_max_connections(open_files: int) -> int:
    """A quarter of the descriptors (192 to 4096 of them) kept for everything but sockets."""
    reserve = min(max(open_files // 4, FD_RESERVE_MIN), FD_RESERVE_MAX)
    return max(open_files - reserve, MIN_CONNECTIONS)


def default_max_call_sockets(max_connections: int) -> int:
    """An eighth of the connections (4 to 1024) kept for staff pages and the API."""
    return max_connections - min(max(max_connections // 8, 4), 1024)


def _connection_caps(environ: Mapping[str, str]) -> tuple[int, int]:
    """The call-socket cap stays below the connection cap, so staff HTTP keeps working."""
    connections = _read(environ, "KOTA_MAX_CONNECTIONS",
                        str(default_max_connections(_open_files_limit())),
                        _integer(MIN_CONNECTIONS, 10**7))
    call_sockets = _read(environ, "KOTA_MAX_CALL_SOCKETS",
                         str(default_max_call_sockets(connections)),
                         _integer(1, connections - 1))
    return connections, call_sockets


# -- metrics (docs/metrics.md) --


def _optional_port(raw: str) -> int | None:
    """Empty: off; else a TCP port from 1 to 65535."""
    return _integer(1, 65535)(raw) if raw else None


def _bind_host(raw: str) -> str:
    """An address to bind, such as 127.0.0.1, ::1 or a private one; never empty."""
    if not raw or not _HOST_NAME.match(raw):
        raise SettingsError(f"expected an address to listen on such as 127.0.0.1, got {raw!r}")
    return raw


# -- retention ----------------------------------------------------------------

MAX_RETENTION_DAYS = 36500


def _retention(environ: Mapping[str, str]) -> tuple[int, int]:
    """Personal data at least two days after the appointment (longer than any join window,
    so no call can still be running); the usage log (0: for ever) at
    least as long as the personal data, so a client's request to know who handled their
    data can be answered for as long as Kota holds that data."""
    days = _read(environ, "KOTA_RETENTION_DAYS", "730", _integer(2, MAX_RETENTION_DAYS))
    log_days = _read(environ, "KOTA_USAGE_LOG_RETENTION_DAYS", "3650",
                     _integer(0, MAX_RETENTION_DAYS))
    if log_days and log_days < days:
        raise SettingsError(f"KOTA_USAGE_LOG_RETENTION_DAYS: {log_days} is shorter than "
                            f"KOTA_RETENTION_DAYS ({days}); the usage log must be kept at "
                            "least as long as the personal data it is about (0 keeps it "
                            "for ever)")
    return days, log_days


def _optional_path(raw: str) -> Path | None:
    return Path(raw).resolve() if raw else None


def _read(environ: Mapping[str, str], name: str, default: str, parse: Callable[[str], T]) -> T:
    raw = environ.get(name, default).strip()
    try:
        return parse(raw)
    except SettingsError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def load_settings(environ: Mapping[str, str], **overrides: Any) -> Settings:
    """Build settings from an environment mapping; tests pass a dict."""
    host = _read(environ, "KOTA_HOST", "127.0.0.1", str)
    port = _read(environ, "KOTA_PORT", "8080", _integer(0, 65535))
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    public_url = _read(environ, "KOTA_PUBLIC_URL", f"http://{shown_host}:{port}", _public_url)
    data_dir = _read(environ, "KOTA_DATA_DIR", "var", lambda raw: Path(raw).resolve())
    db_path = _read(environ, "KOTA_DB", str(data_dir / "kota.sqlite3"), lambda r: Path(r).resolve())
    settings = Settings(
        host=host,
        port=port,
        public_url=public_url,
        data_dir=data_dir,
        db_path=db_path,
        timezone=_read(environ, "KOTA_TIMEZONE", "Europe/Helsinki", _timezone),
        join_opens_minutes=_read(environ, "KOTA_JOIN_OPENS_MINUTES", "15", _integer(0, 24 * 60)),
        join_grace_minutes=_read(environ, "KOTA_JOIN_GRACE_MINUTES", "30", _integer(0, 24 * 60)),
        session_minutes=_read(environ, "KOTA_SESSION_MINUTES", "30", _integer(1, 24 * 60)),
        max_body_bytes=_read(environ, "KOTA_MAX_BODY_BYTES", "65536", _integer(1024, 10**7)),
        log_level=_read(environ, "KOTA_LOG_LEVEL", "INFO", _log_level),
        reconnect_grace_seconds=_read(
            environ, "KOTA_RECONNECT_GRACE_SECONDS", "60", _number(0, 3600)
        ),
        max_participants=_read(environ, "KOTA_MAX_PARTICIPANTS", "6", _integer(2, 12)),
        hello_timeout_seconds=_read(environ, "KOTA_HELLO_TIMEOUT_SECONDS", "10", _number(0.1, 120)),
        ws_heartbeat_seconds=_read(environ, "KOTA_WS_HEARTBEAT_SECONDS", "20", _number(1, 300)),
        ws_rate_per_second=_read(environ, "KOTA_WS_RATE_PER_SECOND", "20", _number(1, 10_000)),
        ws_burst=_read(environ, "KOTA_WS_BURST", "200", _integer(10, 100_000)),
        ws_send_queue=_read(environ, "KOTA_WS_SEND_QUEUE", "256", _integer(8, 100_000)),
        trusted_proxy=_read(environ, "KOTA_TRUSTED_PROXY", "false", _boolean),
        turn_urls=_read(environ, "KOTA_TURN_URLS", "", _ice_urls("turn")),
        turn_secret_file=_read(environ, "KOTA_TURN_SECRET_FILE", "", _secret_file),
        turn_ttl_seconds=_read(environ, "KOTA_TURN_TTL_SECONDS", "10800", _integer(60, 86400)),
        stun_urls=_read(environ, "KOTA_STUN_URLS", "", _ice_urls("stun")),
        echo_max_concurrent=_read(environ, "KOTA_ECHO_MAX_CONCURRENT",
                                  str(_default_echo_max_concurrent()), _integer(0, 1000)),
        echo_max_seconds=_read(environ, "KOTA_ECHO_MAX_SECONDS", "30", _number(1, 300)),
        ice_transport_policy=_read(environ, "KOTA_ICE_TRANSPORT_POLICY", "all",
                                   _ice_transport_policy),
        audit_key_file=_read(environ, "KOTA_AUDIT_KEY_FILE", "", _optional_path),
        audit_checkpoint_file=_read(environ, "KOTA_AUDIT_CHECKPOINT_FILE", "", _optional_path),
        audit_checkpoint_seconds=_read(environ, "KOTA_AUDIT_CHECKPOINT_SECONDS", "60",
                                       _number(0.05, 86400)),
        audit_syslog=_read(environ, "KOTA_AUDIT_SYSLOG", "", str),
        reminder_offsets=_read(environ, "KOTA_REMINDER_OFFSETS", "24h,1h", _durations),
        alive_mark_seconds=_read(environ, "KOTA_ALIVE_MARK_SECONDS", "10", _number(0.05, 300)),
        booking_holds_per_hour=_read(environ, "KOTA_BOOKING_HOLDS_PER_HOUR", "20",
                                     _integer(0, 1_000_000)),
        smtp_host=_read(environ, "KOTA_SMTP_HOST", "", _host_name),
        smtp_port=_read(environ, "KOTA_SMTP_PORT", "587", _integer(1, 65535)),
        smtp_security=_read(environ, "KOTA_SMTP_SECURITY", "starttls", _smtp_security),
        smtp_user=_read(environ, "KOTA_SMTP_USER", "", str),
        smtp_password_file=_read(environ, "KOTA_SMTP_PASSWORD_FILE", "", _password_file),
        smtp_from=_read(environ, "KOTA_SMTP_FROM", "", _sender),
        smtp_ca_file=_read(environ, "KOTA_SMTP_CA_FILE", "", _ca_file),
        sms_webhook_url=_read(environ, "KOTA_SMS_WEBHOOK_URL", "", _webhook_url),
        sms_secret_file=_read(environ, "KOTA_SMS_SECRET_FILE", "", _secret_file),
        outbox_max_attempts=_read(environ, "KOTA_OUTBOX_MAX_ATTEMPTS", "6", _integer(1, 50)),
        outbox_retry_seconds=_read(environ, "KOTA_OUTBOX_RETRY_SECONDS", "30",
                                   _number(0.01, 86400)),
        metrics_port=_read(environ, "KOTA_METRICS_PORT", "", _optional_port),
        metrics_host=_read(environ, "KOTA_METRICS_HOST", "127.0.0.1", _bind_host),
    )
    if settings.metrics_port is not None and settings.metrics_port == settings.port:
        raise SettingsError("KOTA_METRICS_PORT: must differ from KOTA_PORT (the main port "
                            "serves /metrics to signed-in admins already)")
    _check_messaging(settings)
    if settings.turn_urls and settings.turn_secret_file is None:
        raise SettingsError("KOTA_TURN_SECRET_FILE: required when KOTA_TURN_URLS is set "
                            "(a file holding coturn's static-auth-secret)")
    if settings.ice_transport_policy == "relay" and not settings.turn_urls:
        raise SettingsError("KOTA_ICE_TRANSPORT_POLICY: relay needs a TURN server; set "
                            "KOTA_TURN_URLS and KOTA_TURN_SECRET_FILE, or use all")
    connections, call_sockets = _connection_caps(environ)
    settings = dataclasses.replace(settings, max_connections=connections,
                                   max_call_sockets=call_sockets)
    days, log_days = _retention(environ)
    settings = dataclasses.replace(settings, retention_days=days,
                                   usage_log_retention_days=log_days)
    return dataclasses.replace(settings, **overrides) if overrides else settings
