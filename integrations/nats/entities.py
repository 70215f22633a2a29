"""The NATS integration's entities.

* ``MessageSensor`` / ``MessageBinarySensor``: a value taken from messages (of a core
  subject or a JetStream consumer); ``apply`` raises ``MalformedPayload`` instead of
  writing a bad state, so the caller decides what a bad message costs.
* ``ConnectionSensor``: connectivity of the entry's connection, so a dashboard shows a
  broker outage instead of silently stale values.
* ``MalformedCounter``: messages that could not be used, per source in the attributes.
* ``RemoteSensor`` / ``RemoteBinarySensor``: read-only mirrors of another host's
  entities (fleet bridge), with attributes saying where they come from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import (
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    BinarySensorEntity,
    DeviceInfo,
    SensorEntity,
)
from gatehouse.core.util import slugify

from .client import NatsClient
from .const import DOMAIN
from .values import MalformedPayload, ValueExtractor


def entry_device(key: str, name: str) -> DeviceInfo:
    """The device that groups an entry's diagnostic entities."""
    return {
        "identifiers": {(DOMAIN, key)},
        "name": name,
        "manufacturer": "NATS",
        "model": "NATS connection",
    }


def _describe(entity: SensorEntity | BinarySensorEntity, spec: Mapping[str, Any], key: str) -> None:
    entity._attr_unique_id = spec.get("unique_id") or f"{key}_{slugify(spec['name'])}"
    entity._attr_name = spec["name"]
    entity._attr_icon = spec.get("icon")
    entity._attr_device_class = spec.get("device_class")


class MessageSensor(SensorEntity):
    """A sensor whose value comes from NATS messages."""

    def __init__(self, spec: Mapping[str, Any], key: str, extractor: ValueExtractor) -> None:
        _describe(self, spec, key)
        self._attr_native_unit_of_measurement = spec.get("unit_of_measurement")
        self._attr_state_class = spec.get("state_class")
        self._extractor = extractor

    def apply(self, payload: bytes, subject: str) -> None:
        """Take the value from a message and write the state (if the entity is live)."""
        self._attr_native_value = self._extractor.extract(payload, subject)
        if self.entity_id is not None:
            self.write_state()


class MessageBinarySensor(BinarySensorEntity):
    """A binary sensor: the extracted value must equal ``payload_on`` or ``payload_off``."""

    def __init__(self, spec: Mapping[str, Any], key: str, extractor: ValueExtractor) -> None:
        _describe(self, spec, key)
        self._on = spec.get("payload_on", "ON")
        self._off = spec.get("payload_off", "OFF")
        self._extractor = extractor

    def apply(self, payload: bytes, subject: str) -> None:
        value = str(self._extractor.extract(payload, subject))
        if value == self._on:
            self._attr_is_on = True
        elif value == self._off:
            self._attr_is_on = False
        else:
            raise MalformedPayload(f"{value!r} is neither {self._on!r} nor {self._off!r}")
        if self.entity_id is not None:
            self.write_state()


MessageEntity = MessageSensor | MessageBinarySensor


class ConnectionSensor(BinarySensorEntity):
    """On while the entry's connection is up; attributes name the server."""

    _attr_device_class = "connectivity"
    _attr_icon = "mdi:lan-connect"

    def __init__(self, client: NatsClient, key: str, name: str) -> None:
        self._client = client
        self._attr_unique_id = f"{key}_connected"
        self._attr_name = f"{name} connected"
        self._attr_device_info = entry_device(key, name)

    @property
    def is_on(self) -> bool:
        return self._client.connected

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        return {
            "server": self._client.connected_url,
            "reconnects": self._client.reconnects,
            "last_error": self._client.last_error,
        }

    def refresh(self) -> None:
        if self.entity_id is not None:
            self.write_state()


class MalformedCounter(SensorEntity):
    """Counts messages that could not be used (per source in the attributes)."""

    _attr_state_class = "total_increasing"
    _attr_icon = "mdi:message-alert"

    def __init__(self, key: str, name: str) -> None:
        self._attr_unique_id = f"{key}_malformed"
        self._attr_name = f"{name} malformed messages"
        self._attr_device_info = entry_device(key, name)
        self._attr_native_value = 0
        self._by_source: dict[str, int] = {}

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        return dict(self._by_source)

    def count(self, source: str) -> None:
        self._by_source[source] = self._by_source.get(source, 0) + 1
        self._attr_native_value = int(self._attr_native_value) + 1
        if self.entity_id is not None:
            self.write_state()


# --------------------------------------------------------------------------- fleet

#: Attributes of the remote state that the local entity sets itself.
_OWN_ATTRIBUTES = frozenset({"friendly_name", "unit_of_measurement", "device_class", "icon"})


class _Remote:
    """Shared part of remote entities: origin attributes and the last applied sequence."""

    _origin: dict[str, Any]
    _remote_attrs: dict[str, Any]
    _unit: str | None = None
    _dclass: str | None = None
    _remote_icon: str | None = None
    last_seq: int = 0

    def _init_remote(self, site: str, host: str, entity_id: str) -> None:
        self._origin = {"remote_site": site, "remote_host": host, "remote_entity_id": entity_id}
        self._remote_attrs = {}

    def _take(self, data: Mapping[str, Any]) -> None:
        attributes = data.get("attributes")
        attrs = dict(attributes) if isinstance(attributes, Mapping) else {}
        self._unit = attrs.get("unit_of_measurement")
        self._dclass = attrs.get("device_class")
        self._remote_icon = attrs.get("icon")
        self._remote_attrs = {k: v for k, v in attrs.items() if k not in _OWN_ATTRIBUTES}
        self._remote_attrs["remote_last_changed"] = data.get("last_changed")

    def _attributes(self) -> dict[str, Any]:
        return {**self._remote_attrs, **self._origin}


class RemoteSensor(_Remote, SensorEntity):
    """Another host's entity, read-only; its state string is copied as is."""

    def __init__(self, unique_id: str, name: str, site: str, host: str, entity_id: str) -> None:
        self._attr_unique_id = unique_id
        self._attr_name = name
        self._init_remote(site, host, entity_id)

    @property
    def unit_of_measurement(self) -> str | None:
        return self._unit

    @property
    def device_class(self) -> str | None:
        return self._dclass

    @property
    def icon(self) -> str | None:
        return self._remote_icon

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        return self._attributes()

    def update(self, data: Mapping[str, Any]) -> None:
        self._take(data)
        state = data.get("state")
        self._attr_available = state != STATE_UNAVAILABLE and not data.get("removed")
        self._attr_native_value = state


class RemoteBinarySensor(_Remote, BinarySensorEntity):
    """Another host's binary sensor, read-only."""

    def __init__(self, unique_id: str, name: str, site: str, host: str, entity_id: str) -> None:
        self._attr_unique_id = unique_id
        self._attr_name = name
        self._init_remote(site, host, entity_id)

    @property
    def device_class(self) -> str | None:
        return self._dclass

    @property
    def icon(self) -> str | None:
        return self._remote_icon

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        return self._attributes()

    def update(self, data: Mapping[str, Any]) -> None:
        self._take(data)
        state = data.get("state")
        self._attr_available = state != STATE_UNAVAILABLE and not data.get("removed")
        self._attr_is_on = None if state not in (STATE_ON, STATE_OFF) else state == STATE_ON


RemoteEntity = RemoteSensor | RemoteBinarySensor
