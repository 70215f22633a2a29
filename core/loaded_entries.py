"""The live objects of one integration's loaded entries, and its domain-wide services.

Most integrations need the same three things: find the runtime object of a loaded entry
(from a service handler, diagnostics), register their domain's services once however many
entries are loaded, and drop both again when the last entry unloads. ``LoadedEntries``
does it once, correctly across reloads, instead of every integration keeping its own
dict in ``host.data`` and its own reference count::

    LOADED: LoadedEntries[MyRuntime] = LoadedEntries("mydevice", register_services)

    async def setup_entry(self, host, entry):
        ...
        LOADED.add(host, entry, runtime)       # removed again on unload

    async def handler(call):
        runtime = LOADED.pick(host, call, call.data.get("entry_id"))

A person calling a domain service should not have to know entry ids: with
``LoadedEntries.TARGET_FIELDS`` in its schema (HA's ``target``: ``entity_id``) and
``target: entity: integration: <domain>`` in services.yaml, ``pick`` finds the entry from
the entity the call targets when no ``entry_id`` is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import voluptuous as vol

from .exceptions import ServiceValidationError
from .keys import HostKey
from .permissions import target_entities
from .platforms._service import entity_ids

if TYPE_CHECKING:
    from .bus import Unsubscribe
    from .config_entries import ConfigEntry
    from .host import Host
    from .services import ServiceCall

T = TypeVar("T")

#: Registers a domain's services on ``host`` and returns their undos.
ServicesFactory = Callable[["Host"], Iterable["Unsubscribe"]]


@dataclass
class _DomainState(Generic[T]):
    runtimes: dict[str, T] = field(default_factory=dict)
    undos: list[Unsubscribe] = field(default_factory=list)


class LoadedEntries(Generic[T]):
    """Runtime objects of ``domain``'s loaded entries, by entry id, per host."""

    #: Schema fields of a domain service that may be aimed at an entity instead of an
    #: entry: HA's ``target`` arrives as ``entity_id`` (one, a comma list or a list).
    TARGET_FIELDS: ClassVar[dict[Any, Any]] = {vol.Optional("entity_id"): entity_ids}

    def __init__(self, domain: str, register_services: ServicesFactory | None = None) -> None:
        self.domain = domain
        self._register_services = register_services
        self._key: HostKey[_DomainState[T]] = HostKey(f"{domain}.loaded_entries")

    def add(self, host: Host, entry: ConfigEntry[Any], runtime: T) -> None:
        """Make ``runtime`` reachable; the first entry registers the domain's services.

        Undone by the entry's unload: the runtime goes, and with the last entry the
        services go too.
        """
        state = host.data.setdefault(self._key, _DomainState())
        if not state.runtimes:
            state.undos = self.register_services(host)
        state.runtimes[entry.entry_id] = runtime
        entry.on_unload(lambda: self._remove(host, entry.entry_id))

    def register_services(self, host: Host) -> list[Unsubscribe]:
        """Register the domain's services on ``host`` now; returns their undos.

        ``add`` does this with the first entry; the layout check calls it directly to
        compare what is registered with ``services.yaml``.
        """
        return list(self._register_services(host)) if self._register_services else []

    def _remove(self, host: Host, entry_id: str) -> None:
        state = host.data.get(self._key)
        if state is None:
            return
        state.runtimes.pop(entry_id, None)
        if not state.runtimes:
            for undo in reversed(state.undos):
                undo()
            host.data.pop(self._key)

    def runtimes(self, host: Host) -> dict[str, T]:
        """Loaded runtimes by entry id (a copy)."""
        state = host.data.get(self._key)
        return dict(state.runtimes) if state is not None else {}

    def pick(
        self,
        host: Host,
        call: ServiceCall,
        wanted: str | None,
        matches: Callable[[str, T, str], bool] | None = None,
        *,
        param: str = "entry_id",
    ) -> T:
        """The runtime a service call is about.

        ``wanted`` (an entry id, or anything ``matches(entry_id, runtime, wanted)``
        accepts, such as a name) picks one; without it, the entry whose entities the call
        targets (``target_entries``), else the only loaded entry is meant. Anything else
        is the caller's mistake: ``ServiceValidationError`` says what to pass.
        """
        runtimes = self.runtimes(host)
        if wanted is None:
            targeted = self.target_entries(host, call)
            if len(targeted) == 1:
                return runtimes[targeted[0]]
            if targeted:
                raise ServiceValidationError(
                    self.domain, call.service,
                    f"the target entities belong to {len(targeted)} {self.domain} entries; "
                    f"target entities of one, or pass {param}",
                )
            if len(runtimes) == 1:
                return next(iter(runtimes.values()))
            if not runtimes:
                raise ServiceValidationError(
                    self.domain, call.service, f"no {self.domain} entry is loaded"
                )
            raise ServiceValidationError(
                self.domain,
                call.service,
                f"several {self.domain} entries are loaded; pass {param} with one of: "
                + ", ".join(sorted(runtimes)),
            )
        for entry_id, runtime in runtimes.items():
            if entry_id == wanted or (matches is not None and matches(entry_id, runtime, wanted)):
                return runtime
        raise ServiceValidationError(
            self.domain, call.service, f"no loaded {self.domain} entry {wanted!r}"
        )

    @staticmethod
    def target_entity_ids(call: ServiceCall) -> list[str]:
        """The entity ids the call targets (``entity_id``: one, a comma list or a list)."""
        return target_entities(call.data)

    def target_entries(self, host: Host, call: ServiceCall) -> list[str]:
        """Ids of the loaded entries of this domain whose entities the call targets.

        Empty when the call targets no entity. An entity that is not a live entity of a
        loaded entry of this domain is refused by name: acting on another entry than the
        one meant would be worse than an error.
        """
        runtimes = self.runtimes(host)
        found: list[str] = []
        for entity_id in target_entities(call.data):
            entity = host.entities.get(entity_id)
            entry = entity.entry if entity is not None else None
            if entry is None or entry.entry_id not in runtimes:
                raise ServiceValidationError(
                    self.domain, call.service,
                    f"{entity_id} is not an entity of a loaded {self.domain} entry",
                )
            if entry.entry_id not in found:
                found.append(entry.entry_id)
        return found
