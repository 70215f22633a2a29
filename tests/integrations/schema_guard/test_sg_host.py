"""schema_guard on a running host: set-up, the API, entities, hot reload, services, unload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from sgtools import GOOD, TELEMETRY, dumps, write_schema

from gatehouse.core import ConfigEntryState, Host
from gatehouse.core.testing import add_entry, state_of, wait_until
from gatehouse.integrations.schema_guard.api import (
    EVENT_REPLAYED,
    GuardUnavailable,
    Rejected,
    guard_for,
)
from gatehouse.integrations.schema_guard.services import LOADED, json_line
from gatehouse.integrations.schema_guard.store import Filters

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

CONFIG: dict[str, Any] = {
    "name": "Guard",
    "reload_interval": 0.05,
    "stats_interval": 0.05,
    "unmatched": "drop",
    "pii": ["owner.email"],
    "rules": [
        {"topic": "site/+/device/{source}/telemetry", "name": "telemetry",
         "schema": "telemetry", "version": 1, "shadow": "latest"},
        {"topic": "site/+/device/+/log", "name": "log", "format": "text",
         "on_invalid": "drop"},
    ],
}
TOPIC = "site/north/device/pump-1/telemetry"


def bad(n: int) -> bytes:
    return dumps({**GOOD, "temp": 200 + n, "owner": {"email": "x@example.com"}})


async def _loaded(host: Host, config_dir: Path, **overrides: Any) -> Any:
    write_schema(config_dir / "schemas", "telemetry", 1, TELEMETRY)
    entry = await add_entry(host, "schema_guard", {**CONFIG, **overrides})
    assert entry.state is ConfigEntryState.LOADED, entry.reason
    return entry


async def test_without_an_entry_every_message_passes_ungoverned(host: Host) -> None:
    verdict = guard_for(host).check("a/b", b"\xff not even utf-8")
    assert verdict.accepted and verdict.governed is False and verdict.value is None
    assert guard_for(host) is guard_for(host)


async def test_the_inline_path_and_its_entities(host: Host, config_dir: Path) -> None:
    await _loaded(host, config_dir)
    guard = guard_for(host)
    assert guard.active
    ok = guard.check(TOPIC, dumps(GOOD))
    assert ok.accepted and ok.value == GOOD and ok.source == "pump-1" and ok.version == 1
    # a transport that knows the sender (an MQTT client id) names the source itself
    assert guard.check(TOPIC, dumps(GOOD), source="client-9").source == "client-9"
    for n in range(3):
        assert not guard.check(TOPIC, bad(n)).accepted
    dropped = guard.check("site/x/device/y/log", b"\xff")
    assert not dropped.accepted and dropped.action == "drop"
    unmatched = guard.check("elsewhere", b"{}")
    assert not unmatched.accepted and unmatched.action == "drop"
    assert guard.check("site/x/device/y/log", b"ok").accepted

    await wait_until(lambda: state_of(host, "sensor.guard_telemetry_quarantined") == "3")
    assert state_of(host, "sensor.guard_telemetry_accepted") == "2"
    assert state_of(host, "sensor.guard_telemetry_validated") == "5"
    assert state_of(host, "sensor.guard_log_dropped") == "1"
    assert state_of(host, "sensor.guard_unmatched_topics_dropped") == "1"
    await wait_until(lambda: state_of(host, "sensor.guard_quarantine_messages") == "3")
    latency = host.states.get("sensor.guard_telemetry_validation_p99")
    assert latency is not None and latency.attributes["latency_buckets"]
    assert state_of(host, "binary_sensor.guard_schema_problem") == "off"


async def test_hot_reload_problem_entity_shadow_and_replay(host: Host, config_dir: Path) -> None:
    await _loaded(host, config_dir)
    guard = guard_for(host)
    for n in range(5):
        guard.check(TOPIC, bad(n))
    # a broken v2: reported, v1 stays in force
    write_schema(config_dir / "schemas", "telemetry", 2, None, raw=b"{ broken")
    await wait_until(lambda: state_of(host, "binary_sensor.guard_schema_problem") == "on")
    problem = host.states.get("binary_sensor.guard_schema_problem")
    assert problem is not None and "not JSON" in problem.attributes["telemetry.v2.json"]
    assert not guard.check(TOPIC, bad(9), store=False).accepted
    assert guard.check(TOPIC, dumps(GOOD)).accepted
    # a fixed v2 (allows up to 300) runs in shadow beside the pinned v1
    fixed = dict(TELEMETRY, properties=dict(TELEMETRY["properties"], temp={
        "type": "number", "maximum": 300}))
    write_schema(config_dir / "schemas", "telemetry", 2, fixed)
    await wait_until(lambda: state_of(host, "binary_sensor.guard_schema_problem") == "off")
    guard.check(TOPIC, dumps({**GOOD, "temp": 400}))
    await wait_until(lambda: state_of(host, "sensor.guard_telemetry_shadow_rejected") == "1")

    # the replay: pinned v1 still refuses them all
    dry = await host.services.call("schema_guard", "replay", {}, return_response=True)
    assert dry is not None and dry["passing"] == 0 and dry["failing"] == 6
    # unpin (options win over data) and reload: v2 is in force
    entry = host.config_entries.entries("schema_guard")[0]
    rules = [dict(CONFIG["rules"][0], version=2), CONFIG["rules"][1]]
    host.config_entries.update_entry(entry, data={**CONFIG, "rules": rules})
    await host.config_entries.reload(entry.entry_id)
    guard = guard_for(host)
    dry = await host.services.call("schema_guard", "replay", {"dry_run": True},
                                   return_response=True)
    assert dry is not None and (dry["passing"], dry["failing"]) == (5, 1)
    replayed: list[dict[str, Any]] = []
    host.bus.listen(EVENT_REPLAYED, lambda event: replayed.append(event.data))
    done = await host.services.call("schema_guard", "replay", {"dry_run": False},
                                    return_response=True)
    assert done is not None and done["replayed"] == 5
    assert [r["value"]["temp"] for r in replayed] == [200, 201, 202, 203, 204]
    # masked before storage: the replay sees the mask, never the address
    assert {r["value"]["owner"]["email"] for r in replayed} == {"***"}
    assert {r["version"] for r in replayed} == {2}


async def test_query_export_and_purge_services(host: Host, config_dir: Path) -> None:
    await _loaded(host, config_dir)
    guard = guard_for(host)
    for n in range(4):
        guard.check(TOPIC, bad(n))
    await wait_until(lambda: state_of(host, "sensor.guard_quarantine_messages") == "4")
    found = await host.services.call("schema_guard", "query", {"path": "/temp", "limit": 2},
                                     return_response=True)
    assert found is not None and len(found["messages"]) == 2
    first = found["messages"][0]
    assert first["source"] == "pump-1" and first["rule"] == "telemetry"
    assert json.loads(first["payload"])["owner"]["email"] == "***"
    assert found["error_paths"] == [{"path": "/temp", "keyword": "maximum", "count": 4}]

    exported = await host.services.call("schema_guard", "export", {"name": "all"},
                                        return_response=True)
    assert exported is not None and exported["count"] == 4
    text = await anyio.Path(exported["path"]).read_text()
    lines = text.splitlines()
    assert [json.loads(line)["errors"][0]["path"] for line in lines] == ["/temp"] * 4
    assert "x@example.com" not in text

    with pytest.raises(Exception, match="needs a filter"):
        await host.services.call("schema_guard", "purge", {}, return_response=True)
    purged = await host.services.call("schema_guard", "purge", {"all": True},
                                      return_response=True)
    assert purged == {"purged": 4}


async def test_every_service_is_admin_only(host: Host, config_dir: Path) -> None:
    """Replay and purge change what the house holds; query and export hand out device
    payloads. (The registry's refusal of users is tested in tests/core.)"""
    await _loaded(host, config_dir)
    services = host.services.services()["schema_guard"]
    assert {name for name, svc in services.items() if svc.admin_only} == {
        "replay", "purge", "query", "export"}


async def test_unload_releases_everything(host: Host, config_dir: Path) -> None:
    entry = await _loaded(host, config_dir)
    guard = guard_for(host)
    guard.check(TOPIC, bad(1))
    await host.config_entries.unload(entry.entry_id)
    assert not guard.active
    assert guard.check(TOPIC, bad(2)).governed is False
    assert "schema_guard" not in host.services.services()
    # the quarantine kept what was accepted before the unload
    await host.config_entries.setup(entry.entry_id)
    await wait_until(lambda: state_of(host, "sensor.guard_quarantine_messages") == "1")


async def test_bad_settings_fail_setup_with_the_field(host: Host) -> None:
    entry = await add_entry(host, "schema_guard", {
        "rules": [{"topic": "a/#/b", "schema": "x"}]})
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "'#' must be the last level" in (entry.reason or "")


async def test_two_rules_with_one_name_are_refused(host: Host) -> None:
    entry = await add_entry(host, "schema_guard", {
        "rules": [{"topic": "a/+", "name": "x"}, {"topic": "b/+", "name": "x"}]})
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "used twice" in (entry.reason or "")


async def test_quarantine_is_durable_when_the_caller_waits(host: Host, config_dir: Path) -> None:
    """The proxy's path: check without storing, then await the durable commit."""
    guard = guard_for(host)
    with pytest.raises(GuardUnavailable):
        await guard.quarantine(guard.check(TOPIC, b"x", store=False), b"x")  # type: ignore[arg-type]
    await _loaded(host, config_dir)
    verdict = guard.check(TOPIC, bad(1), store=False)
    assert isinstance(verdict, Rejected)
    runtime = LOADED.runtimes(host)[next(iter(LOADED.runtimes(host)))]
    assert runtime.writer.pending == 0  # store=False left it to us
    ids = await guard.quarantine(verdict, bad(1))
    assert len(ids) == 1
    [row] = await runtime.writer.query(Filters(ids=tuple(ids)))
    assert row["topic"] == TOPIC and row["errors"][0]["path"] == "/temp"


async def test_config_flow_makes_one_guard(host: Host) -> None:
    form = await host.config_entries.flow.init("schema_guard")
    assert form["type"] == "form"
    done = await host.config_entries.flow.configure(
        form["flow_id"], {"name": "Gate", "unmatched": "quarantine"})
    assert done["type"] == "create_entry", done
    entry = host.config_entries.get(done["entry_id"])
    assert entry is not None and entry.state is ConfigEntryState.LOADED
    verdict = guard_for(host).check("any/topic", b"{}")
    assert not verdict.accepted and verdict.action == "quarantine"
    again = await host.config_entries.flow.init("schema_guard")
    assert again["type"] == "abort"


def test_export_lines_carry_text_or_base64() -> None:
    line = json.loads(json_line({"id": 1, "payload": b"\xff\x00"}))
    assert line == {"id": 1, "payload_base64": "/wA="}
    assert json.loads(json_line({"id": 2, "payload": "é".encode()}))["payload"] == "é"


async def test_diagnostics_have_figures_and_no_payloads(host: Host, config_dir: Path) -> None:
    from gatehouse.integrations.schema_guard import gatehouse_diagnostics

    await _loaded(host, config_dir)
    guard_for(host).check(TOPIC, bad(1))
    [figures] = gatehouse_diagnostics(host).values()
    assert figures["rules"]["telemetry"]["quarantined"] == 1
    assert figures["schemas"] == {"telemetry": [1]}
    assert "x@example.com" not in json.dumps(figures, default=str)


async def test_two_replays_at_once_deliver_each_message_once(
    host: Host, config_dir: Path
) -> None:
    await _loaded(host, config_dir, unmatched="quarantine")
    guard = guard_for(host)
    for n in range(30):
        guard.check(f"other/{n}", dumps({"n": n}))
    runtime = next(iter(LOADED.runtimes(host).values()))
    await runtime.writer.flush()
    runtime.guard.settings.unmatched = "allow"  # these topics are allowed now
    delivered: list[int] = []

    async def target(verdict: Any, payload: bytes) -> None:
        await anyio.lowlevel.checkpoint()
        delivered.append(json.loads(payload)["n"])

    undo = guard.set_replay_target(target)
    results: list[int] = []

    async def one() -> None:
        results.append((await guard.replay(dry_run=False)).replayed)

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
    undo()
    assert sorted(results) == [0, 30] and delivered == list(range(30))


async def test_options_flow_changes_the_unmatched_policy(host: Host, config_dir: Path) -> None:
    entry = await _loaded(host, config_dir)
    assert guard_for(host).check("elsewhere", b"{}").action == "drop"  # type: ignore[union-attr]
    flow = await host.config_entries.options.init(entry.entry_id)
    assert flow["type"] == "form"
    done = await host.config_entries.options.configure(flow["flow_id"],
                                                       {"unmatched": "allow"})
    assert done["type"] == "create_entry", done
    await wait_until(lambda: entry.state is ConfigEntryState.LOADED
                     and guard_for(host).check("elsewhere", b"{}").accepted)
