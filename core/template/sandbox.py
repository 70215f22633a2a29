"""jinja2's immutable sandbox, made to count: where the budget is checked during a render.

jinja2 compiles a template to Python source; ``BudgetedCodeGenerator`` changes that
source in four places, through the compiler's own visitor methods:

* every ``{% for %}`` iterates through ``environment.gh_iter(...)``, an iterator that
  takes one step per item (``loop(...)`` in recursive loops is wrapped in ``call``);
* every piece written, to the output or into a macro or ``{% set %}`` buffer, goes
  through ``environment.gh_out(...)``, which counts its characters as it grows;
* ``~`` goes through ``environment.gh_concat(...)`` and list, tuple and dict literals
  through ``environment.gh_built(...)``, which weigh what they build.

The rest uses the sandbox's documented hooks: ``call()`` (every call is a step and a
reading of the clock; ``str`` methods that grow text are guarded), ``call_binop()``
with ``intercepted_binops`` for ``*``, ``**``, ``+`` and ``%``, ``wrap_str_format()``
for ``str.format``, and the filter table (``guards.guarded_filters``: every filter
application is a step, as a call is). ``BudgetedTemplate`` makes even a plain
``template.render()`` run on a budget.
"""

from __future__ import annotations

import string
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import update_wrapper
from typing import Any, ClassVar

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from markupsafe import EscapeFormatter, Markup

from . import guards
from .budget import (
    DEFAULT_LIMITS,
    Collector,
    RenderBudget,
    TemplateLimits,
    active_budget,
    current_budget,
    spending,
)


class CountedIterator:
    """Iterates ``source``, one budget step per item; ``len()`` as the source has it,
    so ``loop.length`` and ``loop.last`` work as before."""

    __slots__ = ("_budget", "_iterator", "_source")

    def __init__(self, source: Any, budget: RenderBudget) -> None:
        self._source = source
        self._iterator = iter(source)
        self._budget = budget

    def __iter__(self) -> CountedIterator:
        return self

    def __next__(self) -> Any:
        self._budget.step()
        return next(self._iterator)

    def __len__(self) -> int:
        return len(self._source)


class BudgetedCodeGenerator(CodeGenerator):
    """The compiler, writing the budget checks into the generated code (module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: ids of the iterable expressions of the loops being compiled (jinja allows no
        #: custom node types, so the iterable is recognised when it is visited).
        self._loop_iterables: set[int] = set()

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if id(node) in self._loop_iterables:
            self.write("environment.gh_iter(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        return super().visit(node, *args, **kwargs)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def _output_const_repr(self, group: Any) -> str:
        return f"environment.gh_out({super()._output_const_repr(group)})"

    def _output_child_pre(
        self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> None:
        self.write("environment.gh_out(")
        if frame.eval_ctx.volatile:
            self.write("(escape if context.eval_ctx.autoescape else str)(")
        elif frame.eval_ctx.autoescape:
            self.write("escape(")
        if finalize.src is not None:
            self.write(finalize.src)
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape or finalize.src is not None:
            # Escaping and finalize make text of the value before gh_out sees it.
            self.write("environment.gh_built(")

    def _output_child_post(
        self, node: nodes.Expr, frame: Frame, finalize: CodeGenerator._FinalizeInfo
    ) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape or finalize.src is not None:
            self.write(")")
        if finalize.src is not None:
            self.write(")")
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            self.write(")")
        self.write(")")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile or frame.eval_ctx.autoescape:
            self.write("environment.gh_built(")
            super().visit_Concat(node, frame)
            self.write(")")
            return
        self.write("environment.gh_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def _built(self, visit: Callable[[Any, Frame], None], node: nodes.Expr, frame: Frame) -> None:
        self.write("environment.gh_built(")
        visit(node, frame)
        self.write(")")

    @optimizeconst
    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self._built(super().visit_List, node, frame)

    @optimizeconst
    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self._built(super().visit_Dict, node, frame)

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx == "store":  # {% for a, b in ... %}, {% set a, b = ... %}
            super().visit_Tuple(node, frame)
        else:
            self._built(super().visit_Tuple, node, frame)


class BudgetedTemplate(jinja2.Template):
    """A template whose every render runs on a budget, however it is rendered."""

    environment: BudgetedEnvironment

    def render(self, *args: Any, **kwargs: Any) -> str:
        environment = self.environment
        try:
            return render(self, dict(*args, **kwargs), environment.limits, "<template>")
        except Exception:  # noqa: BLE001 - jinja's own convention: it re-raises
            environment.handle_exception()

    def generate(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        # Streaming would hand the budget's ContextVar to whoever consumes the stream.
        yield self.render(*args, **kwargs)


def render(
    template: jinja2.Template,
    variables: Mapping[str, Any],
    limits: TemplateLimits,
    name: str,
    *,
    collect: Collector | None = None,
    strict: bool = True,
) -> str:
    """Render ``template`` on a budget of ``limits``, or within the render in progress
    (a nested render shares the outer budget, its collector and its strictness).
    ``collect`` records what the render reads; ``strict`` makes undefined values
    errors (else they render empty, as in Home Assistant)."""
    context = template.new_context(dict(variables))
    if current_budget() is not None:
        return "".join(template.root_render_func(context))
    with spending(RenderBudget(limits, name, collect=collect, strict=strict)):
        return "".join(template.root_render_func(context))


class _BudgetFormatter(SandboxedFormatter):
    """``str.format`` in the sandbox, with widths, precisions and fields weighed."""

    def __init__(self, env: jinja2.Environment, budget: RenderBudget, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._budget = budget
        self._written = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = self._budget
        number = ""
        for char in format_spec + " ":  # the digit runs: width and precision
            if char.isdigit():
                number += char
            elif number:
                budget.allow(int(number) if len(number) <= 12 else 10**12, "a formatted field")
                number = ""
        budget.allow_value(value)
        text = super().format_field(value, format_spec)
        self._written += len(text)
        budget.allow(self._written, "a formatted string")
        return text


class _BudgetEscapeFormatter(_BudgetFormatter, EscapeFormatter):
    pass


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the budget's hooks (module docstring)."""

    code_generator_class = BudgetedCodeGenerator
    template_class = BudgetedTemplate
    intercepted_binops: frozenset[str] = frozenset({"*", "**", "+", "%"})

    _BINOPS: ClassVar[dict[str, Callable[[RenderBudget, Any, Any], Any]]] = {
        "*": guards.multiply,
        "**": guards.power,
        "+": guards.add,
        "%": guards.percent,
    }

    def __init__(self, *args: Any, limits: TemplateLimits = DEFAULT_LIMITS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.globals["lipsum"] = guards.lipsum
        self.guard_filters()

    def guard_filters(self) -> None:
        """Put the guarded filters in the table (again after filters were added)."""
        self.filters.update(guards.guarded_filters(self.filters))

    # -- hooks the generated code calls --------------------------------------------------

    def gh_iter(self, iterable: Any) -> CountedIterator:
        return CountedIterator(iterable, active_budget())

    def gh_out(self, value: Any) -> str:
        budget = active_budget()
        text = value if value.__class__ is str else guards.text_of(budget, value)
        budget.write(len(text))
        return text

    def gh_concat(self, values: Sequence[Any]) -> str:
        return guards.concat(values)

    def gh_built(self, value: Any) -> Any:
        return active_budget().allow_value(value)

    # -- the sandbox's documented hooks ---------------------------------------------------

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        return self._BINOPS[operator](active_budget(), left, right)

    def call(
        __self,  # jinja's convention, so that no keyword argument can clash
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        budget = active_budget()
        budget.call()
        if not __self.is_safe_callable(__obj):
            raise SecurityError(f"{__obj!r} is not safely callable")
        if isinstance(__obj, LoopContext) and args:
            # loop(children) in a recursive loop: iterate the children on the budget too
            args = (CountedIterator(args[0], budget), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes):
            guard = guards.METHOD_GUARDS.get(getattr(__obj, "__name__", ""))
            if guard is not None:
                return budget.allow_value(guard(budget, owner, __obj, args, kwargs))
        return budget.allow_value(__context.call(__obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format``/``format_map`` with a formatter that weighs what it writes."""
        if not isinstance(
            value, types.MethodType | types.BuiltinMethodType
        ) or value.__name__ not in ("format", "format_map"):
            return None
        owner: Any = value.__self__
        if not isinstance(owner, str):
            return None
        str_type: type[str] = type(owner)
        is_format_map = value.__name__ == "format_map"
        environment = self

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(
                        f"format_map() takes exactly one argument ({len(args)} given)"
                    )
                kwargs = args[0]
                args = ()
            budget = active_budget()
            formatter: string.Formatter
            if isinstance(owner, Markup):
                formatter = _BudgetEscapeFormatter(environment, budget, escape=owner.escape)
            else:
                formatter = _BudgetFormatter(environment, budget)
            return str_type(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)
