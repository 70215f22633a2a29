"""The config flow: one form (endpoint, security, credentials), checked by connecting.

The entry is created only if a session can be opened, so a typo or an untrusted server
shows up in the form, with the file to copy when the certificate is the problem.

Nodes come from YAML or from the options flow: a menu (``init``: add a node, remove one,
done), the node's form (``add_node``: the YAML node fields, checked by the same schema
and, when the entry is connected, by reading the node from the server) and
``remove_node``. Nodes added here are stored in ``entry.options["nodes"]`` and set up
after the entry's own nodes. Changes pile up until "done", which saves them and reloads
the entry once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from gatehouse.core import ConfigEntry, ConfigFlow, FlowResult, MenuOptionsFlow
from gatehouse.core.helpers import form_errors

from .client import ConnectionSettings, OpcuaClient
from .config import (
    NODE_FORM_SCHEMA,
    NODE_ITEM_SCHEMA,
    USER_STEP_SCHEMA,
    check_auth,
    unique_nodes,
)
from .const import CONF_ENDPOINT, CONF_NAME, CONF_NODE, CONF_NODES, CONF_UNIQUE_ID
from .errors import (
    OpcuaAuthError,
    OpcuaConnectionError,
    OpcuaError,
    OpcuaNodeError,
    OpcuaSecurityError,
    OpcuaUntrustedCertificateError,
)
from .nodeid import parse_node
from .pki import PkiPaths
from .runtime import OpcuaRuntime

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
            errors = form_errors(err, fields=USER_STEP_SCHEMA)
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


ACTION_ADD = "add_node"
ACTION_REMOVE = "remove_node"


def node_label(node: dict[str, Any]) -> str:
    """How a node is named (its entity's name): ``name``, else the node's identifier."""
    return str(node.get(CONF_NAME) or parse_node(node[CONF_NODE]).identifier)


class OpcuaOptionsFlow(MenuOptionsFlow):
    """Add and remove the entry's nodes from the web UI (``entry.options["nodes"]``)."""

    def __init__(self, entry: ConfigEntry[Any]) -> None:
        super().__init__(entry)
        self._nodes: list[dict[str, Any]] = [dict(n) for n in entry.options.get(CONF_NODES, [])]

    def actions(self) -> list[str]:
        return [ACTION_ADD, *([ACTION_REMOVE] if self._nodes else [])]

    def summary(self) -> dict[str, Any]:
        # YAML nodes are listed too (read-only: the YAML is where they change).
        yaml_nodes = [f"{node_label(n)} (YAML, read-only)"
                      for n in self.entry.data.get(CONF_NODES) or []]
        return {"nodes": ", ".join(map(node_label, self._nodes)) or "-",
                "yaml_nodes": ", ".join(yaml_nodes) or "-"}

    def finish(self) -> dict[str, Any]:
        options = {k: v for k, v in self.entry.options.items() if k != CONF_NODES}
        if self._nodes:
            options[CONF_NODES] = self._nodes
        return options

    async def step_add_node(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="add_node", data_schema=NODE_FORM_SCHEMA)
        errors: dict[str, str] = {}
        node: dict[str, Any] = {}
        own = list(self.entry.data.get(CONF_NODES) or [])
        taken = self.input_errors("add_node", user_input)
        try:
            # The YAML's schema and rules, so a node means the same whichever way it came.
            node = NODE_ITEM_SCHEMA(dict(user_input))
            if not taken:
                unique_nodes([*own, *self._nodes, node])
        except vol.Invalid as err:
            errors = form_errors(err, fields=NODE_FORM_SCHEMA)
        errors.update(taken)  # with the schema's errors: every problem at once
        if not errors:
            problem = await self._check_on_server(node)
            if problem:
                errors[CONF_NODE] = problem
        if errors:
            return self.show_form(step_id="add_node", data_schema=NODE_FORM_SCHEMA, errors=errors)
        self._nodes.append(node)
        return self.menu()

    async def step_remove_node(self, user_input: dict[str, Any] | None) -> FlowResult:
        schema = self._remove_schema()
        if user_input is None:
            return self.show_form(step_id="remove_node", data_schema=schema)
        self._nodes = [n for n in self._nodes if node_label(n) != user_input[CONF_NAME]]
        return self.menu()

    def input_errors(self, step_id: str, user_input: Mapping[str, Any]) -> dict[str, str]:
        """A node name in use, also when the form's schema refused something else."""
        name = user_input.get(CONF_NAME)
        if step_id != "add_node" or not isinstance(name, str):
            return {}
        nodes = [*(self.entry.data.get(CONF_NODES) or []), *self._nodes]
        used = {node_label(n) for n in nodes} | {
            n[CONF_UNIQUE_ID] for n in nodes if n.get(CONF_UNIQUE_ID)
        }
        if name in used:
            return {CONF_NAME: f"this server already has a node named {name!r}"}
        return {}

    def _remove_schema(self) -> vol.Schema:
        """Only nodes added here: those in YAML are removed by editing the YAML."""
        return vol.Schema({vol.Required(CONF_NAME): vol.In([node_label(n) for n in self._nodes])})

    async def _check_on_server(self, node: dict[str, Any]) -> str | None:
        """Why the server has no such node, if the entry is connected and it says so."""
        runtime = getattr(self.entry, "runtime_data", None)
        if not isinstance(runtime, OpcuaRuntime):
            return None
        try:
            await runtime.connected_client().read(parse_node(node[CONF_NODE]))
        except OpcuaNodeError as err:
            return str(err)
        except OpcuaError as err:  # not connected, or the server is busy: cannot tell now
            _LOGGER.debug("Could not check %s on the server: %s", node[CONF_NODE], err)
        return None

