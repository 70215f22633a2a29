"""The recorder: states and events in SQLite, history, logbook and statistics APIs.

The modules, each with one job:

* ``schema.py``: the tables (Home Assistant's layout), versions, forward migrations;
* ``database.py``: opening (a corrupt file moved aside, a newer schema refused),
  writing a batch with attributes and event data de-duplicated, purging;
* ``writer.py``: ``RecorderWriter``, the thread that commits every ``commit_interval``
  what the loop queued (bounded), reporting failures instead of dying;
* ``statistics.py``: 5-minute and hourly mean/min/max of ``state_class: measurement``;
* ``queries.py``: read-only queries in worker threads; ``history.py``/``logbook.py``:
  Home Assistant's JSON shapes; ``access.py``: periods and permissions;
* ``views.py`` (REST), ``wscommands.py`` (WebSocket), ``services.py``
  (``recorder.purge``), ``binary_sensor.py`` (the problem entity),
  ``runtime.py`` (``RecorderRuntime``), ``config.py``, ``flow.py``, ``errors.py``.

The database is ``<config>/gatehouse_v2.db`` (``db_file``). Set-up opens it in a worker
thread; a database that cannot be used fails the entry with the reason (the host runs
on without history), never a crash loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import ConfigEntry, ConfigEntryError, Host, YamlEntry, hookimpl
from gatehouse.core.helpers import slugify
from gatehouse.core.http import RouteDef, WsCommand

from .binary_sensor import RecorderProblemSensor
from .config import CONFIG_SCHEMA, ENTRY_SCHEMA, OPTIONS_LAYOUT
from .const import CONF_NAME, DEFAULT_NAME, DOMAIN
from .errors import RecorderError, SchemaTooNewError
from .flow import RecorderConfigFlow, RecorderOptionsFlow
from .runtime import RecorderRuntime
from .services import LOADED


class RecorderIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = RecorderConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        data = dict(config or {})
        return [YamlEntry(unique_id=DOMAIN, title=data.get(CONF_NAME, DEFAULT_NAME),
                          data=data)]

    def options_flow(self, entry: ConfigEntry[Any]) -> RecorderOptionsFlow:
        return RecorderOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[RecorderRuntime]) -> None:
        config = OPTIONS_LAYOUT.validated(entry, ENTRY_SCHEMA, "recorder")
        try:
            runtime = await RecorderRuntime.open(host, config)
        except SchemaTooNewError:
            raise  # data from a newer release: the host refuses to run (StoreTooNewError)
        except (RecorderError, OSError) as err:
            raise ConfigEntryError(str(err)) from err
        entry.runtime_data = runtime
        key = slugify(entry.unique_id or entry.entry_id)
        problem = RecorderProblemSensor(key, config[CONF_NAME], runtime.writer)
        runtime.on_problem = problem.refresh
        undos = runtime.start()
        entry.on_unload(runtime.writer.close)  # if unload_entry never ran
        for undo in undos:
            entry.on_unload(undo)
        await host.entities.add(entry, [problem])
        entry.spawn(runtime.daily_purge(), "recorder purge")
        entry.spawn(runtime.size_guard(), "recorder size bound")
        LOADED.add(host, entry, runtime)

    async def unload_entry(self, host: Host, entry: ConfigEntry[RecorderRuntime]) -> None:
        """Commit what is queued and close the database."""
        await entry.runtime_data.close()


INTEGRATION = RecorderIntegration()


@hookimpl
def gatehouse_integration() -> RecorderIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    return {entry_id: rt.diagnostics() for entry_id, rt in LOADED.runtimes(host).items()}


@hookimpl
def gatehouse_http_routes(host: Host) -> list[RouteDef]:
    """History and logbook over REST (``views.py``), imported with aiohttp."""
    from .views import routes

    return routes(host)


@hookimpl
def gatehouse_ws_commands(host: Host) -> list[WsCommand]:
    """History and statistics over the WebSocket (``wscommands.py``)."""
    from .wscommands import commands

    return commands(host)
