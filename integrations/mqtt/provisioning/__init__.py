"""Device provisioning on the broker, and the live traffic monitor.

A part of the mqtt integration for brokers running Mosquitto's dynamic security
plugin (``mosquitto_dynamic_security.so``). An mqtt entry with a ``provisioning:``
block (``config.py``) administers the plugin over its own connection, so the entry's
user must be a dynamic security admin (``mosquitto_ctrl dynsec init`` makes one). The
modules, one job each:

* ``config.py``: the block's schema and the device-type templates;
* ``dynsec.py``: the plugin's ``$CONTROL/dynamic-security/v1`` client (commands,
  answers matched by ``correlationData``, timeouts, the plugin's error strings);
* ``templates.py``: a template and a device → its topics, role, group and ACLs, and
  what the broker can and cannot enforce (``max_qos``/``retain``: listener settings,
  not ACLs);
* ``certs.py``: the house CA (``gatehouse certs``) for certificate devices, the CRL and
  the broker's reload; ``registry.py``: the provisioned devices on disk (no secrets);
* ``provisioner.py``: provision, revoke (one click), delete; ``bundle.py`` the zip,
  ``qr.py`` the QR code (SVG, made here);
* ``traffic.py``: the live traffic monitor's sessions (rate-limited, bounded);
* ``services.py`` (``mqtt.provision_device``, ``mqtt.revoke_device``,
  ``mqtt.delete_device``: admin-only), ``views.py`` (REST) and ``wscommands.py``
  (WebSocket) for the UI pages ``devices_provision`` and ``traffic``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryError,
    Context,
    Host,
    HostKey,
    LoadedEntries,
    ServiceCall,
)

from ..api import MqttMessage
from ..const import DOMAIN
from .config import PROVISIONING_SCHEMA, ProvisioningSettings
from .dynsec import DynsecClient
from .provisioner import Provisioner
from .registry import DeviceRegistry

if TYPE_CHECKING:
    from ..client import MqttConnection
    from ..runtime import MqttRuntime

__all__ = ["PROVISIONING_SCHEMA", "Provisioner", "pick_provisioner", "provisioner_for",
           "provisioning_entries", "setup_provisioning"]

#: Loaded provisioners by entry id.
PROVISIONERS: Final[HostKey[dict[str, Provisioner]]] = HostKey("mqtt.provisioners")
#: The service data key that names the entry (``LoadedEntries.ENTRY_FIELDS``).
ENTRY_ID: Final = "entry_id"
#: How refusals name the entries provisioning can act on.
WITH_BLOCK: Final = " with a provisioning: block"


class _EntryChannel:
    """The mqtt entry's connection as the dynsec client's ``ControlChannel``."""

    def __init__(self, runtime: MqttRuntime) -> None:
        self._runtime = runtime
        self._connection: MqttConnection = runtime.connection

    @property
    def connected(self) -> bool:
        return self._connection.connected

    def subscribe(self, topic_filter: str, callback: Callable[[MqttMessage], None],
                  qos: int) -> Callable[[], None]:
        return self._runtime.subscribe(topic_filter, callback, qos)

    def publish_now(self, topic: str, payload: bytes) -> None:
        self._connection.publish(topic, payload, 0, False)

    async def wait_subscribed(self, timeout: float) -> bool:
        return await self._connection.wait_subscribed(timeout)


async def setup_provisioning(host: Host, entry: ConfigEntry[Any], runtime: MqttRuntime,
                             raw: dict[str, Any], broker: str, port: int) -> Provisioner:
    """Start provisioning for a loaded entry; every undo is registered with the entry."""
    settings = ProvisioningSettings.from_config(raw, broker, port)
    dynsec = DynsecClient(_EntryChannel(runtime), settings.request_timeout)
    entry.on_unload(dynsec.start())
    registry = DeviceRegistry(host.storage_dir / "mqtt" / f"provisioning.{entry.entry_id}.json")
    try:
        await registry.load()
    except ValueError as err:
        raise ConfigEntryError(str(err)) from err
    provisioner = Provisioner(host.config_dir, entry.entry_id, entry.title, settings,
                              dynsec, registry)
    loaded = host.data.setdefault(PROVISIONERS, {})
    loaded[entry.entry_id] = provisioner

    def forget() -> None:
        if loaded.get(entry.entry_id) is provisioner:
            del loaded[entry.entry_id]

    entry.on_unload(forget)
    return provisioner


def provisioning_entries(host: Host) -> list[dict[str, str]]:
    """The loaded mqtt entries with a ``provisioning:`` block, ``{entry_id, title}`` by
    title: the choices a page offers and a refusal lists."""
    loaded = host.data.get(PROVISIONERS) or {}
    titles = {e.entry_id: e.title for e in host.config_entries.entries(DOMAIN)}
    return sorted(({"entry_id": i, "title": titles.get(i, p.title)} for i, p in loaded.items()),
                  key=lambda e: (e["title"].casefold(), e["entry_id"]))


def pick_provisioner(host: Host, loaded: LoadedEntries[Any], call: ServiceCall) -> Provisioner:
    """The provisioner of the entry ``call`` names, by the mqtt domain's one rule
    (``LoadedEntries.pick_entry_id``, ``loaded`` being the domain's ``LOADED``) among
    the entries with a block: ``entry_id`` an id or a title; left out, the only one; with
    several, ``ServiceValidationError`` naming them. Never "the first one": with two
    brokers that would act on one the caller did not mean.
    """
    with_block = host.data.get(PROVISIONERS) or {}
    return with_block[loaded.pick_entry_id(host, call, among=with_block, among_what=WITH_BLOCK)]


def provisioner_for(host: Host, entry_id: str | None = None, *,
                    asked_by: str = "provisioning") -> Provisioner:
    """``pick_provisioner`` for the REST and WebSocket APIs (and tests): ``entry_id`` as
    the services take it. ``asked_by`` names the request in a refusal
    (``invalid data for mqtt.<asked_by>: ...``)."""
    # mqtt/services.py (LOADED) imports this package's services module, which imports
    # this package: read LOADED when called, not at import.
    from ..services import LOADED

    call = ServiceCall(DOMAIN, asked_by, {ENTRY_ID: entry_id}, Context())
    return pick_provisioner(host, LOADED, call)
