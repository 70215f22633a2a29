"""Small pure helpers shared by several core modules."""

from __future__ import annotations

import re
import unicodedata

_NON_SLUG = re.compile(r"[^a-z0-9_]+")
_UNDERSCORES = re.compile(r"_+")


def slugify(text: str, *, fallback: str = "unnamed") -> str:
    """``"Küche Temperatur 2"`` → ``"kuche_temperatur_2"``: safe for entity ids."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _UNDERSCORES.sub("_", _NON_SLUG.sub("_", ascii_text.lower())).strip("_")
    return slug or fallback
