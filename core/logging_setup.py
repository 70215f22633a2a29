"""Logging for the ``run`` command, with secrets masked before anything is written.

Secrets reach memory from ``!secret`` values and from config entry fields marked secret.
``SecretRedactor`` replaces every known secret value in every log record's final
message with ``***``, so that even an integration that logs a whole config dict by
mistake does not leak a password into the journal.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import IO

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


#: syslog priorities (``sd-daemon(3)``) of the logging levels; in between rounds down.
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
               (logging.INFO, 6))


def syslog_priority(levelno: int) -> int:
    for level, priority in _PRIORITIES:
        if levelno >= level:
            return priority
    return 7


class JournalFormatter(logging.Formatter):
    """``<N>name: message`` on every line: journald parses the priority from the prefix.

    No timestamp (the journal stamps each line itself) and no level name (the priority
    says it and ``journalctl -p`` filters on it). A traceback's lines carry the prefix too,
    since journald reads every line as its own entry.
    """

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def stream_is_journal(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """True if ``stream`` is the journal's socket (``$JOURNAL_STREAM`` = ``dev:inode`` of it).

    Compared with the stream's own device and inode, as ``systemd.exec(5)`` asks: a child
    that inherits the variable but writes to a pipe or a file must keep its timestamps.
    """
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    dev, colon, ino = value.partition(":")
    if not colon:
        return False
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (OSError, ValueError, AttributeError):
        return False


class RingHandler(logging.Handler):
    """The host's recent log lines in memory, for ``GET /api/error_log`` (admin).

    Bounded twice: at most ``capacity`` records, each formatted entry (traceback
    included) cut to ``max_entry`` characters, so a flood of long lines cannot grow
    memory. Secrets are masked by ``REDACTOR`` before a record is formatted, as for
    every other handler. The format is Home Assistant's log file's.
    """

    def __init__(self, capacity: int = 500, max_entry: int = 8192) -> None:
        super().__init__()
        self._lines: deque[str] = deque(maxlen=capacity)
        self._max_entry = max_entry
        self.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s (%(threadName)s) [%(name)s] %(message)s"))
        self.addFilter(REDACTOR)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = self.format(record)
        except Exception:  # noqa: BLE001 -- a broken record must not break logging
            self.handleError(record)
            return
        if len(entry) > self._max_entry:
            entry = entry[: self._max_entry - 16] + " ... (truncated)"
        self._lines.append(entry)

    def text(self) -> str:
        """The kept entries, oldest first, one per line (tracebacks span lines)."""
        return "\n".join(list(self._lines)) + ("\n" if self._lines else "")

    def clear(self) -> None:
        self._lines.clear()


#: The process-wide ring of recent log lines (``RingHandler``).
RING = RingHandler()


def attach_ring() -> Callable[[], None]:
    """Put ``RING`` on the root logger if it is not there; returns the undo (which only
    removes it if this call added it)."""
    root = logging.getLogger()
    if RING in root.handlers:
        return lambda: None
    root.addHandler(RING)
    return lambda: root.removeHandler(RING)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    if stream_is_journal(sys.stderr):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
    handler.addFilter(REDACTOR)
    root = logging.getLogger()
    root.handlers[:] = [handler, RING]
    root.setLevel(level.upper())
    if root.level > logging.DEBUG:
        # These libraries log every packet at INFO; an appliance journal needs warnings.
        for name in NOISY_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)
