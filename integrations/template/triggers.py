"""Triggers of trigger-based template entities: ``state`` and ``time_pattern``.

Home Assistant's syntax (``trigger: state`` or ``platform: state``, an optional
``id``): a state trigger fires when one of its entities changes, filtered by ``from``
and ``to`` (a value or a list) or by an ``attribute``; with neither, any change fires,
attributes included. A time pattern fires on matching wall-clock seconds (``hours``,
``minutes``, ``seconds``: a number, ``*``, or ``/N`` for every N-th; a larger unit given
alone sets the smaller ones to 0, as in Home Assistant). The ``trigger`` variable the
templates get has ``platform``, ``id``, ``entity_id``, ``from_state``, ``to_state``
(state objects) or ``now``.

All state triggers of an entry share one ``state_changed`` listener with a filter on
their entity ids; a time pattern is one timer, re-armed after it fires.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from gatehouse.core import EVENT_STATE_CHANGED, Event, Host, StateChangedData

from .config import ensure_list

_LOGGER = logging.getLogger(__name__)

Fire = Callable[[dict[str, Any]], None]
Undo = Callable[[], None]


def attach_triggers(host: Host, triggers: list[Mapping[str, Any]], fire: Fire) -> Undo:
    """Start ``triggers``; ``fire(trigger_data)`` on each firing. Returns the undo."""
    undos: list[Undo] = []
    for index, config in enumerate(triggers):
        base = {"id": str(config.get("id", index)), "idx": str(index),
                "platform": config["trigger"]}
        if config["trigger"] == "state":
            undos.append(_state(host, config, fire, base))
        else:
            undos.append(_time_pattern(config, fire, base))

    def undo() -> None:
        for one in undos:
            one()

    return undo


def _matches(wanted: Any, value: Any) -> bool:
    if wanted is None:
        return True
    return value in [str(item) for item in ensure_list(wanted)]


def _state(host: Host, config: Mapping[str, Any], fire: Fire, base: dict[str, Any]) -> Undo:
    entity_ids = frozenset(ensure_list(config["entity_id"]))
    attribute = config.get("attribute")
    wanted_from, wanted_to = config.get("from"), config.get("to")

    def on_change(event: Event[StateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if attribute is not None:
            before = old.attributes.get(attribute) if old is not None else None
            after = new.attributes.get(attribute) if new is not None else None
            if before == after:
                return
        else:
            before = old.state if old is not None else None
            after = new.state if new is not None else None
            if (wanted_from is not None or wanted_to is not None) and before == after:
                return
        if not (_matches(wanted_from, before) and _matches(wanted_to, after)):
            return
        fire({**base, "entity_id": event.data["entity_id"], "from_state": old,
              "to_state": new, "attribute": attribute})

    return host.bus.listen(EVENT_STATE_CHANGED, on_change,
                           lambda data: data["entity_id"] in entity_ids)


def _pattern(value: Any, top: int, name: str) -> Callable[[int], bool]:
    if value is None or value == "*":
        return lambda unit: True
    text = str(value)
    if text.startswith("/"):
        step = int(text[1:])
        if not 0 < step <= top:
            raise ValueError(f"time_pattern {name}: /{step} is out of range")
        return lambda unit: unit % step == 0
    fixed = int(text)
    if not 0 <= fixed < top:
        raise ValueError(f"time_pattern {name}: {fixed} is out of range")
    return lambda unit: unit == fixed


def time_pattern_matchers(config: Mapping[str, Any]) -> tuple[Callable[[int], bool], ...]:
    """The hour, minute and second tests of a time pattern (module docstring)."""
    hours, minutes, seconds = (config.get(key) for key in ("hours", "minutes", "seconds"))
    if minutes is None and hours is not None:
        minutes = 0
    if seconds is None and minutes is not None:
        seconds = 0
    return (_pattern(hours, 24, "hours"), _pattern(minutes, 60, "minutes"),
            _pattern(seconds, 60, "seconds"))


def next_match(now: dt.datetime, matchers: tuple[Callable[[int], bool], ...]) -> dt.datetime:
    """The first whole second after ``now`` that the pattern matches."""
    hour_ok, minute_ok, second_ok = matchers
    start = now.replace(microsecond=0) + dt.timedelta(seconds=1)
    for day in (0, 1):
        base = (start + dt.timedelta(days=day)).replace(hour=0, minute=0, second=0)
        for hour in range(24):
            if not hour_ok(hour):
                continue
            for minute in range(60):
                if not minute_ok(minute):
                    continue
                for second in range(60):
                    if second_ok(second):
                        moment = base.replace(hour=hour, minute=minute, second=second)
                        if moment >= start:
                            return moment
    raise ValueError("time pattern never matches")


def _time_pattern(config: Mapping[str, Any], fire: Fire, base: dict[str, Any]) -> Undo:
    matchers = time_pattern_matchers(config)
    loop = asyncio.get_running_loop()
    handle: asyncio.TimerHandle | None = None

    def arm(after: dt.datetime | None = None) -> None:
        nonlocal handle
        now = dt.datetime.now().astimezone()
        # after the second just fired, even if the timer woke a little early
        moment = next_match(max(now, after) if after is not None else now, matchers)
        handle = loop.call_later(max((moment - now).total_seconds(), 0.0), on_time, moment)

    def on_time(moment: dt.datetime) -> None:
        arm(moment)
        fire({**base, "now": moment})

    arm()

    def undo() -> None:
        if handle is not None:
            handle.cancel()

    return undo
