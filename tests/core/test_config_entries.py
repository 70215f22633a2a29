"""Config entries: the whole lifecycle, driven through the ``flaky`` test integration.

``flaky`` (tests/entry_testpkgs/flaky) fails on purpose as each entry's data asks:
not ready N times, bad config, bad credentials, a bug, an unload that raises. Every
successful set-up leaves one state, one device, one service, one bus listener and one
task behind, so each test can check that the host took all of it back.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from entry_testpkgs.util import (
    flaky_entry,
    flaky_of,
    record_changes,
    running_host,
)

from gatehouse.core import (
    ConfigEntry,
    ConfigEntryState,
    Host,
    Source,
)
from gatehouse.core.config_entries import STORAGE_KEY
from gatehouse.core.exceptions import OperationNotAllowed, UnknownEntry
from gatehouse.core.helpers import Backoff
from gatehouse.core.logging_setup import REDACTOR
from gatehouse.core.testing import wait_until

pytestmark = pytest.mark.anyio

S = ConfigEntryState


@pytest.fixture
async def host(config_dir: Path) -> Any:
    """A running host with ``flaky`` available (overrides the suite's plain host)."""
    async with running_host(config_dir) as h:
        yield h


@dataclass(frozen=True)
class RecordingPolicy(Backoff):
    """A retry policy that remembers which failure counts it was asked about."""

    calls: list[int] = field(default_factory=list)

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        self.calls.append(failures)
        return Backoff.delay(self, failures, rand)


def footprint(host: Host, entry: ConfigEntry[Any]) -> dict[str, Any]:
    """What a set-up flaky entry leaves in the host."""
    prefix = entry.unique_id or entry.entry_id
    return {
        "states": [s.entity_id for s in host.states.all("sensor")],
        "entities": [e.entity_id for e in host.entities.of_entry(entry.entry_id)],
        "service": host.services.has("flaky", f"ping_{prefix}"),
        "listeners": host.bus.listener_count("flaky_poke"),
        "task": entry.entry_id in flaky_of(host).running_tasks,
        "undos": entry.undo_count,
    }


NOTHING = {"states": [], "entities": [], "service": False, "listeners": 0, "task": False,
           "undos": 0}


def tasks_named(name: str) -> int:
    return sum(1 for t in asyncio.all_tasks() if t.get_name() == name)


# -- set-up ---------------------------------------------------------------------------


async def test_setup_loads_entry_with_all_its_resources(host: Host) -> None:
    entry = flaky_entry("Flaky")
    seen = record_changes(host, entry.entry_id)
    await host.config_entries.add(entry)

    assert entry.state is S.LOADED
    assert entry.reason is None
    assert entry.setup_attempts == 0
    assert flaky_of(host).attempts == {entry.entry_id: 1}
    await wait_until(lambda: entry.entry_id in flaky_of(host).running_tasks)
    assert footprint(host, entry) == {
        "states": ["sensor.flaky_value"], "entities": ["sensor.flaky_value"], "service": True,
        "listeners": 1, "task": True, "undos": 3,  # entity remover, service, listener
    }
    assert host.states.get("sensor.flaky_value").state == "1"  # type: ignore[union-attr]
    assert len(host.device_registry.devices(config_entry_id=entry.entry_id)) == 1
    assert seen == [("added", "not_loaded"), ("state", "setup_in_progress"),
                    ("state", "loaded")]
    response = await host.services.call("flaky", "ping_flaky", return_response=True)
    assert response == {"entry_id": entry.entry_id, "attempt": 1}
    assert await host.config_entries.setup(entry.entry_id) is True  # already loaded
    assert flaky_of(host).attempts[entry.entry_id] == 1


async def test_summary_hides_data_and_storage_round_trips(host: Host) -> None:
    entry = ConfigEntry(
        domain="flaky", title="T", data={"password": "hunter2"}, options={"o": 1},
        unique_id="u1", version=1, minor_version=3, source=Source.IMPORT,
    )
    summary = entry.as_summary()
    assert "data" not in summary and "options" not in summary
    assert "hunter2" not in repr(summary)
    copy = ConfigEntry.from_storage(entry.as_storage())
    assert copy.as_storage() == entry.as_storage()
    assert copy.source is Source.IMPORT
    assert copy.state is S.NOT_LOADED


async def test_duplicate_unique_id_and_entry_id_are_refused(host: Host) -> None:
    first = await host.config_entries.add(flaky_entry("Same"))
    with pytest.raises(OperationNotAllowed, match="unique_id"):
        await host.config_entries.add(flaky_entry("Same"))
    with pytest.raises(OperationNotAllowed, match="exists already"):
        await host.config_entries.add(
            ConfigEntry(domain="flaky", title="x", data={}, entry_id=first.entry_id)
        )
    assert len(host.config_entries.entries("flaky")) == 1
    with pytest.raises(UnknownEntry):
        host.config_entries.get("nope")
    with pytest.raises(KeyError):  # UnknownEntry is also a KeyError
        await host.config_entries.reload("nope")


async def test_not_ready_retries_with_backoff_until_loaded(host: Host) -> None:
    policy = RecordingPolicy(initial=0.01, multiplier=2.0, maximum=0.05, jitter=0)
    host.config_entries.retry_policy = policy
    entry = flaky_entry("Sleepy", mode="not_ready", fail_times=3)
    seen = record_changes(host, entry.entry_id)

    assert await host.config_entries.add(entry) is entry
    assert entry.state is S.SETUP_RETRY
    assert entry.reason == "device asleep (attempt 1)"
    assert entry.setup_attempts == 1
    assert entry.next_retry_at is not None

    await wait_until(lambda: entry.state is S.LOADED)
    assert flaky_of(host).attempts[entry.entry_id] == 4
    assert policy.calls == [1, 2, 3]  # each retry waits longer than the previous one
    assert [policy.delay(n) for n in (1, 2, 3)] == [0.01, 0.02, 0.04]
    assert entry.setup_attempts == 0
    assert entry.reason is None
    assert entry.next_retry_at is None
    states = [state for change, state in seen if change == "state"]
    assert states == ["setup_in_progress", "setup_retry"] * 3 + ["setup_in_progress", "loaded"]
    # the entry that finally loaded is the fourth attempt's
    assert host.states.get("sensor.sleepy_value").state == "4"  # type: ignore[union-attr]


async def test_failed_attempt_leaves_nothing_behind(host: Host) -> None:
    """An attempt that made entities, services, listeners and tasks, then raised."""
    entry = flaky_entry("Half", mode="not_ready", fail_times=-1, partial=True)
    await host.config_entries.add(entry)
    assert entry.state is S.SETUP_RETRY
    assert footprint(host, entry) == NOTHING
    assert not hasattr(entry, "runtime_data")
    await wait_until(lambda: flaky_of(host).attempts[entry.entry_id] >= 3)
    assert await host.config_entries.unload(entry.entry_id) is True
    assert footprint(host, entry) == NOTHING


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("error", "bad configuration"),
        ("auth", "wrong password"),
        ("crash", "unexpected error: kaboom"),
    ],
)
async def test_setup_errors_are_contained_and_not_retried(
    host: Host, caplog: pytest.LogCaptureFixture, mode: str, reason: str
) -> None:
    broken = flaky_entry("Broken", mode=mode, fail_times=-1, partial=True)
    good = flaky_entry("Good")
    # a sibling that needs a few retries: by the time it loads, several retry
    # intervals have passed, so a (wrong) retry of the broken entry would have happened
    sleepy = flaky_entry("Sleepy", mode="not_ready", fail_times=4)
    with caplog.at_level(logging.ERROR, logger="gatehouse.core.config_entries"):
        assert await host.config_entries.add(broken) is broken
    assert broken.state is S.SETUP_ERROR
    assert broken.reason == reason
    assert broken.next_retry_at is None
    assert f"Setup of flaky entry 'Broken' failed: {reason}" in caplog.text
    if mode == "crash":
        assert "Traceback" in caplog.text and "RuntimeError: kaboom" in caplog.text
    assert footprint(host, broken) == NOTHING

    await host.config_entries.add(good)
    await host.config_entries.add(sleepy)
    assert good.state is S.LOADED
    await wait_until(lambda: sleepy.state is S.LOADED)
    assert flaky_of(host).attempts[broken.entry_id] == 1
    assert broken.state is S.SETUP_ERROR

    # a user-triggered reload tries again (and fails the same way)
    assert await host.config_entries.reload(broken.entry_id) is False
    assert broken.state is S.SETUP_ERROR
    assert flaky_of(host).attempts[broken.entry_id] == 2


async def test_one_broken_entry_does_not_stop_the_others_at_start(config_dir: Path) -> None:
    async with running_host(config_dir) as host:
        ok = await host.config_entries.add(flaky_entry("Fine"))
        await host.config_entries.add(flaky_entry("Bug", mode="crash", fail_times=-1))
        await host.config_entries.add(
            ConfigEntry(domain="uninstalled", title="Gone", data={}, unique_id="gone")
        )
        ids = {e.title: e.entry_id for e in host.config_entries.entries()}
    async with running_host(config_dir) as host:
        got = {e.title: e for e in host.config_entries.entries()}
        assert {t: e.entry_id for t, e in got.items()} == ids
        assert got["Fine"].state is S.LOADED
        assert got["Fine"].entry_id == ok.entry_id
        assert got["Bug"].state is S.SETUP_ERROR
        assert got["Bug"].reason == "unexpected error: kaboom"
        assert got["Gone"].state is S.SETUP_ERROR
        assert "uninstalled" in (got["Gone"].reason or "")


# -- migration ------------------------------------------------------------------------


async def test_migration_upgrades_an_old_entry(host: Host) -> None:
    integration = flaky_of(host)
    integration.entry_version = 2
    calls: list[int] = []

    async def migrate_entry(h: Host, entry: ConfigEntry[Any]) -> bool:
        calls.append(entry.version)
        h.config_entries.update_entry(entry, data={**entry.data, "migrated": True}, version=2)
        return True

    integration.migrate_entry = migrate_entry
    entry = ConfigEntry(domain="flaky", title="Old", data={"x": 1}, version=1)
    await host.config_entries.add(entry)
    assert entry.state is S.LOADED
    assert entry.version == 2
    assert dict(entry.data) == {"x": 1, "migrated": True}
    assert calls == [1]
    # an entry already at the integration's version is not migrated again
    assert await host.config_entries.reload(entry.entry_id) is True
    assert calls == [1]


async def test_migration_needed_without_migrate_entry_is_an_error(host: Host) -> None:
    flaky_of(host).entry_version = 2
    entry = ConfigEntry(domain="flaky", title="Old", data={}, version=1)
    await host.config_entries.add(entry)
    assert entry.state is S.MIGRATION_ERROR
    assert "no migrate_entry" in (entry.reason or "")
    assert entry.entry_id not in flaky_of(host).attempts  # never set up
    with pytest.raises(OperationNotAllowed):
        await host.config_entries.setup(entry.entry_id)

    # once the integration can migrate, a reload recovers the entry
    async def migrate_entry(h: Host, e: ConfigEntry[Any]) -> bool:
        h.config_entries.update_entry(e, version=2)
        return True

    flaky_of(host).migrate_entry = migrate_entry
    assert await host.config_entries.reload(entry.entry_id) is True
    assert entry.state is S.LOADED and entry.version == 2


@pytest.mark.parametrize("outcome", ["false", "no_bump", "raise"])
async def test_migration_refused_or_failed_is_an_error(host: Host, outcome: str) -> None:
    flaky_of(host).entry_version = 2

    async def migrate_entry(h: Host, entry: ConfigEntry[Any]) -> bool:
        if outcome == "raise":
            raise ValueError("cannot read old format")
        return outcome == "no_bump"  # "no_bump" claims success but keeps version 1

    flaky_of(host).migrate_entry = migrate_entry
    entry = ConfigEntry(domain="flaky", title="Old", data={}, version=1)
    await host.config_entries.add(entry)
    assert entry.state is S.MIGRATION_ERROR
    assert entry.version == 1
    if outcome == "raise":
        assert "cannot read old format" in (entry.reason or "")
    assert entry.entry_id not in flaky_of(host).attempts


async def test_entry_newer_than_integration_is_a_migration_error(host: Host) -> None:
    called: list[str] = []

    async def migrate_entry(h: Host, entry: ConfigEntry[Any]) -> bool:
        called.append(entry.entry_id)
        return True

    flaky_of(host).migrate_entry = migrate_entry  # never used for downgrades
    entry = ConfigEntry(domain="flaky", title="Future", data={}, version=3)
    await host.config_entries.add(entry)
    assert entry.state is S.MIGRATION_ERROR
    assert "newer" in (entry.reason or "")
    assert called == []
    assert entry.version == 3


# -- unload, reload, disable, remove ---------------------------------------------------


async def test_unload_and_reload_release_everything(host: Host) -> None:
    entry = await host.config_entries.add(flaky_entry("Cycle"))
    assert await host.config_entries.unload(entry.entry_id) is True
    assert entry.state is S.NOT_LOADED
    assert footprint(host, entry) == NOTHING
    assert not hasattr(entry, "runtime_data")
    assert flaky_of(host).unloads[entry.entry_id] == 1
    assert await host.config_entries.unload(entry.entry_id) is True  # idempotent
    assert flaky_of(host).unloads[entry.entry_id] == 1

    assert await host.config_entries.setup(entry.entry_id) is True
    assert await host.config_entries.reload(entry.entry_id) is True
    assert entry.state is S.LOADED
    assert flaky_of(host).attempts[entry.entry_id] == 3
    assert footprint(host, entry)["states"] == ["sensor.cycle_value"]
    assert host.states.get("sensor.cycle_value").state == "3"  # type: ignore[union-attr]


async def test_unload_raising_is_failed_unload_and_blocks_reload(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await host.config_entries.add(flaky_entry("Sticky", unload_raises=True))
    with caplog.at_level(logging.ERROR):
        assert await host.config_entries.unload(entry.entry_id) is False
    assert entry.state is S.FAILED_UNLOAD
    assert "unload exploded" in (entry.reason or "")
    assert "Error unloading flaky entry 'Sticky'" in caplog.text
    # the host still took back what it owns
    assert footprint(host, entry) == NOTHING
    with pytest.raises(OperationNotAllowed, match="restart"):
        await host.config_entries.reload(entry.entry_id)
    with pytest.raises(OperationNotAllowed):
        await host.config_entries.setup(entry.entry_id)
    with pytest.raises(OperationNotAllowed):
        await host.config_entries.unload(entry.entry_id)
    assert flaky_of(host).attempts[entry.entry_id] == 1


async def test_failing_undo_is_failed_unload_but_other_undos_run(host: Host) -> None:
    entry = await host.config_entries.add(flaky_entry("Undo"))
    ran: list[str] = []

    def bad() -> None:
        raise OSError("socket already closed")

    async def good() -> None:
        ran.append("good")

    entry.on_unload(good)
    entry.on_unload(bad)
    assert await host.config_entries.unload(entry.entry_id) is False
    assert entry.state is S.FAILED_UNLOAD
    assert "clean-up step(s) failed" in (entry.reason or "")
    assert ran == ["good"]
    assert footprint(host, entry) == NOTHING


async def test_unload_waits_for_a_setup_in_progress(host: Host) -> None:
    integration = flaky_of(host)
    integration.gate = anyio.Event()
    entry = flaky_entry("Slow")
    attempted = integration.attempted
    async with anyio.create_task_group() as tg:
        tg.start_soon(host.config_entries.add, entry)
        with anyio.fail_after(5):
            await attempted.wait()
        assert entry.state is S.SETUP_IN_PROGRESS
        unloaded: list[bool] = []

        async def unload() -> None:
            unloaded.append(await host.config_entries.unload(entry.entry_id))

        tg.start_soon(unload)
        await anyio.wait_all_tasks_blocked()
        assert unloaded == []  # held by the entry's lock
        integration.gate.set()
    assert unloaded == [True]
    assert entry.state is S.NOT_LOADED
    assert footprint(host, entry) == NOTHING


async def test_cancelled_setup_leaves_a_usable_entry(host: Host) -> None:
    integration = flaky_of(host)
    integration.gate = anyio.Event()
    entry = flaky_entry("Cancelled", partial=True)
    await host.config_entries.add(entry, setup=False)
    attempted = integration.attempted
    async with anyio.create_task_group() as tg:
        tg.start_soon(host.config_entries.setup, entry.entry_id)
        with anyio.fail_after(5):
            await attempted.wait()
        tg.cancel_scope.cancel()
    assert entry.state is S.NOT_LOADED
    assert footprint(host, entry) == NOTHING
    assert not entry.tasks_open
    integration.gate = None
    assert await host.config_entries.setup(entry.entry_id) is True
    assert entry.state is S.LOADED


async def test_unload_during_setup_retry_cancels_the_retry(host: Host) -> None:
    host.config_entries.retry_policy = Backoff(initial=0.02, multiplier=1.0, maximum=0.02, jitter=0)
    entry = flaky_entry("Asleep", mode="not_ready", fail_times=-1)
    await host.config_entries.add(entry)
    assert entry.state is S.SETUP_RETRY
    await wait_until(lambda: flaky_of(host).attempts[entry.entry_id] >= 2)
    assert entry.state is S.SETUP_RETRY
    assert await host.config_entries.unload(entry.entry_id) is True
    assert entry.state is S.NOT_LOADED
    assert entry.next_retry_at is None
    attempts = flaky_of(host).attempts[entry.entry_id]
    # a sibling retrying on the same policy: ten retry intervals pass while it loads
    sibling = await host.config_entries.add(flaky_entry("Sib", mode="not_ready", fail_times=10))
    await wait_until(lambda: sibling.state is S.LOADED)
    assert flaky_of(host).attempts[entry.entry_id] == attempts
    assert entry.state is S.NOT_LOADED
    assert tasks_named(f"retry {entry.entry_id}") == 0


async def test_reload_right_after_not_ready_keeps_a_single_retry_chain(host: Host) -> None:
    host.config_entries.retry_policy = Backoff(initial=0.01, multiplier=1.0, maximum=0.01, jitter=0)
    entry = flaky_entry("Twice", mode="not_ready", fail_times=-1)
    await host.config_entries.add(entry)
    assert entry.state is S.SETUP_RETRY
    # no await in between: the first retry task has not even started yet
    assert await host.config_entries.reload(entry.entry_id) is False
    assert entry.state is S.SETUP_RETRY
    name = f"retry {entry.entry_id}"
    for _ in range(8):
        before = flaky_of(host).attempts[entry.entry_id]
        await wait_until(lambda b=before: flaky_of(host).attempts[entry.entry_id] > b)
        assert tasks_named(name) <= 1
    await host.config_entries.unload(entry.entry_id)
    await wait_until(lambda: tasks_named(name) == 0)


async def test_disable_unloads_and_survives_restart(config_dir: Path) -> None:
    async with running_host(config_dir) as host:
        entry = await host.config_entries.add(flaky_entry("Off"))
        seen = record_changes(host, entry.entry_id)
        await host.config_entries.set_disabled(entry.entry_id, True)
        assert entry.disabled and entry.disabled_by == "user"
        assert entry.state is S.NOT_LOADED
        assert footprint(host, entry) == NOTHING
        assert ("updated", "not_loaded") in seen
        with pytest.raises(OperationNotAllowed, match="disabled"):
            await host.config_entries.setup(entry.entry_id)
        assert await host.config_entries.reload(entry.entry_id) is False
        assert entry.state is S.NOT_LOADED
        await host.config_entries.set_disabled(entry.entry_id, True)  # no-op
    async with running_host(config_dir) as host:
        entry = host.config_entries.get(entry.entry_id)
        assert entry.disabled_by == "user"
        assert entry.state is S.NOT_LOADED
        assert "flaky" not in host.plugins.loaded()  # not even imported
        await host.config_entries.set_disabled(entry.entry_id, False)
        assert entry.state is S.LOADED
        assert entry.disabled_by is None
    async with running_host(config_dir) as host:
        assert host.config_entries.get(entry.entry_id).state is S.LOADED


async def test_disable_during_setup_retry_cancels_the_retry(host: Host) -> None:
    entry = flaky_entry("Retrying", mode="not_ready", fail_times=-1)
    await host.config_entries.add(entry)
    assert entry.state is S.SETUP_RETRY
    await host.config_entries.set_disabled(entry.entry_id, True)
    assert entry.state is S.NOT_LOADED
    attempts = flaky_of(host).attempts[entry.entry_id]
    sibling = await host.config_entries.add(flaky_entry("Sib", mode="not_ready", fail_times=6))
    await wait_until(lambda: sibling.state is S.LOADED)
    assert flaky_of(host).attempts[entry.entry_id] == attempts


async def test_remove_takes_entities_devices_and_states_away(config_dir: Path) -> None:
    async with running_host(config_dir) as host:
        keep = await host.config_entries.add(flaky_entry("Keep"))
        gone = await host.config_entries.add(flaky_entry("Gone"))
        seen = record_changes(host, gone.entry_id)
        assert host.entity_registry.entities(config_entry_id=gone.entry_id)
        assert host.device_registry.devices(config_entry_id=gone.entry_id)
        await host.config_entries.remove(gone.entry_id)
        assert seen[-1] == ("removed", "not_loaded")
        with pytest.raises(UnknownEntry):
            host.config_entries.get(gone.entry_id)
        assert host.entity_registry.entities(config_entry_id=gone.entry_id) == []
        assert host.device_registry.devices(config_entry_id=gone.entry_id) == []
        assert host.states.get("sensor.gone_value") is None
        assert not host.services.has("flaky", "ping_gone")
        assert host.entities.of_entry(gone.entry_id) == []
        assert gone.entry_id not in flaky_of(host).running_tasks
        # the sibling is untouched
        assert keep.state is S.LOADED
        assert host.states.get("sensor.keep_value") is not None
        assert host.services.has("flaky", "ping_keep")
    async with running_host(config_dir) as host:
        assert [e.entry_id for e in host.config_entries.entries()] == [keep.entry_id]
        assert host.entity_registry.entities(config_entry_id=gone.entry_id) == []
        assert host.device_registry.devices(config_entry_id=gone.entry_id) == []


async def test_remove_in_setup_retry_and_setup_error(host: Host) -> None:
    retrying = await host.config_entries.add(
        flaky_entry("Retrying", mode="not_ready", fail_times=-1)
    )
    broken = await host.config_entries.add(flaky_entry("Broken", mode="error", fail_times=-1))
    await host.config_entries.remove(retrying.entry_id)
    await host.config_entries.remove(broken.entry_id)
    assert host.config_entries.entries() == []
    attempts = flaky_of(host).attempts[retrying.entry_id]
    sibling = await host.config_entries.add(flaky_entry("Sib", mode="not_ready", fail_times=6))
    await wait_until(lambda: sibling.state is S.LOADED)
    assert flaky_of(host).attempts[retrying.entry_id] == attempts


async def test_entries_persist_across_restarts(config_dir: Path) -> None:
    async with running_host(config_dir) as host:
        first = await host.config_entries.add(
            ConfigEntry(domain="flaky", title="One", data={"n": 1}, options={"o": True},
                        unique_id="one")
        )
        second = await host.config_entries.add(flaky_entry("Two"))
        host.config_entries.update_entry(second, title="Two renamed", options={"x": 2})
        stored = {e.entry_id: e.as_storage() for e in host.config_entries.entries()}
        entity_ids = sorted(host.states.entity_ids("sensor"))
    assert (config_dir / ".storage" / STORAGE_KEY).exists()
    async with running_host(config_dir) as host:
        entries = host.config_entries.entries()
        assert [e.entry_id for e in entries] == [first.entry_id, second.entry_id]
        assert {e.entry_id: e.as_storage() for e in entries} == stored
        assert all(e.state is S.LOADED for e in entries)
        assert sorted(host.states.entity_ids("sensor")) == entity_ids
        assert host.config_entries.get(second.entry_id).title == "Two renamed"


async def test_update_entry_reports_changes_and_saves(host: Host) -> None:
    entry = await host.config_entries.add(flaky_entry("Upd", a=1))
    seen = record_changes(host, entry.entry_id)
    before = entry.modified_at
    assert host.config_entries.update_entry(entry, data={"a": 1}) is False
    assert seen == []
    assert host.config_entries.update_entry(entry, data={"a": 2}, title="New") is True
    assert dict(entry.data) == {"a": 2} and entry.title == "New"
    assert entry.modified_at >= before
    assert seen == [("updated", "loaded")]
    with pytest.raises(TypeError):
        entry.data["a"] = 3  # type: ignore[index]
    await host.config_entries.flush()
    raw = (host.storage_dir / STORAGE_KEY).read_text(encoding="utf-8")
    assert '"New"' in raw


async def test_entry_apply_update_moves_modified_at_only_on_a_real_change() -> None:
    """Equal values are no change: YAML import re-applies every block on every start."""
    entry: ConfigEntry[Any] = ConfigEntry(
        domain="flaky", title="T", data={"a": 1}, options={"o": 1}, unique_id="u",
        modified_at=100.0,
    )
    assert entry.apply_update(
        title="T", data={"a": 1}, options={"o": 1}, unique_id="u", version=1, minor_version=1
    ) is False
    assert entry.modified_at == 100.0
    assert entry.apply_update(options={"o": 2}, minor_version=3) is True
    assert dict(entry.options) == {"o": 2} and entry.minor_version == 3
    assert entry.title == "T" and dict(entry.data) == {"a": 1}  # None left them alone
    assert entry.modified_at > 100.0
    entry.modified_at = 100.0
    assert entry.set_disabled_by(None) is False and entry.modified_at == 100.0
    assert entry.set_disabled_by("user") is True and entry.disabled
    assert entry.modified_at > 100.0


async def test_entry_keeps_one_retry_scope_at_a_time() -> None:
    """A new retry cancels the pending one; an old retry finishing forgets only itself."""
    entry = flaky_entry("Scopes")
    first = entry.new_retry_scope()
    assert entry.retry_scheduled
    second = entry.new_retry_scope()
    assert first.cancel_called and not second.cancel_called
    entry.retry_finished(first)  # the cancelled one ending must not drop the new one
    assert entry.retry_scheduled
    entry.next_retry_at = 123.0
    entry.cancel_retry()
    assert second.cancel_called
    assert not entry.retry_scheduled and entry.next_retry_at is None


async def test_spawn_after_unload_is_refused(host: Host) -> None:
    entry = await host.config_entries.add(flaky_entry("Spawn"))
    await host.config_entries.unload(entry.entry_id)

    async def work() -> None:
        await anyio.lowlevel.checkpoint()

    coro = work()
    with pytest.raises(Exception, match="not set up"):
        entry.spawn(coro)
    assert coro.cr_frame is None  # closed, not leaked as "never awaited"


async def test_host_stop_unloads_loaded_and_retrying_entries(config_dir: Path) -> None:
    async with running_host(config_dir) as host:
        loaded = await host.config_entries.add(flaky_entry("L"))
        retrying = await host.config_entries.add(
            flaky_entry("R", mode="not_ready", fail_times=-1)
        )
        integration = flaky_of(host)
    assert loaded.state is S.NOT_LOADED
    assert retrying.state is S.NOT_LOADED
    assert integration.running_tasks == set()
    assert integration.unloads == {loaded.entry_id: 1}
    assert len(host.states) == 0


async def test_secrets_of_stored_entries_are_masked_in_logs(config_dir: Path) -> None:
    secret = "pw-5f1c9e77"
    async with running_host(config_dir) as host:
        await host.config_entries.add(
            ConfigEntry(domain="flaky", title="S", data={"password": secret}, unique_id="s")
        )
    async with running_host(config_dir):  # start-up learns the secrets of stored entries
        record = logging.LogRecord(
            "test", logging.ERROR, __file__, 1, "login with %s failed", (secret,), None
        )
        REDACTOR.filter(record)
        assert record.getMessage() == "login with *** failed"


@pytest.mark.parametrize("action", ["remove", "disable"])
async def test_remove_or_disable_waits_for_a_setup_in_progress(host: Host, action: str) -> None:
    """Removing (or disabling) an entry mid set-up must not leave the set-up's work alive."""
    integration = flaky_of(host)
    integration.gate = anyio.Event()
    entry = flaky_entry("Racy")
    attempted = integration.attempted
    async with anyio.create_task_group() as tg:
        tg.start_soon(host.config_entries.add, entry)
        with anyio.fail_after(5):
            await attempted.wait()
        assert entry.state is S.SETUP_IN_PROGRESS
        if action == "remove":
            tg.start_soon(host.config_entries.remove, entry.entry_id)
        else:
            tg.start_soon(host.config_entries.set_disabled, entry.entry_id, True)
        await anyio.wait_all_tasks_blocked()
        integration.gate.set()
    assert entry.state is S.NOT_LOADED
    assert footprint(host, entry) == NOTHING
    assert len(host.states) == 0
    await anyio.wait_all_tasks_blocked()
    assert integration.running_tasks == set()
    if action == "remove":
        assert host.config_entries.entries() == []
        assert host.entity_registry.entities(config_entry_id=entry.entry_id) == []
    else:
        assert entry.disabled


async def test_unload_during_a_retry_attempt_leaves_no_retry_behind(host: Host) -> None:
    """The attempt unload waited for schedules another retry: unload must cancel it."""
    host.config_entries.retry_policy = Backoff(initial=0.01, multiplier=1.0, maximum=0.01, jitter=0)
    integration = flaky_of(host)
    entry = await host.config_entries.add(flaky_entry("Again", mode="not_ready"))
    assert entry.state is S.SETUP_RETRY
    integration.gate = anyio.Event()
    attempted = integration.attempted
    with anyio.fail_after(5):
        await attempted.wait()  # the retry's attempt is running (and held at the gate)
    assert entry.state is S.SETUP_IN_PROGRESS
    async with anyio.create_task_group() as tg:
        tg.start_soon(host.config_entries.unload, entry.entry_id)
        await anyio.wait_all_tasks_blocked()
        integration.gate.set()
    assert entry.state is S.NOT_LOADED
    assert not entry.retry_scheduled
    await anyio.wait_all_tasks_blocked()  # a retry still pending would be asleep now
    assert tasks_named(f"retry {entry.entry_id}") == 0
    assert integration.attempts[entry.entry_id] == 2
