"""Schemas of the audit integration: the ``audit:`` YAML section and the flow form.

One audit log per host: the section is a mapping (not a list), and the flow refuses a
second entry. Every field is optional; ``audit: {}`` turns the log on with defaults.
"""

from __future__ import annotations

from typing import Any, Final

import voluptuous as vol

from gatehouse.core.helpers import outbox_schema

from .const import (
    CONF_CHECKPOINT_INTERVAL,
    CONF_CHECKPOINT_RECORDS,
    CONF_MAX_FILE_SIZE,
    CONF_MAX_TOTAL_SIZE,
    CONF_NAME,
    CONF_PUBLISH_CHECKPOINTS,
    CONF_QUEUE_SIZE,
    CONF_SUMMARY_INTERVAL,
    DEFAULT_CHECKPOINT_INTERVAL,
    DEFAULT_CHECKPOINT_RECORDS,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MAX_TOTAL_SIZE,
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

#: Checkpoint publishing targets (``publish.py``).
PUBLISH_INTEGRATIONS: Final = ("mqtt", "nats")


def _topic(value: Any) -> str:
    """A concrete MQTT topic or NATS subject: no wildcards, no empty levels."""
    if not isinstance(value, str) or not value or len(value) > 512:
        raise vol.Invalid("topic: expected 1 to 512 characters")
    if any(c in value for c in "+#*>\0 \t\r\n"):
        raise vol.Invalid(f"topic: {value!r} holds a wildcard or white space")
    return value


PUBLISH_SCHEMA: Final = vol.Schema({
    vol.Required("integration"): vol.In(PUBLISH_INTEGRATIONS),
    vol.Required("topic"): _topic,
    vol.Optional("qos", default=1): vol.In([1, 2]),
    vol.Optional("retain", default=False): bool,
    vol.Optional("jetstream", default=False): bool,
    vol.Optional("entry", default=None): vol.Any(None, vol.All(str, vol.Length(min=1))),
    vol.Optional("outbox", default=dict): outbox_schema(
        max_messages=10_000, max_bytes=16 * 1024 * 1024, stats_interval=60.0),
})

ENTRY_SCHEMA = vol.Schema({
    **ENTRY_FIELDS,
    # YAML only (entries made by the form get the default): the oldest log files are
    # deleted beyond it, the chain stays verifiable (writer.py, retention).
    vol.Optional(CONF_MAX_TOTAL_SIZE, default=DEFAULT_MAX_TOTAL_SIZE): vol.All(
        vol.Coerce(int), vol.Range(min=65536, max=1 << 40)),
    vol.Optional(CONF_PUBLISH_CHECKPOINTS, default=None): vol.Any(None, PUBLISH_SCHEMA),
})
#: ``audit:`` in configuration.yaml (``audit:`` with nothing under it is ``{}``).
CONFIG_SCHEMA = vol.All(lambda v: {} if v is None else v, ENTRY_SCHEMA)
#: The form: the flat settings (publication is set in YAML or by entry data).
USER_STEP_SCHEMA = vol.Schema(ENTRY_FIELDS)
