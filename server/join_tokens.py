"""Join links: signed tokens (PyJWT, HS256) bound to one participant of one appointment.

The token's claims are also stored (by ``jti``), so cancelling the appointment
or revoking the participant stops a link at once. The token text itself is
never stored: it is derived again from the stored claims when staff copy a link,
which HS256 makes byte-for-byte the same.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from server.records import JoinLink

ISSUER = "kota"
AUDIENCE = "kota-join"
ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 2048
# A short token (text messages): the link's 22-character id and a 16-character MAC.
JTI_LENGTH = 22
SHORT_MAC_LENGTH = 16
_URLSAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class SigningKey:
    """The HMAC key for join links; its value never shows in ``repr`` or logs."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("signing key must be at least 32 bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "SigningKey(<hidden>)"

    @property
    def secret(self) -> bytes:
        return self._secret

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """Read the key file, creating a random one (mode 0600) on first start."""
        # The folder also holds the database by default: Kota's own user only, as documented.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise PermissionError(
                    f"{path} is readable by others (mode {mode:o}); run chmod 600 on it"
                ) from None
            return cls(bytes.fromhex(path.read_text().strip()))
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
        return cls.load_or_create(path)


class TokenError(Exception):
    """A join token that cannot be used; ``code`` tells the family page what to say."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class JoinClaims:
    jti: str
    participant_id: int
    appointment_id: int
    issued_at: datetime
    expires_at: datetime


def new_link(
    participant_id: int,
    appointment_id: int,
    appointment_end: datetime,
    grace: timedelta,
    now: datetime,
) -> JoinLink:
    return JoinLink(
        jti=secrets.token_urlsafe(16),
        participant_id=participant_id,
        appointment_id=appointment_id,
        issued_at=now.replace(microsecond=0),
        expires_at=(appointment_end + grace).replace(microsecond=0),
        revoked_at=None,
    )


def encode_token(key: SigningKey, link: JoinLink) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(link.participant_id),
        "apt": link.appointment_id,
        "jti": link.jti,
        "iat": int(link.issued_at.timestamp()),
        "exp": int(link.expires_at.timestamp()),
    }
    return jwt.encode(claims, key.secret, algorithm=ALGORITHM)


def decode_token(
    key: SigningKey, token: str, now: datetime, *, allow_expired: bool = False
) -> JoinClaims:
    """Check signature, algorithm, issuer, audience and expiry; the database checks the rest.

    ``allow_expired`` skips only the expiry: a family may read its access report after
    the appointment, with the same link, so long as the link was never revoked.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise TokenError("token_malformed", "This link is not complete. Ask for a new link.")
    try:
        claims = jwt.decode(
            token,
            key.secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "aud", "iss", "apt"],
                     "verify_exp": not allow_expired},
            leeway=0,
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token_expired", "This link has expired. Ask for a new link.") from None
    except jwt.InvalidAudienceError:
        raise TokenError("token_wrong_audience", "This link is not a Kota join link.") from None
    except jwt.InvalidSignatureError:
        # A subclass of DecodeError, but a forged or altered token is invalid, not incomplete.
        raise TokenError("token_invalid", "This link is not valid. Ask for a new link.") from None
    except jwt.DecodeError:
        raise TokenError(
            "token_malformed", "This link is not complete. Ask for a new link."
        ) from None
    except jwt.InvalidTokenError:
        raise TokenError("token_invalid", "This link is not valid. Ask for a new link.") from None
    try:
        participant_id = int(claims["sub"])
        appointment_id = int(claims["apt"])
        jti = str(claims["jti"])
    except (TypeError, ValueError):
        raise TokenError("token_invalid", "This link is not valid. Ask for a new link.") from None
    expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    if expires_at <= now and not allow_expired:
        raise TokenError("token_expired", "This link has expired. Ask for a new link.")
    return JoinClaims(
        jti=jti,
        participant_id=participant_id,
        appointment_id=appointment_id,
        issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        expires_at=expires_at,
    )


def short_mac(key: SigningKey, subject: str) -> str:
    """A 96-bit HMAC-SHA256 of ``subject``, as 16 URL-safe characters."""
    digest = hmac.new(key.secret, subject.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


def is_urlsafe(text: str) -> bool:
    return all(c in _URLSAFE for c in text)


def short_token(key: SigningKey, link: JoinLink) -> str:
    """The short form of a join link, for text messages: the link's id and a MAC over
    its stored claims, 38 characters instead of a JWT's 250 or so, so that a North Sámi
    SMS (UCS-2, 67 characters a segment) fits in three segments. Only the key's holder
    can make one; the id alone (stored in the database) opens nothing."""
    subject = (f"kota-join-short|{link.jti}|{link.participant_id}|{link.appointment_id}"
               f"|{int(link.expires_at.timestamp())}")
    return link.jti + short_mac(key, subject)


def short_token_jti(token: str) -> str | None:
    """The link id of a token of the short form, or None for any other text."""
    if len(token) != JTI_LENGTH + SHORT_MAC_LENGTH or not is_urlsafe(token):
        return None
    return token[:JTI_LENGTH]
