"""Config and options flows: forms as data, per-field errors, entries created and reloaded.

The demo integration has a one-step config flow and an options flow; the ``flaky`` test
integration has a two-step flow that leaves duplicate detection to the manager; the
third-party ``echo`` plugin has no flow at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from entry_testpkgs.util import flaky_of, running_host

from gatehouse.core import ConfigEntryState, Event, Host
from gatehouse.core.exceptions import FlowError, UnknownFlow

pytestmark = pytest.mark.anyio


@pytest.fixture
async def host(config_dir: Path) -> Any:
    async with running_host(config_dir) as h:
        yield h


def fields(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in result["data_schema"]}


async def add_demo(host: Host, name: str = "Kitchen") -> str:
    result = await host.config_entries.flow.init("demo")
    result = await host.config_entries.flow.configure(result["flow_id"], {"name": name})
    assert result["type"] == "create_entry", result
    return result["entry_id"]


# -- config flows ---------------------------------------------------------------------


async def test_init_shows_a_form_with_a_serialized_schema(host: Host) -> None:
    result = await host.config_entries.flow.init("demo")
    assert result["type"] == "form"
    assert result["handler"] == "demo"
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    assert [f["name"] for f in result["data_schema"]] == [
        "name", "update_interval", "sine_period", "amplitude",
    ]
    assert fields(result) == {
        "name": {"name": "name", "required": False, "default": "Demo", "type": "string",
                 "min_length": 1, "max_length": 64},
        "update_interval": {"name": "update_interval", "required": False, "default": 1.0,
                            "type": "float", "min": 0.01, "max": 3600},
        "sine_period": {"name": "sine_period", "required": False, "default": 60.0,
                        "type": "float", "min": 1, "max": 86400},
        "amplitude": {"name": "amplitude", "required": False, "default": 10.0,
                      "type": "float"},
    }
    progress = host.config_entries.flow.progress()
    assert progress == [{"flow_id": result["flow_id"], "handler": "demo", "step_id": "user",
                         "context": {"source": "user"}}]
    assert host.config_entries.entries() == []


async def test_secret_and_select_fields_are_described(host: Host) -> None:
    result = await host.config_entries.flow.init("flaky")
    described = fields(result)
    assert described["host"] == {"name": "host", "required": True, "type": "string"}
    assert described["port"] == {"name": "port", "required": False, "default": 80,
                                 "type": "integer", "min": 1, "max": 65535}
    assert described["password"] == {"name": "password", "required": True,
                                     "type": "string", "secret": True}
    assert described["mode"] == {"name": "mode", "required": False, "default": "ok",
                                 "type": "select", "options": ["ok", "not_ready", "error"]}


async def test_bad_input_shows_the_form_again_with_field_errors(host: Host) -> None:
    flow = host.config_entries.flow
    result = await flow.init("demo")
    flow_id = result["flow_id"]
    again = await flow.configure(
        flow_id, {"name": "", "update_interval": "fast", "sine_period": 0, "bogus": 1}
    )
    assert again["type"] == "form"
    assert again["flow_id"] == flow_id
    assert again["step_id"] == "user"
    assert set(again["errors"]) == {"name", "update_interval", "sine_period", "bogus"}
    assert "float" in again["errors"]["update_interval"]
    assert "extra keys" in again["errors"]["bogus"]
    assert again["data_schema"] == result["data_schema"]
    assert host.config_entries.entries() == []
    assert [p["flow_id"] for p in flow.progress()] == [flow_id]

    # the same flow accepts corrected input; the step sees validated, coerced data
    done = await flow.configure(flow_id, {"name": "Kitchen", "update_interval": "0.5"})
    assert done["type"] == "create_entry"
    entry = host.config_entries.get(done["entry_id"])
    assert dict(entry.data) == {"name": "Kitchen", "update_interval": 0.5,
                                "sine_period": 60.0, "amplitude": 10.0}


async def test_required_field_error_is_named_required(host: Host) -> None:
    flow = host.config_entries.flow
    result = await flow.init("flaky")
    again = await flow.configure(result["flow_id"], {"port": "http"})
    assert again["errors"]["host"] == "required"
    assert again["errors"]["password"] == "required"
    assert "port" in again["errors"]


async def test_create_entry_adds_and_loads_an_entry(host: Host) -> None:
    flow = host.config_entries.flow
    result = await flow.init("demo")
    done = await flow.configure(result["flow_id"], {"name": "Kitchen"})
    assert done["type"] == "create_entry"
    assert done["title"] == "Kitchen"
    assert done["handler"] == "demo"
    assert done["entry_state"] == "loaded"
    entry = host.config_entries.get(done["entry_id"])
    assert entry.state is ConfigEntryState.LOADED
    assert entry.unique_id == "kitchen"
    assert str(entry.source) == "user"
    assert entry.version == 1
    assert flow.progress() == []
    assert host.states.get("sensor.kitchen_sine") is not None
    assert host.states.get("switch.kitchen_switch") is not None
    with pytest.raises(UnknownFlow):  # a finished flow is gone
        await flow.configure(result["flow_id"], {"name": "Again"})


async def test_same_name_is_a_field_error_not_an_abort(host: Host) -> None:
    await add_demo(host, "Kitchen")
    flow = host.config_entries.flow
    result = await flow.init("demo")
    again = await flow.configure(result["flow_id"], {"name": "kitchen"})  # same slug
    assert again["type"] == "form" and again["errors"] == {"name": "already_configured"}
    assert len(host.config_entries.entries("demo")) == 1
    assert len(flow.progress()) == 1  # the user may pick another name


async def test_manager_guards_unique_id_when_two_flows_race(host: Host) -> None:
    """Two flows for the same device both reach the last step; only one entry results."""
    flow = host.config_entries.flow
    user = {"host": "10.0.0.7", "password": "pw"}
    first = await flow.init("flaky")
    second = await flow.init("flaky")
    confirm1 = await flow.configure(first["flow_id"], user)
    confirm2 = await flow.configure(second["flow_id"], user)
    assert confirm1["step_id"] == confirm2["step_id"] == "confirm"
    assert confirm1["description_placeholders"] == {"host": "10.0.0.7"}
    assert fields(confirm1) == {"confirm": {"name": "confirm", "required": True,
                                            "type": "boolean"}}
    done = await flow.configure(first["flow_id"], {"confirm": True})
    assert done["type"] == "create_entry" and done["entry_state"] == "loaded"
    late = await flow.configure(second["flow_id"], {"confirm": True})
    assert late["type"] == "abort" and late["reason"] == "already_configured"
    entries = host.config_entries.entries("flaky")
    assert [e.unique_id for e in entries] == ["10.0.0.7"]
    assert dict(entries[0].data) == {"host": "10.0.0.7", "port": 80, "password": "pw",
                                     "mode": "ok"}
    assert flow.progress() == []


async def test_multi_step_flow_errors_and_abort(host: Host) -> None:
    flow = host.config_entries.flow
    result = await flow.init("flaky")
    again = await flow.configure(result["flow_id"], {"host": "unreachable", "password": "x"})
    assert again["type"] == "form" and again["errors"] == {"base": "cannot_connect"}
    confirm = await flow.configure(result["flow_id"], {"host": "h", "password": "x"})
    assert confirm["step_id"] == "confirm"
    assert flow.progress()[0]["step_id"] == "confirm"
    # the confirm step validates against its own schema, not the first one's
    wrong = await flow.configure(result["flow_id"], {"host": "h"})
    assert wrong["step_id"] == "confirm"
    assert set(wrong["errors"]) == {"host", "confirm"}
    aborted = await flow.configure(result["flow_id"], {"confirm": False})
    assert aborted["type"] == "abort" and aborted["reason"] == "not_confirmed"
    assert host.config_entries.entries() == []
    assert flow.progress() == []


async def test_created_entry_that_fails_setup_reports_its_state(host: Host) -> None:
    flow = host.config_entries.flow
    result = await flow.init("flaky")
    await flow.configure(result["flow_id"], {"host": "h", "password": "x", "mode": "error"})
    done = await flow.configure(result["flow_id"], {"confirm": True})
    assert done["type"] == "create_entry"
    assert done["entry_state"] == "setup_error"
    assert host.config_entries.get(done["entry_id"]).reason == "bad configuration"


async def test_unknown_flows_and_steps(host: Host) -> None:
    flow = host.config_entries.flow
    with pytest.raises(UnknownFlow):
        await flow.configure("no-such-flow", {})
    with pytest.raises(UnknownFlow):
        flow.abort("no-such-flow")
    with pytest.raises(UnknownFlow):
        await host.config_entries.options.configure("no-such-flow", {})
    result = await flow.init("demo")
    flow.abort(result["flow_id"])
    assert flow.progress() == []
    with pytest.raises(UnknownFlow):
        await flow.configure(result["flow_id"], {"name": "x"})
    # a flow that leads to a step it does not have is an error, and is dropped
    result = await flow.init("flaky")
    lost = await flow.configure(result["flow_id"], {"host": "nowhere", "password": "x"})
    assert lost["step_id"] == "nowhere"
    with pytest.raises(UnknownFlow, match="no step 'nowhere'"):
        await flow.configure(result["flow_id"], {})
    assert flow.progress() == []


async def test_integration_without_config_flow(host: Host) -> None:
    with pytest.raises(UnknownFlow, match="echo has no config flow"):
        await host.config_entries.flow.init("echo")
    with pytest.raises(FlowError):
        await host.config_entries.flow.init("echo")
    assert host.config_entries.flow.progress() == []
    from gatehouse.core.exceptions import IntegrationNotFound

    with pytest.raises(IntegrationNotFound, match="did you mean 'demo'"):
        await host.config_entries.flow.init("dmeo")


# -- options flows --------------------------------------------------------------------


async def test_options_flow_changes_options_and_reloads(host: Host) -> None:
    entry_id = await add_demo(host, "Kitchen")
    entry = host.config_entries.get(entry_id)
    runtime = entry.runtime_data
    options = host.config_entries.options
    form = await options.init(entry_id)
    assert form["type"] == "form" and form["step_id"] == "init"
    assert form["handler"] == entry_id
    assert fields(form) == {"update_interval": {
        "name": "update_interval", "required": False, "default": 1.0, "type": "float",
        "min": 0.01, "max": 3600}}

    bad = await options.configure(form["flow_id"], {"update_interval": 0})
    assert bad["type"] == "form" and set(bad["errors"]) == {"update_interval"}
    assert dict(entry.options) == {}

    done = await options.configure(form["flow_id"], {"update_interval": 0.02})
    assert done["type"] == "create_entry"
    assert done["entry_id"] == entry_id and done["entry_state"] == "loaded"
    assert dict(entry.options) == {"update_interval": 0.02}
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data is not runtime  # set up again
    assert options.progress() == []

    # the new interval is in effect: the sine sensor updates every 20 ms now (the
    # default of 1 s would take several seconds for five updates)
    updates = 0
    five = anyio.Event()

    def on_change(event: Event[Any]) -> None:
        nonlocal updates
        if event.data["entity_id"] == "sensor.kitchen_sine":
            updates += 1
            if updates >= 5:
                five.set()

    host.bus.listen("state_changed", on_change)
    with anyio.fail_after(2):
        await five.wait()

    await host.config_entries.flush()
    stored = (host.storage_dir / "core.config_entries").read_text(encoding="utf-8")
    assert '"update_interval": 0.02' in stored


async def test_options_flow_without_change_does_not_reload(host: Host) -> None:
    entry_id = await add_demo(host)
    entry = host.config_entries.get(entry_id)
    options = host.config_entries.options
    form = await options.init(entry_id)
    await options.configure(form["flow_id"], {"update_interval": 0.5})
    runtime = entry.runtime_data
    form = await options.init(entry_id)
    done = await options.configure(form["flow_id"], {"update_interval": 0.5})
    assert done["type"] == "create_entry"
    assert entry.runtime_data is runtime


async def test_options_flow_on_unloaded_entry_stores_without_setup(host: Host) -> None:
    entry_id = await add_demo(host)
    await host.config_entries.unload(entry_id)
    options = host.config_entries.options
    form = await options.init(entry_id)
    done = await options.configure(form["flow_id"], {"update_interval": 2})
    assert done["entry_state"] == "not_loaded"
    assert dict(host.config_entries.get(entry_id).options) == {"update_interval": 2.0}


async def test_options_flow_for_integration_without_one(host: Host) -> None:
    flow = host.config_entries.flow
    result = await flow.init("flaky")
    await flow.configure(result["flow_id"], {"host": "h", "password": "x"})
    done = await flow.configure(result["flow_id"], {"confirm": True})
    with pytest.raises(UnknownFlow, match="no options flow"):
        await host.config_entries.options.init(done["entry_id"])
    assert flaky_of(host).attempts[done["entry_id"]] == 1
    with pytest.raises(KeyError):
        await host.config_entries.options.init("no-such-entry")
