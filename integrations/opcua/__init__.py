"""The OPC UA integration: entities from the nodes of OPC UA servers (local push).

Layout (network code never leaks asyncua types or errors past ``client.py``,
``monitor.py`` and ``browse.py``)::

    const.py     names and defaults
    config.py    voluptuous schemas (YAML section, flow forms), OPTIONS_LAYOUT
    nodeid.py    nsu=<namespace URI> node addresses, resolved per session
    pki.py       our client certificate, trusted/rejected server certificates
    translate.py asyncua errors, status codes and values in our terms
    client.py    one session: security, auth, read/write/browse
    variants.py  values converted to a node's DataType before a write
    monitor.py   subscription with deadbands, polling fallback
    browse.py    the address space walk behind opcua.browse
    runtime.py   OpcuaRuntime: an entry's session loop, reconnect with backoff
    entity.py    OpcuaEntity, the base every platform's entity shares
    sensor.py binary_sensor.py switch.py number.py
                 one module per platform: its description (built by describe) and class
    platforms.py an entry's nodes (its own and the options flow's) as entities
    services.py  opcua.write / opcua.read / opcua.browse
    flow.py      the config flow; the options flow adds/removes nodes (entry.options)
    errors.py    every exception, rooted at GatehouseError

Set-up connects once so the host can tell "retry later" (unreachable) from "needs a
human" (refused credentials, untrusted certificate); only then are entities added (a
retrying entry shows none), and ``runtime.run`` keeps the session alive for the entry's
lifetime.
"""

from __future__ import annotations

import logging
from typing import Any

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)

from .client import ConnectionSettings
from .config import CONFIG_SCHEMA
from .const import (
    AUTH_USERNAME,
    CONF_NAME,
    CONF_PUBLISHING_INTERVAL,
    CONF_RECONNECT_MAX_DELAY,
    DEFAULT_PUBLISHING_INTERVAL,
    DEFAULT_RECONNECT_MAX_DELAY,
    DOMAIN,
    MODE_SIGN_AND_ENCRYPT,
    POLICY_NONE,
)
from .entity import OpcuaEntity
from .errors import OpcuaAuthError, OpcuaError, OpcuaSecurityError
from .flow import OpcuaConfigFlow, OpcuaOptionsFlow
from .pki import PkiPaths
from .platforms import build_entities
from .runtime import OpcuaRuntime
from .services import LOADED

_LOGGER = logging.getLogger(__name__)


class OpcuaIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = OpcuaConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return entries_by_name(config, CONF_NAME)

    def options_flow(self, entry: ConfigEntry[Any]) -> OpcuaOptionsFlow:
        """Add and remove nodes in the web UI (kept in ``entry.options["nodes"]``)."""
        return OpcuaOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[OpcuaRuntime]) -> None:
        data = entry.data
        name = data.get(CONF_NAME, entry.title)
        settings = ConnectionSettings.from_data(data, base=host.config_dir)
        if settings.auth == AUTH_USERNAME and (
            settings.security_policy == POLICY_NONE
            or settings.security_mode != MODE_SIGN_AND_ENCRYPT
        ):
            _LOGGER.warning(
                "%s: the password goes to %s unencrypted unless the server encrypts the "
                "token; prefer security_mode SignAndEncrypt", name, settings.endpoint,
            )
        runtime = OpcuaRuntime(
            name,
            settings,
            PkiPaths.of(host.config_dir),
            publishing_interval=float(
                data.get(CONF_PUBLISHING_INTERVAL, DEFAULT_PUBLISHING_INTERVAL)
            ),
            reconnect_max_delay=float(
                data.get(CONF_RECONNECT_MAX_DELAY, DEFAULT_RECONNECT_MAX_DELAY)
            ),
        )
        runtime.on_health = entry.set_health  # connected / reconnecting, for the UI and API
        try:
            await runtime.connect()
        except OpcuaAuthError as err:
            raise ConfigEntryAuthFailed(str(err)) from err
        except OpcuaSecurityError as err:
            raise ConfigEntryError(str(err)) from err
        except OpcuaError as err:
            raise ConfigEntryNotReady(str(err)) from err
        entry.on_unload(runtime.close)
        entry.runtime_data = runtime

        # Only entities the registry did not disable are watched.
        entities = build_entities(runtime, entry, name, settings.endpoint)
        added = await host.entities.add(entry, entities)
        runtime.add_entities(e for e in added if isinstance(e, OpcuaEntity))
        LOADED.add(host, entry, runtime)
        entry.spawn(runtime.run(), f"opcua {name} session")

    async def unload_entry(self, host: Host, entry: ConfigEntry[OpcuaRuntime]) -> None:
        """Nothing to do: the session task, entities and services are undone by the host."""


INTEGRATION = OpcuaIntegration()


@hookimpl
def gatehouse_integration() -> OpcuaIntegration:
    return INTEGRATION
