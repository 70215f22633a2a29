"""Pure utilities: no host, no I/O, importable from anywhere in the core.

Two levels, as in Home Assistant: ``gatehouse.core.util`` holds building blocks that know
nothing of a host (text, backoff arithmetic, log pacing, voluptuous error rendering), so
any core module can use them without import cycles; ``gatehouse.core.helpers`` is the
documented surface for integration authors and re-exports what they need from here.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from typing import Final, Literal, TypeAlias

_NON_SLUG = re.compile(r"[^a-z0-9_]+")
_UNDERSCORES = re.compile(r"_+")


def slugify(text: str, *, fallback: str = "unnamed") -> str:
    """``"Küche Temperatur 2"`` → ``"kuche_temperatur_2"``: safe for entity ids."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _UNDERSCORES.sub("_", _NON_SLUG.sub("_", ascii_text.lower())).strip("_")
    return slug or fallback


class _UnsetType(enum.Enum):
    """A typed "argument not given" marker, distinct from None (which clears a field)."""

    UNSET = enum.auto()


Unset: TypeAlias = Literal[_UnsetType.UNSET]
UNSET: Final = _UnsetType.UNSET
