"""The WebSocket history answer (``history/history_during_period``, ``history/stream``'s
stored part) as JSON bytes, made in a worker thread and handed to the core as
``RawJson``.

The bytes are exactly what the core's encoder (compact ``json.dumps``, not ASCII-only,
NaN and infinities as null) makes of ``history.ws_history(queries.states_during(...))``:
HA's compressed states ``{entity_id: [{"s", "a", "lu", "lc"?}]}``, times as POSIX
seconds, ``lc`` only where it differs from ``lu``, attributes ``{}`` with
``no_attributes``, and with ``minimal_response`` ``{"s", "lu"}`` after an entity's
first state (except the ``NEED_ATTRIBUTE_DOMAINS``). Tests prove the equality over
every flag combination, page sizes and sealed rows.

WHY: a day at 1 Hz is 86,400 rows, ~10 MB of JSON. Returned as dicts, the core
encoded it on the event loop: ~130 ms in which no other client was served, and any
user may send the command. Here, as in ``resttext`` (REST's text):

* the rows come from ``queries.HistoryPages`` (a query per page; sealed rows flagged
  by SQL per row, no scan of the entity first) with attributes encoded compactly
  once per attributes id (``compact``) and spliced into every row that shares it;
* each distinct state is encoded once; times are ``float.__repr__`` (what
  ``json.dumps`` writes for a float).

The answer is one WebSocket message; it is made in parts, a page of rows each (see
``ws_parts``), that the core joins with the message frame. Being one message, it is held
whole until it is sent, so it is bounded (``MAX_ANSWER_BYTES``): past the bound the
command stops reading and refuses with a message naming the ways to get the rows (a
shorter period, fewer entities, or the REST API, which streams its answer page by page).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any, Final

from gatehouse.core.http import json_text

from .errors import AnswerTooLargeError
from .queries import NEED_ATTRIBUTE_DOMAINS, HistoryPages, Row
from .resttext import AnswerTexts, RowSource

#: Largest WebSocket history answer (bytes). A day of one entity at 1 Hz is 6-13 MB; a
#: week of several such entities is refused rather than held whole in memory.
MAX_ANSWER_BYTES: Final = 32 << 20
#: Distinct state texts remembered per answer (a bound for answers of many states).
_STATES_CACHE = 4096


#: A value as the core's WebSocket encoder writes it (no spaces, not ASCII-only,
#: non-finite floats as null): the core's own function, so the two cannot drift.
compact: Final = json_text


def number(value: Any) -> str:
    """A time as JSON (``float.__repr__`` for a finite float, as ``json.dumps``)."""
    if type(value) is float and math.isfinite(value):
        return repr(value)
    return compact(value)


def _state_text(state: Any, cache: dict[str, str]) -> str:
    if type(state) is not str:
        return compact(state)
    text = encode_basestring(state)
    if len(cache) < _STATES_CACHE:
        cache[state] = text
    return text


def _full_rows(rows: Sequence[Row], texts: AnswerTexts, out: list[str]) -> None:
    """Rows as ``{"s", "a", "lu", "lc"?}`` (``last_changed`` None: equal to ``lu``).
    Times from SQLite are finite floats (``number`` is kept for anything else)."""
    append = out.append
    attr_get = texts.attrs.get
    state_get = texts.states.get
    states = texts.states
    for stored, key, changed, updated in rows:
        state = stored
        attrs = attr_get(key)
        if attrs is None:  # first time this key: its text, or a sealed row opened
            state, attrs = texts.attributes(stored, key)
        state_text = state_get(state) if type(state) is str else None
        if state_text is None:
            state_text = _state_text(state, states)
        lu = repr(updated) if type(updated) is float else number(updated)
        if changed is None or changed == updated:
            append(f'{{"s":{state_text},"a":{attrs},"lu":{lu}}}')
        else:
            append(f'{{"s":{state_text},"a":{attrs},"lu":{lu},"lc":{number(changed)}}}')


def _minimal_rows(rows: Sequence[Row], texts: AnswerTexts, out: list[str]) -> None:
    """Rows as ``{"s", "lu"}`` (a sealed row, key ``SEALED``, is still opened)."""
    append = out.append
    attr_get = texts.attrs.get
    state_get = texts.states.get
    states = texts.states
    for stored, key, _, updated in rows:
        state = stored
        if key is not None and attr_get(key) is None:
            state = texts.attributes(stored, key)[0]
        state_text = state_get(state) if type(state) is str else None
        if state_text is None:
            state_text = _state_text(state, states)
        lu = repr(updated) if type(updated) is float else number(updated)
        append(f'{{"s":{state_text},"lu":{lu}}}')


def ws_parts(source: RowSource, *, minimal: bool, no_attributes: bool) -> list[bytes]:
    """The whole answer, ``{entity_id: [compressed states]}`` (entities in the order
    the source gives them, those without rows left out), as UTF-8 parts to be joined
    in order: one per page of rows. The source must encode attributes with
    ``compact`` (``HistoryPages(..., encode=compact)``). Blocking: call from a worker
    thread.

    WHY parts: joining and encoding ~13 MB at once holds the interpreter lock in one
    C call for several ms, and the event loop waits for the lock that long; a page's
    part is ~0.2 ms. The core joins the parts with the message frame (``RawJson``)."""
    texts = AnswerTexts(source, no_attributes)
    parts: list[bytes] = [b"{"]
    entities = 0
    size, bound = 0, MAX_ANSWER_BYTES
    for entity_id, pages in source.entities():
        slim = minimal and entity_id.split(".", 1)[0] not in NEED_ATTRIBUTE_DOMAINS
        count = 0
        for page in pages:
            if not page:
                continue
            rows: list[str] = []
            if not slim:
                _full_rows(page, texts, rows)
            elif count:
                _minimal_rows(page, texts, rows)
            else:  # an entity's first state is full
                _full_rows(page[:1], texts, rows)
                _minimal_rows(page[1:], texts, rows)
            if count:
                head = ","
            else:
                head = f'{"," if entities else ""}{encode_basestring(entity_id)}:['
                entities += 1
            part = f'{head}{",".join(rows)}'.encode()
            size += len(part)
            if size > bound:
                raise AnswerTooLargeError(
                    f"the history answer is larger than {bound >> 20} MiB: ask for a "
                    "shorter period or fewer entities, or use GET /api/history/period, "
                    "which streams its answer")
            parts.append(part)
            count += len(page)
        if count:
            parts.append(b"]")
    parts.append(b"}")
    return parts


def answer(pages: HistoryPages, *, minimal: bool, no_attributes: bool,
           period: tuple[float, float] | None = None) -> list[bytes]:
    """The parts the core sends (as ``RawJson``): ``ws_parts`` of ``pages``, closed
    after; with ``period`` (``history/stream``'s stored part) wrapped as ``{"states":
    ..., "start_time", "end_time"}``. Blocking: call from a worker thread."""
    try:
        parts = ws_parts(pages, minimal=minimal, no_attributes=no_attributes)
    finally:
        pages.close()
    if period is not None:
        parts.insert(0, b'{"states":')
        parts.append(f',"start_time":{number(period[0])},'
                     f'"end_time":{number(period[1])}}}'.encode())
    return parts
