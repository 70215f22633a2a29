"""The operations through which a template can build something large, checked first.

Each guard estimates the size of what the operation would build and asks the budget
(``RenderBudget.allow``) *before* building it, so a refusal costs nothing: ``'a' *
10**9`` is refused without allocating the gigabyte. Where the estimate is an upper bound
(``replace``, ``wordwrap``) it is still linear in the input, so a template cannot get
past a guard by being slow to estimate. Results are weighed afterwards as well, as a
second line of defence for what the estimate cannot see.

What is guarded: the operators ``*``, ``**``, ``+``, ``%`` and ``~``; the ``str`` and
``bytes`` methods that grow text (``ljust``, ``rjust``, ``center``, ``zfill``,
``expandtabs``, ``replace``, ``join``, ``translate``; ``format`` is guarded in
``sandbox.py``); the filters that grow text or lists (``center``, ``indent``,
``format``, ``replace``, ``join``, ``batch``, ``slice``, ``wordwrap``, ``sum``) and the
ones that turn any value into text (``string``, ``tojson``, ``pprint``...), which weigh
their input first; and ``lipsum``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from jinja2 import filters as jf
from jinja2.exceptions import FilterArgumentError
from jinja2.nodes import EvalContext
from jinja2.utils import generate_lorem_ipsum, pass_environment, pass_eval_context

from .budget import RenderBudget, active_budget, weight

# -- operators ---------------------------------------------------------------------------

_SEQUENCE_TYPES: Final = (str, bytes, list, tuple)


def _repeat(budget: RenderBudget, seq: Any, times: int) -> Any:
    if times > 0:
        unit = len(seq) if isinstance(seq, str | bytes) else weight(seq, budget.limits.size)
        budget.allow(unit * times)
    return seq * times


def multiply(budget: RenderBudget, left: Any, right: Any) -> Any:
    """``*``: integers are capped in bits, repetitions in size."""
    if left.__class__ is int and right.__class__ is int:
        budget.allow_int(left.bit_length() + right.bit_length())
        return left * right
    if isinstance(left, _SEQUENCE_TYPES) and isinstance(right, int):
        return _repeat(budget, left, right)
    if isinstance(right, _SEQUENCE_TYPES) and isinstance(left, int):
        return _repeat(budget, right, left)
    return left * right


def power(budget: RenderBudget, left: Any, right: Any) -> Any:
    """``**``: an integer result may have at most ``MAX_INT_BITS`` bits."""
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        budget.allow_int(left.bit_length() * right)
    return left**right


def add(budget: RenderBudget, left: Any, right: Any) -> Any:
    """``+``: strings and lists may not outgrow the size limit (doubling in a loop)."""
    cls = left.__class__
    if cls is int or cls is float:
        return left + right
    if isinstance(left, str | bytes) and isinstance(right, str | bytes):
        budget.allow(len(left) + len(right))
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        cap = budget.limits.size
        budget.allow(weight(left, cap) + weight(right, cap))
    return left + right


# printf-style conversion: %[(key)][flags][width][.precision][length]type
_PRINTF: Final = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)?", re.S)


def percent(budget: RenderBudget, fmt: Any, args: Any) -> Any:
    """``fmt % args`` for text: widths, precisions and arguments weighed first."""
    if not isinstance(fmt, str | bytes):
        return fmt % args
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    if isinstance(args, Mapping):
        values: Iterable[Any] = args.values()
    elif isinstance(args, tuple):
        values = args
    else:
        values = (args,)
    cap = budget.limits.size
    if isinstance(args, tuple):
        heaviest = max((weight(value, cap) for value in args), default=0)
    else:  # one value, or a mapping that "%s" would print whole
        heaviest = weight(args, cap)
    starred = False
    bound = len(text)
    for match in _PRINTF.finditer(text):
        if match.group(3) == "%":
            continue
        width = 0
        for number in (match.group(1), match.group(2)):
            if number == "*":
                starred = True
            elif number:
                # int() of a digit string longer than any size would only be refused later
                width = max(width, int(number) if len(number) <= 12 else 10**12)
        bound += max(width, heaviest)
        budget.allow(bound, "a formatted string")
    if starred:
        for value in values:
            if value.__class__ is int:
                budget.allow(abs(value), "a formatted string")
    return budget.allow_value(fmt % args)


def text_of(budget: RenderBudget, value: Any) -> str:
    """``str(value)``, with ``value`` weighed first (a tiny list can render huge)."""
    if value.__class__ is str:
        return str(value)
    budget.allow_value(value)
    return str(value)


def concat(values: Iterable[Any]) -> str:
    """``a ~ b ~ c``: each part made text (weighed), then the total checked."""
    budget = active_budget()
    parts = [text_of(budget, value) for value in values]
    budget.allow(sum(len(part) for part in parts))
    return "".join(parts)


# -- str and bytes methods -------------------------------------------------------------


def _replace_bound(text: Any, old: Any, new: Any, count: Any) -> int:
    if not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return len(text)
    occurrences = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(len(new) - len(old), 0)


def _width(budget: RenderBudget, owner: Any, method: Any, args: tuple[Any, ...],
           kwargs: dict[str, Any]) -> Any:
    if args and isinstance(args[0], int):
        budget.allow(args[0])
    return method(*args, **kwargs)


def _expandtabs(budget: RenderBudget, owner: Any, method: Any, args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> Any:
    size = args[0] if args else kwargs.get("tabsize", 8)
    if isinstance(size, int):
        tab = "\t" if isinstance(owner, str) else b"\t"
        budget.allow(len(owner) + owner.count(tab) * max(size, 0))
    return method(*args, **kwargs)


def _replace(budget: RenderBudget, owner: Any, method: Any, args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Any:
    if len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        budget.allow(_replace_bound(owner, args[0], args[1], count))
    return method(*args, **kwargs)


def _join(budget: RenderBudget, owner: Any, method: Any, args: tuple[Any, ...],
          kwargs: dict[str, Any]) -> Any:
    if len(args) != 1 or kwargs:
        return method(*args, **kwargs)
    items = list(args[0])
    total = len(owner) * max(len(items) - 1, 0)
    for item in items:
        if isinstance(item, str | bytes):
            total += len(item)
    budget.allow(total)
    return method(items)


def _translate(budget: RenderBudget, owner: Any, method: Any, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Any:
    table = args[0] if args else None
    if isinstance(owner, str) and isinstance(table, Mapping):
        longest = max(
            (len(value) if isinstance(value, str) else 1 for value in table.values()), default=1
        )
        budget.allow(len(owner) * longest)
    return method(*args, **kwargs)


MethodGuard = Callable[[RenderBudget, Any, Any, tuple[Any, ...], dict[str, Any]], Any]

#: ``str``/``bytes`` method name → guard(budget, owner, bound method, args, kwargs).
METHOD_GUARDS: Final[dict[str, MethodGuard]] = {
    "ljust": _width,
    "rjust": _width,
    "center": _width,
    "zfill": _width,
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "translate": _translate,
}


# -- filters ---------------------------------------------------------------------------


def _center(value: Any, width: int = 80) -> str:
    budget = active_budget()
    text = text_of(budget, value)
    if isinstance(width, int):
        budget.allow(max(len(text), width))
    return jf.do_center(text, width)


def _indent(s: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    budget = active_budget()
    text = s if isinstance(s, str) else text_of(budget, s)
    if isinstance(width, int):
        budget.allow(width)
        unit = width
    else:
        unit = len(text_of(budget, width))
    budget.allow(len(text) + (text.count("\n") + 2) * unit)
    return jf.do_indent(text, width, first, blank)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    if args and kwargs:
        raise FilterArgumentError(
            "can't handle positional and keyword arguments at the same time"
        )
    budget = active_budget()
    result = percent(budget, text_of(budget, value), kwargs or args)
    return str(result)


@pass_eval_context
def _replace_filter(
    eval_ctx: EvalContext, s: Any, old: Any, new: Any, count: int | None = None
) -> str:
    budget = active_budget()
    text = s if isinstance(s, str) else text_of(budget, s)
    budget.allow(_replace_bound(text, str(old), str(new), -1 if count is None else count))
    return jf.do_replace(eval_ctx, text, old, new, count)


@pass_eval_context
def _join_filter(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    budget = active_budget()
    if attribute is not None:
        value = map(jf.make_attrgetter(eval_ctx.environment, attribute), value)
    separator = len(text_of(budget, d))
    items: list[Any] = []
    total = 0
    for item in value:  # lazily: a refusal stops the iteration, not after it
        total += len(text_of(budget, item)) + (separator if items else 0)
        budget.allow(total)
        items.append(item)
    return budget.allow_value(jf.sync_do_join(eval_ctx, items, d))  # type: ignore[no-any-return]


def _batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
    budget = active_budget()
    if isinstance(linecount, int):
        budget.allow(linecount, "a batch")
    return jf.do_batch(value, linecount, fill_with)


def _slice(value: Iterable[Any], slices: int, fill_with: Any = None) -> Any:
    budget = active_budget()
    if isinstance(slices, int):
        budget.allow(slices, "a list of slices")
    return jf.sync_do_slice(list(value), slices, fill_with)


@pass_environment
def _wordwrap(
    environment: Any,
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    budget = active_budget()
    text = text_of(budget, s)
    joiner = environment.newline_sequence if wrapstring is None else text_of(budget, wrapstring)
    budget.allow(len(text) * (1 + len(joiner)))
    return jf.do_wordwrap(environment, text, width, break_long_words, wrapstring, break_on_hyphens)


@pass_environment
def _sum(
    environment: Any, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0
) -> Any:
    budget = active_budget()
    if attribute is not None:
        iterable = map(jf.make_attrgetter(environment, attribute), iterable)
    total = start
    for item in iterable:
        total = add(budget, total, item)
    return total


def _keep_marker(wrapper: Callable[..., Any], wrapped: Callable[..., Any]) -> None:
    """Give ``wrapper`` the ``pass_context``-style marker, name and doc of ``wrapped``."""
    marker = getattr(wrapped, "jinja_pass_arg", None)
    if marker is not None:
        wrapper.jinja_pass_arg = marker  # type: ignore[attr-defined]
    wrapper.__name__ = getattr(wrapped, "__name__", "filter")
    wrapper.__doc__ = wrapped.__doc__


def counted(filter_function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose every application is a step (and a reading of the clock)."""
    if getattr(filter_function, "gh_counted", False):
        return filter_function

    def counting(*args: Any, **kwargs: Any) -> Any:
        active_budget().call()
        return filter_function(*args, **kwargs)

    _keep_marker(counting, filter_function)
    counting.gh_counted = True  # type: ignore[attr-defined]
    counting.gh_weighed = getattr(filter_function, "gh_weighed", False)  # type: ignore[attr-defined]
    return counting


def _weighing(filter_function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that turns its input into text: the input is weighed first (``[l, l]``
    nested forty deep is tiny in memory and 2**40 characters as text), the result
    after. Keeps the filter's ``pass_context``-style marker."""
    marker = getattr(filter_function, "jinja_pass_arg", None)
    position = 0 if marker is None else 1

    def weighed(*args: Any, **kwargs: Any) -> Any:
        budget = active_budget()
        if len(args) > position:
            budget.allow_value(args[position])
        return budget.allow_value(filter_function(*args, **kwargs))

    _keep_marker(weighed, filter_function)
    weighed.gh_weighed = True  # type: ignore[attr-defined]
    return weighed


#: Filters that make text of whatever they get.
TEXT_FILTERS: Final = (
    "capitalize", "e", "escape", "forceescape", "lower", "pprint", "safe", "string",
    "striptags", "title", "tojson", "trim", "truncate", "upper", "urlencode", "urlize",
    "wordcount", "xmlattr", "to_json",
)


def guarded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Replacements for ``filters`` (an environment's table): the guarded ones, and
    every filter counted (``counted``)."""
    replaced: dict[str, Callable[..., Any]] = {
        "center": _center,
        "indent": _indent,
        "format": _format,
        "replace": _replace_filter,
        "join": _join_filter,
        "batch": _batch,
        "slice": _slice,
        "wordwrap": _wordwrap,
        "sum": _sum,
    }
    for name in TEXT_FILTERS:
        if name in filters and not getattr(filters[name], "gh_weighed", False):
            replaced[name] = _weighing(filters[name])
    table = {**filters, **replaced}
    return {name: counted(function) for name, function in table.items()}


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """jinja's ``lipsum`` global, refused when it would write more than the budget."""
    budget = active_budget()
    if isinstance(n, int) and isinstance(max, int):
        budget.allow(n * max * 12, "placeholder text")
    return budget.allow_value(generate_lorem_ipsum(n, html, min, max))  # type: ignore[no-any-return]
