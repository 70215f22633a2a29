"""A script: a sequence of actions, run in one of four modes, each run traced.

``Script`` is what both integrations run: a script's ``sequence`` and an automation's
``actions``. ``await script.run(variables, context)`` runs it once in the caller's
task, under the script's mode:

* ``single``: a run while one is going is refused (``failed_single``);
* ``restart``: the running one is cancelled first;
* ``queued``: runs wait their turn, first come first served, at most ``max``;
* ``parallel``: up to ``max`` at once (``failed_max_runs`` beyond).

``max_exceeded`` is the log level of a refusal (``silent`` for none). ``stop()``
cancels every run (``automation.turn_off``, ``script.turn_off``, a reload). The steps
themselves are executed by ``actions.Steps``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from gatehouse.core import Context, GatehouseError, Host
from gatehouse.core.helpers import BurstLog

from .const import DEFAULT_MAX, DEFAULT_STORED_TRACES, MODE_QUEUED, MODE_RESTART, MODE_SINGLE
from .syntax import normalize_actions
from .trace import RunTrace, trace_store

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class ScriptResult:
    """What a run ended with: ``execution`` as in the trace (``finished``...),
    ``response`` (a ``stop``'s ``response_variable``), the final variables."""

    execution: str
    response: Any = None
    error: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class _Running:
    scope: anyio.CancelScope
    done: anyio.Event


class Script:
    """A compiled sequence with its mode and its traces. See the module docstring."""

    def __init__(
        self,
        host: Host,
        sequence: Any,
        *,
        domain: str,
        item_id: str,
        name: str,
        mode: str = MODE_SINGLE,
        max_runs: int = DEFAULT_MAX,
        max_exceeded: str = "WARNING",
        variables: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        blueprint_inputs: Mapping[str, Any] | None = None,
        stored_traces: int = DEFAULT_STORED_TRACES,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        from .actions import Steps  # actions imports this module's types

        self.host = host
        self.domain = domain
        self.item_id = item_id
        self.name = name
        self.mode = mode
        self.max_runs = max_runs
        self.max_exceeded = max_exceeded
        self.variables = dict(variables or {})
        self.config = config
        self.blueprint_inputs = blueprint_inputs
        self.stored_traces = stored_traces
        self.on_change = on_change
        self.sequence = normalize_actions(sequence)
        self.steps = Steps(host, self.sequence)  # validates and compiles now
        self._runs: list[_Running] = []
        self._waiting = 0
        self._queue = anyio.Lock()
        # A device that floods a trigger must not flood the log: the first refusal or
        # failure of a burst is logged, the rest counted, the end of the burst logged
        # once with the count (the traces keep every run's details).
        level = logging.getLevelName(max_exceeded.upper())
        self._refusals = BurstLog(
            _LOGGER, "%(name)s: already running (mode %(mode)s, max %(max)s); run refused",
            "%(name)s: runs accepted again after %(count)d refused", name=name, mode=mode,
            max=max_runs, level=level if isinstance(level, int) else logging.WARNING)
        self._failures = BurstLog(
            _LOGGER, "%(name)s: %(error)s", "%(name)s: runs finish again after %(count)d "
            "failed (see its traces)", name=name, level=logging.ERROR)

    def __repr__(self) -> str:
        return f"<Script {self.domain}.{self.item_id} {self.mode} running={len(self._runs)}>"

    @property
    def running(self) -> int:
        """Runs going on now (the entity's ``current``)."""
        return len(self._runs)

    @property
    def is_running(self) -> bool:
        return bool(self._runs)

    def new_trace(self, context: Context, trigger: str | None = None) -> RunTrace:
        """Start a run's trace (an automation starts it before its conditions)."""
        trace = RunTrace(self.domain, self.item_id, context, config=self.config,
                         blueprint_inputs=self.blueprint_inputs, trigger=trigger)
        if self.stored_traces > 0:
            trace_store(self.host).add(trace, self.stored_traces)
        return trace

    def _refuse(self, trace: RunTrace, execution: str) -> ScriptResult:
        trace.finished(execution)
        if self.max_exceeded.lower() != "silent":
            self._refusals.hit()
        return ScriptResult(execution)

    async def run(
        self,
        variables: Mapping[str, Any] | None = None,
        context: Context | None = None,
        trace: RunTrace | None = None,
    ) -> ScriptResult:
        """Run once under the mode; returns how it ended (never raises for a step's
        failure: that is in the result and the trace)."""
        context = context if context is not None else Context()
        if trace is None:
            trace = self.new_trace(context)
        if self.mode == MODE_SINGLE and self._runs:
            return self._refuse(trace, "failed_single")
        if self.mode == MODE_RESTART:
            # two triggers at once: each stops what runs when its turn comes, so the
            # later one wins and only one run is left
            while self._runs:
                await self.stop()
        elif self.mode == MODE_QUEUED:
            if len(self._runs) + self._waiting >= self.max_runs:
                return self._refuse(trace, "failed_max_runs")
            self._waiting += 1
            try:
                await self._queue.acquire()
            finally:
                self._waiting -= 1
            try:
                return await self._run(variables, context, trace)
            finally:
                self._queue.release()
        elif self.mode != MODE_SINGLE and len(self._runs) >= self.max_runs:
            return self._refuse(trace, "failed_max_runs")
        return await self._run(variables, context, trace)

    async def _run(self, variables: Mapping[str, Any] | None, context: Context,
                   trace: RunTrace) -> ScriptResult:
        from .actions import Run

        running = _Running(anyio.CancelScope(), anyio.Event())
        if self._refusals.burst:
            self._refusals.calm()
        self._runs.append(running)
        self._changed()
        run = Run(self, dict(variables or {}), context, trace)
        result = ScriptResult("cancelled")
        try:
            with running.scope:
                result = await run.execute()
        except GatehouseError as err:  # a step's error not contained by continue_on_error
            result = ScriptResult("error", error=str(err), variables=run.variables)
            trace.finished("error", err)
            self._failures.hit(error=str(err))
        except Exception as err:
            result = ScriptResult("error", error=str(err), variables=run.variables)
            trace.finished("error", err)
            if self._failures.hit(error=f"{type(err).__name__}: {err}"):
                _LOGGER.error("%s: where it failed", self.name, exc_info=True)
        else:
            if self._failures.burst and result.execution == "finished":
                self._failures.calm()
        finally:
            # cancelled by stop() or from outside (an unload, the host stopping): a
            # trace must not stay "running" for ever (no-op once finished)
            trace.finished("cancelled")
            self._runs.remove(running)
            running.done.set()
            self._changed()
        return result

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                _LOGGER.exception("%s: state update failed", self.name)

    async def stop(self) -> None:
        """Cancel every run and wait until each has ended."""
        runs = list(self._runs)
        for running in runs:
            running.scope.cancel()
        for running in runs:
            await running.done.wait()
