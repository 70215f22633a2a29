"""The audit entry in a running host: what the bus tells it ends up in the log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from auditools import records

from gatehouse.core import Context, Host, ServiceCall
from gatehouse.core.testing import add_entry, make_host, wait_until
from gatehouse.integrations.audit import api
from gatehouse.integrations.audit.verify import verify_path

pytestmark = pytest.mark.anyio

AUDIT_YAML = "audit:\n  summary_interval: 0.05\n"


def _audit_dir(host: Host) -> Path:
    return host.storage_dir / "audit"


def _runtime(host: Host) -> Any:
    entry = host.config_entries.entries("audit")[0]
    return entry.runtime_data


async def _flush(host: Host) -> None:
    await _runtime(host).log.flush()


def _by_action(host: Host, action: str) -> list[dict[str, Any]]:
    return [r for r in records(_audit_dir(host)) if r["action"] == action]


def _register_echo(host: Host) -> None:
    def echo(call: ServiceCall) -> None:
        if call.data.get("fail"):
            raise RuntimeError("the valve is stuck")

    host.services.register("test", "echo", echo)


async def test_a_host_run_is_recorded_and_leaves_a_fully_signed_log(
    config_dir: Path, write_config: Callable[..., Path]
) -> None:
    write_config(AUDIT_YAML)
    host = make_host(config_dir)
    async with host.running():
        assert host.config_entries.entries("audit")[0].state.value == "loaded"
        await _flush(host)
        assert [r["action"] for r in records(_audit_dir(host))][-1] == "host.start"
    found = records(_audit_dir(host))
    assert [r["action"] for r in found][-2:] == ["host.stop", "audit.checkpoint"]
    assert verify_path(_audit_dir(host), strict=True).ok
    # The next run continues the same chain.
    host = make_host(config_dir)
    async with host.running():
        await _flush(host)
    report = verify_path(_audit_dir(host), strict=True)
    assert report.ok and report.checkpoints == 2


async def test_config_entry_changes_say_what_changed(host: Host) -> None:
    await add_entry(host, "audit")
    demo = await add_entry(host, "demo", {"name": "Demo"}, unique_id="demo1")
    host.config_entries.update_entry(demo, options={"update_interval": 5})
    host.config_entries.update_entry(demo, title="Renamed")
    await host.config_entries.remove(demo.entry_id)
    await _flush(host)
    changes = [r for r in records(_audit_dir(host)) if r["action"].startswith("config_entry.")
               and r["target"] == demo.entry_id]
    assert [(r["action"], r["details"].get("changed")) for r in changes] == [
        ("config_entry.add", None),
        ("config_entry.update", ["options"]),
        ("config_entry.update", ["title"]),
        ("config_entry.remove", None),
    ]
    assert changes[0]["details"] == {"domain": "demo", "title": "demo"}


async def test_service_calls_by_people_record_who_what_target_and_result(host: Host) -> None:
    await add_entry(host, "audit")
    _register_echo(host)
    alice = Context(user_id="u-alice")
    await host.services.call("test", "echo", {"entity_id": ["light.a", "light.b"],
                                              "password": "hunter2"}, context=alice)
    with pytest.raises(RuntimeError):
        await host.services.call("test", "echo", {"fail": True}, context=alice)
    await host.services.call("test", "echo", {"entity_id": "light.system"})  # no user
    host.services.set_permissions(lambda user_id: None)  # every user unknown: refused
    with pytest.raises(Exception, match="unknown user"):
        await host.services.call("test", "echo", {}, context=Context(user_id="u-mallory"))
    host.services.set_permissions(None)
    await _flush(host)
    calls = _by_action(host, "service.call")
    assert [(c["actor"]["user_id"], c["target"], c["result"]) for c in calls] == [
        ("u-alice", "light.a,light.b", "ok"),
        ("u-alice", None, "error"),
        ("u-mallory", None, "denied"),
    ]
    assert calls[0]["details"] == {"service": "test.echo", "fields": ["entity_id", "password"]}
    assert calls[1]["details"]["error"] == "the valve is stuck"
    assert "hunter2" not in (_audit_dir(host) / "audit-000001.jsonl").read_text()


async def test_security_events_from_core_http_are_recorded(host: Host) -> None:
    await add_entry(host, "audit")
    bus = host.bus
    bus.fire("audit_security", {"action": "auth.login", "result": "ok", "user_id": "u1",
                                "name": "alice", "ip": "192.0.2.7"})
    bus.fire("audit_security", {"action": "auth.login", "result": "failed", "user_id": None,
                                "name": "alice", "ip": "198.51.100.9"})
    bus.fire("audit_security", {"action": "auth.lockout", "result": "locked",
                                "ip": "198.51.100.9", "details": {"failures": 5}})
    bus.fire("audit_security", {"action": "permission.change", "result": "ok",
                                "user_id": "u2", "target": "user:u2",
                                "details": {"group": "operators"}},
             Context(user_id="u-admin"))
    bus.fire("audit_security", {"action": "no such thing", "details": {"x": object()}})
    await _flush(host)
    found = [r for r in records(_audit_dir(host)) if r["action"] not in (
        "config_entry.add",)]
    assert [(r["action"], r["result"], r["actor"]["name"], r["actor"]["ip"]) for r in found] == [
        ("auth.login", "ok", "alice", "192.0.2.7"),
        ("auth.login", "failed", "alice", "198.51.100.9"),
        ("auth.lockout", "locked", None, "198.51.100.9"),
        ("permission.change", "ok", None, None),
        ("security.other", "ok", None, None),
    ]
    assert found[3]["details"] == {"group": "operators", "by_user_id": "u-admin"}
    assert found[3]["target"] == "user:u2"
    assert found[4]["details"]["action"] == "no such thing"
    assert "unserializable" in found[4]["details"]


async def test_schema_guard_rejections_are_summarised_per_interval(host: Host) -> None:
    entry = await add_entry(host, "audit", {"summary_interval": 0.05})
    assert entry.state.value == "loaded"
    registry = host.entity_registry
    quarantined = registry.get_or_create(
        "sensor", "schema_guard", "g_rule_quarantined", suggested_object_id="g_rule_quarantined"
    ).entity_id
    other = registry.get_or_create(
        "sensor", "demo", "x_quarantined", suggested_object_id="x_quarantined"
    ).entity_id
    host.states.set(quarantined, "0")
    host.states.set(quarantined, "3")
    host.states.set(quarantined, "7")
    host.states.set(other, "9")  # not schema_guard's: ignored
    await wait_until(lambda: _runtime(host).log.appended >= 1, 5, "summary record")
    await _flush(host)
    summaries = _by_action(host, "schema_guard.rejections")
    assert [s["details"] for s in summaries] == [
        {"total": 7, "by_entity": {quarantined: 7}}
    ]


async def test_query_filters_by_actor_action_and_time(host: Host) -> None:
    await add_entry(host, "audit")
    for name, action in [("alice", "auth.login"), ("bob", "auth.login"),
                         ("alice", "auth.logout"), ("alice", "token.create")]:
        host.bus.fire("audit_security", {"action": action, "result": "ok", "name": name})
    found = await api.query(host, actor="alice")
    assert [r["action"] for r in found] == ["token.create", "auth.logout", "auth.login"]
    assert [r["actor"]["name"] for r in await api.query(host, action="auth.")] == [
        "alice", "bob", "alice"]
    assert len(await api.query(host, action="auth.", limit=2)) == 2
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert await api.query(host, since=future) == []
    assert len(await api.query(host, until=future, actor="bob")) == 1
    assert api.record(host, "cert.operation", details={"issued": "device-7"})
    assert (await api.query(host, limit=1))[0]["action"] == "cert.operation"


async def test_a_second_entry_is_refused_by_the_flow(host: Host) -> None:
    await add_entry(host, "audit", unique_id="audit")
    result = await host.config_entries.flow.init("audit")  # type: ignore[attr-defined]
    result = await host.config_entries.flow.configure(  # type: ignore[attr-defined]
        result["flow_id"], {})
    assert result["type"] == "abort"


async def test_every_kind_of_call_result_and_system_calls_are_not_recorded(
    host: Host,
) -> None:
    import voluptuous as vol

    await add_entry(host, "audit")
    host.services.register("test", "strict", lambda call: None, {vol.Required("n"): int})
    user = Context(user_id="u1")
    with pytest.raises(Exception, match="n"):
        await host.services.call("test", "strict", {"n": "x"}, context=user)
    with pytest.raises(Exception, match="nothing"):
        await host.services.call("test", "nothing", {}, context=user)
    await host.services.call("test", "strict", {"n": 1}, context=user, blocking=False)
    await host.services.call("test", "strict", {"n": 2})
    await host.services.call("test", "strict", {"n": 3}, context=Context())
    await _flush(host)
    assert [(c["result"], c["details"]["service"]) for c in _by_action(host, "service.call")] \
        == [("invalid", "test.strict"), ("not_found", "test.nothing"),
            ("scheduled", "test.strict")]


async def test_oversized_security_details_keep_only_their_size(host: Host) -> None:
    await add_entry(host, "audit")
    host.bus.fire("audit_security", {"action": "user.update", "result": "ok",
                                     "details": {"blob": "x" * 10_000}})
    await _flush(host)
    (found,) = _by_action(host, "user.update")
    assert found["details"] == {"too_large": 10_012}


async def test_each_checkpoint_is_fired_on_the_bus_once_on_disk(host: Host) -> None:
    from gatehouse.integrations.audit.note import Verifier, verify

    notes: list[dict[str, Any]] = []
    host.bus.listen("audit_checkpoint", lambda event: notes.append(dict(event.data)))
    await add_entry(host, "audit")
    api.record(host, "host.start")
    await host.services.call("audit", "checkpoint", {})
    assert len(notes) == 1
    verifier = Verifier.parse((_audit_dir(host) / "audit_ed25519.pub").read_text())
    checkpoint = verify(notes[0]["note"], verifier)
    assert (notes[0]["origin"], notes[0]["size"]) == (verifier.name, checkpoint.size)
    assert checkpoint.size == _runtime(host).log.writer.seq - 1
    assert notes[0]["note"] in (_audit_dir(host) / "checkpoints.jsonl").read_text().replace(
        "\\n", "\n").replace("\\u2014", "\u2014")


async def test_a_damaged_log_fails_set_up_naming_the_file(host: Host) -> None:
    from auditools import sample_log

    directory = _audit_dir(host)
    sample_log(directory, records=3, max_file_size=1 << 20)
    path = directory / "audit-000001.jsonl"
    path.write_bytes(path.read_bytes()[:-3] + b"}x\n")
    entry = await add_entry(host, "audit")
    assert entry.state.value == "setup_error"
    assert "audit-000001.jsonl line 4" in str(entry.reason)
    assert "gatehouse audit verify" in str(entry.reason)


async def test_an_empty_yaml_section_turns_the_log_on(
    config_dir: Path, write_config: Callable[..., Path]
) -> None:
    from gatehouse.core.cli import main

    write_config("audit:\n")
    assert main(["check-config", str(config_dir)]) == 0
    host = make_host(config_dir)
    async with host.running():
        (entry,) = host.config_entries.entries("audit")
        assert entry.state.value == "loaded"
        assert entry.runtime_data.log.checkpoint_records == 1000


async def test_an_options_flow_is_recorded_as_an_options_update(host: Host) -> None:
    await add_entry(host, "audit")
    demo = await add_entry(host, "demo", {"name": "Kitchen"}, unique_id="kitchen")
    options = host.config_entries.options
    form = await options.init(demo.entry_id)
    done = await options.configure(form["flow_id"], {"update_interval": 0.5})
    assert done["type"] == "create_entry"
    await _flush(host)
    updates = [r for r in records(_audit_dir(host))
               if r["action"] == "config_entry.update" and r["target"] == demo.entry_id]
    assert [r["details"].get("changed") for r in updates] == [["options"]]
    assert updates[0]["details"]["domain"] == "demo"
