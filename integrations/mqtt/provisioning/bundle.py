"""The downloadable bundle of a provisioned device: one zip, made in memory.

``config.json`` (broker address, credentials, topics, limits), ``ca.pem`` when the
house CA exists (the broker's TLS listener is signed by it), and for a certificate
device its ``device.crt`` and ``device.key``. The zip is returned once with the
provisioning result and never stored: like the password, the bundle is shown once.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

#: Fixed timestamps make a bundle's bytes depend on its content only.
_EPOCH = (2020, 1, 1, 0, 0, 0)


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def device_config(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the device needs to connect and behave (the ``config.json``)."""
    config: dict[str, Any] = {
        "device": result["device"]["name"],
        "site": result["device"]["site"],
        "type": result["device"]["type"],
        "broker": dict(result["broker"]),
        "username": result["username"],
        "topics": dict(result["topics"]),
        "limits": {k: result["limits"][k] for k in ("max_qos", "retain")},
    }
    if result.get("password") is not None:
        config["password"] = result["password"]
    if result.get("certificate") is not None:
        config["certificate"] = "device.crt"
        config["key"] = "device.key"
    return config


def make_bundle(result: Mapping[str, Any], ca_pem: bytes | None) -> bytes:
    """The zip's bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        config = device_config(result)
        if ca_pem is not None:
            config["ca"] = "ca.pem"
            _add(archive, "ca.pem", ca_pem)
        cert = result.get("certificate")
        if cert is not None:
            _add(archive, "device.crt", cert["cert_pem"].encode("ascii"))
            _add(archive, "device.key", cert["key_pem"].encode("ascii"), 0o600)
        _add(archive, "config.json",
             json.dumps(config, indent=2).encode("utf-8"),
             0o600 if "password" in config else 0o644)
    return buffer.getvalue()
