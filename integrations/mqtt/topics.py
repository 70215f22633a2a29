"""Topic filters: validation, matching, and the router from topic to callbacks.

The router is on the ingest hot path (every received message goes through it), so
exact filters — one per entity state topic, the common case — are a dict lookup, and
only the few wildcard filters (discovery, ``subscribe:`` entries) are matched level by
level. Matching follows MQTT 3.1.1 §4.7: ``+`` is one level, ``#`` the rest (including
the parent level), and wildcards at the first level do not match ``$`` topics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import voluptuous as vol

T = TypeVar("T")

MAX_TOPIC_BYTES = 65535


def valid_topic(value: object) -> str:
    """A topic to publish to: non-empty UTF-8, no wildcards, no NUL."""
    if not isinstance(value, str) or not value:
        raise vol.Invalid("expected a non-empty topic")
    if len(value.encode("utf-8")) > MAX_TOPIC_BYTES:
        raise vol.Invalid("topic is longer than 65535 bytes")
    if "\0" in value:
        raise vol.Invalid("topic must not contain NUL characters")
    if "+" in value or "#" in value:
        raise vol.Invalid("wildcards (+, #) are not allowed in a topic to publish to")
    return value


def valid_filter(value: object) -> str:
    """A topic filter to subscribe to: wildcards only as whole levels, ``#`` last."""
    if not isinstance(value, str) or not value:
        raise vol.Invalid("expected a non-empty topic filter")
    if len(value.encode("utf-8")) > MAX_TOPIC_BYTES:
        raise vol.Invalid("topic filter is longer than 65535 bytes")
    if "\0" in value:
        raise vol.Invalid("topic filter must not contain NUL characters")
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise vol.Invalid("'#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise vol.Invalid("'+' must be a whole level")
    return value


def is_wildcard(topic_filter: str) -> bool:
    return "+" in topic_filter or "#" in topic_filter


def filter_matches(levels: tuple[str, ...], topic_levels: list[str]) -> bool:
    """Whether a split filter matches a split topic."""
    if topic_levels[0].startswith("$") and levels[0] in ("+", "#"):
        return False
    n = len(topic_levels)
    for index, level in enumerate(levels):
        if level == "#":
            return True
        if index >= n:
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(levels) == n


def matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic_filter`` matches ``topic`` (convenience for tests and tools)."""
    return filter_matches(tuple(topic_filter.split("/")), topic.split("/"))


class _Wildcard(Generic[T]):
    __slots__ = ("callbacks", "levels", "prefix", "topic_filter")

    def __init__(self, topic_filter: str) -> None:
        self.topic_filter = topic_filter
        self.levels = tuple(topic_filter.split("/"))
        # The literal levels before the first wildcard ("homeassistant/" for discovery):
        # most topics fail this cheap test and are never split.
        literal: list[str] = []
        for level in self.levels:
            if level in ("+", "#"):
                break
            literal.append(level)
        self.prefix = "/".join(literal) + "/" if literal else ""
        self.callbacks: list[T] = []


class TopicRouter(Generic[T]):
    """Topic filter → callbacks, for dispatching received messages.

    ``add`` returns the undo. Lists are replaced rather than mutated, so a callback
    that subscribes or unsubscribes while a message is being dispatched takes effect
    from the next message on, never in the middle of the current one.
    """

    def __init__(self) -> None:
        self._exact: dict[str, list[T]] = {}
        self._wildcards: list[_Wildcard[T]] = []

    def add(self, topic_filter: str, callback: T) -> Callable[[], bool]:
        """Route ``topic_filter`` to ``callback``; the undo returns True if the filter
        has no callbacks left (the broker subscription can go)."""
        if is_wildcard(topic_filter):
            for wildcard in self._wildcards:
                if wildcard.topic_filter == topic_filter:
                    break
            else:
                wildcard = _Wildcard(topic_filter)
                self._wildcards = [*self._wildcards, wildcard]
            wildcard.callbacks = [*wildcard.callbacks, callback]

            def remove_wildcard() -> bool:
                if callback in wildcard.callbacks:
                    wildcard.callbacks = [c for c in wildcard.callbacks if c is not callback]
                if wildcard.callbacks:
                    return False
                self._wildcards = [w for w in self._wildcards if w is not wildcard]
                return True

            return remove_wildcard

        self._exact[topic_filter] = [*self._exact.get(topic_filter, ()), callback]

        def remove_exact() -> bool:
            current = self._exact.get(topic_filter)
            if current is None:
                return True
            remaining = [c for c in current if c is not callback]
            if remaining:
                self._exact[topic_filter] = remaining
                return False
            del self._exact[topic_filter]
            return True

        return remove_exact

    def has_filter(self, topic_filter: str) -> bool:
        if topic_filter in self._exact:
            return True
        return any(w.topic_filter == topic_filter for w in self._wildcards)

    def match(self, topic: str) -> list[T]:
        """Every callback whose filter matches ``topic`` (exact ones first)."""
        exact = self._exact.get(topic)
        wildcards = self._wildcards
        if not wildcards:
            return exact if exact is not None else []
        found = list(exact) if exact is not None else []
        topic_levels: list[str] | None = None
        for wildcard in wildcards:
            if wildcard.prefix and not topic.startswith(wildcard.prefix):
                continue
            if topic_levels is None:
                topic_levels = topic.split("/")
            if filter_matches(wildcard.levels, topic_levels):
                found.extend(wildcard.callbacks)
        return found

    def filters(self) -> list[str]:
        return [*self._exact, *(w.topic_filter for w in self._wildcards)]

    def __len__(self) -> int:
        return len(self._exact) + len(self._wildcards)
