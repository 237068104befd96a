"""JSON request bodies, decoded and validated with msgspec in one step, and their size limit.

The limit is the app's ``client_max_size`` (``KOTA_MAX_BODY_BYTES``). A body that declares
more in ``Content-Length`` is refused before a byte of it is read, and its connection
closed rather than drained; a chunked body is cut off by aiohttp once it passes the limit.
A client that goes away mid-body is not an error of ours (``errors.py``: ``client_gone``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import msgspec
from aiohttp import web

from server.errors import BadRequest, TooLarge, Unprocessable, error_response
from server.request_log import Handler

T = TypeVar("T")

TOO_LARGE = TooLarge("body_too_large", "The request body is too large.")


@web.middleware
def body_limit_middleware(
    request: web.Request, handler: Handler
) -> Awaitable[web.StreamResponse]:
    """Refuses a declared body over the limit from its headers alone.

    Not a coroutine on the way through, so it holds no frame while a call socket lives.
    """
    declared = request.content_length
    if declared is None or declared <= request.client_max_size:
        return handler(request)
    return _refuse_body(request)


async def _refuse_body(request: web.Request) -> web.StreamResponse:
    """Answers 413 and closes: aiohttp would otherwise read the unread body for seconds."""
    response = error_response(TOO_LARGE)
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()  # after the answer is written: it is sent, then FIN
    return response


async def decode_body(request: web.Request, body_type: type[T]) -> T:
    """Decode the body as ``body_type``; a declared size was checked by
    ``body_limit_middleware``, and aiohttp's read stops a chunked body at the limit."""
    if request.content_type != "application/json":
        raise BadRequest("json_expected", "Send the request body as application/json.")
    raw = await request.read()
    return decode_json(raw, body_type)


def decode_json(raw: bytes | str, body_type: type[T]) -> T:
    try:
        return msgspec.json.decode(raw, type=body_type)
    except msgspec.ValidationError as exc:
        raise Unprocessable("invalid_field", str(exc)) from None
    except msgspec.DecodeError:
        raise BadRequest("bad_json", "The request body is not valid JSON.") from None
