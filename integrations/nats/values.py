"""Turning a message payload into an entity value: raw text, ``json_path`` or a template.

The same extraction serves core subscriptions and JetStream consumers. Anything that
cannot produce a value (bytes that are not UTF-8, JSON that does not parse, a path that
is not there, a template that fails) raises ``MalformedPayload``: callers count it and,
for a consumer, terminate the message so it can never stall the stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gatehouse.core.template import TemplateEngine, TemplateError

_PATH_TOKEN = re.compile(r"[^.\[\]]+|\[(\d+)\]")


class MalformedPayload(ValueError):
    """The payload does not hold a value in the configured shape."""


def parse_path(path: str) -> tuple[str | int, ...]:
    """``$.a.b[0].c`` / ``a.b.0.c`` → ``("a", "b", 0, "c")``."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    parts: list[str | int] = []
    for match in _PATH_TOKEN.finditer(text):
        index, token = match.group(1), match.group(0)
        if index is not None:
            parts.append(int(index))
        elif token.isdigit():
            parts.append(int(token))
        else:
            parts.append(token)
    return tuple(parts)


def walk(document: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` in parsed JSON; ``MalformedPayload`` if it is not there."""
    value = document
    for part in path:
        try:
            if isinstance(part, int) and isinstance(value, list):
                value = value[part]
            elif isinstance(value, Mapping):
                value = value[str(part)]
            else:
                raise MalformedPayload(f"no {part!r} in {type(value).__name__}")
        except (KeyError, IndexError) as err:
            raise MalformedPayload(f"path element {part!r} not found") from err
    return value


class ValueExtractor:
    """Extracts one value from payloads, as configured by ``value_template``/``json_path``."""

    def __init__(
        self,
        engine: TemplateEngine | None,
        *,
        value_template: str | None = None,
        json_path: str | None = None,
    ) -> None:
        self._engine = engine
        self._template = value_template
        self._path = parse_path(json_path) if json_path else None
        # Parse JSON for a template only when it reads value_json: most do not.
        self._template_wants_json = bool(value_template and "value_json" in value_template)
        if value_template and engine is not None:
            engine.compile(value_template)  # a syntax error fails set-up, not each message

    def extract(self, payload: bytes, subject: str) -> Any:
        try:
            text = payload.decode()
        except UnicodeDecodeError as err:
            raise MalformedPayload("payload is not UTF-8") from err
        if self._path is not None:
            try:
                document = json.loads(text)
            except ValueError as err:
                raise MalformedPayload("payload is not JSON") from err
            value = walk(document, self._path)
            if isinstance(value, dict | list):
                return json.dumps(value, separators=(",", ":"))
            return value
        if self._template is not None and self._engine is not None:
            variables: dict[str, Any] = {"value": text, "subject": subject}
            if self._template_wants_json:
                try:
                    variables["value_json"] = json.loads(text)
                except ValueError as err:
                    raise MalformedPayload("payload is not JSON") from err
            try:
                return self._engine.render(self._template, variables).strip()
            except TemplateError as err:
                raise MalformedPayload(str(err)) from err
        return text


def decode_json(payload: bytes) -> Any:
    """Parsed JSON, or None when the payload is not JSON."""
    try:
        return json.loads(payload)
    except ValueError:
        return None
