"""The InfluxDB integration: states as points, through the durable outbox.

One config entry is one InfluxDB target: 1.x (``database``, ``retention_policy``,
``username``/``password``) or 2.x/3.x (``api_version: 2``, ``org``, ``bucket``,
``token``). The modules, each with one job:

* ``const.py``, ``config.py``: names and the voluptuous schemas (YAML, forms, query
  sensors, per-entity overrides, the shared ``outbox:`` block, include/exclude and
  priority from the helpers' shared entity filter and priority rules);
* ``lineprotocol.py``: the line protocol, exactly to the spec (pure);
* ``point.py``: a state → measurement, tags, fields and time, as Home Assistant does;
* ``exporter.py``: the ``state_changed`` listener that queues a point per state (the
  points of one loop turn share an outbox message);
* ``client.py``: HTTP (the write request, InfluxQL and Flux queries);
* ``writer.py``: the outbox ``Sender`` (batches, gzip, partial writes, bisection,
  413 splits, ``Retry-After``, refused credentials);
* ``runtime.py``: ``InfluxdbRuntime`` (``entry.runtime_data``) and the set-up;
* ``sensor.py``: query sensors; ``entity.py``: the entry's device;
* ``services.py`` + ``services.yaml``: ``influxdb.write``; ``flow.py``: the config and
  options flows; ``errors.py``: the integration's errors.

The entry loads whether or not InfluxDB answers (points wait in the outbox); refused
credentials fail set-up (see ``runtime.py``). Unload is the host's: every listener,
task, destination and the HTTP session are registered with ``entry.on_unload`` and
``entry.spawn``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import (
    ConfigEntry,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)
from gatehouse.core.helpers import slugify

from .config import CONFIG_SCHEMA, ENTRY_SCHEMA, OPTIONS_LAYOUT
from .const import CONF_NAME, DOMAIN
from .flow import InfluxConfigFlow, InfluxOptionsFlow
from .runtime import InfluxdbRuntime, build
from .services import LOADED


class InfluxdbIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = InfluxConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return entries_by_name(config, CONF_NAME)

    def options_flow(self, entry: ConfigEntry[Any]) -> InfluxOptionsFlow:
        return InfluxOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[InfluxdbRuntime]) -> None:
        config = OPTIONS_LAYOUT.validated(entry, ENTRY_SCHEMA, "InfluxDB")
        key = slugify(entry.unique_id or entry.entry_id)
        runtime = await build(host, entry, config, key)
        entry.runtime_data = runtime
        LOADED.add(host, entry, runtime)

    async def unload_entry(self, host: Host, entry: ConfigEntry[InfluxdbRuntime]) -> None:
        """Nothing to do: listeners, tasks and the session are released by the host."""


INTEGRATION = InfluxdbIntegration()


@hookimpl
def gatehouse_integration() -> InfluxdbIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    """Per loaded entry: writer, outbox and left-out counts (no secrets)."""
    return {entry_id: rt.diagnostics() for entry_id, rt in LOADED.runtimes(host).items()}
