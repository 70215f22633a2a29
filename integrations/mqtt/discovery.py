"""Home Assistant MQTT discovery, both ways.

**Consuming** (``discovery: true``, the default): devices announce themselves with a
retained JSON config on ``<prefix>/<component>/[<node_id>/]<object_id>/config``; we make
the entity it describes (sensor, binary_sensor, switch, number: through the same
``platforms.make_entity`` as YAML), replace it when the
config changes, and remove it when an empty payload arrives. Keys may use Home
Assistant's abbreviations (``stat_t``, ``dev`` with ``ids``...) and the ``~`` base
topic. Configs are processed one at a time by a task of the entry, in arrival order,
because adding an entity awaits the registries. Names follow Home Assistant's rules
(``naming.py``: device name + entity name, or the device class's name). Our own
announcements (``publish_discovery``: the topic's node id is our client id's slug, the
unique ids start ``gatehouse_<node>_``) are never consumed: they would duplicate every
entity, make a device for ourselves, and stream the duplicates out again.

**Publishing** (``publish_discovery: true``): every Gatehouse entity of those platforms
(except MQTT's own, which came from the broker) gets a retained config, so a real Home
Assistant shows it; states come from the statestream topics, switches and numbers get a
``.../set`` command topic that calls ``switch.turn_on``/``turn_off``/``number.set_value``.
Each entity is announced under its own device, ``via_device`` the host's device (which
a connectivity entity on the birth/will topic announces), so Home Assistant shows our
device tree and our names (see ``DiscoveryPublisher.config_for``).
Configs are (re)published on every connect and when Home Assistant announces itself on
``<prefix>/status`` with ``online``.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import anyio
import voluptuous as vol

from gatehouse.core import (
    EVENT_STATE_CHANGED,
    ConfigEntry,
    Entity,
    Event,
    Host,
    RegistryEntry,
    StateChangedData,
)
from gatehouse.core import __version__ as gatehouse_version
from gatehouse.core.helpers import PayloadError, loads, slugify

from .api import MqttMessage
from .config import DISCOVERY_SCHEMAS
from .const import PLATFORMS
from .errors import DiscoveryError
from .naming import entity_name
from .platforms import make_entity

if TYPE_CHECKING:
    from .entity import MqttEntity
    from .runtime import MqttRuntime
    from .statestream import StateStream

_LOGGER = logging.getLogger(__name__)

#: Home Assistant's abbreviations of the keys this integration understands.
ABBREVIATIONS: dict[str, str] = {
    "avty": "availability",
    "avty_t": "availability_topic",
    "cmd_t": "command_topic",
    "dev": "device",
    "dev_cla": "device_class",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "max": "max",
    "min": "min",
    "mode": "mode",
    "name": "name",
    "obj_id": "object_id",
    "opt": "optimistic",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "ret": "retain",
    "stat_cla": "state_class",
    "stat_off": "state_off",
    "stat_on": "state_on",
    "stat_t": "state_topic",
    "stat_val_tpl": "value_template",
    "step": "step",
    "sug_dsp_prc": "suggested_display_precision",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}

DEVICE_ABBREVIATIONS: dict[str, str] = {
    "cns": "connections",
    "hw": "hw_version",
    "ids": "identifiers",
    "mdl": "model",
    "mf": "manufacturer",
    "sa": "suggested_area",
    "sw": "sw_version",
}

AVAILABILITY_ABBREVIATIONS: dict[str, str] = {
    "t": "topic",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "val_tpl": "value_template",
}


def expand(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Abbreviations and the ``~`` base topic resolved, in a new dict."""
    config = {ABBREVIATIONS.get(k, k): v for k, v in raw.items()}
    device = config.get("device")
    if isinstance(device, Mapping):
        config["device"] = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in device.items()}
    availability = config.get("availability")
    if isinstance(availability, list):
        config["availability"] = [
            {AVAILABILITY_ABBREVIATIONS.get(k, k): v for k, v in item.items()}
            if isinstance(item, Mapping) else item
            for item in availability
        ]
    base = config.pop("~", None)
    if isinstance(base, str):
        for key, value in list(config.items()):
            if key.endswith("_topic") and isinstance(value, str):
                if value.startswith("~"):
                    config[key] = base + value[1:]
                elif value.endswith("~"):
                    config[key] = value[:-1] + base
        for item in config.get("availability") or ():
            if isinstance(item, dict) and isinstance(item.get("topic"), str):
                topic = item["topic"]
                if topic.startswith("~"):
                    item["topic"] = base + topic[1:]
                elif topic.endswith("~"):
                    item["topic"] = topic[:-1] + base
    return config


def parse_config(component: str, payload: bytes) -> dict[str, Any]:
    """Decode, expand and validate one discovery payload; raises ``DiscoveryError``."""
    try:
        raw = loads(payload)
    except PayloadError as err:  # nested absurdly deep
        raise DiscoveryError(str(err)) from None
    except ValueError as err:
        raise DiscoveryError(f"not JSON: {err}") from None
    if not isinstance(raw, dict):
        raise DiscoveryError("expected a JSON object")
    try:
        return dict(DISCOVERY_SCHEMAS[component](expand(raw)))
    except vol.Invalid as err:
        raise DiscoveryError(str(err)) from None


def split_topic(prefix: str, topic: str) -> tuple[str, str] | None:
    """``(component, discovery_id)`` of a config topic, or None if it is not one."""
    rest = topic[len(prefix) + 1 :].split("/")
    if len(rest) == 3:
        component, object_id, tail = rest
        node = ""
    elif len(rest) == 4:
        component, node, object_id, tail = rest
    else:
        return None
    if tail != "config" or component not in PLATFORMS:
        return None
    return component, f"{component}/{node}/{object_id}" if node else f"{component}/{object_id}"


@dataclass(frozen=True, slots=True)
class OwnMarks:
    """How our own announcements are recognised: the node id of their topics and the
    prefix of their unique ids (both made from the client id)."""

    node: str
    unique_prefix: str


def own_marks(client_id: str) -> OwnMarks:
    node = slugify(client_id)
    return OwnMarks(node, f"gatehouse_{node}_")


#: Who made an announcement (Home Assistant's ``origin``).
ORIGIN: Final = {"name": "Gatehouse", "sw_version": gatehouse_version}

#: The object id of the host's own status entity in its config topic.
HOST_OBJECT_ID: Final = "gatehouse_host_status"


def _name_under(name: str, device: Mapping[str, Any] | None) -> str | None:
    """``name`` as Home Assistant wants it under ``device`` (see ``config_for``)."""
    device_name = (device or {}).get("name")
    if not device_name:
        return name
    if name == device_name:
        return None
    if name.startswith(f"{device_name} "):
        return name[len(device_name) + 1 :]
    return name


def _entity_extras(entity: Entity | None) -> dict[str, Any]:
    """What only the live entity knows: display precision, category, enabled default."""
    if entity is None:
        return {}
    extras: dict[str, Any] = {}
    precision = getattr(entity, "suggested_display_precision", None)
    if isinstance(precision, int):
        extras["suggested_display_precision"] = precision
    description = entity.entity_description
    if description is not None:
        # Home Assistant refuses a whole config whose category is not one of these.
        if description.entity_category in ("config", "diagnostic"):
            extras["entity_category"] = description.entity_category
        extras["enabled_by_default"] = description.enabled_by_default
    return extras


class DiscoveryConsumer:
    """Makes, replaces and removes entities from discovery configs (module docstring)."""

    def __init__(
        self, host: Host, entry: ConfigEntry[Any], runtime: MqttRuntime, prefix: str
    ) -> None:
        self._host = host
        self._entry = entry
        self._runtime = runtime
        self._prefix = prefix
        self._queue: deque[tuple[str, str, bytes]] = deque()
        self._wake = anyio.Event()
        #: discovery id → (payload it was made from, entity)
        self.entities: dict[str, tuple[bytes, MqttEntity]] = {}
        self.invalid = 0
        self._own = own_marks(runtime.connection.settings.client_id)
        #: Our own announcements seen and left alone (``publish_discovery``).
        self.own_skipped = 0

    def start(self) -> None:
        entry, runtime, prefix = self._entry, self._runtime, self._prefix
        entry.spawn(self._worker(), "mqtt discovery")
        entry.on_unload(runtime.subscribe(f"{prefix}/+/+/config", self._on_message, 1))
        entry.on_unload(runtime.subscribe(f"{prefix}/+/+/+/config", self._on_message, 1))

    def _on_message(self, message: MqttMessage) -> None:
        found = split_topic(self._prefix, message.topic)
        if found is None:
            return
        component, discovery_id = found
        if discovery_id.split("/")[1:2] == [self._own.node] and discovery_id.count("/") == 2:
            self.own_skipped += 1  # our own announcement (DiscoveryPublisher)
            return
        self._queue.append((component, discovery_id, message.payload))
        self._wake.set()

    async def _worker(self) -> None:
        while True:
            while self._queue:
                component, discovery_id, payload = self._queue.popleft()
                try:
                    await self._apply(component, discovery_id, payload)
                except Exception:
                    _LOGGER.exception("Discovery of %s failed", discovery_id)
            self._wake = anyio.Event()
            if not self._queue:
                await self._wake.wait()

    async def _apply(self, component: str, discovery_id: str, payload: bytes) -> None:
        current = self.entities.get(discovery_id)
        if current is not None and current[0] == payload:
            return  # a retained config seen again after a reconnect
        if current is not None:
            del self.entities[discovery_id]
            await self._host.entities.remove(current[1])
            if not payload:
                _LOGGER.info("Discovery removed %s (%s)", current[1].entity_id, discovery_id)
        if not payload:
            return
        try:
            config = parse_config(component, payload)
            if str(config.get("unique_id", "")).startswith(self._own.unique_prefix):
                self.own_skipped += 1  # ours, on a topic without our node id
                return
            config["name"] = entity_name(component, config)
            entity = make_entity(
                self._host, self._runtime, component, config, discovery_id=discovery_id
            )
        except (DiscoveryError, ValueError) as err:
            self.invalid += 1
            _LOGGER.warning("Ignoring discovery config %s: %s", discovery_id, err)
            return
        added = await self._host.entities.add(self._entry, [entity])
        if added:
            self.entities[discovery_id] = (payload, entity)
            _LOGGER.debug("Discovery made %s from %s", entity.entity_id, discovery_id)

    def diagnostics(self) -> dict[str, Any]:
        return {
            "prefix": self._prefix,
            "entities": {d: e.entity_id for d, (_, e) in self.entities.items()},
            "invalid_configs": self.invalid,
            "own_announcements_skipped": self.own_skipped,
        }


class DiscoveryPublisher:
    """Announces Gatehouse's own entities to Home Assistant (module docstring)."""

    def __init__(
        self,
        host: Host,
        entry: ConfigEntry[Any],
        runtime: MqttRuntime,
        prefix: str,
        statestream: StateStream,
    ) -> None:
        self._host = host
        self._entry = entry
        self._runtime = runtime
        self._prefix = prefix
        self._stream = statestream
        settings = runtime.connection.settings
        self._own = own_marks(settings.client_id)
        self._node = self._own.node
        self._availability = settings.will or settings.birth
        self.published = 0

    def start(self) -> None:
        entry, runtime, host = self._entry, self._runtime, self._host
        entry.on_unload(runtime.connection.add_listener(self._connection_changed))
        entry.on_unload(host.bus.listen(EVENT_STATE_CHANGED, self._state_changed))
        entry.on_unload(runtime.subscribe(f"{self._prefix}/status", self._ha_status, 1))
        base = self._stream.base_topic
        entry.on_unload(runtime.subscribe(f"{base}/switch/+/set", self._switch_command, 1))
        entry.on_unload(runtime.subscribe(f"{base}/number/+/set", self._number_command, 1))
        if runtime.connected:
            self.publish_all()

    def _connection_changed(self, connected: bool) -> None:
        if connected:
            self.publish_all()

    def _ha_status(self, message: MqttMessage) -> None:
        if message.payload.strip() == b"online":
            self.publish_all()

    def _state_changed(self, event: Event[StateChangedData]) -> None:
        if event.data["old_state"] is None and event.data["new_state"] is not None:
            self._publish_config(event.data["entity_id"])

    def publish_all(self) -> None:
        self._publish_host_config()  # first: the devices below name it as via_device
        for entity_id in self._host.states.entity_ids():
            self._publish_config(entity_id)

    def _wanted(self, entity_id: str) -> bool:
        domain = entity_id.partition(".")[0]
        if domain not in PLATFORMS or not self._stream.included.selects(entity_id):
            return False
        reg = self._host.entity_registry.get(entity_id)
        return reg is None or reg.platform != "mqtt"

    @property
    def host_device(self) -> dict[str, Any]:
        """The device standing for this host; every published device is ``via`` it."""
        client_id = self._runtime.connection.settings.client_id
        return {
            "identifiers": [f"gatehouse_{self._node}"],
            "name": f"Gatehouse {client_id}",
            "manufacturer": "Gatehouse",
            "model": "Gatehouse host",
            "sw_version": gatehouse_version,
        }

    def _device_of(self, reg: RegistryEntry | None) -> dict[str, Any] | None:
        """The entity's own device as Home Assistant's ``device`` block (None: none)."""
        if reg is None or reg.device_id is None:
            return None
        device = self._host.device_registry.get(reg.device_id)
        if device is None:
            return None
        identifiers = sorted(
            f"gatehouse_{self._node}_{slugify(domain)}_{value}"
            for domain, value in device.identifiers
        ) or [f"gatehouse_{self._node}_{device.id}"]
        block: dict[str, Any] = {"identifiers": identifiers}
        name = device.name_by_user or device.name
        if name:
            block["name"] = name
        for key in ("manufacturer", "model", "sw_version", "hw_version"):
            value = getattr(device, key)
            if value:
                block[key] = value
        block["via_device"] = f"gatehouse_{self._node}"
        return block

    def _availability_fields(self) -> dict[str, Any]:
        settings = self._runtime.connection.settings
        if self._availability is None:
            return {}
        fields: dict[str, Any] = {"availability_topic": self._availability.topic}
        if settings.birth is not None:
            fields["payload_available"] = settings.birth.payload
        if settings.will is not None:
            fields["payload_not_available"] = settings.will.payload
        return fields

    def host_config(self) -> tuple[str, dict[str, Any]] | None:
        """The host's own device, announced through a connectivity entity fed by the
        birth/will topic: Home Assistant only makes devices for entities, and
        ``via_device`` must name one that exists. None without birth and will."""
        settings = self._runtime.connection.settings
        if settings.birth is None or settings.will is None:
            return None
        object_id = f"gatehouse_{self._node}_status"
        config = {
            "name": "Status",
            "unique_id": f"{self._own.unique_prefix}host_status",
            "object_id": object_id,
            "state_topic": settings.birth.topic,
            "payload_on": settings.birth.payload,
            "payload_off": settings.will.payload,
            "device_class": "connectivity",
            "entity_category": "diagnostic",
            "device": self.host_device,
            "origin": ORIGIN,
        }
        return f"{self._prefix}/binary_sensor/{self._node}/{HOST_OBJECT_ID}/config", config

    def config_for(self, entity_id: str) -> tuple[str, dict[str, Any]] | None:
        """The config topic and payload announcing ``entity_id`` (None if not wanted).

        Each entity goes under its own device (identifiers, name, maker, model,
        versions; ``via_device`` the host's device), as our device tree has it; an entity
        without a device is announced without one. Home Assistant names an entity with
        a device "<device name> <entity name>", so the published name is our name
        without the device's name in front (``null`` when it is just the device's
        name): "Demo sine" under device "Demo" is published as "sine" and shown by
        Home Assistant as "Demo sine" again, with ``object_id`` keeping the entity id.
        """
        state = self._host.states.get(entity_id)
        if state is None or not self._wanted(entity_id):
            return None
        domain, object_id = state.domain, state.object_id
        reg = self._host.entity_registry.get(entity_id)
        unique = f"{reg.platform}_{reg.unique_id}" if reg is not None else entity_id
        base = self._stream.topic_base(entity_id)
        attrs = state.attributes
        device = self._device_of(reg)
        config: dict[str, Any] = {
            "name": _name_under(attrs.get("friendly_name") or object_id, device),
            "unique_id": f"{self._own.unique_prefix}{slugify(unique)}",
            "object_id": object_id,
            "state_topic": f"{base}/state",
            "origin": ORIGIN,
        }
        if device is not None:
            config["device"] = device
        if self._stream.publish_attributes:
            config["json_attributes_topic"] = f"{base}/attributes"
        config.update(self._availability_fields())
        for key in ("unit_of_measurement", "device_class", "state_class", "icon"):
            if attrs.get(key) is not None:
                config[key] = attrs[key]
        config.update(_entity_extras(self._host.entities.get(entity_id)))
        if domain in ("binary_sensor", "switch"):
            config.update(payload_on="ON", payload_off="OFF", state_on="on", state_off="off")
        if domain in ("switch", "number"):
            config["command_topic"] = f"{base}/set"
        if domain == "number":
            for key in ("min", "max", "step", "mode"):
                if key in attrs:
                    config[key] = attrs[key]
        return f"{self._prefix}/{domain}/{self._node}/{object_id}/config", config

    def _publish_host_config(self) -> None:
        found = self.host_config()
        if found is not None and self._runtime.connected:
            topic, config = found
            self._runtime.connection.publish(topic, json.dumps(config).encode(), 1, True)
            self.published += 1

    def _publish_config(self, entity_id: str) -> None:
        found = self.config_for(entity_id)
        if found is None or not self._runtime.connected:
            return
        topic, config = found
        # Straight to paho, not through the outbox: configs are re-sent on every
        # connect anyway, a stale queued one would only be noise.
        self._runtime.connection.publish(topic, json.dumps(config).encode(), 1, True)
        self.published += 1

    def _switch_command(self, message: MqttMessage) -> None:
        object_id = message.topic.split("/")[-2]
        command = message.payload.strip().upper()
        service = {b"ON": "turn_on", b"OFF": "turn_off", b"TOGGLE": "toggle"}.get(command)
        if service is None:
            _LOGGER.warning("Unknown switch command %r on %s", message.payload, message.topic)
            return
        self._call("switch", service, {"entity_id": f"switch.{object_id}"})

    def _number_command(self, message: MqttMessage) -> None:
        object_id = message.topic.split("/")[-2]
        try:
            value = float(message.payload)
        except ValueError:
            _LOGGER.warning("Not a number: %r on %s", message.payload, message.topic)
            return
        self._call("number", "set_value", {"entity_id": f"number.{object_id}", "value": value})

    def _call(self, domain: str, service: str, data: dict[str, Any]) -> None:
        async def call() -> None:
            try:
                await self._host.services.call(domain, service, data)
            except Exception as err:  # noqa: BLE001 - a bad command must not kill anything
                _LOGGER.warning("MQTT command %s.%s %s failed: %s", domain, service, data, err)

        self._entry.spawn(call(), f"mqtt command {domain}.{service}")

    def diagnostics(self) -> dict[str, Any]:
        return {"prefix": self._prefix, "node_id": self._node, "configs_published": self.published}
