"""Telemetry: selected entities' states to AWS IoT Core, through the durable outbox.

Which states: the ``telemetry`` block's ``include``/``exclude`` (the shared entity
filter; nothing is sent while both are empty, so an entry never floods a metered cloud
by default). Each state change of a selected entity is either

* ``per_entity``: one message on the topic template (``gatehouse/{thing}/{domain}/
  {object_id}``) with ``{"entity_id", "state", "last_changed"[, "attributes"]}``, or
* ``batched``: kept (the latest state per entity) and sent as one document
  ``{"thing", "ts", "states": {entity_id: {...}}}`` on ``batch_topic`` every
  ``interval`` seconds: one publish instead of hundreds, under AWS's rate quota.

Messages go into the outbox without waiting for the commit (``enqueue_nowait``: a state
listener must not block the bus) with the priority of the ``priority`` rules (alarms
leave before a backlog), and the outbox sends them once connected: buffered while
offline, replayed in order. A payload over 128 KB is never queued (counted); a batch
document is split to stay under it. The topic is stored with ``{thing}`` still in it
and the sender fills in the thing name of the connection that sends it: an appliance
that gets its thing name by fleet provisioning queues telemetry before it knows it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import anyio

from gatehouse.core import EVENT_STATE_CHANGED, ConfigEntry, Event, Host, State, StateChangedData
from gatehouse.core.helpers import (
    OutboxError,
    OutboxLink,
    entity_filter,
    priority_rules,
    tag_cipher,
)

from .const import HDR_QOS, HDR_TOPIC, MAX_PAYLOAD, THING_FIELD

_LOGGER = logging.getLogger(__name__)


def _state_json(state: State, attributes: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "entity_id": state.entity_id,
        "state": state.state,
        "last_changed": state.last_changed,
    }
    if attributes:
        body["attributes"] = dict(state.attributes)
    return body


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")


class Telemetry:
    """One entry's telemetry (see the module docstring)."""

    def __init__(self, host: Host, config: Mapping[str, Any], thing: Callable[[], str], qos: int,
                 outbox: OutboxLink, own: Collection[str] = ()) -> None:
        self._host = host
        self._thing = thing
        self._outbox = outbox
        self._headers_qos = str(qos)
        self.enabled: bool = bool(config["enabled"])
        self.mode: str = config["mode"]
        self._topic: str = config["topic"]
        self._batch_topic: str = config["batch_topic"].format(thing=THING_FIELD)
        self._interval = float(config["interval"])
        self._attributes = bool(config["attributes"])
        self._filter = entity_filter(host, config)
        self._priority = priority_rules(host, config)
        self._cipher = tag_cipher(host)
        #: The entry's own entities (queue figures, link): never sent, since each
        #: message sent would change them and send them again, for ever.
        self._own = frozenset(own)
        self._pending: dict[str, State] = {}
        self.queued = 0
        self.too_large = 0
        self.refused = 0

    def start(self, entry: ConfigEntry[Any]) -> None:
        if not self.enabled or self._filter.empty:
            return
        entry.on_unload(self._host.bus.listen(EVENT_STATE_CHANGED, self._changed))
        if self.mode == "batched":
            entry.spawn(self._batches(), "aws_iot telemetry batches")
            # What the last interval gathered is queued, not lost, at unload (this undo
            # runs before the outbox destination's, which was registered earlier).
            entry.on_unload(self.flush)

    def topic(self, entity_id: str) -> str:
        domain, _, object_id = entity_id.partition(".")
        return self._topic.format(thing=THING_FIELD, domain=domain, object_id=object_id)

    def _changed(self, event: Event[StateChangedData]) -> None:
        state = event.data["new_state"]
        if state is None or state.entity_id in self._own or not self._filter(state):
            return
        if self.mode == "batched":
            self._pending[state.entity_id] = state
            return
        self._enqueue(self.topic(state.entity_id), _dumps(_state_json(state, self._attributes)),
                      self._priority(state), state.entity_id)

    def _enqueue(self, topic: str, payload: bytes, priority: int,
                 entity_id: str | None = None) -> None:
        if len(payload) > MAX_PAYLOAD:
            self.too_large += 1
            _LOGGER.warning("AWS IoT telemetry: %s: %d bytes is over AWS's %d; not sent "
                            "(%d so far)", topic, len(payload), MAX_PAYLOAD, self.too_large)
            return
        try:
            self._outbox.enqueue_nowait(
                payload, {HDR_TOPIC: topic, HDR_QOS: self._headers_qos}, priority=priority,
                entity_id=entity_id,  # a sensitive entity's document is stored encrypted
            )
        except OutboxError as err:  # a full queue that refuses: count, never break the bus
            self.refused += 1
            _LOGGER.warning("AWS IoT telemetry: %s not queued: %s", topic, err)
            return
        self.queued += 1

    async def _batches(self) -> None:
        while True:
            await anyio.sleep(self._interval)
            self.flush()

    def flush(self) -> None:
        """Queue the gathered states as one or more documents under 128 KB each."""
        if not self._pending:
            return
        states, self._pending = list(self._pending.values()), {}
        head = {"thing": self._thing(), "ts": round(time.time(), 3)}
        cipher = self._cipher
        if cipher is not None:
            # Tag encryption: a sensitive entity's state leaves in a document of its
            # own, bound to it, so the outbox stores it encrypted (a shared document
            # has no one entity to bind the ciphertext to).
            alone = [s for s in states if cipher.is_sensitive(s.entity_id)]
            for state in alone:
                body = {state.entity_id: _state_json(state, self._attributes)}
                self._enqueue(self._batch_topic, _dumps({**head, "states": body}),
                              self._priority(state), state.entity_id)
            if alone:
                states = [s for s in states if not cipher.is_sensitive(s.entity_id)]
                if not states:
                    return
        priority = max(self._priority(s) for s in states)
        bodies = [(s.entity_id, _state_json(s, self._attributes)) for s in states]
        chunk: dict[str, Any] = {}
        size = len(_dumps({**head, "states": {}}))
        for entity_id, body in bodies:
            item = len(_dumps({entity_id: body}))
            if chunk and size + item > MAX_PAYLOAD:
                self._enqueue(self._batch_topic, _dumps({**head, "states": chunk}), priority)
                chunk, size = {}, len(_dumps({**head, "states": {}}))
            chunk[entity_id] = body
            size += item
        self._enqueue(self._batch_topic, _dumps({**head, "states": chunk}), priority)

    def diagnostics(self) -> dict[str, Any]:
        return {"mode": self.mode, "queued": self.queued, "too_large": self.too_large,
                "refused": self.refused, "selects_nothing": self._filter.empty}
