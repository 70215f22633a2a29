"""The schema_guard integration: payload governance with a durable quarantine.

Every message on a governed topic is checked against a schema before it reaches
entities, exporters or another broker; what fails is quarantined (SQLite, replayable
after a schema fix) or dropped. The modules, each with one job:

* ``api.py``: the surface the transports call inline (``guard_for(host).check(...)``);
* ``rules.py``: topic patterns with MQTT wildcards and ``{source}``, most specific wins;
* ``decode.py``: size, UTF-8, depth pre-scan and strict JSON, before any parsing cost;
* ``jsonschemas.py`` (jsonschema-rs, drafts 07 and 2020-12), ``protobufs.py``
  (descriptor sets): compiled schema versions; ``catalog.py``: the schema directory,
  versioned files, polled hot reload that never weakens the guard;
* ``engine.py``: the guard (verdicts, shadow versions, metrics in ``metrics.py``);
* ``store.py`` (SQLite), ``writer.py`` (group commit), ``pii.py`` (masking),
  ``replay.py``: the quarantine;
* ``proxy.py``: proxy mode, ingress broker → egress broker, valid messages only,
  each inbound message acknowledged only once forwarded or quarantined;
* ``runtime.py``, ``sensor.py``, ``binary_sensor.py``, ``entity.py``: the loaded entry
  and its entities; ``services.py`` + ``services.yaml``: replay, purge, query, export;
* ``browse.py`` (pages, counts, export for people), ``views.py`` (REST) and
  ``wscommands.py`` (WebSocket): the quarantine's admin API, also behind the UI's
  Quarantine page;
* ``config.py``, ``flow.py``, ``const.py``, ``errors.py``, ``verdict.py``,
  ``violation.py``.

``setup_entry`` loads the schemas first (so the guard is complete before any transport
asks), opens the quarantine, attaches the guard to the host's API and starts the
writer, the reload poll and the stats loop as the entry's tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from gatehouse.core import ConfigEntry, ConfigEntryError, Host, YamlEntry, hookimpl
from gatehouse.core.helpers import ingress_guard, slugify
from gatehouse.core.http import RouteDef, WsCommand

from .api import guard_for
from .config import CONFIG_SCHEMA, ENTRY_SCHEMA, OPTIONS_LAYOUT
from .const import (
    CONF_NAME,
    CONF_RELOAD_INTERVAL,
    CONF_STATS_INTERVAL,
    DOMAIN,
    PROXY_TRANSPORT,
)
from .errors import QuarantineError, SchemaGuardError
from .flow import SchemaGuardConfigFlow, SchemaGuardOptionsFlow
from .runtime import SchemaGuardRuntime
from .services import LOADED


class SchemaGuardIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = SchemaGuardConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return [YamlEntry(unique_id=DOMAIN, title=str(config[CONF_NAME]), data=config)]

    def options_flow(self, entry: ConfigEntry[Any]) -> SchemaGuardOptionsFlow:
        return SchemaGuardOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[SchemaGuardRuntime]) -> None:
        config = OPTIONS_LAYOUT.validated(entry, ENTRY_SCHEMA, "schema_guard")
        key = slugify(entry.unique_id or entry.entry_id)
        runtime = SchemaGuardRuntime(config, key, host.config_dir, host.storage_dir)
        await runtime.load_schemas()
        try:
            await anyio.to_thread.run_sync(runtime.store.open)
        except QuarantineError as err:
            raise ConfigEntryError(str(err)) from err
        entry.on_unload(runtime.store.close)
        entry.on_unload(runtime.writer.drain)  # runs before the close (undos reverse)
        try:
            entry.on_unload(guard_for(host).attach(runtime.guard, runtime.writer))
        except SchemaGuardError as err:
            raise ConfigEntryError(str(err)) from err
        entry.runtime_data = runtime
        await host.entities.add(entry, runtime.make_entities())
        LOADED.add(host, entry, runtime)
        entry.spawn(runtime.writer.run(), f"schema_guard {key} quarantine writer")
        if runtime.proxy is not None:
            entry.on_unload(ingress_guard(host).set_replay_target(PROXY_TRANSPORT,
                                                                  runtime.proxy.replay))
            entry.spawn(runtime.proxy.run(), f"schema_guard {key} proxy")
        entry.spawn(runtime.poll_schemas(float(config[CONF_RELOAD_INTERVAL])),
                    f"schema_guard {key} schema reload")
        entry.spawn(runtime.run_stats(float(config[CONF_STATS_INTERVAL])),
                    f"schema_guard {key} stats")

    async def unload_entry(self, host: Host, entry: ConfigEntry[SchemaGuardRuntime]) -> None:
        """Nothing to do: tasks, the API attachment and the store are undone by the host."""


INTEGRATION = SchemaGuardIntegration()


@hookimpl
def gatehouse_integration() -> SchemaGuardIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    """Per rule: counters and latency; schema problems; quarantine size (no payloads)."""
    return {entry_id: rt.diagnostics() for entry_id, rt in LOADED.runtimes(host).items()}


@hookimpl
def gatehouse_http_routes(host: Host) -> list[RouteDef]:
    """The quarantine's REST API (admins only; ``views.py``), imported with aiohttp."""
    from .views import routes

    return routes(host)


@hookimpl
def gatehouse_ws_commands(host: Host) -> list[WsCommand]:
    """The quarantine over the WebSocket API (admins only; ``wscommands.py``)."""
    from .wscommands import commands

    return commands(host)
