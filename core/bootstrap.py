"""Start-up: from a config directory to a running set of config entries.

Order matters and is kept here in one readable function:

1. storage (registries, stored entries) is loaded;
2. ``configuration.yaml`` is loaded and every section validated — all problems are
   reported, and a section with problems leaves its entries as they were (a typo must
   not delete an appliance's configuration);
3. valid YAML sections become ``import`` entries (added, updated or removed);
4. every enabled entry is set up, dependencies first; failures stay contained in their
   entry;
5. the web server starts if ``http:`` is configured (last, so that plugins loaded for
   the entries above can add their routes); if it cannot listen (port taken, bad
   certificate) the start fails: a host must not run on without the UI it is
   configured with.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import voluptuous as vol

from .config import ConfigIssue, ConfigResult, check_config
from .const import CORE_DOMAIN
from .control import ControlServer
from .crypto.hostcipher import ENCRYPTION_SCHEMA
from .exceptions import GatehouseError
from .http.config import HTTP_DOMAIN, HTTP_SCHEMA
from .http.core_config import LOCATION_FIELDS
from .lockfile import ConfigDirLock
from .logging_setup import REDACTOR
from .platforms import register_platform_services
from .storage import make_private_dir
from .template.budget import TEMPLATE_LIMITS_SCHEMA

if TYPE_CHECKING:
    from .host import Host
    from .plugins import PluginManager

_LOGGER = logging.getLogger(__name__)

CONFIG_FILE = "configuration.yaml"
DEFAULT_CONFIG = Path(__file__).parent / "default_config" / CONFIG_FILE

CORE_SCHEMA = vol.Schema(
    {
        vol.Optional("name", default="Gatehouse"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("stop_timeout"): vol.All(
            vol.Coerce(float), vol.Range(min=0.5, max=600)
        ),
        vol.Optional("entry_retry"): vol.Schema(
            {
                vol.Optional("base", default=2.0): vol.All(
                    vol.Coerce(float), vol.Range(min=0.001, max=3600)
                ),
                vol.Optional("cap", default=300.0): vol.All(
                    vol.Coerce(float), vol.Range(min=0.001, max=86400)
                ),
            }
        ),
        vol.Optional("control_socket", default=True): bool,
        # The budget of every template render (steps, seconds, size): see SECURITY.md.
        vol.Optional("templates"): TEMPLATE_LIMITS_SCHEMA,
        # Tag encryption of sensitive entities (README "Tag encryption").
        vol.Optional("encryption"): ENCRYPTION_SCHEMA,
        # Location, time zone, units, allowlists: what HA clients read from /api/config.
        **LOCATION_FIELDS,
    }
)

#: Top-level keys configured by the core itself rather than by a plugin (besides
#: ``gatehouse:``): their schemas, validated like any integration's section.
BUILTIN_SCHEMAS: dict[str, Any] = {HTTP_DOMAIN: HTTP_SCHEMA}


def ensure_config_dir(config_dir: Path) -> None:
    """Create ``config_dir`` with the default configuration if it has none."""
    config_dir.mkdir(parents=True, exist_ok=True)
    target = config_dir / CONFIG_FILE
    if not target.exists():
        shutil.copyfile(DEFAULT_CONFIG, target)
        _LOGGER.info("Wrote a default %s", target)


def load_configuration(config_dir: Path, plugins: PluginManager) -> ConfigResult:
    """Load and validate ``configuration.yaml``, importing only configured plugins.

    ``check_config`` asks for a domain's schema only when that domain appears in the
    file, so the lazy mapping below imports exactly the configured plugins; a plugin
    that fails to import becomes an issue of its section. Blocking (file I/O, imports):
    call it in a worker thread from the loop.
    """
    return check_config(config_dir, _LazySchemas(plugins), core_schema=CORE_SCHEMA)


class _LazySchemas(Mapping[str, Any]):
    """Domain → YAML schema, loading a plugin only when its schema is asked for."""

    def __init__(self, plugins: PluginManager) -> None:
        self._plugins = plugins
        self._available = plugins.available()
        # Installed but unusable (manifest missing or invalid): known, so that the
        # section's problem is the reason, not "unknown integration (did you mean...)".
        self._broken = plugins.broken()

    def __getitem__(self, domain: str) -> Any:
        if domain in BUILTIN_SCHEMAS:
            return BUILTIN_SCHEMAS[domain]
        if domain in self._broken and domain not in self._available:
            return _unusable(domain, self._broken[domain])
        if domain not in self._available:
            raise KeyError(domain)
        loaded = self._plugins.load(domain)
        return loaded.config_schema or _no_yaml(domain)

    def _known(self) -> dict[str, Any]:
        return {**self._broken, **self._available, **BUILTIN_SCHEMAS}

    def __iter__(self) -> Iterator[str]:
        return iter(self._known())

    def __len__(self) -> int:
        return len(self._known())

    def __contains__(self, domain: object) -> bool:
        return domain in self._available or domain in BUILTIN_SCHEMAS or domain in self._broken


def _unusable(domain: str, reason: str) -> Any:
    def refuse(value: Any) -> Any:
        raise vol.Invalid(f"integration {domain} is installed but unusable: {reason}")

    return refuse


def _no_yaml(domain: str) -> Any:
    def refuse(value: Any) -> Any:
        raise vol.Invalid(f"{domain} cannot be configured in YAML; add it in the web UI")

    return refuse


async def async_setup_host(host: Host) -> None:
    """Bring a host from constructed to running (see the module docstring)."""
    await anyio.to_thread.run_sync(make_private_dir, host.storage_dir)
    lock = ConfigDirLock(host.config_dir)
    lock.acquire()
    host.on_shutdown(lock.release)  # registered first, so released last
    await host.device_registry.load()
    await host.entity_registry.load()
    await host.config_entries.load()
    register_platform_services(host)

    result = await anyio.to_thread.run_sync(load_configuration, host.config_dir, host.plugins)
    REDACTOR.add(result.secret_values)
    for issue in result.issues:
        _LOGGER.error("Invalid config: %s", issue)
    host.config = dict(result.config)
    if CORE_DOMAIN not in host.config and _section_has_issues(result.issues, CORE_DOMAIN):
        await _encryption_fail_closed(host)
    core = host.config.get(CORE_DOMAIN) or CORE_SCHEMA({})
    # Only what the YAML states overrides the host's own settings (tests tune them).
    if "stop_timeout" in core:
        host.stop_timeout = core["stop_timeout"]
    if "entry_retry" in core:
        from .config_entries import DEFAULT_RETRY

        retry = core["entry_retry"]
        host.config_entries.retry_policy = dataclasses.replace(
            DEFAULT_RETRY, initial=retry["base"], maximum=retry["cap"]
        )

    if core.get("control_socket", True):
        control = ControlServer(host)
        try:
            await control.start()
        except OSError as err:
            _LOGGER.warning("Control socket unavailable (%s); the CLI cannot reach this host", err)
        else:
            host.on_shutdown(control.stop)

    invalid_domains, whole_file_broken = _domains_with_issues(result.issues)
    for domain, section in host.config.items():
        if domain == CORE_DOMAIN or domain in BUILTIN_SCHEMAS:
            continue
        loaded = host.plugins.load(domain)
        await host.config_entries.sync_yaml(domain, loaded.entries_from_yaml(section))
    stale = {
        e.domain for e in host.config_entries.entries() if str(e.source) == "import"
    } - set(host.config) - invalid_domains
    if whole_file_broken:  # no section could be read: none is known to be gone
        stale = set()
    for domain in stale:
        await host.config_entries.sync_yaml(domain, [])

    wanted = {e.domain for e in host.config_entries.entries() if not e.disabled}
    try:
        order = host.plugins.setup_order(wanted & set(host.plugins.available()))
    except GatehouseError as err:
        _LOGGER.error("Cannot order integrations: %s; setting up in name order", err)
        order = sorted(wanted)
    for domain in order:  # dependencies too: their broadcast hooks take part
        try:
            host.plugins.load(domain)
        except Exception:
            _LOGGER.exception("Integration %s failed to load", domain)
    await host.config_entries.setup_all(order)

    if HTTP_DOMAIN in host.config:
        await _start_http(host, host.config[HTTP_DOMAIN])
    elif _section_has_issues(result.issues, HTTP_DOMAIN):
        # Never fall back to defaults: that could serve plain HTTP where HTTPS was meant.
        _LOGGER.error("Web server not started: its http: configuration is invalid")
    elif misspelt := _misspellings_of(result.issues, HTTP_DOMAIN):
        # Another section's problem is not the web server's: say what it likely is.
        _LOGGER.error(
            "Web server not started: there is no http: section (is %s meant to be http:?)",
            ", ".join(f"'{key}:'" for key in misspelt),
        )


async def _start_http(host: Host, config: dict[str, Any]) -> None:
    try:
        from .http.server import HttpStartError, async_start_http
    except ImportError as err:  # the optional dependencies (gatehouse[http]) are missing
        _LOGGER.error("Web server not started: %s (install gatehouse[http])", err)
        return
    try:
        await async_start_http(host, config)
    except HttpStartError as err:
        _LOGGER.error("Not starting: %s", err)
        raise


async def _encryption_fail_closed(host: Host) -> None:
    """The ``gatehouse:`` section was dropped as invalid: keep tag encryption on anyway
    (``encryption_from_raw``: its own valid block, or every entity sensitive)."""
    from .config.section import load_section
    from .crypto.hostcipher import encryption_from_raw

    raw = (await anyio.to_thread.run_sync(load_section, host.config_dir, CORE_DOMAIN)).value
    block = raw.get("encryption") if isinstance(raw, Mapping) else None
    reason = encryption_from_raw(host, block)
    if reason is not None:
        _LOGGER.error(
            "Tag encryption: the encryption: block is invalid (%s); every entity is treated "
            "as sensitive and published encrypted until it is fixed", reason,
        )


def _section_has_issues(issues: list[ConfigIssue], domain: str) -> bool:
    """Whether a problem lies in ``domain``'s own section (not a key that resembles it:
    an unknown ``htps:`` says nothing about an ``http:`` section, absent or not)."""
    return any(
        (issue.domain or (str(issue.path[0]) if issue.path else None)) == domain
        for issue in issues
    )


def _misspellings_of(issues: list[ConfigIssue], domain: str) -> list[str]:
    """Unknown top-level keys for which ``domain`` was suggested."""
    return [
        str(issue.path[0])
        for issue in issues
        if len(issue.path) == 1 and issue.suggestion == domain
    ]


def _domains_with_issues(issues: list[ConfigIssue]) -> tuple[set[str], bool]:
    """Domains whose section has a problem, and whether the file as a whole is unusable.

    A loader problem (a missing secret, a broken include) has no key path but is
    attributed to its section by ``domain``; a misspelt domain key also covers the
    domain it most likely meant. A problem outside every section (a YAML syntax error,
    a top level that is not a mapping, a missing file) leaves no section readable.
    """
    domains: set[str] = set()
    whole_file = False
    for issue in issues:
        domain = issue.domain or (str(issue.path[0]) if issue.path else None)
        if domain is None:
            whole_file = True
            continue
        domains.add(domain)
        if len(issue.path) == 1 and issue.suggestion:
            domains.add(issue.suggestion)
    return domains, whole_file
