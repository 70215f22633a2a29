"""The OPC UA integration: entities from the nodes of OPC UA servers (local push).

Layout (network code never leaks asyncua types or errors past ``client.py`` and
``monitor.py``)::

    config.py    voluptuous schemas (YAML section, flow form)
    nodeid.py    nsu=<namespace URI> node addresses, resolved per session
    pki.py       our client certificate, trusted/rejected server certificates
    client.py    one session: security, auth, read/write/browse, error translation
    variants.py  values converted to a node's DataType before a write
    monitor.py   subscription with deadbands, polling fallback
    runtime.py   an entry's session loop: reconnect with backoff, availability
    entities.py  sensor / binary_sensor / switch / number, described as data
    services.py  opcua.write / opcua.read / opcua.browse
    flow.py      the config flow; the options flow adds/removes nodes (entry.options)

Set-up connects once so the host can tell "retry later" (unreachable) from "needs a
human" (refused credentials, untrusted certificate); then ``runtime.run`` keeps the
session alive for the entry's lifetime.
"""

from __future__ import annotations

import logging
from typing import Any

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    DeviceInfo,
    Host,
    YamlEntry,
    entries_by_name,
    hookimpl,
)

from .client import ConnectionSettings
from .config import CONFIG_SCHEMA, NODE_SCHEMA
from .const import (
    AUTH_USERNAME,
    CONF_DEADBAND,
    CONF_DEADBAND_TYPE,
    CONF_DEVICE_CLASS,
    CONF_ICON,
    CONF_MAX,
    CONF_MIN,
    CONF_MODE,
    CONF_MONITOR,
    CONF_NAME,
    CONF_NODE,
    CONF_NODES,
    CONF_PLATFORM,
    CONF_POLL_INTERVAL,
    CONF_PRECISION,
    CONF_PUBLISHING_INTERVAL,
    CONF_QUEUE_SIZE,
    CONF_RECONNECT_MAX_DELAY,
    CONF_SAMPLING_INTERVAL,
    CONF_STATE_CLASS,
    CONF_STEP,
    CONF_UNIQUE_ID,
    CONF_UNIT,
    DEFAULT_PUBLISHING_INTERVAL,
    DEFAULT_RECONNECT_MAX_DELAY,
    DOMAIN,
    MODE_SIGN_AND_ENCRYPT,
    POLICY_NONE,
)
from .entities import ENTITY_CLASSES, OpcuaEntity, OpcuaEntityDescription
from .errors import OpcuaAuthError, OpcuaError, OpcuaSecurityError
from .flow import OpcuaConfigFlow, OpcuaOptionsFlow
from .monitor import MonitorSpec
from .nodeid import parse_node
from .pki import PkiPaths
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
        added = await host.entities.add(entry, _entities(runtime, entry, name))
        runtime.add_entities(e for e in added if isinstance(e, OpcuaEntity))
        LOADED.add(host, entry, runtime)
        entry.spawn(runtime.run(), f"opcua {name} session")

    async def unload_entry(self, host: Host, entry: ConfigEntry[OpcuaRuntime]) -> None:
        """Nothing to do: the session task, entities and services are undone by the host."""


def _entities(runtime: OpcuaRuntime, entry: ConfigEntry[Any], name: str) -> list[OpcuaEntity]:
    prefix = entry.unique_id or entry.entry_id
    device: DeviceInfo = {
        "identifiers": {(DOMAIN, prefix)},
        "name": name,
        "manufacturer": "OPC UA",
        "model": runtime.settings.endpoint,
    }
    entities: list[OpcuaEntity] = []
    seen: set[tuple[str, str]] = set()
    own = list(entry.data.get(CONF_NODES) or [])
    added = list(entry.options.get(CONF_NODES) or [])  # from the options flow
    for raw in [*own, *added]:
        node = NODE_SCHEMA(dict(raw))  # fills defaults for entries stored by older versions
        description = _description(node)
        unique_id = node.get(CONF_UNIQUE_ID) or f"{prefix}:{description.node}"
        if (description.platform, unique_id) in seen:
            # A node added in the UI that the YAML now has too: the YAML one wins.
            _LOGGER.warning("%s: node %s is configured twice as a %s; skipping the one "
                            "added in the UI", name, description.node, description.platform)
            continue
        seen.add((description.platform, unique_id))
        cls = ENTITY_CLASSES[description.platform]
        entities.append(cls(runtime, description, unique_id, device))
    return entities


def _description(node: dict[str, Any]) -> OpcuaEntityDescription:
    ref = parse_node(node[CONF_NODE])
    return OpcuaEntityDescription(
        key=str(ref),
        name=node.get(CONF_NAME) or ref.identifier,
        icon=node.get(CONF_ICON),
        device_class=node.get(CONF_DEVICE_CLASS),
        unit_of_measurement=node.get(CONF_UNIT),
        node=ref,
        platform=node[CONF_PLATFORM],
        monitor=MonitorSpec(
            mode=node[CONF_MONITOR],
            sampling_interval=node[CONF_SAMPLING_INTERVAL],
            deadband=node[CONF_DEADBAND],
            deadband_type=node[CONF_DEADBAND_TYPE],
            queue_size=node[CONF_QUEUE_SIZE],
            poll_interval=node[CONF_POLL_INTERVAL],
        ),
        state_class=node.get(CONF_STATE_CLASS),
        suggested_display_precision=node.get(CONF_PRECISION),
        min_value=node.get(CONF_MIN, 0.0),
        max_value=node.get(CONF_MAX, 100.0),
        step=node.get(CONF_STEP, 1.0),
        number_mode=node.get(CONF_MODE, "auto"),
    )


INTEGRATION = OpcuaIntegration()


@hookimpl
def gatehouse_integration() -> OpcuaIntegration:
    return INTEGRATION
