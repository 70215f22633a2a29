"""A JetStream KV bucket that mirrors the current state of selected entities.

Keys are entity ids (``sensor.kitchen_temperature``: every character is valid in a KV
key), values the JSON state. A KV bucket holds *current* values, so this does not go
through the outbox: a burst of changes to one entity is coalesced into one write of
the newest state, and while NATS is unreachable the mirror keeps only the newest state
per entity and writes it once the connection is back — no backlog to replay.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import anyio
import nats.errors
import nats.js.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.kv import KeyValue

from gatehouse.core import (
    EVENT_STATE_CHANGED,
    ConfigEntry,
    ConfigEntryError,
    ConfigEntryNotReady,
    Event,
    Host,
    State,
    StateChangedData,
)
from gatehouse.core.helpers import EntityFilter, TagCipher, entity_filter, tag_cipher

from .client import NatsClient

_LOGGER = logging.getLogger(__name__)

_CHUNK = 64  # concurrent puts per round
_MAX_RETRY_DELAY = 10.0


class EntitySelection:
    """Which entities the KV mirror and the fleet forward: the house's entity filter
    (``include``/``exclude`` mappings, Home Assistant's precedence).

    The older form, ``include``/``exclude`` as lists of entity id globs, keeps its
    meaning: a state passes if any include glob matches and no exclude glob does (under
    Home Assistant's rules an included glob would beat an excluded one).
    """

    def __init__(self, host: Host, spec: Mapping[str, Any]) -> None:
        include, exclude = spec.get("include"), spec.get("exclude")
        self._filter: EntityFilter | None = None
        self._legacy: tuple[EntityFilter | None, EntityFilter | None] | None = None
        if isinstance(include, list) or isinstance(exclude, list):
            # An empty list selects nothing here (an empty filter would select all).
            globs = include if isinstance(include, list) else ["*"]
            left = exclude if isinstance(exclude, list) else []
            self._legacy = (
                EntityFilter(None, {"include": {"entity_globs": globs}}) if globs else None,
                EntityFilter(None, {"include": {"entity_globs": left}}) if left else None,
            )
        else:
            self._filter = entity_filter(host, spec)

    def selects(self, entity_id: str) -> bool:
        """The (cached) choice by entity id, device and area."""
        if self._legacy is not None:
            taken, left = self._legacy
            return (
                taken is not None
                and taken.selects(entity_id)
                and not (left is not None and left.selects(entity_id))
            )
        assert self._filter is not None
        return self._filter.selects(entity_id)

    def __call__(self, state: State) -> bool:
        """The choice for this state (attribute conditions included)."""
        if self._filter is not None:
            return self._filter(state)
        return self.selects(state.entity_id)


def state_document(state: State, cipher: TagCipher | None = None) -> dict[str, Any]:
    """The JSON shape of a state in the KV bucket and on fleet subjects.

    For a sensitive entity of a ``cipher`` with ``publish: true``, ``state`` and
    ``attributes`` are envelopes (README "Tag encryption"); the attributes' one binds
    ``<entity_id>/attributes`` so it cannot pass for the state.
    """
    document: dict[str, Any] = {
        "entity_id": state.entity_id,
        "state": state.state,
        "attributes": dict(state.attributes),
        "last_changed": state.last_changed,
        "last_updated": state.last_updated,
    }
    if cipher is not None and cipher.publish and cipher.is_sensitive(state.entity_id):
        entity_id = state.entity_id
        document["state"] = cipher.encrypt(entity_id, state.state.encode())
        attributes = json.dumps(document["attributes"], default=str).encode()
        document["attributes"] = cipher.encrypt(f"{entity_id}/attributes", attributes)
    return document


def encode(document: Mapping[str, Any]) -> bytes:
    """Compact JSON; values JSON cannot hold (datetimes) become strings."""
    return json.dumps(document, separators=(",", ":"), default=str).encode()


class KvMirror:
    """Keeps ``bucket`` equal to the states of the entities the globs select."""

    def __init__(self, host: Host, client: NatsClient, spec: Mapping[str, Any]) -> None:
        self._host = host
        self._client = client
        self._spec = spec
        self.selection = EntitySelection(host, spec)
        self._cipher = tag_cipher(host)
        self._pending: dict[str, State | None] = {}
        self._wake = anyio.Event()
        self.writes = 0
        self.failures = 0

    async def start(self, entry: ConfigEntry[Any]) -> None:
        """Open (or create) the bucket, queue every selected state, follow changes."""
        kv = await self._bucket()
        for state in self._host.states.all():
            if self.selection(state):
                self._pending[state.entity_id] = state
        entry.on_unload(
            self._host.bus.listen(
                EVENT_STATE_CHANGED, self._changed,
                lambda data: self.selection.selects(data["entity_id"]),
            )
        )
        entry.spawn(self._writer(kv), f"nats kv mirror {self._spec['bucket']}")

    async def _bucket(self) -> KeyValue:
        spec = self._spec
        config = KeyValueConfig(
            bucket=spec["bucket"],
            history=int(spec["history"]),
            replicas=int(spec["replicas"]),
            storage=StorageType(spec["storage"]),
        )
        js = self._client.js
        try:
            try:
                return await js.create_key_value(config)
            except nats.js.errors.BadRequestError:
                return await js.key_value(spec["bucket"])  # exists with other settings
        except nats.js.errors.APIError as err:
            if err.code is not None and 400 <= err.code < 500:
                raise ConfigEntryError(f"KV bucket {spec['bucket']}: {err.description}") from err
            raise ConfigEntryNotReady(f"KV bucket {spec['bucket']}: {err.description}") from err
        except (TimeoutError, nats.errors.Error) as err:
            raise ConfigEntryNotReady(f"KV bucket {spec['bucket']}: {err}") from err

    def _changed(self, event: Event[StateChangedData]) -> None:
        new_state = event.data["new_state"]
        if new_state is not None and not self.selection(new_state):
            return  # fails an attribute condition: the bucket keeps the last state that passed
        self._pending[event.data["entity_id"]] = new_state
        self._wake.set()

    async def _writer(self, kv: KeyValue) -> None:
        failures = 0
        while True:
            self._wake = anyio.Event()
            if not self._pending:
                await self._wake.wait()
                continue
            if not self._client.nc.is_connected:
                await anyio.sleep(0.2)
                continue
            pending, self._pending = self._pending, {}
            items = list(pending.items())
            failed: list[tuple[str, State | None]] = []
            for start in range(0, len(items), _CHUNK):
                chunk = items[start : start + _CHUNK]
                results = await asyncio.gather(
                    *(self._write(kv, key, state) for key, state in chunk)
                )
                failed.extend(item for item, ok in zip(chunk, results, strict=True) if not ok)
            for key, state in failed:
                self._pending.setdefault(key, state)  # a newer state queued meanwhile wins
            if failed:
                failures += 1
                self.failures += len(failed)
                await anyio.sleep(min(_MAX_RETRY_DELAY, 0.2 * 2**failures))
            else:
                failures = 0

    async def _write(self, kv: KeyValue, key: str, state: State | None) -> bool:
        try:
            if state is None:
                await kv.delete(key)
            else:
                await kv.put(key, encode(state_document(state, self._cipher)))
        except (TimeoutError, nats.errors.Error) as err:
            _LOGGER.debug("KV mirror: writing %s failed: %s", key, err)
            return False
        self.writes += 1
        return True

    def diagnostics(self) -> dict[str, Any]:
        return {
            "bucket": self._spec["bucket"],
            "pending": len(self._pending),
            "writes": self.writes,
            "failures": self.failures,
        }
