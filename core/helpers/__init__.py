"""Helpers: the second public surface for integration authors.

``gatehouse.core`` is the domain model (host, entities, entries, flows, services).
``gatehouse.core.helpers`` holds the building blocks integrations kept writing for
themselves, each written once here, tested once, and documented in the README's
"Writing an integration" (the idea is Home Assistant's ``helpers/``):

=============================  ========================================================
payload → value                ``ValueReader`` (``value_template``/``json_path``),
                               ``OnOffPayload``, ``PayloadError`` (``ValueTemplateError``
                               when the template failed), ``JsonPath``,
                               ``json_path`` (schema validator), ``loads``
retry pacing                   ``Backoff`` (one policy for entry retry, the outbox and
                               every reconnect loop), ``BackoffCounter``
form and API errors            ``form_errors``, ``describe_invalid``
options over data              ``OptionsLayout``
the durable outbox             ``OUTBOX_SCHEMA``/``outbox_schema``, ``attach_outbox``,
                               ``OutboxLink``, ``LinkSensor``, ``OutboxStatSensor``;
                               for senders: ``Sender``, ``OutboxMessage``,
                               ``DeliveryOutcome``, ``TransientDeliveryError``,
                               ``PermanentDeliveryError``, ``OutboxError``, ``OutboxFull``
templates                      ``template_engine`` (one per host), ``check_template``,
                               ``TemplateEngine``, ``TemplateError``; every render has a
                               budget: ``TemplateLimits``, ``configure_templates``,
                               ``TemplateBudgetError``, ``TEMPLATE_LIMITS_SCHEMA``;
                               Home Assistant's way: ``render_template`` (native
                               values), ``render_info`` → ``RenderInfo`` (what it
                               read), ``track_template`` → ``TemplateTracker``
                               (re-rendered when a state it read changes)
what an exporter sends         ``ENTITY_FILTER_FIELDS``/``ENTITY_FILTER_SCHEMA`` (one
                               side: ``SELECTOR_SCHEMA``),
                               ``entity_filter`` → ``EntityFilter`` (include/exclude by
                               domain, entity, glob, device, area; attribute conditions);
                               ``PRIORITY_FIELDS``, ``priority_rules`` →
                               ``PriorityRules``, ``PRIORITY_HIGH``/``NORMAL``/``LOW``
what may come in               ``ingress_guard`` → ``IngressHook`` (``check`` →
                               ``IngressVerdict``, ``PASS`` without a guard; ``install``
                               an ``IngressGuard``; per-transport replay feeds,
                               ``ReplayFeed``): transports ask, schema_guard answers
quiet logs                     ``BurstLog``
text                           ``slugify``
YAML beside the config         ``load_yaml`` (one file, tags resolved, located; raises
                               ``ConfigInvalid``), ``load_section`` → ``LoadedSection``
                               (a section re-read while running, with its file),
                               ``describe_location``, ``YamlInput`` (``!input``)
secrets on disk                ``write_private_file`` (atomic, 0600 from creation, fsynced)
tag encryption                 ``tag_cipher`` → ``TagCipher`` or None (``is_sensitive``,
                               ``encrypt``/``decrypt`` envelopes, ``seal``/``open``
                               as JSON bytes), ``decrypting_cipher``, ``Keyring``,
                               ``KeyMissingError``, ``DecryptError``,
                               ``ENCRYPTION_SCHEMA``, ``configure_encryption``
paho TLS                       ``TrackingContext`` (closes the socket paho abandons
                               after a failed handshake)
certificates                   ``certificate_authority(config_dir)`` →
                               ``CertificateAuthority`` (init, ``issue_server``,
                               ``issue_device``, ``revoke``, ``crl_pem``, ``list``) in
                               ``<config>/pki/``; ``IssuedCert``, ``CertInfo``,
                               ``PkiError`` (``CaMissingError``, ``UnknownSerialError``,
                               ``NameClashError``, ``PkiInputError``...);
                               ``read_certificate_expiry``, ``read_crl_expiry`` →
                               ``CertExpiry``
client sockets                 ``QuickAckSocket`` (buffered reads, ``TCP_QUICKACK``
                               re-armed after each read), ``set_nodelay``
=============================  ========================================================

Import from here, never from the modules behind it: those are internal and may move.
"""

from ..config import ConfigInvalid, LoadedSection, describe_location, load_section
from ..config import Input as YamlInput
from ..config import load_config_file as load_yaml
from ..crypto import (
    ENCRYPTION_SCHEMA,
    DecryptError,
    KeyMissingError,
    Keyring,
    TagCipher,
    configure_encryption,
    decrypting_cipher,
    tag_cipher,
)
from ..exceptions import PayloadError
from ..outbox import (
    DeliveryOutcome,
    OutboxError,
    OutboxFull,
    OutboxMessage,
    PermanentDeliveryError,
    Sender,
    TransientDeliveryError,
)
from ..pki import (
    CaExistsError,
    CaMissingError,
    CertExpiry,
    CertificateAuthority,
    CertInfo,
    IssuedCert,
    NameClashError,
    PkiError,
    PkiIndexError,
    PkiInputError,
    UnknownSerialError,
    certificate_authority,
    read_certificate_expiry,
    read_crl_expiry,
)
from ..storage import write_private_file
from ..template import (
    TEMPLATE_LIMITS_SCHEMA,
    RenderInfo,
    TemplateBudgetError,
    TemplateEngine,
    TemplateError,
    TemplateLimits,
    TemplateTracker,
)
from ..util import slugify
from ..util.backoff import Backoff, BackoffCounter
from ..util.burstlog import BurstLog
from ..util.forms import describe_invalid, form_errors
from ..util.jsonpath import JsonPath, json_path, loads
from .entityfilter import (
    ENTITY_FILTER_FIELDS,
    ENTITY_FILTER_SCHEMA,
    PRIORITY_FIELDS,
    PRIORITY_HIGH,
    PRIORITY_LOW,
    PRIORITY_NORMAL,
    SELECTOR_SCHEMA,
    EntityFilter,
    PriorityRules,
    entity_filter,
    priority_rules,
)
from .ingress import (
    PASS,
    IngressGuard,
    IngressHook,
    IngressVerdict,
    ReplayFeed,
    ingress_guard,
)
from .options import OptionsLayout
from .outbox import (
    OUTBOX_SCHEMA,
    LinkSensor,
    OutboxLink,
    OutboxStatSensor,
    attach_outbox,
    outbox_schema,
)
from .payload import (
    OnOffPayload,
    ValueReader,
    ValueTemplateError,
    payload_json,
    payload_text,
)
from .sockets import QuickAckSocket, set_nodelay
from .template import (
    check_template,
    configure_templates,
    render_info,
    render_template,
    template_engine,
    track_template,
)
from .tls import TrackingContext

__all__ = [
    "ENCRYPTION_SCHEMA",
    "ENTITY_FILTER_FIELDS",
    "ENTITY_FILTER_SCHEMA",
    "OUTBOX_SCHEMA",
    "PASS",
    "PRIORITY_FIELDS",
    "PRIORITY_HIGH",
    "PRIORITY_LOW",
    "PRIORITY_NORMAL",
    "SELECTOR_SCHEMA",
    "TEMPLATE_LIMITS_SCHEMA",
    "Backoff",
    "BackoffCounter",
    "BurstLog",
    "CaExistsError",
    "CaMissingError",
    "CertExpiry",
    "CertInfo",
    "CertificateAuthority",
    "ConfigInvalid",
    "DecryptError",
    "DeliveryOutcome",
    "EntityFilter",
    "IngressGuard",
    "IngressHook",
    "IngressVerdict",
    "IssuedCert",
    "JsonPath",
    "KeyMissingError",
    "Keyring",
    "LinkSensor",
    "LoadedSection",
    "NameClashError",
    "OnOffPayload",
    "OptionsLayout",
    "OutboxError",
    "OutboxFull",
    "OutboxLink",
    "OutboxMessage",
    "OutboxStatSensor",
    "PayloadError",
    "PermanentDeliveryError",
    "PkiError",
    "PkiIndexError",
    "PkiInputError",
    "PriorityRules",
    "QuickAckSocket",
    "RenderInfo",
    "ReplayFeed",
    "Sender",
    "TagCipher",
    "TemplateBudgetError",
    "TemplateEngine",
    "TemplateError",
    "TemplateLimits",
    "TemplateTracker",
    "TrackingContext",
    "TransientDeliveryError",
    "UnknownSerialError",
    "ValueReader",
    "ValueTemplateError",
    "YamlInput",
    "attach_outbox",
    "certificate_authority",
    "check_template",
    "configure_encryption",
    "configure_templates",
    "decrypting_cipher",
    "describe_invalid",
    "describe_location",
    "entity_filter",
    "form_errors",
    "ingress_guard",
    "json_path",
    "load_section",
    "load_yaml",
    "loads",
    "outbox_schema",
    "payload_json",
    "payload_text",
    "priority_rules",
    "read_certificate_expiry",
    "read_crl_expiry",
    "render_info",
    "render_template",
    "set_nodelay",
    "slugify",
    "tag_cipher",
    "template_engine",
    "track_template",
    "write_private_file",
]
