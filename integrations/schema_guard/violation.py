"""One reason a message was refused: where (JSON pointer), which check, and what."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """A validation error.

    ``path`` is an RFC 6901 JSON pointer into the payload (``""`` is the whole payload,
    ``/readings/0/value`` a field); ``keyword`` is the schema keyword that failed
    (``type``, ``required``...) or the payload check (``size``, ``utf8``, ``json``,
    ``depth``, ``duplicate_key``, ``protobuf``, ``unmatched``, ``schema``).
    """

    path: str
    keyword: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "keyword": self.keyword, "message": self.message}


def pointer(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """RFC 6901: ``["a", 0, "b/c"]`` → ``/a/0/b~1c``."""
    return "".join(
        "/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts
    )
