"""Names shared by the script engine and the script integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "script"

CONF_ALIAS: Final = "alias"
CONF_MODE: Final = "mode"
CONF_MAX: Final = "max"
CONF_MAX_EXCEEDED: Final = "max_exceeded"
CONF_SEQUENCE: Final = "sequence"
CONF_VARIABLES: Final = "variables"
CONF_FIELDS: Final = "fields"
CONF_ICON: Final = "icon"
CONF_DESCRIPTION: Final = "description"
CONF_TRACE: Final = "trace"
CONF_USE_BLUEPRINT: Final = "use_blueprint"

MODE_SINGLE: Final = "single"
MODE_RESTART: Final = "restart"
MODE_QUEUED: Final = "queued"
MODE_PARALLEL: Final = "parallel"
MODES: Final = (MODE_SINGLE, MODE_RESTART, MODE_QUEUED, MODE_PARALLEL)
DEFAULT_MAX: Final = 10

#: Runs kept per automation or script (Home Assistant's default ``stored_traces``).
DEFAULT_STORED_TRACES: Final = 5

#: The file the web UI writes scripts into (as Home Assistant does).
SCRIPTS_FILE: Final = "scripts.yaml"
