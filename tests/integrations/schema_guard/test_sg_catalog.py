"""Versioned schema files, hot reload, broken files, pins and shadow versions.

The rule that matters most: a broken file never weakens the guard. Whatever happens to
the files, a rule keeps validating with the last version that loaded; it never starts
accepting everything, nor rejecting everything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sgtools import D2020, make_guard, rescan, write_schema

from gatehouse.integrations.schema_guard.engine import RuleConfig


def schema(maximum: int) -> dict[str, Any]:
    return {"$schema": D2020, "type": "object", "required": ["temp"],
            "properties": {"temp": {"type": "number", "maximum": maximum}}}


RULE = RuleConfig("t", "plant/+/t", schema="telemetry")


def temp(value: float) -> bytes:
    return f'{{"temp": {value}}}'.encode()


def test_highest_loaded_version_is_in_force(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(50))
    write_schema(tmp_path, "telemetry", 2, schema(100))
    (tmp_path / "README.txt").write_text("not a schema: ignored")
    guard, catalog = make_guard(tmp_path, [RULE])
    assert catalog.available("telemetry") == [1, 2]
    verdict = guard.check("plant/a/t", temp(80))
    assert verdict.accepted and verdict.version == 2


def test_a_new_version_is_picked_up_by_the_next_scan(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(50))
    guard, catalog = make_guard(tmp_path, [RULE])
    assert not guard.check("plant/a/t", temp(80), store=False).accepted
    assert not rescan(guard, catalog)  # nothing changed: nothing recompiled
    write_schema(tmp_path, "telemetry", 2, schema(100))
    assert rescan(guard, catalog)
    assert guard.check("plant/a/t", temp(80)).version == 2


def test_a_broken_new_version_keeps_the_previous_in_force(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(50))
    guard, catalog = make_guard(tmp_path, [RULE])
    write_schema(tmp_path, "telemetry", 2, None, raw=b'{"type": "object",')
    rescan(guard, catalog)
    assert "telemetry.v2.json" in catalog.problems
    assert "not JSON" in catalog.problems["telemetry.v2.json"]
    # still v1: not accept-all (80 > 50 is refused), not reject-all (20 passes)
    refused = guard.check("plant/a/t", temp(80), store=False)
    assert not refused.accepted and refused.version == 1
    assert guard.check("plant/a/t", temp(20)).version == 1
    # fixing the file clears the problem and brings v2 in
    write_schema(tmp_path, "telemetry", 2, schema(100))
    rescan(guard, catalog)
    assert catalog.problems == {}
    assert guard.check("plant/a/t", temp(80)).version == 2


def test_an_edit_that_breaks_the_version_in_force_keeps_its_compiled_form(
    tmp_path: Path,
) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(50))
    guard, catalog = make_guard(tmp_path, [RULE])
    # valid JSON, invalid schema (type must be a type name)
    write_schema(tmp_path, "telemetry", 1, {"$schema": D2020, "type": "nope"})
    rescan(guard, catalog)
    assert "telemetry.v1.json" in catalog.problems
    assert not guard.check("plant/a/t", temp(80), store=False).accepted
    assert guard.check("plant/a/t", temp(20)).accepted


def test_a_schema_with_a_backtracking_pattern_is_reported_not_used(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(50))
    guard, catalog = make_guard(tmp_path, [RULE])
    write_schema(tmp_path, "telemetry", 2, {"$schema": D2020, "properties": {
        "id": {"type": "string", "pattern": "(?=x)y"}}})
    rescan(guard, catalog)
    assert 'is not a "regex"' in catalog.problems["telemetry.v2.json"]
    assert guard.check("plant/a/t", temp(20)).version == 1


def test_removing_the_only_version_keeps_it(tmp_path: Path) -> None:
    path = write_schema(tmp_path, "telemetry", 1, schema(50))
    guard, catalog = make_guard(tmp_path, [RULE])
    os.unlink(path)
    rescan(guard, catalog)
    assert "file removed" in catalog.problems["telemetry.v1.json"]
    assert not guard.check("plant/a/t", temp(80), store=False).accepted
    assert guard.check("plant/a/t", temp(20)).accepted


def test_removing_the_newest_version_rolls_back(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(50))
    newest = write_schema(tmp_path, "telemetry", 2, schema(100))
    guard, catalog = make_guard(tmp_path, [RULE])
    os.unlink(newest)
    rescan(guard, catalog)
    assert catalog.problems == {}
    assert guard.check("plant/a/t", temp(20)).version == 1


def test_a_rule_without_any_loaded_version_quarantines_with_the_reason(
    tmp_path: Path,
) -> None:
    guard, catalog = make_guard(tmp_path, [RULE])
    assert "no usable any version of schema 'telemetry'" in guard.problems["t"]
    verdict = guard.check("plant/a/t", temp(20), store=False)
    assert not verdict.accepted and verdict.action == "quarantine"
    assert verdict.errors[0].keyword == "schema"
    # the schema arrives: the rule works from the next scan
    write_schema(tmp_path, "telemetry", 1, schema(50))
    rescan(guard, catalog)
    assert guard.problems == {}
    assert guard.check("plant/a/t", temp(20)).accepted


def test_pinned_version_stays_in_force_with_newer_files(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(50))
    write_schema(tmp_path, "telemetry", 2, schema(100))
    pinned = RuleConfig("t", "plant/+/t", schema="telemetry", version=1)
    guard, _ = make_guard(tmp_path, [pinned])
    assert guard.check("plant/a/t", temp(20)).version == 1


def test_shadow_counts_what_the_new_version_would_reject(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(100))
    write_schema(tmp_path, "telemetry", 2, schema(50))  # stricter
    rule = RuleConfig("t", "plant/+/t", schema="telemetry", version=1, shadow="latest")
    guard, _ = make_guard(tmp_path, [rule])
    verdicts = [guard.check("plant/a/t", temp(v), store=False) for v in (10, 60, 80, 200)]
    # the verdicts are v1's alone
    assert [v.accepted for v in verdicts] == [True, True, True, False]
    assert {v.version for v in verdicts} == {1}
    metrics = guard.metrics()["t"]
    assert metrics.shadow_validated == 4
    assert metrics.shadow_rejected == 3  # 60, 80 (v2 only) and 200 (both)
    assert metrics.accepted == 3 and metrics.quarantined == 1


def test_shadow_latest_follows_hot_reload(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(100))
    rule = RuleConfig("t", "plant/+/t", schema="telemetry", version=1, shadow="latest")
    guard, catalog = make_guard(tmp_path, [rule])
    guard.check("plant/a/t", temp(60))
    assert guard.metrics()["t"].shadow_validated == 0  # nothing newer to shadow yet
    write_schema(tmp_path, "telemetry", 2, schema(50))
    rescan(guard, catalog)
    guard.check("plant/a/t", temp(60))
    assert guard.metrics()["t"].shadow_rejected == 1


def test_shadow_on_a_missing_version_is_a_problem(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(100))
    rule = RuleConfig("t", "plant/+/t", schema="telemetry", shadow=7)
    guard, _ = make_guard(tmp_path, [rule])
    assert "shadow version v7" in guard.problems["t"]
    assert guard.check("plant/a/t", temp(60)).accepted


def test_a_shadow_that_raises_never_changes_the_verdict(tmp_path: Path) -> None:
    write_schema(tmp_path, "telemetry", 1, schema(100))
    write_schema(tmp_path, "telemetry", 2, schema(50))
    rule = RuleConfig("t", "plant/+/t", schema="telemetry", version=1, shadow=2)
    guard, _ = make_guard(tmp_path, [rule])

    class Exploding:
        kind = "json"
        version = 2

        def validate_value(self, value: object) -> None:
            raise RuntimeError("boom")

    guard.bound()[0].shadow = Exploding()  # type: ignore[assignment]
    verdict = guard.check("plant/a/t", temp(60))
    assert verdict.accepted and verdict.version == 1
    assert guard.metrics()["t"].shadow_rejected == 1
