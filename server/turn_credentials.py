"""Short-lived TURN credentials in coturn's REST format (``use-auth-secret``).

coturn checks them without asking Kota: the username is ``<expiry>:<participant>``
and the password is base64(HMAC-SHA1(shared secret, username)). Once the expiry
passes, coturn refuses new allocations with them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class TurnCredentials:
    urls: tuple[str, ...]
    username: str
    credential: str
    expires_at: datetime


def turn_password(secret: bytes, username: str) -> str:
    digest = hmac.new(secret, username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def issue_turn_credentials(
    secret: bytes, urls: tuple[str, ...], participant: str, now: datetime, ttl: timedelta
) -> TurnCredentials:
    expires_at = (now + ttl).replace(microsecond=0)
    username = f"{int(expires_at.timestamp())}:{participant}"
    return TurnCredentials(urls, username, turn_password(secret, username), expires_at)
