"""Names of the pki integration: configuration keys, defaults, the warning threshold."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "pki"

CONF_NAME: Final = "name"
CONF_WATCH: Final = "watch"
CONF_WARN_DAYS: Final = "warn_days"
CONF_REFRESH_INTERVAL: Final = "refresh_interval"
CONF_POLL_INTERVAL: Final = "poll_interval"

DEFAULT_NAME: Final = "Certificates"
DEFAULT_WARN_DAYS: Final = 30
#: Days left are recomputed at least this often (seconds): the value moves by one a day.
DEFAULT_REFRESH_INTERVAL: Final = 86400.0
#: How often the files are checked for a change (a stat each, no read): a certificate
#: issued or revoked with ``gatehouse certs`` shows up within this many seconds.
DEFAULT_POLL_INTERVAL: Final = 30.0

UNIT_DAYS: Final = "d"

#: Fired (``action: cert.operation``) for certificates issued or revoked while running;
#: the audit integration records these events (see ``integrations/audit/api.py``).
EVENT_AUDIT_SECURITY: Final = "audit_security"
