"""Triggers: attach a list of trigger configs, call one function when any fires.

``attach_triggers(host, configs, fire, name)`` attaches every (normalised) trigger and
returns the undo that detaches them all. ``fire(trigger_data, context)`` is called in
the loop, synchronously: ``trigger_data`` is Home Assistant's ``trigger`` variable
(``platform``, ``id``, ``idx``, ``description`` and the platform's own keys, such as
``entity_id``/``from_state``/``to_state``/``for`` for a state trigger).

Platforms here: ``state``, ``numeric_state``, ``event``, ``template``, ``time``,
``time_pattern``; message and host platforms (``mqtt``, ``nats``, ``webhook``,
``homeassistant``/``gatehouse``) are in ``msgtriggers``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from gatehouse.core import Context, Event, Host, State

from .conditions import in_range, numeric_value
from .dispatch import call_later, state_dispatcher
from .errors import ScriptConfigError, ScriptError
from .syntax import as_list, normalize_trigger
from .templating import is_template, render, track, truthy
from .timeparse import check_duration, duration, parse_time

_LOGGER = logging.getLogger(__name__)

Fire: TypeAlias = Callable[[dict[str, Any], "Context | None"], None]
Undo: TypeAlias = Callable[[], None]
Platform: TypeAlias = Callable[[Host, Mapping[str, Any], Fire, dict[str, Any]], Undo]

_MISSING = object()


def trigger_platforms() -> frozenset[str]:
    """Every trigger kind this host knows (for a blueprint's list of what is missing)."""
    from .msgtriggers import MESSAGE_PLATFORMS

    return frozenset(_PLATFORMS) | frozenset(MESSAGE_PLATFORMS)


def attach_triggers(
    host: Host, configs: list[Any], fire: Fire, name: str,
    variables: Mapping[str, Any] | None = None,
) -> Undo:
    """Attach ``configs``; if one fails to attach, those attached are detached again."""
    from .msgtriggers import MESSAGE_PLATFORMS

    platforms = {**_PLATFORMS, **MESSAGE_PLATFORMS}
    undos: list[Undo] = []
    try:
        for idx, raw in enumerate(configs):
            config = normalize_trigger(raw)
            if config.get("enabled") is False:
                continue
            kind = config["trigger"]
            attach = platforms.get(kind)
            if attach is None:
                raise ScriptConfigError(
                    f"{name}: unknown trigger {kind!r}; known: {', '.join(sorted(platforms))}")
            base: dict[str, Any] = {
                "platform": kind,
                "id": str(config.get("id", idx)),
                "idx": str(idx),
                "alias": config.get("alias"),
            }
            if variables:
                base["_variables"] = variables
            undos.append(attach(host, config, fire, base))
    except BaseException:
        for undo in reversed(undos):
            undo()
        raise

    def detach() -> None:
        while undos:
            undos.pop()()

    return detach


def _data(base: dict[str, Any], **items: Any) -> dict[str, Any]:
    out = {k: v for k, v in base.items() if k != "_variables"}
    out.update(items)
    return out


def _for_seconds(host: Host, config: Mapping[str, Any], base: dict[str, Any],
                 trigger: dict[str, Any]) -> float | None:
    hold = config.get("for")
    if hold is None:
        return None
    variables = {**base.get("_variables", {}), "trigger": trigger}
    try:
        return duration(host, hold, variables)
    except ScriptError as err:
        _LOGGER.error("Trigger %s: cannot read 'for' (%s); not firing", base["id"], err)
        return -1.0


def _values(config: Mapping[str, Any], key: str) -> list[Any] | object:
    """A from/to list: _MISSING when the key is absent, [] for ``null`` (any)."""
    if key not in config:
        return _MISSING
    value = config[key]
    if value is None:
        return []
    return [v if not isinstance(v, bool) else ("on" if v else "off") for v in as_list(value)]


# -- state -----------------------------------------------------------------------------


def _state(host: Host, config: Mapping[str, Any], fire: Fire, base: dict[str, Any]) -> Undo:
    entity_ids = [str(e) for e in as_list(config.get("entity_id"))]
    if not entity_ids:
        raise ScriptConfigError("state trigger needs entity_id")
    attribute = config.get("attribute")
    from_v, to_v = _values(config, "from"), _values(config, "to")
    not_from, not_to = _values(config, "not_from"), _values(config, "not_to")
    if from_v is not _MISSING and not_from is not _MISSING:
        raise ScriptConfigError("state trigger: use 'from' or 'not_from', not both")
    if to_v is not _MISSING and not_to is not _MISSING:
        raise ScriptConfigError("state trigger: use 'to' or 'not_to', not both")
    if config.get("for") is not None:
        check_duration(config["for"])
    only_state_changes = attribute is not None or any(
        v is not _MISSING for v in (from_v, to_v, not_from, not_to))
    pending: dict[str, Undo] = {}

    def value_of(state: State | None) -> Any:
        if state is None:
            return None
        if attribute is None:
            return state.state
        return state.attributes.get(str(attribute), _MISSING)

    def ok_to(value: Any) -> bool:
        if isinstance(to_v, list) and to_v and value not in to_v and str(value) not in to_v:
            return False
        return not (isinstance(not_to, list) and (value in not_to or str(value) in not_to))

    def ok_from(value: Any) -> bool:
        if isinstance(from_v, list) and from_v and value not in from_v \
                and str(value) not in from_v:
            return False
        return not (isinstance(not_from, list) and (value in not_from or str(value) in not_from))

    def changed(entity_id: str, old: State | None, new: State | None, event: Event[Any]) -> None:
        new_value = value_of(new)
        waiting = pending.get(entity_id)
        if waiting is not None:
            # a 'for' is running: it goes on while the value still matches
            keeps = new is not None and (
                ok_to(new_value) if to_v is not _MISSING or not_to is not _MISSING
                else new_value == pending_value.get(entity_id))
            if keeps:
                return
            pending.pop(entity_id)()
        if new is None:
            return
        old_value = value_of(old)
        if only_state_changes and old_value == new_value:
            return
        if attribute is not None and new_value is _MISSING:
            return
        if not (ok_from(old_value) and ok_to(new_value)):
            return
        trigger = _data(base, entity_id=entity_id, from_state=old, to_state=new,
                        attribute=attribute, **{"for": None},
                        description=f"state of {entity_id}")
        seconds = _for_seconds(host, config, base, trigger)
        if seconds is None:
            fire(trigger, event.context)
            return
        if seconds < 0:
            return
        trigger["for"] = dt.timedelta(seconds=seconds)
        context = event.context

        def elapsed() -> None:
            pending.pop(entity_id, None)
            fire(trigger, context)

        pending_value[entity_id] = new_value
        pending[entity_id] = call_later(seconds, elapsed)

    pending_value: dict[str, Any] = {}
    untrack = state_dispatcher(host).track(entity_ids, changed)

    def detach() -> None:
        untrack()
        for cancel in pending.values():
            cancel()
        pending.clear()

    return detach


# -- numeric_state -----------------------------------------------------------------------


def _numeric_state(host: Host, config: Mapping[str, Any], fire: Fire,
                   base: dict[str, Any]) -> Undo:
    entity_ids = [str(e) for e in as_list(config.get("entity_id"))]
    if not entity_ids:
        raise ScriptConfigError("numeric_state trigger needs entity_id")
    if config.get("above") is None and config.get("below") is None:
        raise ScriptConfigError("numeric_state trigger needs 'above' and/or 'below'")
    if config.get("for") is not None:
        check_duration(config["for"])
    variables = base.get("_variables", {})
    # Armed: the value was outside the range, so entering it fires (Home Assistant's
    # rule: an entity already in range when attached fires only after leaving it).
    armed = {e: not in_range(host, numeric_value(host, config, e, variables), config)
             for e in entity_ids}
    pending: dict[str, Undo] = {}

    def changed(entity_id: str, old: State | None, new: State | None, event: Event[Any]) -> None:
        matches = new is not None and in_range(
            host, numeric_value(host, config, entity_id, variables), config)
        if not matches:
            armed[entity_id] = True
            cancel = pending.pop(entity_id, None)
            if cancel is not None:
                cancel()
            return
        if not armed.get(entity_id, True):
            return
        armed[entity_id] = False
        trigger = _data(base, entity_id=entity_id, from_state=old, to_state=new,
                        above=config.get("above"), below=config.get("below"),
                        attribute=config.get("attribute"), **{"for": None},
                        description=f"numeric state of {entity_id}")
        seconds = _for_seconds(host, config, base, trigger)
        if seconds is None:
            fire(trigger, event.context)
            return
        if seconds < 0:
            return
        trigger["for"] = dt.timedelta(seconds=seconds)
        context = event.context

        def elapsed() -> None:
            pending.pop(entity_id, None)
            fire(trigger, context)

        pending[entity_id] = call_later(seconds, elapsed)

    untrack = state_dispatcher(host).track(entity_ids, changed)

    def detach() -> None:
        untrack()
        for cancel in pending.values():
            cancel()
        pending.clear()

    return detach


# -- event -------------------------------------------------------------------------------


def _subset(wanted: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        if key not in data:
            return False
        got = data[key]
        if isinstance(value, Mapping) and isinstance(got, Mapping):
            if not _subset(value, got):
                return False
        elif got != value and str(got) != str(value):
            return False
    return True


def _event(host: Host, config: Mapping[str, Any], fire: Fire, base: dict[str, Any]) -> Undo:
    types = [str(t) for t in as_list(config.get("event_type"))]
    if not types:
        raise ScriptConfigError("event trigger needs event_type")
    wanted = config.get("event_data") or {}
    if not isinstance(wanted, Mapping):
        raise ScriptConfigError("event trigger: event_data must be a mapping")
    users = [str(u) for u in as_list((config.get("context") or {}).get("user_id"))]

    def handle(event: Event[Any]) -> None:
        if users and event.context.user_id not in users:
            return
        fire(_data(base, event={"event_type": str(event.event_type),
                                "data": dict(event.data),
                                "time_fired": event.time_fired,
                                "context": event.context.as_dict()},
                   description=f"event '{event.event_type}'"), event.context)

    def matches(data: Mapping[str, Any]) -> bool:
        return not wanted or _subset(wanted, data)

    undos = [host.bus.listen(t, handle, matches) for t in types]

    def detach() -> None:
        for undo in undos:
            undo()

    return detach


# -- template ----------------------------------------------------------------------------


def _template(host: Host, config: Mapping[str, Any], fire: Fire, base: dict[str, Any]) -> Undo:
    source = config.get("value_template")
    if not isinstance(source, str) or not is_template(source):
        raise ScriptConfigError("template trigger needs a value_template with {{ }}")
    if config.get("for") is not None:
        check_duration(config["for"])
    variables = dict(base.get("_variables", {}))
    try:
        was_true = [truthy(render(host, source, variables))]
    except ScriptError:
        was_true = [False]
    pending: list[Undo] = []

    def result(_old: Any, new: Any) -> None:
        now_true = truthy(new) if not isinstance(new, BaseException) else False
        if not now_true:
            was_true[0] = False
            while pending:
                pending.pop()()
            return
        if was_true[0]:
            return
        was_true[0] = True
        trigger = _data(base, entity_id=None, from_state=None, to_state=None,
                        **{"for": None}, description="template")
        seconds = _for_seconds(host, config, base, trigger)
        if seconds is None:
            fire(trigger, None)
            return
        if seconds < 0:
            return
        trigger["for"] = dt.timedelta(seconds=seconds)

        def elapsed() -> None:
            pending.clear()
            fire(trigger, None)

        pending.append(call_later(seconds, elapsed))

    untrack = track(host, source, variables, result)

    def detach() -> None:
        untrack()
        while pending:
            pending.pop()()

    return detach


# -- time --------------------------------------------------------------------------------


def next_time_of_day(now: dt.datetime, at: dt.time) -> dt.datetime:
    candidate = now.replace(hour=at.hour, minute=at.minute, second=at.second,
                            microsecond=at.microsecond)
    if candidate <= now:
        candidate += dt.timedelta(days=1)
    return candidate


def _entity_time(state: State | None) -> dt.datetime | dt.time | None:
    """When an entity says: an ISO date-time (a ``timestamp`` sensor) or a time of day
    (an ``input_datetime`` with time only); None for anything else."""
    if state is None:
        return None
    text = state.state
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            return parse_time(text)
        except ScriptConfigError:
            return None
    return moment if moment.tzinfo is not None else moment.astimezone()


def _time(host: Host, config: Mapping[str, Any], fire: Fire, base: dict[str, Any]) -> Undo:
    """``at``: times of day, or entity ids whose state is a date-time or a time of day
    (rescheduled when the entity changes), as in Home Assistant."""
    fixed: list[dt.time] = []
    entities: list[str] = []
    for at in as_list(config.get("at")):
        try:
            fixed.append(parse_time(at))
        except ScriptConfigError:
            if isinstance(at, str) and "." in at:
                entities.append(at)
            else:
                raise
    if not fixed and not entities:
        raise ScriptConfigError("time trigger needs 'at' (HH:MM:SS or an entity id)")
    cancels: dict[str, Undo] = {}

    def schedule(key: str, when: dt.datetime | dt.time, entity_id: str | None) -> None:
        old = cancels.pop(key, None)
        if old is not None:
            old()
        now = dt.datetime.now().astimezone()
        daily = isinstance(when, dt.time)
        target = next_time_of_day(now, when) if isinstance(when, dt.time) else when
        if target <= now:
            return  # a date-time in the past never comes

        def ring() -> None:
            cancels.pop(key, None)
            fire(_data(base, now=dt.datetime.now().astimezone(), entity_id=entity_id,
                       description=f"time {when.isoformat()}"), None)
            if daily:
                schedule(key, when, entity_id)

        cancels[key] = call_later((target - now).total_seconds(), ring)

    for at in fixed:
        schedule(at.isoformat(), at, None)

    def follow(entity_id: str, _old: State | None, new: State | None,
               _event: Event[Any]) -> None:
        when = _entity_time(new)
        if when is None:
            cancel = cancels.pop(entity_id, None)
            if cancel is not None:
                cancel()
            return
        schedule(entity_id, when, entity_id)

    untrack: Undo | None = None
    if entities:
        for entity_id in entities:
            when = _entity_time(host.states.get(entity_id))
            if when is not None:
                schedule(entity_id, when, entity_id)
        untrack = state_dispatcher(host).track(entities, follow)

    def detach() -> None:
        if untrack is not None:
            untrack()
        for cancel in cancels.values():
            cancel()
        cancels.clear()

    return detach


def _pattern(value: Any, top: int, name: str) -> Callable[[int], bool]:
    if value is None or value == "*":
        return lambda _v: True
    text = str(value).strip()
    if text.startswith("/"):
        try:
            step = int(text[1:])
        except ValueError:
            raise ScriptConfigError(f"time_pattern {name}: {value!r} is not /<number>") from None
        if step <= 0:
            raise ScriptConfigError(f"time_pattern {name}: step must be positive")
        return lambda v: v % step == 0
    try:
        exact = int(text)
    except ValueError:
        raise ScriptConfigError(f"time_pattern {name}: {value!r} is not a number, * or /n"
                                ) from None
    if not 0 <= exact <= top:
        raise ScriptConfigError(f"time_pattern {name}: {exact} is out of 0..{top}")
    return lambda v: v == exact


def next_pattern_time(now: dt.datetime, hours: Callable[[int], bool],
                      minutes: Callable[[int], bool],
                      seconds: Callable[[int], bool]) -> dt.datetime | None:
    """The first whole second after ``now`` that the pattern matches (within 2 days)."""
    t = now.replace(microsecond=0) + dt.timedelta(seconds=1)
    limit = now + dt.timedelta(days=2)
    while t < limit:
        if not hours(t.hour):
            t = (t + dt.timedelta(hours=1)).replace(minute=0, second=0)
            continue
        if not minutes(t.minute):
            t = (t + dt.timedelta(minutes=1)).replace(second=0)
            continue
        if not seconds(t.second):
            t += dt.timedelta(seconds=1)
            continue
        return t
    return None


def _time_pattern(host: Host, config: Mapping[str, Any], fire: Fire,
                  base: dict[str, Any]) -> Undo:
    hours, minutes, seconds = config.get("hours"), config.get("minutes"), config.get("seconds")
    if hours is None and minutes is None and seconds is None:
        raise ScriptConfigError("time_pattern needs hours, minutes or seconds")
    # Home Assistant: a larger unit given makes the smaller ones default to zero.
    if minutes is None and hours is not None:
        minutes = 0
    if seconds is None and minutes is not None:
        seconds = 0
    match = (_pattern(hours, 23, "hours"), _pattern(minutes, 59, "minutes"),
             _pattern(seconds, 59, "seconds"))
    cancel: list[Undo] = []

    def schedule() -> None:
        now = dt.datetime.now().astimezone()
        when = next_pattern_time(now, *match)
        if when is None:
            return

        def ring() -> None:
            cancel.clear()
            fire(_data(base, now=dt.datetime.now().astimezone(), description="time pattern"),
                 None)
            schedule()

        cancel.append(call_later((when - now).total_seconds(), ring))

    schedule()

    def detach() -> None:
        while cancel:
            cancel.pop()()

    return detach


_PLATFORMS: dict[str, Platform] = {
    "state": _state,
    "numeric_state": _numeric_state,
    "event": _event,
    "template": _template,
    "time": _time,
    "time_pattern": _time_pattern,
}
