"""``gatehouse.core.__all__`` is honest, and integrations use nothing else of the core."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest

from gatehouse import core

#: Besides the names in ``gatehouse.core.__all__``, integrations may use these modules:
#: pure helpers, and the web server's plugin surface (``RouteDef``, ``Panel``,
#: ``USER_KEY``: the hookspecs send plugin authors to ``gatehouse.core.http``).
ALLOWED_MODULES = {
    "gatehouse.core.util",
    "gatehouse.core.http",
    "gatehouse.core.outbox",
    "gatehouse.core.template",
}


def _ruff_isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else."""
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def test_all_names_resolve() -> None:
    missing = [name for name in core.__all__ if not hasattr(core, name)]
    assert missing == []


def test_all_has_no_duplicates_and_is_sorted() -> None:
    assert len(core.__all__) == len(set(core.__all__))
    assert core.__all__ == sorted(core.__all__, key=_ruff_isort_key)


def test_all_matches_what_the_package_exports() -> None:
    """Every public non-module name of the package is in ``__all__`` and vice versa."""
    public = {
        name
        for name, value in vars(core).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(core.__all__) - {"__version__"}


def test_star_import_gives_exactly_all() -> None:
    proc = subprocess.run(
        [sys.executable, "-c",
         "ns = {}; exec('from gatehouse.core import *', ns); ns.pop('__builtins__');"
         "print(sorted(ns))"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(sorted(core.__all__))


def test_exported_classes_are_defined_in_the_core() -> None:
    """Names in ``__all__`` come from core modules (not re-exported third-party objects)."""
    for name in core.__all__:
        value = getattr(core, name)
        module = getattr(value, "__module__", None)
        if module is not None and isinstance(value, type):
            assert module.startswith("gatehouse.core"), (name, module)


# -- what integrations may import ------------------------------------------------------


def core_imports_outside_public_api(source: str) -> list[str]:
    """Every ``gatehouse`` import in ``source`` that is not public API, as text."""
    public = set(core.__all__)
    bad: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            bad.extend(
                f"import {alias.name}"
                for alias in node.names
                if alias.name.split(".")[0] == "gatehouse" and alias.name not in ALLOWED_MODULES
            )
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "gatehouse" or node.module in ALLOWED_MODULES:
                continue
            if node.module == "gatehouse.core":
                bad.extend(
                    f"from gatehouse.core import {alias.name}"
                    for alias in node.names
                    if alias.name not in public
                )
            else:
                bad.append(f"from {node.module} import ...")
    return bad


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from gatehouse.core import Host, hookimpl\nfrom gatehouse.core.util import slugify", []),
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


@pytest.mark.parametrize("module_name", [*SHIPPED, "gatehouse_testplugin.echo"])
def test_integrations_use_only_the_public_api(module_name: str) -> None:
    files = sorted(_package_dir(module_name).rglob("*.py"))
    assert files, module_name
    offences = {
        str(path): bad
        for path in files
        if (bad := core_imports_outside_public_api(path.read_text(encoding="utf-8")))
    }
    assert offences == {}
