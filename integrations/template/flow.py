"""The UI's flow: one template sensor or binary sensor per entry, from a form.

The form has the type, a name, the state template and (sensors) a unit and device
class; the WebSocket command ``template/preview`` (``preview.py``) shows the result
live while it is filled in. A template that does not compile is refused with the
error, line included, under ``state``.
"""

from __future__ import annotations

from typing import Any

from gatehouse.core import ConfigFlow, FlowResult
from gatehouse.core.helpers import check_template

from .config import USER_STEP_SCHEMA
from .const import CONF_NAME, CONF_STATE


class TemplateConfigFlow(ConfigFlow):
    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        problem = check_template(self.host, user_input[CONF_STATE])
        if problem is not None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA,
                                  errors={CONF_STATE: problem})
        return self.create_entry(title=user_input[CONF_NAME], data=user_input)
