"""JSON for the ingest hot path: a fast ``loads`` and one small ``json_path`` dialect.

``json_path`` is deliberately tiny (no dependency), and there is exactly one dialect in
the house, whatever the transport::

    $.a.b[0].c        keys and list indices (``$.`` is optional: ``a.b[0].c``)
    a['x.y']          a key with dots or brackets in it, quoted ('' or "")
    a.b.0             a bare number is a list index where the data has a list there,
                      and the key "0" where it has an object

Paths are compiled once (``JsonPath.compile``) and walked per message; a path that is not
in the data raises ``PayloadError`` with what was found instead.
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

_make_scanner: Any = getattr(json.scanner, "c_make_scanner", None) or json.scanner.make_scanner
_scan: Any = _make_scanner(json.JSONDecoder())


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
