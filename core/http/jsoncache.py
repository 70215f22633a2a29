"""Serialise each state (and each event) once, however many clients receive it.

With fifty WebSocket clients subscribed, a state change would otherwise be encoded fifty
times. States are immutable, so the JSON of a ``State`` object never changes: the cache
keeps, per entity, the current ``State`` object and its encodings (full form, Home
Assistant's compressed form, and the compressed diff from its predecessor), made on
first use. A record is valid only while its ``state`` is the very object asked about
(``is``), which also keeps that object alive so ids cannot be reused. ``State`` has
``__slots__`` without ``__weakref__``, hence this instead of a ``WeakKeyDictionary``.

Events (``subscribe_events``) are cached by object identity in a small LRU: every
listener of one event runs inside the same ``bus.fire``, so only the newest few events
are ever asked for again.

``serialisations`` counts actual encodings; tests and benchmarks read it.

One state that cannot be encoded (an attribute nested past the encoder's recursion
limit, say, written by an integration) must not break ``GET /api/states`` or a snapshot
for everyone: it is encoded with ``{"error": ...}`` in place of its attributes, and
logged once per state object (its encoding is cached like any other). Refusing such
attributes when they are written would be the other choice, but states are written by
every integration through the state machine, and this is the one place they all pass
on their way out. Events whose data cannot be encoded get the same treatment.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring
from types import MappingProxyType
from typing import Any, Final

from ..bus import Event
from ..context import Context
from ..states import EVENT_STATE_CHANGED, State
from .jsonutil import c_encode, dumpb

#: Home Assistant's short keys of the compressed state format.
COMPRESSED_STATE: Final = "s"
COMPRESSED_ATTRIBUTES: Final = "a"
COMPRESSED_CONTEXT: Final = "c"
COMPRESSED_LAST_CHANGED: Final = "lc"
COMPRESSED_LAST_UPDATED: Final = "lu"
DIFF_ADDITIONS: Final = "+"
DIFF_REMOVALS: Final = "-"
ENTITY_ADDED: Final = "a"
ENTITY_CHANGED: Final = "c"
ENTITY_REMOVED: Final = "r"

_EVENT_CACHE_SIZE: Final = 128
_LOGGER = logging.getLogger(__name__)
#: What encoding a value can raise for data an integration made (besides our bugs).
_UNENCODABLE: Final = (RecursionError, ValueError, TypeError)


def _why(err: BaseException) -> str:
    if isinstance(err, RecursionError):
        return "nested too deeply"
    return type(err).__name__


def placeholder(state: State, err: BaseException) -> State:
    """``state`` with its attributes replaced by an error that says why."""
    return State(
        state.entity_id, state.state,
        {"error": f"attributes could not be serialised: {_why(err)}"},
        state.last_changed, state.last_updated, state.context,
    )


def compressed_context(context: Context) -> str | dict[str, Any]:
    """The context as HA compresses it: its id alone unless it has a user or parent."""
    if context.parent_id is None and context.user_id is None:
        return context.id
    return context.as_dict()


def compressed_state(state: State) -> dict[str, Any]:
    """HA's compressed state: ``s``, ``a``, ``c``, ``lc`` and ``lu`` (only if it differs)."""
    out: dict[str, Any] = {
        COMPRESSED_STATE: state.state,
        COMPRESSED_ATTRIBUTES: state.attributes,
        COMPRESSED_CONTEXT: compressed_context(state.context),
        COMPRESSED_LAST_CHANGED: state.last_changed,
    }
    if state.last_updated != state.last_changed:
        out[COMPRESSED_LAST_UPDATED] = state.last_updated
    return out


def state_diff(old: State, new: State) -> dict[str, Any]:
    """HA's compressed change of one entity: ``{"+": {...}, "-": {"a": [...]}}``."""
    additions: dict[str, Any] = {}
    diff: dict[str, Any] = {DIFF_ADDITIONS: additions}
    if old.state != new.state:
        additions[COMPRESSED_STATE] = new.state
    if old.last_changed != new.last_changed:
        additions[COMPRESSED_LAST_CHANGED] = new.last_changed
    elif old.last_updated != new.last_updated:
        additions[COMPRESSED_LAST_UPDATED] = new.last_updated
    old_ctx, new_ctx = old.context, new.context
    context: dict[str, Any] = {}
    if old_ctx.parent_id != new_ctx.parent_id:
        context["parent_id"] = new_ctx.parent_id
    if old_ctx.user_id != new_ctx.user_id:
        context["user_id"] = new_ctx.user_id
    if old_ctx is not new_ctx and old_ctx.id != new_ctx.id:
        if context:
            context["id"] = new_ctx.id
        else:
            additions[COMPRESSED_CONTEXT] = new_ctx.id
    if context:
        additions[COMPRESSED_CONTEXT] = context
    old_attrs, new_attrs = old.attributes, new.attributes
    if old_attrs != new_attrs:
        changed = {k: v for k, v in new_attrs.items() if k not in old_attrs or old_attrs[k] != v}
        if changed:
            additions[COMPRESSED_ATTRIBUTES] = changed
        removed = [k for k in old_attrs if k not in new_attrs]
        if removed:
            diff[DIFF_REMOVALS] = {COMPRESSED_ATTRIBUTES: removed}
    return diff


#: A JSON string literal, as ``dumps`` writes it (non-ASCII kept as is).
_string: Callable[[str], str] = encode_basestring


def _value(value: Any) -> str:
    """JSON of one value; ValueError for NaN or an infinity (``dumps`` then sanitises)."""
    kind = type(value)
    if kind is str:
        return _string(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is MappingProxyType:
        value = value.copy()  # a state's attributes: a dict, not through ``default``
    # The shared C encoder (``jsonutil.c_encode``): a circular value recurses until
    # RecursionError, which callers treat as unencodable, as ``dumps``' ValueError.
    return "".join(c_encode(value, 0))


def added_json(state: State) -> bytes:
    """``{"a": {entity_id: compressed}}`` as ``dumpb`` writes it, byte for byte, in a
    third of its time (a snapshot of 10,000 states that changed since the last one is
    encoded anew); anything the fast path refuses (NaN) goes through ``dumpb``."""
    try:
        context = state.context
        changed, updated = state.last_changed, state.last_updated
        text = "".join((
            '{"a":{', _string(state.entity_id), ':{"s":', _value(state.state),
            ',"a":', _value(state.attributes), ',"c":',
            _string(context.id) if context.parent_id is None and context.user_id is None
            else _value(context.as_dict()),
            ',"lc":', _value(changed),
            "}}}" if updated == changed else ',"lu":' + _value(updated) + "}}}",
        ))
        return text.encode("utf-8")
    except ValueError:
        return dumpb({ENTITY_ADDED: {state.entity_id: compressed_state(state)}})


class _Record:
    __slots__ = ("compressed", "diff", "full", "removed", "state")

    def __init__(self, state: State) -> None:
        self.state = state
        self.full: bytes | None = None
        self.compressed: bytes | None = None
        self.diff: bytes | None = None
        self.removed: bytes | None = None


class JsonCache:
    """Encoded states and events, each made once (see the module docstring)."""

    def __init__(self) -> None:
        self._states: dict[str, _Record] = {}
        self._events: OrderedDict[int, tuple[Event[Any], bytes]] = OrderedDict()
        self.serialisations = 0

    def _record(self, state: State) -> _Record:
        record = self._states.get(state.entity_id)
        if record is None or record.state is not state:
            record = _Record(state)
            self._states[state.entity_id] = record
        return record

    def prune(self, current: Callable[[str], State | None], *, above: int) -> None:
        """Forget records of states no longer current, once there are more than ``above``.

        Removed entities leave their last record behind; callers that walk all states
        anyway (``GET /api/states``, a snapshot) call this so the cache stays bounded.
        """
        if len(self._states) <= above:
            return
        self._states = {
            eid: rec for eid, rec in self._states.items() if current(eid) is rec.state
        }

    def __len__(self) -> int:
        return len(self._states)

    # -- states ------------------------------------------------------------------------

    def _encode(self, state: State, encode: Callable[[State], bytes]) -> bytes:
        """``encode(state)``, or of its placeholder if it cannot be encoded (logged)."""
        self.serialisations += 1
        try:
            return encode(state)
        except _UNENCODABLE as err:
            _LOGGER.warning("State of %s cannot be serialised (%s); it is sent with an "
                            "error in place of its attributes", state.entity_id, _why(err))
            return encode(placeholder(state, err))

    def full(self, state: State) -> bytes:
        """``State.as_dict`` as JSON (REST, ``get_states``, ``state_changed`` events)."""
        record = self._record(state)
        if record.full is None:
            record.full = self._encode(state, lambda s: dumpb(s.as_dict()))
        return record.full

    def added(self, state: State) -> bytes:
        """``{"a": {entity_id: compressed}}``: a new entity for ``subscribe_entities``."""
        record = self._record(state)
        if record.compressed is None:
            record.compressed = self._encode(state, added_json)
        return record.compressed

    def changed(self, old: State, new: State) -> bytes:
        """``{"c": {entity_id: diff}}`` from ``old`` to ``new`` (``new``'s one predecessor).

        If the diff cannot be made or encoded, the entity is sent whole instead
        (``{"a": ...}``, which HA's clients take as a replacement).
        """
        record = self._record(new)
        if record.diff is None:
            self.serialisations += 1
            try:
                record.diff = dumpb({ENTITY_CHANGED: {new.entity_id: state_diff(old, new)}})
            except _UNENCODABLE:
                record.diff = self.added(new)
        return record.diff

    def removed(self, old: State) -> bytes:
        """``{"r": [entity_id]}``."""
        record = self._record(old)
        if record.removed is None:
            self.serialisations += 1
            record.removed = dumpb({ENTITY_REMOVED: [old.entity_id]})
        return record.removed

    def snapshot(self, states: list[State]) -> bytes:
        """The initial ``{"a": {...}}`` of ``subscribe_entities``, from cached pieces."""
        parts = []
        for state in states:
            piece = self.added(state)
            # b'{"a":{' + b'"id":{...}' + b'}}': strip the wrapper of each cached piece.
            parts.append(piece[6:-2])
        return b'{"a":{' + b",".join(parts) + b"}}"

    # -- events ------------------------------------------------------------------------

    def event(self, event: Event[Any]) -> bytes:
        """An event as HA's WebSocket API shows it; ``state_changed`` reuses state JSON."""
        key = id(event)
        hit = self._events.get(key)
        if hit is not None and hit[0] is event:
            return hit[1]
        encoded = self._encode_event(event)
        self._events[key] = (event, encoded)
        if len(self._events) > _EVENT_CACHE_SIZE:
            self._events.popitem(last=False)
        return encoded

    def _encode_event(self, event: Event[Any]) -> bytes:
        self.serialisations += 1
        fired = datetime.fromtimestamp(event.time_fired, UTC).isoformat()
        tail = dumpb(
            {"origin": "LOCAL", "time_fired": fired, "context": event.context.as_dict()}
        )
        if event.event_type == EVENT_STATE_CHANGED:
            data = event.data
            old, new = data.get("old_state"), data.get("new_state")
            return b"".join((
                b'{"event_type":"state_changed","data":{"entity_id":',
                dumpb(data.get("entity_id")),
                b',"old_state":',
                self.full(old) if isinstance(old, State) else b"null",
                b',"new_state":',
                self.full(new) if isinstance(new, State) else b"null",
                b"},",
                tail[1:],
            ))
        try:
            head = dumpb({"event_type": str(event.event_type), "data": event.data})
        except _UNENCODABLE as err:
            _LOGGER.warning("Data of a %s event cannot be serialised (%s); it is sent with "
                            "an error instead", event.event_type, _why(err))
            head = dumpb({"event_type": str(event.event_type),
                          "data": {"error": f"data could not be serialised: {_why(err)}"}})
        return head[:-1] + b"," + tail[1:]
