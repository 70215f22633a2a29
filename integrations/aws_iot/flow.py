"""The config flow: the connection, checked before it is saved.

The form takes the connection fields (``USER_STEP_SCHEMA``). Before the entry is made,
the flow opens every file (a missing file, a key that is not the certificate's, an
expired or not-yet-valid certificate: an error on that field, naming the file) and then
connects once with a short timeout: an endpoint that does not answer or a server
``root_ca`` does not trust is an error on ``endpoint`` here, where the person who typed
it can fix it. (At boot, by contrast, an unreachable endpoint does not stop the entry:
it loads and queues telemetry.) An entry that gets its certificate by fleet
provisioning is made in YAML: the claim block is not a form.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import anyio.to_thread
import voluptuous as vol

from gatehouse.core import ConfigFlow, FlowResult
from gatehouse.core.helpers import form_errors, slugify

from .client import connect_once
from .config import ENTRY_SCHEMA, USER_STEP_SCHEMA, check_files
from .const import CONF_CERTIFICATE, CONF_ENDPOINT, CONF_NAME, DEFAULT_NAME
from .errors import AwsIotNotConnected, CertificateProblem
from .runtime import configured_credentials, endpoint_of

_LOGGER = logging.getLogger(__name__)

FLOW_CONNECT_TIMEOUT: Final = 5.0


def _field_of(message: str) -> str:
    field = message.split(":", 1)[0].split(".", maxsplit=1)[0]
    return field if field and " " not in field else "base"


async def check_connection(config: dict[str, Any], timeout: float = FLOW_CONNECT_TIMEOUT
                           ) -> dict[str, str]:
    """The form's errors for a validated config: files first, then one connect."""
    try:
        await anyio.to_thread.run_sync(check_files, config)
    except CertificateProblem as err:
        return {_field_of(str(err)): str(err)}
    credentials = configured_credentials(config)
    if credentials is None:
        return {CONF_CERTIFICATE: "certificate and private_key are required in the form"}
    try:
        await connect_once(endpoint_of(config), credentials, timeout)
    except AwsIotNotConnected as err:
        _LOGGER.info("AWS IoT flow: %s", err)
        message = str(err)
        field = _field_of(message)
        return {field if field != "base" else CONF_ENDPOINT: message}
    return {}


class AwsIotConfigFlow(ConfigFlow):
    VERSION = 1

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        try:
            config = ENTRY_SCHEMA(dict(user_input))
        except vol.Invalid as err:
            return self.show_form(
                step_id="user", data_schema=USER_STEP_SCHEMA, errors=form_errors(err)
            )
        title = str(user_input.get(CONF_NAME) or DEFAULT_NAME)
        await self.set_unique_id(slugify(f"{config[CONF_ENDPOINT]}_{config['thing_name']}"))
        self.abort_if_unique_id_configured()
        errors = await check_connection(config)
        if errors:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA, errors=errors)
        return self.create_entry(title=title, data=dict(user_input))
