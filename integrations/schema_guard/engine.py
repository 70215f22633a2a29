"""The guard: topic → rule → schema → verdict, synchronous and bounded per message.

``Guard.check`` runs in the event loop for every governed message (and, for the proxy,
in its network thread, under the guard's lock), so it does only bounded work: a cached
rule lookup, a size check, the decode checks of ``decode.py`` (size-bounded, depth
pre-scanned) and one validation by a compiled schema (jsonschema-rs: linear-time
regular expressions, no network; protobuf: upb's C decoder). What it costs
is measured per rule (``metrics.py``) and in ``scripts/bench/bench_schema_guard.py``.

Storing a rejected message is *not* done here: ``check`` hands it to a sink (the
quarantine writer's ``submit``, which only appends to a bounded list) and returns.

Rules are bound to schema versions by ``bind`` whenever the catalog changes: the
version in force (pinned, or the highest that loaded) and an optional shadow version.
A rule whose schema has no usable version at all rejects with ``schema`` as the reason,
to the quarantine, where a replay finds the messages once the schema is fixed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gatehouse.core.helpers import BurstLog

from . import decode
from .catalog import Catalog, Need, Schema
from .const import (
    ALLOW,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DEPTH,
    DROP,
    FORMAT_BINARY,
    FORMAT_JSON,
    FORMAT_PROTOBUF,
    FORMAT_TEXT,
    QUARANTINE,
    UNMATCHED_RULE,
)
from .metrics import RuleMetrics
from .pii import PiiMask
from .rules import RuleTable
from .verdict import Accepted, Action, Rejected, Verdict
from .violation import Violation

_LOGGER = logging.getLogger(__name__)

Sink = Callable[[Rejected, bytes], object]
"""Where rejected messages to quarantine go: (verdict, raw payload)."""


def _failed(err: Exception) -> Violation:
    """A validator that raised (it should not: each case found became a decode check)
    refuses the message rather than letting the exception reach the transport."""
    _LOGGER.debug("schema_guard: validator raised", exc_info=err)
    return Violation("", "validator", f"validation failed: {type(err).__name__}")


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """One configured rule (validated by ``config.py``)."""

    name: str
    topic: str
    schema: str | None = None
    version: int | None = None
    shadow: int | str | None = None
    format: str = FORMAT_JSON
    message: str | None = None
    on_invalid: Action = "quarantine"
    assert_formats: bool = False
    max_bytes: int | None = None
    pii: tuple[str, ...] = ()


@dataclass(slots=True)
class BoundRule:
    """A rule with its schema versions resolved (rebuilt on every catalog change)."""

    config: RuleConfig
    max_bytes: int
    mask: PiiMask
    metrics: RuleMetrics
    log: BurstLog
    schema: Schema | None = None
    shadow: Schema | None = None
    problem: str | None = None
    rejected_seen: int = 0

    def key(self) -> Any:
        return self.config.message if self.config.format == FORMAT_PROTOBUF else (
            self.config.assert_formats)


@dataclass(slots=True)
class GuardSettings:
    unmatched: str = ALLOW
    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    pii: tuple[str, ...] = ()


@dataclass(slots=True)
class Guard:
    """See the module docstring. One per loaded entry."""

    settings: GuardSettings
    rules: Sequence[RuleConfig]
    sink: Sink | None = None
    table: RuleTable[BoundRule] = field(default_factory=RuleTable)
    unmatched: RuleMetrics = field(default_factory=RuleMetrics)
    unmatched_mask: PiiMask = field(default_factory=lambda: PiiMask(()))
    problems: dict[str, str] = field(default_factory=dict)
    #: Held by ``check``, ``bind`` and ``calm``: the proxy checks messages in paho's
    #: network thread while the inline path (mqtt, nats) checks others in the loop, and
    #: the counters and log bursts must not lose updates. Held for one validation at
    #: most (bounded, a few µs), so the loop never waits long for it.
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.unmatched_mask = PiiMask(self.settings.pii)
        for rule in self.rules:
            self.table.add(rule.topic, BoundRule(
                rule,
                min(rule.max_bytes or self.settings.max_bytes, self.settings.max_bytes),
                PiiMask((*self.settings.pii, *rule.pii)),
                RuleMetrics(),
                BurstLog(
                    _LOGGER,
                    "schema_guard rule %(rule)s: rejecting messages (%(topic)s: %(reason)s)",
                    "schema_guard rule %(rule)s: messages valid again after %(count)d "
                    "rejected",
                    rule=rule.name,
                ),
            ))

    # -- configuration ----------------------------------------------------------------

    def needs(self) -> dict[str, Need]:
        """What the catalog must compile for these rules."""
        needs: dict[str, Need] = {}
        for rule in self.rules:
            if rule.schema is None:
                continue
            need = needs.get(rule.schema, Need())
            if rule.format == FORMAT_PROTOBUF and rule.message:
                need = Need(need.assert_formats, need.messages | {rule.message})
            else:
                need = Need(need.assert_formats | {rule.assert_formats}, need.messages)
            needs[rule.schema] = need
        return needs

    def bound(self) -> list[BoundRule]:
        return [rule for _, rule in self.table.entries]

    def bind(self, catalog: Catalog) -> None:
        """Resolve every rule's versions against the catalog (after each reload)."""
        with self.lock:
            self._bind(catalog)

    def _bind(self, catalog: Catalog) -> None:
        problems: dict[str, str] = {}
        for rule in self.bound():
            cfg = rule.config
            if cfg.schema is None:
                continue
            versions = [
                v for v in catalog.available(cfg.schema)
                if catalog.schema(cfg.schema, v, rule.key()) is not None
            ]
            if cfg.version is not None:
                wanted = cfg.version if cfg.version in versions else None
            else:
                wanted = max(versions, default=None)
            if wanted is None:
                what = f"v{cfg.version}" if cfg.version is not None else "any version"
                reason = f"no usable {what} of schema {cfg.schema!r}"
                if rule.schema is None:
                    problems[cfg.name] = reason
                    rule.problem = reason
                else:
                    problems[cfg.name] = f"{reason}; v{rule.schema.version} stays in force"
                continue
            rule.schema = catalog.schema(cfg.schema, wanted, rule.key())
            rule.problem = None
            shadow: int | None = None
            if cfg.shadow == "latest":
                top = max(versions, default=None)
                shadow = top if top is not None and top != wanted else None
            elif isinstance(cfg.shadow, int):
                if cfg.shadow in versions:
                    shadow = cfg.shadow
                else:
                    problems[cfg.name] = f"shadow version v{cfg.shadow} of {cfg.schema!r} " \
                                         "is not loaded"
            rule.shadow = (
                None if shadow is None else catalog.schema(cfg.schema, shadow, rule.key())
            )
        self.problems = problems

    # -- the hot path -----------------------------------------------------------------

    def check(
        self, topic: str, payload: bytes, source: str | None = None, *, store: bool = True,
        transport: str | None = None,
    ) -> Verdict:
        """The verdict on one message (see the module docstring); ``store`` False leaves
        a rejected message to the caller (``SchemaGuardApi.quarantine``)."""
        with self.lock:
            return self._check(topic, payload, source, store, transport)

    def _check(
        self, topic: str, payload: bytes, source: str | None, store: bool,
        transport: str | None,
    ) -> Verdict:
        start = time.perf_counter_ns()
        match = self.table.lookup(topic)
        if match is None:
            return self._unmatched(topic, payload, source, start, store, transport)
        rule = match.rule
        if source is None:
            source = match.source
        metrics = rule.metrics
        cfg = rule.config
        schema = rule.schema
        value: Any = None
        if len(payload) > rule.max_bytes:
            errors = [Violation("", "size", f"payload of {len(payload)} bytes exceeds "
                                f"{rule.max_bytes}")]
        elif schema is not None:
            try:
                value, errors = schema.validate(
                    payload, self.settings.max_depth, rule.mask.message if rule.mask else None)
            except Exception as err:  # noqa: BLE001 - a device must not break the loop
                value, errors = None, [_failed(err)]
            if rule.shadow is not None:
                self._shadow(rule, payload, value, errors)
        elif cfg.schema is not None:
            errors = [Violation("", "schema", rule.problem or "schema unavailable")]
        else:
            value, errors = self._plain(cfg.format, payload)
        metrics.observe(time.perf_counter_ns() - start)
        version = schema.version if schema is not None else None
        if not errors:
            metrics.accepted += 1
            return Accepted(topic, value, cfg.name, cfg.schema, version, source)
        verdict = Rejected(topic, cfg.name, cfg.schema, version, source, cfg.on_invalid,
                           tuple(errors), time.time(), transport)
        rule.log.hit(topic=topic, reason=verdict.reason)
        if cfg.on_invalid == QUARANTINE:
            metrics.quarantined += 1
            if store and self.sink is not None:
                self.sink(verdict, payload)
        else:
            metrics.dropped += 1
        return verdict

    def _shadow(
        self, rule: BoundRule, payload: bytes, value: Any, errors: list[Violation]
    ) -> None:
        shadow = rule.shadow
        assert shadow is not None
        rule.metrics.shadow_validated += 1
        try:
            if value is not None and shadow.kind == "json":
                _, shadow_errors = shadow.validate_value(value)
            elif errors and errors[0].keyword in ("json", "utf8", "depth", "duplicate_key"):
                shadow_errors = errors  # the same decoder would refuse it again
            else:
                _, shadow_errors = shadow.validate(payload, self.settings.max_depth)
        except Exception as err:  # noqa: BLE001 - the shadow never affects the verdict
            shadow_errors = [_failed(err)]
        if shadow_errors:
            rule.metrics.shadow_rejected += 1

    def _plain(self, fmt: str, payload: bytes) -> tuple[Any, list[Violation]]:
        try:
            if fmt == FORMAT_JSON:
                return decode.strict_json(payload, self.settings.max_depth), []
            if fmt == FORMAT_TEXT:
                return decode.text(payload), []
        except decode.PayloadRefused as refused:
            return None, [refused.violation]
        assert fmt == FORMAT_BINARY
        return payload, []

    def _unmatched(
        self, topic: str, payload: bytes, source: str | None, start: int, store: bool,
        transport: str | None,
    ) -> Verdict:
        policy = self.settings.unmatched
        metrics = self.unmatched
        errors: list[Violation] = []
        if len(payload) > self.settings.max_bytes:
            errors.append(Violation("", "size", f"payload of {len(payload)} bytes exceeds "
                                    f"{self.settings.max_bytes}"))
        elif policy != ALLOW:
            errors.append(Violation("", "unmatched", "no rule governs this topic"))
        metrics.observe(time.perf_counter_ns() - start)
        if not errors:
            metrics.accepted += 1
            return Accepted(topic, None, None, None, None, source)
        action: Action = "drop" if policy == DROP else "quarantine"
        verdict = Rejected(topic, None, None, None, source, action, tuple(errors), time.time(),
                           transport)
        if action == QUARANTINE:
            metrics.quarantined += 1
            if store and self.sink is not None:
                self.sink(verdict, payload)
        else:
            metrics.dropped += 1
        return verdict

    def calm(self) -> None:
        """End the log bursts of rules that rejected nothing since the last call (the
        stats loop calls this). Not per accepted message: with valid and invalid
        messages interleaved, that logged every rejection again."""
        for rule in self.bound():
            rejected = rule.metrics.quarantined + rule.metrics.dropped
            if rule.log.burst and rejected == rule.rejected_seen:
                rule.log.calm()
            rule.rejected_seen = rejected

    # -- replay -------------------------------------------------------------------------

    def revalidate(self, topic: str, payload: bytes, transport: str | None = None) -> Verdict:
        """``check`` without metrics or storage: would this message pass now?
        (``transport``: where it came from, carried into the verdict for the replay.)"""
        match = self.table.lookup(topic)
        if match is None:
            ok = self.settings.unmatched == ALLOW and len(payload) <= self.settings.max_bytes
            if ok:
                return Accepted(topic, None, None, None, None, None, transport=transport)
            return Rejected(topic, None, None, None, None, "quarantine",
                            (Violation("", "unmatched", "no rule governs this topic"),),
                            time.time(), transport)
        rule = match.rule
        cfg = rule.config
        if len(payload) > rule.max_bytes:
            errors = [Violation("", "size", "payload too large")]
            value = None
        elif rule.schema is not None:
            try:
                value, errors = rule.schema.validate(payload, self.settings.max_depth)
            except Exception as err:  # noqa: BLE001 - one message must not end a replay
                value, errors = None, [_failed(err)]
        elif cfg.schema is not None:
            value, errors = None, [Violation("", "schema", "schema unavailable")]
        else:
            value, errors = self._plain(cfg.format, payload)
        version = rule.schema.version if rule.schema is not None else None
        if errors:
            return Rejected(topic, cfg.name, cfg.schema, version, match.source,
                            cfg.on_invalid, tuple(errors), time.time(), transport)
        return Accepted(topic, value, cfg.name, cfg.schema, version, match.source,
                        transport=transport)

    def mask_for(self, rule: str | None) -> PiiMask:
        for bound in self.bound():
            if bound.config.name == rule:
                return bound.mask
        return self.unmatched_mask

    def metrics(self) -> Mapping[str, RuleMetrics]:
        found = {rule.config.name: rule.metrics for rule in self.bound()}
        found[UNMATCHED_RULE] = self.unmatched
        return found
