"""Topic patterns with MQTT wildcards, and which rule governs a topic.

A pattern is an MQTT topic filter whose levels may also be ``{source}``: a single-level
wildcard (like ``+``) whose value is captured as the message's source::

    site/+/device/{source}/telemetry

Matching follows MQTT: ``+`` is exactly one level, ``#`` (last level only) is any number
of levels including none (``a/#`` matches ``a``), and a wildcard in the first level does
not match topics starting with ``$`` (``$SYS/...``).

**Most specific wins.** When several patterns match a topic, the winner has, in order:

1. the fewest wildcard levels (``+``, ``{source}`` and ``#`` count one each);
2. the longest literal prefix (levels before the first wildcard);
3. no ``#`` (a multi-level wildcard is less specific than a ``+`` in the same place);
4. the most literal levels;
5. the earliest position in the configuration (a total order, so never ambiguous).

The choice per topic is cached (bounded), since devices repeat their topics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .const import SOURCE_PLACEHOLDER
from .errors import RuleError

T = TypeVar("T")

_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class TopicPattern:
    """A parsed pattern; ``specificity`` orders matches (larger wins)."""

    text: str
    levels: tuple[str, ...]
    source_level: int | None
    specificity: tuple[int, int, int, int]

    @classmethod
    def parse(cls, text: str) -> TopicPattern:
        """Parse and check ``text``; ``RuleError`` names what is wrong."""
        if not text or len(text) > 1024:
            raise RuleError(f"topic pattern {text!r}: empty or longer than 1024 characters")
        if "\x00" in text:
            raise RuleError(f"topic pattern {text!r}: contains a NUL character")
        levels = tuple(text.split("/"))
        source_level: int | None = None
        wildcards = 0
        prefix: int | None = None
        for index, level in enumerate(levels):
            if level == "#":
                if index != len(levels) - 1:
                    raise RuleError(f"topic pattern {text!r}: '#' must be the last level")
            elif level == SOURCE_PLACEHOLDER:
                if source_level is not None:
                    raise RuleError(f"topic pattern {text!r}: more than one {{source}}")
                source_level = index
            elif level != "+" and ("+" in level or "#" in level or "{" in level):
                raise RuleError(
                    f"topic pattern {text!r}: level {level!r} mixes a wildcard with text"
                )
            if level in ("+", "#", SOURCE_PLACEHOLDER):
                wildcards += 1
                if prefix is None:
                    prefix = index
        literal = len(levels) - wildcards
        has_hash = levels[-1] == "#"
        specificity = (
            -wildcards,
            len(levels) if prefix is None else prefix,
            0 if has_hash else 1,
            literal,
        )
        return cls(text, levels, source_level, specificity)

    def match(self, topic: Sequence[str]) -> bool:
        """True if the topic (split into levels) matches this pattern."""
        levels = self.levels
        n = len(levels)
        if levels[-1] == "#":
            if len(topic) < n - 1:
                return False
            n -= 1
        elif len(topic) != n:
            return False
        for index in range(n):
            want = levels[index]
            if want in ("+", SOURCE_PLACEHOLDER):
                if index == 0 and topic[0].startswith("$"):
                    return False
                continue
            if want != topic[index]:
                return False
        return not (n == 0 and topic and topic[0].startswith("$"))

    def source_of(self, topic: Sequence[str]) -> str | None:
        """The captured ``{source}`` level of a matching topic, if the pattern has one."""
        return None if self.source_level is None else topic[self.source_level]


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    """A topic's governing rule and the source captured from the topic (if any)."""

    rule: T
    pattern: TopicPattern
    source: str | None


@dataclass(slots=True)
class RuleTable(Generic[T]):
    """Patterns → rules; ``lookup`` picks the most specific (see the module docstring)."""

    entries: list[tuple[TopicPattern, T]] = field(default_factory=list)
    _cache: dict[str, tuple[TopicPattern, T] | None] = field(default_factory=dict)

    def add(self, pattern: str, rule: T) -> TopicPattern:
        parsed = TopicPattern.parse(pattern)
        if any(existing.text == parsed.text for existing, _ in self.entries):
            raise RuleError(f"topic pattern {pattern!r} is configured twice")
        self.entries.append((parsed, rule))
        self._cache.clear()
        return parsed

    def lookup(self, topic: str) -> Match[T] | None:
        """The governing rule of ``topic``, or None when no pattern matches."""
        cache = self._cache
        try:
            hit = cache[topic]
        except KeyError:
            hit = self._find(topic.split("/"))
            if len(cache) >= _CACHE_SIZE:
                cache.clear()  # bounded: a flood of distinct topics cannot grow it
            cache[topic] = hit
        if hit is None:
            return None
        pattern, rule = hit
        source = None
        if pattern.source_level is not None:
            source = topic.split("/")[pattern.source_level]
        return Match(rule, pattern, source)

    def _find(self, levels: list[str]) -> tuple[TopicPattern, T] | None:
        best: tuple[TopicPattern, T] | None = None
        for pattern, rule in self.entries:
            # strict '>': of equally specific patterns, the first configured stays
            if pattern.match(levels) and (
                best is None or pattern.specificity > best[0].specificity
            ):
                best = (pattern, rule)
        return best
