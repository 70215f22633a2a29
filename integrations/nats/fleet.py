"""The fleet bridge: share state changes and events between the hosts of a site.

Each host publishes what happens on it to ``gatehouse.<site>.<host>.state.<entity_id>``
and ``gatehouse.<site>.<host>.event.<event_type>``; one JetStream stream per site
(``GATEHOUSE_<SITE>``, declared by every host, replicated as configured) stores it all.

* **Out**: state changes and the selected bus events are enqueued in the host's
  outbox, never published directly. The outbox holds them on disk while NATS is
  unreachable and delivers them in order through the entry's ``JetStreamSender``
  (atomic batches), so a broker outage or a node failing over costs latency, not data.
* **In**: a durable pull consumer per host reads the site's stream and turns the other
  hosts' states into read-only remote entities (``sensor.remote_<host>_<object_id>``)
  whose attributes name the origin; their events are re-fired here as
  ``nats_fleet_event``. The stream sequence of the last applied message is kept per
  remote entity, so a redelivered older message never moves an entity back in time.

Remote entities are never forwarded again, so two hosts cannot echo each other.

Forwarding starts with the entry (``start_forwarding``), connected or not: the outbox
keeps what happens while NATS is unreachable, even at boot. Importing needs the server
(``start_import``, once connected).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from nats.js.api import StorageType, StreamConfig

from gatehouse.core import (
    EVENT_STATE_CHANGED,
    ConfigEntry,
    Event,
    GatehouseError,
    Host,
    StateChangedData,
)
from gatehouse.core.helpers import (
    DecryptError,
    KeyMissingError,
    OutboxLink,
    PayloadError,
    decrypting_cipher,
    payload_json,
    slugify,
    tag_cipher,
)

from .binary_sensor import RemoteBinarySensor
from .client import NatsClient
from .const import EVENT_FLEET_EVENT, HDR_STREAM, HDR_SUBJECT
from .consumer import ConsumerSpec, Delivery, DurableConsumer, MalformedListener
from .kv import EntitySelection, encode, state_document
from .sensor import RemoteSensor

_LOGGER = logging.getLogger(__name__)

SUBJECT_ROOT = "gatehouse"


RemoteEntity = RemoteSensor | RemoteBinarySensor


def fleet_stream_name(site: str) -> str:
    return f"GATEHOUSE_{site.upper().replace('-', '_')}"


class FleetBridge:
    """Forwards this host's states/events and imports those of the other hosts."""

    def __init__(
        self,
        host: Host,
        entry: ConfigEntry[Any],
        client: NatsClient,
        outbox: OutboxLink,
        spec: Mapping[str, Any],
        on_malformed: MalformedListener,
    ) -> None:
        self._host = host
        self._entry = entry
        self._client = client
        self._outbox = outbox
        self._spec = spec
        self._on_malformed = on_malformed
        self.site: str = spec["site"]
        self.me: str = spec["host"]
        self.stream: str = spec.get("stream") or fleet_stream_name(self.site)
        self.prefix = f"{SUBJECT_ROOT}.{self.site}.{self.me}"
        self.selection = EntitySelection(host, spec)
        self._cipher = tag_cipher(host)
        self._hosts = frozenset(spec.get("hosts") or ())
        self._remote: dict[str, RemoteEntity] = {}
        self.consumer: DurableConsumer | None = None
        self.forwarded = 0
        self.dropped = 0
        self.imported = 0

    def stream_config(self) -> StreamConfig:
        return StreamConfig(
            name=self.stream,
            subjects=[f"{SUBJECT_ROOT}.{self.site}.>"],
            num_replicas=int(self._spec["replicas"]),
            max_age=float(self._spec["max_age"]),
            storage=StorageType.FILE,
            duplicate_window=120.0,
            allow_atomic=True,
        )

    def start_forwarding(self) -> None:
        """Queue this host's state changes and selected events (connected or not)."""
        entry, bus = self._entry, self._host.bus
        if self._spec["forward_states"]:
            entry.on_unload(bus.listen(EVENT_STATE_CHANGED, self._state_changed, self._wanted))
        for event_type in self._spec["events"]:
            if event_type != EVENT_FLEET_EVENT:  # re-forwarding imports would echo
                entry.on_unload(bus.listen(event_type, self._event))

    async def start_import(self) -> None:
        """Read the other hosts' states and events (needs the server: the consumer is
        declared now)."""
        if not self._spec["import"]:
            return
        filters = tuple(f"{SUBJECT_ROOT}.{self.site}.{h}.>" for h in sorted(self._hosts))
        spec = ConsumerSpec(
            name="fleet",
            stream=self.stream,
            durable=self._spec.get("durable") or f"gatehouse_{self.site}_{self.me}",
            filter_subject=f"{SUBJECT_ROOT}.{self.site}.>",
            filter_subjects=filters,
            batch=250,
            fetch_timeout=1.0,
        )
        self.consumer = DurableConsumer(self._client, spec, self._import, self._on_malformed)
        await self.consumer.start(self._entry)

    # -- out ---------------------------------------------------------------------------

    def _wanted(self, data: Mapping[str, Any]) -> bool:
        entity_id = data["entity_id"]
        if not self.selection.selects(entity_id):
            return False
        return not isinstance(self._host.entities.get(entity_id), RemoteSensor | RemoteBinarySensor)

    def _enqueue(
        self, subject: str, document: Mapping[str, Any], entity_id: str | None = None
    ) -> None:
        try:
            self._outbox.enqueue_nowait(
                encode(document),
                headers={HDR_SUBJECT: subject, HDR_STREAM: self.stream},
                entity_id=entity_id,  # a sensitive entity's state waits encrypted
            )
        except GatehouseError as err:  # OutboxError, or a keyring that cannot encrypt
            self.dropped += 1
            if self.dropped == 1:
                _LOGGER.warning("Fleet: could not queue %s: %s", subject, err)
            return
        self.forwarded += 1

    def _state_changed(self, event: Event[StateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        new = event.data["new_state"]
        document = (
            state_document(new, self._cipher) if new is not None
            else {"entity_id": entity_id, "removed": True}
        )
        self._enqueue(f"{self.prefix}.state.{entity_id}", document, entity_id)

    def _event(self, event: Event[Any]) -> None:
        document = {
            "event_type": str(event.event_type),
            "data": dict(event.data),
            "time_fired": event.time_fired,
        }
        self._enqueue(f"{self.prefix}.event.{slugify(str(event.event_type))}", document)

    # -- in ----------------------------------------------------------------------------

    async def _import(self, msg: Delivery) -> None:
        tokens = msg.subject.split(".")
        if len(tokens) < 5 or tokens[0] != SUBJECT_ROOT or tokens[1] != self.site:
            raise PayloadError(f"not a fleet subject: {msg.subject}")
        origin, kind = tokens[2], tokens[3]
        if origin == self.me or (self._hosts and origin not in self._hosts):
            return
        document = payload_json(msg.data)
        if not isinstance(document, dict):
            raise PayloadError("payload is not a JSON object")
        if kind == "state" and len(tokens) == 6:
            await self._apply_state(origin, tokens[4], tokens[5], document, msg)
        elif kind == "event":
            self._host.bus.fire(
                EVENT_FLEET_EVENT,
                {
                    "site": self.site,
                    "host": origin,
                    "event_type": document.get("event_type"),
                    "data": document.get("data") or {},
                },
            )
        else:
            raise PayloadError(f"unknown fleet subject {msg.subject}")
        self.imported += 1

    async def _apply_state(
        self, origin: str, domain: str, object_id: str, document: dict[str, Any], msg: Delivery
    ) -> None:
        if isinstance(document.get("state"), dict):
            document = self._opened(document)
        seq = msg.seq
        unique_id = f"fleet_{self.site}_{origin}_{domain}_{object_id}"
        entity = self._remote.get(unique_id)
        if entity is not None:
            if seq and seq <= entity.last_seq:
                return  # a redelivery of something already applied
            entity.update(document)
            entity.last_seq = seq
            if entity.entity_id is not None:
                entity.write_state()
            return
        label = object_id if domain in ("sensor", "binary_sensor") else f"{domain} {object_id}"
        cls = RemoteBinarySensor if domain == "binary_sensor" else RemoteSensor
        entity = cls(
            unique_id, f"remote {origin} {label}", self.site, origin, f"{domain}.{object_id}"
        )
        entity.update(document)
        entity.last_seq = seq
        self._remote[unique_id] = entity
        await self._host.entities.add(self._entry, [entity])

    def _opened(self, document: dict[str, Any]) -> dict[str, Any]:
        """A state published encrypted (``publish: true`` on its host), decrypted with
        this host's keyring; a key this host lacks makes it a malformed message."""
        cipher = decrypting_cipher(self._host)
        try:
            state = cipher.decrypt(document["state"]).decode()
            attributes = document.get("attributes")
            if isinstance(attributes, dict) and "ct" in attributes:
                attributes = payload_json(cipher.decrypt(attributes))
        except (KeyMissingError, DecryptError, UnicodeDecodeError) as err:
            raise PayloadError(f"encrypted state: {err}") from None
        if not isinstance(attributes, dict):
            raise PayloadError("encrypted state: attributes are not a JSON object")
        return {**document, "state": state, "attributes": attributes}

    def diagnostics(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "host": self.me,
            "stream": self.stream,
            "forwarded": self.forwarded,
            "dropped": self.dropped,
            "imported": self.imported,
            "remote_entities": len(self._remote),
        }
