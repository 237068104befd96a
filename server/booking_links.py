"""A booking's confirm and manage links: HS256 tokens signed again from stored claims.

Like join links, the token text is never stored: it is derived from the booking's id
and nonce, which HS256 makes byte-for-byte the same each time, so the outbox can build
the message when it sends it. A new nonce stops every earlier link of that purpose.
The token rides in the URL fragment, which browsers never send to a server.
"""

from __future__ import annotations

import enum
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from server.join_tokens import (
    ALGORITHM,
    ISSUER,
    MAX_TOKEN_LENGTH,
    SHORT_MAC_LENGTH,
    SigningKey,
    is_urlsafe,
    short_mac,
)
from server.records import Booking

# A manage link keeps working this long after the appointment's end, to show "it is over".
MANAGE_AFTER_END = timedelta(days=1)


class BookingLinkPurpose(enum.StrEnum):
    CONFIRM = "kota-booking-confirm"
    MANAGE = "kota-booking-manage"


class BookingLinkError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BookingClaims:
    booking_id: int
    nonce: str  # empty for a short token, which the caller checks with ``matches``
    short: str | None = None  # the short token itself


class BookingLinks:
    def __init__(self, key: SigningKey, public_url: str) -> None:
        self.key = key
        self.public_url = public_url

    def token(self, booking: Booking, purpose: BookingLinkPurpose) -> str:
        if purpose is BookingLinkPurpose.CONFIRM:
            nonce, expires = booking.confirm_nonce, booking.hold_expires_at
        else:
            nonce, expires = booking.manage_nonce, booking.ends_at + MANAGE_AFTER_END
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": purpose.value,
            "sub": str(booking.id),
            "nonce": nonce,
            "iat": int(booking.created_at.timestamp()),
            "exp": int(expires.timestamp()),
        }
        return jwt.encode(claims, self.key.secret, algorithm=ALGORITHM)

    def short_confirm_token(self, booking: Booking) -> str:
        """The confirm link's short form, for text messages: the booking's id and a MAC
        over it and its confirm nonce (``<id>-<16 characters>``), so that a North Sámi
        SMS fits in three segments. A new nonce stops it, as it stops the long one."""
        subject = f"{BookingLinkPurpose.CONFIRM.value}|{booking.id}|{booking.confirm_nonce}"
        return f"{booking.id}-{short_mac(self.key, subject)}"

    def confirm_url(self, booking: Booking) -> str:
        return f"{self.public_url}/book/confirm#{self.token(booking, BookingLinkPurpose.CONFIRM)}"

    def short_confirm_url(self, booking: Booking) -> str:
        return f"{self.public_url}/book/confirm#{self.short_confirm_token(booking)}"

    def matches(self, claims: BookingClaims, booking: Booking,
                purpose: BookingLinkPurpose) -> bool:
        """Whether the token still names this booking: its nonce is the booking's, or
        (a short confirm token) its MAC is the one made from the booking's nonce."""
        if claims.short is not None:
            return hmac.compare_digest(self.short_confirm_token(booking).encode(),
                                       claims.short.encode())
        nonce = (booking.confirm_nonce if purpose is BookingLinkPurpose.CONFIRM
                 else booking.manage_nonce)
        return hmac.compare_digest(nonce.encode(), claims.nonce.encode())

    def manage_url(self, booking: Booking) -> str:
        return f"{self.public_url}/book/manage#{self.token(booking, BookingLinkPurpose.MANAGE)}"

    def decode(self, token: str, purpose: BookingLinkPurpose, now: datetime, *,
               allow_expired: bool = False) -> BookingClaims:
        """Signature, audience and expiry; the caller compares the nonce with the row's.

        ``allow_expired``: a confirm link past its hold still names its booking, which
        may be confirmed while its slot is free (the nonce still has to match).
        """
        if purpose is BookingLinkPurpose.CONFIRM and (short := _short_claims(token)):
            return short  # its time is the booking's hold, which confirming checks
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise BookingLinkError("token_malformed", "This link is not complete.")
        try:
            claims = jwt.decode(
                token, self.key.secret, algorithms=[ALGORITHM], audience=purpose.value,
                issuer=ISSUER, leeway=0,
                # Expiry is checked against ``now`` below (Kota's clock), not the host's.
                options={"require": ["exp", "iat", "sub", "aud", "iss", "nonce"],
                         "verify_exp": False, "verify_iat": False},
            )
        except jwt.ExpiredSignatureError:
            raise BookingLinkError("token_expired", "This link has expired.") from None
        except jwt.InvalidSignatureError:
            raise BookingLinkError("token_invalid", "This link is not valid.") from None
        except jwt.DecodeError:
            raise BookingLinkError("token_malformed", "This link is not complete.") from None
        except jwt.InvalidTokenError:
            raise BookingLinkError("token_invalid", "This link is not valid.") from None
        try:
            booking_id = int(claims["sub"])
            nonce = str(claims["nonce"])
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            raise BookingLinkError("token_invalid", "This link is not valid.") from None
        if not allow_expired and expires <= now:
            raise BookingLinkError("token_expired", "This link has expired.")
        return BookingClaims(booking_id, nonce)


def _short_claims(token: str) -> BookingClaims | None:
    """``<booking id>-<MAC>``: the id in digits (at most 18), the MAC 16 characters."""
    booking_id, dash, mac = token.partition("-")
    if (not dash or not booking_id.isascii() or not booking_id.isdigit()
            or len(booking_id) > 18 or len(mac) != SHORT_MAC_LENGTH or not is_urlsafe(mac)):
        return None
    return BookingClaims(int(booking_id), "", token)
