"""Payload → value: the one reader every message-driven entity uses (MQTT, NATS, ...).

A ``ValueReader`` is built once per entity from its configuration (``value_template`` or
``json_path``, or neither: the payload as text) and called for every message, so the
choices are made up front: a compiled path, a template compiled at construction (a
syntax error fails set-up, not every message) whose ``value_json`` is only parsed when
the template mentions it. Anything that cannot produce a value raises ``PayloadError``;
callers count it (``BurstLog``) and keep the last good state.

Templates see ``value`` (the payload as text), ``value_json`` (the parsed payload, when
it is JSON; undefined otherwise, as in Home Assistant) and whatever the caller passes as
``variables`` (``topic``, ``subject``...).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import PayloadError
from ..template import TemplateError
from ..util.jsonpath import JsonPath, loads, scanner

if TYPE_CHECKING:
    from ..template import TemplateEngine

#: ``read(payload, variables=None) -> value``
ReadFn = Callable[[bytes, "Mapping[str, Any] | None"], Any]


def payload_text(payload: bytes) -> str:
    """The payload as UTF-8 text; ``PayloadError`` if it is not UTF-8."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PayloadError(f"not UTF-8: {err}") from None


def payload_json(payload: bytes) -> Any:
    """The payload parsed as JSON; ``PayloadError`` if it is not UTF-8 JSON."""
    try:
        return loads(payload)
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise PayloadError(f"not JSON: {err}") from None


class ValueReader:
    """Reads one entity's value from a payload (see the module docstring).

    ``read(payload, variables=None)`` is chosen once, at construction: a JSON value for
    ``json_path`` (any JSON type: the entity decides what it accepts), else a string
    (the payload, or the rendered template, stripped). It raises ``PayloadError``.
    Construction raises ``ValueError`` for a malformed path or template.
    """

    __slots__ = ("_engine", "_path", "_template", "_wants_json", "read")

    def __init__(
        self,
        engine: TemplateEngine | None,
        *,
        value_template: str | None = None,
        json_path: str | None = None,
    ) -> None:
        if value_template is not None and json_path is not None:
            raise ValueError("value_template and json_path exclude each other")
        self._path = JsonPath.compile(json_path) if json_path is not None else None
        self._template = value_template or ""
        self._engine = engine
        self._wants_json = value_template is not None and "value_json" in value_template
        self.read: ReadFn
        if value_template is not None:
            if engine is None:
                raise ValueError("a value_template needs a template engine")
            try:
                engine.compile(value_template)
            except TemplateError as err:
                raise ValueError(str(err)) from err
            self.read = self._read_template
        elif self._path is not None and len(self._path.keys) == 1 and isinstance(
            self._path.keys[0], str
        ):
            # The common ``json_path: value``: one key, no general walk (hot path).
            self.read = _single_key_reader(self._path)
        elif self._path is not None:
            self.read = self._read_path
        else:
            self.read = _read_text

    def _read_path(self, payload: bytes, variables: Mapping[str, Any] | None = None) -> Any:
        assert self._path is not None
        return self._path.walk(payload_json(payload))

    def _read_template(self, payload: bytes, variables: Mapping[str, Any] | None = None) -> Any:
        text = payload_text(payload)
        context: dict[str, Any] = dict(variables) if variables else {}
        context["value"] = text
        if self._wants_json:
            # Not JSON: value_json stays undefined; a template that needs it fails (and
            # the failure is counted), one that tests ``value_json is defined`` does not.
            with contextlib.suppress(ValueError):
                context["value_json"] = loads(text)
        assert self._engine is not None
        try:
            return self._engine.render(self._template, context).strip()
        except TemplateError as err:
            raise PayloadError(str(err)) from None


def _read_text(payload: bytes, variables: Mapping[str, Any] | None = None) -> str:
    return payload_text(payload)


def _single_key_reader(path: JsonPath) -> ReadFn:
    """``loads`` and one dict lookup, inlined: the ingest hot path."""
    key = path.keys[0]
    scan = scanner()
    fallback = loads

    def read(payload: bytes, variables: Mapping[str, Any] | None = None) -> Any:
        try:
            text = payload.decode("utf-8")
            try:
                data, end = scan(text, 0)
                if end != len(text):
                    data = fallback(text)
            except StopIteration:
                data = fallback(text)
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise PayloadError(f"not JSON: {err}") from None
        if data.__class__ is dict:
            try:
                return data[key]
            except KeyError:
                raise PayloadError(f"no {key!r} in the payload") from None
        return path.walk(data)

    return read


@dataclass(frozen=True, slots=True)
class OnOffPayload:
    """The words a device uses for on and off (``payload_on``/``payload_off``).

    ``parse`` accepts JSON booleans as themselves and compares anything else as text;
    a word that is neither raises ``PayloadError`` (a device saying "maybe" is a bad
    payload, not "off").
    """

    on: str = "ON"
    off: str = "OFF"

    def parse(self, value: Any) -> bool:
        if value is True or value is False:
            return bool(value)
        text = str(value)
        if text == self.on:
            return True
        if text == self.off:
            return False
        raise PayloadError(f"{value!r} is neither {self.on!r} nor {self.off!r}")

    def word(self, on: bool) -> str:
        """The word to send for ``on``."""
        return self.on if on else self.off
