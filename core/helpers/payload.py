"""Payload → value: the one reader every message-driven entity uses (MQTT, NATS, ...).

A ``ValueReader`` is built once per entity from its configuration (``value_template`` or
``json_path``, or neither: the payload as text) and called for every message, so the
choices are made up front: a compiled path, a template compiled at construction (a
syntax error fails set-up, not every message) whose ``value_json`` is only parsed when
the template mentions it. Anything that cannot produce a value raises ``PayloadError``;
callers count it (``BurstLog``) and keep the last good state.

Templates see ``value`` (the payload as text), ``value_json`` (the parsed payload, when
it is JSON; undefined otherwise, as in Home Assistant) and whatever the caller passes as
``variables`` (``topic``, ``subject``...). A template that fails raises
``ValueTemplateError`` (a ``PayloadError`` carrying the ``TemplateError``), so an entity
can show *why* its value stopped updating. Every render runs on the host's budget; a
template that ran over it is not rendered again for a pause (1 s, doubling up to 60 s
while it keeps running over, reset by any render within budget): each overrun costs
the event loop up to the budget's time, and a device (or an attacker) sending a message
every millisecond must not turn that into a stalled loop. Messages arriving during the
pause are rejected with the same error, without rendering.

JSON nested deeper than ``MAX_DEPTH`` (64) levels is a ``PayloadError`` like any other
malformed payload, never a ``RecursionError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..exceptions import PayloadError
from ..template import TemplateBudgetError, TemplateError
from ..util.backoff import Backoff
from ..util.jsonpath import JsonPath, check_depth, loads, scanner

if TYPE_CHECKING:
    from ..template import TemplateEngine

#: ``read(payload, variables=None) -> value``
ReadFn = Callable[[bytes, "Mapping[str, Any] | None"], Any]

#: How long a template that ran over its budget is not rendered again.
SUSPENSION: Final = Backoff(initial=1.0, maximum=60.0, jitter=0.0)


class ValueTemplateError(PayloadError):
    """The value template failed on a payload; ``error`` is the ``TemplateError`` (a
    ``TemplateBudgetError`` when it ran over its budget)."""

    def __init__(self, error: TemplateError, message: str | None = None) -> None:
        super().__init__(message if message is not None else str(error))
        self.error = error


def payload_text(payload: bytes) -> str:
    """The payload as UTF-8 text; ``PayloadError`` if it is not UTF-8."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise PayloadError(f"not UTF-8: {err}") from None


def payload_json(payload: bytes) -> Any:
    """The payload parsed as JSON; ``PayloadError`` if it is not UTF-8 JSON (or is
    nested absurdly deep)."""
    try:
        return loads(payload)
    except PayloadError:
        raise
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
        raise PayloadError(f"not JSON: {err}") from None


class ValueReader:
    """Reads one entity's value from a payload (see the module docstring).

    ``read(payload, variables=None)`` is chosen once, at construction: a JSON value for
    ``json_path`` (any JSON type: the entity decides what it accepts), else a string
    (the payload, or the rendered template, stripped). It raises ``PayloadError``
    (``ValueTemplateError`` when the template fails). ``name`` names the template in
    errors (default: the start of its source; may be set later, once the entity has an
    id). Construction raises ``ValueError`` for a malformed path or template.
    """

    __slots__ = (
        "_engine", "_failure", "_pacing", "_path", "_resume_at", "_template", "_wants_json",
        "name", "read",
    )

    def __init__(
        self,
        engine: TemplateEngine | None,
        *,
        value_template: str | None = None,
        json_path: str | None = None,
        name: str | None = None,
    ) -> None:
        if value_template is not None and json_path is not None:
            raise ValueError("value_template and json_path exclude each other")
        self._path = JsonPath.compile(json_path) if json_path is not None else None
        self._template = value_template or ""
        self._engine = engine
        self.name = name
        self._pacing = SUSPENSION.counter()
        self._resume_at = 0.0
        self._failure: TemplateBudgetError | None = None
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
        return self._path.walk(payload_json(payload))  # payload_json checked the depth

    @property
    def suspended(self) -> bool:
        """True while the template rests after running over its budget."""
        return self._failure is not None and time.monotonic() < self._resume_at

    def _read_template(self, payload: bytes, variables: Mapping[str, Any] | None = None) -> Any:
        if self._failure is not None and time.monotonic() < self._resume_at:
            raise ValueTemplateError(
                self._failure, f"{self._failure} (suspended: not rendered until it rests)"
            )
        text = payload_text(payload)
        context: dict[str, Any] = dict(variables) if variables else {}
        context["value"] = text
        if self._wants_json:
            # Not JSON: value_json stays undefined; a template that needs it fails (and
            # the failure is counted), one that tests ``value_json is defined`` does not.
            # JSON nested absurdly deep is a bad payload of its own.
            try:
                context["value_json"] = loads(text)
            except PayloadError:
                raise
            except ValueError:
                pass
        assert self._engine is not None
        try:
            rendered = self._engine.render(self._template, context, name=self.name)
        except TemplateBudgetError as err:
            pause = self._pacing.failed()
            self._failure = err
            self._resume_at = time.monotonic() + pause
            raise ValueTemplateError(err, f"{err}; not rendered again for {pause:g} s") from None
        except TemplateError as err:
            self._rendered()
            raise ValueTemplateError(err) from None
        self._rendered()
        return rendered.strip()

    def _rendered(self) -> None:
        """A render within budget: the next overrun pauses it for the shortest time."""
        if self._failure is not None:
            self._failure = None
            self._pacing.succeeded()


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
            except RecursionError:
                data = fallback(text)  # refuses it as nested too deeply
        except PayloadError:
            raise
        except ValueError as err:  # JSONDecodeError and UnicodeDecodeError
            raise PayloadError(f"not JSON: {err}") from None
        if data.__class__ is dict:
            try:
                value = data[key]
            except KeyError:
                raise PayloadError(f"no {key!r} in the payload") from None
            cls = value.__class__
            # Scalars (the common case) cannot be deep; a container is checked.
            return check_depth(value) if cls is dict or cls is list else value
        return check_depth(path.walk(data))

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
