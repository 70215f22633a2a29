"""InfluxDB line protocol, written exactly to the spec; pure functions, no I/O.

``measurement,tag=value,tag2=value2 field=1.5,other="text",n=3i,ok=true 1700000000000000000``

What the spec asks, and what this module does with what it cannot write:

* **measurement**: commas and spaces are escaped with a backslash;
* **tag keys, tag values, field keys**: commas, equals signs and spaces are escaped;
* **string field values**: in double quotes, with ``"`` and ``\\`` escaped;
* a backslash anywhere else is literal and written as it is, never doubled (the
  parser reads ``a\\b`` as ``a\\b``; doubling it would store two backslashes).
  A backslash right *before* a character the server unescapes is where InfluxDB 1.x
  differs per part of the line (measured against the real server, and tested):
  in tags ``\\`` + escaped character reads back right as it is; in a measurement 1.x
  also unescapes ``\\"`` and ``\\=``, and ``\\\\\\X`` reads as ``\\X``, so that is written;
  in a field key ``\\\\"`` reads as ``\\"``, but a backslash before ``,``, ``=`` or space
  cannot be written at all: it is dropped and counted;
* integers end in ``i`` (64-bit signed: others are dropped and counted), booleans are
  ``true``/``false``, floats are Python's shortest round-trip ``repr``;
* **NaN and ±inf** cannot be stored: the field is dropped and counted, never sent;
* an **empty tag value** (or key) is not allowed: the tag is left out (counted);
* a **newline** (``\\n``, ``\\r``) cannot be escaped in a name (measurement, tag, field
  key): the parser would end the line there. It is replaced by a space and counted.
  Newlines inside string *values* are fine (the value is quoted) and kept;
* a **trailing backslash** in a name escapes the separator that follows it (InfluxDB
  1.x answers ``invalid tag format``), so trailing backslashes are removed (counted);
* a **string field longer than 64 KiB** (InfluxDB's documented limit, in UTF-8 bytes)
  is dropped and counted;
* a point left **without fields** cannot be written: dropped and counted.

``Counts`` holds those counters per reason; the exporter shows them in diagnostics.
Names repeat all the time (the same measurements, tag keys and entity ids), so their
escaped forms are memoised in a bounded dict: escaping is then a dict lookup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

#: InfluxDB's documented longest string field value: 64 KiB (UTF-8 bytes).
MAX_STRING_BYTES: Final = 64 * 1024
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

#: Why something was left out of a point (the keys of ``Counts``).
NON_FINITE: Final = "non_finite_float"
INT_RANGE: Final = "int_out_of_range"
STRING_TOO_LONG: Final = "string_too_long"
EMPTY_TAG: Final = "empty_tag"
NEWLINE_IN_NAME: Final = "newline_in_name"
TRAILING_BACKSLASH: Final = "trailing_backslash"
NO_FIELDS: Final = "no_fields"
BAD_TYPE: Final = "unsupported_type"
FIELD_KEY_BACKSLASH: Final = "field_key_backslash"
REASONS: Final = (
    NON_FINITE, INT_RANGE, STRING_TOO_LONG, EMPTY_TAG, NEWLINE_IN_NAME,
    TRAILING_BACKSLASH, NO_FIELDS, BAD_TYPE, FIELD_KEY_BACKSLASH,
)

_MEASUREMENT: Final = str.maketrans({",": "\\,", " ": "\\ "})
_KEY: Final = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
#: What each kind of name escapes, with the backslashes InfluxDB 1.x would eat (see the
#: module docstring): a backslash before an escaped character in a measurement.
_MEASUREMENT_RE: Final = re.compile(r'\\[,= "]|[, ]')
_FIELD_KEY_RE: Final = re.compile(r'\\[,= "]|[,= ]')
_NEWLINES: Final = str.maketrans({"\n": " ", "\r": " "})
_CACHE_LIMIT: Final = 20_000


class Counts:
    """What was left out, per reason (see the module docstring)."""

    __slots__ = ("by_reason",)

    def __init__(self) -> None:
        self.by_reason: dict[str, int] = dict.fromkeys(REASONS, 0)

    def add(self, reason: str, n: int = 1) -> None:
        self.by_reason[reason] = self.by_reason.get(reason, 0) + n

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def as_dict(self) -> dict[str, int]:
        return dict(self.by_reason)


def _clean_name(text: str, counts: Counts | None) -> str:
    """Newlines → spaces, trailing backslashes removed (each counted)."""
    if "\n" in text or "\r" in text:
        text = text.translate(_NEWLINES)
        if counts is not None:
            counts.add(NEWLINE_IN_NAME)
    if text.endswith("\\"):
        text = text.rstrip("\\")
        if counts is not None:
            counts.add(TRAILING_BACKSLASH)
    return text


def _measurement(text: str) -> str:
    if "\\" not in text:
        return text.translate(_MEASUREMENT)

    def one(match: re.Match[str]) -> str:
        found = match.group()
        # "\\" + escaped char: InfluxDB 1.x reads a backslash, then the character.
        return "\\\\\\" + found[1] if len(found) == 2 else "\\" + found

    return _MEASUREMENT_RE.sub(one, text)


def _field_key(text: str, counts: Counts | None) -> str:
    if "\\" not in text:
        return text.translate(_KEY)

    def one(match: re.Match[str]) -> str:
        found = match.group()
        if len(found) == 1:
            return "\\" + found
        if found[1] == '"':
            return '\\\\"'
        # A backslash before , = or space cannot be written in a 1.x field key.
        if counts is not None:
            counts.add(FIELD_KEY_BACKSLASH)
        return "\\" + found[1]

    return _FIELD_KEY_RE.sub(one, text)


class Escaper:
    """Escapes names with a bounded memo (names repeat: entity ids, units, keys).

    Counting happens on the first sight of a name only when it is memoised; so the
    counters of name problems count distinct names per cache generation, which is what
    an operator needs to find them (values are counted every time).
    """

    __slots__ = ("_fields", "_measurements", "_tags", "counts")

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self._measurements: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._fields: dict[str, str] = {}

    def measurement(self, name: str) -> str:
        cached = self._measurements.get(name)
        if cached is None:
            cached = _measurement(_clean_name(name, self.counts))
            if len(self._measurements) >= _CACHE_LIMIT:
                self._measurements.clear()
            self._measurements[name] = cached
        return cached

    def tag(self, name: str) -> str:
        """A tag key or tag value."""
        cached = self._tags.get(name)
        if cached is None:
            cached = _clean_name(name, self.counts).translate(_KEY)
            if len(self._tags) >= _CACHE_LIMIT:
                self._tags.clear()
            self._tags[name] = cached
        return cached

    def field_key(self, name: str) -> str:
        cached = self._fields.get(name)
        if cached is None:
            cached = _field_key(_clean_name(name, self.counts), self.counts)
            if len(self._fields) >= _CACHE_LIMIT:
                self._fields.clear()
            self._fields[name] = cached
        return cached


def escape_measurement(name: str, counts: Counts | None = None) -> str:
    """The measurement as written on the line (no memo; see ``Escaper``)."""
    return _measurement(_clean_name(name, counts))


def escape_tag(name: str, counts: Counts | None = None) -> str:
    """A tag key or tag value as written on the line."""
    return _clean_name(name, counts).translate(_KEY)


def escape_field_key(name: str, counts: Counts | None = None) -> str:
    """A field key as written on the line."""
    return _field_key(_clean_name(name, counts), counts)


def escape_string(value: str) -> str:
    """A string field value, quoted: ``"`` and ``\\`` escaped, nothing else."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    return f'"{value}"'


def field_value(value: Any, counts: Counts) -> str | None:
    """The written form of one field value, or None (dropped and counted)."""
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return repr(value)
        counts.add(NON_FINITE)
        return None
    if kind is str:
        if len(value) * 4 > MAX_STRING_BYTES and len(value.encode()) > MAX_STRING_BYTES:
            counts.add(STRING_TOO_LONG)
            return None
        return escape_string(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        if INT64_MIN <= value <= INT64_MAX:
            return f"{value}i"
        counts.add(INT_RANGE)
        return None
    # Subclasses (IntEnum, numpy-like floats) go the slow way.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return field_value(int(value), counts)
    if isinstance(value, float):
        return field_value(float(value), counts)
    if isinstance(value, str):
        return field_value(str(value), counts)
    counts.add(BAD_TYPE)
    return None


def tag_string(escaper: Escaper, tags: Iterable[tuple[str, str]]) -> str:
    """``,k=v,k2=v2`` for ``tags`` (sorted by the caller); empty ones left out, counted."""
    counts = escaper.counts
    tag_text = escaper.tag
    parts = []
    for tag, value in tags:
        if not tag or not value:
            counts.add(EMPTY_TAG)
            continue
        k, v = tag_text(tag), tag_text(value)
        if not k or not v:  # only backslashes
            counts.add(EMPTY_TAG)
            continue
        parts.append(f",{k}={v}")
    return "".join(parts)


def encode_tagged(
    escaper: Escaper,
    measurement: str,
    tag_text: str,
    fields: Iterable[tuple[str, Any]],
    time: int | None,
) -> str | None:
    """``encode`` with the tags already written (``tag_string``): the hot path, where an
    entity's tags are escaped once and reused for every point."""
    counts = escaper.counts
    head = escaper.measurement(measurement)
    if not head:
        counts.add(NO_FIELDS)
        return None
    field_key = escaper.field_key
    written = []
    for name, value in fields:
        text = field_value(value, counts)
        if text is None:
            continue
        k = field_key(name)
        if not k:
            counts.add(BAD_TYPE)
            continue
        written.append(f"{k}={text}")
    if not written:
        counts.add(NO_FIELDS)
        return None
    line = f"{head}{tag_text} {','.join(written)}"
    return line if time is None else f"{line} {time}"


def encode(
    escaper: Escaper,
    measurement: str,
    tags: Iterable[tuple[str, str]],
    fields: Iterable[tuple[str, Any]],
    time: int | None,
) -> str | None:
    """One line (without the newline), or None when no field is left (counted).

    ``tags`` should come sorted by key (InfluxDB's recommendation: it saves the server
    a sort); empty keys or values are left out. ``time`` is an integer in the write's
    precision, or None for the server's clock.
    """
    return encode_tagged(escaper, measurement, tag_string(escaper, tags), fields, time)


def encode_point(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, Any],
    time: int | None = None,
    counts: Counts | None = None,
) -> str | None:
    """``encode`` for one-off points (the ``influxdb.write`` service, tests)."""
    escaper = Escaper(counts if counts is not None else Counts())
    return encode(escaper, measurement, sorted(tags.items()), fields.items(), time)


#: Divisors from microseconds to each precision's integer unit (ns multiplies).
_FROM_MICROS: Final[Mapping[str, int]] = {"us": 1, "ms": 1_000, "s": 1_000_000}


def timestamp(seconds: float, precision: str) -> int:
    """POSIX seconds → an integer in ``precision``, truncated as InfluxDB truncates.

    Through whole microseconds first: a float timestamp holds no more (so ``ns`` ends
    in 000), and rounding there keeps ``x.5`` s from becoming ``x.499999``.
    """
    micros = round(seconds * 1_000_000)
    if precision == "ns":
        return micros * 1000
    return micros // _FROM_MICROS[precision]
