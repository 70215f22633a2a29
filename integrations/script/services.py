"""Script services: ``script.turn_on``/``turn_off``/``toggle``/``reload`` (``LOADED``)
and one ``script.<key>`` per script (``register_script_service``, by the loader).

``script.<key>`` runs the script and waits for it, returning the ``stop`` action's
``response_variable`` when asked; ``script.turn_on`` starts it and returns at once
(the run lives in the entry's task group, so a reload or an unload cancels it).
``reload`` reloads the entry in a task of the host, so that a script calling
``script.reload`` does not cancel its own reload halfway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import voluptuous as vol

from gatehouse.core import (
    Host,
    LoadedEntries,
    ServiceCall,
    ServiceValidationError,
    SupportsResponse,
    Unsubscribe,
)

from .const import DOMAIN
from .runtime import LoadedScript, ScriptRuntime

_ENTITIES = vol.Any(str, [str])
TURN_ON_SCHEMA = vol.Schema({vol.Required("entity_id"): _ENTITIES,
                             vol.Optional("variables", default=dict): dict})
ENTITY_SCHEMA = vol.Schema({vol.Required("entity_id"): _ENTITIES})


def _runtime(host: Host, call: ServiceCall) -> ScriptRuntime:
    """The one entry's scripts (the domain has a single YAML entry). Not
    ``LOADED.pick``: ``entity_id: all`` names no entity, and the entities are ours."""
    runtimes = LOADED.runtimes(host)
    if not runtimes:
        raise ServiceValidationError(DOMAIN, call.service, "scripts are not loaded")
    return next(iter(runtimes.values()))


def _targets(host: Host, call: ServiceCall) -> list[LoadedScript]:
    runtime = _runtime(host, call)
    wanted = call.data["entity_id"]
    ids = [wanted] if isinstance(wanted, str) else list(wanted)
    by_entity = {s.entity.entity_id: s for s in runtime.scripts.values()}
    if ids == ["all"]:
        return list(by_entity.values())
    unknown = [i for i in ids if i not in by_entity]
    if unknown:
        raise ServiceValidationError(DOMAIN, call.service, f"no script {', '.join(unknown)}")
    return [by_entity[i] for i in ids]


def run_variables(loaded: LoadedScript, given: Mapping[str, Any]) -> dict[str, Any]:
    """A run's variables: the fields' defaults, then what the caller passed."""
    fields = (loaded.item.config or {}).get("fields") or {}
    out = {name: spec["default"] for name, spec in fields.items()
           if isinstance(spec, Mapping) and "default" in spec}
    out.update(given)
    return out


def register_services(host: Host) -> list[Unsubscribe]:
    async def turn_on(call: ServiceCall) -> None:
        for loaded in _targets(host, call):
            entry = loaded.entity.entry
            assert entry is not None
            loaded.entity.triggered()
            entry.spawn(loaded.script.run(run_variables(loaded, call.data["variables"]),
                                          call.context.child()), f"script {loaded.item.key}")

    async def turn_off(call: ServiceCall) -> None:
        for loaded in _targets(host, call):
            await loaded.script.stop()

    async def toggle(call: ServiceCall) -> None:
        for loaded in _targets(host, call):
            if loaded.script.is_running:
                await loaded.script.stop()
            else:
                entry = loaded.entity.entry
                assert entry is not None
                loaded.entity.triggered()
                entry.spawn(loaded.script.run(run_variables(loaded, {}), call.context.child()),
                            f"script {loaded.item.key}")

    async def reload(call: ServiceCall) -> None:
        await reload_domain(host, DOMAIN)

    return [
        host.services.register(DOMAIN, "turn_on", turn_on, TURN_ON_SCHEMA),
        host.services.register(DOMAIN, "turn_off", turn_off, ENTITY_SCHEMA),
        host.services.register(DOMAIN, "toggle", toggle, ENTITY_SCHEMA),
        host.services.register(DOMAIN, "reload", reload, {}, admin_only=True),
    ]


async def reload_domain(host: Host, domain: str) -> None:
    """Reload ``domain``'s entries in a host task and wait for it (see the docstring)."""
    done = anyio.Event()
    failure: list[BaseException] = []

    async def work() -> None:
        try:
            for entry in host.config_entries.entries():
                if entry.domain == domain and not entry.disabled:
                    await host.config_entries.reload(entry.entry_id)
        except Exception as err:
            failure.append(err)
            raise
        finally:
            done.set()

    host.spawn(work(), f"{domain} reload")
    await done.wait()
    if failure:
        raise failure[0]


def register_script_service(host: Host, key: str, loaded: LoadedScript) -> Unsubscribe:
    """``script.<key>``: run and wait; the response is the stop's response_variable."""

    async def run(call: ServiceCall) -> dict[str, Any] | None:
        loaded.entity.triggered()
        result = await loaded.script.run(run_variables(loaded, call.data),
                                         call.context.child())
        if result.execution == "error":
            raise ServiceValidationError(DOMAIN, key, result.error or "the script failed")
        response = result.response
        if call.return_response:
            return response if isinstance(response, dict) else (
                None if response is None else {"value": response})
        return None

    alias = loaded.entity.alias
    fields = (loaded.item.config or {}).get("fields") or {}
    return host.services.register(
        DOMAIN, key, run, None, supports_response=SupportsResponse.OPTIONAL,
        description={"name": alias, "description": (loaded.item.config or {}).get(
            "description", f"Runs the script {alias}"), "fields": fields})


LOADED: LoadedEntries[ScriptRuntime] = LoadedEntries(DOMAIN, register_services)
