"""What ``check`` answers: ``Accepted`` (with the decoded value) or ``Rejected``.

Both are immutable and cheap (slots, no copies of the payload beyond the decoded value),
because one is made for every governed message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from .violation import Violation

Action: TypeAlias = Literal["quarantine", "drop"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The message may go on.

    ``value`` is the decoded payload (a dict for JSON and Protocol Buffers rules, ``str``
    for text, ``bytes`` for binary), or None when no rule governs the topic and the
    unmatched policy is ``allow`` (or no schema_guard is loaded: ``governed`` False):
    the caller then decodes as it always did.
    """

    topic: str
    value: Any
    rule: str | None
    schema: str | None
    version: int | None
    source: str | None
    governed: bool = True
    #: The ingest path it came by ("mqtt", "nats", "proxy"; None: asked directly).
    transport: str | None = None

    accepted = True


@dataclass(frozen=True, slots=True)
class Rejected:
    """The message must not reach entities, exporters or another broker.

    ``action`` is what happens to it: ``quarantine`` (stored, replayable) or ``drop``.
    ``errors`` are every violation found (capped), each with its JSON pointer.
    """

    topic: str
    rule: str | None
    schema: str | None
    version: int | None
    source: str | None
    action: Action
    errors: tuple[Violation, ...]
    received: float
    #: The ingest path it came by (stored, so a replay hands it back to that path).
    transport: str | None = None

    accepted = False

    @property
    def reason(self) -> str:
        """One line: the first error, with its path."""
        first = self.errors[0]
        where = first.path or "payload"
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"{where}: {first.message}{more}"


Verdict: TypeAlias = Accepted | Rejected
