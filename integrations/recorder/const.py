"""Names and defaults of the recorder integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "recorder"

CONF_NAME: Final = "name"
CONF_DB_FILE: Final = "db_file"
CONF_COMMIT_INTERVAL: Final = "commit_interval"
CONF_PURGE_KEEP_DAYS: Final = "purge_keep_days"
CONF_STATISTICS_KEEP_DAYS: Final = "statistics_keep_days"
CONF_AUTO_PURGE: Final = "auto_purge"
CONF_MAX_QUEUE: Final = "max_queue"
CONF_EXCLUDE_EVENT_TYPES: Final = "exclude_event_types"
CONF_MAX_SIZE_MB: Final = "max_size_mb"

DEFAULT_NAME: Final = "Recorder"
#: HA's file name, so an operator finds it where they would look.
DEFAULT_DB_FILE: Final = "gatehouse_v2.db"
#: A ``kill -9`` loses at most this much (the queue in memory); HA's default too.
DEFAULT_COMMIT_INTERVAL: Final = 1.0
DEFAULT_PURGE_KEEP_DAYS: Final = 10
DEFAULT_STATISTICS_KEEP_DAYS: Final = 365
#: Rows waiting for the writer thread; beyond this they are dropped and counted.
DEFAULT_MAX_QUEUE: Final = 200_000
#: The database's size bound (MiB of used pages): the oldest states and events go first.
DEFAULT_MAX_SIZE_MB: Final = 2048
#: How often the size is checked (seconds); a purge checks it too.
SIZE_CHECK_INTERVAL: Final = 600.0

#: 5-minute and hourly statistics buckets, seconds.
SHORT_TERM_PERIOD: Final = 300
HOUR_PERIOD: Final = 3600

#: The problem entity's unique id suffix.
PROBLEM_KEY: Final = "problem"
