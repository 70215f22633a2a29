"""Names of the automation integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "automation"

#: The file the web UI writes automations into (as Home Assistant does).
AUTOMATIONS_FILE: Final = "automations.yaml"
#: Which automations are turned off (kept across restarts), in ``.storage/``.
ENABLED_FILE: Final = "automation.disabled.json"

#: Fired when an automation's conditions passed and its actions start (Home Assistant's).
EVENT_AUTOMATION_TRIGGERED: Final = "automation_triggered"
#: Fired when the automations were reloaded.
EVENT_AUTOMATION_RELOADED: Final = "automation_reloaded"

CONF_ID: Final = "id"
CONF_ALIAS: Final = "alias"
CONF_INITIAL_STATE: Final = "initial_state"
CONF_TRIGGER_VARIABLES: Final = "trigger_variables"
