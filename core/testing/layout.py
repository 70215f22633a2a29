"""The one integration layout, checked: Gatehouse's answer to Home Assistant's hassfest.

Four integrations once grew four shapes (runtime objects in ``__init__.py`` or
``runtime.py``, flows in ``flow.py`` or ``options.py``, exceptions rooted at
``Exception`` or ``GatehouseError``...). A newcomer reading one could not predict where
anything lived in the next. ``check_integration`` holds every integration to one shape,
so the shipped ones stay alike and a third-party author can run the same check in their
own tests::

    from gatehouse.core.testing import check_integration

    def test_layout():
        assert check_integration("my_pkg.mydevice") == []

The rules (the README's "Writing an integration" explains the why of each):

* ``manifest.json`` validates, its domain is the folder name, and its ``documentation``
  is a URL or ``README.md#anchor`` with the anchor present in the README;
* ``__init__.py`` has a docstring, the class ``<Domain>Integration``, ``INTEGRATION =
  <Domain>Integration()`` and the ``gatehouse_integration`` hookimpl, and defines no
  other class;
* ``const.py`` defines ``DOMAIN``;
* ``runtime.py`` defines ``<Domain>Runtime``, and ``setup_entry`` takes a
  ``ConfigEntry[<Domain>Runtime]``;
* entity classes live only in ``entity.py`` and the platform modules (``sensor.py``,
  ``binary_sensor.py``, ``switch.py``, ``number.py``, ``button.py``), each in the
  module of its platform;
* flows live in ``flow.py``; exceptions in ``errors.py``, each a ``GatehouseError``;
* services are registered only in ``services.py`` (its ``LOADED`` registers them), and
  ``services.yaml`` describes exactly the registered services, each with a description;
* the old shapes' module names (``entities.py``, ``options.py``, ``settings.py``,
  ``values.py``) do not exist; every module has a docstring.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..config_flow import ConfigFlow, OptionsFlow
from ..entity import Entity
from ..exceptions import GatehouseError
from ..host import Host
from ..loaded_entries import LoadedEntries
from ..manifest import Manifest
from ..platforms import PLATFORMS

FORBIDDEN_MODULES = ("entities", "options", "settings", "values")
ENTITY_MODULES = frozenset({"entity", *PLATFORMS})


def _camel(domain: str) -> str:
    return "".join(part.capitalize() for part in domain.split("_"))


def _anchors(readme: Path) -> set[str]:
    """Anchors of a Markdown file: explicit ``<a id="...">`` and GitHub heading slugs."""
    text = readme.read_text(encoding="utf-8")
    anchors = set(re.findall(r"""<a\s+(?:id|name)=["']([^"']+)["']""", text))
    for heading in re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")
        anchors.add(slug)
    return anchors


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package} is not an importable package")
    return Path(next(iter(spec.submodule_search_locations)))


class _Checker:
    def __init__(self, package: str, readme: Path | None) -> None:
        self.package = package
        self.path = _package_dir(package)
        self.domain = self.path.name
        self.readme = readme
        self.problems: list[str] = []
        self.modules = sorted(p.stem for p in self.path.glob("*.py"))

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    # -- files --------------------------------------------------------------------------

    def manifest(self) -> None:
        try:
            manifest = Manifest.load(self.path / "manifest.json", expected_domain=self.domain)
        except GatehouseError as err:
            self.problem("manifest.json", str(err))
            return
        docs = manifest.documentation
        if docs is None:
            self.problem("manifest.json", "no documentation link")
        elif not docs.startswith(("https://", "http://")):
            file, _, anchor = docs.partition("#")
            if self.readme is None or file != self.readme.name or not anchor:
                self.problem("manifest.json", f"documentation {docs!r} is not README.md#anchor")
            elif anchor not in _anchors(self.readme):
                self.problem(
                    "manifest.json", f"documentation anchor #{anchor} is not in {self.readme}"
                )

    def names(self) -> None:
        for name in FORBIDDEN_MODULES:
            if name in self.modules:
                self.problem(f"{name}.py", "an old shape: see the layout in the README")
        for required in ("__init__", "const", "runtime"):
            if required not in self.modules:
                self.problem(f"{required}.py", "missing")
        for name in self.modules:
            tree = ast.parse((self.path / f"{name}.py").read_text(encoding="utf-8"))
            if ast.get_docstring(tree) is None:
                self.problem(f"{name}.py", "no module docstring")

    # -- __init__.py ----------------------------------------------------------------------

    def init(self) -> None:
        if "__init__" not in self.modules:
            return
        tree = ast.parse((self.path / "__init__.py").read_text(encoding="utf-8"))
        wanted = f"{_camel(self.domain)}Integration"
        classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
        if wanted not in classes:
            self.problem("__init__.py", f"no class {wanted}")
        for other in classes:
            if other != wanted:
                self.problem("__init__.py", f"class {other} belongs in another module")
        assigned = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        value = assigned.get("INTEGRATION")
        if not (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == wanted
        ):
            self.problem("__init__.py", f"no INTEGRATION = {wanted}()")
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        hook = functions.get("gatehouse_integration")
        if hook is None or not any(
            isinstance(d, ast.Name) and d.id == "hookimpl" for d in hook.decorator_list
        ):
            self.problem("__init__.py", "no @hookimpl gatehouse_integration()")
        runtime = f"{_camel(self.domain)}Runtime"
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == wanted:
                for item in node.body:
                    if isinstance(item, ast.AsyncFunctionDef) and item.name == "setup_entry":
                        annotation = item.args.args[-1].annotation
                        text = ast.unparse(annotation) if annotation is not None else ""
                        if text != f"ConfigEntry[{runtime}]":
                            self.problem(
                                "__init__.py",
                                f"setup_entry's entry is {text or 'untyped'}, "
                                f"not ConfigEntry[{runtime}]",
                            )

    # -- what the modules define ----------------------------------------------------------

    def definitions(self) -> None:
        for name in self.modules:
            module_name = self.package if name == "__init__" else f"{self.package}.{name}"
            try:
                module = importlib.import_module(module_name)
            except Exception as err:  # noqa: BLE001 - reported, not raised: a check
                self.problem(f"{name}.py", f"does not import: {err!r}")
                continue
            for cls_name, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ != module_name:
                    continue
                self.place(name, cls_name, cls)
            if name == "const" and not hasattr(module, "DOMAIN"):
                self.problem("const.py", "no DOMAIN")
            if name == "runtime" and not hasattr(module, f"{_camel(self.domain)}Runtime"):
                self.problem("runtime.py", f"no class {_camel(self.domain)}Runtime")

    def place(self, module: str, name: str, cls: type[Any]) -> None:
        if issubclass(cls, Entity):
            platform = getattr(cls, "platform_domain", "")
            if module not in ENTITY_MODULES:
                home = f"{platform or 'entity'}.py"
                self.problem(f"{module}.py", f"entity class {name} belongs in {home}")
            elif module != "entity" and platform and platform != module:
                self.problem(f"{module}.py", f"{name} is a {platform} entity")
        elif issubclass(cls, BaseException):
            if module != "errors":
                self.problem(f"{module}.py", f"exception {name} belongs in errors.py")
            elif not issubclass(cls, GatehouseError):
                self.problem("errors.py", f"{name} is not rooted at GatehouseError")
        elif issubclass(cls, (ConfigFlow, OptionsFlow)) and module != "flow":
            self.problem(f"{module}.py", f"flow {name} belongs in flow.py")

    # -- services -------------------------------------------------------------------------

    def services(self) -> None:
        for name in self.modules:
            if name == "services":
                continue
            source = (self.path / f"{name}.py").read_text(encoding="utf-8")
            if re.search(r"\bservices\.register\(", source):
                self.problem(f"{name}.py", "registers a service: only services.py does")
        registered: set[str] = set()
        if "services" in self.modules:
            module = importlib.import_module(f"{self.package}.services")
            loaded = getattr(module, "LOADED", None)
            if not isinstance(loaded, LoadedEntries):
                self.problem("services.py", "no LOADED = LoadedEntries(...)")
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    host = Host(tmp)
                    undos = loaded.register_services(host)
                    registered = set(host.services.services().get(self.domain, {}))
                    for undo in undos:
                        undo()
        described: dict[str, Any] = {}
        yaml_path = self.path / "services.yaml"
        if yaml_path.exists():
            loaded_yaml = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
            described = loaded_yaml if isinstance(loaded_yaml, dict) else {}
        for service in sorted(registered - set(described)):
            self.problem("services.yaml", f"{self.domain}.{service} is not described")
        for service in sorted(set(described) - registered):
            self.problem("services.yaml", f"{service} is described but never registered")
        for service, text in sorted(described.items()):
            if not isinstance(text, dict) or not text.get("description"):
                self.problem("services.yaml", f"{service} has no description")

    def run(self) -> list[str]:
        self.manifest()
        self.names()
        self.init()
        self.definitions()
        self.services()
        return self.problems


def check_integration(package: str, *, readme: Path | None = None) -> list[str]:
    """Every way the integration ``package`` departs from the one layout (``[]``: none).

    ``package`` is its import name (``"gatehouse.integrations.mqtt"``); ``readme`` is
    the Markdown file its manifest's ``README.md#anchor`` documentation link must
    resolve in (without it, only URLs are accepted). Each problem reads
    ``"<file>: <what is wrong>"``.
    """
    return _Checker(package, readme).run()

