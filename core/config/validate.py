"""Validate loaded configuration with voluptuous and explain every failure in place.

voluptuous already collects all errors of a schema into one ``MultipleInvalid``, each with
a ``path`` into the data. The data here is the loader's located tree, so walking that
path finds the file and line of the offending key. Around that, this module adds what a
user needs to fix the file in one go:

* messages that say what was expected *and* what was found ("expected int, got str");
* "did you mean" hints for misspelled keys (from the schema's own keys) and for
  unknown integration domains;
* no secret ever echoed: validators may quote the value they reject, so anything that
  came from ``!secret`` is scrubbed from the messages;
* no follow-up noise: a value the loader could not produce (missing secret, broken
  include) was reported there already, so schema errors about it are dropped.

What validation returns is plain data (``dict``, ``list``, ``str``...; see
:mod:`.detach`): positions are only needed while there can still be an error, and the
host keeps the validated configuration for as long as it runs.
"""

from __future__ import annotations

import difflib
import gc
import re
import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import voluptuous as vol

from ..const import CORE_DOMAIN  # the reserved top-level key for the host's own settings
from .detach import detach
from .errors import ConfigIssue, sorted_issues
from .nodes import (
    UNRESOLVED,
    Location,
    NodeDict,
    collect_secret_values,
    location_of,
    node_location,
)
from .paths import normalize_path, path_kind, real_path
from .schema_paths import child_of, complete, flatten, known_keys
from .yaml_loader import CONFIG_FILE, _load_tree, _LoadOutcome

__all__ = ["CORE_DOMAIN", "ConfigResult", "check_config", "validate_section"]

_REDACTED: Final = "***"
_REQUIRED_MSG: Final = "required key not provided"
_EXTRA_MSG: Final = "extra keys not allowed"


@dataclass(frozen=True)
class ConfigResult:
    """Outcome of :func:`check_config`.

    ``config`` maps each domain whose section validated cleanly to the schema's output,
    as plain data without positions (see :func:`validate_section`); a section with any
    issue is left out, so callers can still start everything that is fine. ``issues``
    lists every problem found, ordered by file and line. ``secret_values`` are the
    string forms of every ``!secret`` that could be resolved (also from sections with
    problems), for the host's log redactor.
    """

    config: dict[str, Any] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    secret_values: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        """``True`` when no issue was found."""
        return not self.issues


@dataclass(frozen=True)
class _Target:
    """Where a voluptuous error path leads in the located tree."""

    location: Location | None
    path: tuple[str | int, ...]
    found: bool
    value: Any
    unresolved: bool


# -- public API ------------------------------------------------------------------------


def validate_section(
    domain: str,
    schema: vol.Schema | Callable[[Any], Any] | Mapping[Any, Any] | list[Any],
    value: Any,
    *,
    file_hint: Path,
    location: Location | None = None,
) -> tuple[Any | None, list[ConfigIssue]]:
    """Validate one integration's section; return ``(validated, [])`` or ``(None, issues)``.

    ``value`` should be the located tree from the loader, so each issue can name its
    line. ``validated`` is plain data: the loader's located mappings, lists and strings
    in it are replaced by built-in ones (a secret too: the host's log redactor masks
    it), so that keeping it does not keep every position alive; whatever else the
    schema returned is left as it is.

    ``file_hint`` is the file to name when nothing more precise is known (and its
    directory is what file names in messages are shown relative to); ``location``, if
    given, is where the section's key is written, used when the error is about the
    section as a whole and the value carries no position (``demo: 5``).

    Anything that is not already a ``vol.Schema`` (a dict, a list, a type, a function)
    is wrapped in one. A validator that crashes with something other than
    ``vol.Invalid`` becomes an issue as well: configuration problems must never surface
    as tracebacks.
    """
    # Wrap everything, plain types and functions included: ``vol.Schema(int)`` checks
    # the type, where calling ``int`` directly would silently convert.
    validator = schema if isinstance(schema, vol.Schema) else vol.Schema(schema)
    secrets = collect_secret_values(value)
    root = normalize_path(file_hint).parent
    fallback = location or node_location(value)

    def make(
        loc: Location | None,
        path: tuple[str | int, ...],
        message: str,
        suggestion: str | None = None,
    ) -> ConfigIssue:
        return ConfigIssue(
            file=loc.file if loc else file_hint,
            line=loc.line if loc else None,
            path=(domain, *path),
            message=_redact(message, secrets),
            domain=domain,
            suggestion=suggestion,
            root=root,
        )

    try:
        validated = validator(value)
    except vol.Invalid as err:
        errors = complete(validator, value, flatten(err))
    except Exception as err:  # noqa: BLE001 - a broken validator is a config issue too
        detail = _redact(str(err), secrets)
        text = f"validation failed: {type(err).__name__}" + (f": {detail}" if detail else "")
        return None, [make(fallback, (), text)]
    else:
        return detach(validated), []

    issues: list[ConfigIssue] = []
    for path, error in errors:
        target = _walk(value, path, fallback)
        if target.unresolved:
            continue  # the loader already said why this value is missing
        message, suggestion = _describe(error, path, target, validator)
        issue = make(target.location, target.path, message, suggestion)
        if issue not in issues:
            issues.append(issue)
    return None, issues


def check_config(
    config_dir: Path,
    schemas: Mapping[str, Any | None],
    *,
    core_schema: Any | None = None,
) -> ConfigResult:
    """Load ``configuration.yaml`` from ``config_dir`` and validate every section.

    ``schemas`` maps each known integration domain to its voluptuous schema, or to
    ``None`` for a known domain without YAML options (its value is accepted as is). The
    reserved key ``gatehouse`` is validated with ``core_schema`` (accepted as is when
    that is ``None``). Unknown top-level keys are issues with a "did you mean" hint.

    ``schemas`` may be a lazy mapping: only its keys are listed up front, and
    ``schemas[domain]`` is looked up once, in file order, for just the domains that
    appear in the file (so a host can import a plugin only when it is configured). If
    that lookup raises, the section gets an issue "integration 'x' could not be loaded".

    Never raises for a configuration problem: a missing or unreadable file, a YAML
    syntax error, a missing secret and a schema failure all end up in
    ``ConfigResult.issues``, all of them at once. Synchronous and blocking (file I/O):
    call it from a worker thread in async code.

    ``ConfigResult.config`` is plain data, and the located tree the file was loaded
    into is gone when this returns: positions are for the issues, which carry their
    own, so nothing else of them is kept.
    """
    config_dir = normalize_path(Path(config_dir))
    path = config_dir / CONFIG_FILE
    kind = path_kind(path)
    if kind in ("missing", "dir"):
        if kind == "missing":
            message = f"{CONFIG_FILE} not found in {config_dir}"
        else:
            message = f"{CONFIG_FILE} in {config_dir} is a directory, not a file"
        missing = ConfigIssue(
            file=path,
            line=None,
            path=(),
            message=message,
            root=config_dir,
        )
        return ConfigResult({}, [missing])

    outcome = _load_tree(path, config_dir)
    tree = weakref.ref(outcome.value) if isinstance(outcome.value, NodeDict) else None
    result = _check_tree(outcome, path, config_dir, schemas, core_schema)
    del outcome
    _release(tree)
    return result


def _check_tree(
    outcome: _LoadOutcome,
    path: Path,
    config_dir: Path,
    schemas: Mapping[str, Any | None],
    core_schema: Any | None,
) -> ConfigResult:
    """:func:`check_config` once the file is loaded: attribute, validate, detach."""
    issues = list(outcome.issues)
    root = outcome.value
    if root is UNRESOLVED:  # syntax error or unreadable: nothing to validate
        return ConfigResult({}, sorted_issues(issues, outcome.opened))
    secrets = collect_secret_values(root)
    if not isinstance(root, dict):
        issues.append(
            ConfigIssue(
                file=path,
                line=_line(node_location(root)) or outcome.root_line or 1,
                path=(),
                message=(
                    "expected a mapping of integration domains at the top level, "
                    f"got {_type_name(root)}"
                ),
                root=config_dir,
            )
        )
        return ConfigResult({}, sorted_issues(issues, outcome.opened), secrets)

    # Attribute loader issues to the section they sit in (following includes back to
    # configuration.yaml); such sections are broken even if their schema passes. The
    # path then starts with the domain, like every validation issue's.
    lines = _domain_lines(root, path)
    broken: set[str] = set()
    for index, issue in enumerate(issues):
        owner = _owning_domain(issue, path, outcome.include_sites, lines)
        if owner is not None:
            broken.add(owner)
            issues[index] = replace(issue, domain=owner, path=issue.path or (owner,))

    known = sorted({*schemas, CORE_DOMAIN})
    known_set = set(known)
    config: dict[str, Any] = {}
    for key, value in root.items():
        key_location = location_of(root, key)
        if not isinstance(key, str) or key not in known_set:
            issues.append(_unknown_domain(key, key_location, known, path, config_dir))
            continue
        if value is UNRESOLVED:
            continue
        if key == CORE_DOMAIN:
            schema = core_schema
        else:
            try:
                schema = schemas[key]
            except Exception as err:  # noqa: BLE001 - a lazy mapping may import a plugin
                issues.append(
                    ConfigIssue(
                        file=key_location.file if key_location else path,
                        line=_line(key_location),
                        path=(key,),
                        message=_redact(
                            f"integration '{key}' could not be loaded: {type(err).__name__}: {err}",
                            secrets,
                        ),
                        domain=key,
                        root=config_dir,
                    )
                )
                continue
        if schema is None:
            if key not in broken and not _contains_unresolved(value):
                config[key] = detach(value)
            continue
        section = value
        if section is None:
            # A bare `echo:` means "set it up with the defaults", as in Home Assistant.
            section = NodeDict()
            section.location = key_location
        validated, section_issues = validate_section(
            key, schema, section, file_hint=path, location=key_location
        )
        issues.extend(section_issues)
        if section_issues or key in broken or _contains_unresolved(value):
            continue
        config[key] = validated
    return ConfigResult(config, sorted_issues(issues, outcome.opened), secrets)


def _release(tree: weakref.ref[NodeDict] | None) -> None:
    """Make sure the located tree is gone once the check is done.

    Nothing :func:`check_config` returns refers to it, yet it can outlive the check in
    a reference cycle: a validator that keeps an exception keeps its traceback, whose
    frames hold the data being validated and, through ``f_back``, the frames of this
    module, which hold the whole tree. voluptuous' ``Any`` does so whenever an
    alternative before the one that matches failed (``mqtt: {...}`` against "a list of
    brokers, or one"). Only the cyclic collector frees such a cycle, at a time of its
    choosing, and a host freezes whatever survived start-up (``gc.freeze()``), after
    which it is never freed at all. So while the tree is still alive here, collect
    now: the young generations first (cheap, and enough when the check was short),
    everything if that did not do.
    """
    for generation in (1, 2):
        if tree is None or tree() is None:
            return
        gc.collect(generation)


# -- walking error paths ---------------------------------------------------------------


def _walk(value: Any, path: Sequence[Any], fallback: Location | None) -> _Target:
    """Follow a voluptuous error path through the located tree.

    Each step that exists narrows the location to the key or list item. When a step
    does not exist (a missing required key, or data the schema transformed on the way),
    the error belongs to the deepest container reached, so its own position is used:
    that also keeps errors about an included file's content in that file.
    """
    location = node_location(value) or fallback
    current = value
    shown: list[str | int] = []
    for depth, element in enumerate(path):
        if current is UNRESOLVED:
            return _Target(location, tuple(shown), False, None, True)
        present, child = child_of(current, element)
        if not present:
            location = node_location(current) or location
            shown.extend(_shown(rest) for rest in path[depth:])
            return _Target(location, tuple(shown), False, None, False)
        location = location_of(current, element) or location
        shown.append(_shown(element) if isinstance(current, list) else str(element))
        current = child
    return _Target(location, tuple(shown), True, current, current is UNRESOLVED)


def _shown(element: Any) -> str | int:
    if isinstance(element, int) and not isinstance(element, bool):
        return element
    return str(element)


# -- messages ----------------------------------------------------------------------------


def _describe(
    error: vol.Invalid, path: Sequence[Any], target: _Target, schema: vol.Schema
) -> tuple[str, str | None]:
    """Turn voluptuous' terse message into one that says what was expected and found."""
    raw = error.error_message or str(error)
    if raw == _REQUIRED_MSG and path:
        return f"required key {_quote(path[-1])} not provided", None
    if raw == _EXTRA_MSG and path:
        key = path[-1]
        suggestion = None
        if isinstance(key, str):
            suggestion = _closest(key, known_keys(schema, path[:-1]) - {key})
        message = f"{_EXTRA_MSG}: {_quote(key)}"
        if suggestion is not None:
            message += f" (did you mean '{suggestion}'?)"
        return message, suggestion
    if raw.startswith("expected ") and target.found and " got " not in raw:
        return f"{raw}, got {_type_name(target.value)}", None
    return raw, None


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _quote(key: object) -> str:
    return f"'{key}'" if isinstance(key, str) else str(key)


def _type_name(value: object) -> str:
    """YAML-ish name of a value's type for "got ..." (never the value: it may be secret)."""
    if value is None:
        return "null"
    for kind, name in (
        (bool, "bool"),
        (int, "int"),
        (float, "float"),
        (str, "str"),
        (dict, "dict"),
        (list, "list"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _redact(message: str, secrets: frozenset[str]) -> str:
    """Replace every occurrence of a secret in ``message``.

    Longest first, so a secret containing another is masked whole. Very short secrets
    are only masked as whole words, or "a" would mangle every message.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            message = message.replace(secret, _REDACTED)
        else:
            pattern = rf"(?<!\w){re.escape(secret)}(?!\w)"
            message = re.sub(pattern, _REDACTED, message)
    return message


# -- check_config helpers ------------------------------------------------------------------


def _contains_unresolved(value: Any) -> bool:
    seen: set[int] = set()
    stack = [value]
    while stack:
        current = stack.pop()
        if current is UNRESOLVED:
            return True
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return False


def _domain_lines(root: dict[Any, Any], path: Path) -> list[tuple[int, str]]:
    """``(line, domain)`` of each top-level key written in ``configuration.yaml``."""
    lines: list[tuple[int, str]] = []
    for key in root:
        where = location_of(root, key)
        if isinstance(key, str) and where is not None and where.file == path:
            lines.append((where.line, key))
    return sorted(lines)


def _owning_domain(
    issue: ConfigIssue,
    config_file: Path,
    sites: Mapping[Path, Location],
    lines: Sequence[tuple[int, str]],
) -> str | None:
    """The top-level section an issue belongs to, following includes back up."""
    file, line = issue.file, issue.line
    target = real_path(config_file)
    visited: set[Path] = set()
    while file is not None and real_path(file) != target:
        key = real_path(file)
        if key in visited or key not in sites:
            return None
        visited.add(key)
        site = sites[key]
        file, line = site.file, site.line
    if file is None or line is None:
        return None
    owner = None
    for start, domain in lines:
        if start > line:
            break
        owner = domain
    return owner


def _unknown_domain(
    key: Hashable, where: Location | None, known: Sequence[str], path: Path, root: Path
) -> ConfigIssue:
    suggestion = _closest(key, known) if isinstance(key, str) else None
    message = f"unknown integration {_quote(key)}"
    if suggestion is not None:
        message += f" (did you mean '{suggestion}'?)"
    return ConfigIssue(
        file=where.file if where else path,
        line=_line(where),
        path=(key if isinstance(key, str) else str(key),),
        message=message,
        domain=key if isinstance(key, str) else None,
        suggestion=suggestion,
        root=root,
    )


def _line(where: Location | None) -> int | None:
    return where.line if where is not None else None
