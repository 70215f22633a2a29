"""Constants of the template integration (Home Assistant's field names)."""

from typing import Final

DOMAIN: Final = "template"

#: The platforms a ``template:`` block may hold, in set-up order.
PLATFORMS: Final = ("sensor", "binary_sensor", "switch", "number", "button")

CONF_TRIGGER: Final = "trigger"
CONF_TRIGGERS: Final = "triggers"
CONF_VARIABLES: Final = "variables"
CONF_CONDITION: Final = "condition"
CONF_CONDITIONS: Final = "conditions"
CONF_ACTION: Final = "action"
CONF_ACTIONS: Final = "actions"
CONF_NAME: Final = "name"
CONF_UNIQUE_ID: Final = "unique_id"
CONF_STATE: Final = "state"
CONF_AVAILABILITY: Final = "availability"
CONF_ICON: Final = "icon"
CONF_ATTRIBUTES: Final = "attributes"
CONF_UNIT: Final = "unit_of_measurement"
CONF_DEVICE_CLASS: Final = "device_class"
CONF_STATE_CLASS: Final = "state_class"
CONF_TURN_ON: Final = "turn_on"
CONF_TURN_OFF: Final = "turn_off"
CONF_SET_VALUE: Final = "set_value"
CONF_PRESS: Final = "press"
CONF_MIN: Final = "min"
CONF_MAX: Final = "max"
CONF_STEP: Final = "step"
CONF_OPTIMISTIC: Final = "optimistic"
CONF_TEMPLATE_TYPE: Final = "template_type"
CONF_BLOCKS: Final = "blocks"

#: The unique id of the one entry that holds the YAML ``template:`` section.
YAML_UNIQUE_ID: Final = "yaml"
