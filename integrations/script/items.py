"""Automations and scripts as written: read from YAML, blueprints filled in, and
written back by the web UI.

Where items come from (the same for both domains; ``kind`` says list or mapping):

* the ``automation:``/``script:`` section of ``configuration.yaml``, inline or
  ``!include``d (Home Assistant's ``automation: !include automations.yaml``);
* the UI's file (``automations.yaml``/``scripts.yaml`` in the config dir), when the
  section does not already come from it: so a fresh install whose
  ``configuration.yaml`` says only ``automation:`` still keeps what the UI makes.

The UI writes only its file, as Home Assistant does (a list of automations with an
``id``; a mapping of scripts by key); an item written elsewhere is shown read-only.
Reading is blocking (files): ``read_sources`` runs in a worker thread, and loads the
blueprint files the items use, so that ``resolve`` in the loop touches no disk.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import yaml

from gatehouse.core import Host
from gatehouse.core.helpers import (
    ConfigInvalid,
    YamlInput,
    describe_location,
    load_section,
    load_yaml,
    slugify,
)

from .blueprint import (
    Blueprint,
    find_blueprint_file,
    instantiate,
    load_blueprint_file,
    refuse_box_tags,
)
from .errors import BlueprintError, ScriptConfigError, ScriptError


@dataclass
class RawItem:
    key: str
    raw: Any
    file: Path | None
    where: str | None
    editable: bool


@dataclass
class Sources:
    items: list[RawItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    blueprints: dict[str, Blueprint | BlueprintError] = field(default_factory=dict)


@dataclass
class Item:
    """One automation or script, ready to compile (``config``) or broken (``error``)."""

    key: str
    raw: Any
    config: dict[str, Any] | None
    where: str | None
    editable: bool
    blueprint_inputs: dict[str, Any] | None = None
    error: str | None = None


def plain(value: Any) -> Any:
    """Located YAML values as built-in ones (``!input`` placeholders kept)."""
    if isinstance(value, YamlInput):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _entries(value: Any, kind: str, file: Path | None, editable: bool,
             problems: list[str]) -> list[RawItem]:
    if value is None or (isinstance(value, Mapping) and not value and kind == "list"):
        return []
    out: list[RawItem] = []
    if kind == "list":
        if not isinstance(value, list):
            problems.append(f"{file.name if file else '?'}: expected a list of automations")
            return []
        for index, item in enumerate(value):
            where = describe_location(item) or f"{file.name if file else '?'} item {index}"
            key = ""
            if isinstance(item, Mapping):
                key = str(item.get("id") or slugify(str(item.get("alias") or "")) or "")
            out.append(RawItem(key or f"automation_{index}", item, file, where, editable))
    else:
        if not isinstance(value, Mapping):
            problems.append(f"{file.name if file else '?'}: expected a mapping of scripts")
            return []
        for key, item in value.items():
            where = describe_location(item) or f"{file.name if file else '?'} {key}"
            out.append(RawItem(str(key), item, file, where, editable))
    return out


def read_sources(config_dir: Path, domain: str, ui_name: str, kind: str) -> Sources:
    """Everything ``resolve`` needs, read from disk (blocking)."""
    sources = Sources()
    ui_file = config_dir / ui_name
    section = load_section(config_dir, domain)
    for issue in section.issues:
        if section.value is None or (issue.file is not None and section.file is not None
                                     and issue.file == section.file):
            sources.problems.append(str(issue))
    from_ui = section.file is not None and section.file.resolve() == ui_file.resolve()
    sources.items.extend(_entries(section.value, kind, section.file, from_ui,
                                  sources.problems))
    if not from_ui and ui_file.is_file():
        try:
            loaded = load_yaml(ui_file, config_dir=config_dir)
        except ConfigInvalid as err:
            sources.problems.append(str(err))
        else:
            sources.items.extend(_entries(loaded, kind, ui_file, True, sources.problems))
    for item in sources.items:
        use = item.raw.get("use_blueprint") if isinstance(item.raw, Mapping) else None
        if isinstance(use, Mapping) and isinstance(use.get("path"), str):
            path = str(use["path"])
            if path not in sources.blueprints:
                sources.blueprints[path] = _load_blueprint(config_dir, domain, path)
    return sources


def _load_blueprint(config_dir: Path, domain: str, path: str) -> Blueprint | BlueprintError:
    try:
        file = find_blueprint_file(config_dir, domain, path)
        return load_blueprint_file(file, path)
    except BlueprintError as err:
        return err


_Made = TypeVar("_Made")


def compile_each(host: Host, sources: Sources, compile_one: Callable[[Item], _Made]
                 ) -> tuple[list[tuple[Item, _Made]], list[Item]]:
    """Every item filled in (``resolve``) and compiled by ``compile_one``: the good ones
    with what it made, the broken ones with their ``error`` (file, line, why). The one
    validation pass that set-up and ``gatehouse check-config`` run, for scripts and
    automations alike, so they cannot disagree."""
    good: list[tuple[Item, _Made]] = []
    invalid: list[Item] = []
    for item in resolve(host, sources):
        if item.error is None:
            try:
                made = compile_one(item)
            except ScriptError as err:
                item.error = str(err)
            else:
                good.append((item, made))
        if item.error is not None:
            invalid.append(item)
    return good, invalid


def resolve(host: Host, sources: Sources) -> list[Item]:
    """Items with blueprints filled in; a broken one carries its ``error``."""
    items: list[Item] = []
    seen: set[str] = set()
    for raw in sources.items:
        config = plain(raw.raw)
        where = raw.where
        if raw.key in seen:
            items.append(Item(raw.key, config, None, where, raw.editable,
                              error=f"{where}: id {raw.key!r} is used twice"))
            continue
        seen.add(raw.key)
        if not isinstance(config, dict):
            items.append(Item(raw.key, config, None, where, raw.editable,
                              error=f"{where}: expected a mapping"))
            continue
        inputs = None
        try:
            if "use_blueprint" in config:
                use = config["use_blueprint"]
                if not isinstance(use, dict) or not isinstance(use.get("path"), str):
                    raise BlueprintError("use_blueprint needs a path")
                found = sources.blueprints.get(use["path"])
                if found is None or isinstance(found, BlueprintError):
                    raise found or BlueprintError(f"blueprint {use['path']} not loaded")
                inputs = dict(use.get("input") or {})
                body = instantiate(host, found, inputs)
                config = {**body, **{k: v for k, v in config.items() if k != "use_blueprint"}}
            _no_inputs_left(config)
        except (BlueprintError, ScriptConfigError) as err:
            items.append(Item(raw.key, plain(raw.raw), None, where, raw.editable, inputs,
                              error=f"{where}: {err}"))
            continue
        items.append(Item(raw.key, plain(raw.raw), config, where, raw.editable, inputs))
    return items


def _no_inputs_left(value: Any) -> None:
    if isinstance(value, YamlInput):
        raise ScriptConfigError(f"!input {value.name} used outside a blueprint")
    if isinstance(value, Mapping):
        for item in value.values():
            _no_inputs_left(item)
    elif isinstance(value, list):
        for item in value:
            _no_inputs_left(item)


def parse_yaml_text(text: str) -> Any:
    """YAML text from the browser (our tags, ``!input`` too) through the house's loader
    (blocking: a temporary file). ``ScriptConfigError`` names the line.

    Tags that read the box (``!include``, ``!secret``, ``!env_var``) are refused: text
    from a browser must not pull files, secrets or the environment into an answer."""
    refuse_box_tags(text)
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False,
                                     encoding="utf-8") as handle:
        handle.write(text)
        temp = Path(handle.name)
    try:
        return load_yaml(temp)
    except ConfigInvalid as err:
        raise ScriptConfigError(
            str(err).replace(str(temp), "<pasted>").replace(temp.name, "<pasted>")) from None
    finally:
        temp.unlink(missing_ok=True)


def dump_yaml(value: Any) -> str:
    """What the editor shows: the item as YAML (``!input`` kept as a tag)."""
    return yaml.dump(_tagged(value), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False)


class _Dumper(yaml.SafeDumper):
    pass


class _Tag(str):
    __slots__ = ()


_Dumper.add_representer(_Tag, lambda d, v: d.represent_scalar("!input", str(v)))


def _tagged(value: Any) -> Any:
    if isinstance(value, YamlInput):
        return _Tag(value.name)
    if isinstance(value, Mapping):
        return {str(k): _tagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    return value


async def config_from_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """The item an editor command sends: ``config`` (JSON) or ``yaml`` (text)."""
    if "yaml" in args:
        parsed = plain(await anyio.to_thread.run_sync(parse_yaml_text, args["yaml"]))
        if not isinstance(parsed, dict):
            raise ScriptConfigError("the YAML must be a mapping (one automation or script)")
        return parsed
    if "config" in args:
        return dict(args["config"])
    raise ScriptConfigError("send 'config' (a mapping) or 'yaml' (text)")


# -- writing the UI's file ----------------------------------------------------------------


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _atomic_write(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_ui(path: Path, kind: str) -> Any:
    if not path.is_file():
        return [] if kind == "list" else {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if loaded is None or (loaded == {} and kind == "list"):
        return [] if kind == "list" else {}
    if kind == "list" and not isinstance(loaded, list):
        raise ScriptConfigError(f"{path.name} is not a list of automations; fix it by hand")
    if kind == "mapping" and not isinstance(loaded, dict):
        raise ScriptConfigError(f"{path.name} is not a mapping of scripts; fix it by hand")
    return loaded


def new_id() -> str:
    """Home Assistant's UI ids: the creation time in milliseconds."""
    return str(int(time.time() * 1000))


def save_item(config_dir: Path, ui_name: str, kind: str, key: str,
              config: Mapping[str, Any] | None) -> None:
    """Write (``config``) or delete (None) one item of the UI's file (blocking).

    ``config`` is checked by the caller; it is stored as given (plain YAML, no tags:
    what the UI sends is JSON).
    """
    path = config_dir / ui_name
    data = _read_ui(path, kind)
    if kind == "list":
        kept = [item for item in data if not (isinstance(item, dict)
                                              and str(item.get("id")) == key)]
        replaced = len(kept) != len(data)
        if config is not None:
            item = {"id": key, **{k: v for k, v in config.items() if k != "id"}}
            if replaced:
                index = next(i for i, old in enumerate(data)
                             if isinstance(old, dict) and str(old.get("id")) == key)
                kept.insert(index, item)
            else:
                kept.append(item)
        elif not replaced:
            raise ScriptConfigError(f"no automation {key!r} in {ui_name}")
        data = kept
    elif config is None:
        if key not in data:
            raise ScriptConfigError(f"no script {key!r} in {ui_name}")
        del data[key]
    else:
        data[key] = dict(config)
    _atomic_write(path, _dump(data) if data else ("[]\n" if kind == "list" else "{}\n"))


async def check_item(host: Host, domain: str, key: str, config: Mapping[str, Any],
                     compile_item: Callable[[Host, Item], Any]) -> None:
    """Compile a config the UI sends before it is written (``ScriptError`` says why)."""
    raw = RawItem(key, dict(config), None, f"{domain} {key}", True)
    sources = Sources(items=[raw])
    use = config.get("use_blueprint")
    if isinstance(use, Mapping) and isinstance(use.get("path"), str):
        sources.blueprints[use["path"]] = await anyio.to_thread.run_sync(
            _load_blueprint, host.config_dir, domain, use["path"])
    (item,) = resolve(host, sources)
    if item.error is not None:
        raise ScriptConfigError(item.error)
    compile_item(host, item)
