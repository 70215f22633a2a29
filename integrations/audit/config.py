"""Schemas of the audit integration: the ``audit:`` YAML section and the flow form.

One audit log per host: the section is a mapping (not a list), and the flow refuses a
second entry. Every field is optional; ``audit: {}`` turns the log on with defaults.
"""

from __future__ import annotations

import voluptuous as vol

from .const import (
    CONF_CHECKPOINT_INTERVAL,
    CONF_CHECKPOINT_RECORDS,
    CONF_MAX_FILE_SIZE,
    CONF_NAME,
    CONF_QUEUE_SIZE,
    CONF_SUMMARY_INTERVAL,
    DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_CHECKPOINT_RECORDS,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_NAME,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_SUMMARY_INTERVAL,
)

ENTRY_FIELDS = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Optional(CONF_CHECKPOINT_RECORDS, default=DEFAULT_CHECKPOINT_RECORDS): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=1_000_000)),
    vol.Optional(CONF_CHECKPOINT_INTERVAL, default=DEFAULT_CHECKPOINT_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0.01, max=86400)),
    vol.Optional(CONF_MAX_FILE_SIZE, default=DEFAULT_MAX_FILE_SIZE): vol.All(
        vol.Coerce(int), vol.Range(min=4096, max=1 << 34)),
    vol.Optional(CONF_QUEUE_SIZE, default=DEFAULT_QUEUE_SIZE): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=1_000_000)),
    vol.Optional(CONF_SUMMARY_INTERVAL, default=DEFAULT_SUMMARY_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0.01, max=86400)),
}

ENTRY_SCHEMA = vol.Schema(ENTRY_FIELDS)
#: ``audit:`` in configuration.yaml (``audit:`` with nothing under it is ``{}``).
CONFIG_SCHEMA = vol.All(lambda v: {} if v is None else v, ENTRY_SCHEMA)
USER_STEP_SCHEMA = vol.Schema(ENTRY_FIELDS)
