"""Config flows: step-by-step forms that create config entries (and edit their options).

A flow is a small object with ``step_<id>`` coroutines. Each step returns a result:
show a form (described as data: the voluptuous schema serialised by ``schema_json``),
create an entry, or abort. The manager keeps flows in progress by id, validates the
submitted input against the schema of the form it showed (so steps only see good data
and the UI gets per-field errors), and turns ``create_entry`` into a stored, set-up
``ConfigEntry``. The web UI and the CLI drive flows through the same two calls:
``init`` and ``configure``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

import voluptuous as vol

from .context import new_id
from .exceptions import AbortFlow, ManifestError, UnknownFlow
from .flow_strings import describe_abort, describe_form, load_flow_strings
from .schema_json import serialize_schema
from .util import slugify
from .util.forms import form_errors

if TYPE_CHECKING:
    from .config_entries import ConfigEntries, ConfigEntry
    from .host import Host

_LOGGER = logging.getLogger(__name__)


class FlowResult(TypedDict, total=False):
    """One answer of a flow: ``type`` is ``form``, ``create_entry`` or ``abort``."""

    type: str
    flow_id: str
    handler: str
    step_id: str
    data_schema: list[dict[str, Any]]
    errors: dict[str, str]
    description_placeholders: dict[str, Any]
    title: str
    data: dict[str, Any]
    options: dict[str, Any]
    reason: str
    entry_id: str
    entry_state: str
    #: The words of the step from the integration's strings.json (``flow_strings``):
    #: ``title``, ``description``, ``fields`` (label/description/unit by field) and
    #: ``errors`` (message by field); absent when the file has none for the step.
    strings: dict[str, Any]
    #: An abort's reason in words, when strings.json has them.
    reason_message: str


class _Flow:
    """Shared machinery of config and options flows."""


    def __init__(self) -> None:
        self.flow_id = new_id()
        self.handler = ""
        self.context: dict[str, Any] = {}
        self.cur_step_id = "init"
        self._shown_schema: vol.Schema | None = None

    def show_form(
        self,
        *,
        step_id: str,
        data_schema: vol.Schema | None = None,
        errors: Mapping[str, str] | None = None,
        description_placeholders: Mapping[str, Any] | None = None,
    ) -> FlowResult:
        self._shown_schema = data_schema
        return {
            "type": "form",
            "flow_id": self.flow_id,
            "handler": self.handler,
            "step_id": step_id,
            "data_schema": serialize_schema(data_schema),
            "errors": dict(errors or {}),
            "description_placeholders": dict(description_placeholders or {}),
        }

    def abort(self, reason: str) -> FlowResult:
        return {"type": "abort", "flow_id": self.flow_id, "handler": self.handler, "reason": reason}

    def input_errors(self, step_id: str, user_input: Mapping[str, Any]) -> dict[str, str]:
        """Problems with ``user_input`` that the step would find beyond its schema.

        Asked when the schema refused the input (so the step does not run), so that the
        form shows every problem at once, not the schema's first and the step's after
        the next submit. ``user_input`` is unvalidated: look, do not trust.
        """
        return {}


class ConfigFlow(_Flow):
    """Base of an integration's config flow. Subclass and write ``step_user``.

    ``self.host`` is the host; ``self.context["source"]`` is ``user``. Call
    ``await self.set_unique_id(...)`` and ``self.abort_if_unique_id_configured()`` to
    refuse adding the same device twice.
    """

    host: Host
    domain: str
    #: The field whose slug is the entry's unique id (a hub's, a server's name), if any:
    #: a name in use is then an error at that field (``name_errors``), not an abort.
    NAME_FIELD: ClassVar[str | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.unique_id: str | None = None
        self.cur_step_id = "user"

    async def set_unique_id(self, unique_id: str) -> None:
        self.unique_id = unique_id

    def name_errors(self, user_input: Mapping[str, Any]) -> dict[str, str]:
        """``{NAME_FIELD: "already_configured"}`` when an entry has this name's slug.

        Someone typing a name that is taken wants to pick another, not to start over,
        so the flow shows the form again with this error (and every other one).
        """
        field = self.NAME_FIELD
        name = user_input.get(field) if field is not None else None
        if field is None or not isinstance(name, str) or not name.strip():
            return {}
        if self.host.config_entries.find_unique_id(self.domain, slugify(name)) is None:
            return {}
        return {field: "already_configured"}

    def input_errors(self, step_id: str, user_input: Mapping[str, Any]) -> dict[str, str]:
        return self.name_errors(user_input) if step_id == "user" else {}

    def abort_if_unique_id_configured(self) -> None:
        if self.unique_id is None:
            return
        if self.host.config_entries.find_unique_id(self.domain, self.unique_id) is not None:
            raise AbortFlow("already_configured")

    def create_entry(
        self, *, title: str, data: Mapping[str, Any], options: Mapping[str, Any] | None = None
    ) -> FlowResult:
        return {
            "type": "create_entry",
            "flow_id": self.flow_id,
            "handler": self.handler,
            "title": title,
            "data": dict(data),
            "options": dict(options or {}),
        }


class OptionsFlow(_Flow):
    """Base of an options flow: write ``step_init``; ``self.entry`` is the entry.

    ``self.host`` is set by the manager before the first step, so a step can check
    input against the live host (compile a template, read a node) whether or not the
    entry is loaded.
    """

    host: Host

    def __init__(self, entry: ConfigEntry[Any]) -> None:
        super().__init__()
        self.entry = entry

    def create_entry(self, *, data: Mapping[str, Any]) -> FlowResult:
        return {
            "type": "create_entry",
            "flow_id": self.flow_id,
            "handler": self.handler,
            "data": dict(data),
        }


class MenuOptionsFlow(OptionsFlow):
    """An options flow that is a menu of actions, each a step that returns to the menu.

    The shape every "edit the list of points/nodes/entities" flow has: ``init`` shows a
    select of ``actions()`` plus ``done``; each action is a ``step_<action>`` coroutine
    that ends with ``return self.menu()``; changes collect in the flow until ``done``
    saves ``finish()`` as the entry's options (one reload for the whole session, and
    closing the dialog discards everything). ``summary()`` is shown above the menu;
    ``refuse(action)`` may answer why an action is not possible now.
    """

    ACTION = "action"
    DONE = "done"

    def actions(self) -> list[str]:
        """The menu's actions (step names), ``done`` excluded."""
        raise NotImplementedError

    def finish(self) -> dict[str, Any]:
        """The options to store when the user picks ``done``."""
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """Description placeholders shown with the menu (e.g. what was added so far)."""
        return {}

    def refuse(self, action: str) -> str | None:
        """Why ``action`` cannot be taken now (shown on the menu), or None."""
        return None

    def menu(self, errors: Mapping[str, str] | None = None) -> FlowResult:
        choices = [*self.actions(), self.DONE]
        schema = vol.Schema({vol.Required(self.ACTION, default=choices[0]): vol.In(choices)})
        return self.show_form(
            step_id="init",
            data_schema=schema,
            errors=errors,
            description_placeholders=self.summary(),
        )

    async def step_init(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.menu()
        action = user_input[self.ACTION]
        if action == self.DONE:
            return self.create_entry(data=self.finish())
        problem = self.refuse(action)
        if problem is not None:
            return self.menu({self.ACTION: problem})
        step: Callable[[dict[str, Any] | None], Awaitable[FlowResult]] = getattr(
            self, f"step_{action}"
        )
        return await step(None)


class EntityListOptionsFlow(MenuOptionsFlow):
    """Options holding lists of entity configs per platform: ``options["sensor"] = [...]``.

    The flow of integrations whose entities are described by data (a topic, a subject):
    ``add_entity`` shows ``ADD_SCHEMA`` (a ``platform`` select plus the entity fields),
    drops blank fields and hands the rest to ``validate_entity`` — write that with the
    same schema the YAML uses, so both paths agree; ``remove_entity`` offers the entities
    added here. Subclasses may add actions (``actions()``) and their steps.
    """

    PLATFORMS: ClassVar[tuple[str, ...]] = ()
    ADD_SCHEMA: ClassVar[vol.Schema]

    @staticmethod
    def entity_form(
        platforms: Iterable[str],
        source: Mapping[Any, Any],
        extra: Mapping[Any, Any] | None = None,
    ) -> vol.Schema:
        """The usual ``ADD_SCHEMA``: platform, name, where the value comes from
        (``source``: a topic, a subject...), how to read it (``value_template`` or
        ``json_path``), unit, device class, on/off words, then ``extra`` fields.

        Every field but platform and name is optional here: the platform's own schema
        (``validate_entity``) decides what it needs and refuses what it does not use.
        """
        return vol.Schema(
            {
                vol.Required("platform"): vol.In(list(platforms)),
                vol.Required("name"): vol.All(str, vol.Length(min=1, max=128)),
                **source,
                vol.Optional("value_template"): str,
                vol.Optional("json_path"): str,
                vol.Optional("unit_of_measurement"): str,
                vol.Optional("device_class"): str,
                vol.Optional("payload_on"): str,
                vol.Optional("payload_off"): str,
                **(extra or {}),
            }
        )

    def __init__(self, entry: ConfigEntry[Any]) -> None:
        super().__init__(entry)
        self.options: dict[str, Any] = copy.deepcopy(dict(entry.options))

    def validate_entity(
        self, platform: str, raw: dict[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """Per-field errors, or the validated config to store under ``platform``."""
        raise NotImplementedError

    def actions(self) -> list[str]:
        return ["add_entity", "remove_entity"]

    def summary(self) -> dict[str, Any]:
        # The entry's own (YAML) entities are listed too, marked read-only: the menu
        # shows everything the entry makes, not only what this flow may change.
        own = [
            f"{config.get('name', '?')} ({platform}, YAML, read-only)"
            for platform in self.PLATFORMS
            for config in self.entry.data.get(platform) or ()
            if isinstance(config, Mapping)
        ]
        return {"entities": ", ".join(self._removable()) or "none",
                "yaml_entities": ", ".join(own) or "none"}

    def finish(self) -> dict[str, Any]:
        return self.options

    def refuse(self, action: str) -> str | None:
        if action == "remove_entity" and not self._removable():
            return "no_entities_to_remove"
        return None

    def input_errors(self, step_id: str, user_input: Mapping[str, Any]) -> dict[str, str]:
        """The platform's own verdict (a name in use...) when ``ADD_SCHEMA`` refused
        the form, so both come at once; nothing when the platform itself is unknown."""
        platform = user_input.get("platform")
        if step_id != "add_entity" or platform not in self.PLATFORMS:
            return {}
        try:
            errors, _config = self.validate_entity(platform, self._entity_input(user_input))
        except (vol.Invalid, TypeError, ValueError, KeyError, AttributeError):  # the schema spoke
            return {}
        return errors

    @staticmethod
    def _entity_input(user_input: Mapping[str, Any]) -> dict[str, Any]:
        """The entity fields of the form: blank ones dropped, the name trimmed."""
        raw = {
            key: value
            for key, value in user_input.items()
            if key != "platform" and not (isinstance(value, str) and not value.strip())
        }
        if isinstance(raw.get("name"), str):
            raw["name"] = raw["name"].strip()
        return raw

    async def step_add_entity(self, user_input: dict[str, Any] | None) -> FlowResult:
        if user_input is None:
            return self.show_form(step_id="add_entity", data_schema=self.ADD_SCHEMA)
        platform = user_input["platform"]
        errors, config = self.validate_entity(platform, self._entity_input(user_input))
        if errors:
            return self.show_form(step_id="add_entity", data_schema=self.ADD_SCHEMA, errors=errors)
        self.options[platform] = [*(self.options.get(platform) or ()), config]
        return self.menu()

    def _removable(self) -> dict[str, tuple[str, int]]:
        """Label shown → (platform, index in the options' list)."""
        return {
            f"{config['name']} ({platform})": (platform, index)
            for platform in self.PLATFORMS
            for index, config in enumerate(self.options.get(platform) or ())
        }

    async def step_remove_entity(self, user_input: dict[str, Any] | None) -> FlowResult:
        removable = self._removable()
        schema = vol.Schema({vol.Required("entity"): vol.In(list(removable))})
        if user_input is None:
            return self.show_form(step_id="remove_entity", data_schema=schema)
        platform, index = removable[user_input["entity"]]
        items = list(self.options[platform])
        del items[index]
        if items:
            self.options[platform] = items
        else:
            del self.options[platform]
        return self.menu()


class _Manager:
    #: The part of strings.json this manager's flows read (``config`` or ``options``).
    SECTION: ClassVar[str] = "config"

    def __init__(self, host: Host, entries: ConfigEntries) -> None:
        self._host = host
        self._entries = entries
        self._flows: dict[str, _Flow] = {}
        self._strings: dict[str, dict[str, Any]] = {}

    def _domain_of(self, flow: _Flow) -> str:  # pragma: no cover - both managers override
        raise NotImplementedError

    def strings(self, domain: str) -> dict[str, Any]:
        """The domain's strings.json (read once; a broken file is logged, then ignored:
        the flow still works, in identifiers)."""
        found = self._strings.get(domain)
        if found is None:
            info = self._host.plugins.available().get(domain)
            found = {}
            if info is not None:
                try:
                    found = load_flow_strings(domain, info.path)
                except ManifestError as err:
                    _LOGGER.error("%s", err)
            self._strings[domain] = found
        return found

    def _with_words(self, flow: _Flow, result: FlowResult) -> FlowResult:
        """``result`` with the words of its step (or abort) from strings.json."""
        if result.get("type") not in ("form", "abort"):
            return result
        strings = self.strings(self._domain_of(flow))
        if not strings:
            return result
        if result["type"] == "form":
            words = describe_form(strings, self.SECTION, result)
            if words:
                result["strings"] = words
        else:
            message = describe_abort(strings, self.SECTION, result["reason"])
            if message is not None:
                result["reason_message"] = message
        return result

    def progress(self) -> list[dict[str, Any]]:
        return [
            {"flow_id": f.flow_id, "handler": f.handler, "step_id": f.cur_step_id,
             "context": dict(f.context)}
            for f in self._flows.values()
        ]

    def abort(self, flow_id: str) -> None:
        if self._flows.pop(flow_id, None) is None:
            raise UnknownFlow(f"no flow {flow_id!r} in progress")

    async def configure(
        self, flow_id: str, user_input: Mapping[str, Any] | None = None
    ) -> FlowResult:
        """Submit input to the current step of a flow in progress."""
        flow = self._flows.get(flow_id)
        if flow is None:
            raise UnknownFlow(f"no flow {flow_id!r} in progress")
        if user_input is not None and flow._shown_schema is not None:
            try:
                user_input = flow._shown_schema(dict(user_input))
            except vol.Invalid as err:
                # Every problem at once: the schema's, then what the step would say.
                errors = form_errors(err)
                for field, problem in flow.input_errors(flow.cur_step_id, user_input).items():
                    errors.setdefault(field, problem)
                return self._with_words(flow, flow.show_form(
                    step_id=flow.cur_step_id,
                    data_schema=flow._shown_schema,
                    errors=errors,
                ))
        return await self._run_step(flow, flow.cur_step_id, user_input)

    async def _run_step(
        self, flow: _Flow, step_id: str, user_input: Mapping[str, Any] | None
    ) -> FlowResult:
        method = getattr(flow, f"step_{step_id}", None)
        if method is None:
            self._flows.pop(flow.flow_id, None)
            raise UnknownFlow(f"flow {flow.handler} has no step {step_id!r}")
        try:
            result: FlowResult = await method(None if user_input is None else dict(user_input))
        except AbortFlow as err:
            self._flows.pop(flow.flow_id, None)
            return self._with_words(flow, flow.abort(err.reason))
        if result["type"] == "form":
            flow.cur_step_id = result["step_id"]
            return self._with_words(flow, result)
        self._flows.pop(flow.flow_id, None)
        if result["type"] == "create_entry":
            return self._with_words(flow, await self._finish(flow, result))
        return self._with_words(flow, result)

    async def _finish(self, flow: _Flow, result: FlowResult) -> FlowResult:  # pragma: no cover
        raise NotImplementedError


class FlowManager(_Manager):
    """Config flows in progress: ``init(domain)`` then ``configure(flow_id, input)``."""

    def _domain_of(self, flow: _Flow) -> str:
        assert isinstance(flow, ConfigFlow)
        return flow.domain

    async def init(
        self, domain: str, *, context: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> FlowResult:
        loaded = self._host.plugins.load(domain)
        flow_cls = loaded.config_flow
        if flow_cls is None:
            # The integration exists (load succeeded): "not found" would mislead.
            raise UnknownFlow(f"{domain} has no config flow")
        flow = flow_cls()
        flow.host = self._host
        flow.domain = domain
        flow.handler = domain
        flow.context = {"source": "user", **(context or {})}
        self._flows[flow.flow_id] = flow
        return await self._run_step(flow, flow.cur_step_id, data)

    async def _finish(self, flow: _Flow, result: FlowResult) -> FlowResult:
        from .config_entries import ConfigEntry

        assert isinstance(flow, ConfigFlow)
        if flow.unique_id is not None and self._entries.find_unique_id(
            flow.domain, flow.unique_id
        ):
            return flow.abort("already_configured")
        entry: ConfigEntry[Any] = ConfigEntry(
            domain=flow.domain,
            title=result["title"],
            data=result["data"],
            options=result.get("options", {}),
            # Flows write data in the integration's current format.
            version=self._host.plugins.load(flow.domain).entry_version,
            unique_id=flow.unique_id,
            source=flow.context.get("source", "user"),
        )
        await self._entries.add(entry)
        return {
            "type": "create_entry",
            "flow_id": flow.flow_id,
            "handler": flow.domain,
            "title": entry.title,
            "entry_id": entry.entry_id,
            "entry_state": str(entry.state),
        }


class OptionsFlowManager(_Manager):
    """Options flows: ``init(entry_id)`` then ``configure``; finishing reloads the entry."""

    SECTION = "options"

    def _domain_of(self, flow: _Flow) -> str:
        assert isinstance(flow, OptionsFlow)
        return flow.entry.domain

    async def init(self, entry_id: str) -> FlowResult:
        entry = self._entries.get(entry_id)
        loaded = self._host.plugins.load(entry.domain)
        factory = loaded.options_flow
        if factory is None:
            raise UnknownFlow(f"{entry.domain} has no options flow")
        flow: OptionsFlow = factory(entry)
        flow.host = self._host
        flow.handler = entry_id
        self._flows[flow.flow_id] = flow
        return await self._run_step(flow, "init", None)

    async def _finish(self, flow: _Flow, result: FlowResult) -> FlowResult:
        assert isinstance(flow, OptionsFlow)
        entry = flow.entry
        if self._entries.update_entry(entry, options=result["data"]):
            from .config_entries import ConfigEntryState

            if entry.state is ConfigEntryState.LOADED:
                await self._entries.reload(entry.entry_id)
        return {
            "type": "create_entry",
            "flow_id": flow.flow_id,
            "handler": entry.entry_id,
            "entry_id": entry.entry_id,
            "entry_state": str(entry.state),
        }

