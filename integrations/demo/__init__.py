"""The demo integration: live entities with no outside dependency.

Read this file as the reference for writing an integration:

* ``gatehouse_integration`` (the only hook) hands the host our ``Integration`` object;
* ``setup_entry`` makes entities with ``host.entities.add``, starts its update loop with
  ``entry.spawn`` and registers undos with ``entry.on_unload`` — so unload and reload
  need no code of their own;
* ``config_schema``/``entries_from_yaml`` let ``configuration.yaml`` describe entries,
  ``config_flow``/``options_flow`` let the web UI do the same.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import voluptuous as vol

from gatehouse.core import (
    ConfigEntry,
    Host,
    LoadedEntries,
    ServiceCall,
    SupportsResponse,
    Unsubscribe,
    YamlEntry,
    entries_by_name,
    hookimpl,
)
from gatehouse.core.util import slugify

from .config import CONFIG_SCHEMA
from .const import (
    CONF_AMPLITUDE,
    CONF_NAME,
    CONF_SINE_PERIOD,
    CONF_UPDATE_INTERVAL,
    DEFAULT_AMPLITUDE,
    DEFAULT_SINE_PERIOD,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
)
from .entities import CounterSensor, DemoSwitch, SineSensor
from .flow import DemoConfigFlow, DemoOptionsFlow


class DemoRuntime:
    """What a loaded demo entry holds (``entry.runtime_data``)."""

    def __init__(self, sine: SineSensor, counter: CounterSensor, switch: DemoSwitch) -> None:
        self.sine = sine
        self.counter = counter
        self.switch = switch


RESET_SCHEMA = vol.Schema({vol.Optional("entry_id"): str})


def _register_services(host: Host) -> list[Unsubscribe]:
    """The domain's services: registered with the first loaded entry, removed with the last."""
    return [
        host.services.register(
            DOMAIN,
            "reset_counter",
            _reset_counter_handler(host),
            RESET_SCHEMA,
            supports_response=SupportsResponse.OPTIONAL,
        )
    ]


#: Loaded demo entries by entry id; the domain's services act on them.
LOADED: LoadedEntries[DemoRuntime] = LoadedEntries(DOMAIN, _register_services)


class DemoIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = DemoConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return entries_by_name(config, CONF_NAME)

    def options_flow(self, entry: ConfigEntry[Any]) -> DemoOptionsFlow:
        return DemoOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[DemoRuntime]) -> None:
        name = entry.data.get(CONF_NAME, entry.title)
        prefix = slugify(entry.unique_id or entry.entry_id)
        sine = SineSensor(
            prefix,
            name,
            float(entry.data.get(CONF_SINE_PERIOD, DEFAULT_SINE_PERIOD)),
            float(entry.data.get(CONF_AMPLITUDE, DEFAULT_AMPLITUDE)),
        )
        sine.update(time.time())
        counter = CounterSensor(prefix, name)
        switch = DemoSwitch(prefix, name)
        entry.runtime_data = DemoRuntime(sine, counter, switch)
        await host.entities.add(entry, [sine, counter, switch])

        LOADED.add(host, entry, entry.runtime_data)

        interval = float(
            entry.options.get(
                CONF_UPDATE_INTERVAL, entry.data.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
            )
        )
        entry.spawn(_update_loop(entry.runtime_data, interval), f"demo {name} updates")

    async def unload_entry(self, host: Host, entry: ConfigEntry[DemoRuntime]) -> None:
        """Nothing to do: entities, tasks and the service are undone by the host."""


async def _update_loop(runtime: DemoRuntime, interval: float) -> None:
    while True:
        await anyio.sleep(interval)
        runtime.sine.update(time.time())
        runtime.sine.write_state()
        if runtime.switch.is_on:
            runtime.counter.tick()
            runtime.counter.write_state()


def _reset_counter_handler(host: Host) -> Any:
    async def reset_counter(call: ServiceCall) -> dict[str, Any]:
        runtimes = LOADED.runtimes(host)
        wanted = call.data.get("entry_id")
        previous = {
            entry_id: runtime.counter.reset(call.context)
            for entry_id, runtime in runtimes.items()
            if wanted is None or entry_id == wanted
        }
        return {"previous": previous}

    return reset_counter


INTEGRATION = DemoIntegration()


@hookimpl
def gatehouse_integration() -> DemoIntegration:
    return INTEGRATION
