"""The REST history answer (``GET /api/history/period``) as JSON text, page by page.

The text is byte for byte ``json.dumps(history.rest_history(...))`` (what aiohttp's
``json_response`` sent): a list per entity of HA's state dicts, attributes ``{}``
with ``no_attributes``, and with ``minimal_response`` only the first state of an
entity full and the others ``{"state", "last_changed"}`` (except the
``NEED_ATTRIBUTE_DOMAINS``). Tests prove the equality on varied rows and databases.

WHY it is not built from dicts: a day at 1 Hz is 86,400 rows; dicts plus
``json.dumps`` took ~300 ms. Here

* each attributes JSON is decoded and re-encoded once per attributes id (rows that
  share it get the same text spliced in), each state's JSON once per distinct state;
* rows are formatted from a template, and the times (POSIX floats in HA's layout)
  without a ``datetime`` per row: the text up to the minute is made when the minute
  changes, the seconds and microseconds are formatted inline (``IsoClock``);
* the rows come from a ``RowSource`` one page at a time (``queries.HistoryPages``
  reads them from the database with a query per page), so memory is a page, not the
  whole answer, and the caller can send a page while the next one is read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Generator, Iterator, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any, Protocol

from .history import iso
from .queries import NEED_ATTRIBUTE_DOMAINS, PAGE_ROWS, Found, Row

#: Distinct state texts remembered per answer (a bound for answers of many states).
_STATES_CACHE = 4096
#: ``SECONDS[n]`` is ``f"{n:02d}"``, ``SECONDS_DOT[n]`` the same with a ".", and
#: ``THOUSANDS[n]`` is ``f"{n:03d}"``: microseconds as two look-ups, not a format spec
#: (``f"{micro:06d}"`` was a third of a row's time formatting).
SECONDS = tuple(f"{n:02d}" for n in range(60))
SECONDS_DOT = tuple(f"{n:02d}." for n in range(60))
THOUSANDS = tuple(f"{n:03d}" for n in range(1000))


class RowSource(Protocol):
    """Where the rows come from (``queries.HistoryPages``, or a ``Found`` in memory)."""

    def entities(self) -> Iterator[tuple[str, Iterator[Sequence[Row]]]]:
        """Per entity (in the order asked), its rows in pages; the pages of one entity
        are read before the next entity is asked for."""
        ...

    def resolve(self, state: Any, key: Any) -> tuple[Any, str, bool]:
        """``(state, attributes JSON as json.dumps makes it, may the text be reused for
        every row with this key)`` of a row whose key was not seen before (a sealed row
        is opened here: its own state and attributes, never reused)."""
        ...


class IsoClock:
    """``history.iso(ts)`` without a ``datetime`` per row, for times mostly in order:
    the text up to the minute is made by ``iso`` when the minute changes; the seconds
    and microseconds are formatted here, rounded as ``datetime.fromtimestamp`` rounds
    (the fraction times 1e6, half to even: Python's ``round``). The fraction is the
    same double as ``math.modf``'s: ``ts - minute_start`` and ``- second`` are exact
    (Sterbenz). Identical output to ``iso`` is proven in tests; anything unusual
    (negative, not finite, past year 9999) goes to ``iso``. The row loops below inline
    ``__call__`` (a method call per row was a third of the formatting)."""

    __slots__ = ("prefix", "start")

    def __init__(self) -> None:
        self.start = -1e300  # no minute yet
        self.prefix = ""

    def __call__(self, ts: float) -> str:
        offset = ts - self.start
        if 0.0 <= offset < 60.0:
            second = int(offset)
            micro = round((offset - second) * 1e6)
            if not micro:
                return f"{self.prefix}{SECONDS[second]}+00:00"
            if micro < 1_000_000:
                return f"{self.prefix}{SECONDS[second]}.{micro:06d}+00:00"
        return self.new_minute(ts)

    def new_minute(self, ts: float) -> str:
        if not 0.0 <= ts < 253_402_300_799.0:  # also NaN
            return iso(ts)
        frac, whole_f = math.modf(ts)
        micro = round(frac * 1e6)
        whole = int(whole_f)
        if micro >= 1_000_000:
            micro -= 1_000_000
            whole += 1
        minute, second = divmod(whole, 60)
        self.start = minute * 60.0
        self.prefix = iso(self.start)[:17]
        if micro:
            return f"{self.prefix}{SECONDS[second]}.{micro:06d}+00:00"
        return f"{self.prefix}{SECONDS[second]}+00:00"


def _state_json(state: Any, cache: dict[str, str]) -> str:
    if type(state) is not str:
        return json.dumps(state)
    text = encode_basestring_ascii(state)
    if len(cache) < _STATES_CACHE:
        cache[state] = text
    return text


class AnswerTexts:
    """What one answer remembers: attribute texts per key, state texts (REST and
    WebSocket answers alike; ``wstext`` uses this class as it is)."""

    __slots__ = ("attrs", "no_attributes", "resolve", "states")

    def __init__(self, source: RowSource, no_attributes: bool) -> None:
        self.resolve = source.resolve
        self.no_attributes = no_attributes
        self.attrs: dict[Any, str] = {}
        self.states: dict[str, str] = {}

    def attributes(self, state: Any, key: Any) -> tuple[Any, str]:
        state, text, reuse = self.resolve(state, key)
        if self.no_attributes:
            text = "{}"
        if reuse:
            self.attrs[key] = text
        return state, text


class _Texts(AnswerTexts):
    """REST's: ``AnswerTexts`` and the two clocks of its ISO times."""

    __slots__ = ("changed", "updated")

    def __init__(self, source: RowSource, no_attributes: bool) -> None:
        super().__init__(source, no_attributes)
        self.updated = IsoClock()  # last_updated, and minimal rows' last_changed
        self.changed = IsoClock()  # last_changed where it differs


def _full_rows(rows: Sequence[Row], head: str, texts: _Texts, out: list[str]) -> None:
    """Rows as full state dicts (``last_changed`` None or equal: ``last_updated``)."""
    append = out.append
    attr_get = texts.attrs.get
    state_get = texts.states.get
    states = texts.states
    clock = texts.updated
    changed_clock = texts.changed
    begin, prefix = clock.start, clock.prefix
    for state, key, changed, updated in rows:
        attrs = attr_get(key)
        if attrs is None:  # first time this key: its text, or a sealed row opened
            opened, attrs = texts.attributes(state, key)
            state_text = state_get(opened) or _state_json(opened, states)
        else:
            state_text = state_get(state) or _state_json(state, states)
        offset = updated - begin
        if 0.0 <= offset < 60.0 and (micro := round((offset - (second := int(offset)))
                                                    * 1e6)) < 1_000_000:
            updated_text = (f"{prefix}{SECONDS_DOT[second]}{THOUSANDS[micro // 1000]}"
                            f"{THOUSANDS[micro % 1000]}+00:00" if micro
                            else f"{prefix}{SECONDS[second]}+00:00")
        else:
            updated_text = clock.new_minute(updated)
            begin, prefix = clock.start, clock.prefix
        changed_text = updated_text if changed is None or changed == updated \
            else changed_clock(changed)
        append(f'{head}{state_text}, "attributes": {attrs}, "last_changed": '
               f'"{changed_text}", "last_updated": "{updated_text}"}}')


def _minimal_rows(rows: Sequence[Row], texts: _Texts, out: list[str]) -> None:
    """Rows as ``{"state", "last_changed"}`` (a sealed row is still opened)."""
    append = out.append
    attr_get = texts.attrs.get
    state_get = texts.states.get
    states = texts.states
    clock = texts.updated
    begin, prefix = clock.start, clock.prefix
    for state, key, changed, updated in rows:
        if attr_get(key) is None:  # first time this key, or a sealed row
            opened = texts.attributes(state, key)[0]
            state_text = state_get(opened) or _state_json(opened, states)
        else:
            state_text = state_get(state) or _state_json(state, states)
        when = updated if changed is None else changed
        offset = when - begin
        if 0.0 <= offset < 60.0 and (micro := round((offset - (second := int(offset)))
                                                    * 1e6)) < 1_000_000:
            when_text = (f"{prefix}{SECONDS_DOT[second]}{THOUSANDS[micro // 1000]}"
                         f"{THOUSANDS[micro % 1000]}+00:00" if micro
                         else f"{prefix}{SECONDS[second]}+00:00")
        else:
            when_text = clock.new_minute(when)
            begin, prefix = clock.start, clock.prefix
        append(f'{{"state": {state_text}, "last_changed": "{when_text}"}}')


def rest_text(source: RowSource, *, minimal: bool, no_attributes: bool,
              piece_rows: int = PAGE_ROWS) -> Generator[str, None, None]:
    """The answer's text in pieces of at least ``piece_rows`` rows (framing
    included; the last piece may be shorter); the pieces joined are
    ``json.dumps(history.rest_history(...))`` of the same rows. Small entities share
    a piece: a piece is a thread hop in the view, not one per entity."""
    texts = _Texts(source, no_attributes)
    parts: list[str] = ["["]
    pending = 0
    entities = 0
    for entity_id, pages in source.entities():
        slim = minimal and entity_id.split(".", 1)[0] not in NEED_ATTRIBUTE_DOMAINS
        head = '{"entity_id": ' + encode_basestring_ascii(entity_id) + ', "state": '
        count = 0
        for page in pages:
            if not page:
                continue
            rows: list[str] = []
            if not slim:
                _full_rows(page, head, texts, rows)
            elif count:
                _minimal_rows(page, texts, rows)
            else:  # an entity's first state is full
                _full_rows(page[:1], head, texts, rows)
                _minimal_rows(page[1:], texts, rows)
            if count:
                parts.append(", ")
            else:
                parts.append(", [" if entities else "[")
                entities += 1
            parts.append(", ".join(rows))
            count += len(page)
            pending += len(page)
            if pending >= piece_rows:
                yield "".join(parts)
                parts, pending = [], 0
        if count:
            parts.append("]")
    parts.append("]")
    yield "".join(parts)


class FoundRows:
    """A ``RowSource`` over a ``Found`` in memory (``states_during``'s result), in pages
    of ``page_rows``: the same text as from the database (tests prove both against
    ``json.dumps(history.rest_history(...))``)."""

    def __init__(self, found: Found, page_rows: int = PAGE_ROWS) -> None:
        self.found = found
        self.page_rows = page_rows

    def entities(self) -> Iterator[tuple[str, Iterator[Sequence[Row]]]]:
        size = self.page_rows
        for entity_id, rows in self.found.states.items():
            yield entity_id, (rows[i:i + size] for i in range(0, len(rows), size))

    def resolve(self, state: Any, key: Any) -> tuple[Any, str, bool]:
        return (state, json.dumps(self.found.attributes.get(key, {})),
                not isinstance(key, tuple))  # ("sealed", n): one row's own
