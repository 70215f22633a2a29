"""Turning a payload into a value: ``json_path``, ``value_template``, and bad payloads.

A ``ValueReader`` is built once per entity from its configuration and called for every
message, so the choices are made up front: a compiled path, a template source whose
``value_json`` is only parsed when the template uses it. A payload that cannot be
read raises ``BadPayload``; entities count those and log them once per burst
(``BurstLog``), because a device that starts sending garbage sends it every second.

``json_path`` is deliberately tiny (no dependency): dotted keys and list indices,
``a.b[0].c``, optionally starting with ``$.``; keys with dots or brackets can be quoted,
``a['x.y']``.
"""

from __future__ import annotations

import contextlib
import json
import json.scanner
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from gatehouse.core.template import TemplateError

if TYPE_CHECKING:
    from gatehouse.core.template import TemplateEngine

PathKey = str | int

_PATH_TOKEN = re.compile(
    r"""\.?(?P<name>[^.\[\]'"]+)|\[(?P<index>-?\d+)\]|\[(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\]"""
)


class BadPayload(Exception):
    """A payload that could not be turned into a value; ``str()`` says why."""


_make_scanner: Any = getattr(json.scanner, "c_make_scanner", None) or json.scanner.make_scanner
_scan = _make_scanner(json.JSONDecoder())


def loads(payload: bytes | str) -> Any:
    """``json.loads`` for the hot path: a third of its cost on small payloads.

    ``json.loads`` sniffs the encoding of bytes and wraps the scanner in two layers;
    here the payload is decoded as UTF-8 and scanned directly. Anything unusual
    (leading or trailing whitespace, an error) goes through ``json.loads`` for its
    exact behaviour and messages. Raises ``ValueError`` for non-JSON and non-UTF-8.
    """
    text = payload.decode("utf-8") if payload.__class__ is bytes else payload
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


def compile_json_path(path: str) -> tuple[PathKey, ...]:
    """``"a.b[0].c"`` → ``("a", "b", 0, "c")``; raises ``ValueError`` if malformed."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    keys: list[PathKey] = []
    pos = 0
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"json_path {path!r}: unexpected {text[pos:]!r}")
        if match["name"] is not None:
            keys.append(match["name"])
        elif match["index"] is not None:
            keys.append(int(match["index"]))
        else:
            keys.append(match["sq"] if match["sq"] is not None else match["dq"])
        pos = match.end()
    if not keys:
        raise ValueError(f"json_path {path!r} selects nothing")
    return tuple(keys)


def json_path(value: Any) -> str:
    """Voluptuous validator: a well-formed ``json_path`` (kept as a string)."""
    if not isinstance(value, str):
        raise vol.Invalid("expected a path like a.b[0].c")
    try:
        compile_json_path(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from err
    return value


def walk(data: Any, keys: tuple[PathKey, ...]) -> Any:
    """Follow ``keys`` into decoded JSON; raises ``BadPayload`` if the path is absent."""
    for key in keys:
        try:
            if key.__class__ is int:
                if data.__class__ is not list:
                    raise BadPayload(f"expected a list at [{key}], got {_kind(data)}")
                data = data[key]
            else:
                if data.__class__ is not dict:
                    raise BadPayload(f"expected an object at {key!r}, got {_kind(data)}")
                data = data[key]
        except (KeyError, IndexError):
            raise BadPayload(f"no {key!r} in the payload") from None
    return data


def _kind(data: Any) -> str:
    return "null" if data is None else type(data).__name__


class ValueReader:
    """Reads one entity's value from a payload (see the module docstring).

    ``read(payload)`` is chosen once, at construction, for the entity's configuration:
    a JSON value for ``json_path``, else a string (the payload, or the rendered
    template). It raises ``BadPayload``.
    """

    __slots__ = ("_engine", "_keys", "_template", "_wants_json", "read")

    def __init__(
        self,
        engine: TemplateEngine | None,
        value_template: str | None = None,
        path: str | None = None,
    ) -> None:
        if value_template is not None and path is not None:
            raise ValueError("value_template and json_path exclude each other")
        self._keys = compile_json_path(path) if path is not None else ()
        self._template = value_template or ""
        self._engine = engine
        self._wants_json = value_template is not None and "value_json" in value_template
        self.read: Callable[[bytes], Any]
        if value_template is not None:
            if engine is None:
                raise ValueError("a value_template needs a template engine")
            try:  # a syntax error fails set-up, not each message
                engine.compile(value_template)
            except TemplateError as err:
                raise ValueError(str(err)) from err
            self.read = self._read_template
        elif len(self._keys) == 1 and isinstance(self._keys[0], str):
            # The common ``json_path: value``: one key, no general walk (hot path).
            self.read = _single_key_reader(self._keys[0])
        elif self._keys:
            self.read = self._read_path
        else:
            self.read = _read_text

    def _read_path(self, payload: bytes) -> Any:
        try:
            data = loads(payload)
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise BadPayload(f"not JSON: {err}") from None
        return walk(data, self._keys)

    def _read_template(self, payload: bytes) -> Any:
        text = _read_text(payload)
        variables: dict[str, Any] = {"value": text}
        if self._wants_json:
            # Not JSON: the template then fails on the undefined value_json (counted).
            with contextlib.suppress(ValueError):
                variables["value_json"] = loads(text)
        assert self._engine is not None
        try:
            return self._engine.render(self._template, variables).strip()
        except TemplateError as err:
            raise BadPayload(str(err)) from None


def _read_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadPayload(f"not UTF-8: {err}") from None


def _single_key_reader(key: str) -> Callable[[bytes], Any]:
    """``loads`` and one dict lookup, inlined: the ingest hot path."""
    scan = _scan
    fallback = json.loads

    def read(payload: bytes) -> Any:
        try:
            text = payload.decode("utf-8")
            try:
                data, end = scan(text, 0)
                if end != len(text):
                    data = fallback(text)
            except StopIteration:
                data = fallback(text)
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise BadPayload(f"not JSON: {err}") from None
        if data.__class__ is dict:
            try:
                return data[key]
            except KeyError:
                raise BadPayload(f"no {key!r} in the payload") from None
        return walk(data, (key,))

    return read


class BurstLog:
    """Counts bad payloads of one entity and logs the first of each burst.

    A burst starts with a bad payload and ends with the next good one; one warning at
    the start, one line at the end with how many were swallowed in between.
    """

    __slots__ = ("_logger", "_name", "burst", "total")

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self._logger = logger
        self._name = name
        self.total = 0
        self.burst = 0

    def rename(self, name: str) -> None:
        self._name = name

    def hit(self, reason: str, topic: str, payload: bytes) -> None:
        self.total += 1
        if self.burst == 0:
            self._logger.warning(
                "%s: cannot read payload on %s (%s): %r; further bad payloads are "
                "counted, not logged, until a good one arrives",
                self._name,
                topic,
                reason,
                payload[:200],
            )
        self.burst += 1

    def calm(self) -> None:
        if self.burst:
            self._logger.info(
                "%s: payloads readable again after %d bad ones", self._name, self.burst
            )
            self.burst = 0
