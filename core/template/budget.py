"""How much work one template render may do, and the counting that enforces it.

Templates come from configuration, from the web UI and from devices (an MQTT discovery
config is written by whoever may publish to the broker), and they render synchronously
in the event loop. Jinja's sandbox stops escapes, not work: two nested ``range(6000)``
loops blocked the loop for 1.8 s per message, ``'a' * 10**9`` allocates a gigabyte.
So every render runs on a ``RenderBudget`` made from the host's ``TemplateLimits``:

``steps``    loop iterations, calls (macros, methods, globals, ``loop()``) and filter
             applications. They are counted where they happen, inside the render, so
             the render stops itself at the step that crosses the line: nothing
             interrupts it from outside.
``seconds``  wall time (what the event loop feels), read at every call and filter and
             every 64 loop iterations. Between two readings there is one operation,
             bounded by ``size`` and by jinja's 100,000-item ``range``, so a render
             stops within the limit plus one operation (tens of milliseconds at the
             defaults, measured in ``test_template_budget.py``).
``size``     characters. No operation may build a value heavier than this (see
             ``weight``), and everything a render writes counts against it once more:
             its output, and the text written into macros and ``{% set %}`` blocks.

A render over budget raises ``TemplateBudgetError`` (a ``TemplateError``) naming the
template and the limit. The defaults are far above what a Home-Assistant-style template
needs (a few dozen steps, microseconds, a few characters: see the test
``test_typical_templates_use_a_tiny_part_of_the_budget``) and far below what stalls an
appliance: 100,000 counted loop iterations take 10-20 ms on the development machine,
100,000 sandboxed method calls 350-650 ms, which is why the clock is a limit of its own.
``size`` (256 Ki characters) is what the slowest single operations need to stay in the
tens of milliseconds (``title`` over 800,000 characters took 110 ms) while leaving
room for a payload template of a few hundred kilobytes.

The budget of the render in progress is held in a ``ContextVar``: renders are
synchronous and a nested render (a plugin global rendering another template) shares
the budget of the outer one instead of starting afresh.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

import voluptuous as vol

from ..exceptions import GatehouseError
from ..util.expansion import expanded_size

#: Integers may not grow beyond this many bits (``2 ** 10**9`` would take minutes).
MAX_INT_BITS: Final = 16_384
#: The clock is read once per this many steps (a power of two: a mask test).
CLOCK_EVERY: Final = 64


class TemplateError(GatehouseError):
    """A template failed to compile or render; the message says where and why.

    ``template`` names the template (None until the engine knows it), ``line`` is the
    template line where it failed (None when unknown).
    """

    def __init__(self, message: str, *, template: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.template = template
        self.line = line


class TemplateBudgetError(TemplateError):
    """A render was stopped because it went over its budget.

    ``template`` names the template, ``limit`` is the limit hit: ``steps``, ``time``,
    ``size`` (a value too large), ``output`` (too much written) or ``depth`` (nested
    too deeply for the interpreter).
    """

    def __init__(self, template: str, limit: str, detail: str) -> None:
        super().__init__(f"template {template!r} stopped: {detail}", template=template)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class TemplateLimits:
    """The budget of one render (module docstring); one set per host."""

    steps: int = 100_000
    seconds: float = 0.05
    size: int = 262_144

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError("template steps must be at least 1")
        if not self.seconds > 0:
            raise ValueError("template seconds must be positive")
        if self.size < 1024:
            raise ValueError("template size must be at least 1024 characters")


DEFAULT_LIMITS: Final = TemplateLimits()

#: The ``templates:`` block of the core configuration (``gatehouse: templates: ...``).
TEMPLATE_LIMITS_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("steps", default=DEFAULT_LIMITS.steps): vol.All(
            int, vol.Range(min=100, max=100_000_000)
        ),
        vol.Optional("seconds", default=DEFAULT_LIMITS.seconds): vol.All(
            vol.Coerce(float), vol.Range(min=0.001, max=10.0)
        ),
        vol.Optional("size", default=DEFAULT_LIMITS.size): vol.All(
            int, vol.Range(min=1024, max=256 * 1024 * 1024)
        ),
    }
)


def limits_from_config(config: Mapping[str, Any]) -> TemplateLimits:
    """``TemplateLimits`` from a validated ``templates:`` block."""
    return TemplateLimits(
        steps=int(config["steps"]), seconds=float(config["seconds"]), size=int(config["size"])
    )


class Collector:
    """What a render read: the entities, domains, whether all states, whether the clock.

    Filled by the template functions (``states``, ``is_state``, ``now``...) through the
    active budget, so tracking costs nothing for a render that nobody tracks.
    """

    __slots__ = ("all_states", "domains", "entities", "has_time")

    def __init__(self) -> None:
        self.entities: set[str] = set()
        self.domains: set[str] = set()
        self.all_states = False
        self.has_time = False


class RenderBudget:
    """What one render has used so far, and the checks against its limits."""

    __slots__ = (
        "collect", "deadline", "limits", "output", "started", "steps", "strict", "template",
    )

    def __init__(
        self,
        limits: TemplateLimits,
        template: str,
        *,
        collect: Collector | None = None,
        strict: bool = True,
    ) -> None:
        self.limits = limits
        self.template = template
        #: What the render reads (states, domains, the clock), for tracking; None when
        #: nobody asked (``render_info``, ``track_template`` ask).
        self.collect = collect
        #: Undefined values raise (True) or render empty with a warning (Home
        #: Assistant's default for automations and template entities).
        self.strict = strict
        self.steps = 0
        self.output = 0
        self.started = time.perf_counter()
        self.deadline = self.started + limits.seconds

    def over(self, limit: str, detail: str) -> TemplateBudgetError:
        return TemplateBudgetError(self.template, limit, detail)

    def _too_many(self) -> TemplateBudgetError:
        return self.over(
            "steps",
            f"more than {self.limits.steps} steps (loop iterations, calls and filters)",
        )

    def _too_long(self) -> TemplateBudgetError:
        return self.over("time", f"ran longer than {self.limits.seconds * 1000:g} ms")

    def step(self) -> None:
        """One loop iteration (cheap and many: the clock is read every 64)."""
        steps = self.steps = self.steps + 1
        if steps > self.limits.steps:
            raise self._too_many()
        if not steps % CLOCK_EVERY and time.perf_counter() > self.deadline:
            raise self._too_long()

    def call(self) -> None:
        """One call or filter application (may be expensive: the clock is read)."""
        steps = self.steps = self.steps + 1
        if steps > self.limits.steps:
            raise self._too_many()
        if time.perf_counter() > self.deadline:
            raise self._too_long()

    def allow(self, size: int, what: str = "a value") -> None:
        """Refuse before building ``what`` of ``size`` characters if that is too much."""
        if size > self.limits.size:
            raise self.over(
                "size", f"would build {what} of more than {self.limits.size} characters"
            )

    def allow_int(self, bits: int) -> None:
        if bits > MAX_INT_BITS:
            raise self.over("size", f"would build an integer of more than {MAX_INT_BITS} bits")

    def allow_value(self, value: Any) -> Any:
        """``value`` itself, if it is not too heavy (``weight``)."""
        cls = value.__class__
        if cls is str:
            if len(value) > self.limits.size:
                self.allow(len(value))
            return value
        if cls is int or cls is float or cls is bool or value is None:
            return value
        self.allow(weight(value, self.limits.size))
        return value

    def write(self, count: int) -> None:
        """``count`` characters written (output, macro bodies, set blocks)."""
        self.output += count
        if self.output > self.limits.size:
            raise self.over("output", f"wrote more than {self.limits.size} characters")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


_ACTIVE: ContextVar[RenderBudget | None] = ContextVar("gatehouse_template_budget", default=None)


def active_budget() -> RenderBudget:
    """The budget of the render in progress.

    Outside a render (jinja folding constants at compile time), a fresh default budget:
    single operations are still bounded, and the optimizer turns a refusal into "not
    constant", so the render meets the same check again under the real budget.
    """
    budget = _ACTIVE.get()
    return budget if budget is not None else RenderBudget(DEFAULT_LIMITS, "<compile>")


def current_budget() -> RenderBudget | None:
    """The budget of the render in progress, or None outside a render."""
    return _ACTIVE.get()


@contextmanager
def spending(budget: RenderBudget) -> Iterator[RenderBudget]:
    """Make ``budget`` the active one for the block (a render)."""
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


# -- weight ----------------------------------------------------------------------------


def _scalar_weight(value: Any) -> int | None:
    """The weight of a non-container, or None for a container."""
    cls = value.__class__
    if cls is str or cls is bytes:
        return len(value)
    if cls is int:
        return int(value.bit_length()) // 3 + 1  # at least its decimal digits
    if cls is float:
        return 24
    if value is None or cls is bool:
        return 5
    if cls is list or cls is tuple or cls is dict or cls is set or cls is frozenset:
        return None
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, list | tuple | set | frozenset | Mapping):
        return None
    return 32


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield item
    else:
        yield from value


def weight(value: Any, cap: int) -> int:
    """How heavy ``value`` is: about the length of its text when rendered.

    Strings weigh their length, numbers their digits, and a container 2 plus 2 per
    element plus its elements, *each occurrence counted*: ``[a, a]`` weighs twice ``a``.
    That is what rendering, comparing or serialising it costs, and it is what makes
    ``{% set l = [l, l] %}`` forty times over (a few bytes of memory, a 2**40-character
    text) measurable. The walk visits each distinct object once (weights of shared parts
    are remembered), so it costs what the value occupies in memory, not its weight, and
    it stops as soon as the weight passes ``cap`` (the answer is then ``cap + 1``).
    """
    return expanded_size(
        value, _children, cap=cap, own=2, per_child=2, leaf=_scalar_weight, key=id
    )
