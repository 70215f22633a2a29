"""The plugin manager: pluggy, entry-point discovery and lazy import of integrations.

One ``PluginManager`` per host, built by its constructor; importing Gatehouse never
loads a plugin. Discovery reads entry points and manifests only: a plugin module is
imported when its domain is configured (``load``), so a broken or slow integration that
nobody uses costs nothing.

``load`` returns the host's record of the plugin, ``LoadedIntegration``: the author's
object (``integration.Integration``) plus what the host read about it once, at load
(manifest, ``services.yaml``), so the lifecycle never goes back to the package files.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

import pluggy
import yaml

from . import hookspecs
from .exceptions import DependencyError, IntegrationNotFound, ManifestError
from .integration import Integration, YamlEntry
from .manifest import Manifest

if TYPE_CHECKING:
    from .config_entry import ConfigEntry
    from .config_flow import ConfigFlow, OptionsFlow
    from .host import Host

_LOGGER = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "gatehouse.integrations"

#: The file next to a plugin's ``__init__.py`` that describes its services.
SERVICES_YAML = "services.yaml"


@dataclass(frozen=True, slots=True)
class AvailableIntegration:
    """An integration found through an entry point, not imported yet."""

    domain: str
    module_name: str
    manifest: Manifest
    path: Path


@dataclass(frozen=True, slots=True)
class LoadedIntegration:
    """An integration the host has imported: the plugin loader's record of it.

    Holds the validated manifest, the object the plugin's ``gatehouse_integration``
    returned, and its ``services.yaml`` descriptions, read and checked once by
    ``PluginManager.load``: an entry that reloads a thousand times parses nothing, and
    a malformed file fails the load (naming the file) instead of every set-up.
    """

    domain: str
    manifest: Manifest
    integration: Integration
    module_name: str
    #: ``services.yaml``: service name -> description and fields (empty without a file).
    service_descriptions: Mapping[str, Any] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def config_schema(self) -> Any | None:
        return getattr(self.integration, "config_schema", None)

    @property
    def entry_version(self) -> int:
        return int(getattr(self.integration, "entry_version", 1))

    @property
    def config_flow(self) -> type[ConfigFlow] | None:
        return getattr(self.integration, "config_flow", None)

    @property
    def options_flow(self) -> Callable[[ConfigEntry[Any]], OptionsFlow] | None:
        """The integration's options-flow factory, if it lets entries be edited."""
        return getattr(self.integration, "options_flow", None)

    @property
    def migrate_entry(self) -> Callable[[Host, ConfigEntry[Any]], Awaitable[bool]] | None:
        """The integration's migration of older stored entries, if it has one."""
        return getattr(self.integration, "migrate_entry", None)

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]:
        """The entries a validated YAML section describes."""
        convert = getattr(self.integration, "entries_from_yaml", None)
        if convert is not None:
            return list(convert(config))
        data = dict(config) if isinstance(config, Mapping) else {"value": config}
        return [YamlEntry(unique_id=self.domain, title=self.manifest.name, data=data)]


class IntegrationUnusable(IntegrationNotFound):
    """The plugin for a domain is installed but cannot be used (its manifest is missing
    or invalid); ``reason`` says why, instead of a bare "not found"."""

    def __init__(self, domain: str, reason: str) -> None:
        super().__init__(domain)
        self.args = (f"integration {domain!r} is installed but unusable: {reason}",)
        self.reason = reason


class PluginManager:
    """Owns the pluggy manager and knows which integrations exist and which are loaded."""

    def __init__(self, *, group: str = ENTRY_POINT_GROUP) -> None:
        self._group = group
        self._pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._available: dict[str, AvailableIntegration] | None = None
        self._broken: dict[str, str] = {}
        self._loaded: dict[str, LoadedIntegration] = {}
        self._extra: dict[str, tuple[str, Path]] = {}

    @property
    def hook(self) -> Any:
        """pluggy's hook relay (``plugins.hook.gatehouse_diagnostics(host=...)``)."""
        return self._pm.hook

    @property
    def pluggy(self) -> pluggy.PluginManager:
        return self._pm

    # -- discovery ---------------------------------------------------------------

    def add_package(self, domain: str, module_name: str) -> None:
        """Make a package available without an entry point (tests, development)."""
        spec = importlib.util.find_spec(module_name)
        if spec is None or not spec.submodule_search_locations:
            raise IntegrationNotFound(domain)
        self._extra[domain] = (module_name, Path(next(iter(spec.submodule_search_locations))))
        self._available = None

    def available(self) -> dict[str, AvailableIntegration]:
        """Every integration that could be loaded, by domain (manifests validated).

        Integrations with a broken manifest are left out and reported by ``broken()``.
        """
        if self._available is None:
            self._available, self._broken = self._discover()
        return dict(self._available)

    def broken(self) -> dict[str, str]:
        """Domains whose entry point or manifest is broken, with the reason."""
        self.available()
        return dict(self._broken)

    def _discover(self) -> tuple[dict[str, AvailableIntegration], dict[str, str]]:
        found: dict[str, AvailableIntegration] = {}
        broken: dict[str, str] = {}
        candidates: list[tuple[str, str, Path | None]] = []
        for ep in _entry_points(self._group):
            candidates.append((ep.name, ep.value.partition(":")[0].strip(), None))
        for domain, (module_name, path) in self._extra.items():
            candidates.append((domain, module_name, path))
        for domain, module_name, given_path in candidates:
            try:
                path = given_path if given_path is not None else _package_path(module_name)
                if path.name != domain:
                    raise ManifestError(
                        domain, [f"package folder {path.name!r} does not match the domain"]
                    )
                manifest = Manifest.load(path / "manifest.json", expected_domain=domain)
            except Exception as err:  # noqa: BLE001 - one broken plugin must not hide the rest
                # find_spec imports the parent package, which may raise anything.
                _LOGGER.error("Integration %s is unusable: %s", domain, err)
                broken[domain] = str(err)
                continue
            if domain in found and found[domain].module_name != module_name:
                _LOGGER.warning(
                    "Two packages provide %s: %s and %s; using the first",
                    domain,
                    found[domain].module_name,
                    module_name,
                )
                continue
            found[domain] = AvailableIntegration(domain, module_name, manifest, path)
        return found, broken

    def suggest(self, domain: str) -> str | None:
        """The closest available domain to a misspelt one."""
        close = difflib.get_close_matches(domain, list(self.available()), n=1, cutoff=0.6)
        return close[0] if close else None

    # -- loading -----------------------------------------------------------------

    def loaded(self) -> dict[str, LoadedIntegration]:
        return dict(self._loaded)

    def load(self, domain: str) -> LoadedIntegration:
        """Import and register the plugin for ``domain`` (once) and return it."""
        if domain in self._loaded:
            return self._loaded[domain]
        available = self.available()
        if domain not in available:
            if domain in self._broken:
                reason = self._broken[domain]
                raise IntegrationUnusable(domain, reason) from ManifestError(domain, [reason])
            raise IntegrationNotFound(domain, self.suggest(domain))
        info = available[domain]
        module = importlib.import_module(info.module_name)
        registered_here = self._pm.get_plugin(domain) is None
        if registered_here:
            self._pm.register(module, name=domain)
        try:
            integration = self._integration_of(domain, module)
            descriptions = read_service_descriptions(domain, info.path)
        except BaseException:
            # A plugin that is not loaded must not receive broadcast hooks either.
            if registered_here:
                self._pm.unregister(module)
            raise
        loaded = LoadedIntegration(
            domain, info.manifest, integration, info.module_name, descriptions
        )
        self._loaded[domain] = loaded
        _LOGGER.debug("Loaded integration %s from %s", domain, info.module_name)
        return loaded

    def _integration_of(self, domain: str, module: ModuleType) -> Integration:
        impls = [
            impl
            for impl in self._pm.hook.gatehouse_integration.get_hookimpls()
            if impl.plugin is module
        ]
        if not impls:
            raise ManifestError(domain, ["the plugin does not implement gatehouse_integration"])
        integration = impls[0].function()
        if not isinstance(integration, Integration):
            raise ManifestError(
                domain, [f"gatehouse_integration returned {integration!r}, not an Integration"]
            )
        if integration.domain != domain:
            raise ManifestError(
                domain, [f"gatehouse_integration returned domain {integration.domain!r}"]
            )
        return integration

    def register(self, plugin: object, name: str) -> None:
        """Register a plugin that is not an integration (broadcast hooks only)."""
        self._pm.register(plugin, name=name)

    def unregister(self, name: str) -> None:
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin)

    # -- ordering ----------------------------------------------------------------

    def setup_order(self, domains: Iterable[str]) -> list[str]:
        """Domains plus their dependencies, dependencies first.

        ``dependencies`` must be available (else ``DependencyError``) and are added to
        the set; ``after_dependencies`` only order what is configured anyway. Cycles are
        an error naming the cycle.
        """
        available = self.available()
        wanted: set[str] = set()
        pending = list(domains)
        while pending:
            domain = pending.pop()
            if domain in wanted:
                continue
            if domain not in available:
                raise IntegrationNotFound(domain, self.suggest(domain))
            wanted.add(domain)
            for dep in available[domain].manifest.dependencies:
                if dep not in available:
                    why = "is broken" if dep in self._broken else "is not installed"
                    raise DependencyError(f"{domain} depends on {dep}, which {why}")
                pending.append(dep)
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(domain: str, trail: list[str]) -> None:
            mark = state.get(domain, 0)
            if mark == 2:
                return
            if mark == 1:
                cycle = " -> ".join([*trail[trail.index(domain) :], domain])
                raise DependencyError(f"dependency cycle: {cycle}")
            state[domain] = 1
            manifest = available[domain].manifest
            for dep in sorted({*manifest.dependencies, *manifest.after_dependencies}):
                if dep in wanted:
                    visit(dep, [*trail, domain])
            state[domain] = 2
            order.append(domain)

        for domain in sorted(wanted):
            visit(domain, [])
        return order


def read_service_descriptions(domain: str, package: Path) -> Mapping[str, Any]:
    """The ``services.yaml`` of the plugin package at ``package`` (empty if it has none).

    A file that cannot be read, is not YAML, or is not a mapping of service names is a
    ``ManifestError`` naming the file: the integration's declared metadata is broken,
    and the author must hear where rather than find the descriptions silently missing.
    """
    path = package / SERVICES_YAML
    try:
        with path.open(encoding="utf-8") as stream:  # the stream names the file in marks
            content = yaml.safe_load(stream)
    except FileNotFoundError:
        return MappingProxyType({})
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(domain, [f"{path} could not be read: {err}"]) from err
    except yaml.YAMLError as err:
        raise ManifestError(domain, [f"{path} is not valid YAML: {err}"]) from err
    if content is None:  # an empty file describes nothing
        return MappingProxyType({})
    if not isinstance(content, dict):
        raise ManifestError(
            domain,
            [f"{path} must map service names to descriptions, not {type(content).__name__}"],
        )
    return MappingProxyType(content)


def _entry_points(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def _package_path(module_name: str) -> Path:
    """Folder of a package, found without importing the package itself."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"{module_name} is not an importable package")
    return Path(next(iter(spec.submodule_search_locations)))
