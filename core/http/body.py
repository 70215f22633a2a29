"""Reading request bodies: JSON only, validated by a voluptuous schema, errors per field."""

from __future__ import annotations

import json
from typing import Any, Final

import voluptuous as vol
from aiohttp import web

from .errors import HttpError, invalid_details

#: API request bodies are small; a bigger one is a mistake or an attack.
MAX_BODY: Final = 1 << 20


async def read_json(request: web.Request, *, allow_empty: bool = True) -> Any:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise HttpError(413, f"request body larger than {MAX_BODY} bytes")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise HttpError(413, f"request body larger than {MAX_BODY} bytes")
    if not raw.strip():
        if allow_empty:
            return None
        raise HttpError(400, "a JSON body is required")
    try:
        return json.loads(raw)
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
