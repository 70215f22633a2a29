"""Every REST route: answers, shapes, status codes and error messages."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from aiohttp.test_utils import TestClient

from gatehouse.core import ConfigEntry, ConfigEntryState, Host, HostState
from gatehouse.core.http.runtime import HttpRuntime

pytestmark = pytest.mark.anyio

Client = TestClient[Any, Any]
SECRET = "hunter2-very-secret"


@pytest.fixture
def api(owner: Client, origin: dict[str, str]) -> Client:
    """The owner's client, adding this server's Origin to every request (a browser)."""
    owner.session.headers.update(origin)
    return owner


# -- basics ----------------------------------------------------------------------------


async def test_api_running_and_config(api: Client) -> None:
    assert await (await api.get("/api/")).json() == {"message": "API running."}
    config = await (await api.get("/api/config")).json()
    assert config["location_name"] == "Gatehouse"
    assert config["state"] == "RUNNING"
    assert {"demo", "echo"} <= set(config["components"])
    assert config["user"]["username"] == "owner"


async def test_health_needs_no_auth_and_turns_503_when_stopping(
    client: Client, runtime: HttpRuntime
) -> None:
    ok = await client.get("/api/health")
    assert ok.status == 200
    assert await ok.json() == {"status": "ok"}
    runtime.stopping = True
    stopping = await client.get("/api/health")
    assert stopping.status == 503
    assert await stopping.json() == {"status": "stopping"}
    runtime.stopping = False
    runtime.host.state = HostState.STARTING
    assert (await client.get("/api/health")).status == 503
    runtime.host.state = HostState.RUNNING


async def test_unknown_api_path_is_json_404(api: Client) -> None:
    response = await api.get("/api/nothing/here")
    assert response.status == 404
    assert await response.json() == {"message": "not found"}
    wrong_method = await api.put("/api/states")
    assert wrong_method.status == 405
    assert "message" in await wrong_method.json()


async def test_bad_json_is_400(api: Client) -> None:
    response = await api.post("/api/states/sensor.x", data=b"{not json",
                              headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["message"].startswith("invalid JSON")
    array = await api.post("/api/states/sensor.x", json=[1, 2])
    assert array.status == 400
    assert "object" in (await array.json())["message"]


# -- states ----------------------------------------------------------------------------


async def test_states_list_and_one(api: Client, host: Host) -> None:
    states = await (await api.get("/api/states")).json()
    ids = {s["entity_id"] for s in states}
    assert {"sensor.demo_sine", "sensor.demo_counter", "switch.demo_switch"} <= ids
    assert len(states) == len(host.states)
    one = await (await api.get("/api/states/switch.demo_switch")).json()
    assert one["state"] == "on"
    assert set(one) == {"entity_id", "state", "attributes", "last_changed", "last_updated",
                        "context"}
    missing = await api.get("/api/states/sensor.nope")
    assert missing.status == 404
    assert "sensor.nope" in (await missing.json())["message"]


async def test_set_state_creates_then_updates(api: Client, host: Host) -> None:
    created = await api.post("/api/states/sensor.outside",
                             json={"state": 21.5, "attributes": {"unit": "°C"}})
    assert created.status == 201
    assert created.headers["Location"] == "/api/states/sensor.outside"
    body = await created.json()
    assert body["state"] == "21.5" and body["attributes"] == {"unit": "°C"}
    state = host.states.get("sensor.outside")
    assert state is not None and state.context.user_id is not None  # who did it

    updated = await api.post("/api/states/sensor.outside", json={"state": "22"})
    assert updated.status == 200
    assert (await updated.json())["state"] == "22"

    bad_id = await api.post("/api/states/Not An Id", json={"state": "1"})
    assert bad_id.status == 400
    no_state = await api.post("/api/states/sensor.outside", json={"attributes": {}})
    assert no_state.status == 400
    assert "state" in (await no_state.json())["errors"]
    bad_attrs = await api.post("/api/states/sensor.outside", json={"state": "1",
                                                                   "attributes": 5})
    assert bad_attrs.status == 400
    assert "attributes" in (await bad_attrs.json())["message"]

    removed = await api.delete("/api/states/sensor.outside")
    assert removed.status == 200
    assert "sensor.outside" not in host.states
    assert (await api.delete("/api/states/sensor.outside")).status == 404


async def test_states_json_is_cached_per_state_object(api: Client, runtime: HttpRuntime
                                                      ) -> None:
    await api.get("/api/states")
    before = runtime.cache.serialisations
    await api.get("/api/states")
    await api.get("/api/states/switch.demo_switch")
    assert runtime.cache.serialisations == before
    runtime.host.states.set("sensor.fresh", "1")
    await api.get("/api/states")
    assert runtime.cache.serialisations == before + 1


async def test_nan_attributes_are_valid_json(api: Client, host: Host) -> None:
    host.states.set("sensor.broken", "unknown", {"value": float("nan"), "ok": 1.5})
    response = await api.get("/api/states/sensor.broken")
    assert (await response.json())["attributes"] == {"value": None, "ok": 1.5}


# -- services --------------------------------------------------------------------------


async def test_services_list_describes_schemas(api: Client) -> None:
    services = {d["domain"]: d["services"] for d in await (await api.get("/api/services")).json()}
    say = services["echo"]["say"]
    assert say["form"] == [{"name": "text", "required": True, "type": "string"},
                           {"name": "topic", "required": False, "type": "string"}]
    # Home Assistant's shape for clients written for HA.
    assert say["fields"] == {"text": {"required": True, "selector": {"text": {}}},
                             "topic": {"required": False, "selector": {"text": {}}}}
    assert say["supports_response"] == "optional"
    assert say["response"] == {"optional": True}
    reset = services["demo"]["reset_counter"]
    field, target = reset["form"]  # entry_id, or the entity whose entry is meant
    assert field["name"] == "entry_id" and field["required"] is False
    assert target["name"] == "entity_id" and target["required"] is False
    assert field["type"] == "string"
    # Descriptions come from the integration's services.yaml.
    assert field["description"] == "Only reset the counter of this config entry."
    turn_on = services["switch"]["turn_on"]
    assert turn_on["form"][0]["name"] == "entity_id"
    # HA's target selector instead of an entity_id field (issue 14 point 8)
    assert "entity_id" not in turn_on["fields"]
    assert turn_on["target"] == {"entity": [{"domain": ["switch"]}]}
    assert reset["target"] == {"entity": [{"integration": "demo"}]}
    assert "entity_id" not in reset["fields"] and "target" not in say
    assert reset["fields"]["entry_id"]["description"] == field["description"]
    assert turn_on["supports_response"] == "none" and "response" not in turn_on


async def test_call_service_returns_changed_states_and_response(api: Client) -> None:
    plain = await api.post("/api/services/echo/say", json={"text": "hi"})
    assert plain.status == 200
    changed = await plain.json()
    assert [s["entity_id"] for s in changed] == ["sensor.echo_last_message"]
    assert changed[0]["state"] == "> hi"

    with_response = await api.post("/api/services/echo/say?return_response",
                                   json={"text": "yo"})
    body = await with_response.json()
    assert body["service_response"]["text"] == "> yo"
    assert body["service_response"]["user_id"] == changed[0]["context"]["user_id"]
    assert body["changed_states"][0]["state"] == "> yo"


async def test_call_service_errors(api: Client) -> None:
    unknown = await api.post("/api/services/echo/shout", json={})
    assert unknown.status == 400  # Home Assistant's status for an unknown service
    assert "echo.shout" in (await unknown.json())["message"]
    invalid = await api.post("/api/services/echo/say", json={"text": 5})
    assert invalid.status == 400
    assert "text" in (await invalid.json())["message"]
    no_response = await api.post("/api/services/switch/turn_on?return_response=1",
                                 json={"entity_id": "switch.demo_switch"})
    assert no_response.status == 400
    assert "does not return response data" in (await no_response.json())["message"]


async def test_switch_service_changes_the_state(api: Client, host: Host) -> None:
    response = await api.post("/api/services/switch/turn_off",
                              json={"entity_id": "switch.demo_switch"})
    assert response.status == 200
    state = host.states.get("switch.demo_switch")
    assert state is not None and state.state == "off"


# -- events ----------------------------------------------------------------------------


async def test_events_list_and_fire(api: Client, host: Host) -> None:
    seen: list[Any] = []
    host.bus.listen("doorbell", seen.append)
    listed = await (await api.get("/api/events")).json()
    assert {"event": "doorbell", "listener_count": 1} in listed
    fired = await api.post("/api/events/doorbell", json={"door": "front"})
    assert fired.status == 200
    assert await fired.json() == {"message": "Event doorbell fired."}
    assert len(seen) == 1 and dict(seen[0].data) == {"door": "front"}
    assert seen[0].context.user_id is not None
    fake = await api.post("/api/events/state_changed", json={"entity_id": "x"})
    assert fake.status == 400
    assert len(host.bus.listeners()) > 0


# -- config entries and flows ------------------------------------------------------------


async def test_entries_list_detail_reload_disable_enable_remove(api: Client, host: Host) -> None:
    entries = await (await api.get("/api/config/config_entries/entry")).json()
    demo = next(e for e in entries if e["domain"] == "demo")
    assert demo["state"] == "loaded" and demo["supports_options"] is True
    assert "data" not in demo
    base = f"/api/config/config_entries/entry/{demo['entry_id']}"
    detail = await (await api.get(base)).json()
    assert detail["data"]["name"] == "Demo"

    reloaded = await (await api.post(f"{base}/reload")).json()
    assert reloaded["ok"] is True and reloaded["entry"]["state"] == "loaded"

    disabled = await (await api.post(f"{base}/disable")).json()
    assert disabled["entry"]["disabled"] is True
    assert disabled["entry"]["state"] == "not_loaded"
    assert "switch.demo_switch" not in host.states
    enabled = await (await api.post(f"{base}/enable")).json()
    assert enabled["entry"]["state"] == "loaded"
    assert "switch.demo_switch" in host.states

    missing = await api.get("/api/config/config_entries/entry/nope")
    assert missing.status == 404
    removed = await api.delete(base)
    assert removed.status == 200
    assert all(e.domain != "demo" for e in host.config_entries.entries())
    assert (await api.delete(base)).status == 404


async def test_config_flow_adds_a_demo_entry(api: Client, host: Host) -> None:
    handlers = await (await api.get("/api/config/config_entries/flow_handlers")).json()
    assert {"domain": "demo", "name": "Demo"} in handlers

    started = await api.post("/api/config/config_entries/flow", json={"handler": "demo"})
    assert started.status == 200
    form = await started.json()
    assert form["type"] == "form" and form["step_id"] == "user"
    names = [f["name"] for f in form["data_schema"]]
    assert names == ["name", "update_interval", "sine_period", "amplitude"]
    flow_id = form["flow_id"]
    progress = await (await api.get("/api/config/config_entries/flow")).json()
    assert [p["flow_id"] for p in progress] == [flow_id]

    bad = await (await api.post(f"/api/config/config_entries/flow/{flow_id}",
                                json={"name": "Garage", "update_interval": "soon"})).json()
    assert bad["type"] == "form"
    assert "update_interval" in bad["errors"]

    done = await (await api.post(f"/api/config/config_entries/flow/{flow_id}",
                                 json={"name": "Garage", "update_interval": 5})).json()
    assert done["type"] == "create_entry" and done["entry_state"] == "loaded"
    entry = host.config_entries.get(done["entry_id"])
    assert entry.title == "Garage" and entry.state is ConfigEntryState.LOADED

    again = await (await api.post("/api/config/config_entries/flow",
                                  json={"handler": "demo"})).json()
    dup = await (await api.post(f"/api/config/config_entries/flow/{again['flow_id']}",
                                json={"name": "Garage"})).json()
    assert dup["type"] == "form" and dup["errors"] == {"name": "already_configured"}

    unknown = await api.post("/api/config/config_entries/flow/nope", json={})
    assert unknown.status == 404
    no_handler = await api.post("/api/config/config_entries/flow", json={})
    assert no_handler.status == 400
    assert "handler" in (await no_handler.json())["message"]
    missing = await api.post("/api/config/config_entries/flow", json={"handler": "nope"})
    assert missing.status == 404


async def test_flow_abort(api: Client, host: Host) -> None:
    form = await (await api.post("/api/config/config_entries/flow",
                                 json={"handler": "demo"})).json()
    aborted = await api.delete(f"/api/config/config_entries/flow/{form['flow_id']}")
    assert aborted.status == 200
    assert host.config_entries.flow.progress() == []


async def test_options_flow(api: Client, host: Host) -> None:
    (entry,) = host.config_entries.entries("demo")
    form = await (await api.post("/api/config/config_entries/options/flow",
                                 json={"handler": entry.entry_id})).json()
    assert form["type"] == "form" and form["data_schema"][0]["name"] == "update_interval"
    done = await (await api.post(f"/api/config/config_entries/options/flow/{form['flow_id']}",
                                 json={"update_interval": 7})).json()
    assert done["type"] == "create_entry"
    assert entry.options == {"update_interval": 7.0}
    assert entry.state is ConfigEntryState.LOADED

    other = await (await api.post("/api/config/config_entries/options/flow",
                                  json={"handler": entry.entry_id})).json()
    aborted = await api.delete(f"/api/config/config_entries/options/flow/{other['flow_id']}")
    assert aborted.status == 200
    assert host.config_entries.options.progress() == []
    missing = await api.post("/api/config/config_entries/options/flow",
                             json={"handler": "no-such-entry"})
    assert missing.status == 404


async def test_secrets_are_masked_and_never_logged(
    api: Client, host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    entry: ConfigEntry[Any] = ConfigEntry(
        domain="demo", title="Locked",
        data={"name": "Locked", "password": SECRET, "nested": [{"api_key": SECRET}]},
        options={"token": SECRET, "plain": "visible"}, unique_id="locked",
    )
    await host.config_entries.add(entry)
    detail = await api.get(f"/api/config/config_entries/entry/{entry.entry_id}")
    text = await detail.text()
    assert SECRET not in text
    body = await detail.json()
    assert body["data"]["password"] == "**********"
    assert body["data"]["nested"] == [{"api_key": "**********"}]
    assert body["options"] == {"token": "**********", "plain": "visible"}
    for path in ("/api/config/config_entries/entry", "/api/states", "/api/config",
                 "/api/config/entity_registry", "/api/config/device_registry"):
        assert SECRET not in await (await api.get(path)).text(), path
    assert SECRET not in caplog.text


# -- registries --------------------------------------------------------------------------


async def test_entity_registry_list_and_update(api: Client, host: Host) -> None:
    entities = await (await api.get("/api/config/entity_registry")).json()
    sine = next(e for e in entities if e["entity_id"] == "sensor.demo_sine")
    assert sine["platform"] == "demo" and sine["name"] is None

    renamed = await api.post("/api/config/entity_registry/sensor.demo_sine",
                             json={"name": "Outside wave"})
    assert (await renamed.json())["name"] == "Outside wave"
    state = host.states.get("sensor.demo_sine")
    assert state is not None and state.attributes["friendly_name"] == "Outside wave"

    moved = await api.post("/api/config/entity_registry/sensor.demo_sine",
                           json={"new_entity_id": "sensor.wave"})
    assert (await moved.json())["entity_id"] == "sensor.wave"
    assert host.entity_registry.get("sensor.wave") is not None

    wrong_domain = await api.post("/api/config/entity_registry/sensor.wave",
                                  json={"new_entity_id": "switch.wave"})
    assert wrong_domain.status == 400
    disabled = await api.post("/api/config/entity_registry/sensor.wave",
                              json={"disabled": True})
    assert (await disabled.json())["disabled_by"] == "user"
    assert (await api.post("/api/config/entity_registry/sensor.none", json={})).status == 404
    bad = await api.post("/api/config/entity_registry/sensor.wave", json={"disabled": "yes"})
    assert bad.status == 400
    assert "disabled" in (await bad.json())["message"]


async def test_device_registry_list_and_rename(api: Client, host: Host) -> None:
    devices = await (await api.get("/api/config/device_registry")).json()
    demo = next(d for d in devices if d["name"] == "Demo")
    assert demo["model"] == "Demo device"
    renamed = await api.post(f"/api/config/device_registry/{demo['id']}",
                             json={"name_by_user": "Test bench"})
    assert (await renamed.json())["name_by_user"] == "Test bench"
    device = host.device_registry.get(demo["id"])
    assert device is not None and device.name_by_user == "Test bench"
    assert (await api.post("/api/config/device_registry/nope", json={})).status == 404


async def test_areas_are_set_on_devices_and_entities(api: Client, host: Host) -> None:
    devices = await (await api.get("/api/config/device_registry")).json()
    demo = next(d for d in devices if d["name"] == "Demo")
    placed = await api.post(f"/api/config/device_registry/{demo['id']}",
                            json={"area_id": "test_bench"})
    assert (await placed.json())["area_id"] == "test_bench"
    own = await api.post("/api/config/entity_registry/sensor.demo_sine",
                         json={"area_id": "yard"})
    assert (await own.json())["area_id"] == "yard"
    entry = host.entity_registry.get("sensor.demo_sine")
    assert entry is not None and entry.area_id == "yard"
    cleared = await api.post("/api/config/entity_registry/sensor.demo_sine",
                             json={"area_id": None})
    assert (await cleared.json())["area_id"] is None
    bad = await api.post(f"/api/config/device_registry/{demo['id']}",
                         json={"area_id": "Boiler Room!"})
    assert bad.status == 400 and "area_id" in (await bad.json())["message"]


# -- check_config ------------------------------------------------------------------------


async def test_check_config(api: Client, host: Host) -> None:
    valid = await (await api.post("/api/config/core/check_config")).json()
    assert valid == {"result": "valid", "errors": None, "issues": []}
    path = host.config_dir / "configuration.yaml"
    path.write_text(path.read_text() + "http:\n  server_prot: 80\ndemoo: {}\n")
    invalid = await (await api.post("/api/config/core/check_config")).json()
    assert invalid["result"] == "invalid"
    messages = [i["message"] for i in invalid["issues"]]
    assert any("server_prot" in m and "server_port" in m for m in messages), messages
    assert any("demoo" in m for m in messages)
    assert invalid["issues"][0]["file"] == "configuration.yaml"
    assert invalid["issues"][0]["line"] is not None


# -- panels and metrics ------------------------------------------------------------------


async def test_panels_are_listed(api: Client) -> None:
    panels = await (await api.get("/api/panels")).json()
    assert panels == [{"name": "echo", "title": "Echo", "icon": "mdi:bullhorn",
                       "url": "/panels/echo/index.html", "kind": "html",
                       "require_admin": False}]
    page = await api.get("/panels/echo/index.html")
    assert page.status == 200
    assert "echo test plugin" in await page.text()
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert (await api.get("/panels/echo/../../manifest.json")).status == 404
    assert (await api.get("/panels/nope/index.html")).status == 404


async def test_metrics_report_the_figures(api: Client, bearer: dict[str, str],
                                          host: Host) -> None:
    await api.post("/api/services/echo/say", json={"text": "count me"})
    host.bus.listen("metrics_probe", lambda event: None)
    host.bus.listen("metrics_probe", lambda event: None)
    response = await api.get("/metrics", headers=bearer)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
             for line in text.splitlines() if line and not line.startswith("#")}
    assert lines["gatehouse_states"] == len(host.states)
    assert lines["gatehouse_bus_events_fired_total"] >= 1
    assert lines["gatehouse_service_calls_total"] == host.services.call_count >= 1
    assert lines['gatehouse_config_entries{state="loaded"}'] == 2
    assert lines['gatehouse_config_entries{state="setup_error"}'] == 0
    assert lines['gatehouse_entities{integration="demo"}'] == 3
    assert lines['gatehouse_entities{integration="echo"}'] == 1
    assert lines['gatehouse_bus_listeners{event_type="metrics_probe"}'] == 2
    assert "gatehouse_websocket_connections" in lines
    assert 'gatehouse_info{version="' in text


async def test_metrics_registry_takes_extra_gauges(api: Client, runtime: HttpRuntime) -> None:
    depth = [3]
    undo = runtime.metrics.gauge("gatehouse_outbox_pending", "Waiting messages",
                                 lambda: depth[0])
    by_target = runtime.metrics.gauge("gatehouse_outbox_sent", "Sent per target",
                                      lambda: {("mqtt",): 5, ("nats",): 2}, labels=["target"])
    with pytest.raises(ValueError, match="exists already"):
        runtime.metrics.gauge("gatehouse_states", "clash", lambda: 1)
    text = await (await api.get("/metrics")).text()
    assert "gatehouse_outbox_pending 3.0" in text
    assert 'gatehouse_outbox_sent{target="nats"} 2.0' in text
    undo()
    by_target()
    assert "gatehouse_outbox_pending" not in await (await api.get("/metrics")).text()


async def test_metrics_include_the_outbox(api: Client, host: Host) -> None:
    from collections.abc import Sequence

    from gatehouse.core.outbox import DeliveryOutcome, OutboxMessage, get_outbox

    class Refuse:
        async def send(self, batch: Sequence[OutboxMessage]) -> Sequence[DeliveryOutcome]:
            return [DeliveryOutcome.rejected("bad payload")] * len(batch)

    outbox = await get_outbox(host)
    host_undo = outbox.register_destination("metrics_sink", Refuse())
    await outbox.enqueue("metrics_sink", b"x")
    with anyio.fail_after(10):
        await outbox.wait_drained("metrics_sink")
    text = await (await api.get("/metrics")).text()
    host_undo()
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
             for line in text.splitlines() if line and not line.startswith("#")}
    assert lines['gatehouse_outbox_depth{destination="metrics_sink"}'] == 0
    assert lines['gatehouse_outbox_enqueued_total{destination="metrics_sink"}'] == 1
    assert lines['gatehouse_outbox_dead_lettered_total{destination="metrics_sink"}'] == 1
    assert lines['gatehouse_outbox_breaker_open{destination="metrics_sink"}'] == 0
