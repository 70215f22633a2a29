"""From a device-type template to a device's topics and its dynamic security ACLs.

Each device gets its own role (``gatehouse-dev-<username>``): Mosquitto 2.0's plugin has
no ``%u`` substitution in ACL topics, so a per-device topic needs a per-device role.
Its ACLs allow ``publishClientSend`` on the template's ``publish`` filters and
``subscribePattern`` on its ``subscribe`` filters, both below the device's root, and
deny publishing into its own command subtree (a device must not command itself; the
deny has the higher priority so ``root/#`` does not override it).

Every device is also in its type's group (``gatehouse-type-<type>``), whose role
denies everything (``#`` for publish and subscribe, lowest priority). The plugin checks
the client's own roles before its groups', so the device's allows win where they
match, and the group's deny catches the rest *whatever the broker's*
``defaultACLAccess`` *says*: an operator who opens the default for other clients does
not open it for devices.

What is **not** enforced by the plugin: ``max_qos`` and ``retain``. Mosquitto 2.0's
dynamic security ACLs match topics and usernames only (``acl.c`` never looks at QoS or
the retain flag). The broker can enforce them for everybody on a listener, not per
client: ``max_qos`` is a listener option (MQTT 5 clients are told in CONNACK, a client
publishing above it is disconnected; not reloaded on SIGHUP), and
``retain_available false`` is broker-wide. ``broker_enforcement`` says which listener
settings would enforce a set of templates; the bundle's ``config.json`` carries the
limits to the device, whose firmware is expected to follow them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import DeviceType
from .dynsec import acl

ROLE_PREFIX = "gatehouse-dev-"
GROUP_PREFIX = "gatehouse-type-"
CONFINE_SUFFIX = "-confine"


@dataclass(frozen=True, slots=True)
class DeviceTopics:
    """A device's topic root and the absolute filters it may use."""

    root: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    command: str  # root/cmd: where others send it commands

    def as_dict(self) -> dict[str, Any]:
        return {"root": self.root, "publish": list(self.publish),
                "subscribe": list(self.subscribe), "command": self.command}


def device_topics(template: DeviceType, site: str, device: str) -> DeviceTopics:
    root = template.topic_root.format(site=site, type=template.name, device=device)
    return DeviceTopics(
        root=root,
        publish=tuple(_under(root, f) for f in template.publish),
        subscribe=tuple(_under(root, f) for f in template.subscribe),
        command=f"{root}/cmd",
    )


def _under(root: str, relative: str) -> str:
    return root if relative == "" else f"{root}/{relative}"


def role_name(username: str) -> str:
    return f"{ROLE_PREFIX}{username}"


def group_name(device_type: str) -> str:
    return f"{GROUP_PREFIX}{device_type}"


def confine_role_name(device_type: str) -> str:
    return f"{GROUP_PREFIX}{device_type}{CONFINE_SUFFIX}"


def device_acls(topics: DeviceTopics) -> list[dict[str, Any]]:
    """The device role's ACLs (see the module docstring)."""
    acls = [acl("publishClientSend", f"{topics.command}/#", allow=False, priority=10)]
    acls += [acl("publishClientSend", f, priority=0) for f in topics.publish]
    acls += [acl("subscribePattern", f, priority=0) for f in topics.subscribe]
    return acls


def confine_acls() -> list[dict[str, Any]]:
    """The type group's role: deny what the device role does not allow."""
    return [acl("publishClientSend", "#", allow=False, priority=-100),
            acl("subscribePattern", "#", allow=False, priority=-100)]


def broker_enforcement(templates: Iterable[DeviceType]) -> dict[str, Any]:
    """What the broker itself can enforce for these templates, and how.

    ``max_qos``: the highest any template allows, for a devices-only listener;
    ``retain_available``: false only if no template allows retained messages (the
    option is broker-wide).
    """
    items = list(templates)
    highest = max((t.max_qos for t in items), default=2)
    any_retain = any(t.retain for t in items)
    # Comments on their own lines: mosquitto.conf has no trailing comments.
    lines = ["# on the devices' listener(s):", f"max_qos {highest}"]
    if not any_retain:
        lines += ["# broker-wide (no template retains):", "retain_available false"]
    return {
        "enforced_by_plugin": ["topics (publish, subscribe)"],
        "not_enforced_by_plugin": ["max_qos", "retain"],
        "listener_max_qos": highest,
        "retain_available": any_retain,
        "mosquitto_conf": "\n".join(lines),
    }
