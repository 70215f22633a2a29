"""Registry entries as Home Assistant's WebSocket lists show them, each encoded once.

With 10,000 entities, ``config/entity_registry/list`` was 4.8 MB of JSON made anew for
every page load (about 60 ms of the event loop each time), though entries rarely change.
Registry entries (``RegistryEntry``, ``DeviceEntry``) are frozen: an update replaces the
object. So, as ``jsoncache`` does for states, one piece of JSON is kept per entry and
is valid only while the registry still holds the very object it was made from (``is``):
there is no invalidation to forget, and a renamed, updated or removed entry simply
misses. A list is the cached pieces joined.

Permissions are not cached: every list still walks the registry and picks the entries
the user may read (``Permissions.can_read``); only the bytes of one entry are shared,
and those depend on nothing but the entry. Records of entries that left the registry
are dropped once the cache has grown a little past the registry (``PieceCache.prune``).

The shapes are HA's (2024/2025): ``entity_partial`` for ``config/entity_registry/list``,
``entity_display`` for ``config/entity_registry/list_for_display`` (the compact form
HA's own frontend loads at start: short keys, absent fields left out) and
``device_dict`` for ``config/device_registry/list``; and the entries' own ``as_dict``
for the REST lists the entities page reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import fields
from json.encoder import encode_basestring
from typing import Any, Final, Generic, TypeVar

from ..device_registry import DeviceEntry
from ..entity_registry import RegistryEntry
from .jsonutil import dumpb_fast

#: A JSON string literal, as the house's encoder writes it (non-ASCII kept as is).
_string: Callable[[str], str] = encode_basestring

E = TypeVar("E")

#: Records kept beyond the registry's size before they are pruned.
_SLACK: Final = 64


def entity_uuid(entry: RegistryEntry) -> str:
    """A stable id in HA's ``id`` field (HA keeps a uuid; ours is derived)."""
    key = f"{entry.platform}\0{entry.domain}\0{entry.unique_id}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def entity_partial(entry: RegistryEntry) -> dict[str, Any]:
    """An entity registry entry as HA's ``config/entity_registry/list`` gives it."""
    return {
        "area_id": entry.area_id,
        "categories": {},
        "config_entry_id": entry.config_entry_id,
        "created_at": entry.created_at,
        "device_id": entry.device_id,
        "disabled_by": entry.disabled_by,
        "entity_category": None,
        "entity_id": entry.entity_id,
        "has_entity_name": False,
        "hidden_by": None,
        "icon": None,
        "id": entity_uuid(entry),
        "labels": [],
        "modified_at": entry.created_at,
        "name": entry.name,
        "options": {},
        "original_name": entry.original_name,
        "platform": entry.platform,
        "translation_key": None,
        "unique_id": entry.unique_id,
    }


def entity_display(entry: RegistryEntry) -> dict[str, Any]:
    """HA's display form: ``ei`` entity id, ``pl`` platform, ``lb`` labels, and only if
    set ``di`` device, ``ai`` area, ``en`` name (the user's, else the integration's)."""
    out: dict[str, Any] = {"ei": entry.entity_id, "pl": entry.platform, "lb": []}
    if entry.device_id is not None:
        out["di"] = entry.device_id
    if entry.area_id is not None:
        out["ai"] = entry.area_id
    name = entry.name or entry.original_name
    if name is not None:
        out["en"] = name
    return out


def device_dict(device: DeviceEntry) -> dict[str, Any]:
    """A device as HA's ``config/device_registry/list`` gives it."""
    entries = sorted(device.config_entries)
    return {
        "area_id": device.area_id,
        "config_entries": entries,
        "config_entries_subentries": {e: [None] for e in entries},
        "configuration_url": None,
        "connections": [],
        "created_at": device.created_at,
        "disabled_by": device.disabled_by,
        "entry_type": None,
        "hw_version": device.hw_version,
        "id": device.id,
        "identifiers": sorted([list(i) for i in device.identifiers]),
        "labels": [],
        "manufacturer": device.manufacturer,
        "model": device.model,
        "model_id": None,
        "modified_at": device.created_at,
        "name_by_user": device.name_by_user,
        "name": device.name,
        "primary_config_entry": entries[0] if entries else None,
        "serial_number": None,
        "sw_version": device.sw_version,
        "via_device_id": device.via_device_id,
    }


#: ``RegistryEntry``'s fields, in order (what ``as_dict`` gives).
_ENTRY_FIELDS: Final = tuple(f.name for f in fields(RegistryEntry))


def entity_stored(entry: RegistryEntry) -> dict[str, Any]:
    """``entry.as_dict()`` without ``dataclasses.asdict``'s deep copy (its fields are
    plain values), which was three quarters of a cold REST list of 10,000 entries."""
    return {name: getattr(entry, name) for name in _ENTRY_FIELDS}


def entity_display_json(entry: RegistryEntry) -> bytes:
    """``entity_display`` as JSON, written directly: every field is a string, and the
    generic encoder's set-up per call was most of a cold list (10,000 entries)."""
    parts = ['{"ei":', _string(entry.entity_id), ',"pl":', _string(entry.platform), ',"lb":[]']
    if entry.device_id is not None:
        parts += (',"di":', _string(entry.device_id))
    if entry.area_id is not None:
        parts += (',"ai":', _string(entry.area_id))
    name = entry.name or entry.original_name
    if name is not None:
        parts += (',"en":', _string(name))
    parts.append("}")
    return "".join(parts).encode("utf-8")


class PieceCache(Generic[E]):
    """One JSON piece per registry entry, by key, valid while the entry is the same
    object; ``current(key)`` is what the registry holds under that key now."""

    def __init__(
        self, encode: Callable[[E], bytes], current: Callable[[str], E | None]
    ) -> None:
        self._encode = encode
        self._current = current
        self._pieces: dict[str, tuple[E, bytes]] = {}
        #: How many pieces were actually encoded (tests and benchmarks read it).
        self.encodings = 0

    def __len__(self) -> int:
        return len(self._pieces)

    def piece(self, key: str, entry: E) -> bytes:
        """The JSON of ``entry`` (encoded now unless cached for this very object)."""
        hit = self._pieces.get(key)
        if hit is not None and hit[0] is entry:
            return hit[1]
        encoded = self._encode(entry)
        self.encodings += 1
        self._pieces[key] = (entry, encoded)
        return encoded

    def array(self, keyed: Iterable[tuple[str, E]], registry_size: int) -> bytes:
        """A JSON array of the pieces of the ``(key, entry)`` pairs, in their order;
        ``registry_size``: how many entries the registry has (for pruning)."""
        body = b",".join([self.piece(key, entry) for key, entry in keyed])
        if len(self._pieces) > registry_size + _SLACK:
            self.prune()
        return b"[" + body + b"]"

    def prune(self) -> None:
        """Drop the records of entries the registry no longer holds under their key."""
        current = self._current
        self._pieces = {
            key: record for key, record in self._pieces.items() if current(key) is record[0]
        }


class RegistryJson:
    """The cached pieces of one host's registry lists (one per HTTP runtime)."""

    def __init__(
        self,
        entity: Callable[[str], RegistryEntry | None],
        device: Callable[[str], DeviceEntry | None],
    ) -> None:
        self.entity_partial: PieceCache[RegistryEntry] = PieceCache(
            lambda e: dumpb_fast(entity_partial(e)), entity)
        self.entity_display: PieceCache[RegistryEntry] = PieceCache(entity_display_json, entity)
        self.device: PieceCache[DeviceEntry] = PieceCache(
            lambda d: dumpb_fast(device_dict(d)), device)
        #: The REST lists' shapes (``GET /api/config/entity_registry``, ``device_registry``:
        #: the entries as stored), for the entities page.
        self.entity_stored: PieceCache[RegistryEntry] = PieceCache(
            lambda e: dumpb_fast(entity_stored(e)), entity)
        self.device_stored: PieceCache[DeviceEntry] = PieceCache(
            lambda d: dumpb_fast(d.as_dict()), device)
