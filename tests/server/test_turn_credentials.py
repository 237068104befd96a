from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from server.turn_credentials import issue_turn_credentials, turn_password


def test_credentials_follow_coturn_rest_format() -> None:
    now = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    creds = issue_turn_credentials(
        b"shared", ("turn:turn.example.fi:3478",), "g12", now, timedelta(hours=2)
    )
    expiry = int((now + timedelta(hours=2)).timestamp())
    assert creds.username == f"{expiry}:g12"
    expected = base64.b64encode(
        hmac.new(b"shared", creds.username.encode(), hashlib.sha1).digest()
    ).decode()
    assert creds.credential == expected
    assert creds.urls == ("turn:turn.example.fi:3478",)


def test_password_depends_on_secret_and_username() -> None:
    assert turn_password(b"a", "1:x") != turn_password(b"b", "1:x")
    assert turn_password(b"a", "1:x") != turn_password(b"a", "2:x")
