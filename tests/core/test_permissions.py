"""Roles and policies, and the service registry enforcing them for user calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import voluptuous as vol

from gatehouse.core import Context, Host
from gatehouse.core.permissions import SYSTEM, Permissions, Policy, Role, Unauthorized

pytestmark = pytest.mark.anyio


def test_admins_are_not_limited_by_a_policy() -> None:
    admin = Permissions.of("admin", {"read": ["sensor.x"], "services": []})
    assert admin.is_admin and admin.can_read("switch.y") and admin.can_control("switch.y")
    admin.check_call("mqtt", "publish", admin_only=True)
    assert admin.can_subscribe(None) and admin.can_subscribe("call_service")
    assert SYSTEM.is_admin


def test_a_user_reads_and_controls_what_the_policy_says() -> None:
    user = Permissions.of("user", {"read": ["sensor.*", "switch.pump"],
                                   "control": ["switch.pump"], "services": ["switch.*"]})
    assert user.can_read("sensor.tank") and not user.can_read("switch.valve")
    assert user.can_control("switch.pump") and not user.can_control("sensor.tank")
    user.check_call("switch", "turn_on", admin_only=False, entity_ids=["switch.pump"])
    with pytest.raises(Unauthorized, match=re.escape("switch.turn_on on switch.valve")):
        user.check_call("switch", "turn_on", admin_only=False, entity_ids=["switch.valve"])
    with pytest.raises(Unauthorized, match=re.escape("demo.reset_counter")):
        user.check_call("demo", "reset_counter", admin_only=False)
    with pytest.raises(Unauthorized, match="admin only"):
        user.check_call("switch", "turn_on", admin_only=True)


def test_control_defaults_to_read_and_the_defaults_allow_everything_a_role_allows() -> None:
    user = Permissions.of(Role.USER)
    assert user.can_read("anything.at_all") and user.can_control("anything.at_all")
    user.check_call("demo", "reset_counter", admin_only=False)
    narrowed = Permissions.of("user", {"read": ["sensor.*"]})
    assert narrowed.can_control("sensor.a") and not narrowed.can_control("switch.a")


def test_read_only_users_call_nothing() -> None:
    viewer = Permissions.of("read_only")
    assert viewer.can_read("sensor.tank") and not viewer.can_control("sensor.tank")
    with pytest.raises(Unauthorized, match="read-only"):
        viewer.check_call("switch", "toggle", admin_only=False, entity_ids=["switch.a"])


def test_non_admins_subscribe_to_the_safe_events_only() -> None:
    user = Permissions.of("user")
    assert user.can_subscribe("state_changed")
    assert not user.can_subscribe("call_service")  # carries every caller's data
    assert not user.can_subscribe(None)  # "everything"


def test_policies_validate_and_round_trip() -> None:
    policy = Policy.from_dict({"read": ["sensor.*"], "control": [], "services": ["switch.*"]})
    assert Policy.from_dict(policy.as_dict()) == policy
    with pytest.raises(vol.Invalid):
        Policy.from_dict({"read": ["Sensor Tank"]})
    with pytest.raises(vol.Invalid):
        Policy.from_dict({"bogus": []})


async def test_the_registry_checks_user_calls_and_never_system_calls(host: Host) -> None:
    calls: list[str] = []
    host.services.register("x", "open", lambda call: calls.append("open"))
    host.services.register("x", "raw", lambda call: calls.append("raw"), admin_only=True)
    users = {"u1": Permissions.of("user", {"services": ["x.open"]}, "u1"),
             "v1": Permissions.of("read_only", None, "v1")}
    host.services.set_permissions(users.get)

    await host.services.call("x", "open", context=Context(user_id="u1"))
    with pytest.raises(Unauthorized):
        await host.services.call("x", "raw", context=Context(user_id="u1"))
    with pytest.raises(Unauthorized):
        await host.services.call("x", "open", context=Context(user_id="v1"))
    with pytest.raises(Unauthorized, match="unknown user"):
        await host.services.call("x", "open", context=Context(user_id="deleted"))
    await host.services.call("x", "raw")  # no user: the system itself
    assert calls == ["open", "raw"]


async def test_entity_services_check_the_targets(host: Host) -> None:
    from gatehouse.core.testing import add_entry, state_of

    await add_entry(host, "demo", {"name": "Lab", "update_interval": 3600}, unique_id="lab")
    host.services.set_permissions(
        {"u": Permissions.of("user", {"read": ["sensor.*"]}, "u")}.get
    )
    with pytest.raises(Unauthorized, match=re.escape("switch.turn_off on switch.lab_switch")):
        await host.services.call("switch", "turn_off", {"entity_id": "switch.lab_switch"},
                                 context=Context(user_id="u"))
    assert state_of(host, "switch.lab_switch") == "on"


@pytest.mark.parametrize(
    ("domain", "admin_only", "for_users"),
    [
        ("mqtt", {"publish", "provision_device", "revoke_device", "delete_device"}, set()),
        ("nats", {"publish", "request"}, set()),
        ("influxdb", {"write"}, set()),
        ("aws_iot", {"publish"}, set()),
        ("schema_guard", {"replay", "purge", "query", "export"}, set()),
        ("modbus", {"write_register", "write_coil"}, set()),
        ("opcua", {"write", "read", "browse"}, set()),
        ("audit", {"checkpoint", "record"}, set()),
        ("demo", set(), {"reset_counter"}),
        ("template", {"reload"}, set()),  # re-reads configuration from disk
        ("automation", {"reload"}, {"trigger", "turn_on", "turn_off", "toggle"}),
        ("script", {"reload"}, {"turn_on", "turn_off", "toggle"}),
    ],
)
def test_raw_device_services_are_admin_only(
    tmp_path: Path, domain: str, admin_only: set[str], for_users: set[str]
) -> None:
    """Services that reach a broker or a device with no entity in between are refused
    to non-admins whatever their policy; entity-shaped ones are not."""
    import importlib

    from gatehouse.core import Host

    loaded = importlib.import_module(f"gatehouse.integrations.{domain}.services").LOADED
    host = Host(tmp_path)
    undos = loaded.register_services(host)
    try:
        flags = {name: svc.admin_only for name, svc in host.services.services()[domain].items()}
    finally:
        for undo in undos:
            undo()
    assert flags == {**dict.fromkeys(admin_only, True), **dict.fromkeys(for_users, False)}
