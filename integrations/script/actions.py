"""The actions: checked and compiled once (``Steps``), executed per run (``Run``).

Each kind of action is one method of ``Run``; the trace path of a step is Home
Assistant's (``action/0``, ``action/1/choose/0/sequence/2``, ``action/2/then/0``,
``action/3/repeat/sequence/0``, ``action/4/parallel/1/sequence/0``...), so a step list
reads the same in both UIs.

Kinds: a service call (``action:``/``service:``, ``target``, ``data`` with templates,
``response_variable``), ``delay``, ``wait_template``, ``wait_for_trigger``
(``timeout``, ``continue_on_timeout``), ``event``, ``condition``, ``choose``,
``if``/``then``/``else``, ``repeat`` (``count``, ``while``, ``until``, ``for_each``),
``parallel``, ``sequence``, ``variables``, ``stop`` (``response_variable``, ``error``).
Every action takes ``alias``, ``enabled: false`` and ``continue_on_error: true``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from gatehouse.core import (
    Context,
    GatehouseError,
    Host,
    ServiceNotFound,
    ServiceValidationError,
)

from .conditions import Check, compile_condition
from .errors import RunStopped, ScriptConfigError, ScriptStopped
from .syntax import action_kind, as_list
from .templating import is_template, render, render_value, track, truthy
from .timeparse import check_duration, duration
from .trace import RunTrace

if TYPE_CHECKING:
    from .runner import Script, ScriptResult

_TARGET_KEYS = ("entity_id", "device_id", "area_id")


class Steps:
    """A normalised sequence, checked: every action known, every condition compiled.

    Conditions are compiled here and kept by the identity of their config mapping,
    which the script holds for its whole life.
    """

    def __init__(self, host: Host, sequence: list[dict[str, Any]]) -> None:
        self.host = host
        self.sequence = sequence
        self.conditions: dict[int, Check] = {}
        self._check_sequence(sequence, "sequence")

    def condition(self, config: Mapping[str, Any]) -> Check:
        found = self.conditions.get(id(config))
        if found is None:
            found = self.conditions[id(config)] = compile_condition(self.host, config)
        return found

    def _check_sequence(self, sequence: list[Any], where: str) -> None:
        for i, action in enumerate(sequence):
            self._check(action, f"{where}[{i}]")

    def _check(self, action: Mapping[str, Any], where: str) -> None:
        try:
            kind = action_kind(action)
        except ScriptConfigError as err:
            raise ScriptConfigError(f"{where}: {err}") from None
        try:
            if kind == "condition":
                self.condition(action)
            elif kind == "choose":
                for j, option in enumerate(action["choose"]):
                    for cond in option["conditions"]:
                        self.condition(cond)
                    self._check_sequence(option["sequence"], f"{where}.choose[{j}]")
                self._check_sequence(action.get("default", []), f"{where}.default")
            elif kind == "if":
                for cond in action["if"]:
                    self.condition(cond)
                self._check_sequence(action["then"], f"{where}.then")
                self._check_sequence(action.get("else", []), f"{where}.else")
            elif kind == "repeat":
                repeat = action["repeat"]
                modes = [k for k in ("count", "while", "until", "for_each") if k in repeat]
                if len(modes) != 1:
                    raise ScriptConfigError(
                        "repeat needs exactly one of count, while, until, for_each")
                for key in ("while", "until"):
                    for cond in repeat.get(key, []):
                        self.condition(cond)
                self._check_sequence(repeat["sequence"], f"{where}.repeat.sequence")
            elif kind == "parallel":
                for j, branch in enumerate(action["parallel"]):
                    if "sequence" in branch and action_kind(branch) == "sequence":
                        self._check_sequence(branch["sequence"], f"{where}.parallel[{j}]")
                    else:
                        self._check(branch, f"{where}.parallel[{j}]")
            elif kind == "sequence":
                self._check_sequence(action["sequence"], f"{where}.sequence")
            elif kind in ("delay",):
                check_duration(action["delay"])
            elif kind in ("wait_template",):
                if not is_template(action["wait_template"]):
                    raise ScriptConfigError("wait_template needs a template with {{ }}")
            elif kind == "wait_for_trigger":
                if not action["wait_for_trigger"]:
                    raise ScriptConfigError("wait_for_trigger needs at least one trigger")
            elif kind == "action":
                service = action["action"]
                if not isinstance(service, str) or (
                        not is_template(service) and "." not in service):
                    raise ScriptConfigError(f"action {service!r} is not <domain>.<service>")
            elif kind == "variables" and not isinstance(action["variables"], Mapping):
                raise ScriptConfigError("variables needs a mapping")
            if "timeout" in action:
                check_duration(action["timeout"])
        except ScriptConfigError as err:
            if str(err).startswith(where):
                raise
            raise ScriptConfigError(f"{where}: {err}") from None
        except (KeyError, TypeError) as err:
            raise ScriptConfigError(f"{where}: {kind} action is malformed ({err})") from None


def _continuable(err: BaseException) -> bool:
    """``continue_on_error`` skips failures of the world, not mistakes in the script
    (Home Assistant's rule: unknown services and invalid data still stop the run)."""
    return isinstance(err, GatehouseError) and not isinstance(
        err, (ServiceNotFound, ServiceValidationError, ScriptConfigError))


class Run:
    """One run of a script: its variables, context and trace."""

    def __init__(self, script: Script, variables: dict[str, Any], context: Context,
                 trace: RunTrace) -> None:
        self.script = script
        self.host = script.host
        self.steps = script.steps
        self.variables = variables
        self.context = context
        self.trace = trace

    async def execute(self) -> ScriptResult:
        from .runner import ScriptResult

        try:
            for key, value in self.script.variables.items():
                self.variables[key] = render_value(self.host, value, self.variables)
            await self.sequence(self.steps.sequence, "action")
        except RunStopped as stop:
            self.trace.finished(stop.execution,
                                stop.error if stop.execution != "finished" else None)
            if stop.execution == "error":
                raise ScriptStopped(stop.error or "stopped") from None
            return ScriptResult(stop.execution, stop.response, stop.error, self.variables)
        self.trace.finished("finished")
        return ScriptResult("finished", None, None, self.variables)

    async def sequence(self, actions: list[dict[str, Any]], prefix: str) -> None:
        for i, action in enumerate(actions):
            await self.action(action, f"{prefix}/{i}")

    async def action(self, action: Mapping[str, Any], path: str) -> None:
        if action.get("enabled") is False:
            self.trace.step(path, result={"enabled": False})
            return
        kind = action_kind(action)
        try:
            await getattr(self, f"_{kind}")(action, path)
        except (RunStopped, anyio.get_cancelled_exc_class()):
            raise
        except Exception as err:
            self.trace.fail(path, err)
            if action.get("continue_on_error") and _continuable(err):
                return
            raise

    # -- the kinds ---------------------------------------------------------------------

    async def _action(self, action: Mapping[str, Any], path: str) -> None:
        host = self.host
        service = action["action"]
        if is_template(service):
            service = str(render(host, service, self.variables))
        domain, _, name = str(service).partition(".")
        data = dict(render_value(host, action.get("data") or {}, self.variables))
        target = render_value(host, action.get("target") or {}, self.variables)
        for key in _TARGET_KEYS:
            if key in action and key not in target:
                target = {**target, key: render_value(host, action[key], self.variables)}
        data.update(target)
        response_variable = action.get("response_variable")
        step = self.trace.step(path, variables=self.variables)
        self.trace.set_result(step, {"params": {"domain": domain, "service": name,
                                                 "service_data": data, "target": target}})
        response = await host.services.call(
            domain, name, data, blocking=True, context=self.context,
            return_response=response_variable is not None)
        if response_variable is not None:
            self.variables[str(response_variable)] = response
            self.trace.set_result(step, {"params": {"domain": domain, "service": name,
                                                     "service_data": data},
                                         "response": response})

    async def _delay(self, action: Mapping[str, Any], path: str) -> None:
        seconds = duration(self.host, action["delay"], self.variables)
        step = self.trace.step(path, variables=self.variables)
        await anyio.sleep(seconds)
        self.trace.set_result(step, {"delay": seconds, "done": True})

    def _timeout(self, action: Mapping[str, Any]) -> float | None:
        if action.get("timeout") is None:
            return None
        return duration(self.host, action["timeout"], self.variables)

    async def _wait_template(self, action: Mapping[str, Any], path: str) -> None:
        source = str(action["wait_template"])
        timeout = self._timeout(action)
        step = self.trace.step(path, variables=self.variables)
        started = time.monotonic()
        done = anyio.Event()
        variables = dict(self.variables)
        completed = truthy(render(self.host, source, variables))
        if not completed:
            def result(_old: Any, new: Any) -> None:
                if truthy(new):
                    done.set()

            untrack = track(self.host, source, variables, result)
            try:
                with anyio.move_on_after(timeout):
                    await done.wait()
            finally:
                untrack()
            completed = done.is_set()
        remaining = None if timeout is None else max(timeout - (time.monotonic() - started), 0)
        self.variables["wait"] = {"completed": completed, "remaining": remaining}
        self.trace.set_result(step, {"wait": self.variables["wait"]})
        if not completed and action.get("continue_on_timeout", True) is False:
            raise RunStopped("aborted", error="wait_template timed out")

    async def _wait_for_trigger(self, action: Mapping[str, Any], path: str) -> None:
        from .triggers import attach_triggers

        timeout = self._timeout(action)
        step = self.trace.step(path, variables=self.variables)
        started = time.monotonic()
        done = anyio.Event()
        fired: list[dict[str, Any]] = []

        def fire(data: dict[str, Any], _context: Context | None) -> None:
            if not fired:
                fired.append(data)
                done.set()

        detach = attach_triggers(self.host, list(action["wait_for_trigger"]), fire,
                                 f"{self.script.name} wait_for_trigger",
                                 variables=dict(self.variables))
        try:
            with anyio.move_on_after(timeout):
                await done.wait()
        finally:
            detach()
        remaining = None if timeout is None else max(timeout - (time.monotonic() - started), 0)
        self.variables["wait"] = {"trigger": fired[0] if fired else None,
                                  "remaining": remaining}
        self.trace.set_result(step, {"wait": self.variables["wait"]})
        if not fired and action.get("continue_on_timeout", True) is False:
            raise RunStopped("aborted", error="wait_for_trigger timed out")

    async def _event(self, action: Mapping[str, Any], path: str) -> None:
        event_type = str(render_value(self.host, action["event"], self.variables))
        data = render_value(self.host, action.get("event_data") or {}, self.variables)
        self.trace.step(path, variables=self.variables,
                        result={"event": event_type, "event_data": data})
        self.host.bus.fire(event_type, data, self.context)

    async def _condition(self, action: Mapping[str, Any], path: str) -> None:
        check = self.steps.condition(action)
        if not check(self.variables, self.trace, path):
            raise RunStopped("aborted")

    def _all(self, conditions: list[Any], prefix: str) -> bool:
        return all(self.steps.condition(c)(self.variables, self.trace, f"{prefix}/{j}")
                   for j, c in enumerate(conditions))

    async def _choose(self, action: Mapping[str, Any], path: str) -> None:
        step = self.trace.step(path, variables=self.variables)
        for i, option in enumerate(action["choose"]):
            if self._all(option["conditions"], f"{path}/choose/{i}/conditions"):
                self.trace.set_result(step, {"choice": i})
                await self.sequence(option["sequence"], f"{path}/choose/{i}/sequence")
                return
        if action.get("default"):
            self.trace.set_result(step, {"choice": "default"})
            await self.sequence(action["default"], f"{path}/default")

    async def _if(self, action: Mapping[str, Any], path: str) -> None:
        step = self.trace.step(path, variables=self.variables)
        if self._all(action["if"], f"{path}/if/condition"):
            self.trace.set_result(step, {"choice": "then"})
            await self.sequence(action["then"], f"{path}/then")
        elif action.get("else"):
            self.trace.set_result(step, {"choice": "else"})
            await self.sequence(action["else"], f"{path}/else")

    async def _repeat(self, action: Mapping[str, Any], path: str) -> None:
        repeat = action["repeat"]
        sequence = repeat["sequence"]
        prefix = f"{path}/repeat/sequence"
        self.trace.step(path, variables=self.variables)
        outer = self.variables.get("repeat")
        try:
            if "count" in repeat:
                count = int(float(render_value(self.host, repeat["count"], self.variables)))
                for index in range(1, count + 1):
                    self.variables["repeat"] = {"first": index == 1, "index": index,
                                                "last": index == count}
                    await self.sequence(sequence, prefix)
            elif "for_each" in repeat:
                items = render_value(self.host, repeat["for_each"], self.variables)
                items = as_list(items)
                for index, item in enumerate(items, 1):
                    self.variables["repeat"] = {"first": index == 1, "index": index,
                                                "last": index == len(items), "item": item}
                    await self.sequence(sequence, prefix)
            elif "while" in repeat:
                index = 0
                while True:
                    index += 1
                    self.variables["repeat"] = {"first": index == 1, "index": index}
                    if not self._all(repeat["while"], f"{path}/repeat/while"):
                        break
                    await self.sequence(sequence, prefix)
                    await anyio.lowlevel.checkpoint()
            else:
                index = 0
                while True:
                    index += 1
                    self.variables["repeat"] = {"first": index == 1, "index": index}
                    await self.sequence(sequence, prefix)
                    if self._all(repeat["until"], f"{path}/repeat/until"):
                        break
                    await anyio.lowlevel.checkpoint()
        finally:
            if outer is None:
                self.variables.pop("repeat", None)
            else:
                self.variables["repeat"] = outer

    async def _parallel(self, action: Mapping[str, Any], path: str) -> None:
        self.trace.step(path, variables=self.variables)
        stops: list[RunStopped] = []
        errors: list[BaseException] = []

        async def branch(index: int, item: Mapping[str, Any]) -> None:
            sub = Run(self.script, dict(self.variables), self.context, self.trace)
            try:
                if set(item) <= {"sequence", "alias"} and "sequence" in item:
                    await sub.sequence(item["sequence"], f"{path}/parallel/{index}/sequence")
                else:
                    await sub.action(item, f"{path}/parallel/{index}")
            except RunStopped as stop:
                if stop.execution != "aborted":  # a failed condition ends its branch only
                    stops.append(stop)
            except Exception as err:  # noqa: BLE001 - re-raised after the group
                errors.append(err)

        async with anyio.create_task_group() as group:
            for index, item in enumerate(action["parallel"]):
                group.start_soon(branch, index, item)
        if stops:
            raise stops[0]
        if errors:
            raise errors[0]

    async def _sequence(self, action: Mapping[str, Any], path: str) -> None:
        self.trace.step(path, variables=self.variables)
        await self.sequence(action["sequence"], f"{path}/sequence")

    async def _variables(self, action: Mapping[str, Any], path: str) -> None:
        for key, value in action["variables"].items():
            self.variables[str(key)] = render_value(self.host, value, self.variables)
        self.trace.step(path, variables=self.variables)

    async def _stop(self, action: Mapping[str, Any], path: str) -> None:
        message = str(render_value(self.host, action["stop"], self.variables))
        error = bool(action.get("error", False))
        response = None
        name = action.get("response_variable")
        if name is not None:
            response = self.variables.get(str(name))
        self.trace.step(path, variables=self.variables,
                        result={"stop": message, "error": error})
        if error:
            raise RunStopped("error", response, message)
        raise RunStopped("finished", response, message)

