"""Names of the audit integration: configuration keys, defaults, files, bus events.

The bus events here are the contract with the code that fires them (see ``api.py`` for
the payload shapes): ``audit_security`` is fired by ``core/http`` (logins, tokens,
users, permissions), the others by the core itself.
"""

from __future__ import annotations

import re
from typing import Final

DOMAIN: Final = "audit"

CONF_NAME: Final = "name"
CONF_CHECKPOINT_RECORDS: Final = "checkpoint_records"
CONF_CHECKPOINT_INTERVAL: Final = "checkpoint_interval"
CONF_MAX_FILE_SIZE: Final = "max_file_size"
CONF_MAX_TOTAL_SIZE: Final = "max_total_size"
CONF_QUEUE_SIZE: Final = "queue_size"
CONF_SUMMARY_INTERVAL: Final = "summary_interval"
CONF_PUBLISH_CHECKPOINTS: Final = "publish_checkpoints"

DEFAULT_NAME: Final = "Audit log"
DEFAULT_CHECKPOINT_RECORDS: Final = 1000
DEFAULT_CHECKPOINT_INTERVAL: Final = 300.0
DEFAULT_MAX_FILE_SIZE: Final = 16 * 1024 * 1024
#: All log files together; the oldest are deleted beyond it (writer.py, retention).
DEFAULT_MAX_TOTAL_SIZE: Final = 1024 * 1024 * 1024
DEFAULT_QUEUE_SIZE: Final = 10_000
DEFAULT_SUMMARY_INTERVAL: Final = 300.0

#: Under the host's storage dir (``<config>/.storage/audit``), mode 0700.
AUDIT_DIR: Final = "audit"
LOG_PREFIX: Final = "audit-"
LOG_SUFFIX: Final = ".jsonl"
CHECKPOINTS_FILE: Final = "checkpoints.jsonl"
PRIVATE_KEY_FILE: Final = "audit_ed25519.key"
PUBLIC_KEY_FILE: Final = "audit_ed25519.pub"

# -- bus events audited ----------------------------------------------------------------
#: Fired by core/http (``security_events.py``): ``{action, result, user_id?, name?, ip?, target?,
#: details?}``; see ``api.py`` for the actions.
EVENT_AUDIT_SECURITY: Final = "audit_security"
#: Fired by core/services.py for every call made on behalf of a user, once it ended.
EVENT_SERVICE_CALL_RESULT: Final = "service_call_result"
EVENT_CONFIG_ENTRY_CHANGED: Final = "config_entry_changed"
EVENT_HOST_STARTED: Final = "host_started"
EVENT_HOST_STOPPING: Final = "host_stopping"
EVENT_STATE_CHANGED: Final = "state_changed"
#: Fired by this integration for every checkpoint once on disk: {origin, size, note}.
EVENT_AUDIT_CHECKPOINT: Final = "audit_checkpoint"

SECURITY_ACTIONS: Final = frozenset({
    "auth.login", "auth.lockout", "auth.logout", "token.create", "token.revoke",
    "user.create", "user.update", "user.password", "user.remove", "permission.change",
    "key.operation", "cert.operation",
})
#: Families of actions other components name themselves (``cert.issue``, ``key.rotate``,
#: ``device.provision``): the prefix, then one lower-case word.
SECURITY_FAMILIES: Final = re.compile(r"(cert|key|device)\.[a-z][a-z0-9_]{0,31}")


def is_security_action(action: object) -> bool:
    """Recorded under its own name (else as ``security.other``)."""
    return isinstance(action, str) and (
        action in SECURITY_ACTIONS or SECURITY_FAMILIES.fullmatch(action) is not None)
