"""The contract between the host and an integration: a ``Protocol``, not a base class.

An integration is any object with a ``domain`` and two coroutines, ``setup_entry`` and
``unload_entry``. The host asks a plugin for it through the ``gatehouse_integration``
hook and from then on calls it directly (an addressed call, not a broadcast).

Optional members, looked up by the host when present (``OptionalIntegration`` lists them
with their types, for authors and for mypy via ``cast``):

``config_schema``
    A voluptuous schema for the integration's section of ``configuration.yaml``. Without
    it the integration cannot be configured from YAML.
``entries_from_yaml(config) -> list[YamlEntry]``
    Turns the validated section into config entries (source ``import``). Without it a
    section becomes one entry whose unique_id is the domain and whose data is the section.
``config_flow``
    A ``ConfigFlow`` subclass that lets the web UI or the CLI add entries.
``options_flow(entry) -> OptionsFlow``
    Edit an entry's options after it was created.
``entry_version`` (int, default 1) and ``migrate_entry(host, entry) -> bool``
    Upgrade stored entries written by an older version of the integration.

Next to the plugin's ``__init__.py``, an optional ``services.yaml`` describes the
services it registers (name -> ``description`` and ``fields``), for the API and the UI.
The host reads it once, when it loads the plugin: a malformed file fails the load with
its path named, and an edit takes effect at the next start.

What the host keeps about a loaded plugin (``LoadedIntegration``) is the plugin
loader's business and lives in ``plugins.py``; this module is only the author's side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .util import slugify

if TYPE_CHECKING:
    from .config_entries import ConfigEntry
    from .config_flow import ConfigFlow, OptionsFlow
    from .host import Host


@runtime_checkable
class Integration(Protocol):
    """What every integration provides. See the module docstring for optional members."""

    domain: str

    async def setup_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        """Set up one config entry: connect, create entities, register services.

        Raise ``ConfigEntryNotReady`` when the device is unreachable (the host retries
        with backoff), ``ConfigEntryAuthFailed`` or ``ConfigEntryError`` when retrying
        cannot help. Register everything that needs undoing with ``entry.on_unload`` and
        start tasks with ``entry.spawn``: the host then releases it all on unload.
        """
        ...

    async def unload_entry(self, host: Host, entry: ConfigEntry[Any]) -> None:
        """Release what ``setup_entry`` made that ``entry.on_unload`` does not cover.

        Often empty. Raising marks the entry ``failed_unload``.
        """
        ...


class OptionalIntegration(Integration, Protocol):
    """An integration with every optional member (for documentation and typing)."""

    config_schema: Any
    config_flow: type[ConfigFlow]
    entry_version: int

    def entries_from_yaml(self, config: Any) -> list[YamlEntry]: ...

    def options_flow(self, entry: ConfigEntry[Any]) -> OptionsFlow: ...

    async def migrate_entry(self, host: Host, entry: ConfigEntry[Any]) -> bool: ...


@dataclass(frozen=True, slots=True)
class YamlEntry:
    """A config entry described by ``configuration.yaml`` (source ``import``).

    ``unique_id`` ties the YAML block to its stored entry across restarts, so that
    editing the block updates the entry instead of adding a new one.
    """

    unique_id: str
    title: str
    data: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)


def entries_by_name(config: Any, name_key: str = "name") -> list[YamlEntry]:
    """The usual ``entries_from_yaml``: one entry per named item, keyed by its name.

    ``config`` is a validated section: one mapping, or a list of them, each with a
    ``name_key`` field. The slugified name is the unique_id, so renaming an item in
    YAML makes a new entry while editing anything else updates the existing one.
    """
    items = config if isinstance(config, list) else [config]
    return [
        YamlEntry(unique_id=slugify(str(item[name_key])), title=str(item[name_key]), data=item)
        for item in items
    ]

