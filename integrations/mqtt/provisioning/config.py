"""The ``provisioning:`` block of an mqtt entry and its device-type templates.

An mqtt entry whose broker runs Mosquitto's dynamic security plugin may carry::

    mqtt:
      broker: 10.0.0.2
      username: gatehouse-admin        # a dynsec client with the plugin's admin role
      password: !secret mqtt_admin
      provisioning:
        address: mqtt.plant.example    # what devices connect to (default: broker)
        port: 1883                     # password devices (default: the entry's port)
        tls_port: 8883                 # certificate devices (Mosquitto's TLS listener)
        crl_file: /etc/mosquitto/gatehouse-crl.pem   # rewritten on every revocation
        broker_pid_file: /run/mosquitto/mosquitto.pid  # SIGHUP after it (re-reads CRL)
        request_timeout: 5
        device_types:
          sensor: {max_qos: 1, retain: false}
          valve: {max_qos: 2, retain: true, subscribe: ["cmd/#", "config"]}

A device type is a template: its topics are relative to ``topic_root``
(``site/{site}/{type}/{device}`` by default), so a ``sensor`` named ``t1`` at site
``north`` may publish under ``site/north/sensor/t1/#`` and subscribe to
``site/north/sensor/t1/cmd/#`` only. ``max_qos`` and ``retain`` are *not* enforced by
the dynamic security plugin (Mosquitto 2.0's ACLs know topics only); see
``templates.py`` for what is enforced where.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import voluptuous as vol

CONF_PROVISIONING: Final = "provisioning"

#: Names of devices, sites and types: one topic level, no wildcards, no ``$`` start,
#: usable as a certificate CN and a file name.
NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_TOPIC_ROOT: Final = "site/{site}/{type}/{device}"
DEFAULT_TIMEOUT: Final = 5.0


def valid_name(value: Any) -> str:
    """A device, site or type name (``NAME_RE``)."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise vol.Invalid(
            "expected 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return value


def _relative(value: Any) -> str:
    """A topic or filter below the device's root: no leading '/', wildcards whole."""
    if not isinstance(value, str) or not value or value.startswith("/") or "\0" in value:
        raise vol.Invalid("expected a topic filter relative to the device's topic root")
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise vol.Invalid("'#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise vol.Invalid("'+' must be a whole level")
    return value


def _topic_root(value: Any) -> str:
    if not isinstance(value, str) or "{device}" not in value:
        raise vol.Invalid("topic_root must contain {device}, so each device gets its own")
    if "+" in value or "#" in value or value.startswith(("/", "$")):
        raise vol.Invalid("topic_root must not hold wildcards or start with '/' or '$'")
    try:
        value.format(site="s", type="t", device="d")
    except (KeyError, IndexError, ValueError) as err:
        raise vol.Invalid(
            f"topic_root may only use {{site}}, {{type}} and {{device}} ({err})"
        ) from None
    return value


DEVICE_TYPE_SCHEMA = vol.Schema(
    {
        vol.Optional("description", default=""): str,
        vol.Optional("topic_root", default=DEFAULT_TOPIC_ROOT): _topic_root,
        vol.Optional("publish", default=["#"]): vol.All([_relative], vol.Length(min=1)),
        vol.Optional("subscribe", default=["cmd/#"]): [_relative],
        vol.Optional("max_qos", default=1): vol.All(vol.Coerce(int), vol.In([0, 1, 2])),
        vol.Optional("retain", default=False): bool,
    }
)

#: When the block names no types: a sensor (telemetry out, commands in) and an
#: actuator (QoS 2 commands, retained state).
DEFAULT_DEVICE_TYPES: Final[dict[str, dict[str, Any]]] = {
    "sensor": {"description": "Publishes telemetry; takes commands", "max_qos": 1,
               "retain": False},
    "actuator": {"description": "Takes commands; publishes retained state", "max_qos": 2,
                 "retain": True},
}


def _types(value: Any) -> dict[str, dict[str, Any]]:
    if value is None:
        value = DEFAULT_DEVICE_TYPES
    if not isinstance(value, Mapping) or not value:
        raise vol.Invalid("expected a mapping of device type names to templates")
    out: dict[str, dict[str, Any]] = {}
    for name, template in value.items():
        try:
            out[valid_name(name)] = dict(DEVICE_TYPE_SCHEMA(template or {}))
        except vol.Invalid as err:
            raise vol.Invalid(err.msg, path=[name, *err.path]) from None
    return out


PROVISIONING_SCHEMA = vol.Schema(
    {
        vol.Optional("address"): vol.All(str, vol.Length(min=1)),
        vol.Optional("port"): vol.All(vol.Coerce(int), vol.Range(min=1, max=65535)),
        vol.Optional("tls_port", default=8883): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)),
        vol.Optional("crl_file"): str,
        vol.Optional("broker_pid_file"): str,
        vol.Optional("request_timeout", default=DEFAULT_TIMEOUT): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=60)),
        vol.Optional("device_types", default=None): _types,
    }
)


@dataclass(frozen=True, slots=True)
class DeviceType:
    """One template (``DEVICE_TYPE_SCHEMA``), named."""

    name: str
    description: str
    topic_root: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    max_qos: int
    retain: bool

    @classmethod
    def from_config(cls, name: str, raw: Mapping[str, Any]) -> DeviceType:
        return cls(name, raw["description"], raw["topic_root"], tuple(raw["publish"]),
                   tuple(raw["subscribe"]), int(raw["max_qos"]), bool(raw["retain"]))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "topic_root": self.topic_root, "publish": list(self.publish),
                "subscribe": list(self.subscribe), "max_qos": self.max_qos,
                "retain": self.retain}


@dataclass(frozen=True, slots=True)
class ProvisioningSettings:
    """The validated block, with the entry's broker and port as defaults."""

    address: str
    port: int
    tls_port: int
    crl_file: str | None
    broker_pid_file: str | None
    request_timeout: float
    device_types: Mapping[str, DeviceType]

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], broker: str, port: int
                    ) -> ProvisioningSettings:
        return cls(
            address=raw.get("address") or broker,
            port=int(raw.get("port") or port),
            tls_port=int(raw["tls_port"]),
            crl_file=raw.get("crl_file"),
            broker_pid_file=raw.get("broker_pid_file"),
            request_timeout=float(raw["request_timeout"]),
            device_types={name: DeviceType.from_config(name, t)
                          for name, t in raw["device_types"].items()},
        )
