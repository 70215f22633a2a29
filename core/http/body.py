"""Reading request bodies: JSON only, validated by a voluptuous schema, errors per field.

A body is read to its end however the network splits it (a read returns only what has
arrived so far), within ``MAX_BODY`` bytes and the ``client_timeout`` (a client sending
its body a byte at a time must not hold a request open for ever). JSON nested deeper
than ``jsonutil.MAX_JSON_DEPTH`` is refused like invalid JSON: a 400 and one log line,
never a 500 with a traceback.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import anyio
import voluptuous as vol
from aiohttp import web

from .errors import HttpError, invalid_details
from .jsonutil import NestingError, loads
from .runtime import rt

_LOGGER = logging.getLogger(__name__)

#: API request bodies are small; a bigger one is a mistake or an attack.
MAX_BODY: Final = 1 << 20


async def read_raw(request: web.Request, *, limit: int = MAX_BODY) -> bytes:
    """The whole body (at most ``limit`` bytes, ``MAX_BODY`` by default: 413 beyond; 408
    if it is too slow). Views with a smaller natural size pass their own ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise HttpError(413, f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(rt(request).client_timeout) as scope:
        while chunk := await request.content.read(limit + 1 - size):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"request body larger than {limit} bytes")
    if scope.cancelled_caught:
        _LOGGER.info("Request body from %s too slow: gave up after %.0f s",
                     request.remote, rt(request).client_timeout)
        raise HttpError(408, "the request body did not arrive in time",
                        headers={"Connection": "close"})
    return b"".join(chunks)


async def read_json(request: web.Request, *, allow_empty: bool = True,
                    limit: int = MAX_BODY) -> Any:
    """The body parsed as JSON (None when empty and ``allow_empty``); 400 for invalid or
    too deeply nested JSON, 413 beyond ``limit`` bytes."""
    raw = await read_raw(request, limit=limit)
    if not raw.strip():
        if allow_empty:
            return None
        raise HttpError(400, "a JSON body is required")
    try:
        return loads(raw)
    except NestingError as err:
        _LOGGER.info("Refused a request body from %s to %s: %s", request.remote,
                     request.path, err)
        raise HttpError(400, f"invalid JSON: {err}") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise HttpError(400, f"invalid JSON: {err}") from None


async def read_body(request: web.Request, schema: vol.Schema) -> dict[str, Any]:
    """The JSON object body validated by ``schema`` (400 naming each bad field)."""
    data = await read_json(request)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise HttpError(400, "the JSON body must be an object")
    try:
        validated: dict[str, Any] = schema(data)
    except vol.Invalid as err:
        message, fields = invalid_details(err)
        raise HttpError(400, message, errors=fields) from None
    return validated
