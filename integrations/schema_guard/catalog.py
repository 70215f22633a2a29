"""The schema directory: versioned files, compiled once, reloaded when they change.

Files are named ``<name>.v<version>.<ext>``: ``telemetry.v2.json`` (a JSON Schema) or
``telemetry.v3.desc`` (a Protocol Buffers descriptor set). Other files are ignored.
A rule names the schema (``telemetry``) and may pin a version; otherwise the highest
version that loaded is in force.

**Reload** is by polling: ``scan`` compares each file's (mtime, size) with what it saw
last and recompiles only what changed; a poll of an unchanged directory is one
``scandir``. (No new dependency for a few files checked every couple of seconds; the
poll runs in a worker thread.)

**A broken file never weakens the guard.** A file that does not load is reported
(``problems``: file → reason; the log and the problem entity show it) and changes
nothing: a new broken version is not considered, an edited version that breaks keeps
its previous compiled form, and a deleted file keeps its version if it was the schema's
last one. Never accept-all, never reject-all.

``$ref`` between files goes by ``$id`` (give each version its own). A file with such a
``$ref`` is compiled again whenever any JSON file changes, so it follows the referenced
file (if the new combination does not compile, its previous form stays, reported).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from .errors import SchemaLoadError
from .jsonschemas import JsonSchema, load_document
from .protobufs import DescriptorSet
from .violation import Violation

_LOGGER = logging.getLogger(__name__)

FILE_NAME: Final = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.v(?P<version>[0-9]{1,6})\.(?P<ext>json|desc)$"
)
#: A schema file bigger than this is refused (a schema is text someone wrote).
MAX_SCHEMA_BYTES: Final = 4 * 1024 * 1024


class Schema(Protocol):
    """A compiled schema version as rules use it."""

    name: str
    version: int
    file: str
    kind: str

    def validate(self, payload: bytes, max_depth: int, masked: Any = None) -> tuple[
        Any, list[Violation]]: ...

    def validate_value(self, value: Any, masked: Any = None) -> tuple[
        Any, list[Violation]]: ...


@dataclass(frozen=True, slots=True)
class Need:
    """What the rules ask of one schema name: format assertion and protobuf types."""

    assert_formats: frozenset[bool] = frozenset({False})
    messages: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Version:
    file: str
    signature: tuple[int, int]
    compiled: dict[Any, Schema] = field(default_factory=dict)


class Catalog:
    """The compiled versions of every schema in ``directory`` (see module docstring)."""

    def __init__(self, directory: Path, needs: Mapping[str, Need] | None = None) -> None:
        self.directory = directory
        self.needs: dict[str, Need] = dict(needs or {})
        #: name → version → compiled forms; replaced as a whole by ``scan``.
        self.versions: dict[str, dict[int, _Version]] = {}
        #: file name → why it is not (or no longer) in use.
        self.problems: dict[str, str] = {}
        self._seen: dict[str, tuple[int, int]] = {}
        self.generation = 0

    def schema(self, name: str, version: int, key: Any) -> Schema | None:
        found = self.versions.get(name, {}).get(version)
        return None if found is None else found.compiled.get(key)

    def available(self, name: str) -> list[int]:
        return sorted(self.versions.get(name, {}))

    def scan(self) -> bool:
        """Reload what changed (blocking: call in a worker thread). True if anything did.

        The new state is built aside and assigned at the end, so a reader in the event
        loop sees either the old catalog or the new one, never half of each.
        """
        try:
            entries = list(os.scandir(self.directory))
        except FileNotFoundError:
            entries = []
        except OSError as err:
            self.problems = {**self.problems, str(self.directory): str(err)}
            return False
        current: dict[str, tuple[int, int]] = {}
        for entry in entries:
            if FILE_NAME.match(entry.name) and entry.is_file():
                st = entry.stat()
                current[entry.name] = (st.st_mtime_ns, st.st_size)
        if current == self._seen:
            return False
        versions = {name: dict(v) for name, v in self.versions.items()}
        problems = {f: r for f, r in self.problems.items() if f in current}
        known = self._known_documents(current)
        changed_json = any(
            f.endswith(".json") and self._seen.get(f) != sig for f, sig in current.items())
        for file, signature in sorted(current.items()):
            if self._seen.get(file) == signature and not (
                changed_json and self._refers_out(versions, file)
            ):
                continue
            match = FILE_NAME.match(file)
            assert match is not None
            name, version = match["name"], int(match["version"])
            try:
                loaded = self._load(file, name, version, signature, known)
            except SchemaLoadError as err:
                problems[file] = err.reason
                _LOGGER.error("schema_guard: %s: %s; the previous version stays in force",
                              file, err.reason)
                continue
            problems.pop(file, None)
            versions.setdefault(name, {})[version] = loaded
            _LOGGER.info("schema_guard: loaded %s (%s v%d)", file, name, version)
        for file in set(self._seen) - set(current):
            match = FILE_NAME.match(file)
            assert match is not None
            name, version = match["name"], int(match["version"])
            held = versions.get(name, {})
            if held.get(version) is not None and held[version].file == file:
                if len(held) > 1:
                    del held[version]
                else:
                    problems[file] = "file removed; its last loaded form stays in force"
        self.versions, self.problems, self._seen = versions, problems, current
        self.generation += 1
        return True

    @staticmethod
    def _refers_out(versions: Mapping[str, Mapping[int, _Version]], file: str) -> bool:
        """True if ``file`` (loaded) has a ``$ref`` to another document: it is compiled
        again whenever a JSON file changes, so it sees the referenced file's new form."""
        for name_versions in versions.values():
            for loaded in name_versions.values():
                if loaded.file == file:
                    return any(isinstance(c, JsonSchema) and c.refers_out
                               for c in loaded.compiled.values())
        return False

    def _known_documents(self, current: Mapping[str, tuple[int, int]]) -> dict[str, Any]:
        """Every JSON schema's ``$id`` → document, for ``$ref`` between files."""
        known: dict[str, Any] = {}
        for name_versions in self.versions.values():
            for loaded in name_versions.values():
                for compiled in loaded.compiled.values():
                    if isinstance(compiled, JsonSchema):
                        ident = compiled.document.get("$id")
                        if isinstance(ident, str):
                            known[ident.rstrip("#")] = compiled.document
        for file in current:
            if file.endswith(".json") and self._seen.get(file) != current[file]:
                try:
                    doc = load_document((self.directory / file).read_bytes(), file)
                except (OSError, SchemaLoadError):
                    continue
                ident = doc.get("$id")
                if isinstance(ident, str):
                    known[ident.rstrip("#")] = doc
        return known

    def _load(
        self, file: str, name: str, version: int, signature: tuple[int, int],
        known: Mapping[str, Any],
    ) -> _Version:
        if signature[1] > MAX_SCHEMA_BYTES:
            raise SchemaLoadError(file, f"larger than {MAX_SCHEMA_BYTES} bytes")
        try:
            raw = (self.directory / file).read_bytes()
        except OSError as err:
            raise SchemaLoadError(file, f"cannot read: {err.strerror or err}") from None
        need = self.needs.get(name, Need())
        loaded = _Version(file, signature)
        if file.endswith(".json"):
            document = load_document(raw, file)
            for asserted in sorted(need.assert_formats | {False}):
                loaded.compiled[asserted] = JsonSchema(
                    name, version, file, document, assert_formats=asserted, known=known
                )
        else:
            files = DescriptorSet(name, version, file, raw)
            for message in sorted(need.messages):
                loaded.compiled[message] = files.message(message)
        return loaded
