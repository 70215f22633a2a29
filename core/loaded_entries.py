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

A service with no entity to aim at (a publish, a write) names its entry with
``LoadedEntries.ENTRY_FIELDS`` in its schema and HA's ``config_entry`` selector in
services.yaml (``selector: {config_entry: {integration: <domain>}}``: the UI offers the
entries by title); ``pick_entry`` applies the one rule every such service shares:

* ``entry_id`` is an entry id, or for people and scripts the entry's title (any case;
  the title's slug, ``plant_1`` for "Plant 1", as the old ``entry`` field accepted);
* left out: the entry of the targeted entities, else the only loaded entry; with
  several loaded the call is refused naming them (never silently "the first one", which
  would send to a broker the caller did not mean);
* a title two entries share, or a name no loaded entry has, is refused listing the
  choices (``ServiceValidationError``: HTTP 400);
* ``entry`` is the deprecated spelling of ``entry_id`` (nats, influxdb, aws_iot used it):
  still accepted, with one warning per host and service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import voluptuous as vol

from .exceptions import ServiceValidationError
from .keys import HostKey
from .permissions import target_entities
from .platforms._service import entity_ids
from .util import slugify

if TYPE_CHECKING:
    from .bus import Unsubscribe
    from .config_entries import ConfigEntry
    from .host import Host
    from .services import ServiceCall

T = TypeVar("T")

_LOGGER = logging.getLogger(__name__)

#: The service data key that names an entry, and its deprecated spelling.
ENTRY_ID = "entry_id"
ENTRY_ALIAS = "entry"

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

    #: Schema fields of a domain service that acts on one entry the caller may name
    #: (``pick_entry``): ``entry_id`` (id or title), and ``entry``, its deprecated
    #: spelling, marked so that forms and service descriptions leave it out.
    ENTRY_FIELDS: ClassVar[dict[Any, Any]] = {
        vol.Optional(ENTRY_ID): vol.Any(None, str),
        vol.Optional(ENTRY_ALIAS, description={"deprecated": True}): vol.Any(None, str),
    }

    def __init__(self, domain: str, register_services: ServicesFactory | None = None) -> None:
        self.domain = domain
        self._register_services = register_services
        self._key: HostKey[_DomainState[T]] = HostKey(f"{domain}.loaded_entries")
        #: Services whose callers were told (once per host) that ``entry`` is deprecated.
        self._alias_warned: HostKey[set[str]] = HostKey(f"{domain}.entry_alias_warned")

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

        ``wanted`` (an entry id, anything ``matches(entry_id, runtime, wanted)`` accepts,
        such as a name, or the entry's title as ``pick_entry`` reads it) picks one;
        without it, the entry whose entities the call targets (``target_entries``), else
        the only loaded entry is meant. Anything else is the caller's mistake:
        ``ServiceValidationError`` says what to pass. A service without entities to
        target names its entry by ``entry_id`` and uses ``pick_entry``.
        """
        runtimes = self.runtimes(host)
        if wanted is not None and not str(wanted).strip():
            wanted = None
        chosen = self._resolve(host, call, None if wanted is None else str(wanted).strip(),
                               list(runtimes), param=param, matches=matches, runtimes=runtimes)
        return runtimes[chosen]

    def pick_entry(
        self,
        host: Host,
        call: ServiceCall,
        *,
        among: Collection[str] | None = None,
        among_what: str = "",
    ) -> T:
        """The runtime of the entry the call names (``pick_entry_id``)."""
        return self.runtimes(host)[
            self.pick_entry_id(host, call, among=among, among_what=among_what)
        ]

    def pick_entry_id(
        self,
        host: Host,
        call: ServiceCall,
        *,
        among: Collection[str] | None = None,
        among_what: str = "",
    ) -> str:
        """The id of the loaded entry a call means, by the rule in the module docstring.

        ``among`` narrows the choice to some loaded entries (mqtt's provisioning
        services: those with a ``provisioning:`` block), ``among_what`` says which in
        errors (" with a provisioning: block").
        """
        loaded = self.runtimes(host)
        choices = [i for i in loaded if among is None or i in among]
        return self._resolve(host, call, self._wanted(host, call), choices,
                             among_what=among_what, runtimes=loaded)

    def _resolve(
        self,
        host: Host,
        call: ServiceCall,
        wanted: str | None,
        choices: list[str],
        *,
        runtimes: dict[str, T],
        param: str = ENTRY_ID,
        matches: Callable[[str, T, str], bool] | None = None,
        among_what: str = "",
    ) -> str:
        """The one rule (module docstring) behind ``pick`` and ``pick_entry_id``: the
        entry id among ``choices`` that ``wanted`` (or, without it, the target or the
        only choice) means; a ``ServiceValidationError`` listing the choices otherwise."""
        kind = f"{self.domain} entry{among_what}"
        if wanted is None:
            targeted = [i for i in self.target_entries(host, call) if i in choices]
            if len(targeted) == 1:
                return targeted[0]
            if targeted:
                raise self._refuse(
                    host, call, f"the target entities belong to {len(targeted)} "
                    f"{self.domain} entries; target entities of one, or pass {param} "
                    "with one of", targeted)
            if len(choices) == 1:
                return choices[0]
            if not choices:
                raise ServiceValidationError(
                    self.domain, call.service, f"no {kind} is loaded")
            raise self._refuse(
                host, call, f"several {self.domain} entries{among_what} are loaded; pass "
                f"{param} (an entry id or title) with one of", choices)
        if wanted in choices:
            return wanted
        if wanted in runtimes:
            raise self._refuse(
                host, call, f"{self.domain} entry {self._title(host, wanted)!r} is not one "
                f"{among_what.strip() or 'of these'}; choose one of", choices)
        if matches is not None:
            for entry_id in choices:
                if matches(entry_id, runtimes[entry_id], wanted):
                    return entry_id
        found = self._titled(host, wanted, choices)
        if len(found) == 1:
            return found[0]
        if found:
            raise self._refuse(
                host, call, f"{len(found)} {self.domain} entries{among_what} are titled "
                f"{wanted!r}; pass {param} with the id of one of", found)
        raise self._refuse(
            host, call, f"no loaded {kind} has the id or title {wanted!r}; choose one of",
            choices)

    def _wanted(self, host: Host, call: ServiceCall) -> str | None:
        """``entry_id`` (or the deprecated ``entry``) stripped; None when left out."""
        given = call.data.get(ENTRY_ID)
        alias = call.data.get(ENTRY_ALIAS)
        if alias is not None and str(alias).strip():
            warned = host.data.setdefault(self._alias_warned, set())
            if call.service not in warned:
                warned.add(call.service)
                _LOGGER.warning(
                    "%s.%s: the %r field is deprecated; use %r (an entry id or title) "
                    "instead", self.domain, call.service, ENTRY_ALIAS, ENTRY_ID)
            if given is not None and str(given).strip() and str(given) != str(alias):
                raise ServiceValidationError(
                    self.domain, call.service,
                    f"{ENTRY_ID} {given!r} and {ENTRY_ALIAS} {alias!r} disagree; pass "
                    f"{ENTRY_ID} only ({ENTRY_ALIAS} is its deprecated spelling)")
            given = given if given is not None and str(given).strip() else alias
        if given is None or not str(given).strip():
            return None
        return str(given).strip()

    def _titled(self, host: Host, wanted: str, entry_ids: Iterable[str]) -> list[str]:
        """The entries titled ``wanted`` (any case), else those whose title's slug it is."""
        ids = list(entry_ids)
        folded = wanted.strip().casefold()
        found = [i for i in ids if self._title(host, i).strip().casefold() == folded]
        if not found:
            slug = slugify(wanted, fallback="")
            found = [i for i in ids if slug and slugify(self._title(host, i)) == slug]
        return found

    def _title(self, host: Host, entry_id: str) -> str:
        """The entry's title (its id if it is already gone from the host)."""
        for entry in host.config_entries.entries(self.domain):
            if entry.entry_id == entry_id:
                return entry.title
        return entry_id

    def _refuse(
        self, host: Host, call: ServiceCall, why: str, entry_ids: Iterable[str]
    ) -> ServiceValidationError:
        """``why``, then the entries as people and scripts can pass them: title (id)."""
        named = sorted((self._title(host, i), i) for i in entry_ids)
        listed = ", ".join(f"{title!r} ({entry_id})" for title, entry_id in named)
        return ServiceValidationError(self.domain, call.service, f"{why}: {listed or 'none'}")

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
