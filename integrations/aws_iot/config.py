"""Voluptuous schemas of the AWS IoT integration, and the file checks of check-config.

Keys (YAML and the config flow alike): ``endpoint``, ``port`` (8883; 443 uses ALPN
``x-amzn-mqtt-ca``), ``thing_name`` (the MQTT client id), ``root_ca``, ``certificate``,
``private_key`` (paths; the last two may be left out when a ``provisioning`` block
gets them by claim on first boot), ``qos`` (0 or 1: AWS IoT Core has no QoS 2, so 2 is
refused here rather than by a broker that would drop the connection),
``max_publish_rate`` (publishes per second on the connection, AWS's per-connection
quota is 100), ``storm`` (``disconnects`` within ``window`` seconds: another client
with our client id), and the blocks ``telemetry``, ``shadow``, ``provisioning``,
``jobs`` and the shared ``outbox``.

``CONFIG_SCHEMA`` (check-config, YAML) also opens the files (``check_files``): a
missing file, a key that is not the certificate's, an expired or not-yet-valid
certificate are errors naming the field and the file. ``ENTRY_SCHEMA`` does not touch
the disk; set-up runs ``check_files`` in a worker thread.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Final

import voluptuous as vol

from gatehouse.core.helpers import (
    ENTITY_FILTER_FIELDS,
    PRIORITY_FIELDS,
    OptionsLayout,
    outbox_schema,
)

from .certs import check_pair, check_root_ca
from .const import (
    CONF_CERTIFICATE,
    CONF_CONNECT_TIMEOUT,
    CONF_ENDPOINT,
    CONF_JOBS,
    CONF_KEEPALIVE,
    CONF_NAME,
    CONF_OUTBOX,
    CONF_PORT,
    CONF_PRIVATE_KEY,
    CONF_PROVISIONING,
    CONF_PUBLISH_RATE,
    CONF_QOS,
    CONF_RECONNECT_MAX,
    CONF_RECONNECT_MIN,
    CONF_ROOT_CA,
    CONF_SHADOW,
    CONF_STORM,
    CONF_TELEMETRY,
    CONF_THING,
    DEFAULT_BATCH_TOPIC,
    DEFAULT_NAME,
    DEFAULT_PORT,
    DEFAULT_PUBLISH_RATE,
    DEFAULT_STORM_DISCONNECTS,
    DEFAULT_STORM_WINDOW,
    DEFAULT_TOPIC,
    MAX_TOPIC_SLASHES,
)
from .errors import CertificateProblem

_SECONDS = vol.All(vol.Coerce(float), vol.Range(min=0.01, max=86_400))


def qos(value: Any) -> int:
    """0 or 1; 2 gets its own message (the one a user would try)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise vol.Invalid("qos must be 0 or 1") from None
    if number == 2:
        raise vol.Invalid("qos 2 is not supported by AWS IoT Core: use 0 or 1")
    if number not in (0, 1):
        raise vol.Invalid("qos must be 0 or 1")
    return number


def _host_name(value: str) -> str:
    """The endpoint is a host name: what the console shows, often pasted with more."""
    text = value.strip()
    if "://" in text or "/" in text or ":" in text or " " in text:
        raise vol.Invalid(
            f"endpoint {text!r}: the host name only (like "
            "abc123-ats.iot.eu-west-1.amazonaws.com), without https://, a path or a port"
        )
    return text


def _thing_name(value: Any) -> str:
    text = vol.All(str, vol.Length(min=1, max=128))(value)
    if not all(c.isalnum() or c in "_-:" for c in text):
        raise vol.Invalid("thing_name may only hold letters, digits, '_', '-' and ':'")
    return str(text)


def _template(*fields: str) -> Any:
    def check(value: Any) -> str:
        text = str(value)
        try:
            text.format(**dict.fromkeys(fields, "x"))
        except (KeyError, IndexError, ValueError) as err:
            raise vol.Invalid(
                f"bad topic template {text!r} ({err}); fields: {', '.join(fields)}"
            ) from None
        # AWS limits (the fields never hold a slash): at most 7 slashes, no reserved
        # "$" topics, no wildcards.
        if text.count("/") > MAX_TOPIC_SLASHES:
            raise vol.Invalid(f"topic template {text!r}: AWS allows at most "
                              f"{MAX_TOPIC_SLASHES} '/' in a topic")
        if text.startswith("$") or "+" in text or "#" in text:
            raise vol.Invalid(f"topic template {text!r}: no '$' start, no wildcards")
        return text

    return check


#: Earlier spellings of the telemetry modes.
_MODE_ALIASES: Final = {"per_state": "per_entity", "batch": "batched"}

TELEMETRY_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("enabled", default=True): bool,
        vol.Optional("mode", default="per_entity"): vol.All(
            vol.Any(str), lambda v: _MODE_ALIASES.get(v, v), vol.In(["per_entity", "batched"])
        ),
        vol.Optional("topic", default=DEFAULT_TOPIC): _template("thing", "domain", "object_id"),
        vol.Optional("batch_topic", default=DEFAULT_BATCH_TOPIC): _template("thing"),
        vol.Optional("interval", default=10.0): _SECONDS,
        vol.Optional("attributes", default=False): bool,
        **ENTITY_FILTER_FIELDS,
        **PRIORITY_FIELDS,
    }
)

_MAPPING: Final = {str: vol.All(str, vol.Match(r"^\w+\.\w+$"))}

_SHADOW_FIELDS: Final = vol.Schema(
    {
        vol.Optional("enabled", default=True): bool,
        #: None: the classic (unnamed) shadow.
        vol.Optional("name"): vol.Any(None, vol.All(str, vol.Length(min=1, max=64))),
        #: shadow key → entity id: desired values of these keys call the entity's services.
        vol.Optional("mapping", default=dict): _MAPPING,
        #: The same as ``mapping`` (the name the shadow module first used); merged into it.
        vol.Optional("desired"): _MAPPING,
        #: Seconds changes are gathered before one update (AWS bills per update).
        vol.Optional("report_delay", default=0.2): _SECONDS,
        **ENTITY_FILTER_FIELDS,
    }
)


def _merge_desired(block: dict[str, Any]) -> dict[str, Any]:
    alias = block.pop("desired", None)
    if alias:
        block["mapping"] = {**alias, **block["mapping"]}
    return block


SHADOW_SCHEMA: Final = vol.All(_SHADOW_FIELDS, _merge_desired)


PROVISIONING_SCHEMA: Final = vol.Schema(
    {
        vol.Required("claim_certificate"): str,
        vol.Required("claim_private_key"): str,
        vol.Required("template_name"): vol.All(str, vol.Length(min=1)),
        vol.Optional("parameters", default=dict): {str: vol.Coerce(str)},
        #: Make the key here and send a CSR (CreateCertificateFromCsr): the private key
        #: never crosses the network. False: CreateKeysAndCertificate (AWS makes it).
        vol.Optional("csr", default=False): bool,
    }
)


def _service_name(value: Any) -> str:
    text = str(value)
    if not vol.Match(r"^[a-z0-9_]+\.[a-z0-9_]+$")(text):
        raise vol.Invalid(f"{text!r} is not a service name (domain.service)")
    return text


JOBS_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("enabled", default=True): bool,
        vol.Optional("allowed_services", default=list): [_service_name],
    }
)

STORM_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("disconnects", default=DEFAULT_STORM_DISCONNECTS): vol.All(
            vol.Coerce(int), vol.Range(min=2)
        ),
        vol.Optional("window", default=DEFAULT_STORM_WINDOW): _SECONDS,
        #: Seconds without reconnecting after a storm, before one more try.
        vol.Optional("pause", default=300.0): _SECONDS,
    }
)

OUTBOX_SCHEMA: Final = outbox_schema(batch_size=100, retry_initial=0.2, retry_max=10.0)

CONNECTION_FIELDS: Final[dict[Any, Any]] = {
    vol.Optional(CONF_NAME, default=DEFAULT_NAME): str,
    vol.Required(CONF_ENDPOINT): vol.All(str, vol.Length(min=1, max=253), _host_name),
    vol.Optional(CONF_PORT, default=DEFAULT_PORT): vol.All(
        vol.Coerce(int), vol.Range(min=1, max=65535)
    ),
    #: ALPN ``x-amzn-mqtt-ca``: None (default) = on for port 443, where AWS needs it.
    vol.Optional("alpn"): vol.Any(None, bool),
    vol.Required(CONF_THING): _thing_name,
    vol.Required(CONF_ROOT_CA): str,
    vol.Optional(CONF_CERTIFICATE): str,
    vol.Optional(CONF_PRIVATE_KEY): str,
    vol.Optional(CONF_QOS, default=1): qos,
}

ENTRY_FIELDS: Final[dict[Any, Any]] = {
    **CONNECTION_FIELDS,
    vol.Optional(CONF_KEEPALIVE, default=30): vol.All(vol.Coerce(int), vol.Range(min=5)),
    vol.Optional(CONF_CONNECT_TIMEOUT, default=5.0): _SECONDS,
    vol.Optional(CONF_RECONNECT_MIN, default=1.0): _SECONDS,
    vol.Optional(CONF_RECONNECT_MAX, default=30.0): _SECONDS,
    vol.Optional(CONF_PUBLISH_RATE, default=DEFAULT_PUBLISH_RATE): vol.All(
        vol.Coerce(float), vol.Range(min=1, max=10_000)
    ),
    vol.Optional(CONF_STORM, default=dict): STORM_SCHEMA,
    vol.Optional(CONF_TELEMETRY, default=dict): TELEMETRY_SCHEMA,
    vol.Optional(CONF_SHADOW, default=dict): SHADOW_SCHEMA,
    vol.Optional(CONF_PROVISIONING): PROVISIONING_SCHEMA,
    vol.Optional(CONF_JOBS, default=dict): JOBS_SCHEMA,
    vol.Optional(CONF_OUTBOX, default=dict): OUTBOX_SCHEMA,
}


def _credentials(config: dict[str, Any]) -> dict[str, Any]:
    has_cert = CONF_CERTIFICATE in config
    has_key = CONF_PRIVATE_KEY in config
    if has_cert != has_key:
        missing = CONF_PRIVATE_KEY if has_cert else CONF_CERTIFICATE
        raise vol.Invalid(f"{missing} is required with the other", path=[missing])
    if not has_cert and CONF_PROVISIONING not in config:
        raise vol.Invalid(
            "certificate and private_key are required (or a provisioning block to get "
            "them by claim)", path=[CONF_CERTIFICATE],
        )
    return config


def check_files(config: Mapping[str, Any]) -> None:
    """Open every certificate and key the entry names; raise ``CertificateProblem``
    naming the field and file. Blocking."""
    check_root_ca(config[CONF_ROOT_CA], CONF_ROOT_CA)
    if CONF_CERTIFICATE in config:
        check_pair(config[CONF_CERTIFICATE], config[CONF_PRIVATE_KEY],
                   CONF_CERTIFICATE, CONF_PRIVATE_KEY)
    block = config.get(CONF_PROVISIONING)
    if block is not None:
        check_pair(block["claim_certificate"], block["claim_private_key"],
                   f"{CONF_PROVISIONING}.claim_certificate",
                   f"{CONF_PROVISIONING}.claim_private_key")


def _files(config: dict[str, Any]) -> dict[str, Any]:
    try:
        check_files(config)
    except CertificateProblem as err:
        field: list[Hashable] = list(str(err).split(":", 1)[0].split("."))
        raise vol.Invalid(str(err), path=field) from None
    return config


#: One entry, validated with defaults (no disk access).
ENTRY_SCHEMA: Final = vol.All(vol.Schema(ENTRY_FIELDS), _credentials)

#: ``aws_iot:`` in configuration.yaml (one entry or a list); opens the files.
CONFIG_SCHEMA: Final = vol.Any(
    vol.All([vol.All(ENTRY_SCHEMA, _files)], vol.Length(min=1)), vol.All(ENTRY_SCHEMA, _files)
)

#: The config flow's form.
USER_STEP_SCHEMA: Final = vol.Schema(CONNECTION_FIELDS)

#: Options lay settings blocks over the data.
OPTIONS_LAYOUT: Final = OptionsLayout(blocks=(CONF_TELEMETRY, CONF_SHADOW, CONF_JOBS))
