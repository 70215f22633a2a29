"""What the NATS entities share: the entry's device, message-fed entities, remote mirrors.

* ``MessageDescription``: an entity fed by messages, as data (where the messages come
  from: a core ``subject`` or a JetStream ``consumer``; how the value is read:
  ``value_template`` or ``json_path``). ``sensor.py`` and ``binary_sensor.py`` extend it
  and build theirs with ``describe(config, key)`` from the validated entry.
* ``MessageEntity``: reads the value with the helpers' ``ValueReader`` and writes the
  state; a message without a usable value raises ``PayloadError`` and writes nothing,
  so the caller (a subscription, a consumer) decides what a bad message costs.
* ``RemoteMirror``: the part of another host's entity (fleet bridge) that does not
  depend on the platform: where it comes from, its attributes, the last sequence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gatehouse.core import (
    STATE_UNAVAILABLE,
    ConfigEntryError,
    DeviceInfo,
    Entity,
    EntityDescription,
    GatehouseError,
)
from gatehouse.core.helpers import PayloadError, TemplateEngine, ValueReader, slugify

from .const import DOMAIN


def entry_device(key: str, name: str) -> DeviceInfo:
    """The device that groups an entry's diagnostic entities."""
    return {
        "identifiers": {(DOMAIN, key)},
        "name": name,
        "manufacturer": "NATS",
        "model": "NATS connection",
    }


@dataclass(frozen=True, kw_only=True)
class MessageDescription(EntityDescription):
    """An entity fed by NATS messages."""

    unique_id: str
    #: The core subject whose messages feed it (None: a consumer feeds it).
    subject: str | None = None
    #: Queue group of the subscription ("" for none).
    queue: str = ""
    #: The name of the consumer that feeds it (None: a core subject feeds it).
    consumer: str | None = None
    value_template: str | None = None
    json_path: str | None = None

    def reader(self, engine: TemplateEngine) -> ValueReader:
        """The value reader; ``ConfigEntryError`` for a template that does not compile."""
        try:
            return ValueReader(
                engine, value_template=self.value_template, json_path=self.json_path
            )
        except ValueError as err:
            raise ConfigEntryError(f"{self.name}: {err}") from err


def message_fields(item: Mapping[str, Any], key: str, *, consumer: bool) -> dict[str, Any]:
    """The ``MessageDescription`` fields of a validated ``sensor``/``binary_sensor``
    item (``consumer=False``) or ``consumers`` item (``consumer=True``)."""
    unique_id = item.get("unique_id") or f"{key}_{slugify(item['name'])}"
    return {
        "key": unique_id,
        "unique_id": unique_id,
        "name": item["name"],
        "icon": item.get("icon"),
        "device_class": item.get("device_class"),
        "subject": None if consumer else item["subject"],
        "queue": "" if consumer else item.get("queue", ""),
        "consumer": item["name"] if consumer else None,
        "value_template": item.get("value_template"),
        "json_path": item.get("json_path"),
    }


class MessageEntity(Entity):
    """An entity whose state is read from messages (see the module docstring)."""

    entity_description: MessageDescription

    def __init__(self, description: MessageDescription, reader: ValueReader) -> None:
        self.entity_description = description
        self._attr_unique_id = description.unique_id
        self._read = reader.read

    def apply(self, payload: bytes, subject: str) -> None:
        """Take the value from a message and write the state (if the entity is live).

        ``PayloadError`` when the message holds no usable value, a state the state
        machine refuses included.
        """
        self._take(self._read(payload, {"subject": subject}))
        if self.entity_id is None:
            return
        try:
            self.write_state()
        except PayloadError:
            raise
        except GatehouseError as err:
            raise PayloadError(str(err)) from err

    def _take(self, value: Any) -> None:
        """Keep ``value`` as the entity's own (``PayloadError`` if it cannot be)."""
        raise NotImplementedError


#: Attributes of the remote state that the local entity sets itself.
_OWN_ATTRIBUTES = frozenset({"friendly_name", "unit_of_measurement", "device_class", "icon"})


class RemoteMirror(Entity):
    """Shared part of remote entities: origin attributes and the last applied sequence."""

    _remote_attrs: dict[str, Any]
    _unit: str | None = None
    _dclass: str | None = None
    _remote_icon: str | None = None
    last_seq: int = 0

    def __init__(self, unique_id: str, name: str, site: str, host: str, entity_id: str) -> None:
        self._attr_unique_id = unique_id
        self._attr_name = name
        self._origin = {"remote_site": site, "remote_host": host, "remote_entity_id": entity_id}
        self._remote_attrs = {}

    @property
    def device_class(self) -> str | None:
        return self._dclass

    @property
    def icon(self) -> str | None:
        return self._remote_icon

    @property
    def extra_state_attributes(self) -> Mapping[str, Any]:
        return {**self._remote_attrs, **self._origin}

    def update(self, data: Mapping[str, Any]) -> None:
        """Take a remote state document (``kv.state_document``'s shape)."""
        attributes = data.get("attributes")
        attrs = dict(attributes) if isinstance(attributes, Mapping) else {}
        self._unit = attrs.get("unit_of_measurement")
        self._dclass = attrs.get("device_class")
        self._remote_icon = attrs.get("icon")
        self._remote_attrs = {k: v for k, v in attrs.items() if k not in _OWN_ATTRIBUTES}
        self._remote_attrs["remote_last_changed"] = data.get("last_changed")
        state = data.get("state")
        self._attr_available = state != STATE_UNAVAILABLE and not data.get("removed")
        self._take_state(state)

    def _take_state(self, state: Any) -> None:
        raise NotImplementedError
