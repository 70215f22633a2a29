"""The demo integration: live entities with no outside dependency.

Read it as the reference for writing an integration; each module has one job:

* ``__init__.py`` (this file): the ``Integration`` object and the one hook,
  ``gatehouse_integration``, that hands it to the host;
* ``const.py``, ``config.py``: names and the voluptuous schemas (YAML and forms agree);
* ``runtime.py``: ``DemoRuntime``, what a loaded entry holds (``entry.runtime_data``);
* ``entity.py``, ``sensor.py``, ``switch.py``: the entities, one module per platform;
* ``services.py`` + ``services.yaml``: ``demo.reset_counter`` and its description;
* ``flow.py``: the config and options flows of the web UI.

``setup_entry`` makes entities with ``host.entities.add``, starts the update loop with
``entry.spawn`` and registers undos with ``entry.on_unload`` (``LOADED.add`` does), so
unload and reload need no code of their own.
"""

from __future__ import annotations

import time
from typing import Any

from gatehouse.core import ConfigEntry, Host, YamlEntry, entries_by_name, hookimpl
from gatehouse.core.helpers import slugify

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
from .flow import DemoConfigFlow, DemoOptionsFlow
from .runtime import DemoRuntime
from .sensor import CounterSensor, SineSensor
from .services import LOADED
from .switch import DemoSwitch


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
        runtime = entry.runtime_data = DemoRuntime(sine, CounterSensor(prefix, name),
                                                   DemoSwitch(prefix, name))
        await host.entities.add(entry, [runtime.sine, runtime.counter, runtime.switch])
        LOADED.add(host, entry, runtime)
        interval = float(
            entry.options.get(
                CONF_UPDATE_INTERVAL, entry.data.get(CONF_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL)
            )
        )
        entry.spawn(runtime.run(interval), f"demo {name} updates")

    async def unload_entry(self, host: Host, entry: ConfigEntry[DemoRuntime]) -> None:
        """Nothing to do: entities, tasks and the service are undone by the host."""


INTEGRATION = DemoIntegration()


@hookimpl
def gatehouse_integration() -> DemoIntegration:
    return INTEGRATION
