"""The schema_guard surface for other integrations (mqtt, nats; later the proxy).

Other integrations use schema_guard through this module and nothing else. The inline
hook of a transport is then a few lines::

    from gatehouse.integrations.schema_guard.api import guard_for

    guard = guard_for(host)                      # always there; cheap to keep
    verdict = guard.check(msg.topic, msg.payload, source=None)
    if not verdict.accepted:
        return                                   # quarantined or dropped already
    value = verdict.value                        # decoded (None: ungoverned, decode as before)

* ``check(topic, payload, source=None, *, store=True) -> Accepted | Rejected``:
  synchronous, for the event loop, per message; bounded in time (size first, depth
  pre-scanned, linear-time regular expressions, no I/O: see ``engine.py``). A rejected
  message whose action is ``quarantine`` is handed to the quarantine's group commit
  (``store=False``: left to the caller). With no schema_guard entry loaded every message
  is ``Accepted`` with ``governed`` False.
* ``await quarantine(verdict, payload)``: store a rejected message and return once it
  is durably committed (for a proxy that acknowledges the inbound message only then);
  raises ``QuarantineFull`` when too many wait, ``GuardUnavailable`` when not loaded.
* ``set_replay_target(target) -> undo``: who receives replayed messages that have no
  transport of their own; without one, replay fires the ``schema_guard_replayed`` bus
  event per message.

The transports (mqtt, nats) do not import this module: they ask the core's ingress
hook (``gatehouse.core.helpers.ingress_guard``), which ``attach`` installs this guard
into (``_IngressAdapter``), and register their replay feeds there. Every quarantined
message records the transport it came by (``transport`` column); a replayed message
that now passes goes back to that transport's feed (``_route``), so an MQTT sensor gets
its replayed readings as if they had just arrived, in their original order.
* ``await replay(dry_run=True, rule=None, topic=None, path=None, since=None,
  until=None)``: see ``replay.py``; one at a time (a second waits for the first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import anyio

from gatehouse.core import EventType, GatehouseError, Host, HostKey
from gatehouse.core.helpers import PASS, IngressVerdict, ingress_guard

from .engine import Guard
from .errors import GuardUnavailable, QuarantineFull, SchemaGuardError
from .replay import ReplayResult, ReplayTarget, replay
from .store import Filters
from .verdict import Accepted, Action, Rejected, Verdict
from .violation import Violation
from .writer import QuarantineWriter

__all__ = [
    "EVENT_REPLAYED",
    "SCHEMA_GUARD_API",
    "Accepted",
    "Action",
    "GuardUnavailable",
    "QuarantineFull",
    "Rejected",
    "ReplayResult",
    "ReplayTarget",
    "SchemaGuardApi",
    "Verdict",
    "Violation",
    "guard_for",
]

#: Fired per replayed message when no replay target is set: topic, payload, value, rule.
EVENT_REPLAYED: Final[EventType[dict[str, Any]]] = EventType("schema_guard_replayed")


class _IngressAdapter:
    """The guard as the core ingress hook sees it (``IngressGuard``)."""

    __slots__ = ("_guard",)

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def check(self, topic: str, payload: bytes, *, transport: str) -> IngressVerdict:
        verdict = self._guard.check(topic, payload, None, transport=transport)
        if isinstance(verdict, Rejected):
            return IngressVerdict(False, verdict.reason)
        return PASS


class SchemaGuardApi:
    """One per host (``guard_for``); the loaded entry attaches its guard to it."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._guard: Guard | None = None
        self._writer: QuarantineWriter | None = None
        self._target: ReplayTarget | None = None
        # One replay at a time: two at once would both deliver the unmarked messages.
        self._replaying = anyio.Lock()

    # -- used by the integration ------------------------------------------------------

    def attach(self, guard: Guard, writer: QuarantineWriter) -> Callable[[], None]:
        if self._guard is not None:
            raise SchemaGuardError("a schema_guard entry is already attached")
        try:
            uninstall = ingress_guard(self._host).install(_IngressAdapter(guard))
        except GatehouseError as err:
            raise SchemaGuardError(f"cannot govern ingress: {err}") from err
        self._guard, self._writer = guard, writer

        def detach() -> None:
            uninstall()
            if self._guard is guard:
                self._guard = self._writer = None

        return detach

    # -- public ------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while a schema_guard entry is loaded."""
        return self._guard is not None

    def check(
        self, topic: str, payload: bytes, source: str | None = None, *, store: bool = True
    ) -> Verdict:
        """The verdict on one message (see the module docstring)."""
        guard = self._guard
        if guard is None:
            return Accepted(topic, None, None, None, None, source, governed=False)
        return guard.check(topic, payload, source, store=store)

    async def quarantine(self, verdict: Rejected, payload: bytes) -> list[int]:
        """Store ``verdict``'s message durably; returns its quarantine id."""
        if self._writer is None:
            raise GuardUnavailable("no schema_guard entry is loaded")
        return await self._writer.commit(verdict, payload)

    def set_replay_target(self, target: ReplayTarget) -> Callable[[], None]:
        self._target = target

        def unset() -> None:
            if self._target is target:
                self._target = None

        return unset

    async def replay(
        self, *, dry_run: bool = True, rule: str | None = None, topic: str | None = None,
        path: str | None = None, since: float | None = None, until: float | None = None,
    ) -> ReplayResult:
        if self._guard is None or self._writer is None:
            raise GuardUnavailable("no schema_guard entry is loaded")
        async with self._replaying:
            return await replay(
                self._writer, self._guard,
                Filters(topic=topic, rule=rule, path=path, since=since, until=until),
                self._route, dry_run=dry_run,
            )

    async def _route(self, verdict: Accepted, payload: bytes) -> None:
        """A replayed message goes back to the transport it came by, else to the
        target set here, else to the bus."""
        if verdict.transport is not None:
            feed = ingress_guard(self._host).replay_target(verdict.transport)
            if feed is not None:
                outcome = feed(verdict.topic, payload)
                if outcome is not None:
                    await outcome
                return
        if self._target is not None:
            result = self._target(verdict, payload)
            if result is not None:
                await result
            return
        self._fire_replayed(verdict, payload)

    def _fire_replayed(self, verdict: Accepted, payload: bytes) -> None:
        self._host.bus.fire(EVENT_REPLAYED, {
            "topic": verdict.topic, "payload": payload, "value": verdict.value,
            "rule": verdict.rule, "version": verdict.version, "source": verdict.source,
            "transport": verdict.transport,
        })


#: The host's schema_guard API (made on first use; kept for the host's life).
SCHEMA_GUARD_API: Final[HostKey[SchemaGuardApi]] = HostKey("schema_guard.api")


def guard_for(host: Host) -> SchemaGuardApi:
    """The host's ``SchemaGuardApi`` (created the first time it is asked for)."""
    api = host.data.get(SCHEMA_GUARD_API)
    if api is None:
        api = host.data.setdefault(SCHEMA_GUARD_API, SchemaGuardApi(host))
    return api
