"""The public surfaces are honest, and integrations use nothing else of the core.

An integration author reads four modules, each with an ``__all__`` kept honest here:

* ``gatehouse.core``: the domain model (host, entities, entries, flows, services);
* ``gatehouse.core.helpers``: building blocks (payloads, backoff, outbox, forms...);
* ``gatehouse.core.http``: what a plugin adds to the web server (``RouteDef``, ``Panel``);
* ``gatehouse.core.testing``: the test kit (a pytest plugin), for tests only.

There is no allow-list of internal modules: a name an integration needs is made public
on one of these surfaces, or the integration does without it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

#: Modules integrations may import from, by name; each exports exactly ``__all__``.
SURFACES = ("gatehouse.core", "gatehouse.core.helpers", "gatehouse.core.http")
#: Test code may also import the test kit.
TEST_SURFACES = (*SURFACES, "gatehouse.core.testing")

#: Names that ``__all__`` lists but that are not defined in the core itself.
_FOREIGN_OK = {"__version__"}


def _ruff_isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else."""
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def _surface(name: str) -> types.ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("name", TEST_SURFACES)
def test_all_names_resolve(name: str) -> None:
    module = _surface(name)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


@pytest.mark.parametrize("name", TEST_SURFACES)
def test_all_has_no_duplicates_and_is_sorted(name: str) -> None:
    module = _surface(name)
    assert len(module.__all__) == len(set(module.__all__))
    assert module.__all__ == sorted(module.__all__, key=_ruff_isort_key)


@pytest.mark.parametrize("name", [n for n in TEST_SURFACES if n != "gatehouse.core.http"])
def test_all_matches_what_the_package_exports(name: str) -> None:
    """Every public non-module name of the surface is in ``__all__`` and vice versa.

    (``gatehouse.core.http`` is a package of the server too: only its ``__all__`` is the
    plugin surface, its other public names are the server's own.)
    """
    module = _surface(name)
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(module.__all__) - _FOREIGN_OK


@pytest.mark.parametrize("name", TEST_SURFACES)
def test_star_import_gives_exactly_all(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c",
         f"ns = {{}}; exec('from {name} import *', ns); ns.pop('__builtins__');"
         "print(sorted(ns))"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(sorted(_surface(name).__all__))


@pytest.mark.parametrize("name", TEST_SURFACES)
def test_exported_classes_are_defined_in_the_core(name: str) -> None:
    """Names in ``__all__`` come from core modules (not re-exported third-party objects)."""
    module = _surface(name)
    for n in module.__all__:
        value = getattr(module, n)
        owner = getattr(value, "__module__", None)
        if owner is not None and isinstance(value, type):
            assert owner.startswith("gatehouse.core"), (n, owner)


def test_no_name_is_public_on_two_surfaces() -> None:
    """One home per name, so an author never wonders which import is the real one."""
    seen: dict[str, str] = {}
    clashes = []
    for name in TEST_SURFACES:
        for n in _surface(name).__all__:
            if n in seen:
                clashes.append((n, seen[n], name))
            seen[n] = name
    assert clashes == []


# -- what integrations may import ------------------------------------------------------


def core_imports_outside_public_api(
    source: str, surfaces: tuple[str, ...] = SURFACES, apis: frozenset[str] = frozenset()
) -> list[str]:
    """Every ``gatehouse`` import in ``source`` that is not public API, as text.

    ``apis`` are modules of other integrations this one may use (the ``api`` module of
    each integration it depends on: the documented surface an integration publishes).
    """
    exported = {name: set(_surface(name).__all__) for name in surfaces}
    bad: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            bad.extend(
                f"import {alias.name}"
                for alias in node.names
                if alias.name.split(".")[0] == "gatehouse"
                and alias.name not in surfaces and alias.name not in apis
            )
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "gatehouse" or node.module in apis:
                continue
            if node.module in exported:
                bad.extend(
                    f"from {node.module} import {alias.name}"
                    for alias in node.names
                    if alias.name not in exported[node.module]
                )
            else:
                bad.append(f"from {node.module} import ...")
    return bad


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from gatehouse.core import Host, hookimpl\nfrom gatehouse.core.helpers import slugify",
         []),
        ("from gatehouse.core.util import slugify", ["from gatehouse.core.util import ..."]),
        ("from gatehouse.core.helpers import Host", ["from gatehouse.core.helpers import Host"]),
        ("from gatehouse.core.outbox import Outbox", ["from gatehouse.core.outbox import ..."]),
        ("from gatehouse.integrations.mqtt.api import MQTT_API",
         ["from gatehouse.integrations.mqtt.api import ..."]),
        ("from .const import DOMAIN\nimport voluptuous as vol", []),
        ("from gatehouse.core.host import Host", ["from gatehouse.core.host import ..."]),
        ("from gatehouse.core import PluginManager", ["from gatehouse.core import PluginManager"]),
        ("import gatehouse.core.bus", ["import gatehouse.core.bus"]),
        ("from gatehouse import core", ["from gatehouse import ..."]),
        ("def f():\n    from gatehouse.core.states import State", [
            "from gatehouse.core.states import ..."
        ]),
    ],
)
def test_the_import_checker_itself(source: str, expected: list[str]) -> None:
    assert core_imports_outside_public_api(source) == expected


def _package_dir(module_name: str) -> Path:
    spec = importlib.util.find_spec(module_name)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


#: Every shipped integration (a folder with a manifest) plus the third-party test plugin.
SHIPPED = sorted(
    f"gatehouse.integrations.{path.parent.name}"
    for path in (Path(__file__).resolve().parents[2] / "integrations").glob("*/manifest.json")
)


def _apis_of(package: Path) -> frozenset[str]:
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    return frozenset(
        f"gatehouse.integrations.{dep}.api" for dep in manifest.get("dependencies", [])
    )


@pytest.mark.parametrize("module_name", [*SHIPPED, "gatehouse_testplugin.echo"])
def test_integrations_use_only_the_public_api(module_name: str) -> None:
    package = _package_dir(module_name)
    files = sorted(package.rglob("*.py"))
    assert files, module_name
    apis = _apis_of(package) | {f"{module_name}.api"}  # its own api module, absolutely
    offences = {
        str(path): bad
        for path in files
        if (bad := core_imports_outside_public_api(path.read_text(encoding="utf-8"),
                                                   apis=apis))
    }
    assert offences == {}


def test_tests_of_plugins_use_only_the_public_surfaces_and_the_kit() -> None:
    """The third-party plugin's own tests are written as an outside author would."""
    root = Path(__file__).resolve().parents[1] / "plugin_pkg" / "tests"
    files = sorted(root.rglob("*.py"))
    assert files
    offences = {
        str(path): bad
        for path in files
        if (bad := core_imports_outside_public_api(path.read_text(encoding="utf-8"),
                                                   TEST_SURFACES))
    }
    assert offences == {}
