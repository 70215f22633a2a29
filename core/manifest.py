"""``manifest.json``: what an integration is, before any of its code is imported.

The host reads manifests to list available integrations (CLI, web UI) and to order
set-up by ``dependencies`` without importing a single plugin module.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import voluptuous as vol

from .exceptions import ManifestError

_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION_RE = re.compile(r"^\d+(\.\d+){0,3}([a-z0-9.+-]*)$")


class IotClass(enum.StrEnum):
    """How an integration talks to its devices (Home Assistant's vocabulary)."""

    LOCAL_PUSH = "local_push"
    LOCAL_POLLING = "local_polling"
    CLOUD_PUSH = "cloud_push"
    CLOUD_POLLING = "cloud_polling"
    CALCULATED = "calculated"
    ASSUMED_STATE = "assumed_state"


def _domain(value: Any) -> str:
    if not isinstance(value, str) or not _DOMAIN_RE.match(value):
        raise vol.Invalid("expected a lower-case domain like 'my_device'")
    return value


def _version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION_RE.match(value):
        raise vol.Invalid("expected a version like '1.2.0'")
    return value


MANIFEST_SCHEMA = vol.Schema(
    {
        vol.Required("domain"): _domain,
        vol.Required("name"): vol.All(str, vol.Length(min=1)),
        vol.Required("version"): _version,
        vol.Required("iot_class"): vol.Coerce(IotClass),
        vol.Optional("dependencies", default=list): [_domain],
        vol.Optional("after_dependencies", default=list): [_domain],
        vol.Optional("requirements", default=list): [str],
        vol.Optional("config_flow", default=False): bool,
        vol.Optional("documentation"): str,
        vol.Optional("codeowners", default=list): [str],
        vol.Optional("quality_scale"): str,
    }
)


@dataclass(frozen=True, slots=True)
class Manifest:
    domain: str
    name: str
    version: str
    iot_class: IotClass
    dependencies: tuple[str, ...] = ()
    after_dependencies: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    config_flow: bool = False
    documentation: str | None = None
    codeowners: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Any, *, expected_domain: str) -> Manifest:
        """Validate ``raw``; the domain must equal the folder / entry-point name."""
        try:
            data = MANIFEST_SCHEMA(raw)
        except vol.MultipleInvalid as err:
            problems = [
                f"{'.'.join(map(str, e.path)) or 'manifest'}: {e.msg}" for e in err.errors
            ]
            raise ManifestError(expected_domain, problems) from err
        if data["domain"] != expected_domain:
            raise ManifestError(
                expected_domain,
                [f"domain is {data['domain']!r} but the folder/entry point is {expected_domain!r}"],
            )
        return cls(
            domain=data["domain"],
            name=data["name"],
            version=data["version"],
            iot_class=data["iot_class"],
            dependencies=tuple(data["dependencies"]),
            after_dependencies=tuple(data["after_dependencies"]),
            requirements=tuple(data["requirements"]),
            config_flow=data["config_flow"],
            documentation=data.get("documentation"),
            codeowners=tuple(data["codeowners"]),
        )

    @classmethod
    def load(cls, path: Path, *, expected_domain: str) -> Manifest:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(expected_domain, [missing_file_problem(path)]) from None
        except (OSError, ValueError) as err:  # unreadable, not UTF-8, not JSON
            raise ManifestError(expected_domain, [f"{path}: {err}"]) from err
        return cls.from_dict(raw, expected_domain=expected_domain)

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "name": self.name,
            "version": self.version,
            "iot_class": str(self.iot_class),
            "dependencies": list(self.dependencies),
            "after_dependencies": list(self.after_dependencies),
            "config_flow": self.config_flow,
            "documentation": self.documentation,
        }


def missing_file_problem(path: Path) -> str:
    """What to say when a package's ``manifest.json`` is not there.

    The usual cause is packaging, not the code: a wheel built without package data
    carries the ``.py`` files only, and an installed plugin then looked like no plugin
    at all ("unknown integration ... did you mean 'http'?").
    """
    return (
        f"{path.name} is missing from the installed package {path.parent} (was it built "
        "without its package data? manifest.json and services.yaml must be declared as "
        "package data; see 'Packaging' under 'Writing an integration' in the README)"
    )
