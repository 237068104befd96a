"""JSON request bodies, decoded and validated with msgspec in one step."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from aiohttp import web

from server.errors import BadRequest, Unprocessable

T = TypeVar("T")


async def decode_body(request: web.Request, body_type: type[T]) -> T:
    """Decode the body as ``body_type``; the size limit is the app's client_max_size."""
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
