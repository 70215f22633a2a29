"""JSON Schema (drafts 07 and 2020-12) compiled with jsonschema-rs.

Why jsonschema-rs (``scripts/bench/bench_schema_guard.py`` has the figures): it is
maintained, implements both drafts including ``$dynamicRef``, ``unevaluatedProperties``
and ``dependentSchemas`` (the conformance table in the tests), validates a typical
telemetry document in a few microseconds, and, with ``RegexOptions``, runs ``pattern``
with Rust's ``regex`` crate, which matches in linear time: a catastrophic-backtracking
pattern such as ``^(a+)+$`` costs the same as any other. Patterns that need backtracking
(look-around, back-references) do not compile with it and the schema is refused at load,
naming the pattern. ``fastjsonschema`` has no 2020-12; ``jsonschema`` (the Python
reference) is an order of magnitude slower and runs ``pattern`` with Python's
backtracking ``re``.

Other choices, each for a reason:

* the draft comes from ``$schema`` (no ``$schema``: 2020-12, the current draft);
* ``format`` is an annotation unless the rule asserts formats (2020-12 says so; for
  draft 07 the validator would assert by default, which the spec leaves optional);
* ``$ref`` is resolved only inside the schema directory (by ``$id``): a remote ``$ref``
  would be a network fetch at load time, so it is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

import jsonschema_rs

from .decode import PayloadRefused, strict_json
from .errors import SchemaLoadError
from .violation import Violation, pointer

#: Errors kept per message (a document failing everywhere is bounded in what it costs).
MAX_VIOLATIONS: Final = 32

DRAFTS: Final = {
    "http://json-schema.org/draft-07/schema": jsonschema_rs.Draft7Validator,
    "https://json-schema.org/draft/2020-12/schema": jsonschema_rs.Draft202012Validator,
}
DRAFT_NAMES: Final = {
    jsonschema_rs.Draft7Validator: "draft-07",
    jsonschema_rs.Draft202012Validator: "2020-12",
}

Masker = Callable[[str, str], str]


def draft_of(document: Mapping[str, Any]) -> type[jsonschema_rs.Validator]:
    declared = document.get("$schema")
    if declared is None:
        return jsonschema_rs.Draft202012Validator
    if not isinstance(declared, str):
        raise ValueError("$schema is not a string")
    cls = DRAFTS.get(declared.rstrip("#"))
    if cls is None:
        raise ValueError(f"unsupported $schema {declared!r} (drafts 07 and 2020-12 are)")
    return cls


class JsonSchema:
    """One compiled version of a JSON schema file."""

    kind = "json"

    def __init__(
        self,
        name: str,
        version: int,
        file: str,
        document: Mapping[str, Any],
        *,
        assert_formats: bool = False,
        known: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.file = file
        self.document = document
        self.assert_formats = assert_formats
        shared = dict(known or {})
        #: True once the compiler asked for another document (a cross-file ``$ref``).
        self.refers_out = False

        def retrieve(uri: str) -> Any:
            self.refers_out = True
            found = shared.get(uri.rstrip("#"))
            if found is None:
                raise ValueError(f"$ref {uri!r} is not a schema of the schema directory")
            return found

        try:
            cls = draft_of(document)
            self.draft = DRAFT_NAMES[cls]
            self.validator = cls(
                dict(document),
                validate_formats=assert_formats,
                pattern_options=jsonschema_rs.RegexOptions(),
                retriever=retrieve,
            )
        except (ValueError, TypeError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
            raise SchemaLoadError(file, first) from None

    def validate(
        self, payload: bytes, max_depth: int, masked: Masker | None = None
    ) -> tuple[Any, list[Violation]]:
        """Decode and validate; ``(value, [])`` when valid, ``(None, errors)`` if not."""
        try:
            value = strict_json(payload, max_depth)
        except PayloadRefused as refused:
            return None, [refused.violation]
        return self.validate_value(value, masked)

    def validate_value(
        self, value: Any, masked: Masker | None = None
    ) -> tuple[Any, list[Violation]]:
        validator = self.validator
        if validator.is_valid(value):
            return value, []
        found: list[Violation] = []
        for error in validator.iter_errors(value):
            path = pointer(error.instance_path)
            message = error.message
            if masked is not None:
                message = masked(path, message)
            found.append(Violation(path, error.kind.name, message))
            if len(found) >= MAX_VIOLATIONS:
                break
        return None, found

    def __repr__(self) -> str:
        return f"<JsonSchema {self.name} v{self.version} {self.draft}>"


def load_document(raw: bytes, file: str) -> dict[str, Any]:
    """A schema file's JSON object (the file is ours, but still named when broken)."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise SchemaLoadError(file, f"not JSON: {err}") from None
    if not isinstance(document, dict):
        raise SchemaLoadError(file, "a schema file must hold a JSON object")
    return document
