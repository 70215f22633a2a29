"""The record format: one canonical JSON object per line, chained by SHA-256.

A record (schema version 1) is written as compact JSON with sorted keys, no spaces,
``ensure_ascii`` and one ``\\n`` after it; the writer makes it, the verifier insists on
it (a line that does not re-encode to the very same bytes is refused), so every byte of
a line means something and no change can slip through as "the same JSON".

Ordinary record::

    {"action": "service.call", "actor": {"ip": null, "name": null, "user_id": "u1"},
     "details": {...}, "prev": "<64 hex>", "result": "ok", "seq": 7,
     "target": "light.kitchen", "time": "2026-12-04T13:01:02.123456Z", "v": 1}

Checkpoint record (``action`` ``audit.checkpoint``): only ``action``, ``checkpoint``
(the signed note, ``note.py``), ``prev``, ``seq`` and ``v``; its time is inside the
note, so a checkpoint record has no byte the signature or the chain does not check.

``prev`` is the SHA-256 (hex) of the previous record's stored line without its
newline: the hash covers the bytes as stored, so a field encrypted later (tag
encryption) is covered as ciphertext and integrity is checked without the key. The
first record's ``prev`` is the genesis value of the log, ``sha256("gatehouse-audit
genesis " + origin)``, which names the log. ``seq`` starts at 1 and grows by 1.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final

from .errors import AuditFormatError

VERSION: Final = 1
ACTION_CHECKPOINT: Final = "audit.checkpoint"
RECORD_KEYS: Final = frozenset(
    {"v", "seq", "time", "actor", "action", "target", "result", "details", "prev"}
)
CHECKPOINT_KEYS: Final = frozenset({"v", "seq", "action", "checkpoint", "prev"})
ACTOR_KEYS: Final = frozenset({"user_id", "name", "ip"})
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")


def encode(record: dict[str, Any]) -> bytes:
    """The stored bytes of ``record`` without the newline (canonical JSON)."""
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def line_hash(line: bytes) -> str:
    """The chain value of a stored line (without its newline)."""
    return hashlib.sha256(line).hexdigest()


def genesis(origin: str) -> str:
    """``prev`` of a log's first record: binds the chain to the log's origin."""
    return hashlib.sha256(f"gatehouse-audit genesis {origin}".encode()).hexdigest()


def parse(line: bytes) -> dict[str, Any]:
    """Decode and check one stored line (without newline); raises AuditFormatError."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError) as err:
        raise AuditFormatError(f"not JSON: {err}") from None
    if not isinstance(record, dict):
        raise AuditFormatError("not a JSON object")
    try:
        canonical = encode(record)
    except ValueError as err:
        raise AuditFormatError(f"not encodable: {err}") from None
    if canonical != line:
        raise AuditFormatError("not in canonical form (bytes differ from the encoding)")
    check_fields(record)
    return record


def check_fields(record: dict[str, Any]) -> None:
    """Field by field, the schema of version 1 (names the first wrong field)."""
    keys = set(record)
    wanted = CHECKPOINT_KEYS if record.get("action") == ACTION_CHECKPOINT else RECORD_KEYS
    if keys != wanted:
        extra, missing = sorted(keys - wanted), sorted(wanted - keys)
        raise AuditFormatError(f"fields: unexpected {extra}, missing {missing}")
    if record["v"] != VERSION or type(record["v"]) is not int:
        raise AuditFormatError(f"v: {record['v']!r} is not {VERSION}")
    seq = record["seq"]
    if type(seq) is not int or seq < 1:
        raise AuditFormatError(f"seq: {seq!r} is not a positive integer")
    if not isinstance(record["prev"], str) or not _HEX64.fullmatch(record["prev"]):
        raise AuditFormatError("prev: not 64 lower-case hex digits")
    if record["action"] == ACTION_CHECKPOINT:
        if not isinstance(record["checkpoint"], str):
            raise AuditFormatError("checkpoint: not a string")
        return
    if not isinstance(record["action"], str) or not _ACTION.fullmatch(record["action"]):
        raise AuditFormatError(f"action: {record['action']!r} is not a dotted name")
    if not isinstance(record["time"], str) or not _TIME.fullmatch(record["time"]):
        raise AuditFormatError("time: not YYYY-MM-DDTHH:MM:SS.ffffffZ")
    actor = record["actor"]
    if not isinstance(actor, dict) or set(actor) != ACTOR_KEYS:
        raise AuditFormatError("actor: not {user_id, name, ip}")
    if not all(v is None or isinstance(v, str) for v in actor.values()):
        raise AuditFormatError("actor: values must be strings or null")
    if record["target"] is not None and not isinstance(record["target"], str):
        raise AuditFormatError("target: not a string or null")
    if not isinstance(record["result"], str):
        raise AuditFormatError("result: not a string")
    if not isinstance(record["details"], dict):
        raise AuditFormatError("details: not an object")
