"""Traces: what each of the last runs of an automation or script did, step by step.

A run records its trigger, each step under its *path* (Home Assistant's: ``trigger/0``,
``condition/1``, ``action/2/then/0``, ``action/3/repeat/sequence/0``...) with the
step's result, error, timestamp and the variables it changed, and its outcome
(``script_execution``: ``finished``, ``failed_conditions``, ``failed_single``,
``failed_max_runs``, ``aborted``, ``cancelled``, ``error``...). The shapes follow Home
Assistant's ``trace/list`` and ``trace/get`` answers so that its tools read ours.

Traces are kept in memory per item (``stored_traces``, default 5): they explain recent
behaviour, they are not a history.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from gatehouse.core import Context, Host, HostKey, State

from .const import DEFAULT_STORED_TRACES

#: Longest repr of a value kept in a trace (a trace must stay small).
_MAX_VALUE = 2000
_UNSEEN = object()


def _iso(stamp: float) -> str:
    return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat()


def jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` made JSON-able for a trace (states as dicts, times as ISO text)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_VALUE else value[:_MAX_VALUE] + "…"
    if depth > 8:
        return "…"
    if isinstance(value, State):
        return value.as_dict()
    if isinstance(value, Context):
        return value.as_dict()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return value[:_MAX_VALUE].decode("utf-8", "replace")
    return repr(value)[:_MAX_VALUE]


@dataclass(slots=True)
class TraceStep:
    """One step of a run (a trigger, a condition, an action)."""

    path: str
    timestamp: float
    result: dict[str, Any] | None = None
    error: str | None = None
    changed_variables: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able; values are converted here, when somebody reads the trace, not
        while the run goes on (a busy house makes far more traces than anyone reads)."""
        out: dict[str, Any] = {"path": self.path, "timestamp": _iso(self.timestamp)}
        if self.result is not None:
            out["result"] = jsonable(self.result)
        if self.error is not None:
            out["error"] = self.error
        if self.changed_variables:
            out["changed_variables"] = jsonable(self.changed_variables)
        return out


@dataclass(eq=False)
class RunTrace:
    """One run of one item."""

    domain: str
    item_id: str
    context: Context
    config: Mapping[str, Any] | None = None
    blueprint_inputs: Mapping[str, Any] | None = None
    trigger: str | None = None
    start: float = field(default_factory=time.time)
    finish: float | None = None
    script_execution: str | None = None
    error: str | None = None
    last_step: str | None = None
    steps: dict[str, list[TraceStep]] = field(default_factory=dict)
    _seen_vars: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.context.id

    @property
    def state(self) -> str:
        return "running" if self.finish is None else "stopped"

    def step(
        self,
        path: str,
        *,
        result: dict[str, Any] | None = None,
        error: BaseException | str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> TraceStep:
        """Record a step; ``variables``: the run's variables now (only changes kept).

        Values are kept as they are (the engine never changes a value in place: a
        rendered template is a new object) and made JSON-able only when read."""
        changed: dict[str, Any] | None = None
        if variables is not None:
            changed = {}
            seen = self._seen_vars
            for key, value in variables.items():
                if seen.get(key, _UNSEEN) is not value:
                    seen[key] = value
                    changed[key] = value
        step = TraceStep(path, time.time(), dict(result) if result is not None else None,
                         _describe(error) if error is not None else None, changed or None)
        self.steps.setdefault(path, []).append(step)
        self.last_step = path
        return step

    def fail(self, path: str, error: BaseException | str) -> None:
        """Record ``error`` on the step ``path`` just recorded (or a new one)."""
        steps = self.steps.get(path)
        if steps and self.last_step == path and steps[-1].error is None:
            steps[-1].error = _describe(error)
        else:
            self.step(path, error=error)

    def set_result(self, step: TraceStep, result: Mapping[str, Any]) -> None:
        """Fill in a step's result once it is known (a wait, a service's response)."""
        step.result = dict(result)

    def finished(self, execution: str, error: BaseException | str | None = None) -> None:
        if self.finish is not None:
            return
        self.finish = time.time()
        self.script_execution = execution
        if error is not None:
            self.error = _describe(error)

    def summary(self) -> dict[str, Any]:
        """Home Assistant's ``trace/list`` item."""
        return {
            "domain": self.domain,
            "item_id": self.item_id,
            "run_id": self.run_id,
            "state": self.state,
            "script_execution": self.script_execution,
            "timestamp": {
                "start": _iso(self.start),
                "finish": _iso(self.finish) if self.finish is not None else None,
            },
            "trigger": self.trigger,
            "last_step": self.last_step,
            "error": self.error,
            "context": self.context.as_dict(),
        }

    def as_dict(self) -> dict[str, Any]:
        """Home Assistant's ``trace/get`` answer."""
        return {
            **self.summary(),
            "trace": {path: [s.as_dict() for s in steps] for path, steps in self.steps.items()},
            "config": jsonable(self.config) if self.config is not None else None,
            "blueprint_inputs": (jsonable(self.blueprint_inputs)
                                 if self.blueprint_inputs is not None else None),
        }


def _describe(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class TraceStore:
    """The last runs of every item, per (domain, item_id)."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], deque[RunTrace]] = {}

    def add(self, trace: RunTrace, keep: int = DEFAULT_STORED_TRACES) -> None:
        key = (trace.domain, trace.item_id)
        runs = self._runs.get(key)
        if runs is None or runs.maxlen != keep:
            runs = self._runs[key] = deque(runs or (), maxlen=max(keep, 1))
        runs.append(trace)

    def list(self, domain: str | None = None, item_id: str | None = None) -> list[RunTrace]:
        return [
            trace
            for (d, i), runs in self._runs.items()
            if (domain is None or d == domain) and (item_id is None or i == item_id)
            for trace in runs
        ]

    def get(self, domain: str, item_id: str, run_id: str) -> RunTrace | None:
        for trace in self._runs.get((domain, item_id), ()):
            if trace.run_id == run_id:
                return trace
        return None

    def forget(self, domain: str, item_id: str) -> None:
        self._runs.pop((domain, item_id), None)


_TRACES: Final[HostKey[TraceStore]] = HostKey("script.traces")


def trace_store(host: Host) -> TraceStore:
    """The host's trace store (made on first use, kept for the host's life)."""
    return host.data.setdefault(_TRACES, TraceStore())
