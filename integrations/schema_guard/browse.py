"""Reading the quarantine for people: filters from a query string, newest-first pages,
one message in full, and the JSON-lines export, shared by the REST routes
(``views.py``) and the WebSocket commands (``wscommands.py``).

People read a quarantine from the newest message back ("what failed just now?"), so
pages go backwards by id (``before``), unlike ``QuarantineStore.query`` which walks
forwards for replay and export. A page lists messages without their payloads (a
page of 10 MB payloads would be a denial of service on the browser); ``message``
returns one with its (already masked) payload, cut at ``DETAIL_PAYLOAD_MAX`` bytes.

Every call runs in the quarantine writer's worker thread (``writer.call``), serialised
with the commit rounds, so the event loop never waits on SQLite.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from gatehouse.core import Host
from gatehouse.core.http import query_int, query_time

from .services import LOADED, json_line
from .store import Filters
from .writer import QuarantineWriter

#: Messages per page: default and most.
PAGE_DEFAULT: Final = 50
PAGE_MAX: Final = 500
#: Error paths listed by ``paths``.
PATHS_DEFAULT: Final = 50
PATHS_MAX: Final = 500
#: The most payload bytes one message's detail carries (the rest is cut, and said so).
DETAIL_PAYLOAD_MAX: Final = 256 * 1024
#: Messages read from SQLite per step of the export (ids and sizes only)...
EXPORT_BATCH: Final = 500
#: ... and the most payload bytes held at once while writing them out.
EXPORT_CHUNK_BYTES: Final = 4 * 1024 * 1024
#: The longest filter text accepted (a topic, a rule name, a JSON pointer).
TEXT_MAX: Final = 1024

FILTER_NAMES: Final = ("topic", "rule", "path", "since", "until")
NOT_LOADED: Final = "no schema_guard entry is loaded"

# A parameter that cannot be used raises ValueError naming it; the callers answer it
# as 400 (REST) or invalid_format (WebSocket).


def writer_of(host: Host) -> QuarantineWriter | None:
    """The loaded entry's quarantine writer, or None when no entry is loaded."""
    runtimes = LOADED.runtimes(host)
    if not runtimes:
        return None
    return next(iter(runtimes.values())).writer


#: Shared with every plugin API (``gatehouse.core.http.query``).
parse_time = query_time


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name}: expected text")
    if len(value) > TEXT_MAX:
        raise ValueError(f"{name}: longer than {TEXT_MAX} characters")
    return value


parse_int = query_int


def parse_filters(raw: Mapping[str, Any]) -> Filters:
    """``Filters`` from query parameters or a JSON object; empty values are no filter.

    ``path`` is a JSON pointer as the errors carry it ("" is the whole payload, so
    an empty ``path`` is a filter here only when given as JSON, not in a URL).
    """
    found: dict[str, Any] = {}
    for name in ("topic", "rule"):
        value = raw.get(name)
        if value not in (None, ""):
            found[name] = _text(name, value)
    if raw.get("path") is not None:
        found["path"] = _text("path", raw["path"])
    for name in ("since", "until"):
        value = raw.get(name)
        if value not in (None, ""):
            found[name] = parse_time(name, value)
    replayed = raw.get("replayed")
    if replayed not in (None, ""):
        if isinstance(replayed, bool):
            found["replayed"] = replayed
        elif str(replayed).lower() in ("true", "1", "yes"):
            found["replayed"] = True
        elif str(replayed).lower() in ("false", "0", "no"):
            found["replayed"] = False
        else:
            raise ValueError("replayed: expected true or false")
    unknown = sorted(set(raw) - {*FILTER_NAMES, "replayed"})
    if unknown:
        raise ValueError(f"unknown filter {unknown[0]!r} (known: "
                       f"{', '.join((*FILTER_NAMES, 'replayed'))})")
    return Filters(**found)


def split_query(raw: Mapping[str, Any], own: tuple[str, ...]) -> tuple[dict[str, Any],
                                                                     dict[str, Any]]:
    """(the request's own parameters such as ``limit``, the filters)."""
    mine = {k: v for k, v in raw.items() if k in own}
    rest = {k: v for k, v in raw.items() if k not in own}
    return mine, rest


def payload_fields(payload: bytes | None, limit: int | None = None) -> dict[str, Any]:
    """The payload as text when it is UTF-8, else base64; cut at ``limit`` bytes."""
    if payload is None:
        return {"payload": None}
    cut = limit is not None and len(payload) > limit
    data = payload[:limit] if cut else payload
    fields: dict[str, Any] = {"payload_cut": cut}
    try:
        fields["payload"] = data.decode("utf-8")
    except UnicodeDecodeError as err:
        if cut and err.start >= len(data) - 3:  # the cut split a character
            fields["payload"] = data[:err.start].decode("utf-8", "replace")
        else:
            fields["payload"] = None
            fields["payload_base64"] = base64.b64encode(data).decode("ascii")
    return fields


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[dict[str, Any]]
    #: Pass as ``before`` for the next (older) page; None when this was the last.
    next_before: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "next_before": self.next_before}


async def page(writer: QuarantineWriter, filters: Filters, *, limit: int = PAGE_DEFAULT,
               before: int | None = None) -> Page:
    """The newest ``limit`` messages older than id ``before``, newest first."""
    store = writer.store

    def run() -> Page:
        where, params = filters.where()
        glue = " AND " if where else " WHERE "
        bound = "" if before is None else f"{glue}m.id < ?"
        ids = [row[0] for row in store.conn.execute(
            f"SELECT m.id FROM messages m{where}{bound} ORDER BY m.id DESC LIMIT ?",
            [*params, *([] if before is None else [before]), limit + 1],
        )]
        more = len(ids) > limit
        ids = ids[:limit]
        if not ids:
            return Page([], None)
        rows = store.query(Filters(ids=tuple(ids)), limit=limit, payloads=False)
        rows.reverse()
        return Page(rows, ids[-1] if more else None)

    result: Page = await writer.call(run)
    return result


async def paths(writer: QuarantineWriter, filters: Filters,
                limit: int = PATHS_DEFAULT) -> list[dict[str, Any]]:
    """The error paths that fail most under ``filters``."""
    counts: list[dict[str, Any]] = await writer.call(writer.store.path_counts, filters, limit)
    return counts


async def message(writer: QuarantineWriter, message_id: int) -> dict[str, Any] | None:
    """One message with its errors and its stored (masked) payload, or None."""
    rows = await writer.query(Filters(ids=(message_id,)), limit=1)
    if not rows:
        return None
    row = rows[0]
    return {**{k: v for k, v in row.items() if k != "payload"},
            **payload_fields(row["payload"], DETAIL_PAYLOAD_MAX)}


async def export_lines(writer: QuarantineWriter, filters: Filters) -> AsyncIterator[bytes]:
    """The matching messages oldest first, one JSON line each.

    Memory stays bounded however large the quarantine and its payloads: ids are read a
    batch at a time without payloads, then the payloads in groups of at most
    ``EXPORT_CHUNK_BYTES`` stored bytes (a payload larger than that alone).
    """
    after = 0
    while True:
        heads = await writer.query(filters, limit=EXPORT_BATCH, after_id=after,
                                   payloads=False)
        if not heads:
            return
        after = heads[-1]["id"]
        for group in _groups(heads):
            rows = await writer.query(Filters(ids=tuple(group)), limit=len(group))
            yield "".join(json_line(row) + "\n" for row in rows).encode("utf-8")


def _groups(heads: list[dict[str, Any]]) -> list[list[int]]:
    """Ids in order, grouped so that each group's stored payloads stay within
    ``EXPORT_CHUNK_BYTES`` (one over it goes alone)."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0
    for head in heads:
        stored = int(head["stored"] or 0)
        if current and size + stored > EXPORT_CHUNK_BYTES:
            groups.append(current)
            current, size = [], 0
        current.append(int(head["id"]))
        size += stored
    if current:
        groups.append(current)
    return groups


def replay_args(body: Any) -> tuple[bool, Filters]:
    """(dry_run, filters) of a replay request: ``{"dry_run"?, "filters"?}``."""
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object {dry_run, filters}")
    unknown = sorted(set(body) - {"dry_run", "filters"})
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (known: dry_run, filters)")
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise ValueError("dry_run: expected true or false")
    raw = body.get("filters") or {}
    if not isinstance(raw, dict):
        raise ValueError("filters: expected an object")
    filters = parse_filters(raw)
    if filters.replayed is not None:
        raise ValueError("filters: replayed is not a replay filter (replay takes only "
                         "messages not replayed yet)")
    return dry_run, filters
