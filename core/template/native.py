"""A rendered template's text read back as a Python value (Home Assistant's
``parse_result``): ``"21.5"`` → 21.5, ``"True"`` → True, ``"[1, 2]"`` → [1, 2],
``"None"`` → None; anything else stays text.

Rules, as Home Assistant has them: the text is read with ``ast.literal_eval`` (literals
only, nothing is run); a string result keeps the original text (its quotes matter);
complex numbers stay text; a number must look like one written plainly (``"1e5"``,
``"0x10"``, ``"007"`` and ``"1_000"`` stay text, so ids and codes survive). A result too
deep or odd to evaluate stays text. Results are remembered (the same few values come
back from a tracked template again and again), except containers, which are evaluated
afresh so that no caller can change what another one gets.
"""

from __future__ import annotations

import re
from ast import literal_eval
from functools import lru_cache
from typing import Any, Final

_NUMERIC: Final = re.compile(r"^[+-]?(?!0\d)\d*(?:\.\d*)?$")
#: Texts longer than this are not evaluated (a payload, not a value).
_MAX_LENGTH: Final = 65_536


def parse_result(text: str) -> Any:
    """``text`` as a native value (module docstring)."""
    if not text or len(text) > _MAX_LENGTH:
        return text
    result = _parse.__wrapped__(text) if text[0] in "[{(" else _parse(text)
    return text if result is _TEXT else result


#: "Not a literal": remembered like a value (``on``, ``off`` come back all the time, and
#: a failed ``literal_eval`` costs a compilation).
_TEXT: Final = object()


@lru_cache(maxsize=1024)
def _parse(text: str) -> Any:
    try:
        result = literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _TEXT
    if isinstance(result, str | complex):
        return text
    if isinstance(result, bool) or not isinstance(result, int | float):
        return result
    return result if _NUMERIC.match(text) is not None else text
