"""The config flow: one form (endpoint, security, credentials), checked by connecting.

The entry is created only if a session can be opened, so a typo or an untrusted server
shows up in the form, with the file to copy when the certificate is the problem. Nodes
are not chosen here yet: they come from YAML (a node picker built on ``opcua.browse``
can add them later as options).
"""

from __future__ import annotations

import logging
from typing import Any

import voluptuous as vol

from gatehouse.core import ConfigFlow, FlowResult

from .client import ConnectionSettings, OpcuaClient
from .config import USER_STEP_SCHEMA, check_auth
from .const import CONF_ENDPOINT, CONF_NAME, CONF_NODES
from .errors import (
    OpcuaAuthError,
    OpcuaConnectionError,
    OpcuaError,
    OpcuaSecurityError,
    OpcuaUntrustedCertificateError,
)
from .pki import PkiPaths

_LOGGER = logging.getLogger(__name__)


class OpcuaConfigFlow(ConfigFlow):
    VERSION = 1

    async def step_user(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="user", data_schema=USER_STEP_SCHEMA)
        errors: dict[str, str] = {}
        placeholders: dict[str, Any] = {}
        try:
            check_auth(user_input)
        except vol.Invalid as err:
            errors[str(err.path[0]) if err.path else "base"] = str(err.msg)
        if not errors:
            await self.set_unique_id(user_input[CONF_ENDPOINT])
            self.abort_if_unique_id_configured()
            errors, placeholders = await self._try_connect(user_input)
        if errors:
            return self.show_form(
                step_id="user",
                data_schema=USER_STEP_SCHEMA,
                errors=errors,
                description_placeholders=placeholders,
            )
        data = {**user_input, CONF_NODES: []}
        return self.create_entry(title=user_input[CONF_NAME], data=data)

    async def _try_connect(
        self, user_input: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        client = OpcuaClient(
            ConnectionSettings.from_data(user_input, base=self.host.config_dir),
            PkiPaths.of(self.host.config_dir),
        )
        try:
            await client.connect()
        except OpcuaUntrustedCertificateError as err:
            return {"base": "untrusted_server_certificate"}, {
                "certificate": str(err.rejected),
                "trusted_dir": str(err.trusted_dir),
                "subject": err.subject,
            }
        except OpcuaAuthError as err:
            return {"base": "invalid_auth"}, {"error": str(err)}
        except OpcuaSecurityError as err:
            return {"base": "security_error"}, {"error": str(err)}
        except OpcuaConnectionError as err:
            return {"base": "cannot_connect"}, {"error": str(err)}
        except OpcuaError as err:
            _LOGGER.warning("Unexpected answer from %s: %s", user_input[CONF_ENDPOINT], err)
            return {"base": "unknown"}, {"error": str(err)}
        finally:
            await client.disconnect()
        return {}, {}
