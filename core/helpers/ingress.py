"""The ingress hook: one place where a transport asks "may this message in?".

Why in the core: payload governance (schema_guard) is an optional integration, and the
transports (mqtt, nats) must work without it. If they imported schema_guard's API they
would have to list it in their manifest ``dependencies`` (tests/core/test_public_api.py
enforces that), making every MQTT install load a schema validator. So the dependency
points the other way: transports call this hook, and a governance integration installs
itself into it on set-up and removes itself on unload.

* ``ingress_guard(host) -> IngressHook``: one per host, made on first use; a transport
  keeps the object for its entry's life.
* ``hook.check(topic, payload, transport=...) -> IngressVerdict``: with no guard
  installed this is one attribute read and a constant (``PASS``): measured in
  ``scripts/bench/bench_schema_guard.py`` (``hook`` mode). A rejected message is
  already taken care of by the guard (quarantined or dropped); the transport only
  counts it and stops there. ``transport`` names the ingest path ("mqtt", "nats") so the
  guard can record it and hand a replayed message back to the same path.
* ``hook.install(guard) -> undo``: for the governance integration (one at a time).
* ``hook.set_replay_target(transport, target) -> undo``: a transport registers how a
  replayed message re-enters its ingest path (as if it had just arrived, but only to
  the governed consumers: entity states); several entries of one transport may register,
  each gets the message and keeps what it subscribes to. ``hook.replay_target(transport)``
  is what the guard calls (None: nobody registered).

Topics are MQTT-style (``a/b/c``); a transport with another separator maps its names
(nats: ``.`` becomes ``/``) so one rule syntax governs both.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from ..exceptions import GatehouseError
from ..keys import HostKey

if TYPE_CHECKING:
    from ..host import Host

__all__ = [
    "PASS",
    "IngressGuard",
    "IngressHook",
    "IngressVerdict",
    "ReplayFeed",
    "ingress_guard",
]


@dataclass(frozen=True, slots=True)
class IngressVerdict:
    """What the guard decided. ``passed`` False: the message must not reach entities
    (the guard has quarantined or dropped it; ``reason`` says why, for a debug log)."""

    passed: bool
    reason: str | None = None


#: The verdict without a guard (and for every message a guard lets through).
PASS: Final = IngressVerdict(True)


class IngressGuard(Protocol):
    """What a governance integration installs (schema_guard's adapter)."""

    def check(self, topic: str, payload: bytes, *, transport: str) -> IngressVerdict: ...


ReplayFeed = Callable[[str, bytes], "Awaitable[None] | None"]
"""(topic, payload) of a replayed message that now passes, fed to a transport."""


class IngressHook:
    """See the module docstring."""

    __slots__ = ("_feeds", "guard")

    def __init__(self) -> None:
        #: The installed guard, or None (read directly on hot paths that want to skip
        #: even the method call).
        self.guard: IngressGuard | None = None
        self._feeds: dict[str, list[ReplayFeed]] = {}

    def check(self, topic: str, payload: bytes, *, transport: str) -> IngressVerdict:
        guard = self.guard
        if guard is None:
            return PASS
        return guard.check(topic, payload, transport=transport)

    def install(self, guard: IngressGuard) -> Callable[[], None]:
        """Install ``guard``; the returned undo removes it (if it is still the one)."""
        if self.guard is not None:
            raise GatehouseError("an ingress guard is already installed")
        self.guard = guard

        def remove() -> None:
            if self.guard is guard:
                self.guard = None

        return remove

    def set_replay_target(self, transport: str, feed: ReplayFeed) -> Callable[[], None]:
        feeds = self._feeds.setdefault(transport, [])
        feeds.append(feed)

        def unset() -> None:
            if feed in feeds:
                feeds.remove(feed)

        return unset

    def transports(self) -> list[str]:
        return [name for name, feeds in self._feeds.items() if feeds]

    def replay_target(self, transport: str) -> ReplayFeed | None:
        """One feed that hands the message to every registered feed of ``transport``."""
        feeds = self._feeds.get(transport)
        if not feeds:
            return None
        targets = list(feeds)

        async def feed_all(topic: str, payload: bytes) -> None:
            for target in targets:
                outcome: Any = target(topic, payload)
                if inspect.isawaitable(outcome):
                    await outcome

        return feed_all


#: The host's ingress hook (made on first use; kept for the host's life).
INGRESS_HOOK: Final[HostKey[IngressHook]] = HostKey("core.ingress")


def ingress_guard(host: Host) -> IngressHook:
    """The host's ``IngressHook`` (created the first time it is asked for)."""
    hook = host.data.get(INGRESS_HOOK)
    if hook is None:
        hook = host.data.setdefault(INGRESS_HOOK, IngressHook())
    return hook
