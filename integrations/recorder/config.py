"""Schemas of the recorder: the ``recorder:`` YAML section (HA's keys) and the flow form.

One recorder per host. ``include``/``exclude`` are the shared entity filter
(``ENTITY_FILTER_FIELDS``), the same block the exporters take.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from gatehouse.core.helpers import ENTITY_FILTER_FIELDS, OptionsLayout

from .const import (
    CONF_AUTO_PURGE,
    CONF_COMMIT_INTERVAL,
    CONF_DB_FILE,
    CONF_EXCLUDE_EVENT_TYPES,
    CONF_MAX_QUEUE,
    CONF_MAX_SIZE_MB,
    CONF_NAME,
    CONF_PURGE_KEEP_DAYS,
    CONF_STATISTICS_KEEP_DAYS,
    DEFAULT_COMMIT_INTERVAL,
    DEFAULT_DB_FILE,
    DEFAULT_MAX_QUEUE,
    DEFAULT_MAX_SIZE_MB,
    DEFAULT_NAME,
    DEFAULT_PURGE_KEEP_DAYS,
    DEFAULT_STATISTICS_KEEP_DAYS,
)


def _file_name(value: Any) -> str:
    """A file name inside the config dir: no directories, so no path escapes it."""
    if not isinstance(value, str) or not value or "/" in value or "\\" in value \
            or value.startswith("."):
        raise vol.Invalid("db_file: expected a plain file name inside the config directory")
    return value


TUNING_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_COMMIT_INTERVAL, default=DEFAULT_COMMIT_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0.0, max=30.0)),
    vol.Optional(CONF_PURGE_KEEP_DAYS, default=DEFAULT_PURGE_KEEP_DAYS): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=3650)),
    vol.Optional(CONF_STATISTICS_KEEP_DAYS, default=DEFAULT_STATISTICS_KEEP_DAYS): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=36500)),
    vol.Optional(CONF_AUTO_PURGE, default=True): bool,
    # A size bound beside the age bound: a burst of fast-changing entities must not
    # fill a small flash disk within purge_keep_days.
    vol.Optional(CONF_MAX_SIZE_MB, default=DEFAULT_MAX_SIZE_MB): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=1_048_576)),
}

ENTRY_SCHEMA = vol.Schema({
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Optional(CONF_DB_FILE, default=DEFAULT_DB_FILE): _file_name,
    vol.Optional(CONF_MAX_QUEUE, default=DEFAULT_MAX_QUEUE): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=10_000_000)),
    vol.Optional(CONF_EXCLUDE_EVENT_TYPES, default=list): [vol.All(str, vol.Length(min=1))],
    **TUNING_FIELDS,
    **ENTITY_FILTER_FIELDS,
})
#: ``recorder:`` in configuration.yaml (empty means the defaults).
CONFIG_SCHEMA = vol.All(lambda v: {} if v is None else v, ENTRY_SCHEMA)
#: The form of the config flow: name and retention; the filter is set in YAML.
USER_STEP_SCHEMA = vol.Schema({
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    **TUNING_FIELDS,
})
OPTIONS_LAYOUT = OptionsLayout(settings=tuple(str(k) for k in TUNING_FIELDS))
