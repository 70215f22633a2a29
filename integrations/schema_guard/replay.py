"""Replay: re-validate quarantined messages against the schemas now in force.

A dry run only counts (how many would pass, which errors the rest still have). A real
run hands each message that passes to a target, in the order the messages arrived,
then marks it replayed so a second replay does not deliver it twice. Validation runs in
the store's worker thread, a batch at a time, so a replay of a large quarantine never
holds the event loop; the target runs in the loop, one message at a time, awaited.

Messages kept without their payload (withheld for PII, or truncated because they were
over the size limit) cannot pass and are counted as ``unavailable``. A masked payload is
replayed masked: the mask keeps each field's JSON type, so the schema judges its shape.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .engine import Guard
from .store import Filters
from .verdict import Accepted
from .writer import QuarantineWriter

ReplayTarget = Callable[[Accepted, bytes], Awaitable[None] | None]
"""Receives each message that now passes, with its stored payload."""


@dataclass(slots=True)
class ReplayResult:
    dry_run: bool
    examined: int = 0
    passing: int = 0
    failing: int = 0
    unavailable: int = 0
    replayed: int = 0
    error: str | None = None
    still_failing: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run, "examined": self.examined, "passing": self.passing,
            "failing": self.failing, "unavailable": self.unavailable,
            "replayed": self.replayed, "error": self.error,
            "still_failing": dict(sorted(self.still_failing.items(),
                                         key=lambda kv: (-kv[1], kv[0]))[:20]),
        }


async def replay(
    writer: QuarantineWriter,
    guard: Guard,
    filters: Filters,
    target: ReplayTarget | None,
    *,
    dry_run: bool = True,
    batch: int = 500,
) -> ReplayResult:
    """See the module docstring; ``target`` is required unless ``dry_run``."""
    if not dry_run and target is None:
        raise ValueError("a replay that is not a dry run needs a target")
    result = ReplayResult(dry_run)
    filters = replace(filters, replayed=False)
    after = 0

    def judge(rows: list[dict[str, Any]]) -> list[tuple[int, Any, bytes | None]]:
        judged: list[tuple[int, Any, bytes | None]] = []
        for row in rows:
            payload = row["payload"]
            if payload is None or row["truncated"]:
                judged.append((row["id"], None, None))
            else:
                judged.append((row["id"], guard.revalidate(row["topic"], payload,
                                                           row.get("transport")), payload))
        return judged

    while True:
        rows = await writer.query(filters, limit=batch, after_id=after)
        if not rows:
            return result
        after = rows[-1]["id"]
        judged = await writer.call(judge, rows)
        delivered: list[int] = []
        try:
            for row_id, verdict, payload in judged:
                result.examined += 1
                if verdict is None:
                    result.unavailable += 1
                elif not verdict.accepted:
                    result.failing += 1
                    first = verdict.errors[0]
                    key = f"{first.path or '(payload)'} {first.keyword}"
                    result.still_failing[key] = result.still_failing.get(key, 0) + 1
                else:
                    result.passing += 1
                    if not dry_run:
                        assert target is not None and payload is not None
                        outcome = target(verdict, payload)
                        if inspect.isawaitable(outcome):
                            await outcome
                        delivered.append(row_id)
                        result.replayed += 1
        except Exception as err:  # noqa: BLE001 - the target's failure ends the replay
            result.error = f"replay target failed: {err!r}"
            return result
        finally:
            if delivered:
                await writer.call(writer.store.mark_replayed, delivered, time.time())
