"""What every MQTT entity shares: its description's common half, topics, availability and
bad payload accounting.

An MQTT entity is *data* plus one class per platform: each platform module
(``sensor.py``, ``binary_sensor.py``, ``switch.py``, ``number.py``) turns a validated
config (YAML, the options flow, a discovery payload) into a frozen description with its
``describe(config)``, and ``common_fields`` here reads the keys every platform shares.
The entity then never looks at the raw config again.

Every entity subscribes its own topics when it is added and unsubscribes when it is
removed (``will_remove_from_host``), so discovery can remove single entities while the
entry stays loaded. Message callbacks run in the loop; the sensor's is the ingest hot
path: read the value, write the state, nothing else.

State messages are *governed*: they pass the ingress guard (schema_guard, when one is
loaded) before ``_on_state`` sees them; a refused message never reaches the entity
(see ``client.py``).

Availability: an entity is available while the broker connection is up and, if it has
availability topics, the latest availability message said ``payload_available``.

Bad payloads (not JSON, JSON nested absurdly deep, missing path, template errors,
unknown on/off payloads) are counted per entity (``bad_payloads``; also in the
integration's diagnostics) and logged once per burst (``BurstLog``); the entity keeps
its last good state.

A value template that runs over its render budget (``TemplateBudgetError``: too many
steps, too long, too large) is a bad payload too, and more: it is a fault of the
template, not of one message, and it will run over again. So the entity also carries
the error in its ``template_error`` attribute until a payload renders within budget:
the last good value stays (a value that was right is more use than "unknown", and a
host that was briefly too busy should not blank a sensor), and the attribute says why
it stopped changing. The reader pauses such a template (``ValueReader``), so a device
sending a message every millisecond cannot turn the budget into a stalled loop.
Ordinary template failures (``value_json`` undefined for a payload that is not JSON)
are about one payload and are only counted, so a device that sends the odd bad message
does not make the attribute flicker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gatehouse.core import Context, DeviceInfo, Entity, EntityDescription
from gatehouse.core.helpers import (
    BurstLog,
    OnOffPayload,
    PayloadError,
    TemplateBudgetError,
    TemplateEngine,
    ValueReader,
    ValueTemplateError,
)

from .api import MqttMessage
from .const import CONF_QOS, CONF_RETAIN, DOMAIN, PAYLOAD_OFFLINE, PAYLOAD_ONLINE

if TYPE_CHECKING:
    from .runtime import MqttRuntime

_LOGGER = logging.getLogger(__name__)

_BAD_START = (
    "%(name)s: cannot read payload on %(topic)s (%(reason)s): %(payload)r; further bad "
    "payloads are counted, not logged, until a good one arrives"
)
_BAD_END = "%(name)s: payloads readable again after %(count)d bad ones"

#: Attribute naming the budget a value template ran over (module docstring).
ATTR_TEMPLATE_ERROR = "template_error"


@dataclass(frozen=True, slots=True)
class Availability:
    """One availability topic and the words it uses."""

    topic: str
    payload_available: str = PAYLOAD_ONLINE
    payload_not_available: str = PAYLOAD_OFFLINE


@dataclass(frozen=True, slots=True)
class Command:
    """Where a switch or number sends its commands."""

    topic: str
    retain: bool = False


@dataclass(frozen=True, kw_only=True)
class MqttEntityDescription(EntityDescription):
    """The half of an MQTT entity's description every platform shares."""

    unique_id: str | None = None
    #: Topic the value arrives on (optional for switches and numbers).
    state_topic: str | None = None
    qos: int = 0
    force_update: bool = False
    device: DeviceInfo | None = None
    availability: tuple[Availability, ...] = ()
    #: How a payload becomes a value (at most one of the two; neither: the payload).
    value_template: str | None = None
    json_path: str | None = None


def device_info(raw: Mapping[str, Any] | None) -> DeviceInfo | None:
    """The ``device:`` block as a ``DeviceInfo`` (None without identifiers or name)."""
    if not raw:
        return None
    info: DeviceInfo = {}
    identifiers = raw.get("identifiers") or []
    if identifiers:
        info["identifiers"] = {(DOMAIN, str(i)) for i in identifiers}
    if raw.get("name"):
        info["name"] = str(raw["name"])
    if raw.get("manufacturer"):
        info["manufacturer"] = str(raw["manufacturer"])
    if raw.get("model"):
        info["model"] = str(raw["model"])
    if raw.get("sw_version"):
        info["sw_version"] = str(raw["sw_version"])
    if raw.get("hw_version"):
        info["hw_version"] = str(raw["hw_version"])
    if "identifiers" not in info and "name" not in info:
        return None
    if "identifiers" not in info:
        info["identifiers"] = {(DOMAIN, str(info["name"]))}
    return info


def _availability(config: Mapping[str, Any]) -> tuple[Availability, ...]:
    """``availability_topic`` (with the entity's payload words) and the ``availability``
    list, in that order."""
    found: list[Availability] = []
    if config.get("availability_topic"):
        found.append(
            Availability(
                config["availability_topic"],
                config.get("payload_available", PAYLOAD_ONLINE),
                config.get("payload_not_available", PAYLOAD_OFFLINE),
            )
        )
    for item in config.get("availability") or ():
        found.append(
            Availability(
                item["topic"],
                item.get("payload_available", PAYLOAD_ONLINE),
                item.get("payload_not_available", PAYLOAD_OFFLINE),
            )
        )
    return tuple(found)


def common_fields(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``MqttEntityDescription`` fields of a validated entity config.

    The name defaults to the state (or command) topic, as in Home Assistant, so an
    entity announced without one still gets a readable entity id.
    """
    name = config.get("name")
    if name is None:
        name = config.get("state_topic") or config.get("command_topic")
    unique_id = config.get("unique_id")
    return {
        "key": str(unique_id or name),
        "name": name,
        "unique_id": unique_id,
        "icon": config.get("icon"),
        "device_class": config.get("device_class"),
        "state_topic": config.get("state_topic") or None,
        "qos": int(config.get(CONF_QOS, 0)),
        "force_update": bool(config.get("force_update", False)),
        "device": device_info(config.get("device")),
        "availability": _availability(config),
        "value_template": config.get("value_template"),
        "json_path": config.get("json_path"),
    }


def command_of(config: Mapping[str, Any]) -> Command:
    """The command topic of a validated switch or number config."""
    return Command(config["command_topic"], bool(config.get(CONF_RETAIN, False)))


def optimistic(config: Mapping[str, Any]) -> bool:
    """Whether the state follows the command: as configured, else when there is no
    state topic to report it."""
    value = config.get("optimistic")
    if value is None:
        return not config.get("state_topic")
    return bool(value)


class MqttEntity(Entity):
    """What every MQTT entity shares (see the module docstring).

    ``engine`` is the host's template engine, needed only when the description has a
    ``value_template``. Raises ``ValueError`` if the template or path does not compile.
    """

    entity_description: MqttEntityDescription

    def __init__(
        self,
        runtime: MqttRuntime,
        description: MqttEntityDescription,
        engine: TemplateEngine | None,
        *,
        discovery_id: str | None = None,
    ) -> None:
        self._runtime = runtime
        self.entity_description = description
        self.discovery_id = discovery_id
        self._attr_unique_id = description.unique_id
        self._attr_force_update = description.force_update
        self._attr_device_info = description.device
        self._reader = ValueReader(
            engine, value_template=description.value_template, json_path=description.json_path
        )
        self._bad = BurstLog(_LOGGER, _BAD_START, _BAD_END, name=str(description.name))
        # None: no availability message yet (available only if no topics are set).
        self._topic_available: bool | None = None
        self._fast_attrs: Mapping[str, Any] | None = None
        self._undos: list[Callable[[], None]] = []
        #: The budget error of the value template, shown until a render succeeds.
        self._template_error: str | None = None

    # -- availability -------------------------------------------------------------------

    @property
    def available(self) -> bool:
        if not self._runtime.connection.connected:
            return False
        if not self.entity_description.availability:
            return True
        return bool(self._topic_available)

    def _on_availability(self, message: MqttMessage) -> None:
        payload = message.payload.decode("utf-8", "replace").strip()
        for item in self.entity_description.availability:
            topic = item.topic
            if message.topic != topic and "+" not in topic and "#" not in topic:
                continue
            if payload == item.payload_available:
                value: bool | None = True
            elif payload == item.payload_not_available:
                value = False
            else:
                continue
            if value != self._topic_available:
                self._topic_available = value
                self.write_state()
            return

    @property
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        if self._template_error is None:
            return None
        return {ATTR_TEMPLATE_ERROR: self._template_error}

    # -- writing -------------------------------------------------------------------------

    def write_state(self, *, context: Context | None = None) -> None:
        """The full write (value, availability, registry or config changes).

        Also remembers the attributes it wrote: they do not depend on the value, so
        ``_write_value`` can hand them to the state machine again as they are.
        """
        super().write_state(context=context)
        host, entity_id = self.host, self.entity_id
        current = host.states.get(entity_id) if host is not None and entity_id else None
        self._fast_attrs = current.attributes if current is not None and self.available else None

    def _write_value(self, state: Any = None) -> None:
        """Write a new value (the ingest hot path) with the cached attributes.

        ``state`` is the state to write when the caller has it at hand already (the
        sensor), else the platform's ``state`` property is asked.
        """
        attrs = self._fast_attrs
        host = self.host
        if attrs is None or host is None or self.entity_id is None:
            self.write_state()
            return
        host.states.set(
            self.entity_id, self.state if state is None else state, attrs,
            force_update=self._attr_force_update,
        )

    def connection_changed(self) -> None:
        """The broker connection went up or down: availability may have changed."""
        if self.entity_id is not None:
            self.write_state()

    # -- lifecycle ------------------------------------------------------------------------

    async def added_to_host(self) -> None:
        connection = self._runtime.connection
        description = self.entity_description
        self._bad.fields["name"] = self.entity_id or str(self.name)
        self._reader.name = f"{self.entity_id} value_template"
        for topic in {item.topic for item in description.availability}:
            self._undos.append(
                connection.subscribe(topic, self._on_availability, description.qos)
            )
        if description.state_topic:
            self._undos.append(
                connection.subscribe(description.state_topic, self._on_state, description.qos,
                                     governed=True)
            )
        self._runtime.entities.add(self)

    async def will_remove_from_host(self) -> None:
        self._runtime.entities.discard(self)
        while self._undos:
            self._undos.pop()()

    # -- values --------------------------------------------------------------------------

    def _on_state(self, message: MqttMessage) -> None:
        raise NotImplementedError

    def _reject(self, message: MqttMessage, reason: str | PayloadError) -> None:
        """Count a payload that could not be used (logged at the start of a burst); a
        value template over budget also marks the entity (module docstring)."""
        self._bad.hit(topic=message.topic, reason=str(reason), payload=message.payload[:200])
        if isinstance(reason, ValueTemplateError) and isinstance(
            reason.error, TemplateBudgetError
        ):
            text = str(reason.error)
            if text != self._template_error:
                self._template_error = text
                if self.entity_id is not None:
                    self.write_state()

    def _accepted(self) -> None:
        """A good payload after bad ones ends the burst (one line with the count) and
        clears a budget mark (the next write is a full one, without it)."""
        if self._bad.burst:
            self._bad.calm()
        if self._template_error is not None:
            self._template_error = None
            self._fast_attrs = None

    def _read_on_off(self, message: MqttMessage, words: OnOffPayload) -> bool | None:
        """The on/off state ``message`` says in ``words`` (binary sensors, switches);
        None for a bad payload (counted)."""
        try:
            is_on = words.parse(self._reader.read(message.payload, None))
        except PayloadError as err:
            self._reject(message, err)
            return None
        self._accepted()
        return is_on

    @property
    def bad_payloads(self) -> int:
        """Payloads that could not be read since the entity was made."""
        return self._bad.total

    def diagnostics(self) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "unique_id": self.unique_id,
            "discovery_id": self.discovery_id,
            "bad_payloads": self._bad.total,
            "template_error": self._template_error,
        }

    async def _send(self, command: Command, payload: str) -> None:
        """Publish a command (through the outbox when the entity's QoS is 1 or 2)."""
        await self._runtime.publish(
            command.topic, payload.encode("utf-8"), self.entity_description.qos, command.retain
        )
