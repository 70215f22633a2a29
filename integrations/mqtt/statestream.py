"""Statestream: publish every state change of the host to MQTT.

Like Home Assistant's ``mqtt_statestream``: the state of ``sensor.kitchen`` goes to
``<base_topic>/sensor/kitchen/state`` (the entity id with ``.`` as a topic level), and,
with ``publish_attributes``, its attributes as one JSON object to
``<base_topic>/sensor/kitchen/attributes``. ``include``/``exclude`` are the house's
entity filter (``gatehouse.core.helpers.entity_filter``: domains, entities, globs,
devices, areas, attribute conditions, with Home Assistant's precedence); its choice by
id is cached per entity, since the listener runs for every state change of the host.
Discovery announces the entities the filter chooses by id (attribute conditions, which
change with each state, decide only what is streamed).

All included states are published again on every (re)connect, so retained topics are
fresh after a broker restart. QoS 0 goes straight to paho (dropped while disconnected);
QoS 1/2 through the outbox without waiting for its commit (``publish_nowait``).

Sensitive entities (``gatehouse: encryption:``, README "Tag encryption"): with
``publish: true`` both topics carry an envelope instead of the value (the attributes'
envelope binds ``<entity_id>/attributes``, so it cannot pass for the state); without,
the broker gets the value but QoS 1/2 messages are encrypted while they wait in the
outbox.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gatehouse.core import EVENT_STATE_CHANGED, ConfigEntry, Event, Host, State, StateChangedData
from gatehouse.core.helpers import TagCipher, entity_filter, tag_cipher

from .const import CONF_QOS, CONF_RETAIN, DEFAULT_STATESTREAM_BASE_TOPIC
from .sender import headers_for

if TYPE_CHECKING:
    from .runtime import MqttRuntime

_LOGGER = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "base_topic": DEFAULT_STATESTREAM_BASE_TOPIC,
    "publish_attributes": True,
    CONF_QOS: 0,
    CONF_RETAIN: True,
    "include": {},
    "exclude": {},
}


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
        self.included = entity_filter(host, merged)
        self._cipher = tag_cipher(host)
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
        if new_state is not None and self.included(new_state):
            self._publish(new_state)

    def _connection_changed(self, connected: bool) -> None:
        if connected:
            self.publish_all()

    def publish_all(self) -> None:
        for state in self._host.states.all():
            if self.included(state):
                self._publish(state)

    def _publish(self, state: State) -> None:
        base = self.topic_base(state.entity_id)
        publish = self._runtime.publish_nowait
        cipher = self._cipher
        try:
            if cipher is not None and cipher.is_sensitive(state.entity_id):
                self._publish_sensitive(cipher, state, base)
                self.published += 1
                return
            publish(f"{base}/state", state.state.encode("utf-8"), self._qos, self._retain)
            if self.publish_attributes:
                attributes = json.dumps(dict(state.attributes), default=str).encode("utf-8")
                publish(f"{base}/attributes", attributes, self._qos, self._retain)
        except Exception as err:  # noqa: BLE001 - a full outbox must not break the bus
            _LOGGER.warning("Statestream could not publish %s: %s", state.entity_id, err)
            return
        self.published += 1

    def _publish_sensitive(self, cipher: TagCipher, state: State, base: str) -> None:
        entity_id = state.entity_id
        parts = [(f"{base}/state", entity_id, state.state.encode("utf-8"))]
        if self.publish_attributes:
            attributes = json.dumps(dict(state.attributes), default=str).encode("utf-8")
            parts.append((f"{base}/attributes", f"{entity_id}/attributes", attributes))
        for topic, bound_to, payload in parts:
            if cipher.publish:
                self._runtime.publish_nowait(
                    topic, cipher.seal(bound_to, payload), self._qos, self._retain
                )
            elif self._qos:
                # The value goes out in clear, but never waits on disk in clear.
                self._runtime.outbox.enqueue_nowait(
                    payload, headers_for(topic, self._qos, self._retain), entity_id=entity_id
                )
            else:
                self._runtime.publish_nowait(topic, payload, 0, self._retain)

    def diagnostics(self) -> dict[str, Any]:
        return {"base_topic": self.base_topic, "states_published": self.published}
