"""Reading an entry's options over its data: one rule set, declared once per integration.

An entry's ``data`` is what YAML or the config flow said; its ``options`` are what the
operator changed in the browser since. What the integration runs with is the two merged,
and the merge has only three kinds of keys:

* **lists** the options extend (points, nodes, entities added in the UI): the data's
  items first, then the options'. An item whose identity (``identity(item)``) the data
  already has is skipped and reported: YAML wins, because it is what the operator sees
  in the file;
* **settings** the options replace (``discovery: false``);
* **blocks** the options lay over the data's mapping key by key (``statestream:
  {base_topic: ...}`` keeps the YAML's filters); ``None`` in the options switches the
  block off.

An integration declares its ``OptionsLayout`` once and uses it both in ``setup_entry`` and
in its options flow (to show the current values), so the two never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from ..exceptions import ConfigEntryError

if TYPE_CHECKING:
    from ..config_entry import ConfigEntry

_LOGGER = logging.getLogger(__name__)

#: ``on_clash(key, item)``: an options item of list ``key`` was skipped.
ClashHandler = Callable[[str, Mapping[str, Any]], None]


@dataclass(frozen=True, slots=True)
class OptionsLayout:
    """How ``options`` lay over ``data`` (see the module docstring)."""

    lists: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    blocks: tuple[str, ...] = ()
    #: Identity of a list item; items of the options that clash with the data's are
    #: skipped. None: no check (the integration's schema refuses duplicates itself).
    identity: Callable[[Mapping[str, Any]], Hashable] | None = None

    def merge(
        self,
        data: Mapping[str, Any],
        options: Mapping[str, Any],
        on_clash: ClashHandler | None = None,
    ) -> dict[str, Any]:
        """``data`` with ``options`` applied (a new dict; neither input is changed)."""
        merged = dict(data)
        for key in self.lists:
            added = options.get(key) or ()
            if not added:
                continue
            own = list(data.get(key) or ())
            if self.identity is not None:
                taken = {self.identity(item) for item in own}
                for item in added:
                    if self.identity(item) in taken:
                        if on_clash is not None:
                            on_clash(key, item)
                        continue
                    own.append(item)
            else:
                own.extend(added)
            merged[key] = own
        for key in self.settings:
            if key in options:
                merged[key] = options[key]
        for key in self.blocks:
            if key not in options:
                continue
            block = options[key]
            if block is None:
                merged.pop(key, None)
            else:
                merged[key] = {**(data.get(key) or {}), **block}
        return merged

    def merged(self, entry: ConfigEntry[Any]) -> dict[str, Any]:
        """The entry's data with its options applied; clashes are logged as warnings."""

        def clash(key: str, item: Mapping[str, Any]) -> None:
            _LOGGER.warning(
                "%s: %s %r added in the UI clashes with one in the configuration; "
                "skipping it",
                entry.title,
                key,
                item.get("name") or item,
            )

        return self.merge(entry.data, entry.options, clash)

    def validated(
        self, entry: ConfigEntry[Any], schema: Callable[[Any], Any], what: str
    ) -> dict[str, Any]:
        """The merged settings validated by ``schema`` (what ``setup_entry`` runs with).

        Invalid settings are the entry's set-up error, ``ConfigEntryError("invalid <what>
        settings: ...")``, naming the key: retrying cannot fix them.
        """
        try:
            config: dict[str, Any] = schema(self.merged(entry))
        except vol.Invalid as err:
            raise ConfigEntryError(f"invalid {what} settings: {err}") from err
        return config
