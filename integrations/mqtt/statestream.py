"""Statestream: publish every state change of the host to MQTT.

Like Home Assistant's ``mqtt_statestream``: the state of ``sensor.kitchen`` goes to
``<base_topic>/sensor/kitchen/state`` (the entity id with ``.`` as a topic level), and,
with ``publish_attributes``, its attributes as one JSON object to
``<base_topic>/sensor/kitchen/attributes``. ``include``/``exclude`` select entities by
``domains``, ``entities`` and ``entity_globs`` (fnmatch): with an include list only
included entities are published, exclusions always win. Decisions are cached per
entity id, since the listener runs for every state change of the host.

All included states are published again on every (re)connect, so retained topics are
fresh after a broker restart. QoS 0 goes straight to paho (dropped while disconnected);
QoS 1/2 through the outbox without waiting for its commit (``publish_nowait``).
"""

from __future__ import annotations

import fnmatch
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gatehouse.core import EVENT_STATE_CHANGED, ConfigEntry, Event, Host, State, StateChangedData

from .const import CONF_QOS, CONF_RETAIN, DEFAULT_STATESTREAM_BASE_TOPIC

if TYPE_CHECKING:
    from .runtime import MqttRuntime

_LOGGER = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "base_topic": DEFAULT_STATESTREAM_BASE_TOPIC,
    "publish_attributes": True,
    CONF_QOS: 0,
    CONF_RETAIN: True,
    "include": {"domains": [], "entities": [], "entity_globs": []},
    "exclude": {"domains": [], "entities": [], "entity_globs": []},
}


class EntityFilter:
    """include/exclude by domain, entity id and glob (see the module docstring)."""

    def __init__(self, include: Mapping[str, Any], exclude: Mapping[str, Any]) -> None:
        self._include = _Selector(include)
        self._exclude = _Selector(exclude)
        self._cache: dict[str, bool] = {}

    def __call__(self, entity_id: str) -> bool:
        decision = self._cache.get(entity_id)
        if decision is None:
            decision = self._cache[entity_id] = self._decide(entity_id)
        return decision

    def _decide(self, entity_id: str) -> bool:
        if self._exclude.matches(entity_id):
            return False
        return self._include.empty or self._include.matches(entity_id)


class _Selector:
    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.domains = frozenset(raw.get("domains") or ())
        self.entities = frozenset(raw.get("entities") or ())
        self.globs = tuple(raw.get("entity_globs") or ())
        self.empty = not (self.domains or self.entities or self.globs)

    def matches(self, entity_id: str) -> bool:
        return (
            entity_id in self.entities
            or entity_id.partition(".")[0] in self.domains
            or any(fnmatch.fnmatchcase(entity_id, glob) for glob in self.globs)
        )


class StateStream:
    """Publishes state changes for one mqtt entry (see the module docstring)."""

    def __init__(
        self,
        host: Host,
        entry: ConfigEntry[Any],
        runtime: MqttRuntime,
        settings: Mapping[str, Any] | None,
    ) -> None:
        merged = {**DEFAULTS, **(settings or {})}
        self._host = host
        self._entry = entry
        self._runtime = runtime
        self.base_topic: str = str(merged["base_topic"]).rstrip("/")
        self.publish_attributes = bool(merged["publish_attributes"])
        self._qos = int(merged[CONF_QOS])
        self._retain = bool(merged[CONF_RETAIN])
        self.included = EntityFilter(merged["include"], merged["exclude"])
        self.published = 0

    def start(self) -> None:
        entry, runtime = self._entry, self._runtime
        entry.on_unload(self._host.bus.listen(EVENT_STATE_CHANGED, self._state_changed))
        entry.on_unload(runtime.connection.add_listener(self._connection_changed))
        if runtime.connected:
            self.publish_all()

    def topic_base(self, entity_id: str) -> str:
        domain, _, object_id = entity_id.partition(".")
        return f"{self.base_topic}/{domain}/{object_id}"

    def _state_changed(self, event: Event[StateChangedData]) -> None:
        new_state = event.data["new_state"]
        if new_state is not None and self.included(new_state.entity_id):
            self._publish(new_state)

    def _connection_changed(self, connected: bool) -> None:
        if connected:
            self.publish_all()

    def publish_all(self) -> None:
        for state in self._host.states.all():
            if self.included(state.entity_id):
                self._publish(state)

    def _publish(self, state: State) -> None:
        base = self.topic_base(state.entity_id)
        publish = self._runtime.publish_nowait
        try:
            publish(f"{base}/state", state.state.encode("utf-8"), self._qos, self._retain)
            if self.publish_attributes:
                attributes = json.dumps(dict(state.attributes), default=str).encode("utf-8")
                publish(f"{base}/attributes", attributes, self._qos, self._retain)
        except Exception as err:  # noqa: BLE001 - a full outbox must not break the bus
            _LOGGER.warning("Statestream could not publish %s: %s", state.entity_id, err)
            return
        self.published += 1

    def diagnostics(self) -> dict[str, Any]:
        return {"base_topic": self.base_topic, "states_published": self.published}
