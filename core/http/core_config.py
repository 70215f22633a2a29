"""Where the host is and which units it uses: the ``gatehouse:`` keys Home Assistant
clients read from ``GET /api/config`` and ``get_config``.

Configured in the ``gatehouse:`` block of ``configuration.yaml`` (``LOCATION_FIELDS``,
merged into ``CORE_SCHEMA``)::

    gatehouse:
      latitude: 52.37          # default 0.0
      longitude: 4.89          # default 0.0
      elevation: 2             # metres, default 0
      time_zone: Europe/Amsterdam   # default: the system's zone, else UTC
      unit_system: metric      # or us_customary
      allowlist_external_dirs: [/srv/exports]
      allowlist_external_urls: [https://example.com/]

Versions, one pair everywhere: ``version`` is the Home Assistant release whose API this
server follows (``websocket.HA_PROTOCOL_VERSION``, the same as the WebSocket's
``ha_version``: clients compare it to pick features), ``gatehouse_version`` is
Gatehouse's own. No aiohttp here: bootstrap imports the schema.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Final

import voluptuous as vol

#: The Home Assistant release whose REST and WebSocket APIs this server follows. Clients
#: such as home-assistant-js-websocket pick code paths by it (from 2022.4
#: ``subscribe_entities``, from 2022.9 ``coalesce_messages``).
HA_PROTOCOL_VERSION: Final = "2025.1.0"

#: Home Assistant's unit systems, as ``/api/config`` spells them.
UNIT_SYSTEMS: Final[dict[str, dict[str, str]]] = {
    "metric": {
        "accumulated_precipitation": "mm", "area": "m²", "length": "km", "mass": "g",
        "pressure": "Pa", "temperature": "°C", "volume": "L", "wind_speed": "m/s",
    },
    "us_customary": {
        "accumulated_precipitation": "in", "area": "ft²", "length": "mi", "mass": "lb",
        "pressure": "psi", "temperature": "°F", "volume": "gal", "wind_speed": "mph",
    },
}


def _time_zone(value: Any) -> str:
    """An IANA zone name this system knows (zoneinfo), so a typo fails at load."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = str(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise vol.Invalid(f"unknown time zone {name!r} (an IANA name such as "
                          "Europe/Berlin)") from err
    return name


def _absolute_dir(value: Any) -> str:
    path = str(value)
    if not os.path.isabs(path):
        raise vol.Invalid(f"{path!r} is not an absolute path")
    return path


def _url_prefix(value: Any) -> str:
    url = str(value)
    if not url.startswith(("http://", "https://")):
        raise vol.Invalid(f"{url!r} is not an http(s) URL")
    return url


#: The ``gatehouse:`` keys for location and units (merged into bootstrap's CORE_SCHEMA).
LOCATION_FIELDS: Final[dict[Any, Any]] = {
    vol.Optional("latitude", default=0.0): vol.All(vol.Coerce(float), vol.Range(-90, 90)),
    vol.Optional("longitude", default=0.0): vol.All(vol.Coerce(float), vol.Range(-180, 180)),
    vol.Optional("elevation", default=0): vol.All(vol.Coerce(int), vol.Range(-500, 9000)),
    vol.Optional("time_zone"): _time_zone,
    vol.Optional("unit_system", default="metric"): vol.In(sorted(UNIT_SYSTEMS)),
    vol.Optional("allowlist_external_dirs", default=list): vol.All(
        [_absolute_dir], vol.Length(max=100)),
    vol.Optional("allowlist_external_urls", default=list): vol.All(
        [_url_prefix], vol.Length(max=100)),
}


def system_time_zone() -> str:
    """The system's IANA zone (``TZ``, /etc/timezone, /etc/localtime's link), else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    try:
        link = os.readlink("/etc/localtime")
        candidates.append(link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "")
    except (OSError, IndexError):
        pass
    for name in candidates:
        if name:
            try:
                return _time_zone(name)
            except vol.Invalid:
                continue
    return "UTC"


def core_config(host: Any) -> dict[str, Any]:
    """Home Assistant's ``/api/config`` body (without the caller-specific keys)."""
    from ..const import CORE_DOMAIN, __version__

    core: dict[str, Any] = dict(host.config.get(CORE_DOMAIN) or {})
    unit_system = core.get("unit_system") or "metric"
    dirs = list(core.get("allowlist_external_dirs") or [])
    return {
        "location_name": core.get("name", "Gatehouse"),
        "latitude": float(core.get("latitude", 0.0)),
        "longitude": float(core.get("longitude", 0.0)),
        "elevation": int(core.get("elevation", 0)),
        "radius": 100,
        "unit_system": dict(UNIT_SYSTEMS.get(unit_system, UNIT_SYSTEMS["metric"])),
        "time_zone": core.get("time_zone") or system_time_zone(),
        "components": sorted(host.plugins.loaded()),
        "config_dir": str(host.config_dir),
        "allowlist_external_dirs": dirs,
        "whitelist_external_dirs": dirs,  # HA's old name, still read by some clients
        "allowlist_external_urls": list(core.get("allowlist_external_urls") or []),
        "version": HA_PROTOCOL_VERSION,
        "gatehouse_version": __version__,
        "config_source": "storage",
        "recovery_mode": False,
        "safe_mode": False,
        "state": str(host.state).upper(),  # HA spells it RUNNING
        "external_url": None,
        "internal_url": None,
        "currency": "EUR",
        "country": None,
        "language": "en",
    }
