"""configuration.yaml sections become ``import`` config entries, kept in step across restarts.

Each test writes a configuration, runs a fresh host on it, stops it, rewrites the file
and starts another host on the same config dir: what a user does when editing YAML.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from gatehouse.core import ConfigEntry, ConfigEntryState, Context, Host, Source
from gatehouse.core.testing import make_host

pytestmark = pytest.mark.anyio

WriteConfig = Callable[..., Path]

GARAGE = """\
demo:
  name: Garage
  amplitude: 5
"""


@asynccontextmanager
async def started(config_dir: Path) -> AsyncIterator[Host]:
    host = make_host(config_dir)
    async with host.running():
        yield host


def imports(host: Host, domain: str = "demo") -> list[ConfigEntry[Any]]:
    return [e for e in host.config_entries.entries(domain) if e.source is Source.IMPORT]


def snapshot(entry: ConfigEntry[Any]) -> dict[str, Any]:
    return entry.as_storage()


async def test_demo_section_becomes_an_import_entry(
    config_dir: Path, write_config: WriteConfig
) -> None:
    write_config(GARAGE)
    async with started(config_dir) as host:
        [entry] = host.config_entries.entries()
        assert entry.domain == "demo"
        assert entry.source is Source.IMPORT
        assert entry.unique_id == "garage"
        assert entry.title == "Garage"
        assert dict(entry.data) == {"name": "Garage", "amplitude": 5.0,
                                    "update_interval": 1.0, "sine_period": 60.0}
        assert entry.state is ConfigEntryState.LOADED
        assert host.states.get("sensor.garage_sine") is not None
        assert host.services.has("demo", "reset_counter")


async def test_changed_yaml_updates_the_same_entry(
    config_dir: Path, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(GARAGE)
    async with started(config_dir) as host:
        [entry] = host.config_entries.entries()
        first = snapshot(entry)
        entity_ids = sorted(host.states.entity_ids())

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gatehouse.core.config_entries"):
        async with started(config_dir) as host:  # unchanged: nothing to update
            [entry] = host.config_entries.entries()
            assert snapshot(entry) == first
    assert "changed" not in caplog.text

    write_config(GARAGE.replace("amplitude: 5", "amplitude: 7\n  sine_period: 120"))
    with caplog.at_level(logging.INFO, logger="gatehouse.core.config_entries"):
        async with started(config_dir) as host:
            [entry] = host.config_entries.entries()
            assert entry.entry_id == first["entry_id"]
            assert entry.created_at == first["created_at"]
            assert entry.modified_at >= first["modified_at"]
            assert dict(entry.data) == {"name": "Garage", "amplitude": 7.0,
                                        "update_interval": 1.0, "sine_period": 120.0}
            assert entry.state is ConfigEntryState.LOADED
            assert sorted(host.states.entity_ids()) == entity_ids
    assert "YAML for demo entry 'Garage' changed" in caplog.text
    async with started(config_dir) as host:  # and the update was stored
        assert host.config_entries.get(first["entry_id"]).data["amplitude"] == 7.0


async def test_removed_section_removes_the_entry(
    config_dir: Path, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(GARAGE)
    async with started(config_dir) as host:
        [entry] = host.config_entries.entries()
        assert host.entity_registry.entities(config_entry_id=entry.entry_id)
    write_config("# nothing configured any more\n")
    with caplog.at_level(logging.INFO):
        async with started(config_dir) as host:
            assert host.config_entries.entries() == []
            assert host.entity_registry.entities(config_entry_id=entry.entry_id) == []
            assert host.device_registry.devices(config_entry_id=entry.entry_id) == []
            assert len(host.states) == 0
            assert not host.services.has("demo", "reset_counter")
    assert "YAML for demo entry 'Garage' was removed" in caplog.text
    async with started(config_dir) as host:
        assert host.config_entries.entries() == []


async def test_a_list_gives_one_entry_per_device(
    config_dir: Path, write_config: WriteConfig
) -> None:
    write_config("""\
        demo:
          - name: Attic
          - name: Cellar
            update_interval: 2
        """)
    async with started(config_dir) as host:
        entries = {e.unique_id: e for e in imports(host)}
        assert set(entries) == {"attic", "cellar"}
        assert all(e.state is ConfigEntryState.LOADED for e in entries.values())
        assert entries["cellar"].data["update_interval"] == 2.0
        assert host.states.get("sensor.attic_sine") is not None
        assert host.states.get("sensor.cellar_sine") is not None
        assert len(host.device_registry.devices()) == 2
        response = await host.services.call("demo", "reset_counter", return_response=True)
        assert set(response["previous"]) == {e.entry_id for e in entries.values()}
        cellar_id = entries["cellar"].entry_id

    write_config("""\
        demo:
          - name: Cellar
            update_interval: 2
        """)
    async with started(config_dir) as host:
        [entry] = imports(host)
        assert entry.entry_id == cellar_id
        assert host.states.get("sensor.attic_sine") is None
        assert len(host.device_registry.devices()) == 1


@pytest.mark.parametrize(
    ("broken", "where", "message"),
    [
        pytest.param(GARAGE + "  update_interval: fast\n", "configuration.yaml:4",
                     "expected float", id="bad-value"),
        pytest.param(GARAGE.replace("amplitude: 5", "amplitude: !secret amp"),
                     "configuration.yaml:3", "secret 'amp'", id="missing-secret"),
        pytest.param(GARAGE + "  name: [Garage\n", "configuration.yaml:", "invalid YAML",
                     id="syntax-error"),
        pytest.param(GARAGE.replace("demo:", "demoo:"), "configuration.yaml:1",
                     "did you mean 'demo'", id="misspelt-domain"),
        pytest.param("demo: 5\n", "configuration.yaml:1", "expected a list", id="scalar-section"),
    ],
)
async def test_section_with_an_error_keeps_its_entry(
    config_dir: Path, write_config: WriteConfig, caplog: pytest.LogCaptureFixture,
    broken: str, where: str, message: str,
) -> None:
    write_config(GARAGE)
    async with started(config_dir) as host:
        [entry] = host.config_entries.entries()
        before = snapshot(entry)
        registered = sorted(r.entity_id for r in host.entity_registry.entities())

    write_config(broken)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="gatehouse.core.bootstrap"):
        async with started(config_dir) as host:
            [entry] = host.config_entries.entries()
            assert snapshot(entry) == before
            # the stored entry is still good: the appliance keeps running on it
            assert entry.state is ConfigEntryState.LOADED
            assert sorted(r.entity_id for r in host.entity_registry.entities()) == registered
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(where in m and message in m for m in errors), errors


async def test_error_in_one_section_does_not_block_the_others(
    config_dir: Path, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(GARAGE)
    async with started(config_dir) as host:
        [garage] = host.config_entries.entries()
    write_config("""\
        demo:
          name: Garage
          amplitude: loud
        echo:
          prefix: "> "
        """)
    with caplog.at_level(logging.ERROR):
        async with started(config_dir) as host:
            assert host.config_entries.get(garage.entry_id).data["amplitude"] == 5.0
            [echo] = host.config_entries.entries("echo")
            assert echo.state is ConfigEntryState.LOADED
    assert "configuration.yaml:3: demo -> amplitude" in caplog.text


async def test_echo_plugin_from_yaml_answers_with_the_callers_user(
    config_dir: Path, write_config: WriteConfig
) -> None:
    write_config("""\
        echo:
          prefix: "> "
        """)
    async with started(config_dir) as host:
        [entry] = host.config_entries.entries()
        assert entry.domain == "echo"
        assert entry.source is Source.IMPORT
        assert entry.unique_id == "echo"  # the default: one entry per section
        assert dict(entry.data) == {"prefix": "> "}
        assert entry.state is ConfigEntryState.LOADED
        loaded = host.plugins.loaded()["echo"]
        assert loaded.module_name == "gatehouse_testplugin.echo"  # via its entry point

        context = Context(user_id="alice")
        response = await host.services.call(
            "echo", "say", {"text": "hi"}, context=context, return_response=True
        )
        assert response == {"text": "> hi", "user_id": "alice"}
        state = host.states.get("sensor.echo_last_message")
        assert state is not None
        assert state.state == "> hi"
        assert state.context is context
        anonymous = await host.services.call("echo", "say", {"text": "x"},
                                             return_response=True)
        assert anonymous == {"text": "> x", "user_id": None}

        await host.config_entries.unload(entry.entry_id)
        assert not host.services.has("echo", "say")


async def test_yaml_does_not_take_over_an_entry_made_in_the_ui(
    config_dir: Path, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    async with started(config_dir) as host:
        flow = await host.config_entries.flow.init("demo")
        done = await host.config_entries.flow.configure(
            flow["flow_id"], {"name": "Garage", "amplitude": 1}
        )
        ui_entry = host.config_entries.get(done["entry_id"])
        before = snapshot(ui_entry)
    write_config(GARAGE)
    with caplog.at_level(logging.WARNING):
        async with started(config_dir) as host:
            [entry] = host.config_entries.entries()
            assert snapshot(entry) == before
            assert entry.source is Source.USER
            assert entry.state is ConfigEntryState.LOADED
    assert "already configured in the UI" in caplog.text
    write_config("# empty\n")
    async with started(config_dir) as host:  # removing the YAML never removes it either
        assert [e.entry_id for e in host.config_entries.entries()] == [before["entry_id"]]


async def test_options_of_an_import_entry_survive_restarts(
    config_dir: Path, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(GARAGE)
    async with started(config_dir) as host:
        [entry] = host.config_entries.entries()
        options = host.config_entries.options
        form = await options.init(entry.entry_id)
        await options.configure(form["flow_id"], {"update_interval": 0.25})
        assert dict(entry.options) == {"update_interval": 0.25}
        stored = snapshot(entry)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gatehouse.core.config_entries"):
        async with started(config_dir) as host:
            entry = host.config_entries.get(entry.entry_id)
            assert dict(entry.options) == {"update_interval": 0.25}
            assert snapshot(entry) == stored
    assert "changed" not in caplog.text
    # a YAML change updates the data and still keeps the options
    write_config(GARAGE.replace("amplitude: 5", "amplitude: 6"))
    async with started(config_dir) as host:
        entry = host.config_entries.get(entry.entry_id)
        assert entry.data["amplitude"] == 6.0
        assert dict(entry.options) == {"update_interval": 0.25}


async def test_disabled_import_entry_follows_yaml_but_stays_disabled(
    config_dir: Path, write_config: WriteConfig
) -> None:
    write_config(GARAGE)
    async with started(config_dir) as host:
        [entry] = host.config_entries.entries()
        await host.config_entries.set_disabled(entry.entry_id, True)
    write_config(GARAGE.replace("amplitude: 5", "amplitude: 9"))
    async with started(config_dir) as host:
        entry = host.config_entries.get(entry.entry_id)
        assert entry.disabled_by == "user"
        assert entry.data["amplitude"] == 9.0
        assert entry.state is ConfigEntryState.NOT_LOADED
        assert len(host.states) == 0
