"""The AWS IoT Core integration: telemetry, Device Shadow, Jobs and fleet provisioning
over one mutual-TLS MQTT connection."""

from __future__ import annotations


from gatehouse.core import ConfigEntry, Host, hookimpl

from .const import DOMAIN
from .runtime import AwsIotRuntime


class AwsIotIntegration:
    domain = DOMAIN
    entry_version = 1

    async def setup_entry(self, host: Host, entry: ConfigEntry[AwsIotRuntime]) -> None:
        entry.runtime_data = AwsIotRuntime(dict(entry.data))

    async def unload_entry(self, host: Host, entry: ConfigEntry[AwsIotRuntime]) -> None:
        """Nothing to do yet."""


INTEGRATION = AwsIotIntegration()


@hookimpl
def gatehouse_integration() -> AwsIotIntegration:
    return INTEGRATION



