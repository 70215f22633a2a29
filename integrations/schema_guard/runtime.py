"""What a loaded schema_guard entry holds, and its two loops (reload, stats).

``build`` turns validated settings into the pieces: the guard (rules → schemas), the
catalog of schema files, the quarantine store and its writer, and the entities.
``SchemaGuardRuntime.poll_schemas`` is the hot reload: every ``reload_interval`` it asks
the catalog (in a worker thread) whether files changed, and rebinds the rules when they
did; ``run_stats`` refreshes the sensors and applies the quarantine's retention.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from .binary_sensor import SchemaProblem
from .catalog import Catalog
from .const import (
    CONF_ASSERT_FORMATS,
    CONF_FORMAT,
    CONF_INLINE_MAX,
    CONF_MAX_AGE,
    CONF_MAX_BYTES,
    CONF_MAX_DEPTH,
    CONF_MAX_PENDING,
    CONF_MESSAGE,
    CONF_NAME,
    CONF_ON_INVALID,
    CONF_PII,
    CONF_PROXY,
    CONF_QUARANTINE,
    CONF_RULES,
    CONF_SCHEMA,
    CONF_SCHEMA_DIR,
    CONF_SHADOW,
    CONF_TOPIC,
    CONF_UNMATCHED,
    CONF_VERSION,
    UNMATCHED_RULE,
)
from .engine import BoundRule, Guard, GuardSettings, RuleConfig
from .entity import guard_device
from .metrics import RuleMetrics
from .proxy import Proxy
from .sensor import GuardSensor
from .store import QuarantineStore, Retention
from .writer import QuarantineWriter

_LOGGER = logging.getLogger(__name__)


def rule_configs(config: Mapping[str, Any]) -> list[RuleConfig]:
    return [
        RuleConfig(
            name=rule[CONF_NAME], topic=rule[CONF_TOPIC], schema=rule.get(CONF_SCHEMA),
            version=rule.get(CONF_VERSION), shadow=rule.get(CONF_SHADOW),
            format=rule[CONF_FORMAT], message=rule.get(CONF_MESSAGE),
            on_invalid=rule[CONF_ON_INVALID], assert_formats=rule[CONF_ASSERT_FORMATS],
            max_bytes=rule.get(CONF_MAX_BYTES), pii=tuple(rule[CONF_PII]),
        )
        for rule in config[CONF_RULES]
    ]


def make_guard(config: Mapping[str, Any]) -> Guard:
    settings = GuardSettings(
        unmatched=config[CONF_UNMATCHED], max_bytes=config[CONF_MAX_BYTES],
        max_depth=config[CONF_MAX_DEPTH], pii=tuple(config[CONF_PII]),
    )
    return Guard(settings, rule_configs(config))


def _counter(metrics: RuleMetrics, field: str) -> Callable[[], int]:
    def read() -> int:
        value: int = getattr(metrics, field)
        return value

    return read


def _shadow_attributes(bound: BoundRule) -> dict[str, Any]:
    return {
        "shadow_version": bound.shadow.version if bound.shadow else None,
        "in_force_version": bound.schema.version if bound.schema else None,
        "shadow_validated": bound.metrics.shadow_validated,
    }


class SchemaGuardRuntime:
    """A loaded entry (``entry.runtime_data``): guard, catalog, quarantine, entities."""

    def __init__(self, config: Mapping[str, Any], key: str, config_dir: Path,
                 storage_dir: Path) -> None:
        self.config = config
        self.key = key
        self.guard = make_guard(config)
        schema_dir = Path(config[CONF_SCHEMA_DIR])
        self.catalog = Catalog(
            schema_dir if schema_dir.is_absolute() else config_dir / schema_dir,
            self.guard.needs(),
        )
        q = config[CONF_QUARANTINE]
        self.store = QuarantineStore(
            storage_dir / "schema_guard" / key / "quarantine.db",
            inline_max=q[CONF_INLINE_MAX],
            retention=Retention(max_age=q[CONF_MAX_AGE] * 86400.0,
                                max_bytes=q[CONF_MAX_BYTES]),
        )
        self.writer = QuarantineWriter(
            self.store, self.guard.mask_for, max_pending=q[CONF_MAX_PENDING],
            max_bytes=config[CONF_MAX_BYTES], max_depth=config[CONF_MAX_DEPTH],
        )
        self.guard.sink = self.writer.submit
        self.sensors: list[GuardSensor] = []
        self.problem: SchemaProblem | None = None
        #: Proxy mode (``proxy:``): run as an entry task by ``setup_entry``.
        self.proxy = (Proxy(config[CONF_PROXY], self.guard, self.writer, key)
                      if config.get(CONF_PROXY) else None)

    # -- set-up ---------------------------------------------------------------------------

    async def load_schemas(self) -> None:
        await anyio.to_thread.run_sync(self.catalog.scan)
        self.guard.bind(self.catalog)

    def problems(self) -> dict[str, str]:
        return {**self.catalog.problems, **{f"rule {k}": v for k, v in
                                             self.guard.problems.items()}}

    def make_entities(self) -> list[Any]:
        name = self.config[CONF_NAME]
        device = guard_device(self.key, name)
        self.problem = SchemaProblem(f"{self.key}_schema_problem", f"{name} schema problem",
                                     device, self.problems)
        for rule, metrics in self.guard.metrics().items():
            slug = "unmatched" if rule == UNMATCHED_RULE else rule
            label = "unmatched topics" if rule == UNMATCHED_RULE else rule
            base = f"{self.key}_{slug}"
            fields = ["validated", "accepted", "quarantined", "dropped"]
            if self.proxy is not None:
                fields.append("forwarded")
            for field in fields:
                self.sensors.append(GuardSensor(
                    f"{base}_{field}", f"{name} {label} {field}", device,
                    _counter(metrics, field), unit="messages",
                ))
            self.sensors.append(GuardSensor(
                f"{base}_latency_p99", f"{name} {label} validation p99", device,
                partial(metrics.quantile_us, 0.99), unit="µs",
                attrs=metrics.as_dict, state_class="measurement",
                icon="mdi:timer-outline",
            ))
        for bound in self.guard.bound():
            if bound.config.shadow is None:
                continue
            self.sensors.append(GuardSensor(
                f"{self.key}_{bound.config.name}_shadow_rejected",
                f"{name} {bound.config.name} shadow rejected", device,
                _counter(bound.metrics, "shadow_rejected"), unit="messages",
                attrs=partial(_shadow_attributes, bound),
            ))
        proxy = self.proxy
        if proxy is not None:
            self.sensors.append(GuardSensor(
                f"{self.key}_proxy_forwarded", f"{name} proxy forwarded", device,
                lambda: proxy.stats.forwarded, unit="messages", icon="mdi:transfer-right",
                attrs=proxy.diagnostics,
            ))
            self.sensors.append(GuardSensor(
                f"{self.key}_proxy_unacknowledged", f"{name} proxy unacknowledged", device,
                lambda: proxy.diagnostics()["unacknowledged"], unit="messages",
                state_class="measurement", icon="mdi:timer-sand",
            ))
        totals = self.store.totals
        self.sensors.append(GuardSensor(
            f"{self.key}_quarantine_messages", f"{name} quarantine messages", device,
            lambda: totals.count, unit="messages", state_class="measurement",
            attrs=lambda: {
                "bytes": totals.nbytes, "inserted": totals.inserted,
                "commit_rounds": totals.rounds, "expired": totals.expired,
                "evicted": totals.evicted, "overflow": self.writer.overflow,
                "failed": self.writer.failed, "pending": self.writer.pending,
            },
            icon="mdi:archive-alert",
        ))
        return [self.problem, *self.sensors]

    # -- loops ------------------------------------------------------------------------------

    async def poll_schemas(self, interval: float) -> None:
        """Hot reload (see the module docstring); never ends while the entry is loaded."""
        while True:
            await anyio.sleep(interval)
            try:
                changed = await anyio.to_thread.run_sync(self.catalog.scan)
            except Exception:
                _LOGGER.exception("schema_guard: scanning %s failed", self.catalog.directory)
                continue
            if changed:
                self.guard.bind(self.catalog)
                if self.problem is not None:
                    self.problem.refresh()

    async def run_stats(self, interval: float) -> None:
        while True:
            await anyio.sleep(interval)
            self.refresh()
            await self.writer.expire()

    def refresh(self) -> None:
        self.guard.calm()
        for sensor in self.sensors:
            sensor.refresh()
        if self.problem is not None:
            self.problem.refresh()

    def diagnostics(self) -> dict[str, Any]:
        return {
            "rules": {name: m.as_dict() for name, m in self.guard.metrics().items()},
            "problems": self.problems(),
            "schemas": {name: self.catalog.available(name) for name in self.catalog.versions},
            "quarantine": {"count": self.store.totals.count, "bytes": self.store.totals.nbytes,
                           "overflow": self.writer.overflow},
            "proxy": self.proxy.diagnostics() if self.proxy is not None else None,
        }
