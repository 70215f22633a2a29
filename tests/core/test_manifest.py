"""manifest.json: validated before any plugin code is imported, every problem named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gatehouse.core.exceptions import ManifestError
from gatehouse.core.manifest import IotClass, Manifest
from gatehouse.core.plugins import PluginManager

MINIMAL: dict[str, Any] = {
    "domain": "thing",
    "name": "Thing",
    "version": "1.2.0",
    "iot_class": "local_push",
}


def test_minimal_manifest_gets_defaults() -> None:
    m = Manifest.from_dict(MINIMAL, expected_domain="thing")
    assert m.domain == "thing"
    assert m.iot_class is IotClass.LOCAL_PUSH
    assert m.dependencies == ()
    assert m.after_dependencies == ()
    assert m.requirements == ()
    assert m.codeowners == ()
    assert m.config_flow is False
    assert m.documentation is None


def test_full_manifest_round_trips_through_as_dict() -> None:
    raw = {
        **MINIMAL,
        "dependencies": ["demo"],
        "after_dependencies": ["mqtt"],
        "requirements": ["paho-mqtt>=2"],
        "config_flow": True,
        "documentation": "https://example.invalid/thing",
        "codeowners": ["@me"],
        "quality_scale": "silver",
    }
    m = Manifest.from_dict(raw, expected_domain="thing")
    assert m.dependencies == ("demo",)
    assert m.after_dependencies == ("mqtt",)
    assert m.requirements == ("paho-mqtt>=2",)
    out = m.as_dict()
    assert out["iot_class"] == "local_push"
    assert out["dependencies"] == ["demo"]
    assert json.loads(json.dumps(out)) == out  # JSON-able
    again = Manifest.from_dict({**out, "domain": "thing"}, expected_domain="thing")
    assert again.iot_class is m.iot_class
    assert again.dependencies == m.dependencies


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"domain": "Thing"}, "domain: expected a lower-case domain"),
        ({"domain": 3}, "domain: expected a lower-case domain"),
        ({"name": ""}, "name: length of value must be at least 1"),
        ({"version": "one"}, "version: expected a version like '1.2.0'"),
        ({"iot_class": "telepathy"}, "iot_class: expected IotClass"),
        ({"dependencies": "demo"}, "dependencies: expected a list"),
        ({"dependencies": ["Not A Domain"]}, "dependencies.0: expected a lower-case domain"),
        ({"config_flow": "yes"}, "config_flow: expected bool"),
        ({"unknown_key": 1}, "unknown_key: extra keys not allowed"),
    ],
)
def test_invalid_fields_are_named(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(ManifestError) as err:
        Manifest.from_dict({**MINIMAL, **change}, expected_domain="thing")
    assert err.value.domain == "thing"
    assert any(needle in problem for problem in err.value.problems), err.value.problems
    assert needle in str(err.value)


def test_every_missing_field_is_reported_at_once() -> None:
    with pytest.raises(ManifestError) as err:
        Manifest.from_dict({"domain": "thing"}, expected_domain="thing")
    missing = sorted(p.partition(":")[0] for p in err.value.problems)
    assert missing == ["iot_class", "name", "version"]


@pytest.mark.parametrize("raw", [None, [], "thing", 3])
def test_non_object_manifest(raw: Any) -> None:
    with pytest.raises(ManifestError, match="manifest: expected a dictionary"):
        Manifest.from_dict(raw, expected_domain="thing")


def test_domain_must_equal_the_expected_domain() -> None:
    with pytest.raises(ManifestError, match="domain is 'thing' but the folder/entry point is"):
        Manifest.from_dict(MINIMAL, expected_domain="other")


def test_every_iot_class_is_accepted() -> None:
    for iot in IotClass:
        assert Manifest.from_dict({**MINIMAL, "iot_class": str(iot)}, expected_domain="thing")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "is missing"),
        (b"{not json", "Expecting property name"),
        (b'{"name": "Caf\xe9"}', "utf-8"),  # not UTF-8: a ManifestError, not a crash
        ("dir", "manifest.json"),  # a directory where the file should be
    ],
)
def test_load_turns_file_problems_into_manifest_errors(
    tmp_path: Path, content: bytes | str | None, needle: str
) -> None:
    path = tmp_path / "manifest.json"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ManifestError) as err:
        Manifest.load(path, expected_domain="thing")
    assert needle in str(err.value)


def test_load_reads_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(MINIMAL), encoding="utf-8")
    assert Manifest.load(path, expected_domain="thing").name == "Thing"


@pytest.mark.parametrize("domain", ["demo", "echo"])
def test_shipped_and_third_party_manifests_are_valid(domain: str) -> None:
    info = PluginManager().available()[domain]
    assert info.manifest.domain == domain
    raw = json.loads((info.path / "manifest.json").read_text(encoding="utf-8"))
    assert Manifest.from_dict(raw, expected_domain=domain) == info.manifest
