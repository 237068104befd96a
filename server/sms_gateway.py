"""SmsGateway: hands a text message to the municipality's SMS adapter over HTTP.

The interface is small on purpose (docs/messages.md, "The SMS interface"): one signed
JSON POST per message. The adapter answers 2xx once its provider has the message. 4xx
means it never will (failed at once), except 408 and 429, which, like 5xx and network
errors, are tried again with back-off. ``Idempotency-Key`` lets an adapter drop a
repeat of a request whose answer was lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import aiohttp

from server.send_failure import SendFailure

# Seconds for the whole request; a hanging adapter becomes a retry.
GATEWAY_TIMEOUT = 30.0
_RETRIED_4XX = frozenset({408, 429})


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``timestamp + "." + body``."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def request_id(message_id: int) -> str:
    return f"kota-outbox-{message_id}"


class SmsGateway:
    def __init__(self, url: str, secret: bytes) -> None:
        self.url = url
        self._secret = secret
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=GATEWAY_TIMEOUT),
            headers={"User-Agent": "Kota"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def request(self, message_id: int, to: str, text: str, language: str,
                now: datetime) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one message's POST."""
        body = json.dumps(
            {"id": request_id(message_id), "to": to, "text": text, "language": language},
            ensure_ascii=False, separators=(",", ":"),
        ).encode()
        timestamp = str(int(now.timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Kota-Timestamp": timestamp,
            "X-Kota-Signature": signature(self._secret, timestamp, body),
            "Idempotency-Key": request_id(message_id),
        }
        return body, headers

    async def send(self, message_id: int, to: str, text: str, language: str,
                   now: datetime) -> None:
        """Returns once the adapter answered 2xx; else raises SendFailure."""
        if self._session is None:
            raise RuntimeError("SmsGateway.start() was not called")
        body, headers = self.request(message_id, to, text, language, now)
        try:
            async with self._session.post(self.url, data=body, headers=headers,
                                          allow_redirects=False) as resp:
                status = resp.status
                await resp.read()
        except TimeoutError:
            raise SendFailure("gateway_timeout", permanent=False) from None
        except (aiohttp.ClientError, OSError):
            raise SendFailure("gateway_unreachable", permanent=False) from None
        if 200 <= status <= 299:
            return
        permanent = 400 <= status <= 499 and status not in _RETRIED_4XX
        raise SendFailure(f"gateway_{status}", permanent=permanent)
