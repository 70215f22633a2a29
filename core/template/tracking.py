"""Templates that follow the states they read: re-rendered only when one of them changes.

One ``TrackerHub`` per host listens to ``state_changed`` once (not once per template)
and dispatches by entity id: a state change costs one dict lookup when no tracked
template read that entity, and one render per template that did. A template's
subscriptions are what its last render read (``RenderInfo``), updated after every
render, so ``{% if is_state('a', 'on') %}{{ states('b') }}{% endif %}`` listens to
``b`` only while ``a`` is on.

Rate limits: a template that reads every state re-renders at most once a minute, one
that reads a domain once a second (Home Assistant's defaults; ``rate_limit`` replaces
them, and applies to entity-only templates too). A change inside the limit schedules
one render at its end, so the last change is never lost. A template that read the
clock (``now()``) also re-renders at the start of every minute.

Loops: a template's action may change states (a template sensor writes its own). A
change made while a tracker runs its action does not re-render that same tracker (a
sensor whose template reads itself would otherwise recurse without end); other trackers
follow at once, and a cycle through several trackers stops where it meets one that is
running.

Batches: trackers given the same ``on_batch`` callable (an entity's ``write_state``)
have it called once after one state change re-rendered any of them, not once per
tracker, so an entity whose state and attributes read the same sensor writes one new
state, never a half-updated one. Changes made by ``on_batch`` do not re-render the
trackers of that batch (the loop rule above).

Overruns: a render stopped by the budget cost the loop up to the budget's time, so a
template that runs over is not rendered again for a pause (1 s, doubling up to 60 s
while it keeps running over, reset by a render within budget), as ``ValueReader``
does: a state changing every millisecond cannot turn it into a stalled loop. Changes
during the pause are rendered once, at its end.

The action gets ``(old, new)``; a render error is passed as the ``TemplateError`` (as
Home Assistant passes it), logged once per distinct message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from ..bus import Event
from ..states import EVENT_STATE_CHANGED, StateChangedData
from ..util.backoff import Backoff
from .budget import TemplateBudgetError, TemplateError
from .engine import is_template
from .info import RenderInfo

if TYPE_CHECKING:
    import jinja2

    from ..host import Host
    from .engine import TemplateEngine

_LOGGER = logging.getLogger(__name__)

#: A template that read the clock re-renders at the start of every period (seconds,
#: aligned on the wall clock: a minute, as in Home Assistant).
CLOCK_PERIOD = 60.0

#: How long a template that ran over its budget is not rendered again.
SUSPENSION = Backoff(initial=1.0, maximum=60.0, jitter=0.0)

#: ``action(old, new)``.
TrackAction = Callable[[Any, Any], None]


def same_result(old: Any, new: Any) -> bool:
    """Equal results of the same type (``1`` and ``True`` differ); errors by message."""
    if isinstance(old, BaseException) or isinstance(new, BaseException):
        return type(old) is type(new) and str(old) == str(new)
    return type(old) is type(new) and bool(old == new)


class TrackerHub:
    """The one ``state_changed`` listener of a host, dispatching to trackers."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._by_entity: dict[str, set[TemplateTracker]] = {}
        self._by_domain: dict[str, set[TemplateTracker]] = {}
        self._all: set[TemplateTracker] = set()
        self._unlisten: Callable[[], None] | None = None
        self._count = 0
        self._depth = 0
        self._dirty: dict[Callable[[], None], None] = {}
        self.flushing: set[Callable[[], None]] = set()

    @property
    def tracker_count(self) -> int:
        return self._count

    def _listen(self) -> None:
        if self._unlisten is None:
            self._unlisten = self._host.bus.listen(EVENT_STATE_CHANGED, self._on_change)

    def added(self) -> None:
        self._count += 1
        self._listen()

    def removed(self) -> None:
        self._count -= 1
        if self._count <= 0 and self._unlisten is not None:
            self._unlisten()
            self._unlisten = None

    def subscribe(self, tracker: TemplateTracker, old: RenderInfo | None,
                  new: RenderInfo | None) -> None:
        """Move ``tracker`` from what ``old`` read to what ``new`` read."""
        if (old is not None and new is not None and old.entities == new.entities
                and old.domains == new.domains and old.all_states == new.all_states):
            return  # the usual case: a re-render read what the last one read
        old_entities = old.entities if old is not None else frozenset()
        new_entities = new.entities if new is not None else frozenset()
        _move(self._by_entity, tracker, old_entities - new_entities, new_entities - old_entities)
        old_domains = old.domains if old is not None else frozenset()
        new_domains = new.domains if new is not None else frozenset()
        _move(self._by_domain, tracker, old_domains - new_domains, new_domains - old_domains)
        if new is not None and new.all_states:
            self._all.add(tracker)
        else:
            self._all.discard(tracker)

    def _on_change(self, event: Event[StateChangedData]) -> None:
        entity_id = event.data["entity_id"]
        by_entity = self._by_entity.get(entity_id)
        by_domain = self._by_domain.get(entity_id.partition(".")[0]) if self._by_domain \
            else None
        if by_domain is None and not self._all:
            if by_entity is None:
                return
            targets: list[TemplateTracker] = list(by_entity)
        else:
            merged: dict[TemplateTracker, None] = {}
            for group in (by_entity, by_domain, self._all):
                if group:
                    merged.update(dict.fromkeys(group))
            targets = list(merged)
        self._depth += 1
        try:
            for tracker in targets:
                tracker.changed()
        finally:
            self._depth -= 1
        if not self._depth and self._dirty:
            dirty, self._dirty = self._dirty, {}
            for on_batch in dirty:
                self._flush(on_batch)

    def touch(self, on_batch: Callable[[], None]) -> None:
        """A tracker of ``on_batch``'s batch changed its result."""
        if self._depth:
            self._dirty[on_batch] = None
        else:
            self._flush(on_batch)

    def _flush(self, on_batch: Callable[[], None]) -> None:
        self.flushing.add(on_batch)
        try:
            on_batch()
        except Exception:
            _LOGGER.exception("Batch callback %r of tracked templates failed", on_batch)
        finally:
            self.flushing.discard(on_batch)


def _move(index: dict[str, set[TemplateTracker]], tracker: TemplateTracker,
          gone: frozenset[str], added: frozenset[str]) -> None:
    for key in gone:
        members = index.get(key)
        if members is not None:
            members.discard(tracker)
            if not members:
                del index[key]
    for key in added:
        index.setdefault(key, set()).add(tracker)


class TemplateTracker:
    """One tracked template (module docstring). Calling it stops the tracking.

    ``result`` is the latest result (the first render's right after construction),
    ``info`` the latest ``RenderInfo``, ``renders`` how many renders were made.
    """

    def __init__(
        self,
        hub: TrackerHub,
        engine: TemplateEngine,
        source: str,
        variables: Mapping[str, Any] | None,
        action: TrackAction,
        *,
        rate_limit: float | None = None,
        native: bool = True,
        strict: bool = False,
        name: str | None = None,
        on_batch: Callable[[], None] | None = None,
    ) -> None:
        self._hub = hub
        self._on_batch = on_batch
        self._engine = engine
        self._source = source
        self._variables = dict(variables or {})
        self._action = action
        self._rate_limit = rate_limit
        self._native = native
        self._strict = strict
        self._name = name
        self._running = False
        self._stopped = False
        self._last_render = 0.0
        self._limit_timer: asyncio.TimerHandle | None = None
        self._clock_timer: asyncio.TimerHandle | None = None
        self._logged_error: str | None = None
        self.info: RenderInfo | None = None
        self.result: Any = None
        self.renders = 0
        self._overruns = SUSPENSION.counter()
        self._resume_at = 0.0
        self._compiled: jinja2.Template | None = None
        with suppress(TemplateError):  # kept here; a compile error is the render's to report
            self._compiled = engine.compile(source) if is_template(source) else None
        hub.added()
        self._render()

    # -- public ---------------------------------------------------------------------

    def __call__(self) -> None:
        """Stop tracking (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self._cancel_timers()
        self._hub.subscribe(self, self.info, None)
        self._hub.removed()

    @property
    def suspended(self) -> bool:
        """Whether the last render ran over its budget and the pause is not over."""
        return time.monotonic() < self._resume_at

    @property
    def rate_limit(self) -> float:
        """Seconds between renders at most (the explicit limit, else by what it reads)."""
        if self._rate_limit is not None:
            return self._rate_limit
        return self.info.rate_limit if self.info is not None else 0.0

    def refresh(self) -> None:
        """Render now, whatever the rate limit (and call the action on a change)."""
        if self._stopped or self._running:
            return
        if self._limit_timer is not None:
            self._limit_timer.cancel()
            self._limit_timer = None
        old = self.result
        self._render()
        if not same_result(old, self.result):
            self._act(old, self.result)
            if self._on_batch is not None:
                self._hub.touch(self._on_batch)

    # -- dispatch ---------------------------------------------------------------------

    def changed(self) -> None:
        """A state this template read changed (called by the hub)."""
        if self._stopped or self._running or self._limit_timer is not None:
            return  # its own action's change, or a render already scheduled
        if self._on_batch is not None and self._on_batch in self._hub.flushing:
            return  # its own batch's write
        now = time.monotonic()
        wait = self._resume_at - now
        limit = self.rate_limit
        if limit > 0:
            wait = max(wait, self._last_render + limit - now)
        if wait > 0:
            self._limit_timer = _loop().call_later(wait, self._on_limit_timer)
            return
        self.refresh()

    def _on_limit_timer(self) -> None:
        self._limit_timer = None
        self.refresh()

    def _on_clock(self) -> None:
        self._clock_timer = None
        self.refresh()

    def _render(self) -> None:
        info = self._engine.render_info(
            self._source, self._variables, name=self._name, native=self._native,
            strict=self._strict, compiled=self._compiled,
        )
        self.renders += 1
        self._last_render = time.monotonic()
        self._hub.subscribe(self, self.info, info)
        self.info = info
        if isinstance(info.error, TemplateBudgetError):
            self._resume_at = time.monotonic() + self._overruns.failed()
        else:
            self._overruns.succeeded()
            self._resume_at = 0.0
        if info.error is not None:
            self.result = info.error
            message = str(info.error)
            if message != self._logged_error:
                self._logged_error = message
                _LOGGER.warning("Tracked template failed: %s", message)
        else:
            self.result = info.result
            self._logged_error = None
        self._schedule_clock(info.has_time)

    def _schedule_clock(self, has_time: bool) -> None:
        if not has_time:
            if self._clock_timer is not None:
                self._clock_timer.cancel()
                self._clock_timer = None
            return
        if self._clock_timer is None:
            loop = _loop_or_none()
            if loop is not None:
                wait = CLOCK_PERIOD - time.time() % CLOCK_PERIOD
                self._clock_timer = loop.call_later(wait, self._on_clock)

    def _act(self, old: Any, new: Any) -> None:
        self._running = True
        try:
            self._action(old, new)
        except Exception:
            _LOGGER.exception("Action of tracked template %r failed", self._name or
                              self._source[:40])
        finally:
            self._running = False

    def _cancel_timers(self) -> None:
        for timer in (self._limit_timer, self._clock_timer):
            if timer is not None:
                timer.cancel()
        self._limit_timer = self._clock_timer = None


def _loop_or_none() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _loop() -> asyncio.AbstractEventLoop:
    loop = _loop_or_none()
    if loop is None:
        raise TemplateError("a rate-limited template needs the event loop to re-render")
    return loop
