"""MQTT entities: sensor, binary_sensor, switch and number, from YAML or discovery.

Every entity subscribes its own topics when it is added and unsubscribes when it is
removed (``will_remove_from_host``), so discovery can remove single entities while the
entry stays loaded. Message callbacks run in the loop; the sensor's is the ingest hot
path: read the value, write the state, nothing else.

Availability: an entity is available while the broker connection is up and, if it has
availability topics, the latest availability message said ``payload_available``.

Bad payloads (not JSON, missing path, template errors, unknown on/off payloads) are
counted per entity (``bad_payloads``; also in the integration's diagnostics) and logged
once per burst; the entity keeps its last good state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from gatehouse.core import (
    BinarySensorEntity,
    Context,
    DeviceInfo,
    Entity,
    NumberEntity,
    SensorEntity,
    SwitchEntity,
)
from gatehouse.core.template import TemplateEngine

from .api import MqttMessage
from .const import DOMAIN
from .values import BadPayload, BurstLog, ValueReader

if TYPE_CHECKING:
    from .runtime import EntryRuntime

_LOGGER = logging.getLogger(__name__)


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


class MqttEntity(Entity):
    """What every MQTT entity shares: topics, availability, bad payload accounting."""

    platform_domain: ClassVar[str] = ""

    def __init__(
        self,
        runtime: EntryRuntime,
        config: Mapping[str, Any],
        engine: TemplateEngine | None,
        *,
        discovery_id: str | None = None,
    ) -> None:
        self._runtime = runtime
        self._config = config
        self.discovery_id = discovery_id
        self._attr_unique_id = config.get("unique_id")
        name = config.get("name")
        if name is None:
            name = config.get("state_topic") or config.get("command_topic")
        self._attr_name = name
        self._attr_icon = config.get("icon")
        self._attr_device_class = config.get("device_class")
        self._attr_force_update = bool(config.get("force_update", False))
        self._attr_device_info = device_info(config.get("device"))
        self._qos = int(config.get("qos", 0))
        self._reader = ValueReader(engine, config.get("value_template"), config.get("json_path"))
        self._bad = BurstLog(_LOGGER, str(name))
        self._availability: list[tuple[str, str, str]] = []
        if config.get("availability_topic"):
            self._availability.append(
                (
                    config["availability_topic"],
                    config.get("payload_available", "online"),
                    config.get("payload_not_available", "offline"),
                )
            )
        for item in config.get("availability") or ():
            self._availability.append(
                (
                    item["topic"],
                    item.get("payload_available", "online"),
                    item.get("payload_not_available", "offline"),
                )
            )
        # None: no availability message yet (available only if no topics are set).
        self._topic_available: bool | None = None
        self._fast_attrs: Mapping[str, Any] | None = None
        self._undos: list[Callable[[], None]] = []

    # -- availability -------------------------------------------------------------------

    @property
    def available(self) -> bool:
        if not self._runtime.connection.connected:
            return False
        if not self._availability:
            return True
        return bool(self._topic_available)

    def _on_availability(self, message: MqttMessage) -> None:
        payload = message.payload.decode("utf-8", "replace").strip()
        for topic, online, offline in self._availability:
            if message.topic != topic and "+" not in topic and "#" not in topic:
                continue
            if payload == online:
                value: bool | None = True
            elif payload == offline:
                value = False
            else:
                continue
            if value != self._topic_available:
                self._topic_available = value
                self.write_state()
            return

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
        self._bad.rename(self.entity_id or str(self.name))
        for topic in {t for t, _, _ in self._availability}:
            self._undos.append(connection.subscribe(topic, self._on_availability, self._qos))
        state_topic = self._config.get("state_topic")
        if state_topic:
            self._undos.append(connection.subscribe(state_topic, self._on_state, self._qos))
        self._runtime.entities.add(self)

    async def will_remove_from_host(self) -> None:
        self._runtime.entities.discard(self)
        while self._undos:
            self._undos.pop()()

    # -- values --------------------------------------------------------------------------

    def _on_state(self, message: MqttMessage) -> None:
        raise NotImplementedError

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
        }

    async def _publish(self, payload: str) -> None:
        await self._runtime.publish(
            self._config["command_topic"], payload.encode("utf-8"), self._qos,
            bool(self._config.get("retain", False)),
        )

    @property
    def _optimistic(self) -> bool:
        optimistic = self._config.get("optimistic")
        if optimistic is None:
            return not self._config.get("state_topic")
        return bool(optimistic)


class MqttSensor(MqttEntity, SensorEntity):
    platform_domain: ClassVar[str] = "sensor"

    def __init__(
        self,
        runtime: EntryRuntime,
        config: Mapping[str, Any],
        engine: TemplateEngine | None,
        *,
        discovery_id: str | None = None,
    ) -> None:
        super().__init__(runtime, config, engine, discovery_id=discovery_id)
        self._attr_native_unit_of_measurement = config.get("unit_of_measurement")
        self._attr_state_class = config.get("state_class")
        self._attr_suggested_display_precision = config.get("suggested_display_precision")
        self._precision = self._attr_suggested_display_precision

    def _on_state(self, message: MqttMessage) -> None:
        try:
            value = self._reader.read(message.payload)
        except BadPayload as err:
            self._bad.hit(str(err), message.topic, message.payload)
            return
        cls = value.__class__
        if cls is not float and cls is not int:
            if cls is str:
                if len(value) > 255:
                    self._bad.hit("value longer than 255 characters", message.topic,
                                  message.payload)
                    return
                if not value:
                    value = None
            elif cls is bool:
                value = "on" if value else "off"
            elif value is not None:
                self._bad.hit("value is not a string or number", message.topic, message.payload)
                return
        if self._bad.burst:
            self._bad.calm()
        self._attr_native_value = value
        if value is None or self._precision is not None:
            self._write_value()
        else:
            self._write_value(value)


class MqttBinarySensor(MqttEntity, BinarySensorEntity):
    platform_domain: ClassVar[str] = "binary_sensor"

    def _on_state(self, message: MqttMessage) -> None:
        try:
            value = self._reader.read(message.payload)
        except BadPayload as err:
            self._bad.hit(str(err), message.topic, message.payload)
            return
        if value is True or value is False:
            is_on = value
        elif str(value) == self._config["payload_on"]:
            is_on = True
        elif str(value) == self._config["payload_off"]:
            is_on = False
        else:
            self._bad.hit(
                f"{value!r} is neither payload_on nor payload_off", message.topic, message.payload
            )
            return
        if self._bad.burst:
            self._bad.calm()
        self._attr_is_on = is_on
        self._write_value()


class MqttSwitch(MqttEntity, SwitchEntity):
    platform_domain: ClassVar[str] = "switch"

    def _on_state(self, message: MqttMessage) -> None:
        try:
            value = self._reader.read(message.payload)
        except BadPayload as err:
            self._bad.hit(str(err), message.topic, message.payload)
            return
        config = self._config
        text = str(value)
        if value is True or text == config.get("state_on", config["payload_on"]):
            is_on = True
        elif value is False or text == config.get("state_off", config["payload_off"]):
            is_on = False
        else:
            self._bad.hit(f"{value!r} is neither state_on nor state_off", message.topic,
                          message.payload)
            return
        if self._bad.burst:
            self._bad.calm()
        self._attr_is_on = is_on
        self._write_value()

    async def turn_on(self) -> None:
        await self._publish(self._config["payload_on"])
        if self._optimistic:
            self._attr_is_on = True
            self.write_state()

    async def turn_off(self) -> None:
        await self._publish(self._config["payload_off"])
        if self._optimistic:
            self._attr_is_on = False
            self.write_state()


class MqttNumber(MqttEntity, NumberEntity):
    platform_domain: ClassVar[str] = "number"

    def __init__(
        self,
        runtime: EntryRuntime,
        config: Mapping[str, Any],
        engine: TemplateEngine | None,
        *,
        discovery_id: str | None = None,
    ) -> None:
        super().__init__(runtime, config, engine, discovery_id=discovery_id)
        self._attr_native_min_value = float(config.get("min", 1.0))
        self._attr_native_max_value = float(config.get("max", 100.0))
        self._attr_native_step = float(config.get("step", 1.0))
        self._attr_mode = str(config.get("mode", "auto"))
        self._attr_native_unit_of_measurement = config.get("unit_of_measurement")

    def _on_state(self, message: MqttMessage) -> None:
        try:
            value = float(self._reader.read(message.payload))
        except BadPayload as err:
            self._bad.hit(str(err), message.topic, message.payload)
            return
        except (TypeError, ValueError):
            self._bad.hit("not a number", message.topic, message.payload)
            return
        if self._bad.burst:
            self._bad.calm()
        self._attr_native_value = value
        self._write_value()

    async def set_native_value(self, value: float) -> None:
        integral = value.is_integer() and self.step.is_integer()
        await self._publish(str(int(value)) if integral else str(value))
        if self._optimistic:
            self._attr_native_value = value
            self.write_state()


PLATFORM_CLASSES: dict[str, type[MqttEntity]] = {
    "sensor": MqttSensor,
    "binary_sensor": MqttBinarySensor,
    "switch": MqttSwitch,
    "number": MqttNumber,
}
