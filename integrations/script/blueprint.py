"""Blueprints in Home Assistant's format, and the instances that use them.

A blueprint file is a ``blueprint:`` block (``name``, ``description``, ``domain``
``automation``/``script``/``template``, ``source_url``, ``author``, ``input``) and a
body in which ``!input name`` stands for what an instance gives. Inputs are
``{name, description, default, selector}``, possibly grouped in *sections*
(``{name, icon, collapsed, input: {...}}``), which are flattened here.

An instance is ``use_blueprint: {path, input}`` (plus the item's own ``id``/``alias``);
``path`` is relative to ``blueprints/<domain>/`` in the config dir, then to the
blueprints shipped with Gatehouse. ``instantiate`` checks every input against its
selector and reports all problems at once (missing inputs, values that do not fit),
then substitutes. ``missing_features`` lists what a blueprint uses that this host does
not have (selectors we do not know, services nobody registered, trigger kinds we lack),
so an imported blueprint says what will not work instead of failing later.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gatehouse.core import Host
from gatehouse.core.helpers import ConfigInvalid, YamlInput, load_yaml

from .errors import BlueprintError, ScriptConfigError
from .selectors import check_selector, known_selectors, selector_kind
from .syntax import as_list

BLUEPRINT_DOMAINS = ("automation", "script", "template")
#: Blueprints shipped with Gatehouse (the repository's ``blueprints/`` folder).
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "blueprints"


@dataclass(frozen=True)
class BlueprintInput:
    name: str
    label: str | None = None
    description: str | None = None
    selector: Mapping[str, Any] | None = None
    default: Any = None
    has_default: bool = False
    section: str | None = None


@dataclass(frozen=True)
class Blueprint:
    path: str
    domain: str
    name: str
    description: str | None
    source_url: str | None
    author: str | None
    inputs: dict[str, BlueprintInput]
    sections: dict[str, Mapping[str, Any]]
    body: Mapping[str, Any]
    file: Path | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """For the UI: metadata and the inputs the instance form is made from."""
        return {
            "path": self.path,
            "domain": self.domain,
            "name": self.name,
            "description": self.description,
            "source_url": self.source_url,
            "author": self.author,
            "inputs": [
                {"name": i.name, "label": i.label or i.name, "description": i.description,
                 "selector": _plain(i.selector), "default": _plain(i.default),
                 "has_default": i.has_default, "section": i.section}
                for i in self.inputs.values()
            ],
            "sections": {k: _plain(v) for k, v in self.sections.items()},
        }


def _plain(value: Any) -> Any:
    if isinstance(value, YamlInput):
        return f"!input {value.name}"
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_blueprint(data: Any, path: str, file: Path | None = None) -> Blueprint:
    """Check a loaded blueprint document and return it (``BlueprintError`` says why not)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("blueprint"), Mapping):
        raise BlueprintError(f"{path}: not a blueprint (no 'blueprint:' block)")
    meta = data["blueprint"]
    problems: list[str] = []
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        problems.append("blueprint.name is required")
    domain = meta.get("domain")
    if domain not in BLUEPRINT_DOMAINS:
        problems.append(f"blueprint.domain must be one of {', '.join(BLUEPRINT_DOMAINS)}, "
                        f"got {domain!r}")
    inputs: dict[str, BlueprintInput] = {}
    sections: dict[str, Mapping[str, Any]] = {}

    def add_inputs(block: Any, section: str | None) -> None:
        if block is None:
            return
        if not isinstance(block, Mapping):
            problems.append(f"input{'.' + section if section else ''} must be a mapping")
            return
        for raw_key, raw_spec in block.items():
            key = str(raw_key)
            spec = raw_spec if isinstance(raw_spec, Mapping) else {}
            if section is None and isinstance(spec.get("input"), Mapping):
                sections[key] = {k: v for k, v in spec.items() if k != "input"}
                add_inputs(spec["input"], key)
                continue
            if key in inputs:
                problems.append(f"input {key!r} is defined twice")
            selector = spec.get("selector")
            if selector is not None and selector_kind(selector) is None:
                problems.append(f"input {key}: selector must be one mapping like {{entity: {{}}}}")
            inputs[key] = BlueprintInput(
                key, spec.get("name"), spec.get("description"), selector,
                spec.get("default"), "default" in spec, section)

    add_inputs(meta.get("input"), None)
    body = {k: v for k, v in data.items() if k != "blueprint"}
    used = set(_inputs_used(body))
    undefined = sorted(used - set(inputs))
    if undefined:
        problems.append(f"the body uses undefined input(s): {', '.join(undefined)}")
    if problems:
        raise BlueprintError(f"{path}: " + "; ".join(problems))
    return Blueprint(path, str(domain), str(name), meta.get("description"),
                     meta.get("source_url"), meta.get("author"), inputs, sections, body, file,
                     {k: v for k, v in meta.items() if k != "input"})


def _inputs_used(value: Any) -> list[str]:
    if isinstance(value, YamlInput):
        return [value.name]
    if isinstance(value, Mapping):
        return [n for v in value.values() for n in _inputs_used(v)]
    if isinstance(value, list):
        return [n for v in value for n in _inputs_used(v)]
    return []


def load_blueprint_file(file: Path, path: str) -> Blueprint:
    """Read and parse one blueprint file (blocking: call from a worker thread)."""
    try:
        data = load_yaml(file)
    except ConfigInvalid as err:
        raise BlueprintError(f"{path}: {err}") from None
    except OSError as err:
        raise BlueprintError(f"{path}: cannot read: {err.strerror}") from None
    return parse_blueprint(data, path, file)


def user_dir(config_dir: Path, domain: str) -> Path:
    return config_dir / "blueprints" / domain


def find_blueprint_file(config_dir: Path, domain: str, path: str) -> Path:
    """The file of ``path`` (config dir first, then the shipped ones)."""
    if ".." in Path(path).parts or Path(path).is_absolute():
        raise BlueprintError(f"blueprint path {path!r} must be relative, without '..'")
    for base in (user_dir(config_dir, domain), SHIPPED_DIR / domain):
        candidate = base / path
        if candidate.is_file():
            return candidate
    raise BlueprintError(f"blueprint {path!r} not found in {user_dir(config_dir, domain)} "
                         "or the shipped blueprints")


def list_blueprints(host: Host, domain: str) -> dict[str, Blueprint | BlueprintError]:
    """Every blueprint of ``domain`` by path (a broken file maps to its error)."""
    found: dict[str, Blueprint | BlueprintError] = {}
    for base in (SHIPPED_DIR / domain, user_dir(host.config_dir, domain)):
        if not base.is_dir():
            continue
        for file in sorted(base.rglob("*.yaml")):
            rel = file.relative_to(base).as_posix()
            try:
                found[rel] = load_blueprint_file(file, rel)
            except BlueprintError as err:
                found[rel] = err
    return found


def install_shipped(host: Host) -> None:
    """Copy the shipped blueprints into the config dir once (as Home Assistant does with
    its own folder): each shipped folder (``gatehouse/``) is copied only while it is
    absent from the config dir, so a blueprint the user changed or deleted stays so."""
    for domain in BLUEPRINT_DOMAINS:
        source = SHIPPED_DIR / domain
        if not source.is_dir():
            continue
        for folder in sorted(p for p in source.iterdir() if p.is_dir()):
            target = user_dir(host.config_dir, domain) / folder.name
            if target.exists():
                continue
            shutil.copytree(folder, target)


def check_inputs(host: Host, blueprint: Blueprint, given: Mapping[str, Any]) -> list[str]:
    """Every problem with an instance's inputs (empty: they fit)."""
    problems = []
    unknown = sorted(set(map(str, given)) - set(blueprint.inputs))
    if unknown:
        problems.append(f"unknown input(s): {', '.join(unknown)}")
    for name, spec in blueprint.inputs.items():
        if name not in given:
            if not spec.has_default:
                problems.append(f"input {name!r} is required")
            continue
        if spec.selector is not None:
            problem = check_selector(host, spec.selector, given[name])
            if problem:
                problems.append(f"input {name!r}: {problem}")
    return problems


def substitute(value: Any, inputs: Mapping[str, Any]) -> Any:
    if isinstance(value, YamlInput):
        return inputs[value.name]
    if isinstance(value, Mapping):
        return {k: substitute(v, inputs) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, inputs) for v in value]
    return value


def instantiate(host: Host, blueprint: Blueprint, given: Mapping[str, Any]) -> dict[str, Any]:
    """The blueprint's body with the inputs (and defaults) filled in."""
    problems = check_inputs(host, blueprint, given)
    if problems:
        raise BlueprintError(f"blueprint {blueprint.path}: " + "; ".join(problems))
    values = {name: spec.default for name, spec in blueprint.inputs.items() if spec.has_default}
    values.update({str(k): v for k, v in given.items()})
    # A default may itself be an !input (Home Assistant allows it): resolve once.
    values = {k: substitute(v, values) for k, v in values.items()}
    result: dict[str, Any] = substitute(blueprint.body, values)
    return result


def missing_features(host: Host, blueprint: Blueprint,
                     trigger_kinds: frozenset[str] = frozenset()) -> list[str]:
    """What the blueprint needs that this host lacks (an empty list: nothing)."""
    missing: list[str] = []
    selectors = known_selectors()
    for spec in blueprint.inputs.values():
        kind = selector_kind(spec.selector) if spec.selector is not None else None
        if kind is not None and kind not in selectors:
            missing.append(f"selector {kind!r} (input {spec.name})")
    for service in sorted(set(_services_used(blueprint.body))):
        domain, _, name = service.partition(".")
        if not host.services.has(domain, name):
            missing.append(f"service {service}")
    if trigger_kinds:
        for trigger in _triggers_used(blueprint.body):
            if trigger not in trigger_kinds:
                missing.append(f"trigger {trigger!r}")
    return missing


def _services_used(value: Any) -> list[str]:
    out: list[str] = []
    if isinstance(value, Mapping):
        for key in ("action", "service"):
            got = value.get(key)
            if isinstance(got, str) and "." in got and "{" not in got:
                out.append(got)
        for item in value.values():
            out.extend(_services_used(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(_services_used(item))
    return out


def _triggers_used(body: Mapping[str, Any]) -> list[str]:
    out = []
    for trigger in as_list(body.get("triggers", body.get("trigger"))):
        if isinstance(trigger, Mapping):
            kind = trigger.get("trigger", trigger.get("platform"))
            if isinstance(kind, str):
                out.append(kind)
    return out


_BOX_TAGS = re.compile(r"!(?:include_dir_named|include|secret|env_var)\b")


def refuse_box_tags(text: str) -> None:
    """Text from a browser must not pull files, secrets or the environment into an
    answer or into the config dir: ``!include``, ``!secret`` and ``!env_var`` are
    refused (``ScriptConfigError`` with the line); ``!input`` is what blueprints use."""
    found = _BOX_TAGS.search(text)
    if found is not None:
        line = text.count("\n", 0, found.start()) + 1
        raise ScriptConfigError(f"<pasted>:{line}: {found.group(0)} is not allowed in YAML "
                                "sent from the web UI")


def save_blueprint(host: Host, text: str, path: str | None = None) -> Blueprint:
    """Import a blueprint from YAML text (an upload or a paste) into the config dir.

    Blocking (files): call from a worker thread. Refuses to overwrite an existing file.
    """
    import tempfile

    refuse_box_tags(text)

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False,
                                     encoding="utf-8") as handle:
        handle.write(text)
        temp = Path(handle.name)
    try:
        parsed = load_blueprint_file(temp, path or "<pasted>")
    finally:
        temp.unlink(missing_ok=True)
    rel = path or f"imported/{_slug(parsed.name)}.yaml"
    if ".." in Path(rel).parts or Path(rel).is_absolute() or not rel.endswith(".yaml"):
        raise BlueprintError(f"blueprint path {rel!r} must be relative and end in .yaml")
    target = user_dir(host.config_dir, parsed.domain) / rel
    if target.exists():
        raise BlueprintError(f"blueprint {parsed.domain}/{rel} exists already")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return parse_blueprint(load_yaml(target), rel, target)


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
    return "_".join(part for part in out.split("_") if part) or "blueprint"
