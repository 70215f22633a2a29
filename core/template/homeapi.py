"""Home Assistant's template API, installed into an environment: globals, filters and
tests under the names Home Assistant uses (a name that is both a function and a filter
there is both here).

The functions live in ``states.py`` (``states``), ``home.py`` (what reads the host:
``is_state``, ``expand``, ``area_*``, ``device_*``...) and ``functions.py`` (what needs
no host: conversions, maths, time). Regular-expression filters are left out on purpose:
Python's ``re`` cannot be interrupted, so one pattern with catastrophic backtracking
would block the event loop past any budget.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

import jinja2

from . import functions as fn
from .home import HomeFunctions
from .states import AllStates

if TYPE_CHECKING:
    from ..host import Host


def install_home_api(env: jinja2.Environment, host: Host) -> None:
    """Put the API into ``env`` (before ``guard_filters``, which counts every filter)."""
    states = AllStates(host)
    home = HomeFunctions(host, states)
    host_globals = home.globals()
    env.globals.update(host_globals)
    env.globals["states"] = states
    env.filters["states"] = states
    for name in HomeFunctions.FILTERS:
        env.filters[name] = host_globals[name]
    for name in HomeFunctions.TESTS:
        env.tests[name] = host_globals[name]

    both: dict[str, Any] = {
        "float": fn.forgiving_float,
        "int": fn.forgiving_int,
        "bool": fn.forgiving_boolean,
        "iif": fn.iif,
        "is_number": fn.is_number,
        "as_timestamp": fn.as_timestamp,
        "as_datetime": fn.as_datetime,
        "as_local": fn.as_local,
        "relative_time": fn.relative_time,
        "timestamp_custom": fn.timestamp_custom,
        "timestamp_local": fn.timestamp_local,
        "timestamp_utc": fn.timestamp_utc,
        "strptime": fn.strptime,
        "average": fn.average,
        "median": fn.median,
        "statistical_mode": fn.statistical_mode,
        "log": fn.logarithm,
        "sqrt": fn.square_root,
        "bitwise_and": fn.bitwise_and,
        "bitwise_or": fn.bitwise_or,
        "base64_encode": fn.base64_encode,
        "base64_decode": fn.base64_decode,
        "slugify": fn.slugify,
        "ordinal": fn.ordinal,
    }
    env.globals.update(both)
    env.filters.update(both)
    env.globals.update(
        now=fn.now,
        utcnow=fn.utcnow,
        today_at=fn.today_at,
        timedelta=fn.make_timedelta,
        min=fn.min_global,
        max=fn.max_global,
        time=time.time,
        pi=math.pi,
        e=math.e,
        tau=math.tau,
        inf=math.inf,
        zip=zip,
        set=frozenset,
        tuple=tuple,
    )
    env.filters.update(
        round=fn.forgiving_round,
        multiply=fn.multiply,
        add=fn.add,
        to_json=fn.to_json,
        from_json=fn.from_json,
        contains=fn.contains,
        today_at=fn.today_at,
    )
    env.tests.update(
        is_number=fn.is_number,
        contains=fn.contains,
        match_all=lambda value: True,
    )
    env.policies["json.dumps_function"] = _dumps


def _dumps(value: Any, **kwargs: Any) -> str:
    """jinja's ``tojson`` writer: anything not JSON (a datetime) as its text."""
    return json.dumps(value, default=str, **kwargs)
