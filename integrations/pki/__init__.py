"""The pki integration ("Certificates"): days left on every certificate, and a warning.

It reads what ``gatehouse certs`` (``gatehouse.core.pki``) keeps in ``<config>/pki/``
and any PEM files listed under ``watch``, and shows:

* one sensor per unrevoked certificate of the CA index (the CA's own included), one
  for the CA's CRL (past its next update, OpenSSL-based brokers refuse every client),
  and one per watched file: the days left, ``not_after`` as an attribute;
* one problem binary sensor, on while any of them has fewer than ``warn_days`` (30)
  left; the web UI shows a banner while it is on.

The modules: ``scan.py`` (files → ``Tracked`` items, and the cheap stat signature),
``runtime.py`` (``PkiRuntime``: the poll loop, sensors added and removed as
certificates come and go), ``sensor.py``, ``binary_sensor.py``, ``entity.py``,
``config.py``, ``flow.py``, ``services.py`` (``pki.refresh``), ``errors.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import ConfigEntry, Host, YamlEntry, hookimpl

from .config import CONFIG_SCHEMA, ENTRY_SCHEMA, OPTIONS_LAYOUT
from .const import CONF_NAME, DEFAULT_NAME, DOMAIN
from .flow import PkiConfigFlow, PkiOptionsFlow
from .runtime import PkiRuntime
from .services import LOADED


class PkiIntegration:
    domain = DOMAIN
    config_schema = CONFIG_SCHEMA
    config_flow = PkiConfigFlow
    entry_version = 1

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        data = dict(config or {})
        return [YamlEntry(unique_id=DOMAIN, title=data.get(CONF_NAME, DEFAULT_NAME),
                          data=data)]

    def options_flow(self, entry: ConfigEntry[Any]) -> PkiOptionsFlow:
        return PkiOptionsFlow(entry)

    async def setup_entry(self, host: Host, entry: ConfigEntry[PkiRuntime]) -> None:
        config = OPTIONS_LAYOUT.validated(entry, ENTRY_SCHEMA, "certificates")
        runtime = entry.runtime_data = PkiRuntime(host, entry, config)
        await runtime.start()
        entry.spawn(runtime.run(), "certificate expiry poll")
        LOADED.add(host, entry, runtime)

    async def unload_entry(self, host: Host, entry: ConfigEntry[PkiRuntime]) -> None:
        """Nothing to do: the poll task, entities and the service are undone by the host."""


INTEGRATION = PkiIntegration()


@hookimpl
def gatehouse_integration() -> PkiIntegration:
    return INTEGRATION


@hookimpl
def gatehouse_diagnostics(host: Host) -> Mapping[str, Any]:
    """Per loaded entry: watched files, sensor count, refreshes, read errors (no keys)."""
    return {entry_id: rt.diagnostics() for entry_id, rt in LOADED.runtimes(host).items()}
