"""Payload bytes → a value, refusing what a device should never make us spend time on.

Checks run cheapest first, and each one bounds the cost of the next:

1. size (``len``, before anything else): a 10 MB payload costs nothing;
2. UTF-8 (one C pass);
3. nesting depth, *before* parsing: ``json.loads`` and the validator both recurse, so a
   payload of 100,000 ``[`` must be refused without being parsed. Escapes, then
   strings are removed (C-speed ``translate``/``split``, no backtracking), the
   innermost ``[]``/``{}`` pairs are removed one level per pass
   for a few passes, and what is left is walked run by run. Linear in the size (about
   2 ms for 64 KiB of the worst inputs measured in ``bench_schema_guard.py``).
   Documents with at most ``max_depth`` brackets in all skip this (typical telemetry);
4. strict JSON: ``NaN``/``Infinity`` are not JSON and ``1e400`` overflows to infinity
   (refused), a key twice in one object is refused naming the key (the last one would
   silently win otherwise), a ``\\ud800`` escape without its pair is refused with its
   path (the validator raised on such strings), and integers with more than 4,300
   digits are refused by Python itself.

Every refusal is a ``Violation`` with a JSON pointer (``""``: the whole payload) and the
check that failed as its keyword, so the quarantine can count them like schema errors.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from .errors import PayloadRefused
from .violation import Violation

__all__ = ["PayloadRefused", "check_size", "depth_exceeds", "strict_json", "text"]

_ESCAPES: Final = re.compile(rb"\\[\s\S]")
_NOT_STRUCTURE: Final = bytes(range(256)).translate(None, b'[]{}"')
_ONE_KIND: Final = bytes.maketrans(b"{}", b"[]")
_RUNS: Final = re.compile(rb"\[+|\]+")
_PASSES: Final = 4


def _refuse(keyword: str, message: str, path: str = "") -> PayloadRefused:
    return PayloadRefused(Violation(path, keyword, message))


def check_size(payload: bytes, max_bytes: int) -> None:
    if len(payload) > max_bytes:
        raise _refuse("size", f"payload of {len(payload)} bytes exceeds {max_bytes}")


def text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _refuse("utf8", f"invalid UTF-8 at byte {err.start}") from None


def depth_exceeds(payload: bytes, max_depth: int) -> bool:
    """True if objects/arrays nest deeper than ``max_depth`` (see the module docstring)."""
    if payload.count(b"[") + payload.count(b"{") <= max_depth:
        return False
    # Escapes first (a backslash and the character after it, left to right: exactly
    # JSON's reading of ``\\"`` and ``\\\\``), so quotes left are string boundaries; then
    # only quotes and brackets are kept, and every other quote-separated piece is
    # outside the strings. All in C; linear, and no quadratic case for broken input
    # (an unterminated string just runs to the end, as it does for the parser).
    if b"\\" in payload:
        payload = _ESCAPES.sub(b"", payload)
    kept = payload.translate(_ONE_KIND, _NOT_STRUCTURE)
    if b'"' in kept:
        # Strings without brackets (nearly all) are now "" pairs; removing any two
        # adjacent quotes keeps every later quote's parity (at worst two strings merge),
        # so they go first, at memchr speed, and the split sees only what is left.
        kept = kept.replace(b'""', b"")
        if b'"' in kept:
            kept = b"".join(kept.split(b'"')[::2])
    # Only brackets are left, all of one kind: a mismatched pair is not JSON anyway,
    # and the parser refuses it. Each ``replace`` removes exactly the innermost level
    # (it never rescans what it produced), at memchr speed. A few such passes leave at
    # most one run of brackets per PASSES+1 bytes; the rest is a walk over runs.
    brackets = kept
    removed = 0
    while removed < min(_PASSES, max_depth):
        shorter = brackets.replace(b"[]", b"")
        if len(shorter) == len(brackets):
            break
        brackets = shorter
        removed += 1
    if not brackets:
        return False
    depth = 0
    limit = max_depth - removed
    for run in _RUNS.findall(brackets):
        if run[0] == 0x5B:  # '['
            depth += len(run)
            if depth > limit:
                return True
        else:
            depth -= len(run)
            if depth < 0:
                break  # unbalanced: not JSON, the parser names the error
    return False


def _no_constant(name: str) -> Any:
    raise _refuse("json", f"{name} is not JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _refuse("duplicate_key", f"key {key!r} appears twice in one object")
            seen.add(key)
    return result


def _finite(literal: str) -> float:
    value = float(literal)
    if value - value != 0:  # inf - inf is nan: 1e400 overflows to infinity
        raise _refuse("json", f"number {literal[:40]} is out of range")
    return value


_DECODER: Final = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_constant=_no_constant, parse_float=_finite)
#: A \u escape of a UTF-16 surrogate: legal JSON text, but a lone one decodes to a
#: string no UTF-8 consumer can take (the validator itself raised on it).
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any) -> str | None:
    """The JSON pointer of the first string (or key) with a lone surrogate, if any."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return path
        elif isinstance(node, dict):
            for key, child in node.items():
                escaped = key.replace("~", "~0").replace("/", "~1")
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    return path
                stack.append((child, f"{path}/{escaped}"))
        elif isinstance(node, list):
            stack.extend((child, f"{path}/{index}") for index, child in enumerate(node))
    return None


def strict_json(payload: bytes, max_depth: int) -> Any:
    """Decode ``payload`` as strict JSON (size is the caller's first check)."""
    source = text(payload)
    if depth_exceeds(payload, max_depth):
        raise _refuse("depth", f"JSON nested deeper than {max_depth} levels")
    try:
        value = _DECODER.decode(source)
    except PayloadRefused:
        raise
    except RecursionError:
        raise _refuse("depth", f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as err:
        # JSONDecodeError (with position) or int digit limit
        raise _refuse("json", f"not JSON: {err}") from None
    if _SURROGATE_ESCAPE.search(payload) is not None:
        where = _lone_surrogate(value)
        if where is not None:
            raise _refuse("utf8", "a \\u escape of a lone UTF-16 surrogate", where)
    return value
