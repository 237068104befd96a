"""A booking's confirm and manage links: HS256 tokens signed again from stored claims.

Like join links, the token text is never stored: it is derived from the booking's id
and nonce, which HS256 makes byte-for-byte the same each time, so the outbox can build
the message when it sends it. A new nonce stops every earlier link of that purpose.
The token rides in the URL fragment, which browsers never send to a server.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from server.join_tokens import ALGORITHM, ISSUER, MAX_TOKEN_LENGTH, SigningKey
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
    nonce: str


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

    def confirm_url(self, booking: Booking) -> str:
        return f"{self.public_url}/book/confirm#{self.token(booking, BookingLinkPurpose.CONFIRM)}"

    def manage_url(self, booking: Booking) -> str:
        return f"{self.public_url}/book/manage#{self.token(booking, BookingLinkPurpose.MANAGE)}"

    def decode(self, token: str, purpose: BookingLinkPurpose, now: datetime, *,
               allow_expired: bool = False) -> BookingClaims:
        """Signature, audience and expiry; the caller compares the nonce with the row's.

        ``allow_expired``: a confirm link past its hold still names its booking, which
        may be confirmed while its slot is free (the nonce still has to match).
        """
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
