"""Topic patterns: MQTT matching, {source} capture, and which rule is most specific."""

from __future__ import annotations

import pytest

from gatehouse.integrations.schema_guard.errors import RuleError
from gatehouse.integrations.schema_guard.rules import RuleTable, TopicPattern


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("a/b/c", "a/b/c", True),
        ("a/b/c", "a/b", False),
        ("a/+/c", "a/x/c", True),
        ("a/+/c", "a//c", True),  # an empty level is a level
        ("a/+/c", "a/x/y/c", False),
        ("a/#", "a", True),  # '#' includes the parent level (MQTT 4.7.1.2)
        ("a/#", "a/b/c/d", True),
        ("a/#", "b/a", False),
        ("#", "anything/at/all", True),
        ("#", "$SYS/broker/load", False),  # wildcards never match a leading '$' level
        ("+/broker/load", "$SYS/broker/load", False),
        ("$SYS/#", "$SYS/broker/load", True),
        ("site/+/device/{source}/telemetry", "site/s1/device/d7/telemetry", True),
        ("site/+/device/{source}/telemetry", "site/s1/device/d7/status", False),
    ],
)
def test_mqtt_matching(pattern: str, topic: str, matches: bool) -> None:
    assert TopicPattern.parse(pattern).match(topic.split("/")) is matches


#: (patterns in configuration order, topic, the pattern that must win)
SPECIFICITY = [
    # 1. fewer wildcards
    (["+/b/+", "a/b/+"], "a/b/c", "a/b/+"),
    (["a/+/c/#", "a/+/c/d"], "a/b/c/d", "a/+/c/d"),
    (["#", "a/b/c"], "a/b/c", "a/b/c"),
    # 2. same number of wildcards: the longer literal prefix
    (["a/+/c/d", "a/b/#"], "a/b/c/d", "a/b/#"),
    (["+/b/c", "a/+/c"], "a/b/c", "a/+/c"),
    # 3. same count and prefix: '+' before '#'
    (["a/b/#", "a/b/+"], "a/b/c", "a/b/+"),
    # 4. then more literal levels
    (["a/+/#", "a/+/c/#"], "a/x/c/d", "a/+/c/#"),
    # {source} is a '+' that captures
    (["site/+/device/{source}/telemetry", "site/s1/device/+/telemetry"],
     "site/s1/device/d1/telemetry", "site/s1/device/+/telemetry"),
    # 5. everything equal: the first configured
    (["a/+/c", "a/{source}/c"], "a/b/c", "a/+/c"),
    (["a/{source}/c", "a/+/c"], "a/b/c", "a/{source}/c"),
]


@pytest.mark.parametrize(("patterns", "topic", "winner"), SPECIFICITY)
def test_most_specific_pattern_wins(patterns: list[str], topic: str, winner: str) -> None:
    table: RuleTable[str] = RuleTable()
    for pattern in patterns:
        table.add(pattern, pattern)
    found = table.lookup(topic)
    assert found is not None and found.rule == winner
    # the order of configuration does not matter, except between exact equals
    if TopicPattern.parse(patterns[0]).specificity != TopicPattern.parse(
            patterns[1]).specificity:
        reverse: RuleTable[str] = RuleTable()
        for pattern in reversed(patterns):
            reverse.add(pattern, pattern)
        again = reverse.lookup(topic)
        assert again is not None and again.rule == winner


def test_source_is_captured_from_its_level() -> None:
    table: RuleTable[str] = RuleTable()
    table.add("site/+/device/{source}/telemetry", "t")
    found = table.lookup("site/north/device/pump-7/telemetry")
    assert found is not None and found.source == "pump-7"
    assert table.lookup("site/north/device/pump-7") is None


@pytest.mark.parametrize(
    ("pattern", "complaint"),
    [
        ("a/#/b", "'#' must be the last level"),
        ("a/b+/c", "mixes a wildcard"),
        ("a/{source}/{source}", "more than one {source}"),
        ("a/{src}/c", "mixes a wildcard"),
        ("", "empty"),
        ("a\x00b", "NUL"),
    ],
)
def test_bad_patterns_are_named(pattern: str, complaint: str) -> None:
    with pytest.raises(RuleError, match=complaint):
        TopicPattern.parse(pattern)


def test_a_pattern_twice_is_refused() -> None:
    table: RuleTable[str] = RuleTable()
    table.add("a/+", "x")
    with pytest.raises(RuleError, match="configured twice"):
        table.add("a/+", "y")


def test_the_lookup_cache_is_bounded() -> None:
    """A device inventing topics cannot grow the cache without bound."""
    table: RuleTable[str] = RuleTable()
    table.add("a/#", "x")
    for i in range(25_000):
        table.lookup(f"a/{i}")
    assert len(table._cache) <= 10_000
    hit = table.lookup("a/1")
    assert hit is not None and hit.rule == "x"
