"""The script engine's public surface: what ``automation`` (and the template entities)
use, and nothing else of this package.

The engine lives in the ``script`` integration, as Home Assistant's lives beside its
script component, because scripts are the smallest thing that runs actions and both
integrations that need it may list ``script`` in ``dependencies``. (The core cannot
hold it: the mqtt trigger needs the mqtt integration's api, and the core imports no
integration.)

* ``run_actions(host, actions, variables, context, name=...)``: run a list of actions
  once (both syntaxes), e.g. a trigger-based template entity's ``action:`` block;
* ``Script``/``ScriptResult``: a compiled sequence with a mode, traced;
* ``attach_triggers(host, configs, fire, name)``: triggers → ``fire(data, context)``;
* ``compile_conditions``/``compile_condition``: conditions → ``check(vars, trace, path)``;
* ``normalize_*``: both spellings to the newer one;
* traces: ``trace_store(host)`` (``list``, ``get``), ``RunTrace``;
* items and blueprints: ``read_sources``/``resolve``/``save_item`` (the YAML files
  and the UI's writes), ``Blueprint``, ``list_blueprints``, ``missing_features``,
  ``check_inputs``, ``parse_blueprint``, ``save_blueprint``;
* ``reload_domain(host, domain)`` for a ``reload`` service;
* ``render``/``render_value``: templates with Home Assistant's native types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gatehouse.core import Context, Host

from .blueprint import (
    Blueprint,
    check_inputs,
    install_shipped,
    list_blueprints,
    missing_features,
    parse_blueprint,
    save_blueprint,
)
from .conditions import Check, compile_condition, compile_conditions
from .config import RUN_FIELDS
from .const import DEFAULT_MAX, MODES
from .errors import BlueprintError, ScriptConfigError, ScriptError, TriggerUnavailable
from .items import (
    Item,
    Sources,
    check_item,
    compile_each,
    config_from_args,
    dump_yaml,
    new_id,
    parse_yaml_text,
    plain,
    read_sources,
    resolve,
    save_item,
)
from .runner import Script, ScriptResult
from .services import reload_domain
from .syntax import (
    normalize_action,
    normalize_actions,
    normalize_automation,
    normalize_condition,
    normalize_trigger,
)
from .templating import check_templates, render, render_value
from .trace import RunTrace, TraceStore, jsonable, trace_store
from .triggers import attach_triggers, trigger_platforms

__all__ = [
    "DEFAULT_MAX",
    "MODES",
    "RUN_FIELDS",
    "Blueprint",
    "BlueprintError",
    "Check",
    "Item",
    "RunTrace",
    "Script",
    "ScriptConfigError",
    "ScriptError",
    "ScriptResult",
    "Sources",
    "TraceStore",
    "TriggerUnavailable",
    "attach_triggers",
    "check_inputs",
    "check_item",
    "check_templates",
    "compile_condition",
    "compile_conditions",
    "compile_each",
    "config_from_args",
    "dump_yaml",
    "install_shipped",
    "jsonable",
    "list_blueprints",
    "missing_features",
    "new_id",
    "normalize_action",
    "normalize_actions",
    "normalize_automation",
    "normalize_condition",
    "normalize_trigger",
    "parse_blueprint",
    "parse_yaml_text",
    "plain",
    "read_sources",
    "reload_domain",
    "render",
    "render_value",
    "resolve",
    "run_actions",
    "save_blueprint",
    "save_item",
    "trace_store",
    "trigger_platforms",
]


async def run_actions(
    host: Host,
    actions: Any,
    variables: Mapping[str, Any] | None = None,
    context: Context | None = None,
    *,
    name: str = "actions",
    stored_traces: int = 0,
) -> ScriptResult:
    """Run ``actions`` once, now, in the caller's task; returns how the run ended.

    Compiles on every call: callers that run the same actions often keep a ``Script``.
    ``ScriptConfigError`` if the actions are malformed.
    """
    script = Script(host, actions, domain="script", item_id=name, name=name,
                    mode="parallel", max_runs=1_000_000, stored_traces=stored_traces)
    return await script.run(variables, context)
