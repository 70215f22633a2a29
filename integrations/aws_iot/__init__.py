"""The AWS IoT Core integration: telemetry, Device Shadow, Jobs and fleet provisioning
over one mutual-TLS MQTT connection.

The modules, each with one job: ``const.py``/``config.py`` (keys, schemas, the file
checks of check-config), ``certs.py`` (certificate and key checks with
``cryptography``), ``client.py`` (the connection: mTLS, ALPN, rate pacing, the 128 KB
limit, storm detection; an ``MqttLink``), ``link.py`` (what protocol modules may do
with it), ``sender.py`` (the outbox sender), ``telemetry.py`` (states → outbox),
``shadow.py`` (Device Shadow sync), ``runtime.py`` (``AwsIotRuntime``; credentials and
the order of set-up), ``binary_sensor.py`` (the problem sensor), ``entity.py`` (the
entry's device), ``flow.py``, ``services.py`` (``aws_iot.publish``).

``setup_entry`` checks the files (a missing file or a key that is not the certificate's
is a ``ConfigEntryError`` naming it), then makes the offline half (outbox, sensors,
telemetry) so that telemetry is queued from boot, then connects; a broker that does not
answer does not stop the entry from loading (see ``runtime.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio.to_thread

from gatehouse.core import ConfigEntry, ConfigEntryError, Host, YamlEntry, entries_by_name, hookimpl
from gatehouse.core.helpers import LinkSensor, attach_outbox, slugify

from .binary_sensor import ProblemSensor
from .config import CONFIG_SCHEMA, ENTRY_SCHEMA, OPTIONS_LAYOUT, check_files
from .const import CONF_NAME, CONF_OUTBOX, CONF_QOS, CONF_TELEMETRY, CONF_THING, DOMAIN
from .entity import entry_device
from .errors import CertificateProblem
from .flow import AwsIotConfigFlow
from .provisioning import ProvisioningError
from .runtime import AwsIotRuntime, configured_credentials, store_dir, stored_credentials
from .services import LOADED
from .telemetry import Telemetry

_LOGGER = logging.getLogger(__name__)


class AwsIotIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = AwsIotConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        return entries_by_name(config, CONF_NAME)

    async def setup_entry(self, host: Host, entry: ConfigEntry[AwsIotRuntime]) -> None:
        config = OPTIONS_LAYOUT.validated(entry, ENTRY_SCHEMA, "AWS IoT")
        try:
            await anyio.to_thread.run_sync(check_files, config)
        except CertificateProblem as err:
            raise ConfigEntryError(str(err)) from err
        name = config[CONF_NAME]
        key = slugify(entry.unique_id or entry.entry_id)
        device = entry_device(key, name, config[CONF_THING])
        runtime = AwsIotRuntime(host, entry, config, key)
        entry.runtime_data = runtime

        runtime.link = LinkSensor(
            f"{key}_connected", f"{name} connected",
            lambda: runtime.connected, runtime.link_attributes, device,
        )
        runtime.problem_sensor = ProblemSensor(key, name, runtime.problem, device)
        await host.entities.add(entry, [runtime.problem_sensor])
        runtime.outbox = await attach_outbox(
            host, entry, runtime.sender, config[CONF_OUTBOX],
            destination=f"aws_iot_{key}", name=name, device_info=device, link=runtime.link,
        )
        runtime.own_entities = [
            e.entity_id for e in (*runtime.outbox.sensors, runtime.link, runtime.problem_sensor)
            if e.entity_id is not None
        ]
        runtime.telemetry = Telemetry(
            host, config[CONF_TELEMETRY], lambda: runtime.thing_name, config[CONF_QOS],
            runtime.outbox, runtime.own_entities,
        )
        runtime.telemetry.start(entry)
        LOADED.add(host, entry, runtime)

        credentials = configured_credentials(config)
        if credentials is None:
            try:
                credentials = await anyio.to_thread.run_sync(
                    stored_credentials, store_dir(host, entry.entry_id)
                )
            except ProvisioningError as err:
                raise ConfigEntryError(str(err)) from err
        if credentials is None:
            entry.spawn(runtime.provision_then_connect(), f"aws_iot {name} provisioning")
            return
        if not await runtime.connect(credentials):
            _LOGGER.warning(
                "AWS IoT %s: %s not reachable yet (%s); loaded without a connection: "
                "telemetry is queued and sent once it answers",
                name, runtime.endpoint.where,
                runtime.connection.last_error if runtime.connection else "",
            )

    async def unload_entry(self, host: Host, entry: ConfigEntry[AwsIotRuntime]) -> None:
        """Nothing to do: the connection, tasks and listeners are undone by the host."""


INTEGRATION = AwsIotIntegration()


@hookimpl
def gatehouse_integration() -> AwsIotIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    """Per loaded entry: connection (paths, never key contents), outbox, telemetry."""
    return {entry_id: rt.diagnostics() for entry_id, rt in LOADED.runtimes(host).items()}
