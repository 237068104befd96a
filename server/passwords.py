"""Staff passwords, hashed with argon2id."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A hash of nothing in particular, verified when the username is unknown so that
# a wrong username takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("kota-timing-equaliser")

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordChecker:
    """Checks sign-in passwords off the event loop, one argon2 verification per attempt
    whether or not the username exists, so timing does not tell which usernames do.
    ``verifications`` counts them (the tests read it; nothing else does)."""

    def __init__(self) -> None:
        self.verifications = 0

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.verifications += 1
        return await asyncio.to_thread(verify_password, password_hash, password)
