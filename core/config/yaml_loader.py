"""Load YAML configuration files into located values, collecting every problem found.

Built on PyYAML's safe loader (the libyaml-backed ``CSafeLoader`` when it is compiled
in: its parser reports the same marks as the pure-Python one, and only the parser is
in C, so all construction below is shared). What it adds:

* Mappings, sequences and strings come back as :class:`NodeDict`, :class:`NodeList` and
  :class:`NodeStr`, which remember their file, line and column; containers also record
  the position of each key and item so ints, bools and nulls are locatable too.
* Home-Assistant-style tags: ``!secret``, ``!include``, ``!include_dir_named``,
  ``!env_var`` and ``!input`` (a blueprint's placeholder, kept as an ``Input``).
* Duplicate keys are errors (PyYAML silently keeps the last one, which hides typos).
* Problems are *collected*, not raised at the first one: a missing secret, a broken
  include or an unknown tag is recorded as a located :class:`ConfigIssue`, the value is
  replaced by :data:`UNRESOLVED`, and loading goes on. Only a syntax error stops a file,
  because after it PyYAML has no tree left to walk.
* Error texts are built from the parser's ``problem``/``context`` and marks only, never
  from ``str(error)``: that would include a snippet of the offending line, which in
  ``secrets.yaml`` is a password.
* Aliases are limited (``MAX_ALIAS_NODES``). An alias shares its anchor's value, so
  loading nine levels of nine aliases each takes microseconds, but the value stands
  for 9**9 nodes, and the first validator that copies or stringifies it
  (``vol.Coerce(str)``) ran for 51 s into a ``MemoryError`` at 3.4 GB. As hardened
  YAML libraries do, every alias use counts the nodes of what it refers to; past the
  limit the file is refused at once with the place of the alias that crossed it (the
  alias and any later one become :data:`UNRESOLVED`). Anchors used as real configs use
  them, for shared defaults and ``<<`` merges, stay far below it.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..util.expansion import expanded_size
from .errors import ConfigInvalid, ConfigIssue, sorted_issues
from .nodes import (
    UNRESOLVED,
    Input,
    Location,
    NodeDict,
    NodeList,
    NodeStr,
    SecretStr,
    location_of,
    node_location,
)
from .paths import normalize_path, path_kind, real_path, secret_dirs

try:
    from yaml import CSafeLoader as _CSafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CSafeLoader = yaml.SafeLoader  # type: ignore[misc,assignment]

__all__ = [
    "CONFIG_FILE",
    "SECRETS_FILE",
    "UNRESOLVED",
    "Location",
    "NodeDict",
    "NodeList",
    "NodeStr",
    "SecretStr",
    "load_config_file",
    "location_of",
    "node_location",
]

CONFIG_FILE = "configuration.yaml"
SECRETS_FILE = "secrets.yaml"

#: Nodes that alias uses may add to one file (each use counts the nodes it stands for).
MAX_ALIAS_NODES = 100_000

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_SECRET_TAG = "!secret"


class _Unhashable:
    """Marks a key that could not be used (reported already) so the entry is skipped."""


_UNHASHABLE = _Unhashable()


@dataclass
class _LoadContext:
    """State shared by every file loaded for one top-level load.

    ``stack`` holds the resolved paths of the files currently being loaded, for cycle
    detection. ``include_sites`` maps each loaded file (resolved) to the first place
    that pulled it in, so issues inside it can be traced back to a top-level domain.
    """

    root: Path
    loader: _LoaderClass
    issues: list[ConfigIssue] = field(default_factory=list)
    root_lines: dict[Path, int] = field(default_factory=dict)
    stack: list[Path] = field(default_factory=list)
    secrets: dict[Path, NodeDict | None] = field(default_factory=dict)
    include_sites: dict[Path, Location] = field(default_factory=dict)
    opened: list[Path] = field(default_factory=list)

    def report(self, file: Path, line: int | None, message: str) -> None:
        issue = ConfigIssue(file=file, line=line, path=(), message=message, root=self.root)
        # A file included twice (``!include`` and ``!include_dir_named``) would
        # otherwise report each of its problems twice.
        if issue not in self.issues:
            self.issues.append(issue)

    def display(self, path: Path) -> str:
        """A path as users should read it in messages: relative to the config dir."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


@dataclass
class _LoadOutcome:
    """What :func:`_load_tree` produced; ``value`` may contain :data:`UNRESOLVED`.

    ``opened`` lists the files in the order they were opened, for sorting issues.
    ``root_line`` is the line the top file's value starts on (a scalar has no location
    of its own, and "configuration.yaml: expected a mapping" without a line is no help).
    """

    value: Any
    issues: list[ConfigIssue]
    include_sites: dict[Path, Location]
    opened: list[Path]
    root_line: int | None = None


def _scalar_strings(value: Any, seen: set[int] | None = None) -> set[str]:
    """String forms of every scalar value inside ``value`` (for redaction).

    Keys of a secret mapping are names (``user``, ``password``), not secrets: masking
    them would garble messages like "required key 'password' not provided".
    """
    seen = set() if seen is None else seen
    if id(value) in seen:
        return set()
    seen.add(id(value))
    found: set[str] = set()
    if isinstance(value, dict):
        for item in value.values():
            found |= _scalar_strings(item, seen)
    elif isinstance(value, list):
        for item in value:
            found |= _scalar_strings(item, seen)
    elif value is not None and value is not UNRESOLVED:
        text = str(value)
        if text:
            found.add(text)
    return found


class _LocatingConstructor(SafeConstructor):
    """SafeConstructor that builds located values and reports problems instead of raising.

    Mixed in front of ``SafeLoader``/``CSafeLoader``; the attributes below are set by
    :func:`_load_file` right after the loader is created.
    """

    gh_file: Path
    gh_context: _LoadContext
    gh_in_secrets: bool
    #: Nodes added by alias uses so far in this file, and whether the limit was hit.
    gh_alias_nodes: int = 0
    gh_alias_refused: bool = False
    gh_node_sizes: dict[Node, int]

    # -- helpers ---------------------------------------------------------------------

    def _location(self, node: Node) -> Location:
        mark = node.start_mark
        return Location(self.gh_file, mark.line + 1, mark.column + 1)

    def _fail(self, node: Node, message: str) -> Any:
        """Record a located problem and return the stand-in for the lost value."""
        self.gh_context.report(self.gh_file, node.start_mark.line + 1, message)
        return UNRESOLVED

    def _tag_argument(self, node: Node) -> str | None:
        """The scalar argument of a custom tag, or ``None`` after reporting misuse."""
        if not isinstance(node, ScalarNode):
            self._fail(node, f"{_tag(node)} expects a single value, not a mapping or list")
            return None
        argument = str(node.value).strip()
        if not argument:
            self._fail(node, f"{_tag(node)} needs an argument")
            return None
        return argument

    def construct_document(self, node: Node) -> Any:
        """Remember where the document's value starts (see ``_LoadOutcome.root_line``)."""
        self.gh_context.root_lines.setdefault(self.gh_file, node.start_mark.line + 1)
        return super().construct_document(node)

    # -- alias expansion ------------------------------------------------------------------

    def _nodes_in(self, root: Node) -> int:
        """How many nodes ``root`` stands for, aliases expanded (a cycle counts once);
        stops counting past the limit. Remembered per node, so a whole document costs
        one pass over its distinct nodes."""
        return expanded_size(root, _child_nodes, cap=MAX_ALIAS_NODES, memo=self.gh_node_sizes)

    def _alias_allowed(self, node: Node, site: Node, key: Any = None, index: int = 0) -> bool:
        """Count a use of ``node`` when it is an alias (constructed before); False once
        the file's aliases stand for more than ``MAX_ALIAS_NODES`` nodes. ``site`` is
        where it is reported: the key it is the value of, or its list (``index``)."""
        if node not in self.constructed_objects:
            return True  # the anchor itself, or no anchor at all
        if self.gh_alias_refused:
            return False
        size = self._nodes_in(node)
        self.gh_alias_nodes += size
        if self.gh_alias_nodes <= MAX_ALIAS_NODES:
            return True
        self.gh_alias_refused = True
        where = f"at {_quote(key)}" if key is not None else f"at item {index + 1} of the list"
        self._fail(
            site,
            f"YAML aliases in this file stand for more than {MAX_ALIAS_NODES} values "
            f"(an alias bomb?); the alias {where} of the anchor on line "
            f"{node.start_mark.line + 1} alone stands for "
            f"{size if size <= MAX_ALIAS_NODES else f'more than {MAX_ALIAS_NODES}'}",
        )
        return False

    # -- error containment ------------------------------------------------------------

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """Construct ``node``; a failure becomes an issue and :data:`UNRESOLVED`.

        Catching here, per node, is what lets one bad value (``!!float abc``, an unknown
        tag...) be reported without losing the rest of the file.
        """
        if node in self.constructed_objects:  # aliases and keys seen twice: no wrapper cost
            return self.constructed_objects[node]
        outer_deep = self.deep_construct
        already_building = node in self.recursive_objects
        try:
            return super().construct_object(node, deep)
        except ConstructorError as err:
            mark = err.problem_mark or node.start_mark
            problem = err.problem or "could not construct value"
            self.gh_context.report(self.gh_file, mark.line + 1, problem)
        except Exception:  # noqa: BLE001 - PyYAML's constructors crash on some bad input
            self._fail(node, f"invalid value for {_tag(node)}")
        # PyYAML does not unwind its bookkeeping on errors; do it, so that an alias to
        # this node sees the stand-in instead of tripping the recursion check. A node
        # that was already being built further up the stack is left to its owner.
        self.deep_construct = outer_deep
        if not already_building:
            self.recursive_objects.pop(node, None)
            self.constructed_objects[node] = UNRESOLVED
        return UNRESOLVED

    # -- core types ----------------------------------------------------------------------

    def _construct_str(self, node: Node) -> NodeStr:
        if not isinstance(node, ScalarNode):
            raise ConstructorError(
                None, None, f"expected a scalar for {_tag(node)}", node.start_mark
            )
        # Everything in secrets.yaml is masked in reprs, including strings nested in a
        # secret that is a mapping or list.
        string_type = SecretStr if self.gh_in_secrets else NodeStr
        return string_type(self.construct_scalar(node), self._location(node))

    def _construct_map(self, node: Node) -> Iterator[NodeDict]:
        data = NodeDict()
        data.location = self._location(node)
        if not isinstance(node, MappingNode):
            raise ConstructorError(
                None, None, f"expected a mapping for {_tag(node)}", node.start_mark
            )
        yield data  # two-step construction, so anchors can refer to the mapping
        self._fill_mapping(data, node)

    def _construct_key(self, node: Node) -> Any:
        key = self.construct_object(node, deep=True)
        if isinstance(key, NodeStr):
            key = str(key)  # keys are located by the parent; keep them plain
        try:
            hash(key)
        except TypeError:
            self._fail(node, "a mapping or list cannot be used as a key")
            return _UNHASHABLE
        return key

    def _fill_mapping(self, data: NodeDict, node: MappingNode) -> None:
        keys: dict[int, Any] = {}  # key node id -> key, so each key is reported once

        def key_of(key_node: Node) -> Any:
            if id(key_node) not in keys:
                keys[id(key_node)] = self._construct_key(key_node)
            return keys[id(key_node)]

        # Duplicates are checked on the keys written in this mapping only: keys that
        # arrive through a ``<<`` merge are meant to be overridden.
        first_seen: dict[Hashable, Location] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = key_of(key_node)
            if key is _UNHASHABLE or key is UNRESOLVED:
                continue
            here = self._location(key_node)
            if key in first_seen:
                self.gh_context.report(
                    self.gh_file,
                    here.line,
                    f"duplicate key {_quote(key)} (first defined on line {first_seen[key].line})",
                )
            else:
                first_seen[key] = here
        own = list(node.value)
        try:
            self.flatten_mapping(node)
        except ConstructorError as err:
            mark = err.problem_mark or node.start_mark
            self.gh_context.report(self.gh_file, mark.line + 1, err.problem or "invalid merge")
            node.value = [pair for pair in own if pair[0].tag != _MERGE_TAG]
        for key_node, value_node in node.value:
            key = key_of(key_node)
            if key is _UNHASHABLE or key is UNRESOLVED:
                continue
            if self._alias_allowed(value_node, key_node, key=key):
                value = self.construct_object(value_node, deep=False)
            else:
                value = UNRESOLVED
            data[key] = value
            data.set_location(key, self._location(key_node), self._location(value_node))
            if key_node.tag == _SECRET_TAG:
                data.add_secret_values(_scalar_strings(key))
            if value_node.tag == _SECRET_TAG:
                data.add_secret_values(_scalar_strings(value))

    def _construct_seq(self, node: Node) -> Iterator[NodeList]:
        data = NodeList()
        data.location = self._location(node)
        if not isinstance(node, SequenceNode):
            raise ConstructorError(None, None, f"expected a list for {_tag(node)}", node.start_mark)
        yield data
        for index, child in enumerate(node.value):
            if self._alias_allowed(child, node, index=index):
                value = self.construct_object(child, deep=False)
            else:
                value = UNRESOLVED
            data.append_located(value, self._location(child))
            if child.tag == _SECRET_TAG:
                data.add_secret_values(_scalar_strings(value))

    def _construct_unknown(self, node: Node) -> Any:
        return self._fail(node, f"unknown tag '{_tag(node)}'")

    # -- tags -----------------------------------------------------------------------------

    def _construct_secret(self, node: Node) -> Any:
        name = self._tag_argument(node)
        if name is None:
            return UNRESOLVED
        if self.gh_in_secrets:
            return self._fail(node, f"!secret cannot be used inside {SECRETS_FILE}")
        ctx = self.gh_context
        searched: list[str] = []
        broken: list[str] = []
        for directory in secret_dirs(self.gh_file.parent, ctx.root):
            candidate = directory / SECRETS_FILE
            if path_kind(candidate) == "missing":
                continue
            searched.append(ctx.display(candidate))
            secrets = _load_secrets(candidate, ctx, self._location(node))
            if secrets is None:
                broken.append(ctx.display(candidate))
                continue
            if name in secrets:
                value = secrets[name]
                if value is UNRESOLVED:
                    return UNRESOLVED
                if isinstance(value, str):
                    return SecretStr(value, self._location(node))
                return value
        if broken:
            where = ", ".join(broken)
            return self._fail(node, f"secret '{name}' could not be read: {where} has errors")
        if not searched:
            return self._fail(node, f"secret '{name}' requested but no {SECRETS_FILE} was found")
        return self._fail(node, f"secret '{name}' not found in {', '.join(searched)}")

    def _construct_include(self, node: Node) -> Any:
        name = self._tag_argument(node)
        if name is None:
            return UNRESOLVED
        target = normalize_path(self.gh_file.parent / name)
        ctx = self.gh_context
        kind = path_kind(target)
        if kind == "missing":
            return self._fail(node, f"included file not found: {ctx.display(target)}")
        if kind == "dir":
            return self._fail(
                node,
                f"!include expects a file, {ctx.display(target)} is a directory "
                "(use !include_dir_named)",
            )
        cycle = _cycle(target, ctx)
        if cycle is not None:
            return self._fail(node, cycle)
        ctx.include_sites.setdefault(real_path(target), self._location(node))
        return _load_file(target, ctx, in_secrets=self.gh_in_secrets)

    def _construct_include_dir_named(self, node: Node) -> Any:
        name = self._tag_argument(node)
        if name is None:
            return UNRESOLVED
        directory = normalize_path(self.gh_file.parent / name)
        ctx = self.gh_context
        if path_kind(directory) != "dir":
            return self._fail(node, f"included directory not found: {ctx.display(directory)}")
        try:
            files = sorted(directory.glob("*.yaml"))
        except OSError as err:
            reason = err.strerror or type(err).__name__
            return self._fail(node, f"cannot list {ctx.display(directory)}: {reason}")
        result = NodeDict()
        result.location = self._location(node)
        for file in files:
            if file.name.startswith(".") or file.name == SECRETS_FILE or path_kind(file) == "dir":
                continue
            cycle = _cycle(file, ctx)
            if cycle is not None:
                self._fail(node, cycle)
                result[file.stem] = UNRESOLVED
                continue
            ctx.include_sites.setdefault(real_path(file), self._location(node))
            result[file.stem] = _load_file(file, ctx, in_secrets=self.gh_in_secrets)
            # The entry "is" the whole file: point both key and value at its first line.
            result.set_location(file.stem, Location(file, 1))
        return result

    def _construct_env_var(self, node: Node) -> Any:
        argument = self._tag_argument(node)
        if argument is None:
            return UNRESOLVED
        name, *rest = argument.split(maxsplit=1)
        default = rest[0] if rest else ""
        value = os.environ.get(name)
        if value is None:
            if not default:
                return self._fail(
                    node, f"environment variable '{name}' is not set and no default is given"
                )
            value = default
        return NodeStr(value, self._location(node))

    def _construct_input(self, node: Node) -> Any:
        """``!input name`` (blueprints): kept as an ``Input`` for the blueprint to fill."""
        name = self._tag_argument(node)
        if name is None:
            return UNRESOLVED
        return Input(name, self._location(node))

    yaml_constructors: ClassVar[dict[str | None, Any]] = {
        **SafeConstructor.yaml_constructors,
        _MAP_TAG: _construct_map,
        _SEQ_TAG: _construct_seq,
        _STR_TAG: _construct_str,
        _SECRET_TAG: _construct_secret,
        "!include": _construct_include,
        "!include_dir_named": _construct_include_dir_named,
        "!env_var": _construct_env_var,
        "!input": _construct_input,
        None: _construct_unknown,
    }


class _PyLoader(_LocatingConstructor, yaml.SafeLoader):
    """Pure-Python variant; kept so tests can check it agrees with the C one."""


class _CLoader(_LocatingConstructor, _CSafeLoader):
    """libyaml-backed variant, used by default for speed."""


_LoaderClass = type[_PyLoader] | type[_CLoader]
_DEFAULT_LOADER: _LoaderClass = _CLoader if yaml.__with_libyaml__ else _PyLoader


def _child_nodes(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _tag(node: Node) -> str:
    """A node's tag as written: ``!!float`` rather than ``tag:yaml.org,2002:float``."""
    prefix = "tag:yaml.org,2002:"
    tag = str(node.tag)
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def _quote(key: object) -> str:
    return f"'{key}'" if isinstance(key, str) else str(key)


def _cycle(target: Path, ctx: _LoadContext) -> str | None:
    """A message if loading ``target`` would include a file from inside itself."""
    resolved = real_path(target)
    chain = [real_path(p) for p in ctx.stack]
    if resolved not in chain:
        return None
    start = chain.index(resolved)
    names = [ctx.display(p) for p in ctx.stack[start:]] + [ctx.display(target)]
    return "include cycle: " + " -> ".join(names)


def _load_secrets(path: Path, ctx: _LoadContext, site: Location) -> NodeDict | None:
    """Load (once per top-level load) a ``secrets.yaml``; ``None`` if it is unusable."""
    key = real_path(path)
    if key in ctx.secrets:
        return ctx.secrets[key]
    ctx.include_sites.setdefault(key, site)
    loaded = _load_file(path, ctx, in_secrets=True)
    secrets: NodeDict | None
    if loaded is UNRESOLVED:
        secrets = None
    elif isinstance(loaded, NodeDict):
        secrets = loaded
    else:
        ctx.report(path, 1, f"{SECRETS_FILE} must be a mapping of names to values")
        secrets = None
    ctx.secrets[key] = secrets
    return secrets


def _yaml_error_issue(path: Path, err: yaml.YAMLError, text: str, ctx: _LoadContext) -> None:
    """Turn a PyYAML error into a located issue without quoting the source line."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        context = err.context if err.problem else None
        message = "invalid YAML"
        if mark is not None:
            message += f" (column {mark.column + 1})"
        if context and problem.startswith("but "):
            # PyYAML splits some messages: "expected a single document" + "but found...".
            message += f": {context}, {problem}"
        else:
            message += f": {problem}"
            if context and err.context_mark is not None:
                context_mark = err.context_mark
                message += (
                    f" ({context} at line {context_mark.line + 1},"
                    f" column {context_mark.column + 1})"
                )
            elif context:
                message += f" ({context})"
        ctx.report(path, None if mark is None else mark.line + 1, message)
        return
    if isinstance(err, yaml.reader.ReaderError):
        position = int(err.position)
        # libyaml counts bytes of the UTF-8 text it was given, PyYAML counts characters.
        if yaml.__with_libyaml__ and issubclass(ctx.loader, _CSafeLoader):
            before = text.encode("utf-8")[:position].decode("utf-8", "ignore")
        else:
            before = text[:position]
        character = err.character
        shown = f"#x{character:04x}" if isinstance(character, int) else repr(character)
        ctx.report(path, before.count("\n") + 1, f"invalid character {shown}: {err.reason}")
        return
    ctx.report(path, None, f"invalid YAML: {type(err).__name__}")


def _load_file(path: Path, ctx: _LoadContext, *, in_secrets: bool) -> Any:
    """Load one file; problems go to ``ctx``. Returns :data:`UNRESOLVED` if unreadable.

    An empty (or comment-only) file yields an empty mapping, as in Home Assistant, so
    that ``!include`` of an empty file and an empty ``configuration.yaml`` both mean
    "nothing configured".
    """
    if path not in ctx.opened:
        ctx.opened.append(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        ctx.report(path, None, f"cannot read file: {err.strerror or type(err).__name__}")
        return UNRESOLVED
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        ctx.report(path, line, "file is not valid UTF-8 text")
        return UNRESOLVED
    ctx.stack.append(path)
    instance = None
    try:
        # The pure-Python reader already rejects control characters here.
        instance = ctx.loader(text)
        instance.gh_file = path
        instance.gh_context = ctx
        instance.gh_in_secrets = in_secrets
        instance.gh_node_sizes = {}
        data = instance.get_single_data()
    except yaml.YAMLError as err:
        _yaml_error_issue(path, err, text, ctx)
        return UNRESOLVED
    except RecursionError:
        ctx.report(path, None, "YAML is nested too deeply")
        return UNRESOLVED
    finally:
        ctx.stack.pop()
        if instance is not None:
            instance.dispose()
    if data is None:
        data = NodeDict()
        data.location = Location(path, 1, 1)
    return data


def _load_tree(
    path: Path, config_dir: Path | None = None, *, loader: _LoaderClass = _DEFAULT_LOADER
) -> _LoadOutcome:
    """Load ``path`` and everything it includes, collecting issues instead of raising."""
    path = normalize_path(Path(path))
    root = normalize_path(Path(config_dir)) if config_dir is not None else path.parent
    ctx = _LoadContext(root=root, loader=loader)
    kind = path_kind(path)
    if kind in ("missing", "dir"):
        problem = "not found" if kind == "missing" else "is a directory, not a file"
        ctx.report(path, None, f"{ctx.display(path)} {problem}")
        return _LoadOutcome(UNRESOLVED, ctx.issues, ctx.include_sites, [path])
    value = _load_file(path, ctx, in_secrets=False)
    issues = sorted_issues(ctx.issues, ctx.opened)
    return _LoadOutcome(value, issues, ctx.include_sites, ctx.opened, ctx.root_lines.get(path))


def load_config_file(path: Path | str, *, config_dir: Path | str | None = None) -> Any:
    """Load one YAML file with tags resolved and positions recorded.

    ``config_dir`` is the top of the ``secrets.yaml`` search (default: the file's own
    directory). Every problem PyYAML lets us get past is collected; if there are any,
    :class:`ConfigInvalid` is raised with all of them. An empty file loads as an empty
    :class:`NodeDict`. Synchronous and blocking: call it from a worker thread in async
    code.
    """
    outcome = _load_tree(Path(path), None if config_dir is None else Path(config_dir))
    if outcome.issues:
        raise ConfigInvalid(outcome.issues)
    return outcome.value
