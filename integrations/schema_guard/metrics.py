"""Per-rule counters and a validation-latency histogram, kept in plain integers.

Updated inline for every message, so they are attribute increments and one bucket
search over a dozen bounds; the sensors read them on an interval, never per message.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any, Final

#: Upper bounds of the latency buckets, in microseconds (the last bucket is +Inf).
LATENCY_BUCKETS_US: Final = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_BOUNDS_NS: Final = tuple(b * 1000 for b in LATENCY_BUCKETS_US)


@dataclass(slots=True)
class RuleMetrics:
    """What one rule has done since the entry loaded."""

    validated: int = 0
    accepted: int = 0
    quarantined: int = 0
    dropped: int = 0
    #: Proxy mode: accepted and acknowledged by the egress broker (QoS 0: published).
    forwarded: int = 0
    shadow_validated: int = 0
    shadow_rejected: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(_BOUNDS_NS) + 1))
    latency_sum_ns: int = 0

    def observe(self, elapsed_ns: int) -> None:
        self.validated += 1
        self.latency_sum_ns += elapsed_ns
        self.latency[bisect_left(_BOUNDS_NS, elapsed_ns)] += 1

    def quantile_us(self, q: float) -> float | None:
        """The bucket bound under which ``q`` of the validations finished (None: none)."""
        total = sum(self.latency)
        if total == 0:
            return None
        wanted = q * total
        seen = 0
        for index, count in enumerate(self.latency):
            seen += count
            if seen >= wanted:
                return float(LATENCY_BUCKETS_US[index]) if index < len(
                    LATENCY_BUCKETS_US) else float("inf")
        return float("inf")

    def as_dict(self) -> dict[str, Any]:
        buckets = {f"le_{b}us": n for b, n in zip(LATENCY_BUCKETS_US, self.latency,
                                                   strict=False)}
        buckets["le_inf"] = self.latency[-1]
        return {
            "validated": self.validated,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "dropped": self.dropped,
            "forwarded": self.forwarded,
            "shadow_validated": self.shadow_validated,
            "shadow_rejected": self.shadow_rejected,
            "latency_mean_us": (
                round(self.latency_sum_ns / self.validated / 1000, 2) if self.validated else None
            ),
            "latency_buckets": buckets,
        }
