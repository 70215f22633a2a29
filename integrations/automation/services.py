"""Automation services: ``automation.trigger``, ``turn_on``, ``turn_off``, ``toggle``,
``reload`` (Home Assistant's names and fields).

``trigger`` runs the actions now (``skip_condition`` true by default, ``variables``
added to the run); ``turn_off`` stops running actions unless ``stop_actions: false``;
the on/off choice is kept across restarts. ``reload`` re-reads configuration.yaml and
automations.yaml in a task of the host (see ``script``'s ``reload_domain``).
"""

from __future__ import annotations

import voluptuous as vol

from gatehouse.core import (
    Context,
    Host,
    LoadedEntries,
    ServiceCall,
    ServiceValidationError,
    Unsubscribe,
)
from gatehouse.integrations.script.api import reload_domain

from .automation import Automation
from .const import DOMAIN
from .runtime import AutomationRuntime

_ENTITIES = vol.Any(str, [str])
TRIGGER_SCHEMA = vol.Schema({vol.Required("entity_id"): _ENTITIES,
                             vol.Optional("skip_condition", default=True): bool,
                             vol.Optional("variables", default=dict): dict})
TURN_OFF_SCHEMA = vol.Schema({vol.Required("entity_id"): _ENTITIES,
                              vol.Optional("stop_actions", default=True): bool})
ENTITY_SCHEMA = vol.Schema({vol.Required("entity_id"): _ENTITIES})


def _targets(host: Host, call: ServiceCall) -> tuple[AutomationRuntime, list[Automation]]:
    # the domain has a single YAML entry; not LOADED.pick: "all" names no entity
    runtimes = LOADED.runtimes(host)
    if not runtimes:
        raise ServiceValidationError(DOMAIN, call.service, "automations are not loaded")
    runtime = next(iter(runtimes.values()))
    wanted = call.data["entity_id"]
    ids = [wanted] if isinstance(wanted, str) else list(wanted)
    by_entity = {a.entity.entity_id: a for a in runtime.automations.values()}
    if ids == ["all"]:
        return runtime, list(by_entity.values())
    unknown = [i for i in ids if i not in by_entity]
    if unknown:
        raise ServiceValidationError(DOMAIN, call.service,
                                     f"no automation {', '.join(unknown)}")
    return runtime, [by_entity[i] for i in ids]


def register_services(host: Host) -> list[Unsubscribe]:
    from .loader import save_disabled

    async def trigger(call: ServiceCall) -> None:
        _, automations = _targets(host, call)
        for automation in automations:
            automation.start({"platform": None, "description": "automation.trigger",
                              "idx": "0", "id": "manual"},
                             Context(user_id=call.context.user_id, parent_id=call.context.id),
                             skip_condition=call.data["skip_condition"],
                             extra=call.data["variables"])

    async def turn_on(call: ServiceCall) -> None:
        runtime, automations = _targets(host, call)
        for automation in automations:
            automation.enable()
            runtime.disabled.discard(automation.key)
        await save_disabled(host, runtime)

    async def turn_off(call: ServiceCall) -> None:
        runtime, automations = _targets(host, call)
        for automation in automations:
            await automation.disable(call.data["stop_actions"])
            runtime.disabled.add(automation.key)
        await save_disabled(host, runtime)

    async def toggle(call: ServiceCall) -> None:
        runtime, automations = _targets(host, call)
        for automation in automations:
            if automation.enabled:
                await automation.disable()
                runtime.disabled.add(automation.key)
            else:
                automation.enable()
                runtime.disabled.discard(automation.key)
        await save_disabled(host, runtime)

    async def reload(call: ServiceCall) -> None:
        await reload_domain(host, DOMAIN)

    return [
        host.services.register(DOMAIN, "trigger", trigger, TRIGGER_SCHEMA),
        host.services.register(DOMAIN, "turn_on", turn_on, ENTITY_SCHEMA),
        host.services.register(DOMAIN, "turn_off", turn_off, TURN_OFF_SCHEMA),
        host.services.register(DOMAIN, "toggle", toggle, ENTITY_SCHEMA),
        host.services.register(DOMAIN, "reload", reload, {}, admin_only=True),
    ]


LOADED: LoadedEntries[AutomationRuntime] = LoadedEntries(DOMAIN, register_services)
