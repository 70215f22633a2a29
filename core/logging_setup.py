"""Logging for the ``run`` command, with secrets masked before anything is written.

Secrets reach memory from ``!secret`` values and from config entry fields marked secret.
``SecretRedactor`` replaces every known secret value in every log record's final
message with ``***``, so that even an integration that logs a whole config dict by
mistake does not leak a password into the journal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

MASK = "***"
#: Values shorter than this are not masked: masking "1" or "on" would ruin every line.
MIN_SECRET_LENGTH = 4


class SecretRedactor(logging.Filter):
    """A filter that masks registered secret values in log messages."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            self._secrets = self._secrets | {
                v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH
            }

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = record.exc_text or ""
        if any(s in message or s in exc_text for s in secrets):
            for secret in sorted(secrets, key=len, reverse=True):
                message = message.replace(secret, MASK)
                exc_text = exc_text.replace(secret, MASK)
            record.msg, record.args = message, None
            record.exc_text = exc_text or None
        return True


#: Third-party loggers kept at WARNING unless the host runs at DEBUG.
NOISY_LIBRARIES = ("asyncua", "pymodbus", "aiohttp.access", "nats")

#: The process-wide redactor; bootstrap feeds it secrets as it learns them.
REDACTOR = SecretRedactor()


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    if root.level > logging.DEBUG:
        # These libraries log every packet at INFO; an appliance journal needs warnings.
        for name in NOISY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
