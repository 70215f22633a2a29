"""Voluptuous schemas of the AWS IoT integration: the YAML section, the flow's form,
the blocks the protocol modules read (``shadow:``, ``jobs:``, ``provisioning:``), and
the options layout.

Two levels of checking, because they cost differently:

* ``ENTRY_SCHEMA`` is pure (no I/O): shapes, ranges, AWS's limits that a setting can
  break by itself. QoS 2 is refused here with its own message (AWS IoT Core has QoS 0
  and 1 only; a QoS 2 publish gets the connection closed), so is a topic template with
  more levels than AWS allows.
* ``check_files`` reads the certificate files with ``cryptography`` (``certs.py``):
  a missing file, a key that is not the certificate's, a certificate that expired or is
  not valid yet, each named by field and path. ``CONFIG_SCHEMA`` (check-config) runs
  both; ``setup_entry`` and the flow run ``check_files`` in a worker thread.

With a ``provisioning:`` block and no ``certificate``/``private_key`` the entry runs
fleet provisioning by claim first (``provisioning.py``), so the claim's files are the
ones checked then.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any, Final

import voluptuous as vol

from gatehouse.core.helpers import (
    ENTITY_FILTER_FIELDS,
    PRIORITY_FIELDS,
    OptionsLayout,
    outbox_schema,
    slugify,
)

from .certs import check_pair, check_root_ca
from .const import (
    CONF_ALLOWED_SERVICES,
    CONF_ALPN,
    CONF_BATCH_TOPIC,
    CONF_CERTIFICATE,
    CONF_CLAIM_CERTIFICATE,
    CONF_CLAIM_PRIVATE_KEY,
    CONF_DESIRED,
    CONF_ENABLED,
    CONF_ENDPOINT,
    CONF_INCLUDE_ATTRIBUTES,
    CONF_INTERVAL,
    CONF_JOBS,
    CONF_KEEPALIVE,
    CONF_MAX_PUBLISH_RATE,
    CONF_MODE,
    CONF_NAME,
    CONF_OUTBOX,
    CONF_PARAMETERS,
    CONF_PERSISTENT_SESSION,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROVISIONING,
    CONF_QOS,
    CONF_RECONNECT_MAX_DELAY,
    CONF_RECONNECT_MIN_DELAY,
    CONF_ROOT_CA,
    CONF_SETUP_TIMEOUT,
    CONF_SHADOW,
    CONF_SHADOW_NAME,
    CONF_STORM_DELAY,
    CONF_STORM_DISCONNECTS,
    CONF_STORM_MAX_DELAY,
    CONF_STORM_WINDOW,
    CONF_TELEMETRY,
    CONF_TEMPLATE_NAME,
    CONF_THING_NAME,
    CONF_TOPIC,
    DEFAULT_BATCH_TOPIC,
    DEFAULT_INTERVAL,
    DEFAULT_KEEPALIVE,
    DEFAULT_MAX_PUBLISH_RATE,
    DEFAULT_NAME,
    DEFAULT_PORT,
    DEFAULT_RECONNECT_MAX_DELAY,
    DEFAULT_RECONNECT_MIN_DELAY,
    DEFAULT_SETUP_TIMEOUT,
    DEFAULT_STORM_DELAY,
    DEFAULT_STORM_DISCONNECTS,
    DEFAULT_STORM_MAX_DELAY,
    DEFAULT_STORM_WINDOW,
    DEFAULT_TOPIC,
    MAX_KEEPALIVE,
    MAX_THING_NAME,
    MAX_TOPIC_SLASHES,
    MIN_KEEPALIVE,
    MODE_BATCHED,
    MODE_PER_ENTITY,
)
from .errors import CertificateProblem

_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+$")
#: AWS's thing-name characters ("CreateThing": ``[a-zA-Z0-9:_-]+``, 1..128).
_THING_RE = re.compile(r"^[A-Za-z0-9:_\-]+$")
_SERVICE_RE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
#: Placeholders a telemetry topic template may use.
TOPIC_FIELDS: Final = frozenset({"thing", "domain", "object_id", "entity_id"})

SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0.01, max=86400))


def endpoint(value: Any) -> str:
    """An AWS IoT data endpoint host name (``xxxx-ats.iot.<region>.amazonaws.com``),
    without scheme or port: it is also the TLS server name (SNI)."""
    text = str(value).strip()
    if "://" in text or ":" in text or not _HOST_RE.match(text):
        raise vol.Invalid(
            f"expected the endpoint's host name without scheme or port, got {value!r}"
        )
    return text


def thing_name(value: Any) -> str:
    text = str(value)
    if not 1 <= len(text) <= MAX_THING_NAME or not _THING_RE.match(text):
        raise vol.Invalid(
            f"a thing name is 1-{MAX_THING_NAME} characters of a-z A-Z 0-9 : _ -, got {value!r}"
        )
    return text


def qos(value: Any) -> int:
    """0 or 1: AWS IoT Core has no QoS 2 (it closes a connection that uses it)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise vol.Invalid(f"qos must be 0 or 1, got {value!r}") from None
    if number == 2:
        raise vol.Invalid("qos 2 is not supported by AWS IoT Core: use 0 or 1")
    if number not in (0, 1):
        raise vol.Invalid(f"qos must be 0 or 1, got {value!r}")
    return number


def topic_template(value: Any) -> str:
    """A topic with ``{thing}``, ``{domain}``, ``{object_id}``, ``{entity_id}`` fields;
    no wildcards, not a reserved ``$`` topic, within AWS's 7 slashes."""
    text = str(value)
    if not text or any(c in text for c in "+#\0") or text.startswith("$"):
        raise vol.Invalid(f"not a publishable topic template: {value!r}")
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    except ValueError as err:
        raise vol.Invalid(f"bad topic template {value!r}: {err}") from None
    unknown = names - TOPIC_FIELDS
    if unknown:
        raise vol.Invalid(
            f"unknown field(s) {sorted(unknown)} in topic {value!r}; "
            f"known: {sorted(TOPIC_FIELDS)}"
        )
    if text.count("/") > MAX_TOPIC_SLASHES:
        raise vol.Invalid(
            f"topic {value!r} has more than {MAX_TOPIC_SLASHES} slashes (AWS IoT Core's limit)"
        )
    return text


def service_name(value: Any) -> str:
    text = str(value)
    if not _SERVICE_RE.match(text):
        raise vol.Invalid(f"expected domain.service, got {value!r}")
    return text


#: ``telemetry:``: which states go out, how (one message per state, or one batched
#: document per interval), with which outbox priority.
TELEMETRY_SCHEMA: Final = vol.Schema(
    {
        vol.Optional(CONF_ENABLED, default=True): bool,
        vol.Optional(CONF_MODE, default=MODE_PER_ENTITY): vol.In([MODE_PER_ENTITY, MODE_BATCHED]),
        vol.Optional(CONF_TOPIC, default=DEFAULT_TOPIC): topic_template,
        vol.Optional(CONF_BATCH_TOPIC, default=DEFAULT_BATCH_TOPIC): topic_template,
        vol.Optional(CONF_INTERVAL, default=DEFAULT_INTERVAL): SECONDS,
        vol.Optional(CONF_QOS, default=1): qos,
        vol.Optional(CONF_INCLUDE_ATTRIBUTES, default=True): bool,
        **ENTITY_FILTER_FIELDS,
        **PRIORITY_FIELDS,
    }
)

#: ``shadow:`` (read by ``shadow.py``): classic shadow unless ``name``; reported state
#: of the filtered entities; ``desired`` maps a shadow key to the entity it drives.
SHADOW_SCHEMA: Final = vol.Schema(
    {
        vol.Optional(CONF_ENABLED, default=True): bool,
        vol.Optional(CONF_SHADOW_NAME, default=None): vol.Any(
            None, vol.All(str, vol.Match(r"^[A-Za-z0-9:_\-]{1,64}$"))
        ),
        vol.Optional(CONF_DESIRED, default=dict): {str: vol.Match(r"^[a-z0-9_]+\.[a-z0-9_]+$")},
        **ENTITY_FILTER_FIELDS,
    }
)

#: ``jobs:`` (read by ``jobs.py``): only services on ``allowed_services`` may run.
JOBS_SCHEMA: Final = vol.Schema(
    {
        vol.Optional(CONF_ENABLED, default=True): bool,
        vol.Optional(CONF_ALLOWED_SERVICES, default=list): [service_name],
    }
)

#: ``provisioning:`` (read by ``provisioning.py``): fleet provisioning by claim.
PROVISIONING_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_CLAIM_CERTIFICATE): str,
        vol.Required(CONF_CLAIM_PRIVATE_KEY): str,
        vol.Required(CONF_TEMPLATE_NAME): vol.All(str, vol.Length(min=1, max=36)),
        vol.Optional(CONF_PARAMETERS, default=dict): {str: vol.Coerce(str)},
    }
)

#: The shared ``outbox:`` block (telemetry is the queue: drop the oldest when full).
OUTBOX_SCHEMA: Final = outbox_schema(max_batch_size=1000, batch_size=100)

CONNECTION_FIELDS: dict[Any, Any] = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.All(str, vol.Length(min=1, max=64)),
    vol.Required(CONF_ENDPOINT): endpoint,
    vol.Optional(CONF_PORT, default=DEFAULT_PORT): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=65535)
    ),
    vol.Required(CONF_THING_NAME): thing_name,
    vol.Required(CONF_ROOT_CA): str,
    vol.Optional(CONF_CERTIFICATE): str,
    vol.Optional(CONF_PRIVATE_KEY): str,
}

ENTRY_FIELDS: dict[Any, Any] = {
    **CONNECTION_FIELDS,
    # None: ALPN x-amzn-mqtt-ca on port 443 only (AWS needs it there, not on 8883).
    vol.Optional(CONF_ALPN, default=None): vol.Any(None, bool),
    vol.Optional(CONF_KEEPALIVE, default=DEFAULT_KEEPALIVE): vol.All(
        vol.Coerce(int), vol.Range(min=MIN_KEEPALIVE, max=MAX_KEEPALIVE)
    ),
    vol.Optional(CONF_PERSISTENT_SESSION, default=False): bool,
    vol.Optional(CONF_SETUP_TIMEOUT, default=DEFAULT_SETUP_TIMEOUT): SECONDS,
    vol.Optional(CONF_MAX_PUBLISH_RATE, default=DEFAULT_MAX_PUBLISH_RATE): vol.All(
        vol.Coerce(float), vol.Range(min=0.1, max=100_000)
    ),
    vol.Optional(CONF_RECONNECT_MIN_DELAY, default=DEFAULT_RECONNECT_MIN_DELAY): SECONDS,
    vol.Optional(CONF_RECONNECT_MAX_DELAY, default=DEFAULT_RECONNECT_MAX_DELAY): SECONDS,
    vol.Optional(CONF_STORM_DISCONNECTS, default=DEFAULT_STORM_DISCONNECTS): vol.All(
        vol.Coerce(int), vol.Range(min=2, max=1000)
    ),
    vol.Optional(CONF_STORM_WINDOW, default=DEFAULT_STORM_WINDOW): SECONDS,
    vol.Optional(CONF_STORM_DELAY, default=DEFAULT_STORM_DELAY): SECONDS,
    vol.Optional(CONF_STORM_MAX_DELAY, default=DEFAULT_STORM_MAX_DELAY): SECONDS,
    vol.Optional(CONF_TELEMETRY, default=dict): TELEMETRY_SCHEMA,
    vol.Optional(CONF_SHADOW): SHADOW_SCHEMA,
    vol.Optional(CONF_JOBS): JOBS_SCHEMA,
    vol.Optional(CONF_PROVISIONING): PROVISIONING_SCHEMA,
    vol.Optional(CONF_OUTBOX, default=dict): OUTBOX_SCHEMA,
}


def check_identity(config: dict[str, Any]) -> dict[str, Any]:
    """A device certificate and key, both or neither; neither only with provisioning."""
    has_cert = CONF_CERTIFICATE in config
    has_key = CONF_PRIVATE_KEY in config
    if has_cert != has_key:
        missing = CONF_PRIVATE_KEY if has_cert else CONF_CERTIFICATE
        raise vol.Invalid(f"{missing} is required with {CONF_CERTIFICATE}/{CONF_PRIVATE_KEY}",
                          path=[missing])
    if not has_cert and CONF_PROVISIONING not in config:
        raise vol.Invalid(
            f"{CONF_CERTIFICATE} and {CONF_PRIVATE_KEY} are required "
            f"(or a {CONF_PROVISIONING}: block to obtain them by fleet provisioning)",
            path=[CONF_CERTIFICATE],
        )
    if config[CONF_RECONNECT_MAX_DELAY] < config[CONF_RECONNECT_MIN_DELAY]:
        raise vol.Invalid(
            f"{CONF_RECONNECT_MAX_DELAY} is below {CONF_RECONNECT_MIN_DELAY}",
            path=[CONF_RECONNECT_MAX_DELAY],
        )
    return config


#: One ``aws_iot:`` entry, fully validated with defaults (no file access).
ENTRY_SCHEMA: Final = vol.All(vol.Schema(ENTRY_FIELDS), check_identity)


def check_files(config: Mapping[str, Any]) -> None:
    """Read and check the entry's certificate files (blocking); raise
    ``CertificateProblem`` naming the field and the path. Key contents are never quoted.

    The device pair when configured, otherwise the provisioning claim's pair."""
    check_root_ca(config[CONF_ROOT_CA], CONF_ROOT_CA)
    if CONF_CERTIFICATE in config:
        check_pair(config[CONF_CERTIFICATE], config[CONF_PRIVATE_KEY],
                   CONF_CERTIFICATE, CONF_PRIVATE_KEY)
    elif CONF_PROVISIONING in config:
        block = config[CONF_PROVISIONING]
        check_pair(
            block[CONF_CLAIM_CERTIFICATE], block[CONF_CLAIM_PRIVATE_KEY],
            f"{CONF_PROVISIONING}.{CONF_CLAIM_CERTIFICATE}",
            f"{CONF_PROVISIONING}.{CONF_CLAIM_PRIVATE_KEY}",
        )


def _files_valid(config: dict[str, Any]) -> dict[str, Any]:
    try:
        check_files(config)
    except CertificateProblem as err:
        raise vol.Invalid(str(err)) from None
    return config


#: One entry at check-config time: the shape and the files.
CHECKED_ENTRY_SCHEMA: Final = vol.All(ENTRY_SCHEMA, _files_valid)


def _unique_entries(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    for item in items:
        name = slugify(str(item.get(CONF_NAME, DEFAULT_NAME)))
        if name in seen:
            raise vol.Invalid(f"two aws_iot entries named {item.get(CONF_NAME)!r}")
        seen.add(name)
    return items


#: ``aws_iot:`` in configuration.yaml: one entry or a list of them (unique names).
CONFIG_SCHEMA: Final = vol.Any(
    vol.All([CHECKED_ENTRY_SCHEMA], vol.Length(min=1), _unique_entries), CHECKED_ENTRY_SCHEMA
)

#: The config flow's form: the connection (telemetry, shadow, jobs: YAML or options).
USER_STEP_SCHEMA: Final = vol.Schema(CONNECTION_FIELDS)

#: How an entry's options lay over its data: whole blocks replaced by the options.
OPTIONS_LAYOUT: Final = OptionsLayout(blocks=(CONF_TELEMETRY,))
