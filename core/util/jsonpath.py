"""JSON for the ingest hot path: a fast ``loads`` and one small ``json_path`` dialect.

``json_path`` is deliberately tiny (no dependency), and there is exactly one dialect in
the house, whatever the transport::

    $.a.b[0].c        keys and list indices (``$.`` is optional: ``a.b[0].c``)
    a['x.y']          a key with dots or brackets in it, quoted ('' or "")
    a.b.0             a bare number is a list index where the data has a list there,
                      and the key "0" where it has an object

Paths are compiled once (``JsonPath.compile``) and walked per message; a path that is not
in the data raises ``PayloadError`` with what was found instead.

Payloads come from devices and brokers, not from us: ``loads`` refuses JSON nested deeper
than ``MAX_DEPTH`` (64) with a ``PayloadError``. Without that, about 1,000 levels made the
decoder raise ``RecursionError`` (logged as a traceback for every message, past the
bad-payload accounting), and a few hundred levels that did decode broke whoever
serialised the value later (a state attribute made ``GET /api/states`` fail). Real
device payloads are a handful of levels deep.
"""

from __future__ import annotations

import json
import json.scanner
import re
from typing import Any, Final

from ..exceptions import PayloadError

PathKey = str | int

_PATH_TOKEN: Final = re.compile(
    r"""\.?(?P<name>[^.\[\]'"]+)|\[(?P<index>-?\d+)\]|\[(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)")\]"""
)

#: Deepest nesting of objects and arrays a payload may have.
MAX_DEPTH: Final = 64

_make_scanner: Any = getattr(json.scanner, "c_make_scanner", None) or json.scanner.make_scanner
_scan: Any = _make_scanner(json.JSONDecoder())


def _too_deep() -> PayloadError:
    return PayloadError(f"JSON nested deeper than {MAX_DEPTH} levels")


def check_depth(value: Any) -> Any:
    """``value`` (decoded JSON) if it is nested at most ``MAX_DEPTH`` levels deep, else
    ``PayloadError``. Iterative, and it stops at the first level too deep."""
    cls = value.__class__
    if cls is not dict and cls is not list:
        return value
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        for child in node.values() if node.__class__ is dict else node:
            if child.__class__ is dict or child.__class__ is list:
                stack.append((child, depth + 1))
    return value


def _slow_loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise _too_deep() from None


def loads(payload: bytes | str) -> Any:
    """``json.loads`` for the hot path: a third of its cost on small payloads.

    ``json.loads`` sniffs the encoding of bytes and wraps the scanner in two layers;
    here the payload is decoded as UTF-8 and scanned directly. Anything unusual
    (leading or trailing whitespace, an error) goes through ``json.loads`` for its
    exact behaviour and messages. Raises ``ValueError`` for non-JSON and non-UTF-8, and
    ``PayloadError`` (a ``ValueError``) for nesting deeper than ``MAX_DEPTH``; the depth
    is only walked when the text has that many brackets at all.
    """
    text: str = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError):
        value = _slow_loads(text)
    except RecursionError:
        raise _too_deep() from None
    else:
        if end != len(text):
            value = _slow_loads(text)
    if (value.__class__ is dict or value.__class__ is list) and (
        text.count("[") + text.count("{") > MAX_DEPTH
    ):
        check_depth(value)
    return value


def scanner() -> Any:
    """The raw C scanner behind ``loads`` (``scan(text, 0) -> (value, end)``), for
    readers that inline it."""
    return _scan


def _kind(data: Any) -> str:
    return "null" if data is None else type(data).__name__


class JsonPath:
    """A compiled ``json_path`` (see the module docstring)."""

    __slots__ = ("keys", "source")

    def __init__(self, source: str, keys: tuple[PathKey, ...]) -> None:
        self.source = source
        self.keys = keys

    @classmethod
    def compile(cls, path: str) -> JsonPath:
        """``"a.b[0].c"`` → keys ``("a", "b", 0, "c")``; ``ValueError`` if malformed."""
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
        return cls(path, tuple(keys))

    def walk(self, data: Any) -> Any:
        """The value at this path in decoded JSON; ``PayloadError`` if it is not there."""
        for step in self.keys:
            key = step
            cls = data.__class__
            try:
                if cls is dict:
                    if key.__class__ is int:
                        raise PayloadError(f"expected a list at [{key}], got an object")
                    data = data[key]
                elif cls is list:
                    if key.__class__ is str:
                        if not key.lstrip("-").isdigit():
                            raise PayloadError(f"expected an object at {key!r}, got a list")
                        key = int(key)
                    data = data[key]
                else:
                    where = f"[{key}]" if key.__class__ is int else repr(key)
                    raise PayloadError(f"nothing at {where}: the payload has {_kind(data)} there")
            except (KeyError, IndexError):
                raise PayloadError(f"no {key!r} in the payload") from None
        return data

    def __repr__(self) -> str:
        return f"<JsonPath {self.source!r}>"


def json_path(value: Any) -> str:
    """Voluptuous validator: a string that compiles as a ``json_path`` (kept as text,
    because entry data is stored as JSON; compile it at set-up)."""
    import voluptuous as vol

    if not isinstance(value, str):
        raise vol.Invalid("expected a json_path string")
    try:
        JsonPath.compile(value)
    except ValueError as err:
        raise vol.Invalid(str(err)) from None
    return value
