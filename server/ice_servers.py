"""IceServers: the STUN and TURN servers Kota hands to each admitted participant.

TURN credentials are made per participant in coturn's REST format (see
turn_credentials.py), so coturn checks them without asking Kota and they stop working
``KOTA_TURN_TTL_SECONDS`` after they were handed out. Rooms receive ``for_participant``
as their ICE-server source; the connection test's echo peer gets its own.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from server.settings import Settings
from server.turn_credentials import issue_turn_credentials
from signalling.messages import IceServer

logger = logging.getLogger(__name__)


class IceServers:
    def __init__(self, turn_urls: tuple[str, ...], turn_secret: bytes | None,
                 turn_ttl: timedelta, stun_urls: tuple[str, ...] = ()) -> None:
        if turn_urls and not turn_secret:
            raise ValueError("TURN URLs need the shared secret")
        self.turn_urls = turn_urls
        self.stun_urls = stun_urls
        self.turn_ttl = turn_ttl
        self._secret = turn_secret

    def __repr__(self) -> str:
        return f"IceServers(turn={list(self.turn_urls)}, stun={list(self.stun_urls)})"

    @classmethod
    def from_settings(cls, settings: Settings) -> IceServers:
        secret = settings.turn_secret_file.value if settings.turn_secret_file else None
        return cls(settings.turn_urls if secret else (), secret, settings.turn_ttl,
                   settings.stun_urls)

    @property
    def turn_enabled(self) -> bool:
        return bool(self.turn_urls)

    def for_participant(self, participant: str, now: datetime,
                        ttl: timedelta | None = None) -> tuple[IceServer, ...]:
        """STUN first, then TURN with credentials for ``participant`` valid from ``now``
        for ``ttl`` (the configured TURN lifetime unless a shorter one is asked for)."""
        servers: list[IceServer] = []
        if self.stun_urls:
            servers.append(IceServer(urls=self.stun_urls))
        if self.turn_urls and self._secret:
            lifetime = self.turn_ttl if ttl is None else min(ttl, self.turn_ttl)
            creds = issue_turn_credentials(self._secret, self.turn_urls, participant, now,
                                           lifetime)
            servers.append(IceServer(urls=creds.urls, username=creds.username,
                                     credential=creds.credential))
        return tuple(servers)

    def log_state(self) -> None:
        """One line at start saying whether families behind strict NATs can be relayed."""
        if self.turn_enabled:
            logger.info("turn.enabled", extra={"urls": list(self.turn_urls),
                                               "ttl_seconds": int(self.turn_ttl.total_seconds())})
        else:
            logger.warning("turn.disabled", extra={"stun_urls": list(self.stun_urls)})

    def describe(self) -> str:
        """What ``kota run`` prints about media relaying."""
        if self.turn_enabled:
            return f"TURN relay: {', '.join(self.turn_urls)}"
        return ("TURN relay: off (KOTA_TURN_URLS is not set); calls use direct connections "
                "only, and families behind strict firewalls may not connect")
